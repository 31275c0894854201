#!/usr/bin/env bash
# Profiles hs-control under the load generator: hs-control runs under `perf record` (one
# profile per server process: the first covers register, connect and the chosen scenario, the
# second the storm restart when "storm" is chosen), then prints each profile's hottest symbols
# and the hs-control functions with the most time including callees. `perf report -i FILE
# --time 60%-100%` narrows a profile to its last part (the scenario after register/connect).
#
#   profile.sh N SCENARIO [OUTDIR]    e.g. profile.sh 500 churn /tmp/prof
#
# Needs perf (linux-perf); HS_BIN as for run.sh. Profiles stay in OUTDIR for `perf report -i`.
set -euo pipefail
HS_SRC=$(cd "$(dirname "$0")/../.." && pwd)
HS_BIN=${HS_BIN:-$HS_SRC/build/bin}
# shellcheck source=servers.sh
. "$HS_SRC/tests/bench/servers.sh"
n=${1:?usage: profile.sh N SCENARIO [OUTDIR]} scenario=${2:?usage: profile.sh N SCENARIO [OUTDIR]}
out=${3:-$(mktemp -d /tmp/hs-profile.XXXXXX)}
mkdir -p "$out"
command -v perf >/dev/null || { echo "profile.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }
bash "$HS_SRC/tests/bench/loadgen.sh" build "$out/hs-loadgen"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
hs_setup "$out/hs" $((23000 + $$ % 1000 * 4)) >/dev/null
# Each start of the server gets its own profile, numbered by start time.
perf_cmd="perf record -q -F 99 --call-graph dwarf,8192 -o $out/perf.\$(date +%s%N).data --"
"$out/hs-loadgen" run --label hs --url "$SERVER_URL" --server-cmd "$perf_cmd $SERVER_CMD" \
  --ready-url "$READY_URL" --key-cmd "$KEY_CMD" --server-log "$out/hs/server.log" --nodes "$n" \
  --scenarios "$scenario" --churn-duration "${BENCH_CHURN_DURATION:-30s}" >"$out/result.json"
# `head` closes the pipes early; that is not a failure.
set +o pipefail
for f in "$out"/perf.*.data; do
  echo "=== $f"
  echo "--- self time"
  perf report -i "$f" --stdio --no-children --sort dso,symbol --percent-limit 1.5 -g none 2>/dev/null |
    grep -v '^#' | grep -v '^$' | sed 's/ *$//' | cut -c1-150 | head -25
  echo "--- with callees, hs-control functions"
  perf report -i "$f" --stdio --children --sort symbol --percent-limit 2 -g none 2>/dev/null |
    grep -E 'hs::|ZSTD_compressCCtx|sqlite3_step|__libc_sendmsg|crypto_aead' | sed 's/ *$//' | cut -c1-150 | head -25
done
echo "profiles and result in $out" >&2
