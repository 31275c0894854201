#!/usr/bin/env bash
# hs-admin import headscale on small headscale-shaped SQLite files made here with sqlite3 (the
# table statements follow the shapes in the reference, written for this test): a 0.29 file and
# a 0.25 one import; a file that is not a database, one from a newer headscale, one held open by
# another process, an hs database that already has nodes and a row with a malformed key are
# each refused with a clear message, leaving both files as they were.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/admin_lib.sh"
. "$(dirname "$0")/headscale_fixture.sh"

h64() { printf "$1%.0s" $(seq 64); }
NK=nodekey:$(h64 b) MK=mkey:$(h64 a) DK=discokey:$(h64 c)
BCRYPT='$2a$10$9nhc5/kFSURUmW0LfolGiOsBAT6oHgcr5XQPxHjrIzrSKPm03Y5fS'
# The key headscale v0.29.2 made together with BCRYPT (see tests/unit/store/test_headscale_import.cpp).
PAK=hskey-auth--TBtRxjCkz3F-m8D5m35DIeLVaZjHjfDLmQJ2E0D-Ogw-6M-BwrIRf1XEtFBS0Y62rH7ALzkmBr2D

# make_hs029 FILE: users, a bcrypt pre-auth key, an API key, a tagged node with an approved
# route, a user's node, a policy, and the migration log of headscale 0.29.2.
make_hs029() {
  { echo "PRAGMA journal_mode = WAL;"; hs029_tables; cat <<SQL
INSERT INTO migrations VALUES ('SCHEMA_INIT'), ('202511011637-preauthkey-bcrypt'), ('202606181200-recover-null-tags-node-user-id');
INSERT INTO database_versions VALUES (1, 'v0.29.2', '2026-07-01 10:00:00+00:00');
INSERT INTO users(id, name, email, created_at) VALUES (3, 'alice', 'alice@example.com', '2026-07-01 10:00:00.123456789+00:00');
INSERT INTO pre_auth_keys VALUES (5, '', '-TBtRxjCkz3F', CAST('$BCRYPT' AS BLOB), 3, 1, 0, 1, '[]', '2099-01-01 00:00:00+00:00', '2026-07-01 10:00:00+00:00');
INSERT INTO api_keys VALUES (2, 'EfB9B_K2I2fI', CAST('$BCRYPT' AS BLOB), '2099-01-01 00:00:00+00:00', NULL, '2026-07-01 10:00:00+00:00');
INSERT INTO nodes VALUES (11, '$MK', '$NK', '$DK', '[]', '{"Hostname":"r1","RoutableIPs":["10.77.0.0/24"]}',
  '100.64.0.11', 'fd7a:115c:a1e0::b', 'r1', 'router-one', NULL, 'authkey', '["tag:router"]', 5,
  '2026-07-01 11:00:00+00:00', NULL, '["10.77.0.0/24"]', '2026-07-01 10:00:00+00:00', '2026-07-01 10:00:00+00:00', NULL);
INSERT INTO nodes VALUES (12, 'mkey:$(h64 d)', 'nodekey:$(h64 e)', '', 'null', '{}', '100.64.0.12', NULL, 'laptop',
  'laptop', 3, 'cli', 'null', NULL, NULL, '2099-01-01 00:00:00+00:00', '[]', '2026-07-01 10:00:00+00:00', '2026-07-01 10:00:00+00:00', NULL);
INSERT INTO policies(id, data) VALUES (1, '{"acls":[{"action":"accept","src":["*"],"dst":["*:*"]}]}');
SQL
  } | sqlite3 "$1" >/dev/null
}

