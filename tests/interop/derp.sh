# Helpers for tests that run hs-derper (and Tailscale's derper) on the lab bridge. Source after
# lib.sh. Every derper listens on the bridge address; its metrics on 127.0.0.1.
lab_bridge
DERP_IP="${LAB_SUBNET}1"

# hs_derper_start NAME PORT METRICS_PORT [hs-derper flags...]: key and log in $LAB/NAME; the pid
# goes to DERPER_PID_NAME. DERPER_ENV (e.g. SSL_CERT_FILE=...) is passed in its environment.
hs_derper_start() {
  local name=$1 port=$2 mport=$3
  shift 3
  mkdir -p "$LAB/$name"
  daemon_start "DERPER_PID_$name" "$LAB/$name/derper.log" "http://127.0.0.1:$mport/metrics" \
    env ${DERPER_ENV:-} "$HS_BIN/hs-derper" -a "$DERP_IP:$port" -c "$LAB/$name/derper.key" \
    --metrics-addr "127.0.0.1:$mport" --log-level debug "$@"
}
hs_derper_stop() { local v="DERPER_PID_$1"; daemon_stop "${!v:-}"; printf -v "$v" '%s' ""; }

# metric_at PORT NAME: one Prometheus sample (labels included in NAME) from the metrics port,
# 0 when absent. metric_sum_at PORT PREFIX: the sum of every sample whose name starts so.
metric_at() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2; found=1 } END { if (!found) print 0 }'; }
metric_sum_at() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" 'index($1, n) == 1 { s += $2 } END { print s + 0 }'; }
# Predicates for `eventually`.
metric_at_least() { [ "$(metric_at "$1" "$2")" -ge "$3" ]; }
metric_at_most() { [ "$(metric_at "$1" "$2")" -le "$3" ]; }
# Connections of real clients: every connection minus those of mesh peers.
derp_clients() { echo $(( $(metric_at "$1" derp_current_connections) - $(metric_at "$1" derp_current_mesh_peers) )); }
derp_clients_are() { [ "$(derp_clients "$1")" = "$2" ]; }

# ping_via_derp FROM TO_IP REGION_CODE: three pongs, every one via DERP(REGION_CODE).
ping_via_derp() {
  local out="$LAB/ping-$1.out"
  ts "$1" ping -c 3 --timeout=5s --until-direct=false "$2" >"$out" 2>&1 || { cat "$out" >&2; return 1; }
  [ "$(grep -c 'pong from' "$out")" -ge 3 ] && [ "$(grep 'pong from' "$out" | grep -vc "via DERP($3)")" = 0 ] ||
    { cat "$out" >&2; return 1; }
}

# tcp_echo_via FROM TO NAME_IP PORT: a TCP payload from FROM's tailscale nc to a listener in
# TO's namespace (reached through TO's netstack); prints what came back.
tcp_echo_via() {
  local from=$1 to=$2 to_ip=$3 port=$4
  ip netns exec "$(host_ns "$to")" python3 -c '
import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1); s.settimeout(30)
c,_=s.accept(); c.settimeout(10); data=b""
while not data.endswith(b"\n"):
    d=c.recv(100)
    if not d: break
    data+=d
c.sendall(b"echo:"+data); c.close()' "$port" &
  local srv=$!
  eventually 5 sh -c "ip netns exec $(host_ns "$to") ss -ltn | grep -q 127.0.0.1:$port" || { kill "$srv" 2>/dev/null; return 1; }
  (echo "hello-from-$from"; sleep 3) | timeout 20 "$TS_BIN/tailscale" --socket="$LAB/$from/ts.sock" nc "$to_ip" "$port" 2>"$LAB/nc-$from.err" || true
  wait "$srv" 2>/dev/null || true
}

# lab_pair A B [SETUP]: starts hs-control (control_config written before), one user, and two
# clients A and B in their own namespaces, each allowed UDP only to the bridge address (so they
# must relay through DERP). SETUP, a function name, runs once the namespaces exist and before
# the daemons start (extra nftables rules). Returns when A lists B.
lab_pair() {
  local a=$1 b=$2 setup=${3:-}
  control_start
  admin users create alice >/dev/null
  local key; key=$(admin preauthkeys create -u alice --reusable -e 1h)
  host_add "$a" 1; host_add "$b" 2
  block_direct_udp "$a"; block_direct_udp "$b"
  [ -z "$setup" ] || "$setup"
  ts_start "$a" 41641; ts_start "$b" 41642
  ts_up "$a" "$key" || fail "tailscale up failed on $a"
  ts_up "$b" "$key" || fail "tailscale up failed on $b"
  eventually 20 peer_is "$a" "$b" .HostName "$b" || fail "$a does not list $b"
}

# peer_gone_both_ways WHAT PORT1 PORT2: two meshed relays on the bridge address. A DERP client X
# on one hears from Y on the other; Y leaves; X must get PeerGone(Y, Disconnected) (hs-derp-probe
# peer-gone). Run with X on each relay in turn.
peer_gone_both_ways() {
  local what=$1 x y out
  for x in "$2" "$3"; do
    y=$([ "$x" = "$2" ] && echo "$3" || echo "$2")
    out=$("$HS_BIN/hs-derp-probe" peer-gone "$DERP_IP:$x" "$DERP_IP:$y") || fail "$what: peer-gone, X on :$x, Y on :$y: $out"
    pass "$what, X on :$x, Y on :$y: $(echo "$out" | jq -r .detail | cut -c1-60)..."
  done
}
