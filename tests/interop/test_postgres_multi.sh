#!/usr/bin/env bash
# Three hs-control instances on one PostgreSQL 15 database (a throwaway cluster, pg_lib.sh)
# behind HAProxy, with four official clients of both pinned versions spread over them: they see
# each other online and ping across instances; hs-admin's rename reaches every client within
# 1 s; a subnet route fails over once, decided by one instance; kill -9 of the instance holding
# two clients brings them back Running through another instance with the same addresses within
# 10 s; a rolling restart of every instance loses none;
# the route election and the ephemeral collection have exactly one holder throughout.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
. "$(dirname "$0")/haproxy.sh"
need_root
command -v haproxy >/dev/null || fail "haproxy is not installed (.ci/deps.sh installs it)"
T=$LAB
. "$HS_SRC/tests/cli/pg_lib.sh"
LAB_ATEXIT+=(pg_stop)  # lab_cleanup stops the cluster after the lab's processes
start_pg
pg_create hs >/dev/null

# One config per instance, beside the lab's (its DERP map path is relative to it); the same
# Noise key and database for all, each its own listener and metrics port.
control_config "database:" "  type: postgres" "  postgres: {host: $PGSOCK, name: hs, user: $PGUSER_}" \
  "noise: {private_key_path: $CONTROL_DIR/noise_private.key}" "trusted_proxies: [127.0.0.1/32]"
port() { echo $((CONTROL_PORT + 10 + $1)); }
mport() { echo $((CONTROL_PORT + 1010 + $1)); }
for i in 1 2 3; do
  sed -e "s|^listen_addr: .*|listen_addr: 127.0.0.1:$(port $i)|" \
    -e "s|^metrics_listen_addr: .*|metrics_listen_addr: 127.0.0.1:$(mport $i)|" \
    "$CONTROL_DIR/config.yaml" >"$CONTROL_DIR/hs$i.yaml"
  grep -q "127.0.0.1:$(port $i)" "$CONTROL_DIR/hs$i.yaml" || fail "hs$i.yaml: listen_addr not set"
