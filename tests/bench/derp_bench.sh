#!/usr/bin/env bash
# DERP relay and STUN throughput: hs-derper and hs-stun against Tailscale's derper (built from
# the Go module proxy at TS_VERSION), in one run, on loopback only.
#
#   tests/bench/derp_bench.sh [--json]
#
# Relay: hs-bench-derp connects PAIRS client pairs over TLS; both ends of each pair send SIZE-byte
# packets to each other as fast as the server accepts them for DURATION (after WARMUP). STUN:
# hs-bench-stun keeps a window of binding requests outstanding on several sockets. The server
# runs pinned to CPU SERVER_CPU and the load generator to LOAD_CPU, so each has a core and the
# server is the one measured. Prints a table (or, with --json, one JSON object per measurement)
# on stdout; progress on stderr.
#
# Environment: HS_BIN (default build/bin), DURATION (10s), WARMUP (1s), PAIRS (10), SIZE (1400),
# SERVER_CPU (0), LOAD_CPU (1), ROUNDS (1; rounds alternate which server goes first),
# HS_DERPER_ARGS (extra flags for hs-derper).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/tests/interop/versions.env"

json=0
[ "${1:-}" = "--json" ] && json=1
bin=${HS_BIN:-$root/build/bin}
duration=${DURATION:-10s}
warmup=${WARMUP:-1s}
pairs=${PAIRS:-10}
size=${SIZE:-1400}
server_cpu=${SERVER_CPU:-0}
load_cpu=${LOAD_CPU:-1}
rounds=${ROUNDS:-1}

for b in hs-derper hs-stun hs-bench-derp hs-bench-stun; do
  [ -x "$bin/$b" ] || { echo "derp_bench: $bin/$b is missing (build first, or set HS_BIN)" >&2; exit 1; }
done
derper=$(bash "$root/tests/interop/tailscale.sh" derper "$TS_VERSION")

work=$(mktemp -d /tmp/hs-derp-bench.XXXXXX)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

# A port nobody listens on (TCP and UDP), from the dynamic range.
free_port() {
  local p
  for _ in $(seq 100); do
    p=$((20000 + RANDOM % 30000))
    if [ -z "$(ss -Htuln "sport = :$p" 2>/dev/null)" ]; then echo "$p"; return 0; fi
  done
  echo "derp_bench: no free port found" >&2
  return 1
}

wait_tcp() {
  local port=$1 i
  for i in $(seq 100); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  echo "derp_bench: nothing listens on 127.0.0.1:$port after 10 s" >&2
  return 1
}

# Starts a server pinned to the server CPU; its PID lands in $server_pid.
start_server() {
  local log=$1
  shift
  taskset -c "$server_cpu" "$@" >"$log" 2>&1 &
  server_pid=$!
  pids+=("$server_pid")
}

stop_server() {
  kill "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
}

load_now() { cut -d' ' -f1 /proc/loadavg; }

results=()
# Runs one load generator against the current server and records its JSON with the load average.
measure() {
  local label=$1 tool=$2 load out
  shift 2
  load=$(load_now)
  echo "derp_bench: $label ($tool, load average $load)" >&2
  out=$(taskset -c "$load_cpu" "$bin/$tool" --server-pid "$server_pid" --label "$label" --duration "$duration" \
        --warmup "$warmup" "$@")
  results+=("$(jq -c --arg load "$load" --arg tool "$tool" '. + {load_before: ($load | tonumber), tool: $tool}' <<<"$out")")
}

bench_hs() {
  local port stun
  port=$(free_port)
  stun=$(free_port)
  start_server "$work/hs-derper.log" "$bin/hs-derper" -a "127.0.0.1:$port" -c "$work/hs-derper.key" \
    --hostname 127.0.0.1 --self-signed --stun-port "$stun" --log-level warn ${HS_DERPER_ARGS:-}
  wait_tcp "$port"
  measure hs-derper hs-bench-derp --port "$port" --pairs "$pairs" --size "$size"
  measure "hs-derper --stun" hs-bench-stun --port "$stun"
  stop_server
  stun=$(free_port)
  start_server "$work/hs-stun.log" "$bin/hs-stun" -a "127.0.0.1:$stun" --log-level warn
  sleep 0.3
  measure hs-stun hs-bench-stun --port "$stun"
  stop_server
}

