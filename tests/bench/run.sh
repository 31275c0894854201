#!/usr/bin/env bash
# `make bench`: hs-control and headscale under the same simulated load, one after the other,
# at each N; writes docs/benchmarks.md, its plots and the raw results (docs/bench/).
#
# Environment: BENCH_NODES ("100 500 2000"), BENCH_CHURN_RATE (10/s), BENCH_CHURN_DURATION
# (60s), BENCH_OBSERVERS (5), BENCH_PIN (1: server on CPU 0, generator on CPU 1),
# BENCH_RUN_LIMIT (seconds per server and N, 2400), HS_BIN (build/bin).
# Everything listens on 127.0.0.1; every wait is bounded.
set -euo pipefail
HS_SRC=$(cd "$(dirname "$0")/../.." && pwd)
HS_BIN=${HS_BIN:-$HS_SRC/build/bin}
# shellcheck source=../interop/versions.env
. "$HS_SRC/tests/interop/versions.env"
# shellcheck source=servers.sh
. "$HS_SRC/tests/bench/servers.sh"
nodes=${BENCH_NODES:-100 500 2000}
plots=$HS_SRC/docs/bench
out=$HS_SRC/docs/benchmarks.md
log() { echo "[$(date +%H:%M:%S)] bench: $*" >&2; }

need() {
  command -v "$1" >/dev/null && return 0
  log "installing $2 (for $1)"
  local sudo=""
  [ "$(id -u)" = 0 ] || sudo=sudo
  $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq "$2" >/dev/null
}
need gnuplot gnuplot-nox
need jq jq
need taskset util-linux
for b in hs-control hs-admin hs-derpmap; do
  [ -x "$HS_BIN/$b" ] || { log "$HS_BIN/$b is missing; run 'make build' first"; exit 1; }
done

work=$(mktemp -d /tmp/hs-bench.XXXXXX)
trap 'rm -rf "$work"' EXIT
# The binaries measured are copies: a rebuild during the hour this takes changes nothing here.
mkdir -p "$work/bin"
cp "$HS_BIN/hs-control" "$HS_BIN/hs-admin" "$HS_BIN/hs-derpmap" "$work/bin/"
HS_BIN=$work/bin
bash "$HS_SRC/tests/bench/loadgen.sh" build "$work/hs-loadgen"
bash "$HS_SRC/tests/bench/headscale.sh" install
headscale=$(bash "$HS_SRC/tests/bench/headscale.sh" bin)
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

bench_pin_port_version
mkdir -p "$plots/results"
rm -f "$plots/results/"*.json
for n in $nodes; do
  for s in hs headscale; do
    dir="$work/$s-$n"
    if [ "$s" = hs ]; then
      hs_setup "$dir" "$port" $srv_cpu >/dev/null
      version=$hs_version
    else
      headscale_setup "$dir" $((port + 5)) "$headscale" $srv_cpu >/dev/null
      version=$HEADSCALE_VERSION
    fi
    log "$s, N=$n; uptime:$(uptime)"
    limit=${BENCH_RUN_LIMIT:-2400}
    if timeout --kill-after=30 "$limit" "${gen_pin[@]}" "$work/hs-loadgen" run --deadline $((limit * 3 / 4))s \
        --label "$s" --version "$version" --url "$SERVER_URL" --server-cmd "$SERVER_CMD" \
        --ready-url "$READY_URL" --key-cmd "$KEY_CMD" --server-log "$dir/server.log" --nodes "$n" \
        --observers "${BENCH_OBSERVERS:-5}" --churn-rate "${BENCH_CHURN_RATE:-10}" \
        --churn-duration "${BENCH_CHURN_DURATION:-60s}" >"$dir/result.json"; then
      cp "$dir/result.json" "$plots/results/$s-$n.json"
    else
      log "$s, N=$n failed; last lines of its server log:"
      tail -n 20 "$dir/server.log" >&2 || true
      # A partial result (printed before the failure) still goes into the report.
      if [ -s "$dir/result.json" ] && jq -e . "$dir/result.json" >/dev/null 2>&1; then
        cp "$dir/result.json" "$plots/results/$s-$n.json"
      fi
    fi
    rm -rf "$dir/db.sqlite"*
  done
done
log "done; uptime:$(uptime)"
"$work/hs-loadgen" report --out "$out" --plots "$plots" \
  --hs-version "$hs_version" \
  --generator "tailscale.com $TS_VERSION" "$plots/results/"*.json
log "wrote $out and $plots/*.png"
