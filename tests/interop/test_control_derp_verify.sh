#!/usr/bin/env bash
# hs-control's /verify: Tailscale's own derper started with --verify-client-url=<hs-control>/verify
# (headscale's admission endpoint) admits the tailnet's nodes and refuses other keys. Two clients
# that may not use direct UDP relay through it; a DERP client with a key hs-control does not know
# is refused; a node deleted with hs-admin is refused on its next connection.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
. "$(dirname "$0")/derp.sh"
need_root
ts_install
PROBE="$HS_BIN/hs-derp-probe"
derper_bin=$(bash "$HS_SRC/tests/interop/tailscale.sh" derper "$TS_VERSION") || fail "building Tailscale's derper failed"

DERP_PORT=$((15000 + LAB_ID)); DERP_STUN_PORT=$((16000 + LAB_ID))
lab_pki "$DERP_IP"
certs="$LAB/certs"
mkdir -p "$certs" "$LAB/tsd"
cp "$LAB/pki/srv.pem" "$certs/$DERP_IP.crt"
cp "$LAB/pki/srv.key" "$certs/$DERP_IP.key"
control_config
control_start

# The endpoint itself, as headscale answers it: {"Allow": bool} for a POSTed DERPAdmitClientRequest.
stranger="nodekey:$(openssl rand -hex 32)"
got=$(curl -sf -X POST --data "{\"NodePublic\":\"$stranger\",\"Source\":\"192.0.2.1\"}" "$CONTROL_URL/verify")
[ "$got" = '{"Allow":false}' ] || fail "/verify for an unknown key answered '$got'"
code=$(curl -s -o /dev/null -w '%{http_code}' "$CONTROL_URL/verify")
[ "$code" = 405 ] || fail "GET /verify answered $code, expected 405"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST --data 'not json' "$CONTROL_URL/verify")
[ "$code" = 400 ] || fail "/verify with a malformed body answered $code, expected 400"
pass "/verify: unknown key {\"Allow\":false}, GET 405, malformed body 400"

env SSL_CERT_FILE="$LAB/pki/bundle.pem" "$derper_bin" -a "$DERP_IP:$DERP_PORT" -hostname "$DERP_IP" \
  -certmode manual -certdir "$certs" -http-port -1 -stun-port "$DERP_STUN_PORT" -c "$LAB/tsd/derper.json" \
  -verify-client-url "$CONTROL_URL/verify" -verify-client-url-fail-open=false >"$LAB/tsd/derper.log" 2>&1 &
LAB_PIDS+=("$!")
eventually 10 sh -c "ss -ltn | grep -q '$DERP_IP:$DERP_PORT'" || { cat "$LAB/tsd/derper.log" >&2; fail "derper did not start"; }

# A well-formed DERP client whose key is no node's: the derper asks hs-control and refuses it.
out=$("$PROBE" hello "$DERP_IP:$DERP_PORT" || true)
[ "$(echo "$out" | jq -r .ok)" = false ] || fail "Tailscale's derper admitted an unknown key: $out"
eventually 5 grep -q "not allowed" "$LAB/tsd/derper.log" || { cat "$LAB/tsd/derper.log" >&2; fail "no refusal in derper's log"; }
pass "an unknown key is refused: $(grep -m1 'not allowed' "$LAB/tsd/derper.log" | sed 's/^.*derp/derp/' | cut -c1-140)"

# The tailnet's nodes are admitted and relay through it (direct UDP between them is dropped).
lab_pair wa wb
node_a=$(ts wa status --json | jq -r .Self.PublicKey)
got=$(curl -sf -X POST --data "{\"NodePublic\":\"$node_a\",\"Source\":\"$(host_ip wa)\"}" "$CONTROL_URL/verify")
[ "$got" = '{"Allow":true}' ] || fail "/verify for wa's key answered '$got'"
eventually 40 ping_via_derp wa "$(ts wb ip -4)" lab || fail "ping wa -> wb via Tailscale's derper"
pass "wa and wb admitted; ping via DERP(lab): $(grep -m1 'pong from' "$LAB/ping-wa.out")"

# Deleted with hs-admin, wb's key is no longer admitted.
node_b=$(ts wb status --json | jq -r .Self.PublicKey)
verify_is() { [ "$(curl -sf -X POST --data "{\"NodePublic\":\"$1\"}" "$CONTROL_URL/verify")" = "{\"Allow\":$2}" ]; }
verify_is "$node_b" true || fail "/verify does not admit wb before its deletion"
admin nodes delete -i "$(node_id wb)" >/dev/null || fail "hs-admin nodes delete wb"
eventually 5 verify_is "$node_b" false || fail "/verify still admits the deleted wb"
pass "after hs-admin nodes delete, /verify refuses wb's key"

ts_stop wa; ts_stop wb
control_stop
finish
