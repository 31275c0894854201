#!/usr/bin/env bash
# hs-control behind nginx, with examples/nginx/hs.conf as the proxy's configuration (addresses
# and certificate replaced): nginx terminates TLS on the lab bridge and hs-control listens on
# loopback only, so two official clients can join, stream their maps and relay through the
# embedded DERP only through the proxy. trusted_proxies makes the log show each client's own
# address; a second location that drops the Upgrade header gets an answer naming the proxy, and
# an official client sent through a server block that drops it gets a log line naming it.
# Then a third client joins through Caddy with examples/caddy/Caddyfile, and the fourth, which
# could not log in through the proxy that drops Upgrade, through HAProxy with
# examples/haproxy/hs.cfg. All three proxies run as nobody, with their configuration, logs and
# temp files in the lab dir.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
. "$(dirname "$0")/haproxy.sh"
need_root
for p in nginx caddy haproxy; do command -v $p >/dev/null || fail "$p is not installed (.ci/deps.sh installs it)"; done
ts_install
lab_bridge
ip=${LAB_SUBNET}1
tls_port=$((15000 + LAB_ID)) plain_port=$((16000 + LAB_ID)) stun_port=$((13000 + LAB_ID))
lab_pki "$ip"

# --- nginx, unprivileged: everything it reads or writes lives in $ngx.
ngx="$LAB/nginx"
mkdir -p "$ngx/tmp"
cp "$LAB/pki/srv.pem" "$LAB/pki/srv.key" "$ngx/"
sed -e "s|server 127.0.0.1:8080;|server 127.0.0.1:$CONTROL_PORT;|" \
    -e "s|^\( *\)listen 443 ssl;|\1listen $ip:$tls_port ssl;\n\1listen $ip:$plain_port;|" \
    -e "/listen \[::\]:443 ssl;/d" \
    -e "s|/etc/letsencrypt/live/hs.example.com/fullchain.pem|$ngx/srv.pem|" \
    -e "s|/etc/letsencrypt/live/hs.example.com/privkey.pem|$ngx/srv.key|" \
    "$HS_SRC/examples/nginx/hs.conf" >"$ngx/hs.conf"
for want in "127.0.0.1:$CONTROL_PORT" "$ip:$tls_port ssl" "$ip:$plain_port" "$ngx/srv.pem" "$ngx/srv.key"; do
  grep -qF "$want" "$ngx/hs.conf" || fail "examples/nginx/hs.conf changed shape: could not set $want in it"
done
# The broken proxy: a location that passes requests on without Upgrade and Connection (nginx
# drops hop-by-hop headers unless told otherwise), as a default proxy_pass does.
sed -i "s|^\( *\)location / {|\1location /stripped/ {\n\1    proxy_pass http://hs_control/;\n\1    proxy_http_version 1.1;\n\1}\n\n&|" "$ngx/hs.conf"
# The same mistake on a whole server, for an official client to meet.
strip_port=$((12000 + LAB_ID))
cat >>"$ngx/hs.conf" <<CONF

server {
    listen $ip:$strip_port;
    location / {
        proxy_pass http://hs_control;
        proxy_http_version 1.1;
    }
}
CONF
cat >"$ngx/nginx.conf" <<CONF
daemon off;
worker_processes 1;
pid $ngx/nginx.pid;
error_log $ngx/error.log info;
events { worker_connections 256; }
http {
    access_log $ngx/access.log;
    client_body_temp_path $ngx/tmp/body;
    proxy_temp_path $ngx/tmp/proxy;
    fastcgi_temp_path $ngx/tmp/fastcgi;
    uwsgi_temp_path $ngx/tmp/uwsgi;
    scgi_temp_path $ngx/tmp/scgi;
    include $ngx/hs.conf;
}
CONF
chmod 755 "$LAB"
chown -R nobody "$ngx"
ngx_cmd=(setpriv --reuid=nobody --regid=nogroup --clear-groups nginx -p "$ngx" -e "$ngx/error.log" -c "$ngx/nginx.conf")
"${ngx_cmd[@]}" -t 2>"$ngx/check.out" || { cat "$ngx/check.out" >&2; fail "nginx -t refused the configuration"; }
pass "nginx -t accepts examples/nginx/hs.conf (as nobody): $(grep -c . "$ngx/hs.conf") lines"
"${ngx_cmd[@]}" >"$ngx/stdout" 2>&1 &
NGX_PID=$!
LAB_PIDS+=("$NGX_PID")
eventually 5 sh -c "ss -ltn | grep -q '$ip:$tls_port'" || { cat "$ngx/error.log" >&2; fail "nginx did not listen"; }
[ "$(ps -o user= -p "$NGX_PID")" = nobody ] || fail "nginx is not running as nobody"

