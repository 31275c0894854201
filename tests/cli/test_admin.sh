#!/usr/bin/env bash
# hs-admin: every verb's output in each format, the database state it leaves, and every rejection.
. "$(dirname "$0")/lib.sh"
A=$HS_BIN/hs-admin
DB=$T/db.sqlite
cat >"$T/config.yaml" <<EOF
dns: {base_domain: t.test}
database: {sqlite: {path: $DB}}
EOF
export HS_CONFIG=$T/config.yaml
unset HEADSCALE_CONFIG
RFC3339='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$'
HEX64='[0-9a-f]{64}'

q() { sqlite3 "$DB" "$1"; }
# jqt FILTER: jq -e on OUT; fails the test when the filter is false or OUT is not JSON.
jqt() { jq -e "$1" <<<"$OUT" >/dev/null || fail "jq $1"; }
# The -o json error contract: exit 1, stdout exactly {"error": <the stderr message>}.
expect_json_error() {
  expect_rc 1 "$2"
  jq -e 'type == "object" and (keys == ["error"]) and (.error | type == "string")' <<<"$OUT" >/dev/null ||
    fail "$2: stdout is not {\"error\": ...}"
  [ "hs-admin: $(jq -r .error <<<"$OUT")" = "$ERR" ] || fail "$2: stdout error differs from stderr"
  expect_err "$1" "$2"
}
# A table-mode failure: exit 1, one line on stderr, nothing on stdout.
expect_fail() {
  expect_rc 1 "$2"; expect_no_out "$2"
  [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || fail "$2: stderr is not one line"
  expect_err "$1" "$2"
}

# --- version and usage -------------------------------------------------------------------------
run "$A" version; expect_rc 0 "version"; expect_out '^hs-admin [0-9]+\.[0-9]+' "version"; ok
run "$A" --version; expect_rc 0 "--version"; expect_out '^hs-admin [0-9]' "--version"; ok
run "$A" version -o json; jqt '.name == "hs-admin" and (.version | test("^[0-9]"))'; ok
run "$A"; expect_rc 2 "no noun"; expect_no_out "no noun"; ok
run "$A" users; expect_rc 2 "no verb"; ok
run "$A" frobnicate; expect_rc 2 "unknown noun"; ok
run "$A" users list -o xml; expect_rc 2 "bad format"; expect_err "xml" "bad format"; ok
run "$A" users list --bogus; expect_rc 2 "unknown option"; ok
[ ! -e "$DB" ] || fail "usage errors created the database"; ok

# --- config ------------------------------------------------------------------------------------
run env -u HS_CONFIG "$A" -c "$T/missing.yaml" users list; expect_fail "missing.yaml: config file not found" "missing config"; ok
run env -u HS_CONFIG "$A" -c "$T/missing.yaml" users list -o json; expect_json_error "config file not found" "missing config json"; ok
run env -u HS_CONFIG HEADSCALE_CONFIG="$T/missing2.yaml" "$A" users list; expect_fail "missing2.yaml" "HEADSCALE_CONFIG used"; ok
printf 'dns: {base_domain: t.test}\ndatabase: {sqlite: {path: %s}}\nno_such_key: 1\n' "$T/other.sqlite" >"$T/bad.yaml"
run "$A" -c "$T/bad.yaml" users list; expect_rc 1 "invalid config"; expect_no_out "invalid config"; expect_err "no_such_key" "invalid config"; ok
[ ! -e "$T/other.sqlite" ] || fail "invalid config opened a database"; ok
printf 'database: {sqlite: {path: %s}}\ndns: {base_domain: t.test}\n' "$T/other.sqlite" >"$T/other.yaml"
run "$A" -c "$T/other.yaml" users create carol; expect_rc 0 "-c FILE"; ok
[ "$(sqlite3 "$T/other.sqlite" 'SELECT name FROM users')" = carol ] || fail "-c did not pick the database"; ok
[ ! -e "$DB" ] || fail "-c opened \$HS_CONFIG's database"; ok
run env HEADSCALE_CONFIG="$T/missing2.yaml" "$A" users list; expect_rc 0 "HS_CONFIG wins over HEADSCALE_CONFIG"; ok

# --- users -------------------------------------------------------------------------------------
run "$A" users create alice
expect_rc 0 "users create"; expect_out '^ID +Name +DisplayName +Email +Provider +Created' "users create header"
[ "$(printf '%s\n' "$OUT" | wc -l)" = 2 ] || fail "users create: expected header and one row"
expect_out $'\n1 +alice +- +- +- +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9]{2}:[0-9]{2}:[0-9]{2}$' "users create row"; ok
[ "$(q "SELECT id, name FROM users")" = "1|alice" ] || fail "alice not in the database"; ok

run "$A" user create bob -d "Bob B" -e bob@example.com -o json; expect_rc 0 "users create json"
jqt 'keys_unsorted == ["id","name","display_name","email","provider","created_at"]'
jqt '.id == 2 and .name == "bob" and .display_name == "Bob B" and .email == "bob@example.com" and .provider == ""'
jqt ".created_at | test(\"$RFC3339\")"; ok
[ "$(q "SELECT display_name, email FROM users WHERE id = 2")" = "Bob B|bob@example.com" ] || fail "bob's columns"; ok

run "$A" users create alice; expect_fail 'user "alice" already exists' "duplicate user"; ok
run "$A" users create alice -o json; expect_json_error "already exists" "duplicate user json"; ok
run "$A" users create 1abc; expect_fail "must start with a letter" "bad user name"; ok
run "$A" users create a; expect_fail "2 to 63" "short user name"; ok
run "$A" users create 'a b'; expect_fail "only letters" "user name with space"; ok
run "$A" users create; expect_rc 2 "users create without NAME"; ok
[ "$(q 'SELECT count(*) FROM users')" = 2 ] || fail "rejected creates changed the users table"; ok

run "$A" users list; expect_rc 0 "users list"
[ "$(printf '%s\n' "$OUT" | wc -l)" = 3 ] || fail "users list: 3 lines expected"
grep -q '^2 \+bob \+Bob B \+bob@example.com' <<<"$OUT" || fail "users list: bob row"; ok
for noun in users user namespaces namespace ns; do
  for verb in list ls show; do
    run "$A" $noun $verb -o json; expect_rc 0 "$noun $verb"; jqt 'type == "array" and length == 2'; ok
  done
done
run "$A" -o json users list -n bob; jqt 'length == 1 and .[0].id == 2'; ok
run "$A" users list -i 1 -o json; jqt 'length == 1 and .[0].name == "alice"'; ok
run "$A" users list -e nobody@x -o json; [ "$OUT" = "[]" ] || fail "empty filtered list"; ok
run "$A" users list -o json-line; expect_rc 0 "json-line"
[ "$(printf '%s\n' "$OUT" | wc -l)" = 2 ] || fail "json-line: 2 lines expected"
while read -r line; do jq -e 'type == "object" and has("id")' <<<"$line" >/dev/null || fail "json-line: $line"; done <<<"$OUT"; ok
run "$A" users list -o yaml; expect_rc 0 "yaml"; expect_out '^- id: 1' "yaml"; expect_out 'created_at: "' "yaml quotes times"; ok
if python3 -c 'import yaml' 2>/dev/null; then
  yaml_as_json=$(python3 -c 'import json,sys,yaml; print(json.dumps(yaml.safe_load(sys.stdin)))' <<<"$OUT")
  json=$("$A" users list -o json)
  [ "$(jq -S . <<<"$yaml_as_json")" = "$(jq -S . <<<"$json")" ] || fail "yaml and json differ"; ok
fi

# --- pre-auth keys -----------------------------------------------------------------------------
run "$A" preauthkeys create -u alice; expect_rc 0 "preauthkeys create"
expect_out "^hskey-auth-[A-Za-z0-9]{12}-$HEX64\$" "preauthkeys create prints only the key"; ok
KEY1=$OUT
[ "$(q 'SELECT user_id, reusable, ephemeral, used, tags FROM pre_auth_keys WHERE id = 1')" = '1|0|0|0|[]' ] ||
  fail "key 1 columns"; ok
# Default lifetime 1h: the expiration lies between now+59m and now+61m.
exp=$(q 'SELECT expiration FROM pre_auth_keys WHERE id = 1')
lo=$(date -u -d '+59 min' +%Y-%m-%dT%H:%M:%SZ); hi=$(date -u -d '+61 min' +%Y-%m-%dT%H:%M:%SZ)
[[ "$exp" > "$lo" && "$exp" < "$hi" ]] || fail "default expiration $exp not about 1h away"; ok
sqlite3 "$DB" .dump | grep "${KEY1##*-}" >/dev/null && fail "secret stored in clear"; ok

run "$A" preauthkey create -u 2 --reusable --ephemeral -e 0 -o json; expect_rc 0 "create by user id"
jqt 'keys_unsorted == ["id","key","user","reusable","ephemeral","used","expiration","created_at","tags"]'
jqt ".id == 2 and (.key | test(\"^hskey-auth-[A-Za-z0-9]{12}-$HEX64\$\")) and .user.name == \"bob\""
jqt '.reusable == true and .ephemeral == true and .used == false and .expiration == null and .tags == []'; ok
KEY2=$(jq -r .key <<<"$OUT")
[ "$(q 'SELECT user_id, reusable, ephemeral, expiration IS NULL FROM pre_auth_keys WHERE id = 2')" = '2|1|1|1' ] ||
  fail "key 2 columns"; ok

run "$A" authkey create --tags tag:b,tag:a --tags tag:a -e 90d -o json-line; expect_rc 0 "tagged key"
[ "$(printf '%s\n' "$OUT" | wc -l)" = 1 ] || fail "json-line create: one line"
jqt '.user == null and .tags == ["tag:a","tag:b"] and (.expiration | type == "string")'; ok
[ "$(q 'SELECT user_id IS NULL, tags FROM pre_auth_keys WHERE id = 3')" = '1|["tag:a","tag:b"]' ] || fail "key 3 columns"; ok

run "$A" preauthkeys create -u nobody; expect_fail 'user "nobody" not found' "key for unknown user"; ok
run "$A" preauthkeys create -u alice -e 5x; expect_fail 'invalid duration "5x"' "bad duration"; ok
run "$A" preauthkeys create -u alice -e 5x -o json; expect_json_error "invalid duration" "bad duration json"; ok
run "$A" preauthkeys create -u alice -e 1000y; expect_fail "at most 100y" "huge duration"; ok
run "$A" preauthkeys create --tags Tag:Upper; expect_fail 'invalid tag "Tag:Upper"' "bad tag"; ok
run "$A" preauthkeys create -u alice --tags server; expect_fail 'invalid tag "server"' "tag without prefix"; ok
run "$A" preauthkeys create; expect_fail "needs a user or at least one tag" "key without owner"; ok
[ "$(q 'SELECT count(*) FROM pre_auth_keys')" = 3 ] || fail "rejected creates changed pre_auth_keys"; ok

run "$A" preauthkeys list; expect_rc 0 "preauthkeys list"
expect_out '^ID +Key +User +Tags +Reusable +Ephemeral +Used +Expiration +Created' "keys header"
grep -q "^3 \+hskey-auth-[A-Za-z0-9]\{12\}-\*\*\* \+- \+tag:a,tag:b \+false" <<<"$OUT" || fail "key 3 row"
grep -q "$HEX64" <<<"$OUT" && fail "list shows a secret"; ok
for noun in preauthkeys preauthkey authkey pre; do
  run "$A" $noun ls -o json; expect_rc 0 "$noun ls"; jqt 'length == 3'; ok
done
run "$A" preauthkeys list -o json
jqt "[.[].key | test(\"^hskey-auth-[A-Za-z0-9]{12}-[*]{3}\$\")] | all"; ok
[ "$(jq -r '.[0].key' <<<"$OUT")" = "${KEY1%-*}-***" ] || fail "masked key 1 is not the prefix of the secret"; ok
[ "$(jq -r '.[1].key' <<<"$OUT")" = "${KEY2%-*}-***" ] || fail "masked key 2 is not the prefix of the secret"; ok
run "$A" preauthkeys list -u bob -o json; jqt 'length == 1 and .[0].id == 2'; ok
run "$A" preauthkeys list -u nobody; expect_fail "not found" "list keys of unknown user"; ok

run "$A" preauthkeys expire -i 1 -o json; expect_rc 0 "expire key"
jqt '.id == 1 and (.expiration | type == "string") and (.key | endswith("-***"))'; ok
now=$(date -u -d '+1 sec' +%Y-%m-%dT%H:%M:%SZ)
[[ "$(q 'SELECT expiration FROM pre_auth_keys WHERE id = 1')" < "$now" ]] || fail "key 1 not expired"; ok
run "$A" pre revoke -i 2; expect_rc 0 "revoke alias"; expect_out $'^ID .*\n2 ' "revoke prints the key row"; ok
[ "$(q 'SELECT expiration IS NOT NULL FROM pre_auth_keys WHERE id = 2')" = 1 ] || fail "key 2 not expired"; ok
run "$A" preauthkeys expire -i 99; expect_fail "pre-auth key 99 not found" "expire unknown key"; ok
run "$A" preauthkeys expire; expect_rc 2 "expire without -i"; ok
run "$A" preauthkeys expire -i x; expect_rc 2 "expire with non-numeric id"; ok

# --- nodes -------------------------------------------------------------------------------------
h() { printf "$1%.0s" $(seq 64); }
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)
q "INSERT INTO nodes(machine_key, node_key, disco_key, host_info, ipv4, ipv6, hostname, given_name, user_id,
     register_method, tags, approved_routes, last_seen, online, created_at, updated_at)
   VALUES ('mkey:$(h a)', 'nodekey:$(h b)', 'discokey:$(h c)', '{\"RoutableIPs\":[\"10.1.0.0/24\",\"::/0\"]}',
     '100.64.0.1', 'fd7a:115c:a1e0::1', 'Alice Laptop', 'alice-laptop', 1, 'authkey', '[]', '[\"10.1.0.0/24\"]',
     '$NOW', 1, '$NOW', '$NOW');
   INSERT INTO nodes(machine_key, node_key, ipv4, hostname, given_name, tags, register_method, created_at, updated_at)
   VALUES ('mkey:$(h d)', 'nodekey:$(h e)', '100.64.0.2', 'srv', 'srv', '[\"tag:server\"]', 'authkey', '$NOW', '$NOW');
   INSERT INTO nodes(machine_key, node_key, hostname, given_name, user_id, ephemeral, created_at, updated_at)
   VALUES ('mkey:$(h f)', 'nodekey:$(h 1)', 'phone', 'bob-phone', 2, 1, '$NOW', '$NOW');"

