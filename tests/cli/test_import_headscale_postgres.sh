#!/usr/bin/env bash
# hs-admin import headscale from headscale's PostgreSQL (database.type: postgres): a throwaway
# PostgreSQL cluster on a unix socket in the test's directory, headscale 0.29's tables in
# PostgreSQL types (boolean, bytea, timestamptz; statements written here), rows that must come
# over exactly; refusals: a database another session is connected to (a running headscale), a
# database without headscale's tables, an unreachable server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/admin_lib.sh"

PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
[ -x "$PGBIN/initdb" ] || { echo "FAIL: PostgreSQL's server is needed (package postgresql, see .ci/deps.sh)" >&2; exit 1; }
# PostgreSQL refuses to run as root: the cluster belongs to an unprivileged user.
as_pg=()
if [ "$(id -u)" = 0 ]; then
  pguser=postgres; id postgres >/dev/null 2>&1 || pguser=nobody
  as_pg=(runuser -u "$pguser" --)
  chmod 755 "$T"
else
  pguser=$(id -un)
fi
mkdir -p "$T/pg"
[ "$(id -u)" != 0 ] || chown "$pguser" "$T/pg"
"${as_pg[@]}" "$PGBIN/initdb" -D "$T/pg/data" --auth=trust -U "$pguser" >"$T/pg/initdb.log" 2>&1 || { cat "$T/pg/initdb.log" >&2; exit 1; }
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$T/pg/data" -o "-k $T/pg -c listen_addresses=''" -l "$T/pg/server.log" -w start >/dev/null ||
  { cat "$T/pg/server.log" >&2; exit 1; }
trap '"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$T/pg/data" -m immediate stop >/dev/null 2>&1; rm -rf "$T"' EXIT
psql_() { "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$T/pg" -U "$pguser" "$@"; }
psql_ -d postgres -c "CREATE DATABASE headscale" -c "CREATE DATABASE empty"
URL="postgresql:///headscale?host=$T/pg&user=$pguser"
# A backend ends a moment after its client leaves; the import counts the sessions still there.
no_sessions() {
  for _ in $(seq 100); do
    [ "$(psql_ -d postgres -tAc "SELECT count(*) FROM pg_stat_activity WHERE datname = 'headscale'")" = 0 ] && return 0
    sleep 0.1
  done
  fail "sessions on the headscale database did not end"
}

h64() { printf "$1%.0s" $(seq 64); }
BCRYPT='$2a$10$9nhc5/kFSURUmW0LfolGiOsBAT6oHgcr5XQPxHjrIzrSKPm03Y5fS'
psql_ -d headscale <<SQL
CREATE TABLE migrations(id text PRIMARY KEY);
INSERT INTO migrations VALUES ('SCHEMA_INIT'), ('202606181200-recover-null-tags-node-user-id');
CREATE TABLE database_versions(id bigint PRIMARY KEY, version text NOT NULL, updated_at timestamptz);
INSERT INTO database_versions VALUES (1, 'v0.29.2', now());
CREATE TABLE users(id bigserial PRIMARY KEY, name text, display_name text, email text, provider_identifier text,
  provider text, profile_pic_url text, created_at timestamptz, updated_at timestamptz, deleted_at timestamptz);
INSERT INTO users(id, name, created_at) VALUES (3, 'alice', '2026-07-01 10:00:00.123456+00');
CREATE TABLE pre_auth_keys(id bigserial PRIMARY KEY, key text, prefix text, hash bytea, user_id bigint, reusable boolean,
  ephemeral boolean DEFAULT false, used boolean DEFAULT false, tags text, expiration timestamptz, created_at timestamptz);
INSERT INTO pre_auth_keys VALUES (5, '', '-TBtRxjCkz3F', convert_to('$BCRYPT', 'UTF8'), 3, true, false, true, '[]',
  '2099-01-01 00:00:00+00', '2026-07-01 10:00:00+00');
