#!/usr/bin/env bash
# The audit trail and audit check: a scripted series of changes on the file and through the
# REST API (hs-admin --remote with an API key); `audit list` names each one with its actor, the
# rows cannot be changed, secrets are not recorded; `audit check` names weak points and exits 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/admin_lib.sh"

control_config
ME=$(id -un)

# On the file.
"$A" users create alice >/dev/null
"$A" users create bob >/dev/null
add_node a laptop 1 '[]'
"$A" nodes rename -i 1 work-laptop >/dev/null
SECRET=$("$A" preauthkeys create -u alice --reusable -e 0)
KEY=$("$A" apikeys create -e 0)

start_control

# Through the REST API.
R users rename -n bob -r carol >/dev/null
R nodes tag -i 1 -t tag:x >/dev/null
R nodes rename -i 1 "Bad_Name" >/dev/null 2>&1 && { RC=0; fail "bad rename succeeded"; }  # refused: not a change
R policy set -f <(echo '{"acls":[{"action":"accept","src":["*"],"dst":["*:*"]}]}') >/dev/null
R nodes expire -i 1 >/dev/null
R users delete -n carol >/dev/null
R users list >/dev/null   # reads are not recorded

run "$A" audit list -o json
expect_rc 0 "audit list"
jqt 'map(.action) == ["users.create","users.create","nodes.rename","preauthkeys.create","apikeys.create",
                      "users.rename","nodes.tag","policy.set","nodes.expire","users.delete"]'; ok
jqt "(.[0:5] | all(.actor == \"unix:$ME\" and .source == \"local\"))"; ok
jqt '(.[5:] | all(.actor == "apikey:1" and (.source | startswith("127.0.0.1:"))))'; ok
jqt '.[2].object == "node 1" and .[2].before.name == "laptop" and .[2].after.given_name == "work-laptop"'; ok
jqt '.[5].before.name == "bob" and .[5].after.name == "carol"'; ok
jqt '.[6].before.tags == [] and .[6].after.tags == ["tag:x"]'; ok
jqt '.[8].before.expiry == null and .[8].after.expiry != null'; ok
[[ "$OUT" != *"${SECRET##*-}"* && "$OUT" != *"${KEY##*-}"* ]] || fail "a secret is in the audit trail"; ok
jqt '.[3].after.key == "(secret, not recorded)"'; ok

# The same rows remotely, and as a table.
run R audit list -o json
[ "$(jq -c 'map(.action)' <<<"$OUT")" = "$(sqlite3 "$DB" "SELECT json_group_array(action) FROM (SELECT action FROM audit_log ORDER BY id)")" ] || fail "remote audit list"; ok
run "$A" audit list
expect_rc 0 "audit list table"
[ "$(grep -c "apikey:1" <<<"$OUT")" = 5 ] && [[ "$OUT" == *"unix:$ME"*"users.create"* ]] || fail "audit list table"; ok

# Append-only: the schema refuses changes and removals.
sqlite3 "$DB" "UPDATE audit_log SET actor = 'x'" 2>/dev/null && fail "audit_log row updated"
sqlite3 "$DB" "DELETE FROM audit_log" 2>/dev/null && fail "audit_log row deleted"
[ "$(q 'SELECT count(*) FROM audit_log')" = 10 ] || fail "audit_log changed"; ok
run "$A" audit list --since 0 -o json; jqt 'length == 10'; ok
run "$A" audit list --since 1x; expect_rc 1 "bad --since"; ok

# audit check: this setup is weak on purpose.
chmod 644 "$DB"
run "$A" audit check -o json
expect_rc 1 "audit check"
jqt '[.[].check] | sort == ["apikey-no-expiry","file-readable-by-others","policy-allows-all","preauthkey-reusable-no-expiry"]'; ok
expect_err "4 weak point(s) found" "audit check"; ok
"$A" users create admin >/dev/null
run "$A" audit check; expect_rc 1 "audit check table"; [[ "$OUT" == *"admin-like-user"*"user 3 (admin)"* ]] || fail "admin-like user"; ok

# Fixed: exit 0 and an empty list.
chmod 600 "$DB"
"$A" users delete -n admin >/dev/null
"$A" apikeys expire -i 1 >/dev/null
"$A" preauthkeys expire -i 1 >/dev/null
"$A" policy set -f <(echo '{"acls":[{"action":"accept","src":["alice@"],"dst":["alice@:22"]}]}') >/dev/null
run "$A" audit check -o json
expect_rc 0 "audit check clean"; jqt '. == []'; ok
# hs-control saw the policy it enforces change and recorded that as itself.
for _ in $(seq 50); do [ "$(q "SELECT count(*) FROM audit_log WHERE action = 'policy.reloaded' AND actor = 'hs-control'")" = 1 ] && break; sleep 0.1; done
[ "$(q "SELECT count(*) FROM audit_log WHERE action = 'policy.reloaded' AND actor = 'hs-control'")" = 1 ] || fail "policy reload not recorded"; ok

