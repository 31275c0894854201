#!/usr/bin/env bash
# Two DERP servers meshed in one region (900, code "lab"), each with a certificate from a lab CA
# that the derpers trust through SSL_CERT_FILE (the mesh link verifies TLS like derper does).
# Client A can only reach the first node, client B only the second (nftables reject the other
# port in each client's namespace), and direct UDP between them is dropped, so A's packets to B
# go A -> node 1 -> ForwardPacket -> node 2 -> B. First both nodes are hs-derper; then node 2
# is Tailscale's own derper (built from the module proxy), meshed with hs-derper; PeerGone
# crosses that mixed mesh both ways.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
. "$(dirname "$0")/derp.sh"
need_root
ts_install

P1=$((24000 + LAB_ID)); P2=$((25000 + LAB_ID))
M1=$((26000 + LAB_ID)); M2=$((27000 + LAB_ID))
S1=$((28000 + LAB_ID)); S2=$((29000 + LAB_ID))
lab_pki "$DERP_IP"
certs="$LAB/certs"
mkdir -p "$certs"
cp "$LAB/pki/srv.pem" "$certs/$DERP_IP.crt"
cp "$LAB/pki/srv.key" "$certs/$DERP_IP.key"
(umask 077; openssl rand -hex 32 >"$LAB/mesh.key")  # hs-derper refuses a key others may read
MESH="$DERP_IP:$P1,$DERP_IP:$P2"  # each node lists itself too and skips that entry

DERPER_ENV="SSL_CERT_FILE=$LAB/pki/bundle.pem"
mesh_node() {  # NAME PORT METRICS STUN
  hs_derper_start "$1" "$2" "$3" --hostname "$DERP_IP" --certdir "$certs" --stun-port "$4" \
    --mesh-psk-file "$LAB/mesh.key" --mesh-with "$MESH"
}
mesh_node d1 "$P1" "$M1" "$S1"
mesh_node d2 "$P2" "$M2" "$S2"
eventually 15 metric_at_least "$M1" "derp_mesh_link_up{peer=\"$DERP_IP:$P2\"}" 1 || { cat "$LAB/d1/derper.log" >&2; fail "d1 did not link to d2"; }
eventually 15 metric_at_least "$M2" "derp_mesh_link_up{peer=\"$DERP_IP:$P1\"}" 1 || { cat "$LAB/d2/derper.log" >&2; fail "d2 did not link to d1"; }
eventually 5 grep -q "that is this derper" "$LAB/d1/derper.log" || fail "d1 did not recognise itself in --mesh-with"
[ "$(metric_at "$M1" derp_current_mesh_peers)" = 1 ] && [ "$(metric_at "$M2" derp_current_mesh_peers)" = 1 ] ||
  fail "mesh peers: d1 $(metric_at "$M1" derp_current_mesh_peers), d2 $(metric_at "$M2" derp_current_mesh_peers)"
pass "two hs-derpers linked both ways over verified TLS with the mesh key; each skipped itself in --mesh-with"

# A wrong mesh key is an ordinary client: no WatchConns for it, the link keeps retrying.
(umask 077; openssl rand -hex 32 >"$LAB/wrong.key")
hs_derper_start dx $((P2 + 1)) $((M2 + 1)) --hostname "$DERP_IP" --certdir "$certs" --stun=false \
  --mesh-psk-file "$LAB/wrong.key" --mesh-with "$DERP_IP:$P1"
eventually 10 grep -q "mesh $DERP_IP:$P1: .*retrying" "$LAB/dx/derper.log" || { cat "$LAB/dx/derper.log" >&2; fail "a derper with the wrong mesh key was not refused"; }
grep -q "WatchConns from a client without the mesh key" "$LAB/d1/derper.log" || fail "d1 did not log why it closed the wrong-key link"
[ "$(metric_at "$M1" derp_current_mesh_peers)" = 1 ] || fail "d1 took the wrong key for a mesh peer"
hs_derper_stop dx
pass "a derper with another mesh key is closed when it sends WatchConns: $(grep -m1 'retrying' "$LAB/dx/derper.log" | sed 's/.*mesh /mesh /')"

# The region: node 900a is d1, node 900b is d2 (later Tailscale's derper on the same port).
control_config
"$HS_BIN/hs-derpmap" new --region-id 900 --region-code lab --region-name "Lab DERP" \
  --node "name=900a,host=$DERP_IP,ipv4=$DERP_IP,ipv6=none,stun=$S1,derp=$P1,insecure=true" \
  --node "name=900b,host=$DERP_IP,ipv4=$DERP_IP,ipv6=none,stun=$S2,derp=$P2,insecure=true" \
  >"$CONTROL_DIR/derp.yaml" || fail "hs-derpmap new"
# A reaches only 900a (d1), B only 900b (d2); a reset makes the client move on at once.
pin_nodes() {
  nft_out ma ip daddr "$DERP_IP" tcp dport "$P2" reject with tcp reset
  nft_out mb ip daddr "$DERP_IP" tcp dport "$P1" reject with tcp reset
}
lab_pair ma mb pin_nodes
eventually 20 derp_clients_are "$M1" 1 || fail "d1 has $(derp_clients "$M1") clients, expected ma"
eventually 20 derp_clients_are "$M2" 1 || fail "d2 has $(derp_clients "$M2") clients, expected mb"
eventually 10 metric_at_least "$M1" "derp_mesh_routes{peer=\"$DERP_IP:$P2\"}" 1 || fail "d1 learned no route to mb from d2"
pass "ma is homed on d1, mb on d2; d1 learned $(metric_at "$M1" "derp_mesh_routes{peer=\"$DERP_IP:$P2\"}") key(s) from d2"

