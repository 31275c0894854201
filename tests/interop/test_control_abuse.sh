#!/usr/bin/env bash
# What a hostile peer or a bad day does to hs-control after the TS2021 upgrade (issue 19):
#  1. unfinished requests on many streams: the connection is closed at a bound, memory stays flat
#  2. a request whose handler fails (a Version sent as a string): an error reply, and the next
#     request on the same connection is answered
#  3. another process holds the write lock: /health and requests answer at once, writes that
#     can wait are kept and land when the lock is gone, a registration is refused with 503
#  5. a flood of interactive logins: a bounded number of rows, the rest refused
#  9. an oversized or malformed HTTP/1 request: 413 / 400 before the close
# and (2 again, SQLite only) the file full: the same connection answers before, during and after.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root

ABUSE="$HS_BIN/hs-ts2021-abuse"
[ -x "$ABUSE" ] || fail "$ABUSE is missing (build the hs-ts2021-abuse target)"
METRICS="http://127.0.0.1:$((CONTROL_PORT + 1000))/metrics"

control_config
control_start
admin users create alice >/dev/null
key=$(admin preauthkeys create -u alice --reusable -e 1h)

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$CONTROL_PID/status"; }
metric() { curl -sf "$METRICS" | awk -v m="$1" '$1 == m {print $2}'; }

# --- 1. unfinished requests -------------------------------------------------------------------
before=$(rss_kib)
"$ABUSE" flood "$CONTROL_URL" 4 250 >"$LAB/flood.out" 2>&1 || { cat "$LAB/flood.out" >&2; fail "flood failed"; }
server_alive "the stream flood"
after=$(rss_kib)
cat "$LAB/flood.out" >&2
closed=$(grep -c "closed the connection" "$LAB/flood.out")
[ "$closed" = 4 ] || fail "the server closed $closed of 4 flooding connections"
max_sent=$(awk '{print $4}' "$LAB/flood.out" | sort -n | tail -1)
# The bound is 256 KiB before a node is shown; what was in flight when it closed comes on top.
[ "$max_sent" -le $((2 * 1024 * 1024)) ] || fail "a flooding connection got $max_sent bytes in before the close"
grew=$(( (after - before) / 1024 ))
[ "$grew" -le 64 ] || fail "RSS grew by $grew MiB under the flood ($before -> $after KiB)"
refused=$(metric 'hs_control_ts2021_refused_total{reason="connection_bytes"}')
[ "${refused:-0}" -ge 4 ] || fail "connection_bytes refusals counted: ${refused:-none}"
lines=$(grep -c "bytes of unfinished requests" "$CONTROL_DIR/control.log")
[ "$lines" -ge 1 ] && [ "$lines" -le 4 ] || fail "$lines log lines about the flood (want 1 to 4: rate-limited)"
pass "stream flood: 4 connections closed after at most $max_sent bytes each, RSS $before -> $after KiB, $refused refusals counted, $lines log line(s)"

# --- 2. a handler failure leaves the connection usable -------------------------------------------
"$ABUSE" session "$CONTROL_URL" "$key" register map-version-string map-lite >"$LAB/deaf.out" 2>&1 \
  || { cat "$LAB/deaf.out" >&2; fail "session with a string Version failed"; }
cat "$LAB/deaf.out" >&2
grep -q '^register HTTP 200' "$LAB/deaf.out" || fail "register: $(head -1 "$LAB/deaf.out")"
grep -q '^map-version-string HTTP 400 .*Version' "$LAB/deaf.out" || fail "a string Version: $(sed -n 2p "$LAB/deaf.out")"
grep -q '^map-lite HTTP 200' "$LAB/deaf.out" || fail "the next request on the connection: $(sed -n 3p "$LAB/deaf.out")"
pass "Version \"142\" answered 400 naming the field; the next request on the same connection answered 200"

# --- 3. another process holds the write lock -------------------------------------------------------
# The lock is taken 1 s from now and held 5 s; the session writes at 2 s and again after 7 s.
# On PostgreSQL the write lock is the advisory lock every hs write transaction takes (kWriteLock
# in common/store/db_pg.cpp).
if on_postgres; then
  (sleep 1; pq "$CONTROL_DB" "BEGIN; SELECT pg_advisory_xact_lock(7521969672384259173); SELECT 'locked'; SELECT pg_sleep(5); COMMIT" &&
    echo released) >"$LAB/lock.out" 2>&1 &
else
  python3 - "$CONTROL_DIR/db.sqlite" >"$LAB/lock.out" 2>&1 <<'EOF' &
import sqlite3, sys, time
c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
time.sleep(1.0)
c.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
time.sleep(5.0)
c.execute("COMMIT")
print("released", flush=True)
EOF
fi
locker=$!
"$ABUSE" session "$CONTROL_URL" "$key" register sleep=2 map-lite=busyname register-again sleep=5.5 register-again \
  >"$LAB/busy.out" 2>&1 &
