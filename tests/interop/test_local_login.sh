#!/usr/bin/env bash
# Sign-in with a built-in account (auth.local), end to end: the official clients run
# `tailscale up`, Debian's chromium (playwright-core, test_oidc.sh's npm packages) opens the
# /register/<id> URL it prints and signs in with a password and a TOTP code the test computes
# from the enrolled secret; each client reaches Running and the second pings the first. Then
# the refusals, each with its page: a wrong code, a malformed one, a replayed code, a locked
# account after five wrong passwords, an expired password changed on the page (policy applied),
# a form without its CSRF token. Last, 1,000 wrong passwords from one address: the account
# locks, the address is slowed down (timings logged), a webhook receiver on loopback gets the
# lock events signed, and meanwhile a person at another address signs a device in.
# Screenshots: $HS_LOCAL_LOGIN_OUT (default build/test-output/local-login).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
. "$(dirname "$0")/browser.sh"
need_root

browser_setup local_browser.mjs "${HS_LOCAL_LOGIN_OUT:-$HS_BIN/../test-output/local-login}"

lab_bridge
host_add browser 95
. "$(dirname "$0")/webhooks.sh"
RX_PORT=$((CONTROL_PORT + 2000))
rx_start_one "$RX_PORT"
control_config "auth: {local: {enabled: true, password_max_age: 90d}}" \
  "notifications: {webhooks: [{url: 'http://127.0.0.1:$RX_PORT/all', secret_path: $RX/secret}]}"
control_start
RX_BASE=$(rx_base "http://127.0.0.1:$RX_PORT/all")
[ -n "$RX_BASE" ] || fail "hs-control did not log its webhook cursor"
grep -q "built-in accounts: sign-in with a password" "$CONTROL_DIR/control.log" || fail "hs-control did not enable auth.local"

PW_ALICE='Blue-kettle-4891'
pw_of() { echo "Kettle-$(echo "$1" | sha256sum | cut -c1-8)"; }
for u in alice bob carol dave erin; do
  admin users create "$u" >/dev/null || fail "users create $u"
  pw=$(pw_of "$u")
  [ "$u" = alice ] && pw=$PW_ALICE
  echo "$pw" | admin users set-password "$u" >/dev/null || fail "set-password $u"
