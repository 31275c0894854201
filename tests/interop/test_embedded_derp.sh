#!/usr/bin/env bash
# hs-control's embedded DERP and STUN (derp.server.enabled) with the official client, once per
# pinned version: direct UDP between the clients is disabled, so their pings must go through
# our region; netcheck must see UDP through our STUN server.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root

i=0
for v in $TS_VERSIONS; do
  i=$((i + 1))
  ts_install "$v"
  log "=== client $v"
  lab_bridge
  stun_port=$((13000 + LAB_ID)); tls_port=$((14000 + LAB_ID))
  CONTROL_DERP="derp: {server: {enabled: true, region_id: 901, region_code: embedded, region_name: hs embedded, stun_listen_addr: '${LAB_SUBNET}1:$stun_port', tls_listen_addr: '${LAB_SUBNET}1:$tls_port'}}"
  control_config
  control_start
  admin users create alice >/dev/null
  key=$(admin preauthkeys create -u alice --reusable)
  a="e${i}a" b="e${i}b"
  host_add "$a" $((i * 10 + 1)); host_add "$b" $((i * 10 + 2))
  TS_EXTRA_ENV="TS_DEBUG_NEVER_DIRECT_UDP=1" ts_start "$a" 41641
  TS_EXTRA_ENV="TS_DEBUG_NEVER_DIRECT_UDP=1" ts_start "$b" 41642
  ts_up "$a" "$key" || fail "up $a"
  ts_up "$b" "$key" || fail "up $b"
  eventually 15 peer_is "$a" "$b" .HostName "$b" || fail "$a does not see $b"
  pass "$v: two clients joined; the DERP map has region 901 pinned by certificate: $(ts "$a" debug derp-map 2>/dev/null | jq -c '.Regions["901"].Nodes[0] | {HostName, DERPPort, CertName: (.CertName[0:20] + "...")}')"

  ip_b=$(ts "$b" ip -4)
  # The first disco ping can time out while the peer's DERP home is still being learnt (seen
  # once in CI with v1.98.10): one pong first, then three that must all come via our region.
  eventually 20 ts "$a" ping --until-direct=false -c 1 --timeout=5s "$ip_b" >/dev/null 2>&1 || fail "$v: no pong from $b through the embedded DERP"
  ts "$a" ping --until-direct=false -c 3 --timeout=5s "$ip_b" >"$LAB/ping-$v.out" 2>&1 || { cat "$LAB/ping-$v.out" >&2; fail "$v: ping via DERP failed"; }
  [ "$(grep -c 'via DERP(embedded)' "$LAB/ping-$v.out")" = 3 ] || { cat "$LAB/ping-$v.out" >&2; fail "$v: not every pong came via DERP(embedded)"; }
  pass "$v: tailscale ping through the embedded DERP: $(head -1 "$LAB/ping-$v.out")"
  [ "$(peer_field "$a" "$b" .Relay)" = embedded ] || fail "$a does not show $b's relay as our region"
  [ -z "$(peer_field "$a" "$b" .CurAddr)" ] || fail "$a has a direct path to $b although direct UDP is off"
  pass "$v: status shows relay \"embedded\" and no direct address"
  # The TLS port carries the meta certificate, so both clients skipped waiting for the 101.
  fast=$(curl -sf "http://127.0.0.1:$((CONTROL_PORT + 1000))/metrics" | awk '$1 == "derp_fast_start_total" {print $2}')
  [ "${fast:-0}" -ge 2 ] || fail "$v: derp_fast_start_total is ${fast:-missing}, expected both clients to use fast start"
  pass "$v: both clients connected with fast start (derp_fast_start_total $fast)"

  # A TCP payload crosses the relay: the peer's netstack forwards to a listener in its namespace.
  ip netns exec "$(host_ns "$b")" python3 -c '
import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", 18181)); s.listen(1); s.settimeout(30)
c,_=s.accept(); c.settimeout(10); data=c.recv(100); c.sendall(b"echo:"+data); c.close()' &
  srv=$!
  eventually 5 sh -c "ip netns exec $(host_ns "$b") ss -ltn | grep -q 127.0.0.1:18181" || fail "listener did not start"
  got=$( (echo hello-through-derp; sleep 3) | timeout 20 "$TS_BIN/tailscale" --socket="$LAB/$a/ts.sock" nc "$ip_b" 18181 2>"$LAB/nc.err" || true)
  [ -n "$got" ] || cat "$LAB/nc.err" >&2
  wait "$srv" 2>/dev/null || true
  [[ "$got" == "echo:hello-through-derp"* ]] || fail "$v: TCP through the relay returned '$got'"
  pass "$v: a TCP payload crossed the embedded DERP (tailscale nc got '$got')"

  nc_json=$(ip netns exec "$(host_ns "$a")" env TS_DISABLE_PORTMAPPER=1 TS_DISABLE_UPNP=true \
    "$TS_BIN/tailscale" --socket="$LAB/$a/ts.sock" netcheck --format=json 2>/dev/null) || fail "netcheck failed"
  [ "$(echo "$nc_json" | jq -r .UDP)" = true ] || fail "$v: netcheck UDP is not true: $nc_json"
  [ "$(echo "$nc_json" | jq -r '.RegionLatency["901"] // empty')" != "" ] || fail "$v: netcheck has no latency to region 901"
  pass "$v: netcheck: UDP true, PreferredDERP $(echo "$nc_json" | jq -r .PreferredDERP), latency to 901 $(echo "$nc_json" | jq -r '.RegionLatency["901"]')ns (answered by the embedded STUN)"

  # Deleting a node ends its DERP connection (admission follows the tailnet): hs-control closes
  # it, unless the client, told to log in again (NeedsLogin), has already dropped it itself.
  admin nodes delete -i "$(node_id "$b")" >/dev/null
  derp_conns() { curl -sf "http://127.0.0.1:$((CONTROL_PORT + 1000))/metrics" | awk '$1 == "derp_current_connections" {print $2}'; }
  eventually 5 sh -c "[ \"\$(curl -sf http://127.0.0.1:$((CONTROL_PORT + 1000))/metrics | awk '\$1 == \"derp_current_connections\" {print \$2}')\" = 1 ]" \
    || fail "$v: the deleted node's DERP connection is still open ($(derp_conns) connections)"
  eventually 10 status_is "$b" .BackendState NeedsLogin || fail "$v: the deleted node is not told to log in again"
  by="the client (NeedsLogin)"
  grep -q "closed 1 connections of nodes no longer in the tailnet" "$CONTROL_DIR/control.log" && by="hs-control"
  pass "$v: deleting a node ended its embedded DERP connection (closed by $by); the client shows NeedsLogin"

  ts_stop "$a"; ts_stop "$b"
  control_stop
  rm -rf "$CONTROL_DIR"
done
finish
