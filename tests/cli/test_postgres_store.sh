#!/usr/bin/env bash
# database.type postgres: a throwaway PostgreSQL cluster (pg_lib.sh). The same hs-admin sequence
# runs on SQLite and on PostgreSQL and must print the same JSON (times and secrets masked);
# then what only PostgreSQL has: the schema version table, the append-only audit_log, clear
# one-line errors (unreachable server, missing name, a foreign database), warnings for
# keys that do nothing, hs-control --check, an hs-control that hears hs-admin's writes, counts
# failed sign-ins and delivers webhooks from the database, a second instance with another Noise
# key refused before it changes anything, one with the same key joining, and a PostgreSQL
# restart under hs-control, and an instance whose slot was taken while it was cut off exits.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
start_pg
CONTROL=
RC=0 OUT= ERR=
RX=
C3=
trap '[ -z "$CONTROL" ] || kill -CONT $CONTROL 2>/dev/null; [ -z "$CONTROL" ] || kill $CONTROL 2>/dev/null; [ -z "$C3" ] || kill $C3 2>/dev/null; [ -z "$RX" ] || kill $RX 2>/dev/null; pg_stop; rm -rf "$T"' EXIT
pg_create hs
pg_create notours
A=$HS_BIN/hs-admin
unset HS_CONFIG HEADSCALE_CONFIG HS_API_KEY
SQ=$T/sqlite.yaml
PG=$T/pg.yaml
printf 'dns: {base_domain: t.test}\npolicy: {mode: database}\ndatabase: {sqlite: {path: %s}}\n' "$T/db.sqlite" >"$SQ"
{ printf 'dns: {base_domain: t.test}\npolicy: {mode: database}\n'; pg_yaml hs; } >"$PG"
VERSION=$(sed -n 's/.*kSchemaVersion = \([0-9]*\);.*/\1/p' "$HS_SRC/common/store/db.h")
cat >"$T/policy.json" <<'EOF2'
{"tagOwners": {"tag:web": ["alice@"]}, "acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]}
EOF2

# Times, generated secrets and key prefixes differ from run to run; everything else must not.
norm() {
  jq -S 'walk(if type == "string" then
      (if test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T") then "TIME" elif test("^hskey-") then "KEY" else . end)
    else . end)'
}
h() { printf "$1%.0s" $(seq 64); }
node_sql() {
  echo "INSERT INTO nodes(machine_key, node_key, host_info, ipv4, hostname, given_name, user_id, created_at, updated_at)
    VALUES ('mkey:$(h "$1")', 'nodekey:$(h "$1")', '{\"RoutableIPs\":[\"10.0.0.0/24\"]}', '100.64.0.$2', '$3', '$3', 1,
    '2026-01-01T00:00:00Z', '2026-01-01T00:00:00Z')"
}
# sequence CONFIG SQL-COMMAND OUT: hs-admin's answers (and refusals) on one database, in order.
sequence() {
  local c=$1 sql=$2 out=$3
  a() { "$A" -c "$c" -o json "$@" 2>>"$out.err" | norm >>"$out" || { echo "FAIL: $c: $*: $(tail -1 "$out.err")" >&2; exit 1; }; }
  # refused COMMAND...: must fail; its message is part of what is compared.
  refused() { if "$A" -c "$c" "$@" 2>>"$out.err" >/dev/null; then echo "FAIL: accepted: $*" >&2; exit 1; fi; }
  a users create alice
  a users create bob
  refused users create alice
  a users rename -n bob -r carol
  a preauthkeys create -u alice --reusable --expiration 1h
  a preauthkeys create -u alice
  a preauthkeys expire -i 2
  a preauthkeys list
  a apikeys create
  a apikeys expire -i 1
  a apikeys list
  $sql "$(node_sql a 1 web)"
  $sql "$(node_sql b 2 db)"
  a nodes list
  a nodes rename -i 1 renamed
  refused nodes rename -i 2 renamed
  a policy set -f "$T/policy.json"
  a policy get
  a nodes tag -i 2 -t tag:web
  a routes approve -i 1 -r 10.0.0.0/24
  a routes list
  a nodes expire -i 1
  refused users delete alice
  a nodes delete -i 2
  a nodes list
  a users delete carol
  a users list
  # Built-in accounts: the credentials row is made on first use (an upsert), TOTP codes kept.
  echo "correct horse battery staple" >"$T/pw"
  "$A" -c "$c" -o json users set-password alice <"$T/pw" 2>>"$out.err" | norm >>"$out"
  "$A" -c "$c" users mfa enroll alice >/dev/null 2>>"$out.err"
  a users list
  a users mfa disable alice
  a users unlock alice
  a audit locks --all
  a health
  a events --since 24h
  a audit list
}
sequence "$SQ" "sqlite3 $T/db.sqlite" "$T/sqlite.out"
sequence "$PG" "pq hs" "$T/pg.out"
OUT=$(diff "$T/sqlite.out" "$T/pg.out" && diff "$T/sqlite.out.err" "$T/pg.out.err") || fail "SQLite and PostgreSQL differ"
OUT=$(cat "$T/pg.out")
grep -q '"renamed"' "$T/pg.out" && grep -q '"tag:web"' "$T/pg.out" && grep -q '"nodes.delete"' "$T/pg.out" ||
  fail "the sequence's output lacks its changes"
[ "$(wc -l <"$T/pg.out.err")" = 3 ] || fail "expected 3 refusals: $(cat "$T/pg.out.err")"
ok

# The schema: the same version number, change_log filled by triggers, audit_log append-only.
[ "$(pq hs 'SELECT version FROM hs_schema_version')" = "$VERSION" ] || fail "schema version"
[ "$(pq hs "SELECT count(*) FROM change_log WHERE tbl = 'nodes' AND row_id = 1 AND op = 'update'")" -ge 3 ] ||
  fail "change_log: $(pq hs 'SELECT * FROM change_log')"
for stmt in "UPDATE audit_log SET actor = 'x'" "DELETE FROM audit_log" "TRUNCATE audit_log"; do
  run psql_ -d hs -c "$stmt"
  [ "$RC" != 0 ] && [[ "$ERR" == *"audit_log is append-only"* ]] || fail "$stmt was allowed"
done
ok

# Errors: one line, naming the server, the key or the reason; nothing is created.
P=$(free_port)
printf 'dns: {base_domain: t.test}\ndatabase:\n  type: postgres\n  postgres: {host: 127.0.0.1, port: %s, name: hs}\n' "$P" \
  >"$T/down.yaml"
run "$A" -c "$T/down.yaml" users list
expect_rc 1 "unreachable server"
[ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || fail "unreachable: not one line"
expect_err "PostgreSQL hs at 127.0.0.1:$P: cannot connect to PostgreSQL" "unreachable server"
ok
printf 'dns: {base_domain: t.test}\ndatabase: {type: postgres, postgres: {host: %s}}\n' "$PGSOCK" >"$T/noname.yaml"
run "$A" -c "$T/noname.yaml" users list
expect_rc 1 "no name"
expect_err "database.postgres.name: must name the database" "no name"
ok
psql_ -d notours -c "CREATE TABLE mine(x int)"
{ echo 'dns: {base_domain: t.test}'; pg_yaml notours; } >"$T/foreign.yaml"
run "$A" -c "$T/foreign.yaml" users list
expect_rc 1 "foreign database"
expect_err "not an hs database" "foreign database"
[ "$(pq notours "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")" = 1 ] || fail "foreign database changed"
ok
{ cat "$PG"; echo "  sqlite: {path: /nowhere/db.sqlite, write_ahead_log: false}"; } >"$T/warn.yaml"
run "$A" -c "$T/warn.yaml" users list -o json
expect_rc 0 "sqlite keys with postgres"
expect_err "database.sqlite.path, database.sqlite.write_ahead_log: no effect with database.type postgres" "sqlite keys warn"
ok

# hs-control on PostgreSQL: --check, a start, hs-admin's writes heard, a second instance.
PORT=$(free_port)
cat >>"$PG" <<EOF2
server_url: http://127.0.0.1:$PORT
noise: {private_key_path: $T/noise.key}
listen_addr: 127.0.0.1:$PORT
EOF2
"$HS_BIN/hs-derpmap" new --region-id 900 --region-code t --node "name=900a,host=127.0.0.1,ipv4=127.0.0.1,ipv6=none" \
  >"$T/derp.yaml"
echo "derp: {paths: [$T/derp.yaml]}" >>"$PG"
# A webhook receiver (tests/interop/webhook_receiver.py): the webhook thread's own connection
# hears audit rows through NOTIFY and keeps its cursor in PostgreSQL.
RX_PORT=$(free_port)
echo "webhook secret" >"$T/secret"
chmod 600 "$T/secret"
python3 "$HS_SRC/tests/interop/webhook_receiver.py" --port "$RX_PORT" --secret-file "$T/secret" --out "$T/got.jsonl" \
  --slow "$T/slow" >/dev/null 2>&1 &
RX=$!
echo "notifications: {webhooks: [{url: 'http://127.0.0.1:$RX_PORT/all', secret_path: $T/secret}]}" >>"$PG"
run "$HS_BIN/hs-control" -c "$PG" --check
expect_rc 0 "hs-control --check"
expect_out "PostgreSQL hs at $PGSOCK:5432 is at schema version $VERSION" "hs-control --check"
ok
# heard_create NAME WHEN: hs-admin creates user NAME on the database, and the running
# hs-control reads the change log within 1 s (its log says so), or the test fails saying WHEN.
heard_create() {
  local before
  before=$(grep -c 'reading the change log past' "$T/control.log" || true)
  "$A" -c "$PG" users create "$1" >/dev/null
  for _ in $(seq 10); do
    [ "$(grep -c 'reading the change log past' "$T/control.log" || true)" -gt "$before" ] && return 0
    sleep 0.1
  done
  cat "$T/control.log" >&2; fail "hs-control did not hear hs-admin's write within 1 s ($2)"
}
"$HS_BIN/hs-control" -c "$PG" --log-level debug >"$T/control.log" 2>&1 &
CONTROL=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$PORT/health" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$PORT/health" >/dev/null || { cat "$T/control.log" >&2; fail "hs-control did not start"; }
heard_create dave "creating dave"
ok
# Failed sign-ins are counted in PostgreSQL by hs-control's own connection (an upsert), and
# hs-admin reads the lock there.
"$A" -c "$PG" events --follow -o json-line >"$T/events.jsonl" 2>"$T/events.err" &
FOLLOW=$!
sleep 0.5
KEY=$("$A" -c "$PG" apikeys create)
wrong=${KEY%-*}-$(printf '0%.0s' $(seq 64))
for _ in 1 2 3 4 5 6; do curl -s -o /dev/null -H "Authorization: Bearer $wrong" "http://127.0.0.1:$PORT/api/v1/user"; done
run "$A" -c "$PG" audit locks --all -o json
expect_rc 0 "audit locks"
jq -e 'length == 1 and .[0].locked == true' <<<"$OUT" >/dev/null || fail "audit locks: the API key is not locked"
[ "$(pq hs "SELECT failures > 0 OR locked_until IS NOT NULL FROM signin_locks WHERE key LIKE 'apikey:%'")" = t ] ||
  fail "signin_locks: $(pq hs 'SELECT * FROM signin_locks')"
[ "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $KEY" "http://127.0.0.1:$PORT/api/v1/user")" != 200 ] ||
  fail "the locked key still works"
ok
# hs-admin events --follow on PostgreSQL hears the new key too.
for _ in $(seq 30); do grep -q '"apikey.created"' "$T/events.jsonl" && break; sleep 0.1; done
kill "$FOLLOW" 2>/dev/null || true
grep -q '"apikey.created"' "$T/events.jsonl" || fail "events --follow: $(cat "$T/events.jsonl" "$T/events.err")"
for _ in $(seq 50); do grep -q '"apikey.created"' "$T/got.jsonl" 2>/dev/null && break; sleep 0.1; done
OUT=$(cat "$T/got.jsonl" 2>/dev/null || true)
jq -se 'map(select(.event == "apikey.created" and .verified)) | length == 1' <<<"$OUT" >/dev/null ||
  fail "the webhook did not deliver apikey.created within 5 s"
key_row=$(pq hs "SELECT max(id) FROM audit_log WHERE action = 'apikeys.create'")
for _ in $(seq 50); do
  [ "$(pq hs "SELECT count(*) FROM webhook_cursors WHERE last_id >= $key_row")" = 1 ] && break
  sleep 0.1
done
[ "$(pq hs "SELECT count(*) FROM webhook_cursors WHERE last_id >= $key_row")" = 1 ] ||
  fail "webhook cursor: $(pq hs 'SELECT * FROM webhook_cursors'), audit row $key_row"
ok
snap() { pq hs "SELECT (SELECT max(seq) FROM change_log), (SELECT max(id) FROM audit_log), (SELECT count(*) FROM nodes)"; }
S=$(snap)
# A second instance with another Noise key is refused before it changes anything: clients pin
# the key, so they would be refused when the load balancer moves them to it.
SECOND=$T/second.yaml
sed -e "s/listen_addr: 127.0.0.1:$PORT/listen_addr: 127.0.0.1:$(free_port)/" -e "s|$T/noise.key|$T/other.key|" "$PG" >"$SECOND"
grep -q "$T/other.key" "$SECOND" || fail "second config: the Noise key path was not changed"
run timeout 20 "$HS_BIN/hs-control" -c "$SECOND"
[ "$RC" = 1 ] || fail "hs-control with another Noise key: exit $RC"
expect_err "uses another Noise key" "hs-control with another Noise key"
expect_err "every instance needs the same noise.private_key_path contents" "hs-control with another Noise key"
[ "$(snap)" = "$S" ] || fail "the refused hs-control changed the database"
[ "$(pq hs "SELECT count(*) FROM control_instances")" = 1 ] || fail "control_instances: $(pq hs 'SELECT * FROM control_instances')"
kill -0 "$CONTROL" || fail "the first hs-control stopped"
ok
# The same key: a second instance joins (slot 1) and leaves the duties to the first.
P2=$(free_port) M2=$(free_port)
sed -e "s/listen_addr: 127.0.0.1:$PORT/listen_addr: 127.0.0.1:$P2/" "$PG" >"$SECOND"
echo "metrics_listen_addr: 127.0.0.1:$M2" >>"$SECOND"
"$HS_BIN/hs-control" -c "$SECOND" >"$T/second.log" 2>&1 &
C2=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$P2/health" >/dev/null && break; sleep 0.1; done
curl -sf "http://127.0.0.1:$P2/health" >/dev/null || { cat "$T/second.log" >&2; fail "the second instance did not start"; }
metrics=$(curl -sf "http://127.0.0.1:$M2/metrics")
grep -qx 'hs_control_instance_slot 1' <<<"$metrics" || fail "second instance: $(grep instance_slot <<<"$metrics")"
grep -qx 'hs_control_duty{duty="routes"} 0' <<<"$metrics" || fail "second instance: $(grep duty <<<"$metrics")"
[ "$(pq hs "SELECT string_agg(slot::text, ',' ORDER BY slot) FROM control_instances")" = 0,1 ] ||
  fail "control_instances: $(pq hs 'SELECT * FROM control_instances')"
heard_create frank "with a second instance"
# The webhook is the first instance's to deliver: the second waits to take over.
for _ in $(seq 20); do grep -q "another hs-control instance delivers it" "$T/second.log" && break; sleep 0.1; done
grep -q "webhook http://127.0.0.1:$RX_PORT/all: another hs-control instance delivers it" "$T/second.log" ||
  fail "the second instance delivers the webhook too: $(grep webhook "$T/second.log")"
kill "$C2"
wait "$C2" || fail "the second instance did not stop cleanly: $(tail -5 "$T/second.log")"
ok

# PostgreSQL restarts under hs-control: it reconnects, takes its slot again (an instance with
# another key is still refused) and hears hs-admin's writes as before.
"${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGSOCK/data" -m fast -w restart -o "-k $PGSOCK -c listen_addresses=''" \
  -l "$PGSOCK/server.log" >/dev/null || { cat "$PGSOCK/server.log" >&2; fail "PostgreSQL did not restart"; }
for _ in $(seq 50); do grep -q 'reconnected to PostgreSQL' "$T/control.log" && break; sleep 0.1; done
grep -q 'reconnected to PostgreSQL' "$T/control.log" || { cat "$T/control.log" >&2; fail "hs-control did not reconnect"; }
heard_create erin "after the restart"
sed -i "s|$T/noise.key|$T/other.key|" "$SECOND"
run timeout 20 "$HS_BIN/hs-control" -c "$SECOND"
[ "$RC" = 1 ] || fail "hs-control with another Noise key after the restart: exit $RC"
expect_err "uses another Noise key" "hs-control with another Noise key after the restart"
curl -sf "http://127.0.0.1:$PORT/health" >/dev/null || fail "hs-control is not healthy after the restart"
ok

# An instance whose slot another took while its connection was down exits instead of writing
# under the other's presence bit. The first instance is stopped (SIGSTOP) while its sessions
# are ended; a new instance starts meanwhile and gets the freed slot 0; the first, resumed,
# reconnects, finds slot 0 held, and exits with status 1.
sed -i "s|$T/other.key|$T/noise.key|" "$SECOND"
kill -STOP "$CONTROL"
pq hs "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = 'hs' AND pid <> pg_backend_pid()" >/dev/null
"$HS_BIN/hs-control" -c "$SECOND" >"$T/third.log" 2>&1 &
C3=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$P2/health" >/dev/null && break; sleep 0.1; done
grep -qx 'hs_control_instance_slot 0' <<<"$(curl -sf "http://127.0.0.1:$M2/metrics")" ||
  { cat "$T/third.log" >&2; fail "the new instance did not get the freed slot 0"; }
kill -CONT "$CONTROL"
for _ in $(seq 100); do kill -0 "$CONTROL" 2>/dev/null || break; sleep 0.1; done
kill -0 "$CONTROL" 2>/dev/null && fail "the instance whose slot was taken still runs: $(tail -3 "$T/control.log")"
rc=0; wait "$CONTROL" || rc=$?
CONTROL=
[ "$rc" = 1 ] || fail "the instance whose slot was taken exited with status $rc"
grep -q "another hs-control held a lock this one had held (its instance slot)" "$T/control.log" || fail "its log does not say why: $(tail -3 "$T/control.log")"
curl -sf "http://127.0.0.1:$P2/health" >/dev/null || fail "the instance in slot 0 is not healthy"
ok
finish
