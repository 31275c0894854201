# Config and command lines for the two servers the benchmarks compare. Source it; each setup
# function fills SERVER_URL, SERVER_CMD, READY_URL and KEY_CMD for hs-loadgen. Both servers
# listen on loopback only, keep SQLite in DIR and hand out the same DERP map (no DERP server
# runs: the simulated nodes never dial it, the map is only part of every netmap).
# Needs HS_BIN (hs-control, hs-admin, hs-derpmap).

# bench_pin_port_version: what every benchmark run sets first. srv_cpu and gen_pin put the server
# on CPU 0 and the generator on CPU 1 (BENCH_PIN=1, the default, with two cores or more); port
# is below Linux's ephemeral range (32768+), where the generator's own client sockets would
# collide; hs_version is the commit measured, read before a run replaces its own output files
# ("-dirty" only when the sources differ from the commit). Needs HS_SRC.
bench_pin_port_version() {
  srv_cpu="" gen_pin=()
  if [ "${BENCH_PIN:-1}" = 1 ] && [ "$(nproc)" -ge 2 ]; then srv_cpu=0 gen_pin=(taskset -c 1); fi
  port=$((20000 + $$ % 1200 * 10))
  hs_version=$(git -C "$HS_SRC" describe --always 2>/dev/null || echo unknown)
  git -C "$HS_SRC" diff --quiet HEAD -- . ':!docs/bench' ':!docs/benchmarks.md' 2>/dev/null || hs_version+=-dirty
}

# bench_derpmap DIR: DIR/derp.yaml, written and checked by hs-derpmap.
bench_derpmap() {
  "$HS_BIN/hs-derpmap" new --region-id 900 --region-code bench --region-name "Bench DERP" \
    --node "name=900a,host=127.0.0.1,ipv4=127.0.0.1,ipv6=none,stun=3478,derp=8443,insecure=true" >"$1/derp.yaml"
  "$HS_BIN/hs-derpmap" check "$1/derp.yaml"
}

# hs_setup DIR PORT [CPU]: hs-control with SQLite in DIR; optionally pinned to CPU.
hs_setup() {
  local dir=$1 port=$2 pin=${3:+taskset -c $3 }
  mkdir -p "$dir"
  bench_derpmap "$dir"
  cat >"$dir/config.yaml" <<EOC
server_url: http://127.0.0.1:$port
listen_addr: 127.0.0.1:$port
metrics_listen_addr: 127.0.0.1:$((port + 1))
noise: {private_key_path: $dir/noise_private.key}
database: {type: sqlite, sqlite: {path: $dir/db.sqlite, write_ahead_log: true}}
dns: {magic_dns: true, base_domain: bench.test}
derp: {server: {enabled: false}, urls: [], paths: [$dir/derp.yaml], auto_update_enabled: false}
log: {level: warn}
EOC
  SERVER_URL="http://127.0.0.1:$port"
  READY_URL="$SERVER_URL/health"
  SERVER_CMD="$pin$HS_BIN/hs-control -c $dir/config.yaml"
  KEY_CMD="$HS_BIN/hs-admin -c $dir/config.yaml users create bench >/dev/null && $HS_BIN/hs-admin -c $dir/config.yaml preauthkeys create -u bench --reusable -e 24h"
}

# headscale_setup DIR PORT BIN [CPU]: headscale with SQLite in DIR and an allow-all policy.
headscale_setup() {
  local dir=$1 port=$2 bin=$3 pin=${4:+taskset -c $4 }
  mkdir -p "$dir"
  bench_derpmap "$dir"
  echo '{"acls":[{"action":"accept","src":["*"],"dst":["*:*"]}]}' >"$dir/policy.json"
  cat >"$dir/config.yaml" <<EOC
server_url: http://127.0.0.1:$port
listen_addr: 127.0.0.1:$port
metrics_listen_addr: 127.0.0.1:$((port + 1))
grpc_listen_addr: 127.0.0.1:$((port + 2))
grpc_allow_insecure: false
noise: {private_key_path: $dir/noise_private.key}
prefixes: {v4: 100.64.0.0/10, v6: fd7a:115c:a1e0::/48, allocation: sequential}
derp:
  server: {enabled: false}
  urls: []
  paths: [$dir/derp.yaml]
  auto_update_enabled: false
disable_check_updates: true
database: {type: sqlite, sqlite: {path: $dir/db.sqlite, write_ahead_log: true}}
dns: {magic_dns: true, base_domain: bench.test, override_local_dns: false, nameservers: {global: []}}
policy: {mode: file, path: $dir/policy.json}
unix_socket: $dir/headscale.sock
unix_socket_permission: "0770"
log: {level: warn}
logtail: {enabled: false}
tuning: {batch_change_delay: ${BENCH_HEADSCALE_BATCH_DELAY:-800ms}}
EOC
  SERVER_URL="http://127.0.0.1:$port"
  READY_URL="$SERVER_URL/health"
  SERVER_CMD="$pin$bin -c $dir/config.yaml serve"
  KEY_CMD="id=\$($bin -c $dir/config.yaml users create bench -o json | jq -r .id) && $bin -c $dir/config.yaml preauthkeys create -u \"\$id\" --reusable -e 24h -o json | jq -r .key"
}

# The policy scenario (hs-loadgen run --policy): each server reads the policy from the file
# POLICY_PATH (policy.mode: file; hs-loadgen writes it before the server starts and rewrites it,
# then sends SIGHUP, for the change); USER_KEY_CMD and TAG_KEY_CMD make the company's keys with
# the server's own admin CLI ({user}, {tags} are filled in by hs-loadgen).

# hs_policy_setup DIR PORT [CPU]
hs_policy_setup() {
  hs_setup "$@"
  # BENCH_HS_LOG_INFO=1: hs-control logs at info (its refusals, reloads).
  [ -z "${BENCH_HS_LOG_INFO:-}" ] || sed -i "s/^log: .*/log: {level: info}/" "$1/config.yaml"
  local dir=$1 admin="$HS_BIN/hs-admin -c $1/config.yaml"
  echo "policy: {mode: file, path: $dir/policy.json}" >>"$dir/config.yaml"
  POLICY_PATH=$dir/policy.json
  USER_KEY_CMD="$admin users create {user} >/dev/null && $admin preauthkeys create -u {user} --reusable -e 24h"
  TAG_KEY_CMD="$admin preauthkeys create -u {user} --reusable -e 24h --tags {tags}"
}

# headscale_policy_setup DIR PORT BIN [CPU]: tagged keys have no user (headscale 0.29's model).
headscale_policy_setup() {
  headscale_setup "$@"
  local dir=$1 hsc="$3 -c $1/config.yaml"
  POLICY_PATH=$dir/policy.json
  USER_KEY_CMD="id=\$($hsc users create {user} -o json | jq -r .id) && $hsc preauthkeys create -u \"\$id\" --reusable -e 24h -o json | jq -r .key"
  TAG_KEY_CMD="$hsc preauthkeys create --reusable -e 24h --tags {tags} -o json | jq -r .key"
}
