#!/usr/bin/env bash
# Runs every test suite: units, CLI, policy captures and real-client tests on the -Werror build,
# units and CLI again under AddressSanitizer and UBSan, then each fuzz target briefly, then
# hs-derper under ThreadSanitizer with a short concurrent load (tests/bench/derp_tsan.sh). Prints
# one closing line "N passed, N failed" over all of them and exits non-zero if anything failed.
#
# Two legs run side by side. The main leg runs the suites of the -Werror build in the
# foreground. The sanitizer leg, at nice 19, runs the suites of the three sanitizer trees once
# the main leg's unit and CLI suite is over. `make test` builds those trees in the background at
# nice 19 from its start and names, in HS_SANITIZER_TREES_RC, the file where that build leaves
# its exit status (its log beside it, .log for .rc); the leg waits for it. The real-client suites
# mostly wait on clients and timers, so on a fresh machine the sanitizer trees compile in that
# time instead of after it. The leg's output is printed when it ends.
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
jobs=$(nproc)
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT

# The sanitizer leg, in a subshell: it reports its totals through $state/leg.
sanitizer_leg() {
  local trees=${HS_SANITIZER_TREES_RC:-}
  if [ -n "$trees" ]; then
    while [ ! -s "$trees" ]; do sleep 2; done
    echo "=== the sanitizer trees built (make test's background build ended ${SECONDS} s into this run)" >&2
    if [ "$(cat "$trees")" != 0 ]; then
      tail -n 60 "${trees%.rc}.log"
      echo "FAILED: building the sanitizer trees (whole log: ${trees%.rc}.log)"
      echo "0 1 1" >"$state/leg"
      return
    fi
  fi
  # Their unit and CLI suites would otherwise share the cores with the main leg's.
  while [ ! -e "$state/units-done" ]; do sleep 1; done
  suite "unit and cli tests under address,undefined sanitizers" "$asan" -L unit -j "$jobs"
  suite "fuzz targets on their seed corpora" "$fuzz" -j "$jobs"
  suite "hs-derper under thread sanitizer" "$tsan" -L tsan
  echo "$total_pass $total_fail $rc" >"$state/leg"
}
(renice -n 19 -p $BASHPID >/dev/null; sanitizer_leg) >"$state/leg.log" 2>&1 &
leg=$!

# Everything but the real-client suites runs on every core; those take turns (RUN_SERIAL: each
# lab owns its namespaces and ports, and some check how fast a change arrives).
suite "unit, cli, policy and bench-smoke tests" "$build" -LE interop -j "$jobs"
touch "$state/units-done"
suite "real-client (interop) tests" "$build" -L interop

wait "$leg"
cat "$state/leg.log"
if read -r p f r <"$state/leg" 2>/dev/null; then
  total_pass=$((total_pass + p)); total_fail=$((total_fail + f))
  [ "$r" -ne 0 ] && rc=1
else
  echo "FAILED: the sanitizer leg ended without its totals"
  total_fail=$((total_fail + 1)); rc=1
fi

echo
echo "all suites: $total_pass passed, $total_fail failed"
exit $rc
