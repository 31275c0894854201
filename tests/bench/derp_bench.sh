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
# BENCH_NICE (-15 as root: servers and load generator run at raised priority so builds and
# other work on the machine disturb the figures less; with the scheduler's autogroups a
# process's nice only counts inside its session, so the session's autogroup is raised too, and
# restored at exit), HS_DERPER_ARGS (extra flags for hs-derper), STUN_ONLY (1: only the STUN
# measurements, each round hs-stun, derper's STUN and the ceiling).
#
# The STUN ceiling is hs-bench-udp-echo: a bare recvmmsg/sendmmsg echo on the same core under the
# same load generator (hs-bench-stun --echo), what the kernel's UDP path allows one socket.
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
prio=()
old_group_nice=

stun_only=${STUN_ONLY:-0}
for b in hs-derper hs-stun hs-bench-derp hs-bench-stun hs-bench-udp-echo; do
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
  if [ -n "$old_group_nice" ]; then echo "$old_group_nice" >/proc/self/autogroup; fi
}
trap cleanup EXIT
if [ "$(id -u)" = 0 ]; then
  prio=(nice -n "${BENCH_NICE:--15}")
  if [ -w /proc/self/autogroup ]; then
    old_group_nice=$(sed -n 's/.* nice //p' /proc/self/autogroup)
    echo "${BENCH_NICE:--15}" >/proc/self/autogroup
  fi
fi

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
  "${prio[@]}" taskset -c "$server_cpu" "$@" >"$log" 2>&1 &
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
  out=$("${prio[@]}" taskset -c "$load_cpu" "$bin/$tool" --server-pid "$server_pid" --label "$label" --duration "$duration" \
        --warmup "$warmup" "$@")
  results+=("$(jq -c --arg load "$load" --arg tool "$tool" --argjson round "$round" \
    '. + {load_before: ($load | tonumber), tool: $tool, round: $round}' <<<"$out")")
}

# The highest paced rate the relay carries with at most 1% loss. A flood shows what a server does
# when overrun; this shows what it sustains. Rates (packets/s per connection) grow by half from
# SWEEP_START until a step loses more than 1% or delivers under 95% of the offer, then three
# bisections narrow the gap. Records the best step's JSON under "<label> paced".
paced() {
  "${prio[@]}" taskset -c "$load_cpu" "$bin/hs-bench-derp" --server-pid "$server_pid" --label "$label paced" \
    --port "$port" --pairs "$pairs" --size "$size" --duration "${SWEEP_STEP:-3s}" --warmup 500ms --drain 500ms --rate "$1"
}
kept_up() {
  jq -e --argjson want "$(($1 * 2 * pairs))" '.loss_pct <= 1 and .rx_packets_per_s >= 0.95 * $want' >/dev/null <<<"$2"
}
sweep() {
  local label=$1 port=$2 rate=${SWEEP_START:-2000} good=0 bad=0 best='' out mid load
  load=$(load_now)
  echo "derp_bench: $label paced sweep from $rate packets/s per connection (load average $load)" >&2
  while :; do
    out=$(paced "$rate")
    if ! kept_up "$rate" "$out"; then bad=$rate; break; fi
    good=$rate best=$out rate=$((rate * 3 / 2))
    [ "$rate" -le 200000 ] || break
  done
  if [ "$good" -gt 0 ] && [ "$bad" -gt 0 ]; then
    for _ in 1 2 3; do
      mid=$(((good + bad) / 2))
      out=$(paced "$mid")
      if kept_up "$mid" "$out"; then good=$mid best=$out; else bad=$mid; fi
    done
  fi
  [ -n "$best" ] || best=$(jq -c '.rx_packets_per_s = 0' <<<"$out")
  echo "derp_bench: $label sustains $good packets/s per connection (first failing rate: ${bad:-none})" >&2
  results+=("$(jq -c --arg load "$load" --argjson bad "$bad" \
    '. + {load_before: ($load | tonumber), tool: "sweep", first_failing_rate_per_conn: $bad}' <<<"$best")")
}

bench_hs_stun() {
  local stun
  stun=$(free_port)
  start_server "$work/hs-stun.log" "$bin/hs-stun" -a "127.0.0.1:$stun" --log-level warn
  sleep 0.3
  measure hs-stun hs-bench-stun --port "$stun"
  stop_server
}

bench_ceiling() {
  local stun
  stun=$(free_port)
  start_server "$work/echo.log" "$bin/hs-bench-udp-echo" -a "127.0.0.1:$stun"
  sleep 0.3
  measure "UDP echo ceiling" hs-bench-stun --port "$stun" --echo
  stop_server
}

