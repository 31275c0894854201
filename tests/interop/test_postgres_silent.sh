#!/usr/bin/env bash
# hs-control on PostgreSQL over TCP when the server goes silent: a host gone or a cut that sends
# no reset, made here by dropping every packet of PostgreSQL's port in a namespace of the test's
# own. Without tcp_user_timeout a query waits for the kernel's retransmissions (about 15 min) on
# the event loop, and /health went unanswered for as long (measured before the fix: three
# 30 s waits in a row). Now one query is held at most 5 s: /health answers 503 right after,
# and once the port is back hs-control reconnects, answers 200 and writes again. Then the case
# where the server still holds hs-control's sessions when it reconnects.
. "$(dirname "$0")/lib.sh"
need_root
T=$LAB
. "$HS_SRC/tests/cli/pg_lib.sh"
LAB_ATEXIT+=(pg_stop)
ns="hs$LAB_ID-pgq"
ip netns add "$ns"
LAB_NETNS+=("$ns")
ip -n "$ns" link set lo up
in_ns() { ip netns exec "$ns" "$@"; }
# The namespace's own ports: nothing else listens there.
PG_PORT=5432 PORT=8080

start_pg # initdb, and a start on the unix socket: moved into the namespace, over TCP
pg_stop
in_ns "${as_pg[@]}" "$PGBIN/pg_ctl" -D "$PGSOCK/data" -o "-k $PGSOCK -p $PG_PORT -c listen_addresses=127.0.0.1" \
  -l "$PGSOCK/server.log" -w start >/dev/null || { cat "$PGSOCK/server.log" >&2; fail "PostgreSQL did not start"; }
"$HS_BIN/hs-derpmap" new --region-id 900 --region-code t --node "name=900a,host=127.0.0.1,ipv4=127.0.0.1,ipv6=none" \
  >"$LAB/derp.yaml"
cat >"$LAB/config.yaml" <<YAML
server_url: http://127.0.0.1:$PORT
listen_addr: 127.0.0.1:$PORT
noise: {private_key_path: $LAB/noise.key}
dns: {base_domain: t.test}
derp: {paths: [$LAB/derp.yaml]}
database: {type: postgres, postgres: {host: 127.0.0.1, port: $PG_PORT, name: postgres, user: $PGUSER_}}
YAML
in_ns "$HS_BIN/hs-control" -c "$LAB/config.yaml" >"$LAB/control.log" 2>&1 &
LAB_PIDS+=("$!")
health() { in_ns curl -s -o /dev/null -w '%{http_code}' --max-time 20 "http://127.0.0.1:$PORT/health"; }
healthy() { [ "$(health)" = 200 ]; }
eventually 10 healthy || fail "hs-control did not start: $(tail -3 "$LAB/control.log")"
in_ns "$HS_BIN/hs-admin" -c "$LAB/config.yaml" users create before >/dev/null || fail "a write before the cut"

in_ns nft -f - <<NFT
table inet silent {
  chain in { type filter hook input priority 0; tcp dport $PG_PORT drop; tcp sport $PG_PORT drop; }
  chain out { type filter hook output priority 0; tcp dport $PG_PORT drop; tcp sport $PG_PORT drop; }
}
NFT
worst=0 code=""
for _ in $(seq 40); do
  t0=$(date +%s%N)
  code=$(health)
  ms=$((($(date +%s%N) - t0) / 1000000))
  [ "$ms" -le "$worst" ] || worst=$ms
  [ "$code" = 503 ] && break
  [ "$ms" -lt 8000 ] || break
  sleep 0.25
done
[ "$worst" -lt 8000 ] || fail "/health waited $worst ms while PostgreSQL was silent"
[ "$code" = 503 ] || fail "/health never said the database is unreadable (last: HTTP $code)"
t0=$(date +%s%N)
[ "$(health)" = 503 ] || fail "/health after the first failure"
again=$((($(date +%s%N) - t0) / 1000000))
[ "$again" -lt 1000 ] || fail "/health took $again ms once the connection was known lost"
pass "PostgreSQL silent: /health waited at most $worst ms once, then answered 503 in $again ms"

in_ns nft delete table inet silent
reconnected() { grep -q "reconnected to PostgreSQL" "$LAB/control.log" && healthy; }
eventually 20 reconnected || fail "no reconnection after the port came back: $(tail -3 "$LAB/control.log")"
in_ns "$HS_BIN/hs-admin" -c "$LAB/config.yaml" users create after >/dev/null || fail "a write after the cut"
[ "$(in_ns "$HS_BIN/hs-admin" -c "$LAB/config.yaml" users list -o json | jq length)" = 2 ] || fail "users after the cut"
pass "the port back: hs-control reconnected, /health 200, writes work"

# The server has not noticed the cut: only hs-control's present connections are dropped, for
# good, so their sessions stay and still hold the instance's slot. On reconnecting,
# hs-control ends its own previous session (that pid and start time, no other) and takes its
# slot back instead of exiting.
ports=$(in_ns ss -Htn state established "( dport = :$PG_PORT )" | awk '{ sub(/.*:/, "", $3); print $3 }' | paste -sd,)
[ -n "$ports" ] || fail "no connection of hs-control's to PostgreSQL"
in_ns nft -f - <<NFT
table inet stale {
  chain in { type filter hook input priority 0; tcp sport { $ports } drop; tcp dport { $ports } drop; }
  chain out { type filter hook output priority 0; tcp sport { $ports } drop; tcp dport { $ports } drop; }
}
NFT
ended() { grep -q "ended this process's previous session" "$LAB/control.log" && healthy; }
eventually 20 ended || fail "hs-control did not take its slot back: $(tail -3 "$LAB/control.log")"
in_ns "$HS_BIN/hs-admin" -c "$LAB/config.yaml" users create later >/dev/null || fail "a write after taking the slot back"
kill -0 "${LAB_PIDS[-1]}" || fail "hs-control exited"
pass "its old sessions still on the server (ports $ports dropped): it ended its own and kept its slot"
finish
