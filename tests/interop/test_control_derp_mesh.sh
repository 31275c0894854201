#!/usr/bin/env bash
# hs-control's embedded DERP relay meshed with hs-derper in one region (900 "lab": node 900a is
# the embedded relay on derp.server.tls_listen_addr, 900b is hs-derper), configured with
# derp.server.mesh_key_path and mesh_with. Mesh links verify certificates as derper's do, so
# hs-control and hs-derper serve a lab CA's certificate that every process trusts (SSL_CERT_FILE).
# Client ma can reach only 900a, mb only 900b, and direct UDP is dropped: pings go
# ma -> embedded relay -> ForwardPacket -> hs-derper -> mb and back. Then a mesh route withdrawal:
# a DERP client on one relay is told PeerGone when its peer on the other leaves (hs-derp-probe
# peer-gone, both ways), and mb leaving makes the embedded relay withdraw its route and tell ma.
# Last, derp.server.verify_client_url (hs-control's own /verify) refuses a key the tailnet does
# not know, while mesh peers and tailnet members still get in.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
. "$(dirname "$0")/derp.sh"
need_root
ts_install
PROBE="$HS_BIN/hs-derp-probe"

# Below 32768 (Linux's ephemeral ports start there), and apart from one lab ID to the next.
P1=$((31000 + LAB_ID)); S1=$((31250 + LAB_ID))                        # the embedded relay: TLS, STUN
P2=$((31500 + LAB_ID)); S2=$((31750 + LAB_ID)); M2=$((30500 + LAB_ID))  # hs-derper
MC=$((CONTROL_PORT + 1000))                                  # hs-control's metrics
lab_pki "$DERP_IP"
export SSL_CERT_FILE="$LAB/pki/bundle.pem" CURL_CA_BUNDLE="$LAB/pki/bundle.pem"
certs="$LAB/certs"
mkdir -p "$certs"
cp "$LAB/pki/srv.pem" "$certs/$DERP_IP.crt"
cp "$LAB/pki/srv.key" "$certs/$DERP_IP.key"
(umask 077; openssl rand -hex 32 >"$LAB/mesh.key")

# mesh_control_config [derp.server extras]: hs-control over HTTPS, its embedded relay node 900a
# of the region hs-derpmap describes, meshed with both nodes (it skips itself by server key).
mesh_control_config() {
  CONTROL_DERP="derp: {paths: [derp.yaml], server: {enabled: true, region_id: 900, region_code: lab,
    automatically_add_embedded_derp_region: false, stun_listen_addr: '$DERP_IP:$S1', tls_listen_addr: '$DERP_IP:$P1',
    mesh_key_path: '$LAB/mesh.key', mesh_with: ['$DERP_IP:$P1', '$DERP_IP:$P2']${1:+, $1}}}"
  control_config "tls_cert_path: $LAB/pki/srv.pem" "tls_key_path: $LAB/pki/srv.key"
  sed -i "s|^server_url: http://|server_url: https://|" "$CONTROL_DIR/config.yaml"
  CONTROL_URL="https://$DERP_IP:$CONTROL_PORT"
  "$HS_BIN/hs-derpmap" new --region-id 900 --region-code lab --region-name "Lab DERP" \
    --node "name=900a,host=$DERP_IP,ipv4=$DERP_IP,ipv6=none,stun=$S1,derp=$P1,insecure=true" \
    --node "name=900b,host=$DERP_IP,ipv4=$DERP_IP,ipv6=none,stun=$S2,derp=$P2,insecure=true" \
    >"$CONTROL_DIR/derp.yaml" || fail "hs-derpmap new"
}
# The DERP probes below are not nodes of the tailnet: admission is the last part's subject.
mesh_control_config "verify_clients: false"
"$HS_BIN/hs-control" -c "$CONTROL_DIR/config.yaml" --check >"$LAB/check.out" 2>&1 || { cat "$LAB/check.out" >&2; fail "hs-control --check refused the mesh config"; }
grep -q "the embedded DERP meshes with 2 peer(s)" "$LAB/check.out" || fail "--check did not report the mesh: $(cat "$LAB/check.out")"
hs_derper_start d2 "$P2" "$M2" --hostname "$DERP_IP" --certdir "$certs" --stun-port "$S2" \
  --mesh-psk-file "$LAB/mesh.key" --mesh-with "$DERP_IP:$P1,$DERP_IP:$P2"

