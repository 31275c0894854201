#!/usr/bin/env bash
# hs-admin verbs beyond create/list: users rename|delete, preauthkeys delete, apikeys, nodes
# show|move|tag|backfill-ips and the list filters. Each is checked in the output and in the
# database, and each rejection leaves the database as it was.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/admin_lib.sh"
HEX64='[0-9a-f]{64}'

"$A" users create alice >/dev/null; "$A" users create bob >/dev/null; "$A" users create carol >/dev/null
add_node a laptop 1 '[]' '[]' 1
add_node b server 2 '[]' '["tag:db"]'
add_node c phone 2 '[]'
q "UPDATE nodes SET expiry = '2000-01-01T00:00:00Z' WHERE id = 3"

# --- users rename / delete -----------------------------------------------------------------------
run "$A" users rename -n carol -r dave -o json; expect_rc 0 "rename"; jqt '.id == 3 and .name == "dave"'; ok
[ "$(q 'SELECT name FROM users WHERE id = 3')" = dave ] || fail "rename stored"; ok
run "$A" user mv -i 3 -r erin; expect_rc 0 "rename by id"; expect_out $'\n3 +erin ' "rename table"; ok
snapshot 'SELECT id, name, updated_at FROM users ORDER BY id'
run "$A" users rename -n erin -r alice; expect_fail 'user "alice" already exists' "rename to a taken name"; ok
run "$A" users rename -n erin -r 'x y'; expect_fail "only letters" "rename to an invalid name"; ok
run "$A" users rename -n nobody -r zed; expect_fail 'user "nobody" not found' "rename unknown"; ok
run "$A" users rename -i 3 -n erin -r zed; expect_fail "exactly one of -i ID or -n NAME" "two selectors"; ok
run "$A" users rename -r zed; expect_fail "exactly one of -i ID or -n NAME" "no selector"; ok
q "INSERT INTO users(name, provider, provider_identifier, created_at, updated_at) VALUES ('oidcuser', 'oidc', 'https://idp/1', '$NOW', '$NOW')"
snapshot 'SELECT id, name, updated_at FROM users ORDER BY id'
run "$A" users rename -n oidcuser -r other; expect_fail "cannot be renamed here" "rename an OIDC user"; ok
expect_unchanged "rejected renames"; ok

"$A" preauthkeys create -u erin >/dev/null
"$A" preauthkeys create -u bob >/dev/null
snapshot 'SELECT id FROM users ORDER BY id'
run "$A" users delete -n bob; expect_fail 'user "bob" still owns 2 nodes' "delete a user with nodes"; ok
run "$A" users delete -n nobody -o json; expect_rc 1 "delete unknown"; jqt '.error == "user \"nobody\" not found"'; ok
expect_unchanged "rejected deletes"; ok
run "$A" users destroy erin -o json; expect_rc 0 "delete (headscale's destroy NAME)"; jqt '. == {"result": "user erin deleted"}'; ok
[ "$(q "SELECT count(*) FROM users WHERE name = 'erin'")" = 0 ] || fail "erin still there"; ok
[ "$(q 'SELECT count(*) FROM pre_auth_keys WHERE user_id = 3')" = 0 ] || fail "erin's key not deleted"; ok
[ "$(q 'SELECT count(*) FROM pre_auth_keys')" = 1 ] || fail "other keys must stay"; ok

# --- preauthkeys delete ---------------------------------------------------------------------------
q "UPDATE nodes SET auth_key_id = 2 WHERE id = 2"
run "$A" preauthkeys delete -i 2; expect_rc 0 "key delete"; [ "$OUT" = "pre-auth key 2 deleted" ] || fail "key delete text"; ok
[ "$(q 'SELECT count(*) FROM pre_auth_keys')" = 0 ] || fail "key not deleted"; ok
[ "$(q 'SELECT auth_key_id IS NULL FROM nodes WHERE id = 2')" = 1 ] || fail "node's auth_key_id not cleared"; ok
run "$A" preauthkeys rm -i 2; expect_fail "pre-auth key 2 not found" "delete twice"; ok

