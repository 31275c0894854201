#!/usr/bin/env bash
# Registrations under concurrency across instances (issue 18): three hs-control instances on one
# throwaway PostgreSQL database (tests/cli/pg_lib.sh) behind HAProxy on loopback, and hs-loadgen
# registering MULTI_NODES (1,000) nodes at once through it, each from its own loopback address,
# then streaming their maps. No registration may fail, every instance must have taken some, and
# the database must hold each node once with its own addresses and name: the constraints and the
# write lock decide, not one instance's memory.
HS_SRC=${HS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../interop/lib.sh
. "$HS_SRC/tests/interop/lib.sh"
need_root
T=$LAB
. "$HS_SRC/tests/cli/pg_lib.sh"
N=${MULTI_NODES:-1000}
LAB_ATEXIT+=(pg_stop)  # lab_cleanup stops the cluster after the lab's processes
bash "$HS_SRC/tests/bench/loadgen.sh" build "$LAB/hs-loadgen" || fail "building hs-loadgen failed"
start_pg
pg_create hs >/dev/null

# shellcheck source=multi_lib.sh
. "$HS_SRC/tests/bench/multi_lib.sh"
multi_start 3 hs
lb=$multi_base
admin="$HS_BIN/hs-admin -c $MULTI_CONFIG"
$admin users create bench >/dev/null || fail "users create"

res=$LAB/result.json
"$LAB/hs-loadgen" run --external --label hs-3x-postgres --url "http://127.0.0.1:$lb" \
  --key-cmd "$admin preauthkeys create -u bench --reusable -e 24h" --nodes "$N" --concurrency "$N" --observers 1 \
  --spread-sources --scenarios register,connect --phase-timeout 60s >"$res" ||
  { tail -5 "$LAB"/hs*.log >&2; fail "hs-loadgen run failed: $(cat "$res")"; }
r() { jq -r "$1" "$res"; }
log "result: $(jq -c '{register, connect: (.connect | {nodes_with_map, seconds, peers_ok}), problems}' "$res")"
[ "$(r .register.ok)" = "$N" ] && [ "$(r .register.failed)" = 0 ] ||
  fail "registered $(r .register.ok) of $N, $(r .register.failed) failed: $(r .register.first_error)"
[ "$(r '.problems | length')" = 0 ] || fail "problems: $(r .problems)"
spread=""
for i in 1 2 3; do
  kill -0 "${MULTI_PID[$i]}" 2>/dev/null || fail "hs$i is gone: $(tail -5 "$LAB/hs$i.log")"
  ok=$(curl -sf "http://127.0.0.1:$(multi_mport $i)/metrics" | awk '$1 == "hs_control_registrations_total{outcome=\"ok\"}" {print $2}')
  [ "${ok:-0}" -gt 0 ] || fail "hs$i took no registration"
  spread+="${spread:+, }hs$i $ok"
done
pass "$N concurrent registrations through HAProxy over three instances: $N ok, 0 failed in $(r .register.seconds) s (p99 $(r .register.p99_ms) ms; by instance: $spread); all maps in $(r .connect.seconds) s"
counts=$(pq hs "SELECT count(*), count(DISTINCT machine_key), count(DISTINCT node_key), count(DISTINCT ipv4), count(DISTINCT ipv6), count(DISTINCT given_name) FROM nodes WHERE ipv4 IS NOT NULL AND ipv6 IS NOT NULL")
total=$N  # the observer watches one of them
[ "$counts" = "$total|$total|$total|$total|$total|$total" ] || fail "nodes with both addresses, and distinct keys, addresses, names: $counts (expected $total each)"
[ "$(pq hs "SELECT count(*) FROM nodes")" = "$total" ] || fail "$(pq hs 'SELECT count(*) FROM nodes') rows, expected $total"
pass "PostgreSQL holds $total nodes: $total distinct machine keys, node keys, IPv4s, IPv6s and names"
finish