# --- hs-control on loopback only; the clients know it as the proxy's https URL.
CONTROL_DERP="derp: {server: {enabled: true, region_id: 901, region_code: embedded, region_name: hs embedded, stun_listen_addr: '$ip:$stun_port'}}"
control_config "trusted_proxies: [127.0.0.1/32]"
sed -i -e "s|^server_url: .*|server_url: https://$ip:$tls_port|" -e "s|^listen_addr: .*|listen_addr: 127.0.0.1:$CONTROL_PORT|" "$CONTROL_DIR/config.yaml"
daemon_start CONTROL_PID "$CONTROL_DIR/control.log" "http://127.0.0.1:$CONTROL_PORT/health" "$HS_BIN/hs-control" -c "$CONTROL_DIR/config.yaml"
CONTROL_URL="https://$ip:$tls_port"
health=$(curl -sf --cacert "$LAB/pki/ca.pem" "$CONTROL_URL/health") || fail "no /health through nginx"
pass "/health through nginx over TLS: $health"

admin users create alice >/dev/null
key=$(admin preauthkeys create -u alice --reusable)
host_add pa 1; host_add pb 2
env_a="SSL_CERT_FILE=$LAB/pki/bundle.pem TS_DEBUG_NEVER_DIRECT_UDP=1"
TS_EXTRA_ENV="$env_a" ts_start pa 41641
TS_EXTRA_ENV="$env_a" ts_start pb 41642
ts_up pa "$key" || fail "pa: tailscale up through nginx failed"
# pb joins while pa's map stream is open: pa learns of it only through the proxied stream.
ts_up pb "$key" || fail "pb: tailscale up through nginx failed"
eventually 15 peer_is pa pb .HostName pb || fail "pa's streamed map never showed pb"
eventually 15 peer_is pb pa .HostName pa || fail "pb does not see pa"
pass "two clients joined through nginx; pa's open map stream brought pb"
derp_node=$(ts pa debug derp-map 2>/dev/null | jq -c '.Regions["901"].Nodes[0] | {HostName, DERPPort}')
[ "$derp_node" = "{\"HostName\":\"$ip\",\"DERPPort\":$tls_port}" ] || fail "the embedded DERP node is $derp_node, not the proxy"
# The first ping may leave before pb's DERP connection is up; wait for one pong first.
eventually 15 ts pa ping --until-direct=false -c 1 --timeout=3s "$(ts pb ip -4)" || fail "no pong from pb through the proxied DERP"
ts pa ping --until-direct=false -c 3 --timeout=5s "$(ts pb ip -4)" >"$LAB/ping.out" 2>&1 || { cat "$LAB/ping.out" >&2; fail "ping through the proxied DERP failed"; }
[ "$(grep -c 'via DERP(embedded)' "$LAB/ping.out")" = 3 ] || { cat "$LAB/ping.out" >&2; fail "not every pong came via DERP(embedded)"; }
pass "the DERP upgrade crosses nginx: $derp_node; $(head -1 "$LAB/ping.out")"

# trusted_proxies: the client's own address (port 0: the proxy does not pass the port), not
# nginx's loopback one.
a_ip=$(host_ip pa) b_ip=$(host_ip pb)
grep -q "ts2021 connection from $a_ip:0 " "$CONTROL_DIR/control.log" || { grep "ts2021 connection" "$CONTROL_DIR/control.log" >&2; fail "the log does not name pa's address $a_ip"; }
grep -q "ts2021 connection from $b_ip:0 " "$CONTROL_DIR/control.log" || fail "the log does not name pb's address $b_ip"
! grep -q "ts2021 connection from 127.0.0.1:" "$CONTROL_DIR/control.log" || fail "a connection was logged as nginx's own address"
pass "trusted_proxies: hs-control logged the clients as $a_ip and $b_ip, never as the proxy"