ip_a=$(ts ma ip -4); ip_b=$(ts mb ip -4)
fwd1=$(metric_at "$M1" derp_packets_forwarded_out_total)
eventually 30 ping_via_derp ma "$ip_b" lab || fail "ping ma -> mb via the mesh failed"
ping_via_derp mb "$ip_a" lab || fail "ping mb -> ma via the mesh failed"
[ "$(metric_at "$M1" derp_packets_forwarded_out_total)" -gt "$fwd1" ] || fail "d1 forwarded nothing to d2"
[ "$(metric_at "$M2" derp_packets_forwarded_in_total)" -gt 0 ] || fail "d2 received no ForwardPacket"
[ "$(metric_at "$M2" derp_packets_forwarded_out_total)" -gt 0 ] || fail "d2 forwarded nothing to d1"
[ "$(nft_dropped ma)" -gt 0 ] || fail "ma never tried the blocked paths (the test proves nothing)"
[ -z "$(peer_field ma mb .CurAddr)" ] || fail "ma has a direct path to mb"
pass "ping both ways via DERP(lab) across the mesh: d1 forwarded $(metric_at "$M1" derp_packets_forwarded_out_total), d2 forwarded $(metric_at "$M2" derp_packets_forwarded_out_total) packets; ma's firewall dropped $(nft_dropped ma)"
got=$(tcp_echo_via ma mb "$ip_b" 18182)
[[ "$got" == "echo:hello-from-ma"* ]] || { cat "$LAB/nc-ma.err" >&2; fail "TCP across the mesh returned '$got'"; }
pass "a TCP payload crossed the mesh (tailscale nc got '$got')"

# --- node 900b becomes Tailscale's derper, meshed with hs-derper d1 ----------------------------------
derper_bin=$(bash "$HS_SRC/tests/interop/tailscale.sh" derper "$TS_VERSION") || fail "building Tailscale's derper failed"
hs_derper_stop d2
# Both directions must go down first, so what comes up next is Tailscale's derper.
eventually 10 metric_at_most "$M1" "derp_mesh_link_up{peer=\"$DERP_IP:$P2\"}" 0 || fail "d1 did not notice d2 leaving"
eventually 10 metric_at_most "$M1" derp_current_mesh_peers 0 || fail "d2's link to d1 outlived d2"
mkdir -p "$LAB/tsd"
# -c: its key file; manual certs from the same directory; no port 80; STUN on S2.
env SSL_CERT_FILE="$LAB/pki/bundle.pem" "$derper_bin" -a "$DERP_IP:$P2" -hostname "$DERP_IP" -certmode manual \
  -certdir "$certs" -http-port -1 -stun-port "$S2" -c "$LAB/tsd/derper.json" \
  -mesh-psk-file "$LAB/mesh.key" -mesh-with "$MESH" >"$LAB/tsd/derper.log" 2>&1 &
TSD=$!
LAB_PIDS+=("$TSD")
eventually 15 metric_at_least "$M1" "derp_mesh_link_up{peer=\"$DERP_IP:$P2\"}" 1 || { tail -20 "$LAB/tsd/derper.log" "$LAB/d1/derper.log" >&2; fail "d1 did not link to Tailscale's derper"; }
eventually 15 metric_at_least "$M1" derp_current_mesh_peers 1 || { tail -20 "$LAB/tsd/derper.log" >&2; fail "Tailscale's derper did not link to d1"; }
pass "hs-derper and Tailscale's derper $TS_VERSION linked both ways (d1: link up, 1 mesh peer connected)"

eventually 30 derp_clients_are "$M1" 1 || fail "ma left d1"
eventually 30 metric_at_least "$M1" "derp_mesh_routes{peer=\"$DERP_IP:$P2\"}" 1 || fail "d1 learned no route to mb from Tailscale's derper"
fwd1=$(metric_at "$M1" derp_packets_forwarded_out_total); in1=$(metric_at "$M1" derp_packets_forwarded_in_total)
eventually 40 ping_via_derp ma "$ip_b" lab || fail "ping ma -> mb across hs-derper + Tailscale's derper failed"
ping_via_derp mb "$ip_a" lab || fail "ping mb -> ma across Tailscale's derper + hs-derper failed"
[ "$(metric_at "$M1" derp_packets_forwarded_out_total)" -gt "$fwd1" ] || fail "d1 forwarded nothing to Tailscale's derper"
[ "$(metric_at "$M1" derp_packets_forwarded_in_total)" -gt "$in1" ] || fail "Tailscale's derper forwarded nothing to d1"
pass "ping both ways via DERP(lab) between hs-derper and Tailscale's derper: d1 sent $(( $(metric_at "$M1" derp_packets_forwarded_out_total) - fwd1 )), received $(( $(metric_at "$M1" derp_packets_forwarded_in_total) - in1 )) forwarded packets"

# PeerGone across the mixed mesh, on the wire (hs-derp-probe): X hears from Y on the other
# relay, Y leaves, X must get PeerGone(Y, Disconnected): hs-derper withdrawing a route Tailscale's
# derper announced, and Tailscale's derper withdrawing one hs-derper announced.
peer_gone_both_ways "hs-derper and Tailscale's derper" "$P1" "$P2"

ts_stop ma; ts_stop mb
control_stop
finish
