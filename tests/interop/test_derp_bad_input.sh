#!/usr/bin/env bash
# Bad input to hs-derper and hs-stun while two official clients relay through them: garbage
# after the upgrade, a ClientInfo that does not open, an oversize frame header, an oversize
# packet, a flood from one client, and STUN requests with a bad length or fingerprint
# (hs-derp-probe sends them). Each must end or drop only what it has to: the real clients keep
# their connections (no new accepts for them) and keep pinging via DERP after every probe.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
. "$(dirname "$0")/derp.sh"
need_root
ts_install
PROBE="$HS_BIN/hs-derp-probe"
[ -x "$PROBE" ] || fail "$PROBE is not built"

DERP_PORT=$((10000 + LAB_ID)); MPORT=$((11000 + LAB_ID)); STUN_PORT=$((12000 + LAB_ID)); SMPORT=$((12500 + LAB_ID))
hs_derper_start bad "$DERP_PORT" "$MPORT" --hostname "$DERP_IP" --self-signed --stun=false
"$HS_BIN/hs-stun" -a "$DERP_IP:$STUN_PORT" --stats-interval 1s --metrics-addr "127.0.0.1:$SMPORT" >"$LAB/hs-stun.log" 2>&1 &
LAB_PIDS+=("$!")
eventually 5 grep -q "serving STUN" "$LAB/hs-stun.log" || fail "hs-stun did not start"
metric() { metric_at "$MPORT" "$1"; }

DERP_STUN_PORT=$STUN_PORT
control_config
lab_pair ba bb
eventually 20 derp_clients_are "$MPORT" 2 || fail "hs-derper has $(derp_clients "$MPORT") clients"
ip_b=$(ts bb ip -4)
eventually 30 ping_via_derp ba "$ip_b" lab || fail "baseline ping via DERP failed"
pass "baseline: ba and bb relay through hs-derper: $(grep -m1 'pong from' "$LAB/ping-ba.out")"

# probe MODE ARGS... -> runs the probe, requires ok:true, prints its detail.
probe() {
  local out
  out=$("$PROBE" "$@" 2>&1) || fail "hs-derp-probe $1: $out"
  [ "$(echo "$out" | jq -r .ok)" = true ] || fail "hs-derp-probe $1: $out"
  echo "$out" | jq -r .detail
}
# after_probe WHAT ADMITTED: the real clients were not disturbed: accepts grew only by the
# probe's own ADMITTED connections, two clients remain, and ping still goes via DERP.
accepts=$(metric derp_accepts_total)
after_probe() {
  eventually 5 derp_clients_are "$MPORT" 2 || fail "$1: $(derp_clients "$MPORT") clients left"
  local now; now=$(metric derp_accepts_total)
  [ "$now" = $((accepts + $2)) ] || fail "$1: accepts went from $accepts to $now (a real client reconnected?)"
  accepts=$now
  ping_via_derp ba "$ip_b" lab || fail "$1: ping via DERP failed afterwards"
}
log_has() { grep -q "$1" "$LAB/bad/derper.log" || fail "hs-derper did not log '$1'"; }

d=$(probe garbage "$DERP_IP:$DERP_PORT"); after_probe garbage 0
log_has "closing (handshake) from .*announces"
pass "garbage after the upgrade: $d; logged and nobody else disturbed"

d=$(probe bad-box "$DERP_IP:$DERP_PORT"); after_probe bad-box 0
log_has "ClientInfo: box does not open"
pass "ClientInfo that fails to decrypt: $d"

d=$(probe oversize-frame "$DERP_IP:$DERP_PORT"); after_probe oversize-frame 1
log_has "announces 1048576 bytes, over the limit"
pass "frame header over the 256 KiB read limit: $d"

d=$(probe oversize-packet "$DERP_IP:$DERP_PORT"); after_probe oversize-packet 1
log_has "SendPacket: packet over 64 KiB"
pass "SendPacket over 64 KiB: $d"

# The flood goes to bb: bb's queue drops its oldest packets, bb and everyone else carry on.
node_b=$(ts bb status --json | jq -r .Self.PublicKey)
received=$(metric derp_packets_received_total)
head_drops=$(metric 'derp_packets_dropped_total{reason="queue_head"}')
# bb pings ba while the flood runs: its own traffic (the other direction) must keep flowing.
ts bb ping -c 5 --timeout=5s --until-direct=false "$(ts ba ip -4)" >"$LAB/ping-during-flood.out" 2>&1 &
pinger=$!
d=$(probe flood "$DERP_IP:$DERP_PORT" "$node_b" 100000)
wait "$pinger" || { cat "$LAB/ping-during-flood.out" >&2; fail "bb's ping to ba failed during the flood"; }
[ "$(grep -c 'via DERP(lab)' "$LAB/ping-during-flood.out")" -ge 5 ] || { cat "$LAB/ping-during-flood.out" >&2; fail "bb's pongs during the flood"; }
after_probe flood 1
[ "$(metric derp_packets_received_total)" -ge $((received + 100000)) ] || fail "flood: only $(( $(metric derp_packets_received_total) - received )) packets counted"
drops=$(( $(metric 'derp_packets_dropped_total{reason="queue_head"}') - head_drops ))
[ "$drops" -gt 0 ] || fail "flood: bb's queue never overflowed, so the drop policy was not exercised"
pass "flood of 100000 x 1200 bytes to bb: $d; $drops dropped from bb's queue head (queue_head); bb pinged ba during it ($(grep -c 'via DERP(lab)' "$LAB/ping-during-flood.out") pongs via DERP) and is reachable after"

# hs-stun's own metrics endpoint counts each kind of bad datagram apart.
stun_bad() { metric_at "$SMPORT" "stun_malformed_total{reason=\"$1\"}"; }
l0=$(stun_bad bad_length); f0=$(stun_bad bad_fingerprint)
d1=$(probe stun-bad-length "$DERP_IP:$STUN_PORT")
d2=$(probe stun-bad-fingerprint "$DERP_IP:$STUN_PORT")
eventually 5 metric_at_least "$SMPORT" 'stun_malformed_total{reason="bad_length"}' $((l0 + 1)) \
  || fail "hs-stun's metrics count $(stun_bad bad_length) bad-length datagrams, expected $((l0 + 1))"
eventually 5 metric_at_least "$SMPORT" 'stun_malformed_total{reason="bad_fingerprint"}' $((f0 + 1)) \
  || fail "hs-stun's metrics count $(stun_bad bad_fingerprint) bad-fingerprint datagrams, expected $((f0 + 1))"
[ "$(metric_at "$SMPORT" stun_requests_total)" -gt 0 ] || fail "hs-stun's metrics show no answered requests although clients use it"
[ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$SMPORT/other")" = 404 ] || fail "hs-stun's metrics address answers other paths"
nc_json=$(ip netns exec "$(host_ns ba)" "$TS_BIN/tailscale" --socket="$LAB/ba/ts.sock" netcheck --format=json 2>/dev/null)
[ "$(echo "$nc_json" | jq -r .UDP)" = true ] || fail "netcheck after the bad STUN: $nc_json"
pass "STUN with a bad length: $d1; bad fingerprint: $d2; hs-stun's /metrics: bad_length $(stun_bad bad_length), bad_fingerprint $(stun_bad bad_fingerprint), $(metric_at "$SMPORT" stun_requests_total) requests answered; netcheck still UDP true"

ts_stop ba; ts_stop bb
control_stop
finish
