#!/usr/bin/env bash
# Attempt limits from the command line: auth.allowed_cidrs and api_listen_addr refused with the
# key named when malformed; hs-admin users|preauthkeys|apikeys unlock and audit locks on the
# file (a lock written as hs-control writes it), with a signin.unlocked audit row each; and
# against a running hs-control: 5 wrong API keys lock the key, a remote unlock lifts it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/admin_lib.sh"

# --- config errors ---------------------------------------------------------------------------
bad() {  # bad YAML WANT: configtest refuses YAML and says WANT
  printf 'dns: {base_domain: t.test}\ndatabase: {sqlite: {path: %s}}\n%s\n' "$T/c.sqlite" "$1" >"$T/bad.yaml"
  run "$A" -c "$T/bad.yaml" configtest
  expect_rc 1 "configtest with $1"; expect_err "$2" "$1"; ok
}
bad "auth: {allowed_cidrs: [10.0.0.0/33]}" 'auth.allowed_cidrs: "10.0.0.0/33" is not a CIDR prefix'
bad "auth: {allowed_cidrs: [10.0.0.1/8]}" 'auth.allowed_cidrs: "10.0.0.1/8" is not a CIDR prefix'
bad "auth: {allowed_cidrs: nope}" "auth.allowed_cidrs"
bad "api_listen_addr: 0.0.0.0:9090" 'api_listen_addr: "0.0.0.0:9090" is not a loopback address'
bad "api_listen_addr: 192.168.1.1:9090" "is not a loopback address"
bad "api_listen_addr: localhost:9090" "is not a loopback IP:port"
bad "api_listen_addr: unix:api.sock" "expected unix: and an absolute path"
# configtest checks what start-up needs, so this one has a DERP map.
"$HS_BIN/hs-derpmap" new --region-id 900 --region-code t --node "name=900a,host=127.0.0.1,ipv4=127.0.0.1,ipv6=none" >"$T/dm.yaml"
printf 'dns: {base_domain: t.test}\ndatabase: {sqlite: {path: %s}}\napi_listen_addr: "[::1]:9090"\nauth: {allowed_cidrs: [10.0.0.0/8, "fd00::/8"]}\nderp: {paths: [%s]}\n' \
  "$T/c.sqlite" "$T/dm.yaml" >"$T/good.yaml"
run "$A" -c "$T/good.yaml" configtest; expect_rc 0 "configtest with both keys set"; ok
run "$A" -c "$T/good.yaml" configtest -o json; jqt '.valid == true'; ok
# audit check names a sign-in open to any address, and is quiet once auth.allowed_cidrs is set.
printf 'dns: {base_domain: t.test}\ndatabase: {sqlite: {path: %s}}\nlisten_addr: 0.0.0.0:8080\n' "$T/c.sqlite" >"$T/open.yaml"
run "$A" -c "$T/open.yaml" audit check -o json
jqt 'map(select(.check == "sign-in-any-address")) | length == 1 and (.[0].message | contains("auth.allowed_cidrs or api_listen_addr"))'; ok
echo 'auth: {allowed_cidrs: [10.0.0.0/8]}' >>"$T/open.yaml"
run "$A" -c "$T/open.yaml" audit check -o json; jqt 'map(select(.check == "sign-in-any-address")) == []'; ok
# Built-in accounts on offer: an account with a password and no TOTP is named, until it enrolls
# or auth.local.require_mfa refuses it anyway.
"$A" -c "$T/open.yaml" users create mallory >/dev/null
echo 'Str0ng-Kettle-88' | "$A" -c "$T/open.yaml" users set-password mallory >/dev/null
run "$A" -c "$T/open.yaml" audit check -o json; jqt 'map(select(.check == "mfa-missing")) == []'; ok
echo 'auth: {allowed_cidrs: [10.0.0.0/8], local: {enabled: true}}' >"$T/open2.yaml"
sed '/^auth:/d' "$T/open.yaml" >>"$T/open2.yaml"
run "$A" -c "$T/open2.yaml" audit check -o json
jqt 'map(select(.check == "mfa-missing")) | length == 1 and (.[0].object | endswith("(mallory)")) and (.[0].message | contains("mfa enroll mallory"))'; ok
"$A" -c "$T/open2.yaml" users mfa enroll mallory >/dev/null
run "$A" -c "$T/open2.yaml" audit check -o json; jqt 'map(select(.check == "mfa-missing")) == []'; ok