done
SECRET=$(admin users mfa enroll alice -o json | jq -r .otpauth_uri | sed -E 's/.*secret=([A-Z2-7]+).*/\1/')
[ ${#SECRET} = 32 ] || fail "no TOTP secret from mfa enroll"
pass "users alice (password + TOTP), bob, carol, dave, erin (password) set up with hs-admin"

# RFC 6238 code for a step, computed here from the enrolled secret (Python's hmac).
hotp() {
  python3 -c 'import sys,hmac,hashlib,base64,struct
k=base64.b32decode(sys.argv[1]+"="*((8-len(sys.argv[1])%8)%8)); h=hmac.new(k,struct.pack(">Q",int(sys.argv[2])),hashlib.sha1).digest()
o=h[-1]&15; print("%06d"%((struct.unpack(">I",h[o:o+4])[0]&0x7fffffff)%1000000))' "$SECRET" "$1"
}
# totp_next: CODE = a code of a step not used yet, and at most one step ahead of the clock
# (the server accepts one step of drift); waits for the clock when both are used.
LAST_STEP=0
totp_next() {
  local now s
  while :; do
    now=$(($(date +%s) / 30))
    s=$((LAST_STEP + 1 > now ? LAST_STEP + 1 : now))
    [ "$s" -le $((now + 1)) ] && break
    sleep 2
  done
  LAST_STEP=$s
  CODE=$(hotp "$s")
}

clients=()
n=0
for v in $TS_VERSIONS; do
  n=$((n + 1))
  client_waiting "$n" "$v"
  c=$C
  totp_next
  r=$(browser signin "$AUTH_URL" "$c-alice" alice "$PW_ALICE" "$CODE") || fail "$v: the browser sign-in failed"
  [ "$(field "$r" .status)" = 200 ] && [ "$(field "$r" .h1)" = "Device registered" ] ||
    fail "$v: not the success page: $r"
  [[ "$(field "$r" .text)" == *"signed in as alice"*"$c"* ]] || fail "$v: success page: $(field "$r" .text)"
  wait "$UP_PID" || { cat "$LAB/up-$c.err" >&2; fail "$v: tailscale up did not finish after the sign-in"; }
  status_is "$c" .BackendState Running || fail "$v: $c is not Running after the sign-in"
  pass "$v: tailscale up -> /register/<id> -> password + TOTP -> '$(field "$r" .h1)', client Running"
  USED_CODE=$CODE
  clients+=("$c")
done
admin_node_is "${clients[0]}" .user.name alice || fail "the node's user is not alice"
if [ ${#clients[@]} -ge 2 ]; then
  eventually 20 pong "${clients[1]}" "${clients[0]}" || fail "${clients[1]} cannot ping ${clients[0]}"
  pass "${clients[1]} pings ${clients[0]}: both signed in with a built-in account"
fi
check "audit: signin.succeeded as user:alice, method totp, with the /24" test "$(admin audit list -o json |
  jq '[.[] | select(.action == "signin.succeeded" and .actor == "user:alice" and .after.method == "totp"
       and (.after.network | endswith(".0/24")))] | length')" = "${#clients[@]}"

# Refusals: one waiting client, one page each, nothing registered.
host_add rq 90
ts_start rq 41690
up_interactive rq
page_is() {  # page_is WHAT STATUS H1 TEXT JSON
  check "$1: HTTP $2, '$3', page says '$4'" test "$(field "$5" .status)" = "$2" -a "$(field "$5" .h1)" = "$3" \
    -a -n "$(field "$5" .text | grep -F -- "$4")"
}
totp_next
wrong=$(printf '%06d' $(((10#$CODE + 1) % 1000000)))
r=$(browser signin "$AUTH_URL" rq-wrong-code alice "$PW_ALICE" "$wrong") || fail "browser: wrong code"
page_is "wrong TOTP code" 401 "Wrong code" "The code is wrong" "$r"
r=$(browser signin "$AUTH_URL" rq-malformed-code alice "$PW_ALICE" "12ab5") || fail "browser: malformed code"
page_is "a malformed code (12ab5)" 401 "Wrong code" "The code is wrong" "$r"
r=$(browser signin "$AUTH_URL" rq-replayed alice "$PW_ALICE" "$USED_CODE") || fail "browser: replayed code"
page_is "a code already used (replayed)" 401 "Code already used" "already used" "$r"
r=$(browser signin "$AUTH_URL" rq-no-code alice "$PW_ALICE" "") || fail "browser: no code"
page_is "password right, code missing" 401 "Code needed" "needs the code" "$r"
r=$(browser tries "$AUTH_URL" rq-locked 6 bob "not-bobs-password-1") || fail "browser: locked"
check "five wrong passwords for bob: 'Wrong password' x5 then 'Account locked'" test \
  "$(field "$r" '[.pages[].h1] | join(",")')" = "Wrong password,Wrong password,Wrong password,Wrong password,Wrong password,Account locked"
page_is "locked account" 423 "Account locked" "until" "$(field "$r" .last)"
r=$(browser signin "$AUTH_URL" rq-locked-right bob "$(pw_of bob)" "") || fail "browser: locked, right password"
page_is "locked account refuses the right password too" 423 "Account locked" "minutes from now" "$r"
r=$(browser no-csrf "$AUTH_URL" rq-no-csrf alice "$PW_ALICE") || fail "browser: no csrf"
page_is "form without its CSRF token" 403 "Form expired" "did not come from this server" "$r"
check "no node registered by a refused sign-in" test "$(admin nodes list -o json | jq '[.[] | select(.name == "rq")] | length')" = 0
rows=$(admin audit list -o json | jq -r '[.[] | select(.action | startswith("signin.f") or startswith("signin.l"))
  | "\(.action):\(.after.reason // "")"] | unique | join(" ")')
check "audit: signin.failed rows for wrong code, replay, wrong password, locked; signin.locked (got: $rows)" test \
  "$rows" = "signin.failed:code already used signin.failed:locked signin.failed:wrong code signin.failed:wrong password signin.locked:"

# Expired password: carol's was set 91 days ago; the page asks for a new one, applies the policy,
# then registers the device.
control_sql "UPDATE local_credentials SET password_changed_at = '$(date -u -d '91 days ago' +%Y-%m-%dT%H:%M:%SZ)' WHERE user_id = (SELECT id FROM users WHERE name = 'carol')" ||
  fail "backdating carol's password"
r=$(browser change "$AUTH_URL" rq-expired carol "$(pw_of carol)" "" "Green-teapot-7302") || fail "browser: expired: $r"
page_is "expired password" 200 "Password expired" "has expired" "$(field "$r" .expired)"
page_is "expired password: a common one is refused on the page" 400 "Password expired" "commonly used" "$(field "$r" .weak)"
page_is "expired password: the new one signs in" 200 "Device registered" "signed in as carol" "$(field "$r" .last)"
wait "$UP_PID" || fail "rq: tailscale up did not finish after carol's sign-in"
check "rq is carol's now" admin_node_is rq .user.name carol

# 1,000 wrong passwords from one address (the host, not the browser's namespace), on a new
# registration: 500 at dave (locked after 5), 500 at names that do not exist (the address's
# bucket: 20 at once, then 1 a second), 50 a second so that the storm lasts 20 s. Meanwhile
# erin, at the browser's address, signs in a device of her own.
host_add storm 80
ts_start storm 41680
up_interactive storm
STORM_URL=$AUTH_URL STORM_UP=$UP_PID
host_add legit 85
ts_start legit 41685
up_interactive legit
LEGIT_URL=$AUTH_URL LEGIT_UP=$UP_PID
t_storm=$(ms)
python3 - "$STORM_URL" "$(pw_of dave)" >"$LAB/storm.json" <<'PY' &
import http.client, json, re, socket, sys, time, urllib.parse
url = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
c.request("GET", url.path); r = c.getresponse(); body = r.read().decode()
cookie = r.getheader("Set-Cookie").split(";")[0]
csrf = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
def post(name, password):
    form = urllib.parse.urlencode({"csrf": csrf, "action": "signin", "name": name, "password": password, "code": ""})
    c.request("POST", url.path, form, {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
    r = c.getresponse(); r.read(); return r.status
out = {}
for part, names in (("dave", ["dave"] * 500), ("unknown", ["nobody%d" % i for i in range(500)])):
    t0 = time.monotonic(); counts = {}; first = {}
    for i, n in enumerate(names):
        s = post(n, "wrong-password-%d" % i)
        counts[s] = counts.get(s, 0) + 1; first.setdefault(s, i + 1)
        time.sleep(0.02)
    out[part] = {"seconds": round(time.monotonic() - t0, 2), "statuses": counts, "first_at": first}
    if part == "dave": out["dave_right_password"] = post("dave", sys.argv[2])
# A 1 MB password: refused by the HTTP parser from its Content-Length (bodies up to 64 KiB),
# before the body is read or anything hashed.
big = urllib.parse.urlencode({"csrf": csrf, "action": "signin", "name": "carol", "password": "x" * (1 << 20)})
k = socket.create_connection((url.hostname, url.port), timeout=30)
k.sendall(("POST %s HTTP/1.1\r\nHost: hs\r\nCookie: %s\r\nContent-Type: application/x-www-form-urlencoded\r\n"
           "Content-Length: %d\r\n\r\n" % (url.path, cookie, len(big))).encode())
out["one_mb"] = int(k.recv(4096).split()[1])
print(json.dumps(out))
PY
STORM=$!
dave_locked() { admin audit locks -o json | jq -e '.[] | select(.key == "user:dave" and .locked_until != null)' >/dev/null; }
eventually 20 dave_locked || fail "the storm did not lock dave"
r=$(browser signin "$LEGIT_URL" legit-erin erin "$(pw_of erin)" "") || fail "browser: erin during the storm: $r"
wait "$LEGIT_UP" || { cat "$LAB/up-legit.err" >&2; fail "legit: tailscale up did not finish after erin's sign-in"; }
t_legit=$(($(ms) - t_storm))
kill -0 "$STORM" 2>/dev/null || fail "the storm ended before erin's device registered (${t_legit} ms): nothing shown"
check "during the storm (dave locked, the storm's address throttled), erin at another address signs legit in: '$(field "$r" .h1)' ${t_legit} ms after the storm began, legit Running" \
  eval '[ "$(field "$r" .status)" = 200 ] && status_is legit .BackendState Running && admin_node_is legit .user.name erin'
wait "$STORM" || fail "the storm script failed"
log "the storm lasted $(($(ms) - t_storm)) ms"
s=$(cat "$LAB/storm.json")
log "storm: $s"
# Locked answers cost the address like failures (each writes an audit row): after its bucket
# of 20 (5 failures, then locked answers) the rest wait (429).
# The bucket refills one a second: the 10 s at dave allow about that many more looked at.
refill=$(field "$s" '.dave.seconds | ceil')
check "500 wrong passwords at dave: 5 checked (401), then locked (423) without hashing until the address's bucket is spent, then 429" \
  test "$(field "$s" '.dave.statuses."401"')" = 5 -a "$(field "$s" '.dave.statuses."423"')" -ge 15 \
  -a "$(field "$s" '.dave.statuses."423"')" -le $((17 + refill)) -a "$(field "$s" '.dave.statuses."429"')" -ge $((478 - refill))
check "500 wrong passwords at unknown names: the address is slowed down (429) after its burst" \
  test "$(field "$s" '.unknown.statuses."429" // 0')" -ge 470
check "dave's right password is refused while he is locked (423, or 429 while the address waits)" \
  test "$(field "$s" .dave_right_password)" = 423 -o "$(field "$s" .dave_right_password)" = 429
check "a 1 MB password is refused before anything is hashed (413)" test "$(field "$s" .one_mb)" = 413
check "the storm registered nothing" test "$(admin nodes list -o json | jq '[.[] | select(.name == "storm")] | length')" = 0
pass "storm timings: dave $(field "$s" .dave.seconds) s for 500, unknown names $(field "$s" .unknown.seconds) s for 500 (HTTP $(field "$s" '.unknown.statuses | to_entries | map("\(.key) x\(.value)") | join(", ")'))"
kill "$STORM_UP" 2>/dev/null || true
wait "$STORM_UP" 2>/dev/null || true

# The accounts' attempts go through hs-control's attempt limiter: counted in its metrics, the
# locks stored (audit locks), kept over a restart and lifted by hs-admin users unlock.
METRICS="http://127.0.0.1:$((CONTROL_PORT + 1000))/metrics"
metric() { curl -sf "$METRICS" | awk -v m="$1" '$1 == m {print $2}'; }
f_pw=$(metric 'hs_control_signin_failures_total{kind="password"}')
# /register/<id> checks the address before the form is read: its 429s count as registration_id.
th_pw=$(($(metric 'hs_control_signin_throttled_total{kind="password"}') + $(metric 'hs_control_signin_throttled_total{kind="registration_id"}')))
lk_pw=$(metric 'hs_control_signin_lockouts_total{kind="password"}')
st_looked=$(field "$s" '[.dave.statuses."401", .dave.statuses."423", .unknown.statuses."401" // 0] | add')
st_waited=$(field "$s" '[.dave.statuses."429", .unknown.statuses."429"] | add')
check "metrics: password failures ($f_pw, at least the storm's $st_looked looked at), throttled ($th_pw, at least its $st_waited 429s), lockouts of bob and dave ($lk_pw)" \
  test "${f_pw:-0}" -ge "$st_looked" -a "${th_pw:-0}" -ge "$st_waited" -a "${lk_pw:-0}" = 2
check "audit locks names bob and dave, locked now" test "$(admin audit locks -o json |
  jq -r '[.[] | select(.locked_until != null) | .key] | sort | join(",")')" = "user:bob,user:dave"
# post_once URL NAME PASSWORD: the status of one sign-in at URL's form.
post_once() {
  python3 - "$@" <<'PY'
import http.client, re, sys, urllib.parse
url = urllib.parse.urlparse(sys.argv[1])
c = http.client.HTTPConnection(url.hostname, url.port, timeout=30)
c.request("GET", url.path); r = c.getresponse(); body = r.read().decode()
cookie = r.getheader("Set-Cookie").split(";")[0]
csrf = re.search(r'name="csrf" value="([^"]+)"', body).group(1)
form = urllib.parse.urlencode({"csrf": csrf, "action": "signin", "name": sys.argv[2], "password": sys.argv[3], "code": ""})
c.request("POST", url.path, form, {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"})
print(c.getresponse().status)
PY
}
control_stop
control_start
up_interactive storm
check "after a restart dave's right password is still refused (423)" test "$(post_once "$AUTH_URL" dave "$(pw_of dave)")" = 423
admin users unlock dave >/dev/null || fail "hs-admin users unlock dave"
check "after hs-admin users unlock dave, his right password signs the device in (200)" \
  test "$(post_once "$AUTH_URL" dave "$(pw_of dave)")" = 200
wait "$UP_PID" || fail "storm: tailscale up did not finish after dave's sign-in"
check "storm is dave's" admin_node_is storm .user.name dave

# The events, from the file and over the webhook: the same list, each delivery signed; the locks
# of bob and dave among them, and dave's sign-in after his failures.
eventually 20 rx_matches /all "$RX_BASE" || fail "webhook deliveries [$(rx_events /all)], hs-admin events [$(rx_want "$RX_BASE")]"
rx_all_verified || fail "a delivery failed verification: $(jq -c 'select(.verified | not)' "$RX/got.jsonl")"
ev=$(admin events --since "$RX_BASE" -o json)
check "events: signin.locked for bob and dave, signin.after_failures for dave; the receiver got [$(rx_events /all)], every HMAC valid" \
  test "$(jq -r '[.[] | select(.event == "signin.locked") | .object | capture("[(](?<n>[a-z]+)[)]").n] | sort | join(",")' <<<"$ev")" = bob,dave \
  -a "$(jq '[.[] | select(.event == "signin.after_failures" and (.object | contains("(dave)")))] | length' <<<"$ev")" = 1
pass "screenshots in $BROWSER_OUT: $(ls "$BROWSER_OUT" | wc -l) files"
finish