bench_hs() {
  local port stun
  port=$(free_port)
  stun=$(free_port)
  start_server "$work/hs-derper.log" "$bin/hs-derper" -a "127.0.0.1:$port" -c "$work/hs-derper.key" \
    --hostname 127.0.0.1 --self-signed --stun-port "$stun" --log-level warn ${HS_DERPER_ARGS:-}
  wait_tcp "$port"
  measure hs-derper hs-bench-derp --port "$port" --pairs "$pairs" --size "$size" --drain 1s
  sweep hs-derper "$port"
  measure "hs-derper --stun" hs-bench-stun --port "$stun"
  stop_server
  bench_hs_stun
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
  if [ "$stun_only" != 1 ]; then
    measure derper hs-bench-derp --port "$port" --pairs "$pairs" --size "$size" --drain 1s
    sweep derper "$port"
  fi
  measure "derper STUN" hs-bench-stun --port "$stun"
  stop_server
}

round=0
for r in $(seq "$rounds"); do
  round=$r
  if [ "$stun_only" = 1 ]; then
    if [ $((r % 2)) -eq 1 ]; then bench_hs_stun; bench_derper; bench_ceiling; else bench_ceiling; bench_derper; bench_hs_stun; fi
  elif [ $((r % 2)) -eq 1 ]; then bench_hs; bench_derper; bench_ceiling; else bench_ceiling; bench_derper; bench_hs; fi
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
                      else fmt(med(a; f) / med(b; f); 2) + "x" end;
  def pair(a; b; f): . as $all | [$all[] | select(.server == a) | . as $x | $all[]
                      | select(.server == b and .round == $x.round and (f) > 0) | ($x | f) / (f)]
                      | if length == 0 then "-" else "\(fmt(median; 2))x (rounds: \(map(fmt(.; 2)) | join(", ")))" end;'
report() { jq -r "$defs $1" <<<"$all"; }

report '.[] | select(.tool == "hs-bench-derp") | "DERP relay: \(.pairs) pairs over TLS, \(.packet_bytes)-byte packets, \(.duration_s) s per flood run"' | sed -n 1p
echo "derper $TS_VERSION; servers on CPU $server_cpu, load generator on CPU $load_cpu; medians of $rounds round(s)"
echo "flood: every connection sends as fast as the server reads; paced: the highest offered rate with <= 1% loss"
report '["server", "packets/s", "Mbit/s", "loss %", "CPU s", "pkts/CPU s", "peak RSS MiB", "loadgen CPU", "load"],
  (["hs-derper", "derper", "hs-derper paced", "derper paced"][] as $l | [$l, fmt(med($l; .rx_packets_per_s); 0),
    fmt(med($l; .rx_mbit_per_s); 0), fmt(med($l; .loss_pct); 2), fmt(med($l; .server_cpu_s); 2),
    fmt(med($l; .packets_per_server_cpu_s); 0), fmt(med($l; .server_peak_rss_kib / 1024); 1),
    fmt(med($l; .loadgen_cpu_util); 2), fmt(med($l; .load_before); 2)])
  | @tsv' | column -t -s $'\t'
echo
echo "STUN: valid binding responses per second"
report '["server", "responses/s", "CPU s", "resp/CPU s", "peak RSS MiB", "loadgen CPU", "load"],
  (["hs-stun", "hs-derper --stun", "derper STUN", "UDP echo ceiling"][] as $l | [$l, fmt(med($l; .responses_per_s); 0),
    fmt(med($l; .server_cpu_s); 2), fmt(med($l; .responses_per_s * .duration_s / .server_cpu_s); 0),
    fmt(med($l; .server_peak_rss_kib / 1024); 1), fmt(med($l; .loadgen_cpu_util); 2), fmt(med($l; .load_before); 2)])
  | @tsv' | column -t -s $'\t'
echo
report '"ours / derper (targets: relay 2x, STUN 3x)\n  relay flood packets/s \(ratio("hs-derper"; "derper"; .rx_packets_per_s)), paced (<= 1% loss) packets/s \(ratio("hs-derper paced"; "derper paced"; .rx_packets_per_s)), flood packets per CPU s \(ratio("hs-derper"; "derper"; .packets_per_server_cpu_s))\n  hs-stun responses/s \(ratio("hs-stun"; "derper STUN"; .responses_per_s)), hs-derper --stun \(ratio("hs-derper --stun"; "derper STUN"; .responses_per_s))\n  hs-stun / UDP echo ceiling \(ratio("hs-stun"; "UDP echo ceiling"; .responses_per_s)), derper STUN / ceiling \(ratio("derper STUN"; "UDP echo ceiling"; .responses_per_s))\nround by round (median, then each round)\n  hs-stun / derper STUN \(pair("hs-stun"; "derper STUN"; .responses_per_s))\n  hs-stun / UDP echo ceiling \(pair("hs-stun"; "UDP echo ceiling"; .responses_per_s))\n  derper STUN / UDP echo ceiling \(pair("derper STUN"; "UDP echo ceiling"; .responses_per_s))"'