# The browser client's WebSocket variant through the same location.
out=$("$HS_BIN/hs-ts2021-ws-probe" "http://$ip:$plain_port") || fail "WebSocket /ts2021 through nginx: ${out:-no output}"
pass "WebSocket /ts2021 through nginx: $(echo "$out" | tail -1)"

# A client's forged X-Forwarded-For: nginx appends the address it saw, and hs-control takes the
# rightmost address that is not a trusted proxy. (A request without Upgrade gets a 400 that is
# logged with the client's address.)
ip netns exec "$(host_ns pa)" curl -s -o /dev/null --max-time 5 -X POST -H "X-Forwarded-For: 203.0.113.66" \
  --cacert "$LAB/pki/ca.pem" "$CONTROL_URL/ts2021" || true
eventually 5 grep -q "rejected /ts2021 request from $a_ip:0: " "$CONTROL_DIR/control.log" \
  || { grep "rejected /ts2021" "$CONTROL_DIR/control.log" >&2; fail "no log line naming $a_ip"; }
! grep -q "203.0.113.66" "$CONTROL_DIR/control.log" || fail "the forged X-Forwarded-For entry reached the log"
pass "a forged X-Forwarded-For is ignored: $(grep -m1 'rejected /ts2021' "$CONTROL_DIR/control.log" | cut -c1-90)..."

# The location that drops Upgrade: an answer and a log line naming the likely cause, a proxy.
hs64=$(head -c 101 /dev/urandom | base64 -w0)
sleep 1  # the rejection log line is rate-limited to one a second
code=$(curl -s -o "$LAB/stripped.out" -w '%{http_code}' --max-time 5 -X POST \
  -H "Upgrade: tailscale-control-protocol" -H "Connection: upgrade" -H "X-Tailscale-Handshake: $hs64" \
  "http://$ip:$plain_port/stripped/ts2021") || true
[ "$code" = 400 ] && grep -q "reverse proxy" "$LAB/stripped.out" || fail "/ts2021 without Upgrade answered $code: $(cat "$LAB/stripped.out")"
pass "/ts2021 through a proxy that drops Upgrade: $code $(cat "$LAB/stripped.out")"
eventually 5 grep -q "rejected /ts2021 request from 127.0.0.1:[0-9]*: no Upgrade header .*reverse proxy" "$CONTROL_DIR/control.log" \
  || { grep "rejected /ts2021" "$CONTROL_DIR/control.log" >&2; fail "no log line naming the proxy"; }
pass "and hs-control logged it: $(grep 'rejected /ts2021 request from 127.0.0.1' "$CONTROL_DIR/control.log" | tail -1 | cut -c1-120)..."
code=$(curl -s -o "$LAB/stripped-derp.out" -w '%{http_code}' --max-time 5 -H "Upgrade: DERP" -H "Connection: Upgrade" \
  "http://$ip:$plain_port/stripped/derp") || true
[ "$code" = 426 ] && grep -q "reverse proxy" "$LAB/stripped-derp.out" || fail "/derp without Upgrade answered $code: $(cat "$LAB/stripped-derp.out")"
pass "/derp through a proxy that drops Upgrade: $code $(cat "$LAB/stripped-derp.out")"

# An official client behind a proxy that drops Upgrade cannot log in; it shows only a timeout
# (it retries on port 443), so the cause is in hs-control's log (one line a second at most: the
# client's second try, 10 s later, is logged even if the first was not).
stripped_lines() { grep -c "rejected /ts2021 request from 127.0.0.1:[0-9]*: no Upgrade header .*reverse proxy" "$CONTROL_DIR/control.log" || true; }
before=$(stripped_lines)
host_add pd 4
TS_EXTRA_ENV="$env_a" ts_start pd 41644
ts pd up --login-server="http://$ip:$strip_port" --auth-key="$key" --hostname=pd --timeout=15s >"$LAB/pd-up.out" 2>&1 \
  && fail "pd logged in through a proxy that drops Upgrade"