run "$A" nodes list; expect_rc 0 "nodes list"
expect_out '^ID +Hostname +Name +MachineKey +NodeKey +User +Tags +IPs +Ephemeral +LastSeen +Expiration +Connected +Expired +Approved' "nodes header"
[ "$(printf '%s\n' "$OUT" | wc -l)" = 4 ] || fail "nodes list: header and 3 rows"
grep -q '^1 \+Alice Laptop \+alice-laptop \+mkey:aaaaaaaa \+nodekey:bbbbbbbb \+alice \+- \+100.64.0.1,fd7a:115c:a1e0::1 \+false \+[0-9-]\+ [0-9:]\+ \+- \+online \+no \+yes$' <<<"$OUT" ||
  fail "nodes list: row 1"
grep -q '^2 \+srv \+srv .* \+- \+tag:server \+100.64.0.2 \+false \+- \+- \+offline \+no \+yes$' <<<"$OUT" || fail "nodes list: row 2"; ok
run "$A" nodes list -o json; expect_rc 0 "nodes list json"; jqt 'type == "array" and length == 3'
jqt '.[0] | keys_unsorted == ["id","machine_key","node_key","disco_key","ip_addresses","name","given_name","user",
  "tags","online","last_seen","expiry","expired","ephemeral","created_at","register_method","approved","approved_routes","available_routes","primary_routes"]'
