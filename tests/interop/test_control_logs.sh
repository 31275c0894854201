#!/usr/bin/env bash
# What hs-control writes to its log cannot be forged or flooded by a client, every refused
# credential is logged with the sender's address (and machine key for registrations), and the
# files it creates are private. On loopback with hs-ts2021-probe and curl: no tailscale needed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root

PROBE="$HS_BIN/hs-ts2021-probe"
[ -x "$PROBE" ] || fail "$PROBE is missing (build the hs-ts2021-probe target)"

D="$CONTROL_DIR"
mkdir -p "$D"
DB_YAML="database: {sqlite: {path: $D/db.sqlite}}"
if on_postgres; then control_pg_db; DB_YAML=$(control_db_yaml); fi
PORT=$((31000 + LAB_ID)); MPORT=$((32000 + LAB_ID))
URL="http://127.0.0.1:$PORT"
"$HS_BIN/hs-derpmap" new --region-id 900 --region-code lab --node "name=900a,host=127.0.0.1,ipv4=127.0.0.1,ipv6=none" \
  >"$D/derp.yaml" || fail "hs-derpmap new failed"
cat >"$D/config.yaml" <<CFG
server_url: $URL
listen_addr: 127.0.0.1:$PORT
metrics_listen_addr: 127.0.0.1:$MPORT
noise: {private_key_path: $D/noise_private.key}
$DB_YAML
derp: {paths: [$D/derp.yaml]}
dns: {base_domain: hs.test}
log: {level: info}
# This suite floods wrong keys from one address to see what the log and the counters make of
# them; the attempt limiter (test_login_limits) would answer most with 429 unlooked-at.
auth: {limits: {source_burst: 1000}}
CFG
admin() { "$HS_BIN/hs-admin" -c "$D/config.yaml" "$@"; }
LOGF="$D/control.log"

# The shell's usual umask: what hs creates must be private regardless.
umask 022
daemon_start CONTROL_PID "$LOGF" "$URL/health" "$HS_BIN/hs-control" -c "$D/config.yaml"
admin users create alice >/dev/null
key=$(admin preauthkeys create -u alice --reusable -e 1h)

# --- a newline in a hostname stays inside its line ---
forged='2026-01-01T00:00:00.000Z info  registered node 7 (admin) by authkey'
"$PROBE" register "$URL" "$key" $'evil\n'"$forged" >"$D/reg.json" 2>/dev/null || fail "registration as a forger failed: $(cat "$D/reg.json")"
jq -e '.MachineAuthorized == true' "$D/reg.json" >/dev/null || fail "the forger was not registered: $(cat "$D/reg.json")"
# A wrong key makes the server log the hostname as given.
"$PROBE" register "$URL" "hskey-auth-AAAAAAAAAAAA-$(printf '0%.0s' $(seq 64))" $'evil\n'"$forged" \
  >"$D/bad.json" 2>"$D/bad.err" || fail "probe with a wrong key: $(cat "$D/bad.json")"
[ "$(jq -r .Error "$D/bad.json")" = "invalid pre-auth key" ] || fail "wrong key answered $(cat "$D/bad.json")"
mkey=$(sed -n 's/^machine key //p' "$D/bad.err")
[[ "$mkey" == mkey:* ]] || fail "the probe did not say its machine key: $(cat "$D/bad.err")"
sleep 0.3
awk -v f="$forged" 'index($0, f) == 1 {bad = 1} END {exit !bad}' "$LOGF" &&
  { cat "$LOGF" >&2; fail "a line of the log starts with the forged text"; }
line=$(grep -F 'refused: invalid pre-auth key' "$LOGF") || { cat "$LOGF" >&2; fail "the wrong pre-auth key was not logged"; }
[[ "$line" == *'hostname "evil\n2026-01-01T00:00:00.000Z'* ]] || fail "the hostname is not escaped in: $line"
[[ "$line" == *"from 127.0.0.1:"* ]] || fail "the refusal does not name the address: $line"
[[ "$line" == *"$mkey"* ]] || fail "the refusal does not name the machine key $mkey: $line"
pass "a hostname with a newline stays in one line; the wrong pre-auth key is logged with address and machine key: $line"

