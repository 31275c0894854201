#!/usr/bin/env bash
# database.type postgres, what is refused at start, each a one-line error and exit status 1 from
# hs-admin and from hs-control, with the database left as it was: no server at the address, a
# wrong password (and a password file that cannot be read), and a database from a newer hs. The
# password comes from database.postgres.pass_path, as a systemd credential would give it.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
start_pg
trap 'pg_stop; rm -rf "$T"' EXIT
A=$HS_BIN/hs-admin
C=$HS_BIN/hs-control
unset HS_CONFIG HEADSCALE_CONFIG HS_API_KEY

# A role that must give a password: scram on the unix socket for it, trust for the others.
psql_ -d postgres -c "CREATE ROLE hs_pw LOGIN PASSWORD 'right horse battery'" >/dev/null
psql_ -d postgres -c "CREATE DATABASE pw OWNER hs_pw" >/dev/null
psql_ -d postgres -c "CREATE DATABASE newer" >/dev/null
sed -i '1i local all hs_pw scram-sha-256' "$PGSOCK/data/pg_hba.conf"
psql_ -d postgres -tAc "SELECT pg_reload_conf()" >/dev/null
"$HS_BIN/hs-derpmap" new --region-id 900 --region-code t --node "name=900a,host=127.0.0.1,ipv4=127.0.0.1,ipv6=none" \
  >"$T/derp.yaml"
# config NAME DATABASE-LINES: a configuration for hs-admin and hs-control in $T/NAME.yaml.
config() {
  local port
  port=$(free_port)
  printf 'server_url: http://127.0.0.1:%s\nlisten_addr: 127.0.0.1:%s\nnoise: {private_key_path: %s}\n' \
    "$port" "$port" "$T/noise.key" >"$T/$1.yaml"
  printf 'dns: {base_domain: t.test}\nderp: {paths: [%s]}\n%s\n' "$T/derp.yaml" "$2" >>"$T/$1.yaml"
}
pw_db() { printf 'database:\n  type: postgres\n  postgres: {host: %s, name: pw, user: hs_pw, %s}' "$PGSOCK" "$1"; }
# refused WHAT CONFIG TEXT: hs-admin and hs-control both exit 1 with one line holding TEXT.
refused() {
  run "$A" -c "$2" users list
  expect_rc 1 "hs-admin, $1"
  [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || fail "hs-admin, $1: not one line: $ERR"
  expect_err "$3" "hs-admin, $1"
  run timeout 20 "$C" -c "$2"
  expect_rc 1 "hs-control, $1"
  expect_err "$3" "hs-control, $1"
  ok
}

# The right password from a file: the schema is created and hs-admin works.
printf 'right horse battery\n' >"$T/pw.right"
printf 'wrong horse battery\n' >"$T/pw.wrong"
chmod 600 "$T"/pw.*
config right "$(pw_db "pass_path: $T/pw.right")"
run "$A" -c "$T/right.yaml" users create alice
expect_rc 0 "hs-admin with the password from pass_path"
[ "$(pq pw "SELECT name FROM users")" = alice ] || fail "the user is not in the database"
ok
# The same path through an environment variable, as under systemd's LoadCredential=.
config cred "$(pw_db "pass_path: '\${CREDENTIALS_DIRECTORY}/pw.right'")"
CREDENTIALS_DIRECTORY=$T run "$A" -c "$T/cred.yaml" users list -o json
expect_rc 0 "pass_path with \${CREDENTIALS_DIRECTORY}"
[[ "$OUT" == *'"alice"'* ]] || fail "pass_path with \${CREDENTIALS_DIRECTORY}: $OUT"
ok
snap() { pq pw "SELECT count(*) FROM users"; pq pw "SELECT version FROM hs_schema_version"; }
before=$(snap)

config wrong "$(pw_db "pass_path: $T/pw.wrong")"
refused "a wrong password" "$T/wrong.yaml" 'password authentication failed for user "hs_pw"'
[[ "$ERR" != *horse* ]] || fail "the error shows the password: $ERR"
config nofile "$(pw_db "pass_path: $T/pw.none")"
refused "a password file that does not exist" "$T/nofile.yaml" "database.postgres.pass_path $T/pw.none: cannot open"
printf '\n' >"$T/pw.empty"
config empty "$(pw_db "pass_path: $T/pw.empty")"
refused "an empty password file" "$T/empty.yaml" "database.postgres.pass_path $T/pw.empty: the file is empty"
config both "$(pw_db "pass: x, pass_path: $T/pw.right")"
refused "pass and pass_path" "$T/both.yaml" "database.postgres.pass_path: cannot be combined with database.postgres.pass"
[ "$(snap)" = "$before" ] || fail "the refusals changed the database: $(snap), before: $before"
ok

# No server at the address.
P=$(free_port)
config down "database: {type: postgres, postgres: {host: 127.0.0.1, port: $P, name: hs}}"
refused "no server" "$T/down.yaml" "PostgreSQL hs at 127.0.0.1:$P: cannot connect to PostgreSQL"

# A database from a newer hs: its schema version is read before anything is written.
config newer "$(pg_yaml newer)"
run "$A" -c "$T/newer.yaml" users create bob
expect_rc 0 "hs-admin on the database that becomes newer"
pq newer "UPDATE hs_schema_version SET version = 99" >/dev/null
tables() { pq newer "SELECT string_agg(tablename, ',' ORDER BY tablename) FROM pg_tables WHERE schemaname = 'public'"; }
t_before=$(tables)
refused "a newer schema" "$T/newer.yaml" "schema version 99 is newer"
[ "$(pq newer 'SELECT version FROM hs_schema_version')" = 99 ] && [ "$(tables)" = "$t_before" ] &&
  [ "$(pq newer 'SELECT name FROM users')" = bob ] || fail "the newer database was changed"
ok
finish
