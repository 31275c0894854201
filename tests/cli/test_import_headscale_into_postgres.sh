#!/usr/bin/env bash
# hs-admin import headscale into an hs database on PostgreSQL (database.type postgres), from a
# headscale-shaped SQLite file made here: --in-place (which moves a file aside) is refused; the
# dry run sees the database empty, then not; headscale's ids are kept and each identity sequence
# moves past them, so a user, a pre-auth key, an API key and a node created afterwards get new
# ids; --force replaces the tailnet without moving a sequence back; an import is refused while
# an hs-control runs on the database, and an hs-control does not start while an import holds it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/admin_lib.sh"
. "$(dirname "$0")/headscale_fixture.sh"
. "$(dirname "$0")/pg_lib.sh"
start_pg
CONTROL=
trap '[ -z "$CONTROL" ] || kill $CONTROL 2>/dev/null; pg_stop; rm -rf "$T"' EXIT
pg_create hs >/dev/null
PG=$T/pg.yaml
{ printf 'dns: {base_domain: t.test}\npolicy: {mode: database}\n'; pg_yaml hs; } >"$PG"

h64() { printf "$1%.0s" $(seq 64); }
BCRYPT='$2a$10$9nhc5/kFSURUmW0LfolGiOsBAT6oHgcr5XQPxHjrIzrSKPm03Y5fS'
HSDB=$T/headscale.sqlite
{ hs029_tables; cat <<SQL
INSERT INTO migrations VALUES ('SCHEMA_INIT'), ('202606181200-recover-null-tags-node-user-id');
INSERT INTO database_versions VALUES (1, 'v0.29.2', '2026-07-01 10:00:00+00:00');
INSERT INTO users(id, name, created_at) VALUES (3, 'alice', '2026-07-01 10:00:00+00:00');
INSERT INTO pre_auth_keys VALUES (5, '', '-TBtRxjCkz3F', CAST('$BCRYPT' AS BLOB), 3, 1, 0, 1, '[]', '2099-01-01 00:00:00+00:00', '2026-07-01 10:00:00+00:00');
INSERT INTO api_keys VALUES (7, 'EfB9B_K2I2fI', CAST('$BCRYPT' AS BLOB), '2099-01-01 00:00:00+00:00', NULL, '2026-07-01 10:00:00+00:00');
INSERT INTO nodes VALUES (11, 'mkey:$(h64 a)', 'nodekey:$(h64 b)', '', '[]', '{}', '100.64.0.11', NULL, 'laptop',
  'laptop', 3, 'cli', '[]', NULL, NULL, NULL, '[]', '2026-07-01 10:00:00+00:00', '2026-07-01 10:00:00+00:00', NULL);
INSERT INTO policies(id, data) VALUES (4, '{"acls":[{"action":"accept","src":["*"],"dst":["*:*"]}]}');
SQL
} | sqlite3 "$HSDB" >/dev/null
SUM=$(sha256sum "$HSDB")

run "$A" -c "$PG" import headscale "$HSDB" --in-place
expect_fail "the config's database is PostgreSQL (database.type postgres): import into it without --in-place" "--in-place"
[ -e "$HSDB" ] && [ ! -e "$HSDB.headscale-import" ] || fail "--in-place moved headscale's file"
run "$A" -c "$PG" import headscale "$HSDB" --dry-run -o json
expect_rc 0 "dry run on an empty PostgreSQL database"
jqt '.users == 1 and (.nodes | length) == 1 and .preauth_keys == 1 and .api_keys == 1 and (.database | startswith("PostgreSQL hs at"))'
[ -z "$ERR" ] || fail "dry run on an empty database: $ERR"
[ "$(pq hs "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 0 ] || fail "the dry run created tables"
ok

run "$A" -c "$PG" import headscale "$HSDB" -o json
expect_rc 0 "import into PostgreSQL"
[ "$(pq hs "SELECT id, name FROM users")" = "3|alice" ] || fail "users: $(pq hs 'SELECT * FROM users')"
[ "$(pq hs "SELECT id, given_name, user_id FROM nodes")" = "11|laptop|3" ] || fail "nodes: $(pq hs 'SELECT * FROM nodes')"
[ "$(pq hs "SELECT id FROM pre_auth_keys")/$(pq hs "SELECT id FROM api_keys")" = 5/7 ] || fail "key ids"
[ "$(sha256sum "$HSDB")" = "$SUM" ] || fail "headscale's file changed"
run "$A" -c "$PG" import headscale "$HSDB" --dry-run
expect_rc 0 "dry run on the imported database"
expect_err "PostgreSQL hs at $PGSOCK:5432 is not empty; the import will need --force" "dry run, not empty"
ok

