#!/usr/bin/env bash
# `make fuzz-long`: every libFuzzer target of the fuzz build for FUZZ_SECONDS (600) each, one
# after another, with its corpus kept outside the repo in FUZZ_CORPUS/<target>
# (~/.cache/hs/fuzz/<target>) so runs build on each other; the repo's seeds are read, never
# written. Prints, per target, the runs, the coverage and any crash file; exits 1 when a
# target found a crash, leak or timeout.
#   long.sh BUILD_FUZZ_DIR SRC_DIR
set -uo pipefail
bin=${1:?usage: long.sh BUILD_FUZZ_DIR SRC_DIR}/bin src=${2:?usage: long.sh BUILD_FUZZ_DIR SRC_DIR}
secs=${FUZZ_SECONDS:-600}
store=${FUZZ_CORPUS:-${XDG_CACHE_HOME:-$HOME/.cache}/hs/fuzz}
targets=("$bin"/fuzz_*)
[ -x "${targets[0]}" ] || { echo "long.sh: no fuzz targets in $bin (run 'make build-fuzz')" >&2; exit 2; }
failed=0
for t in "${targets[@]}"; do
  name=$(basename "$t") corpus=${name#fuzz_}
  mkdir -p "$store/$corpus/crashes"
  log=$store/$corpus/last.log
  echo "== $name: ${secs}s, corpus $store/$corpus" >&2
  # Crash, leak and timeout files land in crashes/ (-artifact_prefix); -timeout=5 s per input
  # as in the ctest runs (tests/fuzz/CMakeLists.txt).
  "$t" -max_total_time="$secs" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$store/$corpus/crashes/" "$store/$corpus" "$src/tests/fuzz/corpus/$corpus" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)
  crash=$(grep -oE "(Test unit|artifact_prefix.*; Test unit) written to [^ ]+" "$log" | grep -oE '[^ ]+$' | tail -1)
  printf '%s: %s runs, %s, corpus %s files%s\n' "$name" "${runs:-?}" "${cov:-cov ?}" \
    "$(find "$store/$corpus" -maxdepth 1 -type f ! -name last.log | wc -l)" "${crash:+, CRASH: $crash}"
  if [ "$rc" != 0 ] || [ -n "$crash" ]; then failed=1; echo "$name: exit $rc; see $log" >&2; fi
done
exit $failed
