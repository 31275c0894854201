#!/usr/bin/env bash
# ACME (RFC 8555) against Pebble, Let's Encrypt's test CA, on loopback and the lab bridge:
# hs-derper and hs-control obtain certificates through TLS-ALPN-01 and HTTP-01, official
# clients join hs-control over https trusting Pebble's root, a short validity shows a renewal
# without a restart, and the bad cases: a CA that is down (the last good certificate stays;
# without one the server refuses to start), a CA that refuses the name, an unwritable cache.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root
ts_install
PEBBLE_DIR=$(bash "$HS_SRC/tests/interop/pebble.sh")
lab_bridge
ip=${LAB_SUBNET}1
A="$LAB/acme"
mkdir -p "$A"
# Below 32768, where Linux's ephemeral range begins (ip_local_port_range): a port up there may be
# the source port of any loopback connection, and then the listener cannot bind it (CI's run at
# 04:14 on 2026-12-05, right after a bench of 1,000 connections: challtestsrv did not start).
ACME_PORT=$((13250 + LAB_ID)) ACME_MGMT=$((13500 + LAB_ID)) DNS_PORT=$((13750 + LAB_ID))
DNS_MGMT=$((14250 + LAB_ID)) HTTP01_PORT=$((14500 + LAB_ID)) TLS_PORT=$CONTROL_PORT
ACME_URL="https://127.0.0.1:$ACME_PORT/dir"
# Pebble's certificates live this long; renewal comes after two thirds of it (30 s).
VALIDITY=45

# Pebble's own HTTPS certificate, from a CA the servers trust through SSL_CERT_FILE.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=pebble-listener-ca \
  -addext basicConstraints=critical,CA:TRUE -keyout "$A/ca.key" -out "$A/ca.pem" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=pebble -keyout "$A/pebble.key" \
  -out "$A/pebble.csr" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >"$A/ext.cnf"
openssl x509 -req -in "$A/pebble.csr" -CA "$A/ca.pem" -CAkey "$A/ca.key" -CAcreateserial -days 2 \
  -extfile "$A/ext.cnf" -out "$A/pebble.pem" 2>/dev/null
cat >"$A/pebble.json" <<JSON
{"pebble": {"listenAddress": "127.0.0.1:$ACME_PORT", "managementListenAddress": "127.0.0.1:$ACME_MGMT",
  "certificate": "$A/pebble.pem", "privateKey": "$A/pebble.key", "httpPort": $HTTP01_PORT, "tlsPort": $TLS_PORT,
  "ocspResponderURL": "", "externalAccountBindingRequired": false, "domainBlocklist": ["blocked.acme.test"],
  "retryAfter": {"authz": 1, "order": 1}, "keyAlgorithm": "ecdsa",
  "profiles": {"default": {"description": "short-lived for the renewal test", "validityPeriod": $VALIDITY}}}}
JSON

# Every name resolves to 127.0.0.1 (challtestsrv's default) except control.acme.test, on the bridge.
"$PEBBLE_DIR/pebble-challtestsrv" -dnsserver "127.0.0.1:$DNS_PORT" -management "127.0.0.1:$DNS_MGMT" \
  -http01 "" -https01 "" -tlsalpn01 "" -doh "" -defaultIPv4 127.0.0.1 -defaultIPv6 "" >"$A/dns.log" 2>&1 &
LAB_PIDS+=("$!")
eventually 10 curl -sf "http://127.0.0.1:$DNS_MGMT/add-a" -d "{\"host\":\"control.acme.test\",\"addresses\":[\"$ip\"]}" ||
  fail "pebble-challtestsrv did not start: $(tail -3 "$A/dns.log")"
# PEBBLE_VA_NOSLEEP: validate at once. PEBBLE_AUTHZREUSE=0: every order is validated anew, so a
# renewal answers its challenge too. Pebble's default 5% of refused nonces stays (badNonce retries).
PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 "$PEBBLE_DIR/pebble" -config "$A/pebble.json" \
  -dnsserver "127.0.0.1:$DNS_PORT" >"$A/pebble.log" 2>&1 &
