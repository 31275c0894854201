#!/usr/bin/env bash
# `make bench-multi` (also run by `make bench`): hs-control at BENCH_MULTI_NODES (2,000) nodes in
# three setups, each from an empty database and each behind the same HAProxy on loopback
# (tests/bench/multi_lib.sh): 1 instance on SQLite, 1 on PostgreSQL, 3 on one PostgreSQL
# database (a throwaway cluster, tests/cli/pg_lib.sh). hs-loadgen run --external measures
# register, connect, churn and join through HAProxy, each node from its own loopback address
# (--spread-sources). Meanwhile a sampler reads every second each instance's, PostgreSQL's and
# HAProxy's CPU ticks (/proc/PID/stat) and RSS, each instance's metrics, and PostgreSQL's
# committed transactions (pg_stat_database); the phases are cut at the generator's log lines.
# Writes docs/bench/results/multi/*.json (the samples as they were: *-samples.jsonl) and the
# "several instances on PostgreSQL" section of docs/benchmarks.md.
#
# Environment: BENCH_MULTI_NODES (2000), BENCH_CHURN_RATE (10/s), BENCH_CHURN_DURATION (60s),
# BENCH_OBSERVERS (5), BENCH_PIN (1: servers, PostgreSQL and HAProxy on CPU 0, the generator on
# CPU 1), BENCH_MULTI_SETUPS ("sqlite-1 pg-1 pg-3"), HS_BIN (build/bin). Needs root (PostgreSQL
# runs as user postgres). On a shared machine, hold a lock with flock -o LOCK, not flock: the
# daemons must not inherit its descriptor.
set -euo pipefail
HS_SRC=${HS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../interop/versions.env
. "$HS_SRC/tests/interop/versions.env"
# shellcheck source=../interop/lib.sh
. "$HS_SRC/tests/interop/lib.sh"
need_root
command -v jq >/dev/null || fail "jq is needed"
T=$LAB
# shellcheck source=../cli/pg_lib.sh
. "$HS_SRC/tests/cli/pg_lib.sh"
N=${BENCH_MULTI_NODES:-2000}
results=$HS_SRC/docs/bench/results/multi
out=$HS_SRC/docs/benchmarks.md
pg_started=""
LAB_ATEXIT+=(pg_stop)  # lab_cleanup stops the cluster after the lab's processes
srv_pin=() gen_pin=()
if [ "${BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ]; then srv_pin=(taskset -c 0) gen_pin=(taskset -c 1); fi
MULTI_PIN=(${srv_pin[@]+"${srv_pin[@]}"})
# shellcheck source=multi_lib.sh
. "$HS_SRC/tests/bench/multi_lib.sh"

# The binaries measured are copies: a rebuild during the run changes nothing here.
mkdir -p "$LAB/bin"
cp "$HS_BIN/hs-control" "$HS_BIN/hs-admin" "$HS_BIN/hs-derpmap" "$LAB/bin/"
HS_BIN=$LAB/bin
bash "$HS_SRC/tests/bench/loadgen.sh" build "$LAB/hs-loadgen" || fail "building hs-loadgen failed"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
hs_version=$(git -C "$HS_SRC" describe --always 2>/dev/null || echo unknown)
git -C "$HS_SRC" diff --quiet HEAD -- . ':!docs/bench' ':!docs/benchmarks.md' 2>/dev/null || hs_version+=-dirty
mkdir -p "$results"
hz=$(getconf CLK_TCK)

# ticks PID: user + system CPU ticks of PID, with its waited-for children's.
ticks() { awk '{print $14 + $15 + $16 + $17}' "/proc/$1/stat" 2>/dev/null || echo 0; }
rss_kb() { awk '$1 == "VmRSS:" {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
# pg_ticks: the whole PostgreSQL cluster's (postmaster, its live children, the exited ones).
pg_ticks() {
  local pm c t
  pm=$(head -n 1 "$PGSOCK/data/postmaster.pid" 2>/dev/null) || { echo 0; return; }
  t=$(ticks "$pm")
  for c in $(cat "/proc/$pm/task/$pm/children" 2>/dev/null); do t=$((t + $(ticks "$c"))); done
  echo "$t"
}
# sampler DB COUNT: one JSON line a second: time, each instance's ticks, RSS and metrics, HAProxy's
# ticks, PostgreSQL's ticks and committed transactions of DB.
sampler() {
  local db=$1 count=$2 i m
  set +e
  while :; do
    {
      printf '{"t":%s,"haproxy_ticks":%s' "${EPOCHREALTIME/,/.}" "$(ticks "$MULTI_HAP")"
      if [ "$db" != sqlite ]; then
        # The next transaction ID counts write transactions at once and without taking one;
        # pg_stat_database's commits (reads too) reach the view up to seconds late.
        printf ',"pg_ticks":%s,"pg_next_xid":%s,"pg_xact_commit":%s' "$(pg_ticks)" \
          "$(pq postgres "SELECT pg_snapshot_xmax(pg_current_snapshot())" 2>/dev/null || echo null)" \
          "$(pq postgres "SELECT xact_commit FROM pg_stat_database WHERE datname = '$db'" 2>/dev/null || echo null)"
      fi
      printf ',"hs":['
      for ((i = 1; i <= count; i++)); do
        m=$(set -o pipefail; curl -sf --max-time 3 "http://127.0.0.1:$(multi_mport "$i")/metrics" |
          awk '$1 == "hs_control_connected_clients" {c = $2} $1 ~ /^hs_control_map_messages_total/ {mm += $2}
               $1 ~ /^hs_control_map_bytes_total/ {mb += $2} $1 == "hs_control_registrations_total{outcome=\"ok\"}" {r = $2}
               END {printf "%d,%d,%d,%d", c, mm, mb, r}')
        # A scrape that failed is null (not zeros, which would read as counters reset).
        # shellcheck disable=SC2181
        [ $? = 0 ] && [[ $m == *,*,*,* ]] && m="[$m]" || m=null
        printf '%s{"ticks":%s,"rss_kb":%s,"m":%s}' "$([ "$i" = 1 ] || echo ,)" \
          "$(ticks "${MULTI_PID[$i]}")" "$(rss_kb "${MULTI_PID[$i]}")" "$m"
      done
      echo ']}'
    } >>"$LAB/samples.jsonl"
    sleep 1
  done
}

# phases LOG: the generator's phase boundaries, seconds since the epoch, from the times its log
# lines arrived (the first field of each line, written by run_setup).
phases() {
  awk -v churn="$(churn_seconds)" '
    / registering [0-9]+ nodes$/ { rs = $1 }
    / register [0-9.]+ nodes\/s$/ { re = $1 }
    / connect: [0-9]+ nodes have maps/ { ce = $1 }
    /: churn$/ { cs = $1 }
    END { printf "{\"register\":[%.3f,%.3f],\"connect\":[%.3f,%.3f],\"churn\":[%.3f,%.3f]}\n", rs, re, re, ce, cs, cs + churn }' "$1"
}
churn_seconds() {
  local d=${BENCH_CHURN_DURATION:-60s}
  case $d in *ms) echo "${d%ms} / 1000" | bc -l ;; *m) echo $((${d%m} * 60)) ;; *s) echo "${d%s}" ;; *) echo "$d" ;; esac
}