# Created after the import: past headscale's ids, with no collision.
run "$A" -c "$PG" users create bob -o json
expect_rc 0 "users create after the import"
jqt '.id == 4'
run "$A" -c "$PG" preauthkeys create -u bob -o json
expect_rc 0 "preauthkeys create after the import"
jqt '.id == 6'
run "$A" -c "$PG" apikeys create -o json
expect_rc 0 "apikeys create after the import"
jqt '.id == 8'
# A node as registration inserts it: its id from the sequence.
psql_ -d hs -c "INSERT INTO nodes(machine_key, node_key, ipv4, given_name, user_id, created_at, updated_at)
  VALUES ('mkey:$(h64 c)', 'nodekey:$(h64 d)', '100.64.0.12', 'desktop', 4, '2026-07-02T00:00:00Z', '2026-07-02T00:00:00Z')"
[ "$(pq hs "SELECT id FROM nodes WHERE given_name = 'desktop'")" = 12 ] || fail "new node: $(pq hs 'SELECT id, given_name FROM nodes')"
[ "$(pq hs "SELECT max(id) FROM policies")" = 1 ] || fail "policies: $(pq hs 'SELECT id FROM policies')"
ok

# --force replaces the tailnet; sequences stay where they were (no id handed out twice).
run "$A" -c "$PG" import headscale "$HSDB" --force -o json
expect_rc 0 "import --force"
[ "$(pq hs "SELECT string_agg(name, ',' ORDER BY id) FROM users")" = alice ] || fail "users after --force"
run "$A" -c "$PG" users create carol -o json
expect_rc 0 "users create after --force"
jqt '.id == 5'
ok

# An hs-control on the database: the import is refused before it reads anything.
PORT=$(free_port)
"$HS_BIN/hs-derpmap" new --region-id 900 --region-code t --node "name=900a,host=127.0.0.1,ipv4=127.0.0.1,ipv6=none" \
  >"$T/derp.yaml"
printf 'server_url: http://127.0.0.1:%s\nlisten_addr: 127.0.0.1:%s\nnoise: {private_key_path: %s}\nderp: {paths: [%s]}\n' \
  "$PORT" "$PORT" "$T/noise.key" "$T/derp.yaml" >>"$PG"
"$HS_BIN/hs-control" -c "$PG" >"$T/control.log" 2>&1 &
CONTROL=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/health" >/dev/null || { cat "$T/control.log" >&2; fail "hs-control did not start"; }
BEFORE=$(pq hs "SELECT count(*) FROM users")
run "$A" -c "$PG" import headscale "$HSDB" --force
expect_fail "an hs-control is running on this database" "import beside hs-control"
expect_err "nothing was imported" "import beside hs-control"
[ "$(pq hs "SELECT count(*) FROM users")" = "$BEFORE" ] || fail "the refused import changed users"
run "$A" -c "$PG" import headscale "$HSDB" --dry-run
expect_rc 0 "dry run beside hs-control"
expect_err "an hs-control is running on this database" "dry run beside hs-control"
kill "$CONTROL"
wait "$CONTROL" || true
CONTROL=
ok

# While an import holds the database (a session holding the lock alone), hs-control does not start.
coproc HOLDER { exec "$PGBIN/psql" -X -q -h "$PGSOCK" -U "$PGUSER_" -d hs; }
holder=$HOLDER_PID
echo "SELECT pg_advisory_lock(7521969672384259171);" >&"${HOLDER[1]}"
for _ in $(seq 50); do
  [ "$(pq hs "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")" != 0 ] && break
  sleep 0.1
done
run timeout 20 "$HS_BIN/hs-control" -c "$PG"
expect_rc 1 "hs-control beside an import"
expect_err "an hs-admin import headscale, or an hs-control older than schema version 11, is running" "hs-control beside an import"
exec {HOLDER[1]}>&-
wait "$holder" || true
ok
finish