PEBBLE_PID=$!
LAB_PIDS+=("$PEBBLE_PID")
eventually 10 curl -sf --cacert "$A/ca.pem" "$ACME_URL" || fail "pebble did not start: $(tail -3 "$A/pebble.log")"
curl -sf --cacert "$A/ca.pem" "https://127.0.0.1:$ACME_MGMT/roots/0" >"$A/root.pem" || fail "no Pebble root"
# Servers trust Pebble's listener; clients trust the certificates Pebble issues.
cat /etc/ssl/certs/ca-certificates.crt "$A/ca.pem" >"$A/servers.pem" 2>/dev/null || cp "$A/ca.pem" "$A/servers.pem"
cat /etc/ssl/certs/ca-certificates.crt "$A/root.pem" >"$A/clients.pem" 2>/dev/null || cp "$A/root.pem" "$A/clients.pem"
export SSL_CERT_FILE="$A/servers.pem"
pass "pebble $PEBBLE_DIR with certificates valid ${VALIDITY}s, DNS from pebble-challtestsrv"

# serial HOST IP PORT: the serial of the certificate served for HOST (SNI).
serial() {
  openssl s_client -connect "$2:$3" -servername "$1" </dev/null 2>/dev/null | openssl x509 -noout -serial 2>/dev/null | cut -d= -f2
}
# https_get HOST IP PORT PATH: verified against Pebble's root, as a client would.
https_get() { curl -sf --max-time 5 --cacert "$A/root.pem" --resolve "$1:$3:$2" "https://$1:$3$4"; }
mode_of() { stat -c %a "$1"; }

derper() {
  local name=$1
  shift
  "$HS_BIN/hs-derper" -c "$A/$name.key" --addr "127.0.0.1:$TLS_PORT" --stun=false --certmode letsencrypt \
    --acme-url "$ACME_URL" --acme-email ops@acme.test "$@" >>"$A/$name.log" 2>&1 &
  DERPER_PID=$!
  LAB_PIDS+=("$DERPER_PID")
}

# derper_once NAME CERTDIR ARGS...: runs hs-derper in the foreground (at most 60 s), output in
# $A/NAME.log; its exit status in rc.
derper_once() {
  local name=$1 certdir=$2
  shift 2
  set +e
  timeout 60 "$HS_BIN/hs-derper" -c "$A/$name.key" --addr "127.0.0.1:$TLS_PORT" --stun=false --certmode letsencrypt \
    --acme-url "$ACME_URL" --certdir "$certdir" "$@" >"$A/$name.log" 2>&1
  rc=$?
  set -e
}

# hs-derper, TLS-ALPN-01 on its DERP port, no HTTP listener.
derper d1 --hostname derp1.acme.test --certdir "$A/d1" --http-port=-1
eventually 20 https_get derp1.acme.test 127.0.0.1 "$TLS_PORT" / || { tail "$A/d1.log" >&2; fail "hs-derper got no certificate by TLS-ALPN-01"; }
grep -q "tls-alpn-01" "$A/d1.log" || fail "hs-derper did not use tls-alpn-01"
check "hs-derper TLS-ALPN-01: $(https_get derp1.acme.test 127.0.0.1 "$TLS_PORT" / | sed -n 1p)" true
check "cache files are 0600 ($(mode_of "$A/d1/derp1.acme.test.crt") $(mode_of "$A/d1/derp1.acme.test.key") $(mode_of "$A/d1/acme_account.key")), directory 0700" \
  test "$(mode_of "$A/d1/derp1.acme.test.crt")$(mode_of "$A/d1/derp1.acme.test.key")$(mode_of "$A/d1/acme_account.key")$(mode_of "$A/d1")" = 600600600700
