#!/usr/bin/env bash
# hs-control's /api/v1 answers as headscale v0.29.2's gateway does: one recorded set of requests
# (data/headscale_api_replay.jsonl) is replayed against a real headscale (built and cached by
# tests/bench/headscale.sh) and against hs-control, each with a fresh database and an API key of
# its own, and the answers are compared field by field by api_replay.py (which says which
# values may differ and why). Both servers listen on loopback only.
. "$(dirname "$0")/lib.sh"
bash "$HS_SRC/tests/bench/headscale.sh" install || fail "building headscale failed"
HEADSCALE=$(bash "$HS_SRC/tests/bench/headscale.sh" bin)
HP=$((30000 + LAB_ID * 4)); CP=$((HP + 3))

"$HS_BIN/hs-derpmap" new --region-id 900 --region-code t --region-name T \
  --node "name=900a,host=127.0.0.1,ipv4=127.0.0.1,ipv6=none,stun=3478,derp=8443,insecure=true" >"$LAB/derp.yaml"
mkdir -p "$LAB/headscale" "$LAB/hs"
cat >"$LAB/headscale/config.yaml" <<EOC
server_url: http://127.0.0.1:$HP
listen_addr: 127.0.0.1:$HP
metrics_listen_addr: 127.0.0.1:$((HP + 1))
grpc_listen_addr: 127.0.0.1:$((HP + 2))
grpc_allow_insecure: false
noise: {private_key_path: $LAB/headscale/noise_private.key}
prefixes: {v4: 100.64.0.0/10, v6: fd7a:115c:a1e0::/48, allocation: sequential}
derp: {server: {enabled: false}, urls: [], paths: [$LAB/derp.yaml], auto_update_enabled: false}
disable_check_updates: true
database: {type: sqlite, sqlite: {path: $LAB/headscale/db.sqlite}}
dns: {magic_dns: true, base_domain: t.test, override_local_dns: false, nameservers: {global: []}}
policy: {mode: database}
unix_socket: $LAB/headscale/headscale.sock
unix_socket_permission: "0770"
log: {level: warn}
logtail: {enabled: false}
EOC
cat >"$LAB/hs/config.yaml" <<EOC
server_url: http://127.0.0.1:$CP
listen_addr: 127.0.0.1:$CP
noise: {private_key_path: $LAB/hs/noise_private.key}
derp: {server: {enabled: false}, urls: [], paths: [$LAB/derp.yaml], auto_update_enabled: false}
database: {type: sqlite, sqlite: {path: $LAB/hs/db.sqlite}}
dns: {magic_dns: true, base_domain: t.test}
policy: {mode: database}
log: {level: warn}
EOC
daemon_start HEADSCALE_PID "$LAB/headscale/serve.log" "http://127.0.0.1:$HP/health" "$HEADSCALE" -c "$LAB/headscale/config.yaml" serve
daemon_start CONTROL_PID "$LAB/hs/serve.log" "http://127.0.0.1:$CP/health" "$HS_BIN/hs-control" -c "$LAB/hs/config.yaml"
key_a=$("$HEADSCALE" -c "$LAB/headscale/config.yaml" apikeys create -e 1h 2>/dev/null | tail -1)
key_b=$("$HS_BIN/hs-admin" -c "$LAB/hs/config.yaml" apikeys create -e 1h)
[[ "$key_a" == hskey-api-* && "$key_b" == hskey-api-* ]] || fail "API keys: '$key_a' '$key_b'"

python3 "$HS_SRC/tests/interop/api_replay.py" "$HS_SRC/tests/interop/data/headscale_api_replay.jsonl" \
  "http://127.0.0.1:$HP" "$key_a" "http://127.0.0.1:$CP" "$key_b" >"$LAB/replay.out" || { cat "$LAB/replay.out" >&2; fail "the answers differ"; }
grep -v '^same:' "$LAB/replay.out" >&2 || true
pass "$(tail -1 "$LAB/replay.out")"
daemon_stop "$HEADSCALE_PID"; daemon_stop "$CONTROL_PID"
finish