jqt ".[0] | .id == 1 and .machine_key == \"mkey:$(h a)\" and .node_key == \"nodekey:$(h b)\" and .disco_key == \"discokey:$(h c)\""
jqt '.[0] | .ip_addresses == ["100.64.0.1","fd7a:115c:a1e0::1"] and .name == "Alice Laptop" and .given_name == "alice-laptop"'
jqt '.[0] | .user.name == "alice" and .online == true and .expiry == null and .expired == false and .register_method == "authkey"'
jqt ".[0] | (.last_seen | test(\"$RFC3339\")) and (.created_at | test(\"$RFC3339\"))"
jqt '.[0] | .approved_routes == ["10.1.0.0/24"] and .available_routes == ["10.1.0.0/24","::/0"]'
jqt '.[1] | .user == null and .tags == ["tag:server"] and .ip_addresses == ["100.64.0.2"] and .online == false and .last_seen == null'
jqt '.[2] | .ephemeral == true and .ip_addresses == [] and .disco_key == "" and .available_routes == []'; ok
for noun in nodes node machines machine; do
  run "$A" $noun ls -o json-line; expect_rc 0 "$noun ls"
  [ "$(printf '%s\n' "$OUT" | wc -l)" = 3 ] || fail "$noun ls: 3 lines"; ok
