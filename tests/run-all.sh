#!/usr/bin/env bash
# Runs every test suite: units, CLI, policy captures and real-client tests on the -Werror build,
# units and CLI again under AddressSanitizer and UBSan, then each fuzz target briefly, then
# hs-derper under ThreadSanitizer with a short concurrent load (tests/bench/derp_tsan.sh). Prints
# one closing line "N passed, N failed" over all of them and exits non-zero if anything failed.
set -uo pipefail
build=${1:-build} asan=${2:-build-asan} fuzz=${3:-build-fuzz} tsan=${4:-build-tsan}
total_pass=0 total_fail=0 rc=0

suite() {
  local name=$1 dir=$2
  shift 2
  echo "=== $name" >&2
  local log
  log=$(mktemp)
  (cd "$dir" && ctest --output-on-failure "$@") 2>&1 | tee "$log"
  local status=${PIPESTATUS[0]}
  local line passed failed all
  line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n1)
  if [ -n "$line" ]; then
    failed=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/')
    all=$(echo "$line" | sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/')
    passed=$((all - failed))
  else
    passed=0 failed=1
  fi
  [ "$status" -ne 0 ] && [ "$failed" -eq 0 ] && failed=1
  total_pass=$((total_pass + passed)); total_fail=$((total_fail + failed))
  [ "$failed" -ne 0 ] && rc=1
  rm -f "$log"
}

export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
# Everything but the real-client suites runs on every core; those take turns (RUN_SERIAL: each
# lab owns its namespaces and ports, and some check how fast a change arrives).
jobs=$(nproc)
suite "unit, cli, policy and bench-smoke tests" "$build" -LE interop -j "$jobs"
suite "real-client (interop) tests" "$build" -L interop
suite "unit and cli tests under address,undefined sanitizers" "$asan" -L unit -j "$jobs"
suite "fuzz targets on their seed corpora" "$fuzz" -j "$jobs"
suite "hs-derper under thread sanitizer" "$tsan" -L tsan

echo
echo "all suites: $total_pass passed, $total_fail failed"
exit $rc
