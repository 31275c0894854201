#!/usr/bin/env bash
# hs-control's /api/v1 answers as headscale v0.29.2's gateway does: one recorded set of requests
# (data/headscale_api_replay.jsonl) is replayed against a real headscale (built and cached by
# tests/bench/headscale.sh) and against hs-control, each with a fresh database and an API key of
# its own, and the answers are compared field by field by api_replay.py (which says which
# values may differ and why). Then an official client joins each server and the node requests
# (data/headscale_api_replay_nodes.jsonl) are replayed the same way. Both servers and both
# clients (userspace networking) use loopback only.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
bash "$HS_SRC/tests/bench/headscale.sh" install || fail "building headscale failed"
HEADSCALE=$(bash "$HS_SRC/tests/bench/headscale.sh" bin)
HP=$((30000 + LAB_ID * 6)); CP=$((HP + 3))  # headscale uses HP..HP+2, hs-control CP..CP+1

# The benchmarks' configs for both servers (loopback, SQLite, the same DERP map), with the
# policy kept in the database so the policy requests can store one.
. "$HS_SRC/tests/bench/servers.sh"
headscale_setup "$LAB/headscale" "$HP" "$HEADSCALE"
sed -i 's|^policy: .*|policy: {mode: database}|' "$LAB/headscale/config.yaml"
hs_setup "$LAB/hs" "$CP"
echo "policy: {mode: database}" >>"$LAB/hs/config.yaml"
control_own_db "$LAB/hs"  # with HS_TEST_DATABASE=postgres, on the lab's PostgreSQL instead
daemon_start HEADSCALE_PID "$LAB/headscale/serve.log" "http://127.0.0.1:$HP/health" "$HEADSCALE" -c "$LAB/headscale/config.yaml" serve
daemon_start CONTROL_PID "$LAB/hs/serve.log" "http://127.0.0.1:$CP/health" "$HS_BIN/hs-control" -c "$LAB/hs/config.yaml"
key_a=$("$HEADSCALE" -c "$LAB/headscale/config.yaml" apikeys create -e 1h 2>/dev/null | tail -1)
key_b=$("$HS_BIN/hs-admin" -c "$LAB/hs/config.yaml" apikeys create -e 1h)
[[ "$key_a" == hskey-api-* && "$key_b" == hskey-api-* ]] || fail "API keys: '$key_a' '$key_b'"

python3 "$HS_SRC/tests/interop/api_replay.py" "$HS_SRC/tests/interop/data/headscale_api_replay.jsonl" \
  "http://127.0.0.1:$HP" "$key_a" "http://127.0.0.1:$CP" "$key_b" >"$LAB/replay.out" || { cat "$LAB/replay.out" >&2; fail "the answers differ"; }
grep -v '^same:' "$LAB/replay.out" >&2 || true
pass "$(tail -1 "$LAB/replay.out")"

# Nodes: one official client joins each server (user dana, a pre-auth key from each server's own
# CLI, an advertised route), then the node requests are replayed.
ts_install "$TS_VERSION_HEADSCALE"
"$HEADSCALE" -c "$LAB/headscale/config.yaml" users create dana >/dev/null 2>&1 || fail "headscale users create dana"
"$HS_BIN/hs-admin" -c "$LAB/hs/config.yaml" users create dana >/dev/null || fail "hs-admin users create dana"
dana_a=$("$HEADSCALE" -c "$LAB/headscale/config.yaml" users list -o json 2>/dev/null | jq -r '.[] | select(.name == "dana") | .id')
pak_a=$("$HEADSCALE" -c "$LAB/headscale/config.yaml" preauthkeys create -u "$dana_a" -e 1h -o json 2>/dev/null | jq -r .key)
pak_b=$("$HS_BIN/hs-admin" -c "$LAB/hs/config.yaml" preauthkeys create -u dana -e 1h)
for side in a b; do
  port=$HP key=$pak_a udp=$((41700 + LAB_ID % 100 * 2))
  [ $side = b ] && port=$CP key=$pak_b udp=$((udp + 1))
  ts_start "n$side" "$udp"
  ts "n$side" up --login-server="http://127.0.0.1:$port" --auth-key="$key" --hostname=node-one \
    --advertise-routes=10.9.0.0/24 --timeout=60s || fail "tailscale up against the $side server"
done
eventually 20 sh -c "curl -sf -H 'Authorization: Bearer $key_a' http://127.0.0.1:$HP/api/v1/node | jq -e '.nodes[0].online and (.nodes[0].availableRoutes | length == 1)'" >/dev/null ||
  fail "headscale does not show the node online with its route"
eventually 20 sh -c "curl -sf -H 'Authorization: Bearer $key_b' http://127.0.0.1:$CP/api/v1/node | jq -e '.nodes[0].online and (.nodes[0].availableRoutes | length == 1)'" >/dev/null ||
  fail "hs-control does not show the node online with its route"
python3 "$HS_SRC/tests/interop/api_replay.py" "$HS_SRC/tests/interop/data/headscale_api_replay_nodes.jsonl" \
  "http://127.0.0.1:$HP" "$key_a" "http://127.0.0.1:$CP" "$key_b" >"$LAB/replay-nodes.out" || { cat "$LAB/replay-nodes.out" >&2; fail "the node answers differ"; }
grep -v '^same:' "$LAB/replay-nodes.out" >&2 || true
pass "nodes: $(tail -1 "$LAB/replay-nodes.out")"
ts_stop na; ts_stop nb
daemon_stop "$HEADSCALE_PID"; daemon_stop "$CONTROL_PID"
finish
