#!/usr/bin/env bash
# `make bench-scale`: a tailnet growing to BENCH_SCALE_NODES nodes (each streams as soon as it
# is registered), against hs-control and then headscale; replaces the scale section of
# docs/benchmarks.md and writes docs/bench/results/scale-*.json.
#
# Environment: BENCH_SCALE_NODES (10000), BENCH_SCALE_HOLD (60s), BENCH_SCALE_SERVERS
# ("hs headscale"), BENCH_SCALE_LIMIT (seconds per server, 1500; a server slower than that is
# reported as far as it got), BENCH_PIN (1: server on CPU 0, generator on CPU 1), HS_BIN.
# Everything listens on 127.0.0.1; every wait is bounded.
set -euo pipefail
HS_SRC=$(cd "$(dirname "$0")/../.." && pwd)
HS_BIN=${HS_BIN:-$HS_SRC/build/bin}
# shellcheck source=../interop/versions.env
. "$HS_SRC/tests/interop/versions.env"
# shellcheck source=servers.sh
. "$HS_SRC/tests/bench/servers.sh"
n=${BENCH_SCALE_NODES:-10000}
limit=${BENCH_SCALE_LIMIT:-1500}
results=$HS_SRC/docs/bench/results
log() { echo "[$(date +%H:%M:%S)] bench-scale: $*" >&2; }
command -v jq >/dev/null || { log "jq is needed"; exit 1; }
for b in hs-control hs-admin hs-derpmap; do
  [ -x "$HS_BIN/$b" ] || { log "$HS_BIN/$b is missing; run 'make build' first"; exit 1; }
done

work=$(mktemp -d /tmp/hs-bench-scale.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
cp "$HS_BIN/hs-control" "$HS_BIN/hs-admin" "$HS_BIN/hs-derpmap" "$work/bin/"
HS_BIN=$work/bin
bash "$HS_SRC/tests/bench/loadgen.sh" build "$work/hs-loadgen"
# Each node holds one TCP connection: one descriptor in the server and one in the generator,
# each process under its own limit.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
if [ "$(ulimit -n)" -lt $((n + 1000)) ]; then
  log "ulimit -n is $(ulimit -n); $((n + 1000)) descriptors are needed for $n nodes"
  exit 1
fi

bench_pin_port_version
mkdir -p "$results"
files=()
for s in ${BENCH_SCALE_SERVERS:-hs headscale}; do
  dir="$work/$s"
  if [ "$s" = hs ]; then
    hs_setup "$dir" "$port" $srv_cpu >/dev/null
    version=$hs_version
  else
    bash "$HS_SRC/tests/bench/headscale.sh" install
    headscale_setup "$dir" $((port + 5)) "$(bash "$HS_SRC/tests/bench/headscale.sh" bin)" $srv_cpu >/dev/null
    version=$HEADSCALE_VERSION
  fi
  log "$s, growing to N=$n (limit ${limit}s); uptime:$(uptime)"
  # Registration is cut off after the limit; waiting for maps and the hold come on top of it.
  if ! timeout --kill-after=30 $((limit + 900)) "${gen_pin[@]}" "$work/hs-loadgen" run --scenarios scale \
      --register-limit "${limit}s" --deadline $((limit + 600))s --phase-timeout 240s --hold "${BENCH_SCALE_HOLD:-60s}" \
      --label "$s" --version "$version" --url "$SERVER_URL" --server-cmd "$SERVER_CMD" \
      --ready-url "$READY_URL" --key-cmd "$KEY_CMD" --server-log "$dir/server.log" --nodes "$n" \
      --observers "${BENCH_OBSERVERS:-5}" >"$dir/result.json"; then
    log "$s: the run ended early; last lines of its server log:"
    tail -n 20 "$dir/server.log" >&2 || true
  fi
  if [ -s "$dir/result.json" ] && jq -e .scale "$dir/result.json" >/dev/null 2>&1; then
    cp "$dir/result.json" "$results/scale-$s.json"
    files+=("$results/scale-$s.json")
  fi
  rm -rf "$dir/db.sqlite"*
done
[ ${#files[@]} -gt 0 ] || { log "no result"; exit 1; }
"$work/hs-loadgen" scale-report --out "$HS_SRC/docs/benchmarks.md" --hs-version "$hs_version" \
  --generator "tailscale.com $TS_VERSION" "${files[@]}"
log "wrote the scale section of docs/benchmarks.md"