# --- a flood of wrong pre-auth keys writes one line, the counter counts them all ---
metric() { curl -sf "http://127.0.0.1:$MPORT/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
rejected0=$(metric 'hs_control_registrations_total{outcome="rejected"}')
sleep 1.1  # past the second of the line above, so the flood gets a line of its own
flood=()
for i in $(seq 20); do
  "$PROBE" register "$URL" "hskey-auth-BBBBBBBBBBBB-$(printf '1%.0s' $(seq 64))" flood >/dev/null 2>&1 &
  flood+=($!)
done
wait "${flood[@]}"  # not a bare wait: hs-control is a child of this shell too
rejected=$(metric 'hs_control_registrations_total{outcome="rejected"}')
[ "$((rejected - rejected0))" = 20 ] || fail "rejected registrations went from $rejected0 to $rejected, expected +20"
n=$(grep -c 'refused: invalid pre-auth key' "$LOGF")
[ "$n" -ge 2 ] && [ "$n" -le 4 ] || fail "20 wrong pre-auth keys wrote $((n - 1)) lines"
pass "20 wrong pre-auth keys: counter +20, $((n - 1)) more log line(s)"

# --- wrong API keys: counted, logged once a second with the address, never the secret ---
secret=$(printf 'c%.0s' $(seq 64))
urls=()
for i in $(seq 50); do urls+=("$URL/api/v1/user"); done
curl -s -H "Authorization: Bearer hskey-api-CCCCCCCCCCCC-$secret" "${urls[@]}" >/dev/null
sleep 1.1
curl -s -o /dev/null -H "Authorization: Bearer hskey-api-CCCCCCCCCCCC-$secret" "$URL/api/v1/user"
code=$(curl -s -o /dev/null -w '%{http_code}' "$URL/api/v1/user")
[ "$code" = 401 ] || fail "a request without a key got $code"
failures=$(metric hs_control_api_auth_failures_total)
[ "$failures" = 52 ] || fail "hs_control_api_auth_failures_total is ${failures:-missing}, expected 52"
grep -q "$secret" "$LOGF" && fail "the log holds the secret of a tried API key"
lines=$(grep -F 'refused: unknown API key hskey-api-CCCCCCCCCCCC-***' "$LOGF") || { cat "$LOGF" >&2; fail "wrong API keys were not logged"; }
[[ "$(head -1 <<<"$lines")" == *"API request from 127.0.0.1:"* ]] || fail "the API refusal does not name the address: $lines"
[ "$(wc -l <<<"$lines")" -le 3 ] || fail "51 wrong API keys wrote $(wc -l <<<"$lines") lines"
[[ "$(tail -1 <<<"$lines")" == *"similar line"*"suppressed)"* ]] || fail "the line after the flood does not count what it left out: $lines"
grep -q 'refused: no Authorization header' "$LOGF" || fail "a request without a key was not logged"
pass "52 refused API requests counted; logged as $(wc -l <<<"$lines") line(s): $(tail -1 <<<"$lines")"

# --- files: private whatever the umask ---
files="db.sqlite db.sqlite-wal db.sqlite-shm noise_private.key" what="db.sqlite, -wal, -shm and noise_private.key are"
if on_postgres; then
  files=noise_private.key what="noise_private.key is"
  skip "db.sqlite, -wal and -shm are 0600 under umask 022" "SQLite-specific: hs-control creates no database file on PostgreSQL"
fi
for f in $files; do
  [ -e "$D/$f" ] || fail "$f does not exist"
  [ "$(stat -c %a "$D/$f")" = 600 ] || fail "$f has mode $(stat -c %a "$D/$f") under umask 022"
done
pass "$what 0600 under umask 022"

daemon_stop "$CONTROL_PID"
chmod 644 "$D/noise_private.key"
if "$HS_BIN/hs-control" -c "$D/config.yaml" --check >"$D/check.out" 2>&1; then fail "hs-control accepted a 0644 Noise key"; fi
grep -qF "$D/noise_private.key: permissions 0644 are too open" "$D/check.out" &&
  grep -qF "chmod 600 $D/noise_private.key" "$D/check.out" || fail "the 0644 key was refused without the fix: $(cat "$D/check.out")"
pass "a 0644 Noise key is refused: $(cat "$D/check.out")"
chmod 600 "$D/noise_private.key"

# --- a read-only filesystem is named as such (a private mount namespace, nothing else sees it) ---
ro="$LAB/ro"
mkdir -p "$ro"
sed "s|$D/db.sqlite|$ro/hs.db|; s|$D/noise_private.key|$ro/noise.key|" "$D/config.yaml" >"$D/ro.yaml"
if on_postgres; then
  skip "database on a read-only filesystem" "SQLite-specific: hs-control creates no database file on PostgreSQL"
else
  unshare -m bash -c "mount -t tmpfs -o ro,size=1m tmpfs '$ro' && exec '$HS_BIN/hs-control' -c '$D/ro.yaml' --check" >"$D/ro.out" 2>&1 &&
    fail "hs-control started with its database on a read-only filesystem"
  grep -qF "cannot create $ro/hs.db: the filesystem is read-only (EROFS)" "$D/ro.out" || fail "read-only database: $(cat "$D/ro.out")"
  pass "database on a read-only filesystem: $(cat "$D/ro.out")"
  sed -i "s|$ro/hs.db|$D/db.sqlite|" "$D/ro.yaml"
fi
unshare -m bash -c "mount -t tmpfs -o ro,size=1m tmpfs '$ro' && exec '$HS_BIN/hs-control' -c '$D/ro.yaml' --check" >"$D/ro.out" 2>&1 &&
  fail "hs-control started with its Noise key to be created on a read-only filesystem"
grep -qF "cannot create $ro/noise.key: the filesystem is read-only (EROFS)" "$D/ro.out" || fail "read-only key: $(cat "$D/ro.out")"
pass "Noise key on a read-only filesystem: $(cat "$D/ro.out")"
finish
