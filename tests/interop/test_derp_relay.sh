#!/usr/bin/env bash
# hs-derper on the lab bridge (TLS with a self-signed certificate, STUN beside it).
# Always: the HTTP upgrade answers 101 and the ServerKey frame (checked with openssl s_client),
# the probe and captive-portal endpoints answer, and a STUN request sent from a lab namespace
# gets its own address back. With hs-control built: two official clients whose direct UDP to
# each other is dropped by nftables in their namespaces (STUN and DERP stay open) talk through
# hs-derper, admitted by --verify-clients from hs-control's database (the SQLite file, or
# PostgreSQL through a libpq keyword string, whose password must show nowhere and whose lost
# session is reconnected); their STUN is the standalone hs-stun.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/derp.sh"
need_root

DERP_PORT=${DERP_PORT:-$((18500 + LAB_ID))}
BUILTIN_STUN_PORT=$((19500 + LAB_ID))
MPORT=$((20500 + LAB_ID))
DERP_DIR="$LAB/derper"

derper_start() { hs_derper_start derper "$DERP_PORT" "$MPORT" --hostname "$DERP_IP" --self-signed --stun --stun-port "$BUILTIN_STUN_PORT" "$@"; }
derper_stop() { hs_derper_stop derper; }
metric() { metric_at "$MPORT" "$1"; }
metric_sum() { metric_sum_at "$MPORT" "$1"; }

derper_start --bootstrap-dns-names localhost --unpublished-bootstrap-dns-names vm
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
grep -q '^HTTP/1.1 204' <<<"$hdr" || fail "/generate_204: $hdr"
grep -qi "^X-Tailscale-Response: response ts_$DERP_IP\$" <<<"$hdr" || fail "/generate_204 did not echo the challenge: $hdr"
pass "/derp without upgrade is 426; probes are 200; /generate_204 echoes the challenge"

# /bootstrap-dns: published names always, an unpublished one only when asked for by name.
bootstrap_has() { curl_k "https://$DERP_IP:$DERP_PORT/bootstrap-dns$1" | jq -e "$2" >/dev/null; }
eventually 10 bootstrap_has "" '.localhost | index("127.0.0.1")' || fail "/bootstrap-dns: $(curl_k "https://$DERP_IP:$DERP_PORT/bootstrap-dns")"
bootstrap_has "" 'has("vm") | not' || fail "/bootstrap-dns published the unpublished name"
bootstrap_has "?q=vm" '.vm | index("127.0.0.1")' || fail "/bootstrap-dns?q=vm: $(curl_k "https://$DERP_IP:$DERP_PORT/bootstrap-dns?q=vm")"
hdr=$(curl_k -D - -o /dev/null "https://$DERP_IP:$DERP_PORT/bootstrap-dns" | tr -d '\r')
grep -qi '^content-type: application/json' <<<"$hdr" && grep -qi '^connection: close' <<<"$hdr" || fail "/bootstrap-dns headers: $hdr"
pass "/bootstrap-dns: $(curl_k "https://$DERP_IP:$DERP_PORT/bootstrap-dns"); with ?q=vm: $(curl_k "https://$DERP_IP:$DERP_PORT/bootstrap-dns?q=vm")"

# --- STUN from a lab namespace: the answer names the sender's own address and port ---------------
host_add probe 1
probe_ip=$(host_ip probe)
ip netns exec "$(host_ns probe)" python3 - "$DERP_IP" "$BUILTIN_STUN_PORT" "$probe_ip" <<'EOF' || fail "STUN check failed"
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
[ "$(metric stun_requests_total)" -ge 1 ] || fail "stun_requests_total did not count the request"
[ "$(metric_sum stun_malformed_total)" -ge 1 ] || fail "the junk datagram was not counted as malformed"
pass "STUN from $probe_ip:40001: XOR-MAPPED-ADDRESS decodes to $probe_ip:40001; junk counted as malformed"

if [ ! -x "$HS_BIN/hs-control" ]; then
  log "hs-control not built: skipping the relay checks with real clients"
  finish
  exit 0
fi

# --- real clients relayed through hs-derper --------------------------------------------------------
. "$(dirname "$0")/control.sh"

# The clients' STUN is the standalone hs-stun; hs-derper's own STUN was checked above.
HS_STUN_PORT=$((21500 + LAB_ID))
"$HS_BIN/hs-stun" -a "$DERP_IP:$HS_STUN_PORT" --stats-interval 1s >"$LAB/hs-stun.log" 2>&1 &
LAB_PIDS+=("$!")
eventually 5 grep -q "serving STUN" "$LAB/hs-stun.log" || { cat "$LAB/hs-stun.log" >&2; fail "hs-stun did not start"; }
DERP_STUN_PORT=$HS_STUN_PORT  # what control_config writes into the DERP map

