#!/usr/bin/env bash
# hs-derpmap probe against a real hs-derper on the lab bridge: STUN RTT and DERP latency while it
# runs, a clear per-node failure and exit status 1 once it is stopped.
. "$(dirname "$0")/lib.sh"
need_root
lab_bridge
D=$HS_BIN/hs-derpmap
IP=${LAB_SUBNET}1
PORT=$((20000 + LAB_ID))
SPORT=$((23000 + LAB_ID))

# DERP from hs-derper, STUN from the standalone hs-stun: probe measures both servers.
"$HS_BIN/hs-derper" -a "$IP:$PORT" --hostname "$IP" --self-signed -c "$LAB/derper.key" >"$LAB/derper.log" 2>&1 &
DERPER=$!
LAB_PIDS+=("$DERPER")
"$HS_BIN/hs-stun" -a "$IP:$SPORT" >"$LAB/stun.log" 2>&1 &
STUN=$!
LAB_PIDS+=("$STUN")
for _ in $(seq 50); do grep -q "serving DERP" "$LAB/derper.log" && break; sleep 0.1; done
grep -q "serving DERP" "$LAB/derper.log" || { cat "$LAB/derper.log" >&2; fail "hs-derper did not start"; }

"$D" new --region-id 900 --region-code lab --region-name "Lab" \
  --node "name=900a,host=$IP,ipv4=$IP,ipv6=none,stun=$SPORT,derp=$PORT,insecure=true" >"$LAB/map.yaml" \
  || fail "hs-derpmap new"
"$D" check "$LAB/map.yaml" || fail "map does not check"; pass "map checks"

out=$("$D" probe --timeout 3s "$LAB/map.yaml") || fail "probe of a running node failed: $out"
log "$out"
grep -Eq "^900 +900a +$IP +[0-9.]+ms +[0-9.]+ms +[0-9.]+ms +ok$" <<<"$out" || fail "probe table: $out"
pass "probe table reports STUN, TLS and DERP latency"

json=$("$D" probe -o json "$LAB/map.yaml") || fail "probe -o json: $json"
grep -q '"ok":true' <<<"$json" && grep -q '"stun_ms":[0-9]' <<<"$json" && grep -q '"derp_ms":[0-9]' <<<"$json" \
  && grep -q '"server_key":"nodekey:' <<<"$json" || fail "probe json: $json"
pass "probe json reports latencies and the server key"

# The pin derper prints must verify; a wrong pin must not.
pin=$(grep -o 'sha256-raw:[0-9a-f]\{64\}' "$LAB/derper.log" | sed -n 1p)
"$D" new --region-id 900 --region-code lab --node "name=900a,host=$IP,ipv4=$IP,stun=$SPORT,derp=$PORT,certname=$pin" \
  | "$D" probe >/dev/null || fail "pinned certificate rejected"
pass "sha256-raw pin accepted"
set +e
out=$("$D" new --region-id 900 --region-code lab --node "name=900a,host=$IP,ipv4=$IP,stun=$SPORT,derp=$PORT,certname=sha256-raw:$(printf '0%.0s' $(seq 64))" | "$D" probe)
rc=$?
set -e
[ "$rc" = 1 ] && grep -q "does not match CertName" <<<"$out" || fail "wrong pin: rc=$rc $out"
pass "wrong pin rejected"

kill -TERM "$DERPER" "$STUN"; wait "$DERPER" "$STUN" 2>/dev/null || true
set +e
out=$("$D" probe --timeout 1s "$LAB/map.yaml")
rc=$?
set -e
log "$out"
[ "$rc" = 1 ] || fail "probe of a stopped node: exit $rc"
grep -q "900a .*FAILED: .*connect $IP:$PORT: Connection refused" <<<"$out" || fail "stopped node: $out"
pass "stopped node reported as failed with exit 1"

finish