run_setup() { # run_setup NAME COUNT DB
  local name=$1 count=$2 db=$3 res="$results/$1.json" admin
  log "$name: $count instance(s) on $db, N=$N; uptime:$(uptime)"
  if [ "$db" != sqlite ]; then
    if [ -z "$pg_started" ]; then start_pg; pg_started=1; fi
    pg_create "$db" >/dev/null
  fi
  multi_start "$count" "$db"
  admin="$HS_BIN/hs-admin -c $MULTI_CONFIG"
  $admin users create bench >/dev/null || fail "users create"
  : >"$LAB/samples.jsonl"
  sampler "$db" "$count" &
  local spid=$!
  LAB_PIDS+=("$spid")
  local load_before
  load_before=$(uptime)
  if ! timeout --kill-after=30 1800 ${gen_pin[@]+"${gen_pin[@]}"} "$LAB/hs-loadgen" run --external --label "hs $name" \
      --version "$hs_version" --url "$MULTI_URL" --nodes "$N" --spread-sources \
      --key-cmd "$admin preauthkeys create -u bench --reusable -e 24h" \
      --observers "${BENCH_OBSERVERS:-5}" --churn-rate "${BENCH_CHURN_RATE:-10}" \
      --churn-duration "${BENCH_CHURN_DURATION:-60s}" --scenarios register,connect,churn,join \
      --phase-timeout 300s >"$LAB/$name.json" \
      2> >(while IFS= read -r l; do echo "$l" >&2; echo "${EPOCHREALTIME/,/.} $l"; done >"$LAB/$name.log"); then
    log "$name: hs-loadgen ended early; last lines of the instances' logs:"
    tail -n 5 "$LAB"/hs*.log >&2 || true
  fi
  sleep 1
  kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null || true
  jq -e . "$LAB/$name.json" >/dev/null 2>&1 || fail "$name: no result from hs-loadgen"
  for ((i = 1; i <= count; i++)); do
    kill -0 "${MULTI_PID[$i]}" 2>/dev/null || log "$name: instance $i is gone: $(tail -n 5 "$LAB/hs$i.log")"
  done
  # The capacity figures: per phase, each process's CPU-seconds, PostgreSQL's write transactions
  # and commits, and each instance's map messages, bytes and registrations, each taken between
  # the samples on either side of the phase's start and end, linearly interpolated; each
  # instance's RSS before register, and its RSS and streams in the first sample a second or more
  # after connect ended (a step, not interpolated).
  jq -s --argjson ph "$(phases "$LAB/$name.log")" --argjson hz "$hz" --arg db "$db" \
      --arg before "$load_before" --arg after "$(uptime)" --argjson count "$count" '
    . as $s
    | def at(t; f): [$s[] | select((f) != null)] as $v
        | ([$v[] | select(.t <= t)] | last // $v[0]) as $a
        | ([$v[] | select(.t >= t)] | first // ($v | last)) as $b
        | ($a | f) as $fa | ($b | f) as $fb
        | if $a == null or $fa == null or $fb == null then null
          elif $b.t == $a.t then $fa
          else $fa + ($fb - $fa) * (t - $a.t) / ($b.t - $a.t) end;
      def delta(a; b; f): if at(b; f) == null then null else at(b; f) - at(a; f) end;
      def r2: . * 100 | round / 100;
    {setup: {instances: $count, database: (if $db == "sqlite" then "sqlite" else "postgres" end),
             through: "haproxy"},
     uptime_before: $before, uptime_after: $after,
     phases: ($ph | with_entries(.value as [$a, $b] | .value = {
       seconds: ($b - $a | r2),
       instance_cpu_seconds: [range($count) as $i | delta($a; $b; .hs[$i].ticks) / $hz | r2],
       haproxy_cpu_seconds: (delta($a; $b; .haproxy_ticks) / $hz | r2),
       postgres_cpu_seconds: (delta($a; $b; .pg_ticks) | if . then . / $hz | r2 else null end),
       postgres_write_transactions: (delta($a; $b; .pg_next_xid) | if . then round else null end),
       postgres_commits: (delta($a; $b; .pg_xact_commit) | if . then round else null end),
       registrations_ok: [range($count) as $i | delta($a; $b; .hs[$i].m[3]) | round],
       map_messages: [range($count) as $i | delta($a; $b; .hs[$i].m[1]) | round],
       map_bytes: [range($count) as $i | delta($a; $b; .hs[$i].m[2]) | round]})),
     rss_before_register_kb: (([$s[] | select(.t <= $ph.register[0])] | last // $s[0]) | [.hs[].rss_kb]),
     after_connect: (([$s[] | select(.t >= $ph.connect[1] + 1 and all(.hs[]; .m != null))] | first // ($s | last))
                     | {rss_kb: [.hs[].rss_kb], streams: [.hs[].m[0]]})}
  ' "$LAB/samples.jsonl" >"$LAB/$name-capacity.json" || fail "$name: could not reduce the samples"
  jq -s '.[0] + {multi: .[1]}' "$LAB/$name.json" "$LAB/$name-capacity.json" >"$res"
  cp "$LAB/samples.jsonl" "$results/$name-samples.jsonl"
  log "$name: $(jq -c '{register: .register | {nodes_per_second, p99_ms}, connect: .connect.seconds, churn: .churn | {p50_ms, p99_ms, max_ms, delivered, expected_deliveries}, problems}' "$res")"
  multi_stop
  [ "$db" = sqlite ] || pq postgres "DROP DATABASE $db" >/dev/null || true
}

for s in ${BENCH_MULTI_SETUPS:-sqlite-1 pg-1 pg-3}; do
  case $s in
    sqlite-1) run_setup sqlite-1 1 sqlite ;;
    pg-1) run_setup pg-1 1 hs_pg1 ;;
    pg-3) run_setup pg-3 3 hs_pg3 ;;
    *) fail "unknown setup $s" ;;
  esac
done
log "done; uptime:$(uptime)"
bash "$HS_SRC/tests/bench/multi_report.sh" "$out" "$hs_version" "$results"
log "wrote the multi section of $out"
finish
