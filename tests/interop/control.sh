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

# control_embedded_derp: before control_config, makes the lab's DERP map hs-control's embedded
# region: a relay from the start, so a path between two clients exists at once (the lab's direct
# UDP takes some seconds to be found) and a refused connection means the packet filter.
control_embedded_derp() {
  CONTROL_DERP="derp: {server: {enabled: true, region_id: 901, region_code: embedded, region_name: hs embedded, stun_listen_addr: '${LAB_SUBNET}1:$((13000 + LAB_ID))', tls_listen_addr: '${LAB_SUBNET}1:$((14000 + LAB_ID))'}}"
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

# policy_set: stores the policy read from stdin (policy.mode database; kept in $LAB/policy.hujson).
policy_set() {
  cat >"$LAB/policy.hujson"
  admin policy set -f "$LAB/policy.hujson" >/dev/null || fail "hs-admin policy set refused: $(admin policy set -f "$LAB/policy.hujson" 2>&1)"
}

# Connections through the clients, for policy labs (the hosts made by host_add).

# serve HOST PORT TEXT: a web server on HOST's 127.0.0.1:PORT answering TEXT. tailscaled in
# userspace mode hands TCP for its own tailnet address to the same port on its loopback.
serve() {
  local dir="$LAB/www-$1-$2"
  mkdir -p "$dir"
  echo "$3" >"$dir/index.html"
  ip netns exec "$(host_ns "$1")" python3 -m http.server "$2" --bind 127.0.0.1 --directory "$dir" >"$dir.log" 2>&1 &
  LAB_PIDS+=("$!")
  local t; t=$(ip netns exec "$(host_ns "$1")" curl -s --max-time 5 --retry 10 --retry-connrefused --retry-delay 0 "http://127.0.0.1:$2/") || true
  [ "$t" = "$3" ] || fail "$1 cannot reach its own web server on port $2 ('$t')"
}

# get SRC DST PORT: GET / from SRC's tailscaled to DST's tailnet address (tailscale nc, 4 s at
# most); prints the body. stdin stays open longer than that: nc ends when its input does. The
# writer lets go of stderr, so a test runner waiting on it is not held up by a sleep.
get() {
  TS_TIMEOUT=4 ts "$1" nc "$(ts "$2" ip -4)" "$3" \
    < <(exec 2>/dev/null; printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$2"; sleep 5) 2>/dev/null | tail -n 1
}
reaches() { [ "$(get "$1" "$2" "$3")" = "$4" ]; }
# peers NAME: the HostNames of NAME's peers, sorted, comma-separated.
peers() { ts "$1" status --json | jq -r '[.Peer // {} | .[] | .HostName] | sort | join(",")'; }
peers_are() { [ "$(peers "$1")" = "$2" ]; }
# refused SRC DST PORT: SRC cannot open PORT on DST (where a server listens). Either DST is not
# among SRC's peers, or SRC has a working path to DST (a disco pong: tailscale ping, which the
# packet filter does not see) and the connection still gets no answer. Without a pong a failed
# connection proves nothing (a path still being set up fails it too), so the check fails.
refused() {
  peers "$1" | tr , '\n' | grep -qx "$2" || return 0
  eventually 10 pong "$1" "$2" || { echo "no pong from $2 to $1: $(pong "$1" "$2" 2>&1 | tail -n 1)" >&2; return 1; }
  [ -z "$(get "$1" "$2" "$3")" ]
}
pong() { TS_TIMEOUT=5 ts "$1" ping -c 1 --timeout=2s --until-direct=false "$(ts "$2" ip -4)"; }