[ "$(stripped_lines)" -gt "$before" ] || fail "hs-control did not log the official client's upgrade without Upgrade"
pass "an official client behind a proxy that drops Upgrade fails ($(head -c 60 "$LAB/pd-up.out")...); hs-control logged the cause"

# --- Caddy with examples/caddy/Caddyfile (the lab certificate instead of ACME, no admin
# endpoint, no port-80 redirect): a third client joins through it and sees the other two.
caddy_port=$((17000 + LAB_ID))
cdir="$LAB/caddy"
mkdir -p "$cdir"
{
  printf '{\n\tadmin off\n\tauto_https disable_redirects\n\tstorage file_system %s/data\n}\n' "$cdir"
  sed -e "s|^hs.example.com {|https://$ip:$caddy_port {\n\ttls $ngx/srv.pem $ngx/srv.key|" \
      -e "s|reverse_proxy 127.0.0.1:8080|reverse_proxy 127.0.0.1:$CONTROL_PORT|" "$HS_SRC/examples/caddy/Caddyfile"
} >"$cdir/Caddyfile"
for want in "https://$ip:$caddy_port {" "reverse_proxy 127.0.0.1:$CONTROL_PORT"; do
  grep -qF "$want" "$cdir/Caddyfile" || fail "examples/caddy/Caddyfile changed shape: could not set $want in it"
done
chown -R nobody "$cdir"
caddy_cmd=(setpriv --reuid=nobody --regid=nogroup --clear-groups env HOME="$cdir" XDG_DATA_HOME="$cdir" XDG_CONFIG_HOME="$cdir"
  caddy run --adapter caddyfile --config "$cdir/Caddyfile")
"${caddy_cmd[@]}" >"$cdir/caddy.log" 2>&1 &
LAB_PIDS+=("$!")
eventually 10 curl -sf --cacert "$LAB/pki/ca.pem" "https://$ip:$caddy_port/health" || { tail -5 "$cdir/caddy.log" >&2; fail "Caddy did not serve /health"; }
pass "Caddy (as nobody) serves /health with examples/caddy/Caddyfile"
host_add pc 3
TS_EXTRA_ENV="$env_a" ts_start pc 41643
ts pc up --login-server="https://$ip:$caddy_port" --auth-key="$key" --hostname=pc --reset --timeout=60s || fail "pc: tailscale up through Caddy failed"
eventually 15 peer_is pc pa .HostName pa || fail "pc (through Caddy) does not see pa"
eventually 15 peer_is pa pc .HostName pc || fail "pa's stream through nginx did not bring pc"
c_ip=$(host_ip pc)
grep -q "ts2021 connection from $c_ip:0 " "$CONTROL_DIR/control.log" || fail "the log does not name pc's address $c_ip behind Caddy"
pass "a client joined through Caddy (logged as $c_ip); pa, streaming through nginx, saw it arrive"

