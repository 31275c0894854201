#!/usr/bin/env bash
# hs-derper --verify-client-url: derper's admission webhook, here a small Python server on
# loopback that allows the node keys listed in a file. A real client whose key is not listed is
# refused (and relays nothing); once listed it is admitted on its next attempt and ping works via
# DERP. With the webhook down, fail-open admits and --verify-client-url-fail-open=false refuses.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
. "$(dirname "$0")/derp.sh"
need_root
ts_install
PROBE="$HS_BIN/hs-derp-probe"

DERP_PORT=$((15000 + LAB_ID)); MPORT=$((17000 + LAB_ID)); WPORT=$((22000 + LAB_ID))
HOOK="http://127.0.0.1:$WPORT/verify"
: >"$LAB/allowed"
webhook_start() {
  python3 - "$WPORT" "$LAB/allowed" "$LAB/webhook.requests" <<'EOF' >"$LAB/webhook.log" 2>&1 &
import http.server, json, sys
port, allowed, reqlog = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with open(reqlog, "ab") as f:
            f.write(body + b"\n")
        req = json.loads(body)
        ok = req["NodePublic"] in open(allowed).read().split()
        out = json.dumps({"Allow": ok}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)
http.server.HTTPServer(("127.0.0.1", port), H).serve_forever()
EOF
  WEBHOOK=$!
  LAB_PIDS+=("$WEBHOOK")
  eventually 5 sh -c "ss -ltn | grep -q 127.0.0.1:$WPORT" || fail "webhook did not start"
}
webhook_start
hs_derper_start hook "$DERP_PORT" "$MPORT" --hostname "$DERP_IP" --self-signed --stun-port $((DERP_PORT + 1)) \
  --verify-client-url "$HOOK"
metric() { metric_at "$MPORT" "$1"; }

# A well-formed client the webhook does not list is refused; listed, it is admitted.
out=$("$PROBE" hello "$DERP_IP:$DERP_PORT" || true)
[ "$(echo "$out" | jq -r .ok)" = false ] || fail "an unlisted key was admitted: $out"
[ "$(metric derp_refused_total)" -ge 1 ] || fail "derp_refused_total did not count the refusal"
last=$(tail -1 "$LAB/webhook.requests")
echo "$last" | jq -e '(.NodePublic | startswith("nodekey:")) and .Source == "'"$DERP_IP"'"' >/dev/null ||
  fail "webhook request body: $last"
pass "unlisted key refused; the webhook got $last"

DERP_STUN_PORT=$((DERP_PORT + 1))
control_config
lab_pair wa wb
node_a=$(ts wa status --json | jq -r .Self.PublicKey); node_b=$(ts wb status --json | jq -r .Self.PublicKey)
eventually 20 grep -q "refused $node_b .*webhook did not allow it" "$LAB/hook/derper.log" || fail "wb was not refused"
# Listed, wa gets in on its next attempt (the client retries with backoff); wb stays out.
echo "$node_a" >>"$LAB/allowed"
eventually 60 derp_clients_are "$MPORT" 1 || fail "hs-derper has $(derp_clients "$MPORT") clients, expected only wa"
pass "wa (listed) is connected, wb (not listed) refused: $(grep -m1 "refused $node_b" "$LAB/hook/derper.log" | sed 's/.*derp: //')"

echo "$node_b" >>"$LAB/allowed"
eventually 60 derp_clients_are "$MPORT" 2 || fail "wb was not admitted after being listed"
eventually 30 ping_via_derp wa "$(ts wb ip -4)" lab || fail "ping via DERP after admitting wb"
pass "after listing wb it reconnected and was admitted: $(grep -m1 'pong from' "$LAB/ping-wa.out")"
ts_stop wa; ts_stop wb
control_stop

# The webhook goes away: fail-open (the default) admits, fail-closed refuses.
daemon_stop "$WEBHOOK"
out=$("$PROBE" hello "$DERP_IP:$DERP_PORT") || fail "fail-open did not admit while the webhook is down: $out"
grep -q "verify-client-url: .*admitting" "$LAB/hook/derper.log" || fail "no log line for the outage"
pass "webhook down, fail-open: $(echo "$out" | jq -r .detail | cut -c1-40)..."
hs_derper_stop hook
hs_derper_start closed "$DERP_PORT" "$MPORT" --hostname "$DERP_IP" --self-signed --stun=false \
  --verify-client-url "$HOOK" --verify-client-url-fail-open=false
out=$("$PROBE" hello "$DERP_IP:$DERP_PORT" || true)
[ "$(echo "$out" | jq -r .ok)" = false ] || fail "fail-closed admitted while the webhook is down: $out"
grep -q "verify-client-url: .*refusing" "$LAB/closed/derper.log" || fail "no log line for the refusal"
pass "webhook down, --verify-client-url-fail-open=false: refused"
finish