done
run "$A" nodes list -u bob -o json; jqt 'length == 1 and .[0].given_name == "bob-phone"'; ok
run "$A" nodes list -u 1 -o json; jqt 'length == 1 and .[0].id == 1'; ok
run "$A" nodes list -u nobody -o json; expect_json_error 'user "nobody" not found' "nodes of unknown user"; ok
# A logged-out node whose stream hs-control has not yet seen end is expired, not online.
q "UPDATE nodes SET expiry = '2020-01-01T00:00:00Z' WHERE id = 1"
run "$A" nodes list -o json; jqt '.[0] | .online == false and .expired == true'; ok
run "$A" nodes list --online -o json; jqt 'length == 0'; ok
run "$A" nodes list; grep -q '^1 .* offline \+yes \+yes$' <<<"$OUT" || fail "expired node shown connected"; ok
q "UPDATE nodes SET expiry = NULL WHERE id = 1"
run "$A" nodes list --online -o json; jqt 'length == 1 and .[0].id == 1'; ok

# rename
run "$A" nodes rename -i 2 db-1 -o json; expect_rc 0 "rename"; jqt '.id == 2 and .given_name == "db-1" and .name == "srv"'; ok
[ "$(q 'SELECT given_name FROM nodes WHERE id = 2')" = db-1 ] || fail "rename not stored"; ok
run "$A" nodes rename -i 2 alice-laptop; expect_fail 'node name "alice-laptop" is already used by another node' "rename to a taken name"; ok
run "$A" nodes rename -i 2 Bad_Name; expect_fail 'invalid node name "Bad_Name"' "rename to an invalid label"; ok
run "$A" nodes rename -i 2 -- -x; expect_fail "invalid node name" "rename to a leading dash"; ok
run "$A" nodes rename -i 2 "$(printf 'a%.0s' $(seq 64))"; expect_fail "invalid node name" "rename to 64 characters"; ok
run "$A" nodes rename -i 99 fine; expect_fail "node 99 not found" "rename unknown node"; ok
[ "$(q 'SELECT given_name FROM nodes WHERE id = 2')" = db-1 ] || fail "rejected renames changed node 2"; ok
run "$A" nodes rename -i 2; expect_rc 2 "rename without NEW_NAME"; ok
run "$A" node mv -i 2 db-1; expect_rc 0 "rename to its own name"; expect_out $'\n2 +srv +db-1 ' "rename table row"; ok