# hs-stun's counters, from the line it logs every second: "stun: N requests answered, ...".
stun_requests() { { grep -o 'stun: [0-9]* requests' "$LAB/hs-stun.log" || true; } | tail -1 | awk '{ print $2 + 0 }'; }

DB_SECRET="derper-db-secret-$LAB_ID"

run_suite() {
  local v=$1 tag=$2 base=$3
  ts_install "$v"
  log "=== client $v"
  control_config
  control_start
  # Admission reads the database hs-control writes; nodes that join later are seen within 250 ms.
  derper_stop
  if on_postgres; then
    # A libpq keyword string with a password (trust auth ignores it): it must show nowhere.
    derper_start --verify-clients --db "host=$PGSOCK dbname=$CONTROL_DB user=$PGUSER_ password=$DB_SECRET"
    grep -q "node keys loaded from PostgreSQL $CONTROL_DB at $PGSOCK:5432" "$DERP_DIR/derper.log" ||
      fail "$v: hs-derper did not say which PostgreSQL database it reads: $(grep verify-clients "$DERP_DIR/derper.log")"
  else
    derper_start --verify-clients --db "$CONTROL_DIR/db.sqlite"
  fi
  admin users create alice >/dev/null
  local key; key=$(admin preauthkeys create -u alice --reusable -e 1h)

  local a="${tag}a" b="${tag}b"
  host_add "$a" $((base + 1)); host_add "$b" $((base + 2))
  # Each client may send UDP only to the bridge address (STUN, DERP): direct paths between the
  # clients are dropped on the wire, as behind two strict firewalls.
  block_direct_udp "$a"; block_direct_udp "$b"
  ts_start "$a" 41641
  ts_start "$b" 41642
  ts_up "$a" "$key" || fail "$v: tailscale up failed on $a"
  ts_up "$b" "$key" || fail "$v: tailscale up failed on $b"
  eventually 20 peer_is "$a" "$b" .HostName "$b" || fail "$a does not list $b"

  eventually 20 status_is "$a" .Self.Relay lab || fail "$v: $a has no home DERP 'lab'"
  eventually 20 derp_clients_are "$MPORT" 2 || fail "$v: hs-derper has $(derp_clients "$MPORT") clients"
  pass "$v: both clients admitted by --verify-clients and connected to hs-derper (home region lab)"
  # A well-formed DERP client whose key is no node's is turned away.
  local refused_before; refused_before=$(metric derp_refused_total)
  local out; out=$("$HS_BIN/hs-derp-probe" hello "$DERP_IP:$DERP_PORT" || true)
  [ "$(echo "$out" | jq -r .ok)" = false ] || fail "$v: hs-derper admitted a key that is no node's: $out"
  [ "$(metric derp_refused_total)" -gt "$refused_before" ] || fail "$v: derp_refused_total did not count the refusal"
  pass "$v: a DERP client with a key that is no node's is refused (derp_refused_total $(metric derp_refused_total))"
  # The meta certificate told them our key during TLS 1.3, so they skipped waiting for the 101.
  local fast; fast=$(metric derp_fast_start_total)
  [ "$fast" -ge 2 ] || fail "$v: only $fast fast-start upgrades; the clients did not use the meta certificate"
  pass "$v: both clients used fast start (Derp-Fast-Start, ClientInfo without waiting for the 101): $fast so far"

  local stun_before; stun_before=$(stun_requests)
  local nc; nc=$(ip netns exec "$(host_ns "$a")" "$TS_BIN/tailscale" --socket="$LAB/$a/ts.sock" netcheck --format=json 2>/dev/null)
  [ "$(echo "$nc" | jq -r .UDP)" = true ] || fail "$v: netcheck says no UDP: $nc"
  [ "$(echo "$nc" | jq -r .PreferredDERP)" = 900 ] || fail "$v: netcheck PreferredDERP: $nc"
  [[ "$(echo "$nc" | jq -r .GlobalV4)" == "$(host_ip "$a"):"* ]] || fail "$v: netcheck GlobalV4: $nc"
  [ "$(echo "$nc" | jq -r '.RegionLatency["900"] // 0')" -gt 0 ] || fail "$v: no latency for region 900: $nc"
  stun_grew() { [ "$(stun_requests)" -gt "${stun_before:-0}" ]; }
  eventually 5 stun_grew || fail "$v: hs-stun logged no new requests (still $(stun_requests)): netcheck was not answered by it"
  pass "$v: netcheck answered by hs-stun ($(stun_requests) requests so far): UDP true, GlobalV4 $(echo "$nc" | jq -r .GlobalV4), latency to 900 $(echo "$nc" | jq -r '.RegionLatency["900"]')ns"

  local ip_b; ip_b=$(ts "$b" ip -4)
  local relayed_before; relayed_before=$(metric derp_packets_relayed_total)
  ping_via_derp "$a" "$ip_b" lab || fail "$v: ping $a -> $b did not get 3 pongs via DERP(lab)"
  [ "$(metric derp_packets_relayed_total)" -gt "$relayed_before" ] || fail "$v: hs-derper relayed no packets"
  [ "$(peer_field "$a" "$b" .Relay)" = lab ] || fail "$v: $a's status shows relay '$(peer_field "$a" "$b" .Relay)' for $b"
  [ -z "$(peer_field "$a" "$b" .CurAddr)" ] || fail "$v: $a has a direct path to $b: $(peer_field "$a" "$b" .CurAddr)"
  [ "$(nft_dropped "$a")" -gt 0 ] && [ "$(nft_dropped "$b")" -gt 0 ] ||
    fail "$v: the clients never tried the blocked direct path (drops: $(nft_dropped "$a"), $(nft_dropped "$b"))"
  pass "$v: tailscale ping $a -> $b: $(grep -m1 'pong from' "$LAB/ping-$a.out"); status: relay lab, no direct address; nftables dropped $(nft_dropped "$a") + $(nft_dropped "$b") direct UDP packets"

  local got; got=$(tcp_echo_via "$a" "$b" "$ip_b" 18181)
  [[ "$got" == "echo:hello-from-$a"* ]] || { cat "$LAB/nc-$a.err" >&2; fail "$v: TCP through hs-derper returned '$got'"; }
  pass "$v: a TCP payload crossed hs-derper (tailscale nc got '$got')"

  if on_postgres; then
    # Its PostgreSQL session ends under it (as in a server restart): it warns once, keeps the
    # keys it read and connects again; the deletion below is then read over the new session.
    local from; from=$(($(wc -l <"$DERP_DIR/derper.log") + 1))
    pq "$CONTROL_DB" "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'hs-derper'" >/dev/null
    since() { tail -n +"$from" "$DERP_DIR/derper.log"; }
    reconnected() { since | grep -q "reconnected to PostgreSQL"; }
    eventually 10 reconnected ||
      fail "$v: hs-derper did not reconnect: $(grep -i postgres "$DERP_DIR/derper.log" | tail -3)"
    kill -0 "$DERPER_PID_derper" || fail "$v: hs-derper exited when its PostgreSQL session ended"
    [ "$(since | grep -c 'cannot re-read the node keys')" = 1 ] ||
      fail "$v: not one warning for the lost session: $(since | grep 'cannot re-read')"
    derp_clients_are "$MPORT" 2 || fail "$v: $(derp_clients "$MPORT") clients after the lost session, expected 2"
    pass "$v: hs-derper's PostgreSQL session was ended: one warning, the clients stayed, it reconnected"
  fi

  # A node deleted from the database loses its DERP connection: hs-derper closes it, unless the
  # client, told by hs-control to log in again (NeedsLogin), has already dropped it itself.
  local id_b; id_b=$(node_id "$b")
  local log_lines; log_lines=$(wc -l <"$DERP_DIR/derper.log")
  admin nodes delete -i "$id_b" >/dev/null || fail "delete failed"
  eventually 10 metric_at_most "$MPORT" derp_current_connections 1 || fail "$v: $(metric derp_current_connections) connections after delete"
  eventually 10 status_is "$b" .BackendState NeedsLogin || fail "$v: the deleted node is not told to log in again"
  local by="the client (NeedsLogin)"
  tail -n +$((log_lines + 1)) "$DERP_DIR/derper.log" | grep 'connections no longer admitted' >/dev/null && by="hs-derper"
  pass "$v: after hs-admin nodes delete, the node's connection to hs-derper ended (closed by $by)"

  if on_postgres; then
    ! grep -q "$DB_SECRET" "$DERP_DIR/derper.log" || fail "$v: the database password is in hs-derper's log"
    ! curl -sf "http://127.0.0.1:$MPORT/metrics" | grep -q "$DB_SECRET" || fail "$v: the database password is in the metrics"
    pass "$v: the --db password is in neither hs-derper's log nor its metrics"
  fi

  ts_stop "$a"; ts_stop "$b"
  control_stop
  rm -rf "$CONTROL_DIR"
}

for_each_version run_suite
derper_stop
finish