# ma reaches only 900a (the embedded relay), mb only 900b (hs-derper).
pin_nodes() {
  nft_out ma ip daddr "$DERP_IP" tcp dport "$P2" reject with tcp reset
  nft_out mb ip daddr "$DERP_IP" tcp dport "$P1" reject with tcp reset
}
lab_pair ma mb pin_nodes
eventually 15 metric_at_least "$MC" "derp_mesh_link_up{peer=\"$DERP_IP:$P2\"}" 1 || { tail -20 "$CONTROL_DIR/control.log" >&2; fail "the embedded relay did not link to hs-derper"; }
eventually 15 metric_at_least "$M2" "derp_mesh_link_up{peer=\"$DERP_IP:$P1\"}" 1 || { tail -20 "$LAB/d2/derper.log" >&2; fail "hs-derper did not link to the embedded relay"; }
eventually 5 metric_at_least "$MC" derp_current_mesh_peers 1 || fail "hs-derper's link is not a mesh peer of the embedded relay"
grep -q "mesh $DERP_IP:$P1: that is this derper" "$CONTROL_DIR/control.log" || fail "the embedded relay did not skip itself in mesh_with"
pass "embedded relay and hs-derper linked both ways over verified TLS with the mesh key; hs-control skipped itself in mesh_with"

eventually 20 derp_clients_are "$MC" 1 || fail "the embedded relay has $(derp_clients "$MC") clients, expected ma"
eventually 20 derp_clients_are "$M2" 1 || fail "hs-derper has $(derp_clients "$M2") clients, expected mb"
eventually 10 metric_at_least "$MC" "derp_mesh_routes{peer=\"$DERP_IP:$P2\"}" 1 || fail "the embedded relay learned no route to mb"
ip_a=$(ts ma ip -4); ip_b=$(ts mb ip -4)
eventually 30 ping_via_derp ma "$ip_b" lab || fail "ping ma -> mb across the mesh failed"
ping_via_derp mb "$ip_a" lab || fail "ping mb -> ma across the mesh failed"
[ "$(metric_at "$MC" derp_packets_forwarded_out_total)" -gt 0 ] || fail "the embedded relay forwarded nothing"
[ "$(metric_at "$M2" derp_packets_forwarded_out_total)" -gt 0 ] || fail "hs-derper forwarded nothing"
[ -z "$(peer_field ma mb .CurAddr)" ] || fail "ma has a direct path to mb"
[ "$(nft_dropped ma)" -gt 0 ] || fail "ma never tried the blocked paths (the test proves nothing)"
pass "ping both ways via DERP(lab), ma on the embedded relay and mb on hs-derper: embedded forwarded $(metric_at "$MC" derp_packets_forwarded_out_total), hs-derper $(metric_at "$M2" derp_packets_forwarded_out_total) packets"

# PeerGone across the mesh, on the wire: X hears from Y on the other relay, Y leaves.
peer_gone_both_ways "embedded relay and hs-derper" "$P1" "$P2"

# mb leaves hs-derper: the embedded relay withdraws its route and tells ma, which heard from mb.
gone0=$(metric_at "$MC" derp_peer_gone_disconnected_total)
ts_stop mb
eventually 10 metric_at_most "$MC" "derp_mesh_routes{peer=\"$DERP_IP:$P2\"}" 0 || fail "the embedded relay kept its route to mb"
eventually 5 sh -c "[ \$(curl -sf http://127.0.0.1:$MC/metrics | awk '\$1 == \"derp_peer_gone_disconnected_total\" {print \$2}') -gt $gone0 ]" ||
  fail "no PeerGone(Disconnected) was queued for ma (derp_peer_gone_disconnected_total stayed $gone0)"
pass "mb left hs-derper: the embedded relay withdrew the route and queued PeerGone for ma (derp_peer_gone_disconnected_total $gone0 -> $(metric_at "$MC" derp_peer_gone_disconnected_total))"
ts_stop ma
control_stop

# verify_client_url: the embedded relay asks hs-control's own /verify (as an external derper
# would), fail-closed, with the in-process verify_clients off so only the webhook decides.
mesh_control_config "verify_clients: false, verify_client_url: 'https://$DERP_IP:$CONTROL_PORT/verify', verify_client_url_fail_open: false"
control_start
out=$("$PROBE" hello "$DERP_IP:$P1" || true)
[ "$(echo "$out" | jq -r .ok)" = false ] || fail "the embedded relay admitted a key the tailnet does not know: $out"
grep -q "refused .*the verify-client webhook did not allow it" "$CONTROL_DIR/control.log" || fail "no refusal logged"
[ "$(metric_at "$MC" derp_refused_total)" -ge 1 ] || fail "derp_refused_total did not count the refusal"
pass "verify_client_url: an unknown key was refused ($(grep -m1 'did not allow it' "$CONTROL_DIR/control.log" | sed 's/.*derp: //' | cut -c1-100))"
ts_start ma 41641
eventually 30 derp_clients_are "$MC" 1 || fail "ma (a tailnet member) was not admitted through the webhook"
eventually 15 metric_at_least "$MC" derp_current_mesh_peers 1 || fail "hs-derper's mesh link was not admitted (mesh peers skip the webhook)"
pass "verify_client_url: tailnet member ma admitted, hs-derper's mesh link admitted without asking"
ts_stop ma
control_stop
hs_derper_stop d2
finish
