#!/usr/bin/env bash
# `make test`'s guard against a rotting load generator: builds hs-loadgen, runs every scenario
# with 20 simulated nodes (all of them observers, decoding every frame) against hs-control on
# loopback, and checks that the nodes registered, received full maps with every peer, saw the
# churned endpoints, and got their maps back after a restart.
HS_SRC=${HS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../interop/lib.sh
. "$HS_SRC/tests/interop/lib.sh"
# shellcheck source=servers.sh
. "$HS_SRC/tests/bench/servers.sh"

bash "$HS_SRC/tests/bench/loadgen.sh" check || fail "tests/bench/go.mod does not match versions.env"
pass "tests/bench/go.mod requires tailscale.com $TS_VERSION, as versions.env pins"
bash "$HS_SRC/tests/bench/loadgen.sh" build "$LAB/hs-loadgen" || fail "building hs-loadgen failed"
pass "hs-loadgen builds"

port=$((21000 + LAB_ID * 4))
hs_setup "$LAB/hs" "$port" >/dev/null
log "hs-loadgen: 20 nodes against hs-control on 127.0.0.1:$port"
"$LAB/hs-loadgen" run --label hs --url "$SERVER_URL" --server-cmd "$SERVER_CMD" --ready-url "$READY_URL" \
  --key-cmd "$KEY_CMD" --server-log "$LAB/hs/server.log" --nodes 20 --observers 20 --joins 2 \
  --churn-rate 5 --churn-duration 3s --churn-grace 5s --phase-timeout 60s --settle 0s \
  >"$LAB/result.json" || { tail -20 "$LAB/hs/server.log" >&2; fail "hs-loadgen run failed"; }
r() { jq -r "$1" "$LAB/result.json"; }

[ "$(r '.register.ok')" = 20 ] && [ "$(r '.register.failed')" = 0 ] ||
  fail "register: $(r '.register')"
pass "20 nodes registered with a reusable pre-auth key ($(r '.register.nodes_per_second | floor') nodes/s)"
[ "$(r '.connect.nodes_with_map')" = 20 ] && [ "$(r '.connect.peers_ok')" = true ] ||
  fail "connect: $(r '.connect') problems: $(r '.problems')"
pass "every node received its full map; every observer sees 19 peers"
[ "$(r '.churn.updates')" -gt 0 ] && [ "$(r '.churn.send_errors')" = 0 ] &&
  [ "$(r '.churn.delivered')" = "$(r '.churn.expected_deliveries')" ] ||
  fail "churn: $(r '.churn') problems: $(r '.problems')"
pass "churn: $(r '.churn.updates') endpoint changes reached every observer (p99 $(r '.churn.p99_ms') ms)"
[ "$(r '.join.joins')" = 2 ] && [ "$(r '.join.peers_ok')" = true ] ||
  fail "join: $(r '.join') problems: $(r '.problems')"
pass "2 joining nodes got a first map with every peer"
[ "$(r '.storm.nodes_with_map')" = 22 ] && [ "$(r '.storm.peers_ok')" = true ] ||
  fail "storm: $(r '.storm') problems: $(r '.problems')"
pass "after a restart all 22 nodes had their full maps again within $(r '.storm.seconds') s"
[ "$(r '.problems | length')" = 0 ] || fail "problems: $(r '.problems')"
pass "hs-loadgen reported no problems"
finish
