#!/usr/bin/env bash
# Attempt limits (docs/security.md): from one namespace "atk", 1,000 wrong pre-auth keys (all
# naming an existing key's prefix, over TS2021 with hs-ts2021-abuse) and 1,000 wrong API keys
# (curl, one connection). The source is throttled after its burst (register Error / HTTP 429
# with Retry-After), both keys lock after 5 failures, the metrics and the audit trail count it,
# and meanwhile the official client in namespace "good" registers with another key and another
# API key works. A webhook receiver on loopback gets the events (the two locks among them),
# each signed. The locks survive a restart of hs-control and end with hs-admin ... unlock (on
# the file while hs-control runs, and over the REST API). Then auth.allowed_cidrs and
# api_listen_addr (a unix socket) with a second config.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root

ABUSE="$HS_BIN/hs-ts2021-abuse"
PROBE="$HS_BIN/hs-ts2021-probe"
[ -x "$ABUSE" ] && [ -x "$PROBE" ] || fail "build the hs-ts2021-abuse and hs-ts2021-probe targets"

ts_install
. "$(dirname "$0")/webhooks.sh"
RX_PORT=$((CONTROL_PORT + 2000))
rx_start_one "$RX_PORT"
control_config "notifications: {webhooks: [{url: 'http://127.0.0.1:$RX_PORT/all', secret_path: $RX/secret}]}"
control_start
RX_BASE=$(rx_base "http://127.0.0.1:$RX_PORT/all")
[ -n "$RX_BASE" ] || fail "hs-control did not log its webhook cursor"
METRICS="http://127.0.0.1:$((CONTROL_PORT + 1000))/metrics"
metric() { curl -sf "$METRICS" | awk -v m="$1" '$1 == m {print $2}'; }
in_ns() { local n=$1; shift; ip netns exec "$(host_ns "$n")" "$@"; }