# --- HAProxy with examples/haproxy/hs.cfg, its one server this hs-control. Gone: what only root
# can do (chroot, user, group; maxconn, which raises the file limit) and syslog (stdout instead).
# pd, turned away above, joins through it, sees pa and pc and pings pc (relayed by the embedded
# DERP, which server_url puts behind nginx).
hap_port=$((21000 + LAB_ID))
hdir="$LAB/haproxy"
mkdir -p "$hdir"
cat "$ngx/srv.pem" "$ngx/srv.key" >"$hdir/srv.pem"
haproxy_config "$hdir/hs.cfg" "$ip:$hap_port ssl crt $hdir/srv.pem alpn http/1.1" "127.0.0.1:$CONTROL_PORT"
chown -R nobody "$hdir"
hap_cmd=(setpriv --reuid=nobody --regid=nogroup --clear-groups haproxy -f "$hdir/hs.cfg")
"${hap_cmd[@]}" -c >"$hdir/check.out" 2>&1 || { cat "$hdir/check.out" >&2; fail "haproxy -c refused the configuration"; }
"${hap_cmd[@]}" -db >"$hdir/haproxy.log" 2>&1 &
LAB_PIDS+=("$!")
eventually 10 curl -sf -o /dev/null --cacert "$LAB/pki/ca.pem" "https://$ip:$hap_port/health" || { tail -5 "$hdir/haproxy.log" >&2; fail "HAProxy did not serve /health"; }
cookie=$(curl -sf -D - -o /dev/null --cacert "$LAB/pki/ca.pem" "https://$ip:$hap_port/health" | tr -d '\r' | grep -i '^set-cookie: HSINST=')
[ "$cookie" = "set-cookie: HSINST=hs1; path=/; HttpOnly; Secure" ] || fail "HAProxy did not set the stickiness cookie: ${cookie:-none}"
pass "HAProxy (as nobody) serves /health with examples/haproxy/hs.cfg, setting $cookie"
ts pd up --login-server="https://$ip:$hap_port" --auth-key="$key" --hostname=pd --reset --timeout=60s || fail "pd: tailscale up through HAProxy failed"
eventually 15 peer_is pd pa .HostName pa || fail "pd (through HAProxy) does not see pa"
eventually 15 peer_is pa pd .HostName pd || fail "pa's stream through nginx did not bring pd"
eventually 15 ts pd ping --until-direct=false -c 1 --timeout=3s "$(ts pc ip -4)" || fail "pd got no pong from pc"
d_ip=$(host_ip pd)
grep -q "ts2021 connection from $d_ip:0 " "$CONTROL_DIR/control.log" || fail "the log does not name pd's address $d_ip behind HAProxy"
pass "a client joined through HAProxy (logged as $d_ip), sees pa and pc and pings pc"
# The relay's upgrade: 101, then the server's first frame (type 1, its key, after "DERP" and a key emoji).
code=$(curl -s -o "$hdir/derp.out" -w '%{http_code}' --max-time 1 --cacert "$LAB/pki/ca.pem" \
  -H "Upgrade: DERP" -H "Connection: Upgrade" "https://$ip:$hap_port/derp") || true
[ "$code" = 101 ] && [ "$(head -c 9 "$hdir/derp.out" | tail -c 4)" = DERP ] || fail "/derp through HAProxy answered $code: $(head -c 16 "$hdir/derp.out" | od -An -c)"
pass "the DERP upgrade crosses HAProxy: $code, then a server key frame"
# HAProxy adds its own X-Forwarded-For line after the forged one; hs-control must take that.
# (Sent again until logged: the rejection log line is rate-limited to one a second.)
forged_behind_haproxy() {
  ip netns exec "$(host_ns pd)" curl -s -o /dev/null --max-time 5 -X POST -H "X-Forwarded-For: 198.51.100.7" \
    --cacert "$LAB/pki/ca.pem" "https://$ip:$hap_port/ts2021" || true
  grep -q "rejected /ts2021 request from $d_ip:0: " "$CONTROL_DIR/control.log"
}
eventually 5 forged_behind_haproxy || { grep "rejected /ts2021" "$CONTROL_DIR/control.log" >&2; fail "no log line naming $d_ip behind HAProxy"; }
! grep -q "198.51.100.7" "$CONTROL_DIR/control.log" || fail "the forged X-Forwarded-For entry behind HAProxy reached the log"
pass "behind HAProxy too, a forged X-Forwarded-For is ignored"

ts_stop pa; ts_stop pb; ts_stop pc; ts_stop pd
# HAProxy logs a tunnel when it ends: pd's control connection, upgraded (101) and held open.
tunnel_logged() { grep -q "^$d_ip:[0-9]* .* 101 .*\"POST /ts2021 HTTP/1.1\"" "$hdir/haproxy.log"; }
eventually 5 tunnel_logged || { cat "$hdir/haproxy.log" >&2; fail "HAProxy logged no 101 for pd's POST /ts2021"; }
pass "HAProxy's log of pd's control tunnel: $(grep "^$d_ip:.* 101 .*POST /ts2021" "$hdir/haproxy.log" | tail -1 | cut -d' ' -f3-)"
finish
