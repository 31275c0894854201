#!/usr/bin/env bash
# The Tailnet unit tests (full maps in pieces, registration, address allocation, routes,
# re-login, device approval, policy, batching, changes written by another connection) once more
# on PostgreSQL: a throwaway cluster (pg_lib.sh) given to them as $HS_TEST_POSTGRES
# (tests/unit/hs-control/tailnet_fixture.h); and the headscale import's write test
# (tests/unit/store/test_headscale_import.cpp).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/pg_lib.sh"
UNIT=$HS_BIN/hs-unit-hs-control
[ -x "$UNIT" ] || { echo "FAIL: $UNIT is not built" >&2; exit 1; }
start_pg
trap 'pg_stop; rm -rf "$T"' EXIT
pg_create units >/dev/null
FILES="[#test_full_map_pieces],[#test_instances],[#test_tailnet],[#test_tailnet_batching],[#test_tailnet_policy],[#test_routes],[#test_relogin],[#test_ipalloc],[#test_device_approval]"
# The same selection on SQLite first, so a count that differs is seen.
run "$UNIT" -# "$FILES"
expect_rc 0 "the selection on SQLite"
cases() { sed -n 's/^All tests passed (.* in \([0-9]*\) test cases)$/\1/p' <<<"$OUT"; }
sqlite_cases=$(cases)
[ "${sqlite_cases:-0}" -ge 20 ] || fail "only ${sqlite_cases:-0} test cases selected"
ok
HS_TEST_POSTGRES="host=$PGSOCK dbname=units user=$PGUSER_" run "$UNIT" -# "$FILES"
expect_rc 0 "the Tailnet unit tests on PostgreSQL"
pg_cases=$(cases)
[ "$pg_cases" = "$sqlite_cases" ] || fail "$pg_cases test cases on PostgreSQL, $sqlite_cases on SQLite"
[ "$(pq units 'SELECT version FROM hs_schema_version')" != "" ] || fail "the tests did not use PostgreSQL"
ok
# The headscale import's writes (ids kept, identity sequences moved past them) on PostgreSQL.
STORE=$HS_BIN/hs-unit-store
IMPORT_CASE="what is created after an import gets ids past the imported ones"
HS_TEST_POSTGRES="host=$PGSOCK dbname=units user=$PGUSER_" run "$STORE" "$IMPORT_CASE"
expect_rc 0 "the import's write test on PostgreSQL"
[[ "$OUT" == *"All tests passed"*"in 1 test case"* ]] || fail "the import's write test did not run: $OUT"
[ "$(pq units "SELECT count(*) FROM users WHERE name = 'carol'")" = 1 ] || fail "the import test did not use PostgreSQL"
ok
finish