# The chain carries derper's meta certificate for fast start.
openssl s_client -connect "127.0.0.1:$TLS_PORT" -servername derp1.acme.test -showcerts </dev/null 2>/dev/null | grep "CN *= *derpkey" >/dev/null &&
  pass "the served chain ends with the derpkey meta certificate" || { TESTS_FAILED=$((TESTS_FAILED + 1)); log "FAILED: no derpkey certificate"; }
daemon_stop "$DERPER_PID"

# hs-derper, HTTP-01 on --http-port; then a restart serves the cached certificate without an order.
derper d2 --hostname derp2.acme.test --certdir "$A/d2" --acme-challenge HTTP-01 --http-port "$HTTP01_PORT"
eventually 20 https_get derp2.acme.test 127.0.0.1 "$TLS_PORT" / || { tail "$A/d2.log" >&2; fail "hs-derper got no certificate by HTTP-01"; }
pass "hs-derper HTTP-01: serial $(serial derp2.acme.test 127.0.0.1 "$TLS_PORT")"
loc=$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "http://127.0.0.1:$HTTP01_PORT/derp?x=1")
check "plain HTTP on --http-port redirects to HTTPS: $loc" test "$loc" = "308 https://derp2.acme.test:$TLS_PORT/derp?x=1"
first=$(serial derp2.acme.test 127.0.0.1 "$TLS_PORT")
daemon_stop "$DERPER_PID"
derper d2 --hostname derp2.acme.test --certdir "$A/d2" --acme-challenge HTTP-01 --http-port "$HTTP01_PORT"
eventually 10 https_get derp2.acme.test 127.0.0.1 "$TLS_PORT" / || fail "restarted hs-derper does not serve"
check "a restart serves the cached certificate (serial $first)" test "$(serial derp2.acme.test 127.0.0.1 "$TLS_PORT")" = "$first"
daemon_stop "$DERPER_PID"

# A CA that refuses the name: a clear message, exit status 1, nothing served.
derper_once d3 "$A/d3" --hostname blocked.acme.test --http-port=-1
check "a refused name ends hs-derper (exit $rc): $(tail -1 "$A/d3.log" | cut -c1-160)" \
  eval "[ $rc = 1 ] && grep -q 'rejectedIdentifier' '$A/d3.log'"
# An unwritable cache: refused before anything listens.
touch "$A/plainfile"
derper_once d4 "$A/plainfile/certs" --hostname derp4.acme.test
check "an unwritable cache is refused (exit $rc): $(tail -1 "$A/d4.log" | cut -c1-200)" \
  eval "[ $rc = 1 ] && grep -q 'ACME certificate cache: cannot create' '$A/d4.log'"

# hs-control, TLS-ALPN-01 on listen_addr (on loopback, its own directory).
B="$LAB/control-b"
mkdir -p "$B"
control_config
cp "$CONTROL_DIR/derp.yaml" "$B/"
sed -e "s|^server_url: .*|server_url: https://control2.acme.test:$TLS_PORT|" -e "s|^listen_addr: .*|listen_addr: 127.0.0.1:$TLS_PORT|" \
  -e "s|^metrics_listen_addr: .*|metrics_listen_addr: 127.0.0.1:$((CONTROL_PORT + 1001))|" "$CONTROL_DIR/config.yaml" >"$B/config.yaml"
control_own_db "$B"
printf '%s\n' "tls_letsencrypt_hostname: control2.acme.test" "tls_letsencrypt_challenge_type: TLS-ALPN-01" \
  "tls_letsencrypt_cache_dir: acme" "acme_url: $ACME_URL" >>"$B/config.yaml"
