#!/usr/bin/env bash
# hs-derper on the lab bridge (TLS with a self-signed certificate, STUN beside it).
# Always: the HTTP upgrade answers 101 and the ServerKey frame (checked with openssl s_client),
# the probe and captive-portal endpoints answer, and a STUN request sent from a lab namespace
# gets its own address back. With hs-control built: two official clients that cannot reach each
# other directly talk through hs-derper, admitted by --verify-clients from the shared database.
. "$(dirname "$0")/lib.sh"
need_root

DERP_PORT=${DERP_PORT:-$((18500 + LAB_ID))}
DERP_STUN_PORT=${DERP_STUN_PORT:-$((19500 + LAB_ID))}
DERP_METRICS=127.0.0.1:$((20500 + LAB_ID))
DERP_DIR="$LAB/derper"
DERP_PID=""
lab_bridge
DERP_IP="${LAB_SUBNET}1"
mkdir -p "$DERP_DIR"

derper_start() {
  daemon_start DERP_PID "$DERP_DIR/derper.log" "http://$DERP_METRICS/metrics" \
    "$HS_BIN/hs-derper" -a "$DERP_IP:$DERP_PORT" --hostname "$DERP_IP" --self-signed \
    --stun --stun-port "$DERP_STUN_PORT" -c "$DERP_DIR/derper.key" --metrics-addr "$DERP_METRICS" --log-level debug "$@"
}

derper_stop() {
  daemon_stop "$DERP_PID"
  DERP_PID=""
}

# metric NAME: the value of one Prometheus sample (labels included in NAME), 0 if absent.
metric() { curl -sf "http://$DERP_METRICS/metrics" | awk -v n="$1" '$1 == n { print $2; found=1 } END { if (!found) print 0 }'; }
metric_sum() { curl -sf "http://$DERP_METRICS/metrics" | awk -v n="$1" 'index($1, n) == 1 { s += $2 } END { print s + 0 }'; }
metric_at_least() { [ "$(metric "$1")" -ge "$2" ]; }
metric_at_most() { [ "$(metric "$1")" -le "$2" ]; }

