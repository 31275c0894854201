#!/usr/bin/env bash
# hs-control --check: what would stop start-up is named (a truncated policy with its line and
# column, a key that is not set), and nothing on the machine changes: no database or key file
# is created, an old database is not migrated.
. "$(dirname "$0")/lib.sh"
C="$HS_BIN/hs-control"

cat >"$T/c.yaml" <<Y
server_url: http://127.0.0.1:18080
listen_addr: 127.0.0.1:18080
noise: {private_key_path: $T/state/noise.key}
database: {type: sqlite, sqlite: {path: $T/state/db.sqlite}}
dns: {base_domain: tailnet.test}
derp: {server: {enabled: true, region_id: 999, stun_listen_addr: 127.0.0.1:13478, private_key_path: $T/state/derp.key}}
policy: {mode: file, path: $T/p.hujson}
Y
printf '{"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]' >"$T/p.hujson"

run "$C" -c "$T/c.yaml" --check; expect_rc 1 "truncated policy"
expect_err "policy file $T/p.hujson is refused" "truncated policy"; expect_err "line 1, column 62: expected ',' or '}'" "truncated policy"; ok
[ ! -e "$T/state" ] || fail "--check created $(ls "$T/state")"; ok

echo '}' >>"$T/p.hujson"
run "$C" -c "$T/c.yaml" --check; expect_rc 0 "complete policy"
[ "$OUT" = "configuration $T/c.yaml is valid; database $T/state/db.sqlite will be created; the Noise key $T/state/noise.key will be created; the DERP key $T/state/derp.key will be created" ] || fail "check line"; ok
[ ! -e "$T/state" ] || fail "--check created $(ls "$T/state")"; ok

# An existing database at an older schema version is read as it is, not migrated.
mkdir -m 700 "$T/state"
sqlite3 "$T/state/db.sqlite" "PRAGMA user_version = 1; CREATE TABLE t(x);"
chmod 600 "$T/state/db.sqlite"
before=$(sha256sum <"$T/state/db.sqlite")
run "$C" -c "$T/c.yaml" --check; expect_rc 0 "old database"
expect_out "database $T/state/db.sqlite is at schema version 1 \\(migrated to [0-9]+ at start\\)" "old database"; ok
[ "$(sha256sum <"$T/state/db.sqlite")" = "$before" ] || fail "--check changed the database"; ok
[ ! -e "$T/state/noise.key" ] || fail "--check created the Noise key"; ok

# A key the file does not set names the file, not "default".
sed -i '/base_domain/d' "$T/c.yaml"
run "$C" -c "$T/c.yaml" --check; expect_rc 1 "no base_domain"
expect_err "hs-control: $T/c.yaml (not set): dns.base_domain: is required" "no base_domain"; ok
finish