"$HS_BIN/hs-control" -c "$B/config.yaml" >"$B/control.log" 2>&1 &
B_PID=$!
LAB_PIDS+=("$B_PID")
eventually 20 https_get control2.acme.test 127.0.0.1 "$TLS_PORT" /health || { tail "$B/control.log" >&2; fail "hs-control got no certificate by TLS-ALPN-01"; }
check "hs-control TLS-ALPN-01: /health over https says $(https_get control2.acme.test 127.0.0.1 "$TLS_PORT" /health)" \
  grep -q "tls-alpn-01" "$B/control.log"
daemon_stop "$B_PID"

# hs-control, HTTP-01 on tls_letsencrypt_listen, on the lab bridge where the clients are.
printf '%s\n' "tls_letsencrypt_hostname: control.acme.test" "tls_letsencrypt_listen: $ip:$HTTP01_PORT" \
  "tls_letsencrypt_cache_dir: acme" "acme_url: $ACME_URL" "acme_email: ops@acme.test" >>"$CONTROL_DIR/config.yaml"
sed -i -e "s|^server_url: .*|server_url: https://control.acme.test:$TLS_PORT|" "$CONTROL_DIR/config.yaml"
CONTROL_URL="https://control.acme.test:$TLS_PORT"
"$HS_BIN/hs-control" -c "$CONTROL_DIR/config.yaml" >"$CONTROL_DIR/control.log" 2>&1 &
CONTROL_PID=$!
LAB_PIDS+=("$CONTROL_PID")
eventually 20 https_get control.acme.test "$ip" "$TLS_PORT" /health || { tail "$CONTROL_DIR/control.log" >&2; fail "hs-control got no certificate by HTTP-01"; }
serial1=$(serial control.acme.test "$ip" "$TLS_PORT")
check "hs-control HTTP-01: serial $serial1, first order logged" grep -q "ordering a certificate for control.acme.test.*http-01" "$CONTROL_DIR/control.log"
metrics() { curl -sf "http://127.0.0.1:$((CONTROL_PORT + 1000))/metrics"; }

admin users create alice >/dev/null
key=$(admin preauthkeys create -u alice --reusable)
for h in ta tb; do
  host_add "$h" "$([ $h = ta ] && echo 1 || echo 2)"
  printf '127.0.0.1 localhost\n%s control.acme.test\n' "$ip" >"/etc/netns/$(host_ns $h)/hosts"
done
TS_EXTRA_ENV="SSL_CERT_FILE=$A/clients.pem" ts_start ta 41641
TS_EXTRA_ENV="SSL_CERT_FILE=$A/clients.pem" ts_start tb 41642
ts_up ta "$key" || fail "tailscale up over https (Pebble's certificate) failed on ta"
ts_up tb "$key" || fail "tailscale up over https (Pebble's certificate) failed on tb"
eventually 15 peer_is ta tb .HostName tb || fail "ta does not list tb"
pass "two official clients ($TS_VERSION) joined $CONTROL_URL trusting Pebble's root"
# The clients do verify: one without Pebble's root cannot log in.
host_add tc 3
printf '127.0.0.1 localhost\n%s control.acme.test\n' "$ip" >"/etc/netns/$(host_ns tc)/hosts"
ts_start tc 41643
check "a client that does not trust Pebble's root cannot log in" \
  eval '! ts tc up --login-server="$CONTROL_URL" --auth-key="$key" --hostname=tc --timeout=8s >/dev/null 2>&1 && ! admin_node_is tc .name tc'
ts_stop tc

# Renewal: two thirds of 45 s after issuance, on the running process.
eventually 40 eval '[ "$(serial control.acme.test "$ip" "$TLS_PORT")" != "$serial1" ]' || fail "no renewal within 40s"
serial2=$(serial control.acme.test "$ip" "$TLS_PORT")
check "renewed without a restart (pid $CONTROL_PID alive): serial $serial1 -> $serial2" kill -0 "$CONTROL_PID"
check "the cache holds the renewed certificate" \
  test "$(openssl x509 -noout -serial -in "$CONTROL_DIR/acme/control.acme.test.crt" | cut -d= -f2)" = "$serial2"