derper_start
[ "$(stat -c %a "$DERP_DIR/derper.key")" = 600 ] || fail "key file mode is $(stat -c %a "$DERP_DIR/derper.key")"
server_key=$("$HS_BIN/hs-keygen" public --type derp --in "$DERP_DIR/derper.key")
server_hex=${server_key#nodekey:}
pass "hs-derper created its key file (0600), server key $server_key"

# --- the DERP upgrade over TLS, as tailscaled's slow path does it --------------------------------
raw="$DERP_DIR/upgrade.raw"
{ printf 'GET /derp HTTP/1.1\r\nHost: %s:%s\r\nUpgrade: DERP\r\nConnection: Upgrade\r\n\r\n' "$DERP_IP" "$DERP_PORT"; sleep 2; } |
  timeout 10 openssl s_client -connect "$DERP_IP:$DERP_PORT" -quiet -no_ign_eof >"$raw" 2>"$DERP_DIR/s_client.err" || true
python3 - "$raw" "$server_hex" <<'EOF' || fail "upgrade response: $(head -c 300 "$raw" | od -c | head -8)"
import sys
data = open(sys.argv[1], "rb").read()
key = bytes.fromhex(sys.argv[2])
head, sep, rest = data.partition(b"\r\n\r\n")
assert sep, "no end of HTTP headers"
lines = head.split(b"\r\n")
assert lines[0] == b"HTTP/1.1 101 Switching Protocols", lines[0]
hdrs = {l.split(b":", 1)[0].lower(): l.split(b":", 1)[1].strip() for l in lines[1:]}
assert hdrs[b"upgrade"] == b"DERP" and hdrs[b"derp-version"] == b"2", hdrs
assert hdrs[b"derp-public-key"] == sys.argv[2].encode(), hdrs
want = bytes([1, 0, 0, 0, 40]) + b"DERP\xf0\x9f\x94\x91" + key
assert rest[:45] == want, rest[:45].hex()
EOF
pass "GET /derp with Upgrade: DERP over TLS: 101, Derp-Version 2, then the ServerKey frame with the magic and key"

curl_k() { curl -sk --max-time 5 "$@"; }
code=$(curl_k -o /dev/null -w '%{http_code}' "https://$DERP_IP:$DERP_PORT/derp")
[ "$code" = 426 ] || fail "/derp without Upgrade answered $code, expected 426"
for p in /derp/probe /derp/latency-check; do
  code=$(curl_k -o /dev/null -w '%{http_code}' "https://$DERP_IP:$DERP_PORT$p")
  [ "$code" = 200 ] || fail "$p answered $code"
done
hdr=$(curl_k -D - -o /dev/null -H "X-Tailscale-Challenge: ts_$DERP_IP" "https://$DERP_IP:$DERP_PORT/generate_204" | tr -d '\r')
echo "$hdr" | grep -q '^HTTP/1.1 204' || fail "/generate_204: $hdr"
echo "$hdr" | grep -qi "^X-Tailscale-Response: response ts_$DERP_IP\$" || fail "/generate_204 did not echo the challenge: $hdr"
pass "/derp without upgrade is 426; probes are 200; /generate_204 echoes the challenge"

# --- STUN from a lab namespace: the answer names the sender's own address and port ---------------
host_add probe 1
probe_ip=$(host_ip probe)
ip netns exec "$(host_ns probe)" python3 - "$DERP_IP" "$DERP_STUN_PORT" "$probe_ip" <<'EOF' || fail "STUN check failed"
import binascii, os, socket, struct, sys
server, port, me = sys.argv[1], int(sys.argv[2]), sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((me, 40001))
s.settimeout(3)
s.sendto(b"not stun at all", (server, port))
tx = os.urandom(12)
req = b"\x00\x01\x00\x14\x21\x12\xa4\x42" + tx + b"\x80\x22\x00\x08tailnode"
req += b"\x80\x28\x00\x04" + struct.pack(">I", (binascii.crc32(req) & 0xffffffff) ^ 0x5354554E)
assert len(req) == 40
s.sendto(req, (server, port))
resp, src = s.recvfrom(1500)
assert src == (server, port), src
assert resp[:2] == b"\x01\x01" and resp[4:8] == b"\x21\x12\xa4\x42" and resp[8:20] == tx, resp.hex()
assert resp[20:22] == b"\x00\x20" and resp[25] == 1, resp.hex()
xport = struct.unpack(">H", resp[26:28])[0] ^ 0x2112
xip = socket.inet_ntoa(bytes(a ^ b for a, b in zip(resp[28:32], resp[4:8])))
assert (xip, xport) == (me, 40001), (xip, xport)
print(f"{xip}:{xport}")
EOF
metric_at_least stun_requests_total 1 || fail "stun_requests_total did not count the request"
[ "$(metric_sum stun_malformed_total)" -ge 1 ] || fail "the junk datagram was not counted as malformed"
pass "STUN from $probe_ip:40001: XOR-MAPPED-ADDRESS decodes to $probe_ip:40001; junk counted as malformed"

if [ ! -x "$HS_BIN/hs-control" ]; then
  log "hs-control not built: skipping the relay checks with real clients"
  finish
  exit 0
fi

# --- real clients relayed through hs-derper --------------------------------------------------------
. "$(dirname "$0")/control.sh"

run_suite() {
  local v=$1 tag=$2 base=$3
  ts_install "$v"
  log "=== client $v"
  control_config
  control_start
  # Admission reads the database hs-control writes; nodes that join later are seen within 250 ms.
  derper_stop
  derper_start --verify-clients --db "$CONTROL_DIR/db.sqlite"
  admin users create alice >/dev/null
  local key; key=$(admin preauthkeys create -u alice --reusable -e 1h)

  local a="${tag}a" b="${tag}b"
  host_add "$a" $((base + 1)); host_add "$b" $((base + 2))
  # Disco pings over direct UDP are dropped, so WireGuard traffic can only take DERP.
  TS_EXTRA_ENV="TS_DEBUG_NEVER_DIRECT_UDP=1" ts_start "$a" 41641
  TS_EXTRA_ENV="TS_DEBUG_NEVER_DIRECT_UDP=1" ts_start "$b" 41642
  ts_up "$a" "$key" || fail "$v: tailscale up failed on $a"
  ts_up "$b" "$key" || fail "$v: tailscale up failed on $b"
  eventually 20 peer_is "$a" "$b" .HostName "$b" || fail "$a does not list $b"

  eventually 20 status_is "$a" .Self.Relay lab || fail "$v: $a has no home DERP 'lab'"
  eventually 20 metric_at_least derp_current_connections 2 || fail "$v: hs-derper has $(metric derp_current_connections) connections"
  pass "$v: both clients admitted by --verify-clients and connected to hs-derper (home region lab)"

  local nc; nc=$(ip netns exec "$(host_ns "$a")" "$TS_BIN/tailscale" --socket="$LAB/$a/ts.sock" netcheck --format=json 2>/dev/null)
  [ "$(echo "$nc" | jq -r .UDP)" = true ] || fail "$v: netcheck says no UDP: $nc"
  [ "$(echo "$nc" | jq -r .PreferredDERP)" = 900 ] || fail "$v: netcheck PreferredDERP: $nc"
  [[ "$(echo "$nc" | jq -r .GlobalV4)" == "$(host_ip "$a"):"* ]] || fail "$v: netcheck GlobalV4: $nc"
  [ "$(echo "$nc" | jq -r '.RegionLatency["900"] // 0')" -gt 0 ] || fail "$v: no latency for region 900: $nc"
  pass "$v: netcheck through hs-derper's STUN: UDP true, GlobalV4 $(echo "$nc" | jq -r .GlobalV4), PreferredDERP 900"

  local ip_b; ip_b=$(ts "$b" ip -4)
  local relayed_before; relayed_before=$(metric derp_packets_relayed_total)
  ts "$a" ping -c 3 --timeout=5s --until-direct=false "$ip_b" >"$LAB/ping.out" 2>&1 || { cat "$LAB/ping.out" >&2; fail "$v: ping $a -> $b failed"; }
  local pongs; pongs=$(grep -c "pong from" "$LAB/ping.out" || true)
  [ "$pongs" -ge 3 ] || { cat "$LAB/ping.out" >&2; fail "$v: $pongs pongs"; }
  [ "$(grep "pong from" "$LAB/ping.out" | grep -vc 'via DERP(lab)' || true)" = 0 ] || { cat "$LAB/ping.out" >&2; fail "$v: a pong did not come via DERP(lab)"; }
  [ "$(metric derp_packets_relayed_total)" -gt "$relayed_before" ] || fail "$v: hs-derper relayed no packets"
  pass "$v: tailscale ping $a -> $b: $pongs pongs, all via DERP(lab); hs-derper relayed $(metric derp_packets_relayed_total) packets"

  # A node deleted from the database loses its DERP connection.
  local id_b; id_b=$(node_id "$b")
  local log_lines; log_lines=$(wc -l <"$DERP_DIR/derper.log")
  admin nodes delete -i "$id_b" >/dev/null || fail "delete failed"
  eventually 5 sh -c "tail -n +$((log_lines + 1)) '$DERP_DIR/derper.log' | grep -q 'connections no longer admitted'" ||
    fail "$v: hs-derper kept the deleted node's connection"
  eventually 10 metric_at_most derp_current_connections 1 || fail "$v: $(metric derp_current_connections) connections after delete"
  pass "$v: after hs-admin nodes delete, hs-derper closed the node's connection"

  ts_stop "$a"; ts_stop "$b"
  control_stop
  rm -rf "$CONTROL_DIR"
}

for_each_version run_suite
derper_stop
finish
