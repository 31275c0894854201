#!/usr/bin/env bash
# hs-admin nodes list on a generated database of N nodes (default 10,000): prints the time of
# `hs-admin nodes list -o json | jq length` (target: under 100 ms for 10,000) and of hs-admin
# alone. hs-admin streams the list (the first bytes leave before the last row is read), so the
# pipe costs about what jq alone takes to parse the output, printed last. A measurement, not a
# pass/fail test. Usage: admin_list_bench.sh [N] [RUNS]
set -euo pipefail
HS_SRC=${HS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
HS_BIN=${HS_BIN:-$HS_SRC/build/bin}
N=${1:-10000}
RUNS=${2:-5}
T=$(mktemp -d /tmp/hs-bench.XXXXXX)
trap 'rm -rf "$T"' EXIT
printf 'dns: {base_domain: b.test}\ndatabase: {sqlite: {path: %s}}\n' "$T/db.sqlite" >"$T/config.yaml"
A=("$HS_BIN/hs-admin" -c "$T/config.yaml")

# Schema by hs-admin itself, rows by one SQL statement: 50 users, N nodes with realistic
# columns (keys, both addresses, a Hostinfo with routes, tags on every tenth node).
for i in $(seq 50); do "${A[@]}" users create "user$i" >/dev/null; done
sqlite3 "$T/db.sqlite" <<SQL
WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $N)
INSERT INTO nodes(machine_key, node_key, disco_key, endpoints, host_info, ipv4, ipv6, hostname, given_name, user_id,
                  register_method, tags, last_seen, expiry, approved_routes, created_at, updated_at, online)
SELECT 'mkey:' || printf('%064x', i), 'nodekey:' || printf('%064x', i), 'discokey:' || printf('%064x', i),
       '["192.0.2.1:41641","[2001:db8::1]:41641"]',
       '{"Hostname":"host-' || i || '","OS":"linux","IPNVersion":"1.98.0","RoutableIPs":["10.' || (i % 250) || '.0.0/24"]}',
       '100.64.' || (i / 256) || '.' || (i % 256), 'fd7a:115c:a1e0::' || printf('%x', i),
       'host-' || i, 'host-' || i, 1 + i % 50, 'authkey',
       CASE WHEN i % 10 = 0 THEN '["tag:server"]' ELSE '[]' END,
       '2026-11-23T12:00:00Z', NULL, '[]', '2026-11-23T12:00:00Z', '2026-11-23T12:00:00Z', i % 2
FROM n;
SQL

count=$("${A[@]}" nodes list -o json | jq length)
[ "$count" = "$N" ] || { echo "expected $N nodes, jq counted $count" >&2; exit 1; }

# Best of RUNS, in milliseconds, so a busy machine shows the tool's cost rather than noise.
best() {
  local best_ms=999999 start end ms
  for _ in $(seq "$RUNS"); do
    start=$(date +%s%N); eval "$1" >/dev/null; end=$(date +%s%N)
    ms=$(( (end - start) / 1000000 )); [ "$ms" -lt "$best_ms" ] && best_ms=$ms
  done
  echo "$best_ms"
}
pipe=$(best '"${A[@]}" nodes list -o json | jq length')
alone=$(best '"${A[@]}" nodes list -o json')
jsonl=$(best '"${A[@]}" nodes list -o json-line')
"${A[@]}" nodes list -o json >"$T/list.json"
jq_only=$(best 'jq length "$T/list.json"')
bytes=$(wc -c <"$T/list.json")
printf 'admin_list_bench: %d nodes, %d bytes of JSON; best of %d runs:\n' "$N" "$bytes" "$RUNS"
printf '  hs-admin nodes list -o json | jq length   %5d ms (target < 100 ms; never below the jq-alone line)\n' "$pipe"
printf '  hs-admin nodes list -o json               %5d ms (target < 100 ms)\n' "$alone"
printf '  hs-admin nodes list -o json-line          %5d ms\n' "$jsonl"
printf '  jq length on the saved output alone       %5d ms\n' "$jq_only"
printf '  load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