# --- apikeys ----------------------------------------------------------------------------------------
run "$A" apikeys create; expect_rc 0 "apikeys create"; expect_out "^hskey-api-[A-Za-z0-9]{12}-$HEX64\$" "api key text"; ok
K1=$OUT
sqlite3 "$DB" .dump | grep "${K1##*-}" >/dev/null && fail "API key secret stored in clear"; ok
exp=$(q 'SELECT expiration FROM api_keys WHERE id = 1')
lo=$(date -u -d '+89 days' +%Y-%m-%dT%H:%M:%SZ); hi=$(date -u -d '+91 days' +%Y-%m-%dT%H:%M:%SZ)
[[ "$exp" > "$lo" && "$exp" < "$hi" ]] || fail "default API key lifetime $exp is not 90d"; ok
run "$A" api create -e 1h -o json; expect_rc 0 "apikeys create json"
jqt 'keys_unsorted == ["id","prefix","expiration","created_at","last_seen","key"] and .id == 2'
jqt "(.key | test(\"^hskey-api-[A-Za-z0-9]{12}-$HEX64\$\")) and (.prefix | endswith(\"-***\"))"; ok
K2=$(jq -r .key <<<"$OUT")
run "$A" apikeys list -o json; jqt 'length == 2 and all(.[]; (.prefix | test("^hskey-api-[A-Za-z0-9]{12}-[*]{3}$")) and (has("key") | not))'; ok
[ "$(jq -r '.[0].prefix' <<<"$OUT")" = "${K1%-*}-***" ] || fail "listed prefix is not the key's"; ok
run "$A" apikeys list; expect_out '^ID +Prefix +Expiration +Created +LastSeen' "apikeys table"; ok
run "$A" apikeys expire -p "${K2%-*}-***" -o json; expect_rc 0 "expire by prefix"; jqt '.id == 2'; ok
[[ "$(q 'SELECT expiration FROM api_keys WHERE id = 2')" < "$(date -u -d '+1 sec' +%Y-%m-%dT%H:%M:%SZ)" ]] || fail "key 2 not expired"; ok
run "$A" apikeys expire -i 1 -p x; expect_fail "exactly one of an API key ID or prefix" "two selectors"; ok
run "$A" apikeys expire -p nosuchprefix; expect_fail 'API key "nosuchprefix" not found' "unknown prefix"; ok
run "$A" apikeys create -e 5q; expect_fail 'invalid duration "5q"' "bad duration"; ok
[ "$(q 'SELECT count(*) FROM api_keys')" = 2 ] || fail "rejected create added a key"; ok
run "$A" apikeys delete -i 2; expect_rc 0 "apikeys delete"; [ "$OUT" = "API key 2 deleted" ] || fail "delete text"; ok
[ "$(q 'SELECT count(*) FROM api_keys')" = 1 ] || fail "key 2 not deleted"; ok

# --- nodes show / list filters ---------------------------------------------------------------------
run "$A" nodes show -i 2 -o json; expect_rc 0 "show"; jqt '.id == 2 and .given_name == "server" and .tags == ["tag:db"]'; ok
run "$A" nodes show -i 9; expect_fail "node 9 not found" "show unknown"; ok
run "$A" nodes list --online -o json; jqt 'map(.id) == [1]'; ok
run "$A" nodes list --expired -o json; jqt 'map(.id) == [3]'; ok
run "$A" nodes list -t tag:db -o json; jqt 'map(.id) == [2]'; ok
run "$A" nodes list -u bob --expired -o json; jqt 'map(.id) == [3]'; ok
run "$A" nodes list -u alice --expired -o json; [ "$OUT" = "[]" ] || fail "filters combine with and"; ok

# --- nodes move / tag ---------------------------------------------------------------------------------
run "$A" nodes move -i 3 -u alice -o json; expect_rc 0 "move"; jqt '.user.name == "alice"'; ok
[ "$(q 'SELECT user_id FROM nodes WHERE id = 3')" = 1 ] || fail "move stored"; ok
snapshot 'SELECT id, user_id, tags, updated_at FROM nodes ORDER BY id'
run "$A" nodes move -i 3 -u nobody; expect_fail 'user "nobody" not found' "move to unknown user"; ok
run "$A" nodes move -i 9 -u alice; expect_fail "node 9 not found" "move unknown node"; ok
run "$A" nodes move -i 2 -u alice; expect_fail "is tagged" "move a tagged node"; ok
run "$A" nodes tag -i 1 -t ""; expect_fail "cannot remove all tags" "empty tags"; ok
run "$A" nodes tag -i 1 -t Tag:X; expect_fail 'invalid tag "Tag:X"' "bad tag"; ok
expect_unchanged "rejected moves and tags"; ok
run "$A" nodes tag -i 1 -t tag:web,tag:a,tag:web -o json; expect_rc 0 "tag"; jqt '.tags == ["tag:a","tag:web"] and .user == null'; ok
[ "$(q 'SELECT tags, user_id IS NULL FROM nodes WHERE id = 1')" = '["tag:a","tag:web"]|1' ] || fail "tag stored"; ok

# --- nodes backfill-ips ------------------------------------------------------------------------------
q "UPDATE nodes SET ipv4 = '100.64.0.1' WHERE id = 1"
run "$A" nodes backfill-ips -o json; expect_rc 0 "backfill"
jqt 'length == 3 and .[0].before == ["100.64.0.1"] and (.[0].ip_addresses | length == 2) and .[1].before == []'; ok
[ "$(q 'SELECT count(*) FROM nodes WHERE ipv4 IS NULL OR ipv6 IS NULL')" = 0 ] || fail "addresses missing"; ok
[ "$(q 'SELECT count(DISTINCT ipv4) FROM nodes')" = 3 ] || fail "duplicate IPv4"; ok
[ "$(q 'SELECT ipv4 FROM nodes WHERE id = 1')" = 100.64.0.1 ] || fail "kept address changed"; ok
run "$A" nodes backfillips -o json; [ "$OUT" = "[]" ] || fail "second backfill changed something"; ok

# Lists are streamed element by element; the bytes are still those of one pretty-printed array.
run "$A" nodes list -o json; [ "$OUT" = "$(jq --indent 2 . <<<"$OUT")" ] || fail "streamed list is not canonical"; ok
run "$A" nodes list -o json-line; [ "$OUT" = "$(jq -c '.[]' <<<"$("$A" nodes list -o json)")" ] || fail "json-line differs"; ok
finish
