# Several hs-control instances behind HAProxy on loopback, for tests/bench/multi_*.sh. Source it
# after tests/interop/lib.sh (LAB, LAB_ID, HS_BIN, daemon_start, daemon_stop) and, for
# PostgreSQL, tests/cli/pg_lib.sh (pg_yaml).
#
# multi_start COUNT DB: COUNT (1-3) instances sharing one noise key, on DB ("sqlite": one file in
# $LAB, only with COUNT 1; else a database of the PostgreSQL cluster), behind HAProxy (leastconn,
# health checks, X-Forwarded-For, which the instances trust). MULTI_PIN (an array, e.g.
# (taskset -c 0)) prefixes every server's command. Sets MULTI_URL (HAProxy), MULTI_PID[i],
# MULTI_HAP, MULTI_CONFIG (instance 1's config, for hs-admin), multi_port I and multi_mport I
# (instance I's listen and metrics ports).
# multi_haproxy_cfg BIND MAXCONN BACKEND: the HAProxy configuration alone (below).
# multi_stop: stops them (SIGTERM, then waits), so that another setup can start.
command -v haproxy >/dev/null || fail "haproxy is not installed (.ci/deps.sh installs it)"
MULTI_PIN=(${MULTI_PIN[@]+"${MULTI_PIN[@]}"})
multi_base=$((23000 + LAB_ID * 10))
MULTI_URL=http://127.0.0.1:$multi_base
multi_port() { echo $((multi_base + $1)); }
multi_mport() { echo $((multi_base + 4 + $1)); }
MULTI_PID=()
MULTI_HAP=""

multi_start() {
  local count=$1 db=$2 i dbyaml servers=""
  [ -f "$LAB/derp.yaml" ] || "$HS_BIN/hs-derpmap" new --region-id 900 --region-code lab \
    --node "name=900a,host=127.0.0.1,ipv4=127.0.0.1,ipv6=none" >"$LAB/derp.yaml" || fail "hs-derpmap new failed"
  if [ "$db" = sqlite ]; then
    [ "$count" = 1 ] || fail "multi_start: SQLite serves one instance"
    rm -f "$LAB/db.sqlite"*
    dbyaml="database: {type: sqlite, sqlite: {path: $LAB/db.sqlite, write_ahead_log: true}}"
  else
    dbyaml=$(pg_yaml "$db")
  fi
  MULTI_CONFIG=$LAB/hs1.yaml
  for ((i = 1; i <= count; i++)); do
    cat >"$LAB/hs$i.yaml" <<EOC
server_url: $MULTI_URL
listen_addr: 127.0.0.1:$(multi_port $i)
metrics_listen_addr: 127.0.0.1:$(multi_mport $i)
trusted_proxies: [127.0.0.1/32]
noise: {private_key_path: $LAB/noise_private.key}
log: {level: warn}
dns: {base_domain: hs.test}
derp: {paths: [$LAB/derp.yaml]}
$dbyaml
EOC
    daemon_start "MULTI_PID[$i]" "$LAB/hs$i.log" "http://127.0.0.1:$(multi_port $i)/health" \
      ${MULTI_PIN[@]+"${MULTI_PIN[@]}"} "$HS_BIN/hs-control" -c "$LAB/hs$i.yaml"
    servers+="    server hs$i 127.0.0.1:$(multi_port $i)"$'\n'
  done
  multi_haproxy_cfg "127.0.0.1:$multi_base" 5000 "    default-server check inter 1s"$'\n'"$servers" >"$LAB/haproxy.cfg"
  haproxy -c -q -f "$LAB/haproxy.cfg" || fail "haproxy -c refused the configuration"
  daemon_start MULTI_HAP "$LAB/haproxy.log" "$MULTI_URL/health" \
    ${MULTI_PIN[@]+"${MULTI_PIN[@]}"} haproxy -db -f "$LAB/haproxy.cfg"
}

# multi_haproxy_cfg BIND MAXCONN BACKEND: an HAProxy configuration on stdout: HTTP on BIND with
# X-Forwarded-For (which the instances trust), hour-long tunnels for map streams, retries
# elsewhere, and leastconn with a /health check over BACKEND (its default-server, use-server
# and server lines). A caller may append sections (listen stats).
multi_haproxy_cfg() {
  cat <<EOC
global
    maxconn $2
defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    timeout http-request 10s
    timeout tunnel 1h
    retries 3
    option redispatch 1
frontend hs
    bind $1
    option forwardfor
    default_backend hs_control
backend hs_control
    balance leastconn
    option httpchk GET /health
$3
EOC
}

multi_stop() {
  local i
  daemon_stop "$MULTI_HAP"
  for i in "${!MULTI_PID[@]}"; do daemon_stop "${MULTI_PID[$i]}"; done
  MULTI_HAP=""
  MULTI_PID=()
}