done
declare -A PID
# (daemon_start's own local is named pid: the variable it sets must have another name.)
start_instance() {
  daemon_start STARTED "$CONTROL_DIR/hs$1.log" "http://127.0.0.1:$(port "$1")/health" \
    "$HS_BIN/hs-control" -c "$CONTROL_DIR/hs$1.yaml"
  PID[$1]=$STARTED
}
metric() { curl -sf "http://127.0.0.1:$(mport "$1")/metrics" | awk -v m="$2" '$1 == m {print $2}'; }
slot_of() { metric "$1" hs_control_instance_slot; }
# holders DUTY I...: how many of the instances I... hold the duty.
holders() {
  local d=$1 n=0 i
  shift
  for i in "$@"; do [ "$(metric "$i" "hs_control_duty{duty=\"$d\"}")" = 1 ] && n=$((n + 1)); done
  echo $n
}
for i in 1 2 3; do start_instance $i; done
slots="$(slot_of 1) $(slot_of 2) $(slot_of 3)"
[ "$(tr ' ' '\n' <<<"$slots" | sort -u | wc -l)" = 3 ] || fail "instance slots: $slots"
[ "$(holders routes 1 2 3)" = 1 ] && [ "$(holders ephemeral 1 2 3)" = 1 ] ||
  fail "duty holders: routes $(holders routes 1 2 3), ephemeral $(holders ephemeral 1 2 3)"
[ "$(pq hs "SELECT count(*) FROM control_instances")" = 3 ] || fail "control_instances: $(pq hs 'SELECT * FROM control_instances')"
pass "three instances on one database: slots $slots, one route elector, one ephemeral collector"

# HAProxy with examples/haproxy/hs.cfg on the lab's server_url, plus (for a placement the test
# can check) clients 1 and 2 on hs1, 3 on hs2, 4 on hs3 while those are up, and its stats page.
hap="$LAB/haproxy"
mkdir -p "$hap"
haproxy_config "$hap/hs.cfg" "${LAB_SUBNET}1:$CONTROL_PORT" "127.0.0.1:$(port 1)" "127.0.0.1:$(port 2)" "127.0.0.1:$(port 3)"
cat >>"$hap/hs.cfg" <<CFG
    use-server hs1 if { src ${LAB_SUBNET}11 ${LAB_SUBNET}12 }
    use-server hs2 if { src ${LAB_SUBNET}13 }
    use-server hs3 if { src ${LAB_SUBNET}14 }
listen stats
    bind 127.0.0.1:$((CONTROL_PORT + 2000))
    stats enable
    stats uri /stats
CFG
haproxy -c -q -f "$hap/hs.cfg" || fail "haproxy -c refused the configuration"
stats_url="http://127.0.0.1:$((CONTROL_PORT + 2000))/stats;csv"
daemon_start HAP_PID "$hap/haproxy.log" "$stats_url" haproxy -db -f "$hap/hs.cfg"
server_up() { curl -sf "$stats_url" | awk -F, -v s="$1" '$1 == "hs_control" && $2 == s {print $18}' | grep -qx UP; }
for i in 1 2 3; do eventually 10 server_up "hs$i" || fail "HAProxy does not see hs$i UP"; done

admin users create alice >/dev/null
key=$(admin preauthkeys create -u alice --reusable -e 1h)
C=(c1 c2 c3 c4)
ts_install "$TS_VERSION"
for n in 1 3; do host_add "c$n" $n; ts_start "c$n" $((41640 + n)); done
ts_install "$TS_VERSION_HEADSCALE"
for n in 2 4; do host_add "c$n" $n; ts_start "c$n" $((41640 + n)); done
for c in "${C[@]}"; do ts_up "$c" "$key" || fail "tailscale up $c through HAProxy failed"; done
online_of() { pq hs "SELECT online FROM nodes WHERE hostname = '$1'"; }
bit() { echo $((1 << $(slot_of "$1"))); }
on_instance() { [ "$(online_of "$1")" = "$(bit "$2")" ]; }
for p in "c1 1" "c2 1" "c3 2" "c4 3"; do
  set -- $p
  eventually 10 on_instance "$1" "$2" || fail "$1 streams to bits $(online_of "$1"), expected hs$2's $(bit "$2")"
done
all_see() {
  local a b
  for a in "${C[@]}"; do
    for b in "${C[@]}"; do [ "$a" = "$b" ] || peer_is "$a" "$b" .Online true || return 1; done
  done
}
eventually 10 all_see || fail "not every client sees every other online: $(for c in "${C[@]}"; do echo "$c: $(ts "$c" status --json | jq -c '[.Peer[] | [.HostName, .Online]]')"; done)"
pass "$TS_VERSION (c1, c3) and $TS_VERSION_HEADSCALE (c2, c4) through HAProxy: c1, c2 on hs1, c3 on hs2, c4 on hs3; all 12 pairs online"
for p in "c1 c3" "c2 c4" "c4 c1"; do
  set -- $p
  eventually 10 pong "$1" "$2" || fail "ping $1 -> $2 across instances failed"
done
pass "pings across instances: c1 -> c3 (hs1 -> hs2), c2 -> c4 (hs1 -> hs3), c4 -> c1 (hs3 -> hs1)"

# hs-admin's rename: every instance hears the NOTIFY and tells its own clients.
renamed_everywhere() { for c in c1 c2 c3; do peer_is "$c" c4 .DNSName "$1" || return 1; done; }
id4=$(node_id c4)
t0=$(ms)
admin nodes rename -i "$id4" web-multi >/dev/null || fail "rename failed"
eventually 1 renamed_everywhere "web-multi.hs.test." || fail "the rename did not reach c1, c2 and c3 within 1 s"
pass "hs-admin nodes rename reached the clients of all three instances in $(($(ms) - t0)) ms"

# Route failover, decided once for all instances: c3 (hs2) and c4 (hs3) serve one subnet.
id3=$(node_id c3)
for c in c3 c4; do ts "$c" set --advertise-routes=10.99.0.0/24 || fail "$c: --advertise-routes"; done
admin nodes approve-routes -i "$id3" -r 10.99.0.0/24 >/dev/null || fail "approve-routes c3"
admin nodes approve-routes -i "$id4" -r 10.99.0.0/24 >/dev/null || fail "approve-routes c4"
primary_is() { for c in "${@:2}"; do peer_is "$c" "$1" '.PrimaryRoutes // [] | join(",")' 10.99.0.0/24 || return 1; done; }
elections() { cat "$CONTROL_DIR"/hs[123].log | grep -c "route 10.99.0.0/24: primary is now node" || true; }
eventually 10 primary_is c3 c1 c2 c4 || fail "c1, c2 and c4 do not all see c3 as primary for 10.99.0.0/24"
[ "$(elections)" = 1 ] || fail "$(elections) instances elected a primary for 10.99.0.0/24"
ts c3 down
eventually 10 primary_is c4 c1 c2 || fail "the route did not fail over to c4: $(ts c1 status --json | jq -c '.Peer[] | {HostName, Online, PrimaryRoutes}')"
[ "$(elections)" = 2 ] || fail "the failover was decided $(($(elections) - 1)) times"
ts_up c3 "$key" --advertise-routes=10.99.0.0/24 || fail "c3 did not come back up"
eventually 10 all_see || fail "c3 is not online for everyone again"
primary_is c4 c1 c2 || fail "the route moved back to c3 when it returned"
pass "route 10.99.0.0/24: primary c3, failover to c4 when c3 went down, each decided by one instance (2 log lines over 3 instances)"

# kill -9 of hs1: c1 and c2 come back through another instance with their addresses.
ips() { ts "$1" status --json | jq -c .Self.TailscaleIPs; }
declare -A IPS
for c in "${C[@]}"; do IPS[$c]=$(ips "$c"); done
dead_bit=$(bit 1)
kill -9 "${PID[1]}"
t0=$(ms)
elsewhere() {
  local o
  o=$(online_of "$1")
  [ "${o:-0}" != 0 ] && [ $((o & dead_bit)) = 0 ] && status_is "$1" .BackendState Running && [ "$(ips "$1")" = "${IPS[$1]}" ]
}
eventually 10 elsewhere c1 || fail "c1 not back within 10 s: bits $(online_of c1), $(ts c1 status --json | jq -c '[.BackendState, .Self.TailscaleIPs]')"
eventually 10 elsewhere c2 || fail "c2 not back within 10 s: bits $(online_of c2)"
back=$(($(ms) - t0))
[ "$(pq hs "SELECT count(*) FROM nodes WHERE online & $dead_bit != 0")" = 0 ] || fail "hs1's bits were not cleared"
[ "$(holders routes 2 3)" = 1 ] && [ "$(holders ephemeral 2 3)" = 1 ] ||
  fail "after kill -9: duty holders routes $(holders routes 2 3), ephemeral $(holders ephemeral 2 3)"
eventually 10 all_see || fail "after kill -9 not every pair is online"
for p in "c1 c4" "c2 c3"; do
  set -- $p
  eventually 10 pong "$1" "$2" || fail "ping $1 -> $2 after kill -9 failed"
done
admin nodes rename -i "$id3" db-multi >/dev/null
both_see() { peer_is c1 c3 .DNSName db-multi.hs.test. && peer_is c2 c3 .DNSName db-multi.hs.test.; }
eventually 2 both_see || fail "c1 and c2 do not stream again: the rename of c3 did not reach them"
pass "kill -9 of hs1: c1 and c2 Running through hs2/hs3 with the same addresses after ${back} ms, hs1's presence cleared, one holder per duty, pings and a rename reach them"

start_instance 1
eventually 10 server_up hs1 || fail "HAProxy does not see the restarted hs1 UP"
pass "hs1 restarted in slot $(slot_of 1)"

# Rolling restart: each instance in turn stops (SIGTERM) and starts again; no client is lost.
ids_ips() { admin nodes list -o json | jq -c '[.[] | {id, ip_addresses}] | sort_by(.id)'; }
before=$(ids_ips)
moved=""
for i in 1 2 3; do
  gone=$(bit $i)
  daemon_stop "${PID[$i]}"
  settled() {
    local c o
    for c in "${C[@]}"; do
      o=$(online_of "$c")
      [ "${o:-0}" != 0 ] && [ $((o & gone)) = 0 ] && status_is "$c" .BackendState Running || return 1
    done
    all_see
  }
  t0=$(ms)
  eventually 15 settled || fail "rolling restart: clients not settled 15 s after hs$i stopped: $(pq hs 'SELECT hostname, online FROM nodes')"
  moved+="${moved:+, }hs$i $(($(ms) - t0)) ms"
  start_instance $i
  eventually 10 server_up "hs$i" || fail "HAProxy does not see hs$i UP again"
done
[ "$(ids_ips)" = "$before" ] || fail "after the rolling restart: $(ids_ips), before: $before"
for c in "${C[@]}"; do [ "$(ips "$c")" = "${IPS[$c]}" ] || fail "$c changed its addresses: $(ips "$c")"; done
eventually 10 pong c1 c4 || fail "ping c1 -> c4 after the rolling restart failed"
[ "$(holders routes 1 2 3)" = 1 ] && [ "$(holders ephemeral 1 2 3)" = 1 ] ||
  fail "after the rolling restart: duty holders routes $(holders routes 1 2 3), ephemeral $(holders ephemeral 1 2 3)"
pass "rolling restart of hs1, hs2, hs3: all four clients Running with the same IDs and addresses, all pairs online, one holder per duty (clients settled elsewhere after each stop: $moved)"

for c in "${C[@]}"; do ts_stop "$c"; done
finish