# Events: followed from the file as they are committed, and resumed after the last ID seen.
"$A" events --follow -o json-line --since 0 >"$T/ev1" 2>"$T/ev1.err" &
F1=$!; "$A" events -f -o json-line --since 0 >"$T/ev2" 2>&1 &
F2=$!
trap 'kill $CONTROL $F1 $F2 ${F3:-} 2>/dev/null; wait $CONTROL 2>/dev/null; rm -rf "$T"' EXIT
KEY=$("$A" apikeys create -e 1h)   # API key 2; key 1 was expired above
R apikeys create -e 1h >/dev/null
for _ in $(seq 50); do [ "$(grep -c apikey.created "$T/ev1" "$T/ev2" | grep -c ':3$')" = 2 ] && break; sleep 0.1; done
OUT=$(cat "$T/ev1")
[ "$(jq -sc 'map(.event)' "$T/ev1")" = '["apikey.created","policy.changed","policy.changed","policy.changed","apikey.created","apikey.created"]' ] \
  || fail "events followed: $(jq -sc 'map(.event)' "$T/ev1")"; ok
cmp -s "$T/ev1" "$T/ev2" || fail "two followers saw different events"; ok
jq -se '.[-1].actor == "apikey:2" and (.[-1].source | startswith("127.0.0.1:"))' "$T/ev1" >/dev/null || fail "last event's actor"; ok
kill $F1 $F2; wait $F1 $F2 2>/dev/null || true
LAST=$(jq -s '.[-1].id' "$T/ev1")
run "$A" events --since "$LAST" -o json; jqt '. == []'; ok
"$A" apikeys delete -i 3 >/dev/null
"$A" users create dave >/dev/null   # raises no event
RELOADS=$(q "SELECT count(*) FROM audit_log WHERE action = 'policy.reloaded'")
R policy set -f <(echo '{"acls":[{"action":"accept","src":["alice@"],"dst":["alice@:*"]}]}') >/dev/null
# Wait for hs-control's policy.reloaded, so the sign-in checks below start after it (loaded machines).
for _ in $(seq 100); do [ "$(q "SELECT count(*) FROM audit_log WHERE action = 'policy.reloaded'")" -gt "$RELOADS" ] && break; sleep 0.1; done
# policy.set by the key, then (when hs-control has applied it) policy.reloaded by hs-control.
run "$A" events --since "$LAST" -o json; jqt '(map(.event) | unique) == ["policy.changed"] and .[0].actor == "apikey:2" and .[0].action == "policy.set"'; ok
run "$A" events --follow -o json; expect_rc 1 "follow needs a line format"; ok

# Sign-in events derived from the signin.* rows (docs/security.md): a follower started after
# alice's first sign-in still knows that network (it replays the history before its start).
signin() { q "INSERT INTO audit_log(at, actor, action, object, after, source) VALUES
  (strftime('%Y-%m-%dT%H:%M:%SZ', 'now'), 'user:alice', '$1', 'user 1 (alice)', '$3', '$2')" >/dev/null; }
signin signin.succeeded 192.0.2.10 '{"method":"password","network":"192.0.2.0/24"}'
START=$(q "SELECT max(id) FROM audit_log")
"$A" events --follow -o json-line --since "$START" >"$T/ev3" 2>&1 &
F3=$!
sleep 0.5
signin signin.succeeded 192.0.2.99 '{"method":"password","network":"192.0.2.0/24"}'   # known: nothing
signin signin.failed 198.51.100.7 '{"method":"password","reason":"wrong password"}'
sleep 0.4   # a later poll: the failure is remembered across polls
signin signin.succeeded 198.51.100.7 '{"method":"totp","network":"198.51.100.0/24"}'
signin signin.locked 198.51.100.7 '{"until":"2026-12-04T16:00:00Z","lockouts":1}'
for _ in $(seq 50); do [ "$(wc -l <"$T/ev3")" -ge 3 ] && break; sleep 0.1; done
kill $F3; wait $F3 2>/dev/null || true
[ "$(jq -sc 'map(.event)' "$T/ev3")" = '["signin.new_network","signin.after_failures","signin.locked"]' ] \
  || fail "derived events followed: $(cat "$T/ev3")"; ok
jq -se '.[0].network == "198.51.100.0/24" and .[1].failures == 1' "$T/ev3" >/dev/null || fail "derived details: $(cat "$T/ev3")"; ok
run "$A" events --since "$START" -o json; jqt 'map(.event) == ["signin.new_network","signin.after_failures","signin.locked"]'; ok
finish
