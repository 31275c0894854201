#!/usr/bin/env bash
# multi_report.sh OUT HS_VERSION DIR: the "several instances on PostgreSQL" section of OUT
# (docs/benchmarks.md) from DIR/*.json (tests/bench/multi_bench.sh's results), replacing the
# section between its markers, or appended when OUT has none. `make bench`'s report keeps it.
set -euo pipefail
out=$1 version=$2 dir=$3
begin='<!-- multi: written by make bench-multi (tests/bench/multi_bench.sh) -->'
end='<!-- /multi -->'
files=()
for s in sqlite-1 pg-1 pg-3; do [ -f "$dir/$s.json" ] && files+=("$dir/$s.json"); done
[ ${#files[@]} -gt 0 ] || { echo "multi_report: no results in $dir" >&2; exit 1; }
first=${files[0]}
block=$(mktemp)
trap 'rm -f "$block"' EXIT
{
  echo "$begin"
  echo "## several instances on PostgreSQL"
  echo
  echo "hs-control at N = $(jq .nodes "$first") in three setups, each from an empty database, all through the same HAProxy on loopback (leastconn, one backend server or three): one instance on SQLite, one on PostgreSQL, three on one PostgreSQL database. \`hs-loadgen run --external\`, every node from its own loopback address (\`--spread-sources\`); churn at $(jq .churn.rate_per_second "$first")/s for $(jq .churn.duration_seconds "$first") s, $(jq .observers "$first") observers."
  echo
  echo "- date: $(jq -r .started "$first" | cut -c1-16 | tr T ' ') UTC; hs: $version"
  echo "- machine: $(nproc) cores, shared: the servers, PostgreSQL and HAProxy on CPU 0, the generator on CPU 1 (\`BENCH_PIN=1\`), and other work on the machine (builds) as the load averages show. Three instances on one core measure what spreading costs, not what it gains: on separate machines each would have its own."
  echo "- load average (1 min) before / after: $(for f in "${files[@]}"; do jq -r '"\(.server | sub("^hs "; "")): \(.multi.uptime_before | capture("load average: (?<a>[0-9.]+)").a) / \(.multi.uptime_after | capture("load average: (?<a>[0-9.]+)").a)"' "$f"; done | paste -sd, - | sed 's/,/, /g')"
  echo
  echo "| setup | register nodes/s | register p99 (ms) | connect: all maps (s) | churn p50 (ms) | churn p99 (ms) | churn max (ms) | churn delivered / expected | join p50 (ms) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
  for f in "${files[@]}"; do
    jq -r 'def r1: . * 10 | round / 10; def r2: . * 100 | round / 100;
      "| \(.multi.setup.instances) × hs-control, \(.multi.setup.database) | \(.register.nodes_per_second | round) | \(.register.p99_ms | r1) | \(.connect.seconds | r2) | \(.churn.p50_ms | r1) | \(.churn.p99_ms | r1) | \(.churn.max_ms | r1) | \(.churn.delivered) / \(.churn.expected_deliveries) | \(.join.p50_ms // null | if . then r1 else "-" end) |"' "$f"
  done
  echo
  echo "What the servers spent, from samples taken every second and interpolated at the generator's phase boundaries: CPU-seconds of each instance (\`/proc/PID/stat\`), of PostgreSQL (the postmaster and its children) and of HAProxy; PostgreSQL's write transactions (transaction IDs assigned) per second and per registration, and its commits (\`pg_stat_database\`, reads too, seconds late) per registration; the map messages all instances sent (their \`hs_control_map_messages_total\`) per second of churn, and their mean size (\`hs_control_map_bytes_total\`); a second after connect, each instance's streams (\`hs_control_connected_clients\`), its RSS, and its RSS gained since before register per stream."
  echo
  echo "| setup | register: s | instances CPU-s | PostgreSQL CPU-s | write transactions/s | per registration | commits per registration | churn: instances CPU-s | PostgreSQL CPU-s | HAProxy CPU-s | map messages/s | bytes per message | streams per instance | RSS (MiB) | RSS gained per stream (KiB) |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for f in "${files[@]}"; do
    jq -r '.multi as $m | ($m.phases.register) as $r | ($m.phases.churn) as $c | .register.ok as $ok
      | def r1: . * 10 | round / 10; def list: map(r1 | tostring) | join(" + "); def opt(f): if . == null then "-" else f end;
      "| \($m.setup.instances) × hs-control, \($m.setup.database) | \($r.seconds | r1) | \($r.instance_cpu_seconds | list) | \($r.postgres_cpu_seconds | opt(r1)) | \($r.postgres_write_transactions | opt(. / $r.seconds | round)) | \($r.postgres_write_transactions | opt(. / $ok | r1)) | \($r.postgres_commits | opt(. / $ok | r1)) | \($c.instance_cpu_seconds | list) | \($c.postgres_cpu_seconds | opt(r1)) | \($c.haproxy_cpu_seconds | r1) | \(($c.map_messages | add) / $c.seconds | round) | \(($c.map_bytes | add) / ($c.map_messages | add) | round) | \($m.after_connect.streams | map(tostring) | join(" / ")) | \($m.after_connect.rss_kb | map(. / 1024 | r1 | tostring) | join(" / ")) | \([$m.after_connect.rss_kb, $m.rss_before_register_kb, $m.after_connect.streams] | transpose | map(if .[2] > 0 then ((.[0] - .[1]) / .[2] | round | tostring) else "-" end) | join(" / ")) |"' "$f"
  done
  echo
  probs=$(jq -r '.server as $s | .problems[]? | "- \($s): \(.)"' "${files[@]}")
  if [ -n "$probs" ]; then echo "Problems the load generator saw:"; echo; echo "$probs"; echo; fi
  # docs/bench/multi-notes.md, when present, is what a person found in these results; it is
  # appended as it is (delete or update it with new results).
  notes=$(dirname "$dir")/../multi-notes.md
  if [ -f "$notes" ]; then cat "$notes"; echo; fi
  echo "Raw results: bench/results/multi/*.json (the generator's result, and under \`multi\` the samples reduced per phase)."
  echo "$end"
} >"$block"
if [ -f "$out" ] && grep -qF "$begin" "$out" && grep -qF "$end" "$out"; then
  awk -v b="$begin" -v e="$end" -v f="$block" '
    $0 == b { while ((getline l < f) > 0) print l; skip = 1; next }
    skip && $0 == e { skip = 0; next }
    !skip' "$out" >"$out.new" && mv "$out.new" "$out"
else
  { [ ! -s "$out" ] || { cat "$out"; echo; }; cat "$block"; } >"$out.new" && mv "$out.new" "$out"
fi
