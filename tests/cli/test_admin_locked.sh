#!/usr/bin/env bash
# A long writer holds the database: hs-admin reads still work (WAL), writes wait for the busy
# timeout (10 s) and then fail with a clear message, leaving nothing half done.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/admin_lib.sh"

"$A" users create alice >/dev/null
add_node a r1 1 '["10.5.0.0/24"]'
snapshot 'SELECT (SELECT group_concat(name) FROM users), (SELECT approved_routes FROM nodes)'

# The writer takes the lock, says so, and keeps it for 14 s; it never commits.
( printf "BEGIN IMMEDIATE;\nINSERT INTO users(name, created_at, updated_at) VALUES ('held', 'x', 'x');\nSELECT 'locked';\n"
  sleep 14 ) | sqlite3 "$DB" >"$T/holder" &
HOLDER=$!
for _ in $(seq 50); do grep -q locked "$T/holder" 2>/dev/null && break; sleep 0.1; done
grep -q locked "$T/holder" || fail "the writer did not take the lock"

run "$A" users list -o json; expect_rc 0 "read during the lock"; jqt 'map(.name) == ["alice"]'; ok
# Two writers wait at the same time: one prints a table-mode error, the other the JSON one.
"$A" users create bob -o json >"$T/bg.out" 2>/dev/null &
BG=$!
start=$(date +%s)
run "$A" nodes approve-routes -i 1 -r 10.5.0.0/24
took=$(( $(date +%s) - start ))
expect_fail "database is locked (another process held a write transaction longer than the busy timeout" "write during the lock"; ok
[ "$took" -ge 9 ] && [ "$took" -le 13 ] || fail "waited ${took}s, expected the 10 s busy timeout"; ok
wait "$BG" && fail "create during the lock succeeded"
OUT=$(cat "$T/bg.out"); jqt '.error | test("database is locked")'; ok

wait "$HOLDER"
expect_unchanged "failed writes"; ok
run "$A" nodes approve-routes -i 1 -r 10.5.0.0/24 -o json; expect_rc 0 "write after the lock"; jqt '.approved_routes == ["10.5.0.0/24"]'; ok
finish
