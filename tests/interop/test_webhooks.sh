#!/usr/bin/env bash
# Webhooks (notifications.webhooks, docs/security.md): a receiver on loopback (webhook_receiver.py,
# over http and https) records every delivery and verifies its signature. Events written by
# hs-admin on the database and by hs-control (an official client registering with a pre-auth key)
# arrive signed; sign-in rows (the shared vocabulary, inserted as the sign-in paths write them)
# raise the derived events; a receiver that is down, then up, gets everything in order; a slow
# one is retried while a client still registers in normal time; hs-control restarted with a
# backlog resumes from its cursor. Each check compares the receiver's deliveries with what
# `hs-admin events` derives from the same audit rows: same events, same order, none missing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root
ts_install
RX_PORT=$((CONTROL_PORT + 2000))
. "$(dirname "$0")/webhooks.sh"
lab_pki 127.0.0.1
control_config "policy: {mode: database}" "notifications: {webhooks: [
  {url: 'http://127.0.0.1:$RX_PORT/all', secret_path: $RX/secret, timeout: 2s},
  {url: 'https://127.0.0.1:$((RX_PORT + 1))/some', secret_path: $RX/secret, events: [node.registered, signin.new_network]}]}"
METRICS="http://127.0.0.1:$((CONTROL_PORT + 1000))/metrics"

# Bad webhook settings stop hs-control at start with the reason.
bad() {
  local yaml=$1 want=$2
  sed '/^notifications:/,$d' "$CONTROL_DIR/config.yaml" >"$LAB/bad.yaml"
  echo "$yaml" >>"$LAB/bad.yaml"
  run_out=$(timeout 20 "$HS_BIN/hs-control" -c "$LAB/bad.yaml" 2>&1) && fail "hs-control started with $yaml"
  [[ "$run_out" == *"$want"* ]] || fail "hs-control with $yaml said: $run_out"
}
bad "notifications: {webhooks: [{url: 'http://127.0.0.1:1/x', secret_path: $RX/none}]}" "$RX/none: cannot open"
bad "notifications: {webhooks: [{url: 'ftp://127.0.0.1/x', secret_path: $RX/secret}]}" "expected an http:// or https:// URL"
bad "notifications: {webhooks: [{url: 'http://127.0.0.1:1/x', secret_path: $RX/secret, events: [node.renamed]}]}" "unknown event node.renamed"
pass "an unreadable secret, a bad URL and an unknown event name each stop hs-control at start"

RX_PIDS=()
rx_start() {
  rx_start_one "$RX_PORT"; RX_PIDS=("$RX_PID")
  rx_start_one "$((RX_PORT + 1))" --cert "$LAB/pki/srv.pem" --key "$LAB/pki/srv.key"; RX_PIDS+=("$RX_PID")
}
rx_stop() { kill "${RX_PIDS[@]}"; wait "${RX_PIDS[@]}" 2>/dev/null || true; }