session=$!
sleep 3.5
t0=$(date +%s%N)
health=$(curl -s --max-time 10 "$CONTROL_URL/health")
health_ms=$(( ($(date +%s%N) - t0) / 1000000 ))
wait "$session" || { cat "$LAB/busy.out" >&2; fail "the session during the held lock failed"; }
wait "$locker" || { cat "$LAB/lock.out" >&2; fail "the lock holder failed"; }
cat "$LAB/busy.out" >&2
[ "$health_ms" -lt 1000 ] || fail "/health took $health_ms ms while the write lock was held"
[ "$(echo "$health" | jq -r .status)" = warn ] || fail "/health during the held lock said $health"
pass "/health answered in $health_ms ms while another process held the write lock: $health"
lite=$(grep '^map-lite=busyname' "$LAB/busy.out")
[[ "$lite" == *"HTTP 200"* ]] || fail "a map request during the lock: $lite"
ms=$(echo "$lite" | sed -E 's/.*\(([0-9]+) ms\)$/\1/')
[ "$ms" -lt 1000 ] || fail "a map request took $ms ms during the lock"
pass "map request during the lock: $lite"
# A registration waits out the lock (up to 10 s, kBusyPatience in noise_conn.cpp) and is answered
# once it is released, about 6 s into the run: contention is not an error for the client.
during=$(grep '^register-again' "$LAB/busy.out" | sed -n 1p)
[[ "$during" == *"HTTP 200"* ]] || fail "a registration during the lock: $during"
ms=$(echo "$during" | sed -E 's/.*\(([0-9]+) ms\)$/\1/')
[ "$ms" -ge 1500 ] && [ "$ms" -lt 10000 ] || fail "a registration during the lock was answered after $ms ms (want the lock's end)"
pass "registration during the lock waited for it: $during"
after=$(grep '^register-again' "$LAB/busy.out" | tail -1)
[[ "$after" == *"HTTP 200"* ]] || fail "the registration after the lock: $after"
pass "after the lock, on the same connection: $after"
busy_stored() { [ "$(control_sql "select count(*) from nodes where hostname = 'busyname'")" = 1 ]; }
eventually 5 busy_stored || fail "the hostname reported during the lock never reached the database"
pass "the report kept in memory during the lock reached the database afterwards"
server_alive "the held lock"

# --- 5. login flood ----------------------------------------------------------------------------
"$ABUSE" login-flood "$CONTROL_URL" 60 >"$LAB/logins.out" 2>"$LAB/logins.err" || { cat "$LAB/logins.out" >&2; fail "login flood failed"; }
cat "$LAB/logins.out" >&2
urls=$(sed -E 's/^login-flood: ([0-9]+) login URLs.*/\1/' "$LAB/logins.out")
rows=$(control_sql "select count(*) from auth_requests")
[ "$urls" -le 16 ] && [ "$rows" -le 16 ] || fail "$urls login URLs and $rows rows for 60 logins from one address"
grep -q "try again" "$LAB/logins.out" || fail "the refusal does not tell the client to retry: $(cat "$LAB/logins.out")"
pass "60 interactive logins from one address: $urls URLs, $rows rows; $(cat "$LAB/logins.out")"

# --- 9. oversized and malformed HTTP/1 requests ---------------------------------------------------
code=$(head -c 10000000 /dev/zero | curl -s -o "$LAB/big.out" -w '%{http_code}' -X POST --data-binary @- "$CONTROL_URL/api/v1/user")
[ "$code" = 413 ] || fail "a 10 MB body answered HTTP $code"
pass "a 10 MB body: HTTP $code $(cat "$LAB/big.out")"
host=${CONTROL_URL#http://}
exec 3<>"/dev/tcp/${host%:*}/${host##*:}"
printf 'THIS IS NOT HTTP\r\n\r\n' >&3
reply=$(timeout 5 head -c 200 <&3 | sed -n 1p | tr -d '\r')
exec 3<&-
[[ "$reply" == "HTTP/1.1 400"* ]] || fail "a malformed request line answered '$reply'"
pass "a malformed request line: $reply"
server_alive "the HTTP/1 refusals"

# --- 2 again: the file system is full ----------------------------------------------------------
if on_postgres; then
  skip "the file system under the SQLite file is full" "SQLite-specific: on PostgreSQL the database server's disk is its own"
  finish
  exit
fi
control_stop
FULL="$LAB/full"
mkdir -p "$FULL"
mount -t tmpfs -o size=8m tmpfs "$FULL" || fail "cannot mount a tmpfs for the full-disk case"
trap 'umount -l "$FULL" 2>/dev/null; lab_cleanup' EXIT
cp "$CONTROL_DIR/db.sqlite" "$FULL/db.sqlite"
sed -i '/^database:/d' "$CONTROL_DIR/config.yaml"
echo "database: {type: sqlite, sqlite: {path: $FULL/db.sqlite}}" >>"$CONTROL_DIR/config.yaml"
control_start
"$ABUSE" session "$CONTROL_URL" "$key" register sleep=2 map-lite=fullname register-again sleep=3 register-again map-lite=afterfull \
  >"$LAB/full.out" 2>&1 &
session=$!
sleep 1
# An empty WAL must grow for the next write, which the full file system refuses.
sqlite3 "$FULL/db.sqlite" 'PRAGMA wal_checkpoint(TRUNCATE)' >/dev/null
dd if=/dev/zero of="$FULL/fill" bs=4k 2>/dev/null || true
sleep 3
rm -f "$FULL/fill"
wait "$session" || { cat "$LAB/full.out" >&2; fail "the session on a full disk failed"; }
cat "$LAB/full.out" >&2
grep -q '^map-lite=fullname HTTP 200' "$LAB/full.out" || fail "a map request on a full disk: $(grep '^map-lite=fullname' "$LAB/full.out")"
during=$(grep '^register-again' "$LAB/full.out" | sed -n 1p)
[[ "$during" == *"HTTP 503"* ]] || fail "a registration on a full disk: $during"
after=$(grep '^register-again' "$LAB/full.out" | tail -1)
[[ "$after" == *"HTTP 200"* ]] || fail "a registration after space came back: $after"
grep -q '^map-lite=afterfull HTTP 200' "$LAB/full.out" || fail "the last request: $(tail -1 "$LAB/full.out")"
pass "full disk: map request 200, registration '$during'; after space returned: $after"
[ "$(sqlite3 "$FULL/db.sqlite" 'pragma integrity_check')" = ok ] || fail "integrity_check failed after the full disk"
pass "integrity_check ok after the full disk"
server_alive "the full disk"
finish
