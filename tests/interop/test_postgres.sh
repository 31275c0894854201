#!/usr/bin/env bash
# hs-control on PostgreSQL (database.type postgres) with the official clients: a throwaway
# PostgreSQL cluster (tests/cli/pg_lib.sh: its own directory, an unprivileged user, a unix
# socket), two clients of the pinned versions registered with a pre-auth key that see and ping
# each other, hs-admin's rename on the database reaching the peer within 1 s (LISTEN/NOTIFY),
# a restart that keeps the nodes and their addresses, and a second hs-control on the same
# database with another Noise key that refuses to start and changes nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root
T=$LAB
. "$HS_SRC/tests/cli/pg_lib.sh"
LAB_ATEXIT+=(pg_stop)  # lab_cleanup stops the cluster after the lab's processes
start_pg
pg_create hs >/dev/null

control_config "database:" "  type: postgres" "  postgres: {host: $PGSOCK, name: hs, user: $PGUSER_}"
control_start
admin users create alice >/dev/null
key=$(admin preauthkeys create -u alice --reusable -e 1h)
[[ "$key" == hskey-auth-* ]] || fail "preauthkeys create printed '$key'"
[ "$(pq hs "SELECT count(*) FROM pre_auth_keys")" = 1 ] || fail "the key is not in PostgreSQL"
pass "hs-control runs on PostgreSQL; hs-admin wrote a user and a key there"

ts_install "$TS_VERSION"
host_add pga 11
ts_start pga 41641
ts_install "$TS_VERSION_HEADSCALE"
host_add pgb 12
ts_start pgb 41642
ts_up pga "$key" || fail "tailscale up ($TS_VERSION) with a pre-auth key failed"
ts_up pgb "$key" || fail "tailscale up ($TS_VERSION_HEADSCALE) with a pre-auth key failed"
eventually 10 peer_is pga pgb .HostName pgb || fail "pga does not list pgb"
eventually 10 peer_is pgb pga .HostName pga || fail "pgb does not list pga"
[ "$(pq hs "SELECT count(*) FROM nodes WHERE ipv4 IS NOT NULL")" = 2 ] || fail "nodes not in PostgreSQL"
pass "$TS_VERSION and $TS_VERSION_HEADSCALE registered and list each other"

ts pga ping -c 5 --timeout=5s --until-direct=false "$(ts pgb ip -4)" >"$LAB/ping.out" 2>&1 ||
  { cat "$LAB/ping.out" >&2; fail "ping pga -> pgb failed"; }
grep -q "pong from" "$LAB/ping.out" || fail "no pong"
pass "tailscale ping pga -> pgb: $(grep -m1 pong "$LAB/ping.out")"

# hs-admin writes to PostgreSQL; hs-control hears the NOTIFY and sends the new name.
id_b=$(node_id pgb)
t0=${EPOCHREALTIME/[.,]/}
admin nodes rename -i "$id_b" web-pg >/dev/null || fail "rename failed"
eventually 1 peer_is pga pgb .DNSName "web-pg.hs.test." || fail "rename not seen by pga within 1 s"
ms=$(( (${EPOCHREALTIME/[.,]/} - t0) / 1000 ))
pass "hs-admin nodes rename on PostgreSQL reached the peer's netmap in ${ms} ms"

# A restart keeps the nodes, their IDs and addresses; the clients come back to the same peers.
nodes_of() { admin nodes list -o json | jq -c '[.[] | {id, given_name, ip_addresses}] | sort_by(.id)'; }
before=$(nodes_of)
client_before=$(ts pga status --json | jq -c '[.TailscaleIPs, ([.Peer[] | .DNSName] | sort)]')
control_stop
control_start
online() { [ "$(admin nodes list -o json | jq -r --argjson i "$1" '.[] | select(.id == $i) | .online')" = true ]; }
eventually 60 online "$(node_id pga)" || fail "pga did not reconnect after the restart"
eventually 60 online "$id_b" || fail "pgb did not reconnect after the restart"
[ "$(nodes_of)" = "$before" ] || fail "after the restart: $(nodes_of), before: $before"
client_after=$(ts pga status --json | jq -c '[.TailscaleIPs, ([.Peer[] | .DNSName] | sort)]')
[ "$client_after" = "$client_before" ] || fail "pga after the restart: $client_after, before: $client_before"
pass "after a restart the nodes keep their IDs and addresses and pga sees the same peers"

# A second hs-control on the same database with its own Noise key (the default file beside its
# config): refused before it writes, since clients pin the key and a load balancer would send
# them to it. Instances that share the key run together (test_postgres_multi.sh).
sed -e "s/:$CONTROL_PORT\$/:$((CONTROL_PORT + 2))/" -e "s/127.0.0.1:$((CONTROL_PORT + 1000))/127.0.0.1:$((CONTROL_PORT + 1002))/" \
  "$CONTROL_DIR/config.yaml" >"$LAB/second.yaml"
grep -q ":$((CONTROL_PORT + 2))" "$LAB/second.yaml" || fail "second config: listen_addr not changed"
snap() { pq hs "SELECT (SELECT string_agg(id || ':' || online, ',' ORDER BY id) FROM nodes), (SELECT max(id) FROM audit_log), (SELECT string_agg(id || ipv4 || ipv6 || given_name, ',' ORDER BY id) FROM nodes)"; }
s=$(snap)
set +e
timeout 30 "$HS_BIN/hs-control" -c "$LAB/second.yaml" >"$LAB/second.log" 2>&1
rc=$?
set -e
[ "$rc" = 1 ] || { cat "$LAB/second.log" >&2; fail "second hs-control: exit $rc, expected 1"; }
grep -q "uses another Noise key" "$LAB/second.log" ||
  { cat "$LAB/second.log" >&2; fail "second hs-control: no clear refusal"; }
[ "$(snap)" = "$s" ] || fail "the second hs-control changed the database: $(snap), before: $s"
server_alive "the second hs-control"
eventually 5 peer_is pga pgb .Online true || fail "pga lost its peer after the refused second start"
pass "a second hs-control with another Noise key refused to start ($(grep -o 'uses another Noise key' "$LAB/second.log" | sed -n 1p)) and changed nothing"

ts_stop pga
ts_stop pgb
control_stop
finish