# The (id, event) pairs delivered to PATH, each delivery once, in order of first arrival.
got() { [ -f "$RX/got.jsonl" ] || return 0; jq -sc --arg p "$1" '[.[] | select(.path == $p)] | unique_by(.delivery) | sort_by(.delivery | split(".") | map(tonumber)) | map([.id, .event])' "$RX/got.jsonl"; }
got_in_arrival_order() { jq -sc --arg p "$1" '[.[] | select(.path == $p)] | reduce .[] as $d ([]; if any(.[]; .delivery == $d.delivery) then . else . + [$d] end) | map([.id, .event])' "$RX/got.jsonl"; }
# What hs-admin derives from the audit rows after BASE, keeping the names in FILTER (all when empty).
want() { admin events --since "$1" -o json | jq -c --argjson f "${2:-[]}" '[.[] | select(($f | length) == 0 or (.event as $e | $f | index($e))) | [.id, .event]]'; }
all_arrived() {
  [ "$(got /all)" = "$(want "$BASE")" ] && [ "$(got_in_arrival_order /all)" = "$(want "$BASE")" ] &&
    [ "$(got /some)" = "$(want "$BASE" '["node.registered","signin.new_network"]')" ]
}
show_diff() { echo "got /all:  $(got /all)"; echo "want /all: $(want "$BASE")"; echo "got /some: $(got /some)"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.2f", b - a }'; }
signin() {  # signin ACTION OBJECT SOURCE AFTER: a row as the sign-in paths write it (SIGNIN-EVENTS)
  control_sql "INSERT INTO audit_log(at, actor, action, object, after, source) VALUES
    ('$(date -u +%Y-%m-%dT%H:%M:%SZ)', 'user:alice', '$1', '$2', '$4', '$3')"
}

admin users create alice >/dev/null
rx_start
SSL_CERT_FILE="$LAB/pki/bundle.pem" control_start
eventually 5 grep -q "webhook http://127.0.0.1:$RX_PORT/all: delivering events after audit row" "$CONTROL_DIR/control.log" || fail "no start line"
BASE=$(rx_base "http://127.0.0.1:$RX_PORT/all")

# 1. Events from hs-admin on the database and from hs-control.
admin apikeys create --expiration 1d >/dev/null
echo '{"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]}' | policy_set
key=$(admin preauthkeys create -u alice --reusable)
host_add c1 1; host_add c2 2
ts_start c1 41641; ts_start c2 41642
t0=$EPOCHREALTIME; ts_up c1 "$key" || fail "up c1"; t_reg1=$(since "$t0")
eventually 15 all_arrived || fail "deliveries differ: $(show_diff)"
rx_all_verified || fail "a delivery failed verification: $(jq -c 'select(.verified | not)' "$RX/got.jsonl")"
[ "$(got /all | jq -c 'map(.[1])')" = '["apikey.created","policy.changed","node.registered"]' ] || fail "events: $(got /all)"
jq -se '[.[] | select(.path == "/some")] | length >= 1 and all(.event == "node.registered")' "$RX/got.jsonl" >/dev/null || fail "https filter"
pass "apikey.created, policy.changed (hs-admin on the database) and node.registered (hs-control, client c1 up in ${t_reg1}s) arrived signed over http; node.registered alone over https"

# 2. Derived sign-in events from the shared row vocabulary.
signin signin.succeeded 'user 1 (alice)' 192.0.2.10 '{"method":"password","network":"192.0.2.0/24"}'
signin signin.succeeded 'user 1 (alice)' 198.51.100.7 '{"method":"password","network":"198.51.100.0/24"}'
signin signin.failed 'user 1 (alice)' 198.51.100.7 '{"method":"password","reason":"wrong password"}'
signin signin.failed 'user 1 (alice)' 198.51.100.7 '{"method":"password","reason":"wrong password"}'
signin signin.succeeded 'user 1 (alice)' 198.51.100.7 '{"method":"totp","network":"198.51.100.0/24"}'
signin signin.locked "user 2 (evil
[info] event {\"event\":\"forged\"})" 203.0.113.9 '{"until":"2026-12-04T16:00:00Z","lockouts":1}'
eventually 10 all_arrived || fail "deliveries differ: $(show_diff)"
[ "$(got /all | jq -c '.[3:] | map(.[1])')" = '["signin.new_network","signin.after_failures","signin.locked"]' ] || fail "derived: $(got /all)"
jq -se '[.[] | select(.event == "signin.after_failures")][0].body | .failures == 2 and .network == null' "$RX/got.jsonl" >/dev/null || fail "after_failures body"
pass "signin.new_network (2nd /24), signin.after_failures (2 failures) and signin.locked derived and delivered"
# The log carries each event on one line; the newline in the object stays escaped inside it.
grep -q '\] event {.*"event":"signin.locked"' "$CONTROL_DIR/control.log" || fail "no signin.locked log line"
! grep -q '^\[info\] event' "$CONTROL_DIR/control.log" || fail "a forged line in the log"
[ "$(grep -c 'forged' "$CONTROL_DIR/control.log")" = 1 ] || fail "forged text on more than one line"
pass "log: one line per event, a newline in a client-chosen string escaped"

# 3. Receiver down, then up: everything arrives in order.
rx_stop
for i in 1 2 3; do admin apikeys create --expiration 1d >/dev/null; done
echo '{"acls": [{"action": "accept", "src": ["alice@"], "dst": ["*:*"]}]}' | policy_set
eventually 10 sh -c "[ \"\$(curl -s $METRICS | grep -c '^hs_webhook_deliveries_total{url=\"http://127.0.0.1:$RX_PORT/all\",outcome=\"failed\"} [1-9]')\" = 1 ]" \
  || fail "no failed deliveries counted: $(curl -s "$METRICS" | grep hs_webhook)"
sleep 5
pending=$(curl -s "$METRICS" | grep "^hs_webhook_pending_events{url=\"http://127.0.0.1:$RX_PORT/all\"}" | awk '{print $2}')
lag=$(curl -s "$METRICS" | grep "^hs_webhook_lag_seconds{url=\"http://127.0.0.1:$RX_PORT/all\"}" | awk '{print $2}')
[ "$pending" -ge 1 ] && [ "$lag" -ge 3 ] || fail "while down: pending $pending lag $lag"
t0=$SECONDS; rx_start
eventually 30 all_arrived || fail "after the receiver came back: $(show_diff)"
rx_all_verified || fail "verification"
pass "receiver down ~7s (pending $pending, lag ${lag}s in the metrics): all $(got /all | jq length) events arrived in order within $((SECONDS - t0))s of its return"

# 4. A slow receiver (5 s > timeout 2 s): retried; the control loop is not held up.
echo 5 >"$RX/slow"
admin apikeys create --expiration 1d >/dev/null
sleep 3
t0=$EPOCHREALTIME; ts_up c2 "$key" || fail "up c2 while the receiver is slow"; t_reg2=$(since "$t0")
t0=$EPOCHREALTIME; curl -sf "$CONTROL_URL/health" >/dev/null || fail "health"; t_health=$(since "$t0")
failed_slow=$(curl -s "$METRICS" | grep "^hs_webhook_deliveries_total{url=\"http://127.0.0.1:$RX_PORT/all\",outcome=\"failed\"}" | awk '{print $2}')
rm "$RX/slow"
eventually 40 all_arrived || fail "after the receiver sped up: $(show_diff)"
awk "BEGIN { exit !($t_reg2 < 3 * $t_reg1 + 5) }" || fail "c2 took ${t_reg2}s to register (c1: ${t_reg1}s)"
pass "slow receiver: c2 registered in ${t_reg2}s (c1 ${t_reg1}s), /health in ${t_health}s; $failed_slow failed tries in all; all delivered once it sped up"

# 5. hs-control restarted mid-backlog, with events written while it was down.
rx_stop
for i in 1 2; do admin apikeys create --expiration 1d >/dev/null; done
sleep 1
control_stop
admin apikeys create --expiration 1d >/dev/null
signin signin.succeeded 'user 1 (alice)' 203.0.113.50 '{"method":"oidc","network":"203.0.113.0/24"}'
cursor=$(control_sql "SELECT last_id FROM webhook_cursors WHERE url = 'http://127.0.0.1:$RX_PORT/all'")
rx_start
SSL_CERT_FILE="$LAB/pki/bundle.pem" control_start
eventually 30 all_arrived || fail "after the restart: $(show_diff)"
rx_all_verified || fail "verification"
grep -q "/all: delivering events after audit row $cursor" "$CONTROL_DIR/control.log" || fail "did not resume from cursor $cursor"
dups=$(jq -s '[.[] | .delivery + .path] | length - (unique | length)' "$RX/got.jsonl")
pass "restart with a backlog: resumed after row $cursor, all $(got /all | jq length) events in order ($dups deliveries received twice over the whole run: at least once, deduplicated on X-Hs-Delivery)"
finish