bench_derper() {
  local port stun
  port=$(free_port)
  stun=$(free_port)
  # With an IP address as host name and -certmode manual, derper makes its own self-signed
  # certificate in -certdir.
  start_server "$work/derper.log" "$derper" -a "127.0.0.1:$port" -c "$work/derper.json" -certmode manual \
    -certdir "$work/certs" -hostname 127.0.0.1 -http-port -1 -stun-port "$stun"
  wait_tcp "$port"
  measure derper hs-bench-derp --port "$port" --pairs "$pairs" --size "$size"
  measure "derper STUN" hs-bench-stun --port "$stun"
  stop_server
}

for r in $(seq "$rounds"); do
  if [ $((r % 2)) -eq 1 ]; then bench_hs; bench_derper; else bench_derper; bench_hs; fi
done

all=$(printf '%s\n' "${results[@]}" | jq -s -c .)
if [ "$json" = 1 ]; then
  printf '%s\n' "${results[@]}"
  exit 0
fi

# Medians over the rounds, then ratios of ours to derper's.
defs='def median: sort | if length == 0 then null else .[(length - 1) / 2 | floor] end;
  def med(l; f): [.[] | select(.server == l) | f] | median;
  def fmt(x; d): if x == null then "-" else (x * pow(10; d) | round / pow(10; d) | tostring) end;
  def ratio(a; b; f): if (med(a; f) == null or med(b; f) == null or med(b; f) == 0) then "-"
                      else fmt(med(a; f) / med(b; f); 2) + "x" end;'
report() { jq -r "$defs $1" <<<"$all"; }

report '.[] | select(.tool == "hs-bench-derp") | "DERP relay: \(.pairs) pairs over TLS, \(.packet_bytes)-byte packets, \(.duration_s) s per run" ' | head -1
echo "derper $TS_VERSION; servers on CPU $server_cpu, load generator on CPU $load_cpu; medians of $rounds round(s)"
report '["server", "packets/s", "Mbit/s", "loss %", "CPU s", "pkts/CPU s", "peak RSS MiB", "loadgen CPU", "load"],
  (["hs-derper", "derper"][] as $l | [$l, fmt(med($l; .rx_packets_per_s); 0), fmt(med($l; .rx_mbit_per_s); 0),
    fmt(med($l; .loss_pct); 2), fmt(med($l; .server_cpu_s); 2), fmt(med($l; .packets_per_server_cpu_s); 0),
    fmt(med($l; .server_peak_rss_kib / 1024); 1), fmt(med($l; .loadgen_cpu_util); 2), fmt(med($l; .load_before); 2)])
  | @tsv' | column -t -s $'\t'
echo
echo "STUN: valid binding responses per second"
report '["server", "responses/s", "CPU s", "resp/CPU s", "peak RSS MiB", "loadgen CPU", "load"],
  (["hs-stun", "hs-derper --stun", "derper STUN"][] as $l | [$l, fmt(med($l; .responses_per_s); 0),
    fmt(med($l; .server_cpu_s); 2), fmt(med($l; .responses_per_s * .duration_s / .server_cpu_s); 0),
    fmt(med($l; .server_peak_rss_kib / 1024); 1), fmt(med($l; .loadgen_cpu_util); 2), fmt(med($l; .load_before); 2)])
  | @tsv' | column -t -s $'\t'
echo
report '"ours / derper: relay packets/s \(ratio("hs-derper"; "derper"; .rx_packets_per_s)) (target 2x), relay packets per CPU s \(ratio("hs-derper"; "derper"; .packets_per_server_cpu_s)); hs-stun responses/s \(ratio("hs-stun"; "derper STUN"; .responses_per_s)) (target 3x), hs-derper --stun \(ratio("hs-derper --stun"; "derper STUN"; .responses_per_s))"'