# expire
run "$A" nodes expire -i 1 -o json; expect_rc 0 "expire node"; jqt '.id == 1 and .expired == true and (.expiry | type == "string")'; ok
[ "$(q 'SELECT expiry IS NOT NULL FROM nodes WHERE id = 1')" = 1 ] || fail "node expiry not stored"; ok
[ "$(q 'SELECT given_name, hostname, online FROM nodes WHERE id = 1')" = 'alice-laptop|Alice Laptop|1' ] ||
  fail "expire changed other columns"; ok
run "$A" nodes list -o json; jqt '.[0].expired == true and .[1].expired == false'; ok
run "$A" nodes logout -i 99; expect_fail "node 99 not found" "expire unknown node"; ok
run "$A" nodes expire; expect_rc 2 "expire without -i"; ok

# register: approve waiting interactive logins
q "INSERT INTO auth_requests(id, machine_key, node_key, hostname, created_at, expires_at) VALUES
   ('AAAAAAAAAAAAAAAAAAAAAAA1', 'mkey:$(h 2)', 'nodekey:$(h 3)', 'tablet', '$NOW', '2099-01-01T00:00:00Z'),
   ('AAAAAAAAAAAAAAAAAAAAAAA2', 'mkey:$(h 4)', 'nodekey:$(h 5)', 'desk', '$NOW', '2099-01-01T00:00:00Z'),
   ('AAAAAAAAAAAAAAAAAAAAAAA3', 'mkey:$(h 6)', 'nodekey:$(h 7)', 'old', '$NOW', '2000-01-01T00:00:00Z');"