CREATE TABLE api_keys(id bigserial PRIMARY KEY, prefix text, hash bytea, expiration timestamptz, last_seen timestamptz, created_at timestamptz);
INSERT INTO api_keys VALUES (2, 'EfB9B_K2I2fI', convert_to('$BCRYPT', 'UTF8'), '2099-01-01 00:00:00+05:30', NULL, now());
CREATE TABLE nodes(id bigserial PRIMARY KEY, machine_key text, node_key text, disco_key text, endpoints text,
  host_info text, ipv4 text, ipv6 text, hostname text, given_name varchar(63), user_id bigint, register_method text,
  tags text, auth_key_id bigint, last_seen timestamptz, expiry timestamptz, approved_routes text,
  created_at timestamptz, updated_at timestamptz, deleted_at timestamptz);
INSERT INTO nodes VALUES (11, 'mkey:$(h64 a)', 'nodekey:$(h64 b)', 'discokey:$(h64 c)', '[]', '{"Hostname":"r1"}',
  '100.64.0.11', 'fd7a:115c:a1e0::b', 'r1', 'router-one', NULL, 'authkey', '["tag:router"]', 5,
  '2026-07-01 11:00:00+00', NULL, '["10.77.0.0/24"]', now(), now(), NULL);
CREATE TABLE policies(id bigserial PRIMARY KEY, data text, created_at timestamptz, updated_at timestamptz, deleted_at timestamptz);
INSERT INTO policies(id, data) VALUES (1, '{"acls":[]}');
SQL

no_sessions
run "$A" import headscale "$URL" --dry-run -o json
expect_rc 0 "dry run"
jqt '.users == 1 and (.nodes | length) == 1 and .preauth_keys == 1 and .api_keys == 1 and .policy == true'
ok
run "$A" import headscale "$URL" -o json
expect_rc 0 "import from PostgreSQL"
[ "$(q "SELECT id, given_name, tags, approved_routes, coalesce(user_id, '-'), auth_key_id, last_seen FROM nodes")" = \
  "11|router-one|[\"tag:router\"]|[\"10.77.0.0/24\"]|-|5|2026-07-01T11:00:00Z" ] || fail "node: $(q 'SELECT * FROM nodes')"
[ "$(q "SELECT id, reusable, ephemeral, used, CAST(hash AS TEXT), expiration FROM pre_auth_keys")" = \
  "5|1|0|1|$BCRYPT|2099-01-01T00:00:00Z" ] || fail "pre-auth key: $(q 'SELECT * FROM pre_auth_keys')"
[ "$(q "SELECT id, prefix, expiration FROM api_keys")" = "2|EfB9B_K2I2fI|2098-12-31T18:30:00Z" ] || fail "API key: $(q 'SELECT * FROM api_keys')"
[ "$(q "SELECT name, created_at FROM users")" = "alice|2026-07-01T10:00:00.123456Z" ] || fail "user: $(q 'SELECT * FROM users')"
ok

# Another session on the database, as a running headscale keeps: refused, naming the count.
rm -f "$DB"*
coproc HOLDER { exec "$PGBIN/psql" -X -q -h "$T/pg" -U "$pguser" -d headscale; }
holder=$HOLDER_PID  # bash unsets HOLDER_PID as soon as the process ends
echo "SELECT 'connected';" >&"${HOLDER[1]}"
read -r -t 10 _ <&"${HOLDER[0]}" || fail "the second session did not connect"
run "$A" import headscale "$URL"
expect_fail "1 other session(s) are connected to the headscale database (headscale still running?)" "session open"
exec {HOLDER[1]}>&-
wait "$holder" || true
no_sessions
[ ! -e "$DB" ] || [ "$(q 'SELECT count(*) FROM nodes')" = 0 ] || fail "refused import wrote nodes"
ok

run "$A" import headscale "postgresql:///empty?host=$T/pg&user=$pguser"
expect_fail "a PostgreSQL database, but not headscale's" "empty database"
run "$A" import headscale "postgresql://someone:secret@127.0.0.1:1/headscale?connect_timeout=2"
expect_fail "postgresql://someone:***@127.0.0.1:1/headscale" "unreachable server"
expect_err "cannot connect to headscale's PostgreSQL" "unreachable server"
[[ "$ERR" != *secret* ]] || fail "the password was printed"
ok
finish
