#!/usr/bin/env bash
# The /metrics of hs-control (with its embedded DERP and STUN), hs-derper (with client
# verification and a mesh peer, so every family it can write is there) and hs-stun pass
# `promtool check metrics`; a real Prometheus scrapes all three on loopback and answers a
# query with the STUN request sent here; examples/grafana/hs.json is a dashboard whose every
# query Prometheus parses and names only metrics these servers export. Bounded: 30 s of
# scraping at most, Prometheus's storage in the scratch dir.
. "$(dirname "$0")/lib.sh"
for t in promtool prometheus jq; do command -v $t >/dev/null || fail "$t is not installed (.ci/deps.sh installs it)"; done
PIDS=() RC=0 OUT="" ERR=""
trap 'for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$T"' EXIT
wait_url() { for _ in $(seq 100); do curl -sf "$1" >/dev/null && return 0; sleep 0.1; done; tail -n 5 "$T"/*.log >&2; fail "$2 did not answer $1"; }

CP=$(free_port) CM=$(free_port) DP=$(free_port) DM=$(free_port) SM=$(free_port) PP=$(free_port)
# UDP ports: the TCP port numbers just found are as likely free for UDP as any.
CS=$(free_port) DS=$(free_port) SS=$(free_port)
cat >"$T/config.yaml" <<CFG
server_url: http://127.0.0.1:$CP
listen_addr: 127.0.0.1:$CP
metrics_listen_addr: 127.0.0.1:$CM
noise: {private_key_path: $T/noise.key}
database: {sqlite: {path: $T/db.sqlite}}
dns: {base_domain: hs.test}
derp: {server: {enabled: true, stun_listen_addr: 127.0.0.1:$CS}}
CFG
"$HS_BIN/hs-control" -c "$T/config.yaml" >"$T/control.log" 2>&1 & PIDS+=($!)
wait_url "http://127.0.0.1:$CP/health" hs-control
head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/mesh.key"; chmod 600 "$T/mesh.key"
"$HS_BIN/hs-derper" -a "127.0.0.1:$DP" --http --stun-port "$DS" -c "$T/derper.key" --metrics-addr "127.0.0.1:$DM" \
  --verify-clients --db "$T/db.sqlite" --mesh-psk-file "$T/mesh.key" --mesh-with "127.0.0.1:$(free_port)" \
  >"$T/derper.log" 2>&1 & PIDS+=($!)
"$HS_BIN/hs-stun" -a "127.0.0.1:$SS" --metrics-addr "127.0.0.1:$SM" >"$T/stun.log" 2>&1 & PIDS+=($!)
for m in "$CM" "$DM" "$SM"; do wait_url "http://127.0.0.1:$m/metrics" "metrics on $m"; done

for pair in "hs-control:$CM" "hs-derper:$DM" "hs-stun:$SM"; do
  curl -sf "http://127.0.0.1:${pair#*:}/metrics" >"$T/${pair%%:*}.prom"
  # promtool reads the exposition on stdin; lint findings count as failures too.
  run --stdin "$T/${pair%%:*}.prom" promtool check metrics
  [ "$RC" = 0 ] && [ -z "$OUT$ERR" ] || fail "promtool rejects ${pair%%:*}'s metrics"
  ok
done
cat "$T"/*.prom | sed -n 's/^# TYPE \([^ ]*\) .*/\1/p' | sort -u >"$T/names"
for want in hs_control_nodes derp_current_connections derp_mesh_link_up derp_verify_node_keys stun_requests_total; do
  grep -qx "$want" "$T/names" || fail "no $want in the scraped metrics"
done; ok

# One STUN binding request (RFC 5389: header, SOFTWARE as Tailscale sends it, FINGERPRINT).
python3 - "$SS" <<'PY' || fail "no STUN answer from hs-stun"
import os, socket, struct, sys, zlib
tx = os.urandom(12)
soft = struct.pack("!HH", 0x8022, 8) + b"tailnode"
head = struct.pack("!HHI", 1, len(soft) + 8, 0x2112A442) + tx  # length counts the FINGERPRINT too
crc = zlib.crc32(head + soft) ^ 0x5354554E
pkt = head + soft + struct.pack("!HHI", 0x8028, 4, crc)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.sendto(pkt, ("127.0.0.1", int(sys.argv[1])))
data, _ = s.recvfrom(1500)
sys.exit(0 if data[8:20] == tx else 1)
PY
ok

cat >"$T/prometheus.yml" <<YML
global: {scrape_interval: 1s, scrape_timeout: 1s}
scrape_configs:
  - {job_name: hs-control, static_configs: [{targets: ['127.0.0.1:$CM']}]}
  - {job_name: hs-derper, static_configs: [{targets: ['127.0.0.1:$DM']}]}
  - {job_name: hs-stun, static_configs: [{targets: ['127.0.0.1:$SM']}]}
YML
run promtool check config "$T/prometheus.yml"; expect_rc 0 "promtool check config"; ok
prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" --web.listen-address="127.0.0.1:$PP" \
  --storage.tsdb.retention.time=1h >"$T/prometheus.log" 2>&1 & PIDS+=($!)
API="http://127.0.0.1:$PP/api/v1"
q() { curl -sf --get --data-urlencode "query=$1" "$API/query"; }
value_is() { [ "$(q "$1" | jq -r '.data.result[0].value[1] // empty')" = "$2" ]; }
eventually() { local n=$1; shift; for _ in $(seq $((n * 4))); do "$@" && return 0; sleep 0.25; done; return 1; }
eventually 30 value_is 'count(up == 1)' 3 || { q up >&2; tail -5 "$T/prometheus.log" >&2; fail "Prometheus did not scrape all three servers"; }
eventually 10 value_is 'stun_requests_total{job="hs-stun"}' 1 || { q stun_requests_total >&2; fail "Prometheus does not read back the STUN request"; }
eventually 10 value_is 'derp_mesh_link_up{job="hs-derper"}' 0 || fail "no derp_mesh_link_up series"
ok

# The dashboard: Grafana's shape, and queries Prometheus parses over metrics that exist.
D="$HS_SRC/examples/grafana/hs.json"
jq -e '(.title | type == "string") and (.uid | type == "string") and (.schemaVersion | type == "number")
  and (.panels | type == "array" and length > 0)
  and (.templating.list | any(.type == "datasource" and .query == "prometheus"))
  and ([.panels[] | .id] | length == (unique | length))
  and all(.panels[]; (.type | type == "string") and (.title | type == "string")
      and (.gridPos | (.x + .w) <= 24 and .h > 0 and .y >= 0)
      and (.type == "row" or (.targets | length > 0 and all(.[]; (.expr | length > 0) and (.refId | length > 0)))))' \
  "$D" >/dev/null || fail "examples/grafana/hs.json lacks the structure of a Grafana dashboard"
ok
n=0
while IFS= read -r expr; do
  # Grafana fills $__rate_interval; Prometheus must parse what is left.
  e=${expr//\$__rate_interval/1m}
  r=$(curl -s --get --data-urlencode "query=$e" "$API/query" | jq -r .status)
  [ "$r" = success ] || fail "Prometheus does not accept the dashboard query: $expr"
  names=$(grep -oE '\b(hs_control|derp|stun)_[a-z0-9_]+' <<<"$expr" | sort -u)
  [ -n "$names" ] || fail "dashboard query names no hs metric: $expr"
  for m in $names; do grep -qx "$m" "$T/names" || fail "dashboard query uses $m, which no server exports: $expr"; done
  n=$((n + 1))
done < <(jq -r '.panels[].targets[]?.expr' "$D")
[ "$n" -ge 10 ] || fail "only $n dashboard queries"
ok
echo "dashboard: $n queries parsed, every metric exported; Prometheus read stun_requests_total=1" >&2
finish
