#!/usr/bin/env bash
# Subnet routes and exit nodes with the official client: a router advertises 10.77.0.0/24, an
# admin approves it with hs-admin, and a peer with --accept-routes reaches a web server behind
# the router. A second router for the same prefix is the standby: stopping the primary moves the
# route to it. An approved exit node is offered to peers, can be selected, and carries the peer's
# traffic to an "internet" host that only the exit node can reach.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root
ts_install
control_start
admin users create alice >/dev/null
key=$(admin preauthkeys create -u alice --reusable)

# serve_behind HOST ADDR TEXT: ADDR on HOST's loopback (the stand-in for a LAN behind it) and a
# web server on ADDR:8080 that answers TEXT. Only HOST can reach it, except through the tailnet.
serve_behind() {
  local ns
  ns=$(host_ns "$1")
  ip -n "$ns" addr add "$2/32" dev lo
  mkdir -p "$LAB/www-$1"
  echo "$3" >"$LAB/www-$1/index.html"
  ip netns exec "$ns" python3 -m http.server 8080 --bind "$2" --directory "$LAB/www-$1" >"$LAB/www-$1.log" 2>&1 &
  LAB_PIDS+=("$!")
}

host_add r1 1; host_add r2 2; host_add ex 3; host_add p 4
internet_behind ex 203.0.113.80 from-internet
serve_behind r1 10.77.0.1 from-r1
serve_behind r2 10.77.0.1 from-r2
ts_start r1 41641; ts_start r2 41642; ts_start ex 41643
ts_start p 41644 --socks5-server="127.0.0.1:$SOCKS_PORT"
ts_up r1 "$key" --advertise-routes=10.77.0.0/24 || fail "up r1"
ts_up r2 "$key" --advertise-routes=10.77.0.0/24 || fail "up r2"
ts_up ex "$key" --advertise-exit-node || fail "up ex"
ts_up p "$key" --accept-routes || fail "up p"

# fetch URL: an HTTP GET from p's host through p's tailnet (the SOCKS5 proxy tailscaled serves).
fetch() { socks_get p "$1"; }
fetch_is() { [ "$(fetch "$1")" = "$2" ]; }

r1=$(node_id r1); r2=$(node_id r2); ex=$(node_id ex)
advertised() { [ "$(admin nodes list -o json | jq -r --arg h "$1" '.[] | select(.name==$h) | .available_routes | join(",")')" = "$2" ]; }
eventually 10 advertised r1 10.77.0.0/24 || fail "hs-admin does not show r1's advertised route: $(admin nodes list -o json | jq -c '.[] | select(.name=="r1")')"
pass "r1's advertised route shows in hs-admin (available_routes [10.77.0.0/24]), not approved yet"
fetch http://10.77.0.1:8080/ >/dev/null && fail "p reached 10.77.0.1 before any route was approved"
peer_is p r1 '.PrimaryRoutes // [] | length' 0 || fail "an unapproved route reached p"
pass "before approval p has no route to 10.77.0.0/24 and the request fails"

admin nodes approve-routes -i "$r1" -r 10.77.0.0/24 >/dev/null || fail "approve-routes r1"
admin nodes approve-routes -i "$r2" -r 10.77.0.0/24 >/dev/null || fail "approve-routes r2"
eventually 10 peer_is p r1 '.PrimaryRoutes | join(",")' 10.77.0.0/24 || fail "p does not see r1 as primary for 10.77.0.0/24: $(ts p status --json | jq -c '.Peer[] | {HostName, PrimaryRoutes, AllowedIPs}')"
peer_is p r2 '.PrimaryRoutes // [] | length' 0 || fail "the standby r2 is also primary"
primary_in_admin() { [ "$(admin routes list -o json | jq -r '[.[] | select(.prefix=="10.77.0.0/24" and .primary) | .node] | join(",")')" = "$1" ]; }
eventually 5 primary_in_admin r1 || fail "hs-admin routes list does not show r1 as the only primary: $(admin routes list -o json | jq -c '.[] | select(.prefix=="10.77.0.0/24")')"
pass "after approval p's status shows r1 as primary router ($(peer_field p r1 '.AllowedIPs | join(" ")')); r2 is standby; hs-admin routes list agrees"
eventually 15 fetch_is http://10.77.0.1:8080/ from-r1 || fail "p could not fetch through the subnet route: '$(fetch http://10.77.0.1:8080/)'"
pass "p fetched http://10.77.0.1:8080/ through the subnet route and got 'from-r1'"