admin users create alice >/dev/null
target=$(admin preauthkeys create -u alice --reusable -e 1h)   # the key the attacker aims at
other=$(admin preauthkeys create -u alice --reusable -e 1h)    # the legitimate client's key
api_target=$(admin apikeys create -e 1h)
api_other=$(admin apikeys create -e 1h)
tprefix=${target%-*}; tprefix=${tprefix#hskey-auth-}
aprefix=${api_target%-*}; aprefix=${aprefix#hskey-api-}

host_add atk 1; host_add good 2; host_add late 3; host_add out 4; host_add atk2 5
ts_start good 41642; ts_start late 41643; ts_start out 41644

# --- 1,000 wrong pre-auth keys from atk, while good registers -------------------------------
# 8 ms apart (125 a second, against a refill of 1 a second), so the flood lasts ~8 s and good's
# registration (~3 s) happens inside it.
t0=$(ms)
in_ns atk "$ABUSE" key-flood "$CONTROL_URL" 1000 "hskey-auth-$tprefix-" 8 >"$LAB/flood-preauth.out" &
flood_pid=$!
eventually 5 eval '[ "$(metric hs_control_signin_locked)" = 1 ]' || fail "the flood did not lock the key"
ts_up good "$other" >"$LAB/up-good.out" 2>&1 || { cat "$LAB/up-good.out" >&2; fail "tailscale up on good failed during the flood"; }
t_good=$(( $(ms) - t0 ))
status_is good .BackendState Running || fail "good is not Running"
kill -0 "$flood_pid" 2>/dev/null || fail "the flood ended before good registered (${t_good} ms): nothing shown"
wait "$flood_pid" || { cat "$LAB/flood-preauth.out" >&2; fail "key-flood failed"; }
t_preauth=$(( $(ms) - t0 ))
cat "$LAB/flood-preauth.out" >&2
pass "good (another address, another key) registered and is Running ${t_good} ms into the flood, which went on to ${t_preauth} ms"

count() { awk -v k="$1" 'index($0, k) {s += $2} END {print s + 0}' "$LAB/flood-preauth.out"; }
wrong=$(count '"invalid pre-auth key"'); locked=$(count 'is locked after too many'); throttled=$(count 'from your address')

log "pre-auth key flood: $wrong wrong, $locked locked, $throttled throttled in ${t_preauth} ms"
[ "$wrong" = 5 ] || fail "expected 5 answers 'invalid pre-auth key' before the lock, got $wrong"
[ $((wrong + locked)) -ge 20 ] && [ $((wrong + locked)) -le $((20 + t_preauth / 1000 + 2)) ] \
  || fail "expected the burst of 20 (+1/s) looked at, got $((wrong + locked))"
[ $((wrong + locked + throttled)) = 1000 ] || fail "answers do not add up to 1000"
pass "1000 wrong pre-auth keys: 5 wrong, then locked, $locked looked at in all beyond those, $throttled throttled (${t_preauth} ms)"

# --- 1,000 wrong API keys from atk2, while good uses another key -----------------------------
# Another source: atk's bucket is empty after its flood (the bucket is per address, shared by
# every kind of secret), so from atk every one of these would be a 429.
# 200 a second (curl --rate), ~5 s, while good uses its own key.
wrong_api="Bearer hskey-api-$aprefix-$(printf 'a%.0s' $(seq 64))"
urls=(); for _ in $(seq 1000); do urls+=(-o /dev/null "$CONTROL_URL/api/hs/v1/user"); done
t0=$(ms)
in_ns atk2 curl -s --rate 200/s -H "Authorization: $wrong_api" -w '%{http_code}\n' "${urls[@]}" >"$LAB/flood-api.out" &
flood_pid=$!
# (curl's -w lines reach the file when it exits: the server's counter says when it throttles.)
eventually 5 eval '[ "$(metric "hs_control_signin_throttled_total{kind=\"api_key\"}")" -ge 1 ]' || fail "the API flood was not throttled"
code=$(in_ns good curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $api_other" "$CONTROL_URL/api/hs/v1/user")
t_other=$(( $(ms) - t0 ))
kill -0 "$flood_pid" 2>/dev/null || fail "the API flood ended before the other key was tried (${t_other} ms)"
[ "$code" = 200 ] || fail "another API key from good got $code during the flood"
wait "$flood_pid" || fail "the API flood's curl failed"
t_api=$(( $(ms) - t0 ))
pass "another API key from another address: 200 ${t_other} ms into the API flood, which went on to ${t_api} ms"
c401=$(grep -c '^401$' "$LAB/flood-api.out" || true); c429=$(grep -c '^429$' "$LAB/flood-api.out" || true)
log "API key flood: $c401 x 401, $c429 x 429 in ${t_api} ms"
[ $((c401 + c429)) = 1000 ] || fail "API flood: $(sort "$LAB/flood-api.out" | uniq -c | tr '\n' ' ')"
[ "$c401" -ge 20 ] && [ "$c401" -le $((20 + t_api / 1000 + 2)) ] || fail "API flood: $c401 looked at, expected the burst of 20 (+1/s)"
hdr=$(in_ns atk2 curl -s -D - -o /dev/null -H "Authorization: $wrong_api" "$CONTROL_URL/api/hs/v1/user")
[[ "$hdr" == *" 429"* && "$hdr" == *"Retry-After: "[0-9]* ]] || fail "no 429 with Retry-After: $hdr"
pass "1000 wrong API keys: $c401 x 401, $c429 x 429 (${t_api} ms); a throttled request has $(grep -i retry-after <<<"$hdr" | tr -d '\r')"

# The burst's first 5 locked the API key.
body=$(in_ns good curl -s -H "Authorization: Bearer $api_target" "$CONTROL_URL/api/hs/v1/user")
[[ "$body" == *"locked"* ]] || fail "the correct but locked API key got: $body"
pass "the correct API key from another address is refused while locked: $body"
code=$(in_ns good curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $api_target" "$CONTROL_URL/api/v1/user")
[ "$code" = 401 ] || fail "locked key on /api/v1: $code"

# --- the official client with the locked key prints the server's reason ---------------------
err="$LAB/up-late.err"
if ts late up --login-server="$CONTROL_URL" --auth-key="$target" --hostname=late --reset --timeout=20s >/dev/null 2>"$err"; then
  fail "tailscale up with the locked key succeeded"
fi
grep -q "locked after too many failed attempts" "$err" || { cat "$err" >&2; fail "tailscale up did not print the lock"; }
pass "tailscale up with the locked key: $(grep -m1 locked "$err")"

# --- metrics, audit rows, locks --------------------------------------------------------------
f_pre=$(curl -sf "$METRICS" | awk '$1 == "hs_control_signin_failures_total{kind=\"preauth_key\"}" {print $2}')
th_pre=$(curl -sf "$METRICS" | awk '$1 == "hs_control_signin_throttled_total{kind=\"preauth_key\"}" {print $2}')
th_api=$(curl -sf "$METRICS" | awk '$1 == "hs_control_signin_throttled_total{kind=\"api_key\"}" {print $2}')
lk=$(curl -sf "$METRICS" | awk '$1 ~ /^hs_control_signin_lockouts_total/ {s += $2} END {print s + 0}')
gauge=$(metric hs_control_signin_locked)
log "metrics: preauth failures $f_pre, throttled preauth $th_pre api $th_api, lockouts $lk, locked now $gauge"
[ "$th_pre" = "$throttled" ] || fail "throttled pre-auth metric $th_pre, answers $throttled"
[ "$th_api" -ge "$c429" ] || fail "throttled API metric $th_api < $c429"
[ "$f_pre" -ge $((wrong + locked)) ] && [ "$lk" = 2 ] && [ "$gauge" = 2 ] || fail "metrics: $(curl -sf "$METRICS" | grep signin)"
pass "metrics: $f_pre pre-auth failures, $th_pre + $th_api throttled, $lk lockouts, $gauge locked"

audit=$(admin audit list --since 1h -o json)
n_failed=$(jq '[.[] | select(.action == "signin.failed")] | length' <<<"$audit")
n_locked=$(jq -c '[.[] | select(.action == "signin.locked") | .object]' <<<"$audit")
n_ok=$(jq '[.[] | select(.action == "signin.succeeded" and .after.method == "preauthkey")] | length' <<<"$audit")
atk_ip=$(host_ip atk)
jq -e --arg ip "$atk_ip" '[.[] | select(.action == "signin.locked")] | length == 2 and all(.actor == "hs-control" and (.after.until | length > 0))' <<<"$audit" >/dev/null \
  || fail "signin.locked rows: $n_locked"
jq -e --arg ip "$atk_ip" '[.[] | select(.action == "signin.failed" and .source == $ip)] | all(.actor == "anonymous" and (.after.reason | length > 0))' <<<"$audit" >/dev/null \
  || fail "signin.failed rows"
[ "$n_ok" -ge 1 ] || fail "no signin.succeeded row for good's registration"
pass "audit: $n_failed signin.failed, signin.locked for $n_locked, $n_ok signin.succeeded (pre-auth key)"
# The events, from the file and over the webhook: the same list, each delivery signed.
eventually 20 rx_matches /all "$RX_BASE" || fail "webhook deliveries [$(rx_events /all)], hs-admin events [$(rx_want "$RX_BASE")]"
rx_all_verified || fail "a delivery failed verification: $(jq -c 'select(.verified | not)' "$RX/got.jsonl")"
locks=$(admin events --since "$RX_BASE" -o json | jq -c '[.[] | select(.event == "signin.locked") | .object]')
[ "$(jq length <<<"$locks")" = 2 ] || fail "signin.locked events: $locks"
pass "events: hs-admin events and the webhook receiver agree on [$(rx_events /all)], every delivery's HMAC valid; signin.locked for $locks"
run_locks=$(admin audit locks -o json)
[ "$(jq length <<<"$run_locks")" = 2 ] || fail "audit locks: $run_locks"
pass "hs-admin audit locks: $(jq -c 'map(.object)' <<<"$run_locks")"

# --- the locks survive a restart --------------------------------------------------------------
t0=$(ms)
control_stop
control_start
pass "hs-control restarted in $(( $(ms) - t0 )) ms"
OUT=$("$PROBE" register "$CONTROL_URL" "$target")
[[ "$OUT" == *"locked after too many"* ]] || fail "after the restart the locked key got: $OUT"
body=$(in_ns good curl -s -H "Authorization: Bearer $api_target" "$CONTROL_URL/api/hs/v1/user")
[[ "$body" == *"locked"* ]] || fail "after the restart the locked API key got: $body"
pass "after the restart both keys are still locked"
eventually 20 status_is good .BackendState Running || fail "good is not Running after the restart"

# --- unlock: on the file while hs-control runs, and over the REST API ---------------------------
OUT=$(admin preauthkeys unlock "hskey-auth-$tprefix-***")
[[ "$OUT" == *unlocked* ]] || fail "preauthkeys unlock: $OUT"
OUT=$("$PROBE" register "$CONTROL_URL" "$target")
[[ "$(jq -r '.User.DisplayName // empty' <<<"$OUT")" == alice ]] || fail "after unlock the key got: $OUT"
pass "hs-admin preauthkeys unlock on the file: the key registers at once ($(jq -c '{MachineAuthorized}' <<<"$OUT"))"
OUT=$("$HS_BIN/hs-admin" --remote "$CONTROL_URL" --api-key "$api_other" apikeys unlock "$aprefix")
[[ "$OUT" == *unlocked* ]] || fail "apikeys unlock over the API: $OUT"
code=$(in_ns good curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $api_target" "$CONTROL_URL/api/hs/v1/user")
[ "$code" = 200 ] || fail "after unlock the API key got $code"
pass "hs-admin --remote apikeys unlock: the API key works again"
n=$(admin audit list --since 1h -o json | jq '[.[] | select(.action == "signin.unlocked")] | length')
[ "$n" = 2 ] || fail "expected 2 signin.unlocked rows, got $n"
[ "$(metric hs_control_signin_locked)" = 0 ] || fail "locked gauge after unlocks: $(metric hs_control_signin_locked)"
pass "2 signin.unlocked rows; hs_control_signin_locked is 0"

# --- auth.allowed_cidrs and api_listen_addr: unix ---------------------------------------------
control_stop
good_ip=$(host_ip good)
sock="$CONTROL_DIR/api.sock"
control_config "auth: {allowed_cidrs: [$good_ip/32, ${LAB_SUBNET}1/32]}" "api_listen_addr: unix:$sock"
control_start
code=$(in_ns atk curl -s -o "$LAB/403.out" -w '%{http_code}' "$CONTROL_URL/register/abc")
[ "$code" = 403 ] || fail "atk on /register/ with allowed_cidrs: $code"
pass "atk (not in auth.allowed_cidrs) on /register/: 403 $(cat "$LAB/403.out")"
code=$(in_ns good curl -s -o /dev/null -w '%{http_code}' "$CONTROL_URL/register/abc")
[ "$code" = 404 ] || fail "good on /register/abc: $code"
code=$(in_ns good curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $api_other" "$CONTROL_URL/api/hs/v1/user")
[ "$code" = 404 ] || fail "the main listener still serves /api/ with api_listen_addr: $code"
[ "$(stat -c %a "$sock")" = 660 ] || fail "socket mode $(stat -c %a "$sock")"
OUT=$(curl -s --unix-socket "$sock" -H "Authorization: Bearer $api_other" http://hs/api/hs/v1/user)
[ "$(jq -r '.[0].name' <<<"$OUT")" = alice ] || fail "API on the unix socket: $OUT"
pass "api_listen_addr unix:$sock (mode 660) serves the API; listen_addr answers 404 on /api/"
# A fresh host: late's daemon may still report its last refusal to the next up (client-side).
ts_up out "$target" >/dev/null 2>&1 || fail "out (not in allowed_cidrs) could not register with a pre-auth key"
pass "pre-auth keys still work from outside auth.allowed_cidrs (it covers sign-in pages and the API)"

log "timings: pre-auth key flood ${t_preauth} ms, API key flood ${t_api} ms, good registered ${t_good} ms after the flood began"
finish
