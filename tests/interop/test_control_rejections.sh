#!/usr/bin/env bash
# hs-control refuses bad input with a clear answer and without harm to anyone else. Two clients
# join with a reusable key; then hs-ts2021-probe sends a malformed or outdated TS2021 exchange
# of each kind, and the real client tries unknown, used-up and expired pre-auth keys. Afterwards
# the first two clients must still be Running, see each other and ping each other.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root

PROBE="$HS_BIN/hs-ts2021-probe"
[ -x "$PROBE" ] || fail "$PROBE is missing (build the hs-ts2021-probe target)"

ts_install
control_config
control_start
admin users create alice >/dev/null
key=$(admin preauthkeys create -u alice --reusable -e 1h)
[[ "$key" == hskey-auth-* ]] || fail "preauthkeys create printed '$key'"

host_add ra 1; host_add rb 2
ts_start ra 41641; ts_start rb 41642
ts_up ra "$key" || fail "tailscale up with a reusable key failed on ra"
ts_up rb "$key" || fail "tailscale up with a reusable key failed on rb"
eventually 10 peer_is ra rb .HostName rb || fail "ra does not list rb"
eventually 10 peer_is rb ra .HostName ra || fail "rb does not list ra"
pass "ra and rb registered with a reusable key and list each other"

# probe COMMAND [ARG]: runs hs-ts2021-probe against the server; its one line lands in OUT.
probe() {
  local cmd=$1
  shift
  OUT=$("$PROBE" "$cmd" "$CONTROL_URL" "$@") || fail "probe $cmd: ${OUT:-no output}"
  server_alive "probe $cmd"
}

probe not-upgrade
[[ "$OUT" == *"HTTP 400"*Upgrade* ]] || fail "not-upgrade: $OUT"
pass "$OUT"

probe bad-base64
[[ "$OUT" == *"HTTP 400"* ]] || fail "bad-base64: $OUT"
pass "$OUT"

probe truncated
[[ "$OUT" == *'HTTP 101, then error frame (type 0x03) "wrong handshake initiation size"'*closed* ]] || fail "truncated: $OUT"
pass "$OUT"

probe garbage
[[ "$OUT" == *"HTTP 101, then the server"*"without sending any handshake message"* ]] || fail "garbage: $OUT"
pass "$OUT"

probe oversized
[[ "$OUT" == *nodeKeyChallenge*"announcing 5000 bytes the server"*"the connection"* ]] || fail "oversized: $OUT"
pass "$OUT"

# The WebSocket variant of the upgrade works (the browser client's path), so the probes above
# were refused for what they sent, not for the transport.
OUT=$("$HS_BIN/hs-ts2021-ws-probe" "$CONTROL_URL") || fail "websocket: ${OUT:-no output}"
server_alive "websocket probe"
pass "$OUT"

probe old-client 105
[[ "$OUT" == *'HTTP 200 Error "'*"too old"*105* ]] || fail "old-client: $OUT"
pass "$OUT"
[ -z "$(node_id old)" ] || fail "the refused old client was added as a node"
pass "the refused old client left no node behind"

# register_error KEY WANT: the server answers a fresh node's register with Error WANT.
register_error() {
  probe register "$1"
  local got; got=$(echo "$OUT" | jq -r '.Error // empty')
  [ "$got" = "$2" ] || fail "register with ${1:0:24}...: expected Error '$2', got $OUT"
  pass "protocol-level register with ${1:0:24}...: $OUT"
}

# up_refused NAME KEY WANT: tailscale up on NAME fails and prints the server's message WANT.
# It spells out ts_up's flags because the CLI refuses a second --timeout.
up_refused() {
  local name=$1 k=$2 want=$3 err="$LAB/up-$1.err"
  if ts "$name" up --login-server="$CONTROL_URL" --auth-key="$k" --hostname="$name" --reset --timeout=20s \
       >"$LAB/up-$name.out" 2>"$err"; then
    fail "tailscale up on $name with a bad key ($want) succeeded"
  fi
  grep -qF "$want" "$err" || { cat "$err" >&2; fail "tailscale up on $name failed without saying '$want'"; }
  pass "tailscale up on $name exited non-zero: $(grep -m1 -F "$want" "$err")"
}

host_add rc 3; host_add rd 4; host_add re 5; host_add rf 6
ts_start rc 41643; ts_start rd 41644; ts_start re 41645; ts_start rf 41646

# Well-formed, so the server's lookup runs all the way to the hash comparison.
unknown="hskey-auth-AAAAAAAAAAAA-$(printf '0%.0s' $(seq 64))"
up_refused rc "$unknown" "invalid pre-auth key"
register_error "$unknown" "invalid pre-auth key"

# A fresh host for the first use: a daemon that was just refused may still report its last
# login error to the next `up` for a moment (client-side), which is not what this checks.
once=$(admin preauthkeys create -u alice -e 1h)
ts_up re "$once" || fail "tailscale up with a fresh single-use key failed on re"
eventually 10 status_is re .BackendState Running || fail "re is not Running after its first use of the key"
pass "a single-use key let re join once"
up_refused rd "$once" "pre-auth key has already been used"
register_error "$once" "pre-auth key has already been used"

created=$(admin -o json preauthkeys create -u alice -e 1h)
expired_key=$(echo "$created" | jq -r .key)
admin preauthkeys expire -i "$(echo "$created" | jq -r .id)" >/dev/null || fail "preauthkeys expire failed"
# rf, not rd: rd's daemon may still hand its last refusal to the next `up` (see re above).
up_refused rf "$expired_key" "pre-auth key has expired"
register_error "$expired_key" "pre-auth key has expired"
for h in rc rd rf; do
  [ -z "$(node_id $h)" ] || fail "$h was added as a node although every key it tried was refused"
done
pass "rc, rd and rf, each refused, are not nodes"

# Nothing above may have disturbed the clients that were already there.
server_alive "the rejections"
for n in ra rb; do
  status_is "$n" .BackendState Running || fail "$n is no longer Running"
done
eventually 10 peer_is ra rb .Online true || fail "ra no longer sees rb online"
eventually 10 peer_is rb ra .Online true || fail "rb no longer sees ra online"
admin_node_is ra .online true && admin_node_is rb .online true || fail "hs-admin no longer lists ra and rb online"
pass "ra and rb are still Running, online, and list each other"

for pair in "ra rb" "rb ra"; do
  set -- $pair
  ip_to=$(ts "$2" ip -4)
  ts "$1" ping -c 5 --timeout=5s --until-direct=false "$ip_to" >"$LAB/ping.out" 2>&1 \
    || { cat "$LAB/ping.out" >&2; fail "ping $1 -> $2 failed after the rejections"; }
  grep -q "pong from" "$LAB/ping.out" || fail "ping $1 -> $2: no pong"
  pass "tailscale ping $1 -> $2: $(grep -m1 pong "$LAB/ping.out")"
done

health=$(curl -sf "$CONTROL_URL/health") || fail "GET /health failed"
[ "$(echo "$health" | jq -r .status)" = pass ] || fail "/health says $health"
pass "GET /health: $health"

failures=$(curl -sf "http://127.0.0.1:$((CONTROL_PORT + 1000))/metrics" | awk '$1 == "hs_control_handshake_failures_total" {print $2}')
[ "${failures:-0}" -ge 2 ] || fail "metrics count ${failures:-no} failed handshakes, expected at least 2 (truncated, garbage)"
pass "metrics count $failures failed TS2021 handshakes"
finish