# make_hs025 FILE: headscale 0.25's shape: forced_tags, a routes table, a plaintext key.
make_hs025() {
  sqlite3 "$1" <<SQL
CREATE TABLE migrations(id text PRIMARY KEY);
INSERT INTO migrations VALUES ('202312101416'), ('202409271400'), ('202502070949');
CREATE TABLE users(id integer PRIMARY KEY, name text, display_name text, email text, provider_identifier text,
  provider text, profile_pic_url text, created_at datetime, updated_at datetime, deleted_at datetime);
INSERT INTO users(id, name, created_at) VALUES (1, 'bob', '2025-02-05 16:46:13.960213431+00:00');
CREATE TABLE pre_auth_keys(id integer PRIMARY KEY, key text, user_id integer, reusable numeric, ephemeral numeric,
  used numeric, tags text, created_at datetime, expiration datetime);
INSERT INTO pre_auth_keys VALUES (1, '0123456789abcdef0123456789abcdef0123456789abcdef', 1, 1, 0, 1, NULL, NULL, '2099-01-01 00:00:00+00:00');
CREATE TABLE api_keys(id integer PRIMARY KEY, prefix text, hash blob, expiration datetime, last_seen datetime, created_at datetime);
CREATE TABLE nodes(id integer PRIMARY KEY, machine_key text, node_key text, disco_key text, endpoints text, host_info text,
  ipv4 text, ipv6 text, hostname text, given_name varchar(63), user_id integer, register_method text, forced_tags text,
  auth_key_id integer, last_seen datetime, expiry datetime, created_at datetime, updated_at datetime, deleted_at datetime);
INSERT INTO nodes VALUES (4, '$MK', '$NK', '$DK', '[]', '{}', '100.64.0.4', 'fd7a:115c:a1e0::4', 'r', 'r', 1,
  'authkey', '["tag:router"]', 0, NULL, '0001-01-01 00:00:00+00:00', '2025-02-05 16:46:13+00:00', '2025-02-05 16:46:13+00:00', NULL);
CREATE TABLE routes(id integer PRIMARY KEY, created_at datetime, updated_at datetime, deleted_at datetime,
  node_id integer NOT NULL, prefix text, advertised numeric, enabled numeric, is_primary numeric);
INSERT INTO routes VALUES (1, NULL, NULL, NULL, 4, '10.1.0.0/24', 1, 1, 1), (2, NULL, NULL, NULL, 4, '10.2.0.0/24', 1, 0, 0);
CREATE TABLE policies(id integer PRIMARY KEY, data text, created_at datetime, updated_at datetime, deleted_at datetime);
SQL
}

digest() { sqlite3 "$1" .dump | sha256sum; }

# --- a 0.29 file: --dry-run writes nothing, the import keeps ids, keys and routes -------------
make_hs029 "$T/hs029.db"
before=$(digest "$T/hs029.db")
run "$A" import headscale "$T/hs029.db" --dry-run -o json
expect_rc 0 "dry run"
jqt '.dry_run == true and .users == 1 and (.nodes | length) == 2 and .preauth_keys == 1 and .api_keys == 1 and .policy == true'
[ ! -e "$DB" ] || [ "$(q 'SELECT count(*) FROM nodes')" = 0 ] || fail "dry run wrote nodes"
ok
run "$A" import headscale "$T/hs029.db" --dry-run
expect_out "Would import from .*users: 1.*nodes: 2.*11 router-one 100.64.0.11 fd7a:115c:a1e0::b tags tag:router routes 10.77.0.0/24" "dry-run text"
ok

