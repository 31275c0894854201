#!/usr/bin/env bash
# `make test`'s guard against a rotting load generator: builds hs-loadgen, runs every scenario
# with 20 simulated nodes (all of them observers, decoding every frame) against hs-control on
# loopback, and checks that the nodes registered, received full maps with every peer, saw the
# churned endpoints, and got their maps back after a restart; then the policy scenario with 20
# nodes (the company's policy, its change, the restart).
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

# The policy scenario at 20 nodes: the company's keys, its policy in force, the change.
hs_policy_setup "$LAB/hsp" $((port + 2)) >/dev/null
log "hs-loadgen: the policy scenario, 20 nodes against hs-control on 127.0.0.1:$((port + 2))"
"$LAB/hs-loadgen" run --label hs --url "$SERVER_URL" --server-cmd "$SERVER_CMD" --ready-url "$READY_URL" \
  --policy "$POLICY_PATH" --user-key-cmd "$USER_KEY_CMD" --tag-key-cmd "$TAG_KEY_CMD" --spread-sources \
  --server-log "$LAB/hsp/server.log" --nodes 20 --observers 20 --phase-timeout 60s --settle 0s \
  >"$LAB/policy.json" || { tail -20 "$LAB/hsp/server.log" >&2; fail "hs-loadgen run --policy failed"; }
p() { jq -r "$1" "$LAB/policy.json"; }
[ "$(p '.register.ok')" = 20 ] && [ "$(p '.policy.connect.nodes_with_map')" = 20 ] &&
  [ "$(p '.policy.connect.nodes_with_wrong_peers')" = 0 ] && [ "$(p '.connect.peers_ok')" = true ] ||
  fail "policy connect: $(p '.policy.connect') problems: $(p '.problems')"
pass "20 nodes registered with their users' and tags' keys; every full map holds exactly the peers the policy allows ($(p '.policy.connect.peers_p50') of 19 for the median node)"
[ "$(p '.policy.change.affected_nodes')" -gt 0 ] &&
  [ "$(p '.policy.change.reached_nodes')" = "$(p '.policy.change.affected_nodes')" ] &&
  [ "$(p '.policy.change.observers_ok')" = true ] ||
  fail "policy change: $(p '.policy.change') problems: $(p '.problems')"
pass "the policy change reached all $(p '.policy.change.affected_nodes') affected nodes in $(p '.policy.change.seconds') s; every observer sees the new peers"
[ "$(p '.storm.nodes_with_map')" = 20 ] && [ "$(p '.policy.storm.nodes_with_wrong_peers')" = 0 ] &&
  [ "$(p '.problems | length')" = 0 ] || fail "policy storm: $(p '.policy.storm') problems: $(p '.problems')"
pass "after a restart all 20 nodes had their maps again, with the changed policy's peers"
finish