t0=$(date +%s%N)
ts_stop r1
eventually 20 peer_is p r2 '.PrimaryRoutes | join(",")' 10.77.0.0/24 || fail "the route did not move to r2: $(ts p status --json | jq -c '.Peer[] | {HostName, Online, PrimaryRoutes}')"
moved=$(( ($(date +%s%N) - t0) / 1000000 ))
eventually 5 primary_in_admin r2 || fail "hs-admin routes list does not show r2 as primary after failover: $(admin routes list -o json | jq -c '.[] | select(.prefix=="10.77.0.0/24")')"
pass "r1 stopped: p sees r2 as primary for 10.77.0.0/24 after ${moved} ms, and so does hs-admin routes list"
eventually 20 fetch_is http://10.77.0.1:8080/ from-r2 || fail "p's request did not go through r2: '$(fetch http://10.77.0.1:8080/)'"
pass "the same URL now answers 'from-r2': traffic follows the new primary"

ts_start r1 41641
eventually 30 peer_is p r1 .Online true || fail "r1 did not come back"
peer_is p r2 '.PrimaryRoutes | join(",")' 10.77.0.0/24 || fail "the route flapped back to r1 when it returned"
pass "r1 is back online and r2 stays primary (no flapping)"
# r2's host vanishes without closing anything: its link to the lab goes down. hs-control's TCP
# keepalive probes notice within about 30 s and the route moves back to r1.
t0=$(date +%s%N)
ip link set "hsv$LAB_ID-2" down
eventually 60 peer_is p r1 '.PrimaryRoutes | join(",")' 10.77.0.0/24 || fail "the route did not move off the vanished r2: $(ts p status --json | jq -c '.Peer[] | {HostName, Online, PrimaryRoutes}')"
moved=$(( ($(date +%s%N) - t0) / 1000000 ))
pass "r2's host vanished (link down, no FIN): p sees r1 as primary again after ${moved} ms"

eventually 5 peer_is p ex '.ExitNodeOption' false || fail "an unapproved exit node is offered"
fetch http://203.0.113.80:8080/ >/dev/null && fail "p reached the internet host without an exit node"
admin nodes approve-routes -i "$ex" -r 0.0.0.0/0,::/0 >/dev/null || fail "approve exit routes"
eventually 10 peer_is p ex '.ExitNodeOption' true || fail "p is not offered ex as exit node: $(peer_field p ex '{ExitNodeOption, AllowedIPs}')"
pass "after approval p is offered ex as an exit node (AllowedIPs $(peer_field p ex '.AllowedIPs | join(" ")'))"
exits=$(ts p exit-node list 2>&1) || fail "exit-node list failed: $exits"
grep -q "ex.hs.test" <<<"$exits" || fail "exit-node list does not name ex: $exits"
ts p set --exit-node=ex || fail "p could not select ex as exit node"
exit_status_is_none() { [ "$(ts p status --json | jq -r '.ExitNodeStatus // "none"')" = none ]; }
exit_status_is() { [ "$(ts p status --json | jq -r '.ExitNodeStatus | "\(.ID) \(.Online)"')" = "$1 true" ]; }
eventually 10 exit_status_is "$(peer_field p ex .ID)" || fail "ExitNodeStatus does not show ex online: $(ts p status --json | jq -c .ExitNodeStatus)"
pass "p lists ex in 'tailscale exit-node list', selects it, and its status shows exit node $(peer_field p ex .ID) online"
# p's namespace has no route beyond the lab; only ex can reach 203.0.113.80.
eventually 20 fetch_is http://203.0.113.80:8080/ from-internet || fail "p's traffic did not go out through ex: '$(fetch http://203.0.113.80:8080/)'"
grep -q '^10\.98\.0\.1 .*"GET / ' "$LAB/www-inet.log" || fail "the internet host did not see the request come from ex: $(cat "$LAB/www-inet.log")"
pass "through exit node ex, p fetched http://203.0.113.80:8080/ ('from-internet'); the server saw it come from ex (10.98.0.1)"

ts p set --exit-node= || fail "p could not clear its exit node"
eventually 10 exit_status_is_none || fail "p still shows an exit node: $(ts p status --json | jq -c .ExitNodeStatus)"
fetch http://203.0.113.80:8080/ >/dev/null && fail "p still reached the internet host after clearing its exit node"
ts p set --exit-node=ex || fail "p could not select ex again"
admin nodes approve-routes -i "$ex" -r "" >/dev/null || fail "withdraw ex's exit routes"
eventually 10 peer_is p ex '.ExitNodeOption' false || fail "ex is still offered as an exit node after its routes were withdrawn"
fetch http://203.0.113.80:8080/ >/dev/null && fail "p still reached the internet host through an unapproved exit node"
pass "with the exit node cleared, or its approval withdrawn with hs-admin, p cannot reach the internet host"
finish