# One scrape, and no `grep -q` on a pipe: under pipefail, grep -q quitting early kills curl with SIGPIPE.
ok_line=$(metrics | grep -F 'hs_acme_orders_total{outcome="ok"}')
check "metrics: $ok_line" test "${ok_line##* }" -ge 2
ts ta ping -c 2 --until-direct=false --timeout=5s "$(ts tb ip -4)" >"$LAB/ping.out" 2>&1 || { cat "$LAB/ping.out" >&2; fail "ping after renewal"; }
check "clients still work after the renewal: $(grep -m1 pong "$LAB/ping.out")" true
# A restarted tailscaled opens a new control connection, which must verify the renewed certificate.
# (hs_control_http_requests_total counts the TS2021 upgrade, which follows a verified handshake.)
requests() { metrics | awk '/^hs_control_http_requests_total/ {print $2}'; }
before=$(requests)
ts_stop ta
TS_EXTRA_ENV="SSL_CERT_FILE=$A/clients.pem" ts_start ta 41641
eventually 20 eval '[ "$(requests)" -gt "$before" ] && peer_is ta tb .Online true' || true
check "a restarted client reconnects over the renewed certificate (HTTP requests $before -> $(requests))" \
  eval '[ "$(requests)" -gt "$before" ] && status_is ta .BackendState Running' 

# The CA goes away: the renewal fails, the certificate in use stays, a log line and a metric say so.
kill "$PEBBLE_PID"
eventually 45 grep -q "renewing the certificate for control.acme.test failed" "$CONTROL_DIR/control.log" ||
  fail "no failed renewal logged"
check "renewal failure logged: $(grep -m1 'renewing the certificate for control.acme.test failed' "$CONTROL_DIR/control.log" | cut -c1-220)" true
# One scrape: the full run once saw the line in the message's scrape and not in a second one.
failed_line=$(metrics | grep -F 'hs_acme_orders_total{outcome="failed"}')
check "metrics: $failed_line" test "${failed_line##* }" -ge 1
check "the last good certificate is still served (serial $serial2)" test "$(serial control.acme.test "$ip" "$TLS_PORT")" = "$serial2"

# No certificate and no CA: hs-derper and hs-control (side by side) refuse to start, never
# falling back to plain HTTP.
C="$LAB/control-c"
mkdir -p "$C"
cp "$CONTROL_DIR/derp.yaml" "$C/"
sed -e "s|^server_url: .*|server_url: https://control3.acme.test:$((CONTROL_PORT + 2000))|" \
  -e "s|^listen_addr: .*|listen_addr: 127.0.0.1:$((CONTROL_PORT + 2000))|" -e "/^metrics_listen_addr/d" \
  -e "s|^tls_letsencrypt_hostname: .*|tls_letsencrypt_hostname: control3.acme.test|" \
  -e "s|^tls_letsencrypt_listen: .*|tls_letsencrypt_listen: 127.0.0.1:$((CONTROL_PORT + 2001))|" "$CONTROL_DIR/config.yaml" >"$C/config.yaml"
control_own_db "$C"
timeout 60 "$HS_BIN/hs-control" -c "$C/config.yaml" >"$C/control.log" 2>&1 &
c_pid=$!
start=$SECONDS
derper_once d5 "$A/d5" --hostname derp5.acme.test --http-port=-1
check "CA down and nothing cached: hs-derper exits $rc after $((SECONDS - start))s: $(tail -1 "$A/d5.log" | cut -c1-200)" \
  eval "[ $rc = 1 ] && grep -q 'cannot reach the ACME server' '$A/d5.log'"
set +e
wait "$c_pid"
rc=$?
set -e
check "CA down and nothing cached: hs-control exits $rc: $(tail -1 "$C/control.log" | cut -c1-200)" \
  eval "[ $rc = 1 ] && grep -q '^hs-control: cannot obtain a certificate for control3.acme.test' '$C/control.log'"
finish
