# Helpers to run hs-control (and hs-admin against it) inside the lab from lib.sh. Source after lib.sh.
# The server listens on the lab bridge address; clients in their namespaces reach it there.

CONTROL_PORT=${CONTROL_PORT:-$((18000 + LAB_ID))}
CONTROL_DIR="$LAB/control"
CONTROL_URL=""
CONTROL_PID=""

# control_config [extra yaml lines...]: writes $CONTROL_DIR/config.yaml.
control_config() {
  lab_bridge
  mkdir -p "$CONTROL_DIR"
  CONTROL_URL="http://${LAB_SUBNET}1:$CONTROL_PORT"
  # The map comes from hs-derpmap, so every control test also checks that hs-control (and
  # through it the official client) takes what hs-derpmap writes.
  "$HS_BIN/hs-derpmap" new --region-id 900 --region-code lab --region-name "Lab DERP" \
    --node "name=900a,host=${LAB_SUBNET}1,ipv4=${LAB_SUBNET}1,ipv6=none,stun=${DERP_STUN_PORT:-3478},derp=${DERP_PORT:-$((18500 + LAB_ID))},insecure=true" \
    >"$CONTROL_DIR/derp.yaml" || fail "hs-derpmap new failed"
  "$HS_BIN/hs-derpmap" check "$CONTROL_DIR/derp.yaml" || fail "hs-derpmap check refused its own map"
  {
    echo "server_url: $CONTROL_URL"
    echo "listen_addr: ${LAB_SUBNET}1:$CONTROL_PORT"
    echo "metrics_listen_addr: 127.0.0.1:$((CONTROL_PORT + 1000))"
    echo "log: {level: debug}"
    echo "dns: {base_domain: hs.test}"
    local derp_line='derp: {paths: [derp.yaml]}'
    echo "${CONTROL_DERP:-$derp_line}"
    for l in "$@"; do echo "$l"; done
  } >"$CONTROL_DIR/config.yaml"
}

control_start() {
  [ -f "$CONTROL_DIR/config.yaml" ] || control_config
  daemon_start CONTROL_PID "$CONTROL_DIR/control.log" "$CONTROL_URL/health" "$HS_BIN/hs-control" -c "$CONTROL_DIR/config.yaml"
}

# server_alive WHAT: fails (with the log's tail) if hs-control has exited, so a crash shows up
# at the first step after it rather than at the end.
server_alive() {
  kill -0 "$CONTROL_PID" 2>/dev/null && return 0
  tail -n 30 "$CONTROL_DIR/control.log" >&2
  fail "hs-control is gone after: $1"
}

control_stop() {
  daemon_stop "$CONTROL_PID"
  CONTROL_PID=""
}

# admin ARGS...: hs-admin against the lab's config.
admin() { "$HS_BIN/hs-admin" -c "$CONTROL_DIR/config.yaml" "$@"; }

# ts_up NAME KEY [flags...]: joins NAME with a pre-auth key.
ts_up() {
  local name=$1 key=$2
  shift 2
  ts "$name" up --login-server="$CONTROL_URL" --auth-key="$key" --hostname="$name" --reset --timeout=60s "$@"
}

# Peer field of NAME's status for the peer whose HostName is PEER.
peer_field() { ts "$1" status --json | jq -r --arg h "$2" ".Peer[] | select(.HostName==\$h) | $3"; }
# For `eventually`, which re-runs a command: each evaluates the status afresh on every try.
peer_is() { [ "$(peer_field "$1" "$2" "$3")" = "$4" ]; }
status_is() { [ "$(ts "$1" status --json | jq -r "$2")" = "$3" ]; }
admin_node_is() { [ "$(admin nodes list -o json | jq -r --arg h "$1" ".[] | select(.name==\$h) | $2")" = "$3" ]; }
node_id() { admin nodes list -o json | jq -r --arg h "$1" '.[] | select(.name==$h) | .id'; }