# --- unlock on the file ------------------------------------------------------------------------
"$A" users create alice >/dev/null
PK=$("$A" preauthkeys create -u alice -e 1h)
P=${PK%-*}; P=${P#hskey-auth-}
UNTIL=$(date -u -d '+15 min' +%Y-%m-%dT%H:%M:%SZ)
q "INSERT INTO signin_locks VALUES ('preauthkey:$P', 0, '$NOW', 1, '$UNTIL', '$NOW')"
q "INSERT INTO signin_locks VALUES ('user:alice', 0, '$NOW', 2, '$UNTIL', '$NOW')"
q "INSERT INTO signin_locks VALUES ('apikey:abcdefabcdef', 3, '$NOW', 0, NULL, '$NOW')"
run "$A" audit locks -o json; expect_rc 0 "audit locks"
jqt "map(.object) == [\"pre-auth key prefix $P\", \"user alice\"] and all(.locked)"; ok
run "$A" audit locks --all -o json; jqt 'length == 3 and (map(select(.key == "apikey:abcdefabcdef"))[0].failures == 3)'; ok
run "$A" preauthkeys unlock "hskey-auth-$P-***"; expect_rc 0 "preauthkeys unlock"; expect_out "pre-auth key prefix $P unlocked" "unlock text"; ok
run "$A" users unlock alice -o json; expect_rc 0 "users unlock"; jqt '.was_locked == true and .object == "user 1 (alice)"'; ok
run "$A" users unlock alice; expect_rc 0 "users unlock again"; expect_out "was not locked" "second unlock"; ok
run "$A" users unlock nobody; expect_rc 1 "unlock of an unknown user"; expect_err "nobody" "names the user"; ok
run "$A" apikeys unlock ""; expect_rc 1 "unlock without a prefix"; ok
[ "$(q "SELECT group_concat(key) FROM signin_locks")" = "apikey:abcdefabcdef" ] || fail "rows left: $(q 'SELECT key FROM signin_locks')"; ok
[ "$(q "SELECT count(*) FROM audit_log WHERE action = 'signin.unlocked' AND actor = 'unix:$(id -un)' AND source = 'local'")" = 3 ] \
  || fail "signin.unlocked rows: $(q "SELECT action, object FROM audit_log")"; ok
[ "$(q "SELECT count(*) FROM audit_log WHERE action LIKE '%.unlock'")" = 0 ] || fail "an unlock was also recorded under its op name"; ok

# --- a running hs-control: 5 wrong API keys lock the key; a remote unlock lifts it --------------
control_config
KEY=$("$A" apikeys create -e 1h)
VICTIM=$("$A" apikeys create -e 1h)
VP=${VICTIM%-*}; VP=${VP#hskey-api-}
start_control
for _ in 1 2 3 4 5; do
  code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer hskey-api-$VP-$(h 0)" "$URL/api/hs/v1/user")
  [ "$code" = 401 ] || fail "wrong API key: $code"
done
ok
body=$(curl -s -H "Authorization: Bearer $VICTIM" "$URL/api/hs/v1/user")
[[ "$body" == *"locked after too many failed attempts"* ]] || fail "locked key: $body"; ok
run R audit locks -o json; jqt "length == 1 and .[0].object == \"API key prefix $VP\""; ok
run R apikeys unlock "$VP"; expect_rc 0 "remote unlock"; expect_out "unlocked" "remote unlock text"; ok
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $VICTIM" "$URL/api/hs/v1/user")
[ "$code" = 200 ] || fail "after the remote unlock: $code"; ok
q "SELECT actor, source FROM audit_log WHERE action = 'signin.unlocked' ORDER BY id DESC LIMIT 1" | grep -q "^apikey:1|127.0.0.1" \
  || fail "remote unlock row: $(q "SELECT actor, source FROM audit_log WHERE action = 'signin.unlocked'")"; ok
finish