run "$A" nodes register -u nobody -k AAAAAAAAAAAAAAAAAAAAAAA1; expect_fail 'user "nobody" not found' "register for unknown user"; ok
[ "$(q "SELECT status, user_id IS NULL FROM auth_requests WHERE id = 'AAAAAAAAAAAAAAAAAAAAAAA1'")" = 'pending|1' ] ||
  fail "failed register changed the request"; ok
run "$A" nodes register --user alice --key AAAAAAAAAAAAAAAAAAAAAAA1; expect_rc 0 "nodes register"
[ "$OUT" = "node tablet registered to user alice" ] || fail "nodes register message"; ok
[ "$(q "SELECT status, user_id FROM auth_requests WHERE id = 'AAAAAAAAAAAAAAAAAAAAAAA1'")" = 'approved|1' ] ||
  fail "request 1 not approved for alice"; ok
run "$A" nodes register -u alice -k AAAAAAAAAAAAAAAAAAAAAAA1; expect_fail "already approved" "register twice"; ok
run "$A" auth register --auth-id hskey-authreq-AAAAAAAAAAAAAAAAAAAAAAA2 -u bob -o json; expect_rc 0 "auth register"
jqt '.id == "AAAAAAAAAAAAAAAAAAAAAAA2" and .status == "approved" and .user.name == "bob" and .hostname == "desk"'
jqt '.message == "node desk registered to user bob" and (.expires_at | test("^2099-"))'; ok
[ "$(q "SELECT status, user_id FROM auth_requests WHERE id = 'AAAAAAAAAAAAAAAAAAAAAAA2'")" = 'approved|2' ] ||
  fail "request 2 not approved for bob"; ok
run "$A" auth register --auth-id AAAAAAAAAAAAAAAAAAAAAAA3 -u alice; expect_fail "has expired" "register expired request"; ok
[ "$(q "SELECT status FROM auth_requests WHERE id = 'AAAAAAAAAAAAAAAAAAAAAAA3'")" = pending ] || fail "expired request changed"; ok
run "$A" auth register --auth-id nosuchrequest -u alice -o yaml; expect_rc 1 "register unknown ID"
expect_out '^error: .*not found' "yaml error"; expect_err "not found" "register unknown ID"; ok
run "$A" auth register -u alice; expect_rc 2 "auth register without --auth-id"; ok
run "$A" nodes register -k AAAAAAAAAAAAAAAAAAAAAAA3; expect_rc 2 "nodes register without --user"; ok

# delete
run "$A" nodes delete -i 3 -o json; expect_rc 0 "delete"; jqt '. == {"result": "node 3 deleted"}'; ok
[ "$(q 'SELECT count(*) FROM nodes WHERE id = 3')" = 0 ] || fail "node 3 still in the database"; ok
run "$A" nodes del -i 2 --force; expect_rc 0 "delete alias, --force"; [ "$OUT" = "node 2 deleted" ] || fail "delete text"; ok
run "$A" nodes delete -i 3; expect_fail "node 3 not found" "delete twice"; ok
run "$A" nodes delete -i 3 -o json-line; expect_rc 1 "delete twice json-line"
[ "$OUT" = '{"error":"node 3 not found"}' ] || fail "json-line error"; ok
[ "$(q 'SELECT count(*) FROM nodes')" = 1 ] || fail "one node should remain"; ok

# Logs never reach stdout, even when verbose.
run "$A" nodes list -o json --log-level trace; expect_rc 0 "verbose json"; jqt 'length == 1'; ok
finish
