#!/usr/bin/env bash
# hs-control with tls_cert_path/tls_key_path: HTTPS and the TS2021 upgrade on the same listener.
# The clients trust a lab CA made here (SSL_CERT_FILE), as a real deployment trusts a public CA.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root
ts_install
lab_bridge
ip=${LAB_SUBNET}1
lab_pki "$ip"
pki="$LAB/pki"

control_config "tls_cert_path: $pki/srv.pem" "tls_key_path: $pki/srv.key"
sed -i "s|^server_url: http://|server_url: https://|" "$CONTROL_DIR/config.yaml"
CONTROL_URL="https://$ip:$CONTROL_PORT"
"$HS_BIN/hs-control" -c "$CONTROL_DIR/config.yaml" >>"$CONTROL_DIR/control.log" 2>&1 &
CONTROL_PID=$!
LAB_PIDS+=("$CONTROL_PID")
eventually 10 curl -sf --cacert "$pki/ca.pem" "$CONTROL_URL/health" || { tail "$CONTROL_DIR/control.log" >&2; fail "no HTTPS /health"; }
pass "HTTPS /health answers with the lab certificate: $(curl -s --cacert "$pki/ca.pem" "$CONTROL_URL/health")"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://$ip:$CONTROL_PORT/health" || true)" != 200 ] || fail "plain HTTP answered on the TLS listener"
pass "plain HTTP is not served on the TLS listener"

admin users create alice >/dev/null
key=$(admin preauthkeys create -u alice --reusable)
host_add ta 1; host_add tb 2
TS_EXTRA_ENV="SSL_CERT_FILE=$pki/bundle.pem" ts_start ta 41641
TS_EXTRA_ENV="SSL_CERT_FILE=$pki/bundle.pem" ts_start tb 41642
ts_up ta "$key" || fail "tailscale up over https failed on ta"
ts_up tb "$key" || fail "tailscale up over https failed on tb"
eventually 10 peer_is ta tb .HostName tb || fail "ta does not list tb"
ts ta ping -c 3 --until-direct=false --timeout=5s "$(ts tb ip -4)" >"$LAB/ping.out" 2>&1 || { cat "$LAB/ping.out" >&2; fail "ping"; }
pass "two clients joined over https://$ip:$CONTROL_PORT and ping: $(grep -m1 pong "$LAB/ping.out")"
finish