run "$A" import headscale "$T/hs029.db" -o json
expect_rc 0 "import 0.29"
jqt '.dry_run == false and (.not_imported | length) == 0'
[ "$(q "SELECT id, given_name, ipv4, ipv6, tags, approved_routes, coalesce(user_id, '-') FROM nodes ORDER BY id")" = \
  "11|router-one|100.64.0.11|fd7a:115c:a1e0::b|[\"tag:router\"]|[\"10.77.0.0/24\"]|-
12|laptop|100.64.0.12||[]|[]|3" ] || fail "imported nodes: $(q 'SELECT * FROM nodes')"
[ "$(q 'SELECT id, name, email FROM users')" = "3|alice|alice@example.com" ] || fail "imported users"
[ "$(q 'SELECT id, prefix, reusable, used FROM pre_auth_keys')" = "5|-TBtRxjCkz3F|1|1" ] || fail "imported key"
[ "$(digest "$T/hs029.db")" = "$before" ] || fail "the headscale file changed"
ok
run "$A" preauthkeys list -o json
jqt '.[0].id == 5 and .[0].user.name == "alice"'
q "SELECT data FROM policies" | grep -q '"action":"accept"' || fail "the stored policy was not imported"
ok

# --- an hs database with nodes is refused without --force, replaced with it ----------------
snapshot "SELECT * FROM nodes"
run "$A" import headscale "$T/hs029.db"
expect_fail "the hs database is not empty (1 users, 2 nodes" "second import"
expect_unchanged "refused import"
run "$A" --force import headscale "$T/hs029.db" -o json
expect_rc 0 "import with --force"
[ "$(q 'SELECT count(*) FROM nodes')" = 2 ] || fail "--force import"
ok

# --- a 0.25 file: routes table, forced tags, a plaintext pre-auth key ----------------------
rm -f "$DB"*
make_hs025 "$T/hs025.db"
run "$A" import headscale "$T/hs025.db" -o json
expect_rc 0 "import 0.25"
jqt '.source_kind | test("0.23-0.25 shape")'
[ "$(q "SELECT id, tags, approved_routes, coalesce(user_id, '-'), coalesce(expiry, '-'), coalesce(auth_key_id, '-') FROM nodes")" = \
  "4|[\"tag:router\"]|[\"10.1.0.0/24\"]|-|-|-" ] || fail "0.25 node: $(q 'SELECT * FROM nodes')"
[ "$(q "SELECT prefix LIKE 'legacy-%', length(hash) FROM pre_auth_keys")" = "1|32" ] || fail "plaintext key not hashed"
q "SELECT count(*) FROM pre_auth_keys WHERE hash LIKE '%0123456789abcdef%'" | grep -qx 0 || fail "plaintext key stored"
ok

# --- bad input: each a clear message, nothing written --------------------------------------
rm -f "$DB"*
"$A" users list >/dev/null  # an empty hs database
snapshot "SELECT count(*) FROM users"
echo "this is not a database, only text that is long enough to fill a page header......." >"$T/text.db"
run "$A" import headscale "$T/text.db"
expect_fail "not an SQLite database" "not a database"
expect_unchanged "not a database"
ok

make_hs029 "$T/new.db"
sqlite3 "$T/new.db" "INSERT INTO migrations VALUES ('202703011200-something-newer')"
run "$A" import headscale "$T/new.db"
expect_fail 'migration "202703011200-something-newer" is unknown' "newer headscale"
expect_unchanged "newer headscale"
ok

make_hs029 "$T/bad.db"
sqlite3 "$T/bad.db" "UPDATE nodes SET node_key = 'nodekey:1234' WHERE id = 12"
run "$A" import headscale "$T/bad.db"
expect_fail "headscale nodes row id 12: node_key" "malformed key"
expect_err "nothing was imported" "malformed key"
expect_unchanged "malformed key"
ok

# A process with the file open, as a running headscale has: the WAL index lock tells.
make_hs029 "$T/busy.db"
coproc HOLDER { exec sqlite3 "$T/busy.db"; }
holder=$HOLDER_PID  # bash unsets HOLDER_PID as soon as the process ends
echo "SELECT count(*) FROM users;" >&"${HOLDER[1]}"
read -r -t 10 _ <&"${HOLDER[0]}" || fail "the holder did not answer"
run "$A" import headscale "$T/busy.db"
expect_fail "is open in process $holder (headscale still running?)" "file in use"
expect_unchanged "file in use"
exec {HOLDER[1]}>&-
wait "$holder" || true
run "$A" import headscale "$T/busy.db" --dry-run
expect_rc 0 "once the holder is gone"
ok

run "$A" import headscale "$T/missing.db"
expect_fail "cannot read the headscale database" "missing file"
ok

# --- the config's database is the headscale file itself (headscale's own config.yaml) -------
make_hs029 "$T/inplace.db"
before=$(digest "$T/inplace.db")
cat >"$T/hs-config.yaml" <<CFG
dns: {base_domain: t.test}
database: {type: sqlite, sqlite: {path: $T/inplace.db}}
CFG
run "$A" -c "$T/hs-config.yaml" import headscale "$T/inplace.db"
expect_fail "is the headscale file itself: add --in-place" "in place without the flag"
# A failure while writing (two nodes with one given name, which hs keeps unique) puts
# headscale's files back exactly as they were.
sqlite3 "$T/inplace.db" "INSERT INTO nodes(id, machine_key, node_key, given_name, hostname, user_id)
  VALUES (13, 'mkey:$(h64 f)', 'nodekey:$(h64 f)', 'laptop', 'laptop2', 3)"
dup=$(digest "$T/inplace.db")
run "$A" -c "$T/hs-config.yaml" import headscale "$T/inplace.db" --in-place
expect_fail 'writing node 13 ("laptop") failed' "a write that fails"
expect_err "nothing was imported" "a write that fails"
[ "$(digest "$T/inplace.db")" = "$dup" ] || fail "headscale's file was not put back"
[ ! -e "$T/inplace.db.headscale-import" ] || fail "the moved copy is left behind"
sqlite3 "$T/inplace.db" "DELETE FROM nodes WHERE id = 13"
before=$(digest "$T/inplace.db")
ok
run "$A" -c "$T/hs-config.yaml" import headscale "$T/inplace.db" --in-place
expect_rc 0 "in place"
[ "$(digest "$T/inplace.db.headscale-import")" = "$before" ] || fail "the moved headscale file changed"
[ "$(sqlite3 "$T/inplace.db" 'SELECT count(*) FROM nodes')" = 2 ] || fail "in-place import"
run "$A" -c "$T/hs-config.yaml" import headscale "$T/inplace.db.headscale-import" --in-place
expect_fail "not empty" "in place again"
ok

finish
