# Shared by the hs-admin command-line tests: a config and database in $T, and assertions on
# the JSON output and the database. Source after lib.sh.
A=$HS_BIN/hs-admin
DB=$T/db.sqlite
cat >"$T/config.yaml" <<CFG
dns: {base_domain: t.test}
database: {sqlite: {path: $DB}}
${ADMIN_EXTRA_CONFIG:-}
CFG
export HS_CONFIG=$T/config.yaml
unset HEADSCALE_CONFIG HS_API_KEY
NOW=$(date -u +%Y-%m-%dT%H:%M:%SZ)

q() { sqlite3 "$DB" "$1"; }
# jqt FILTER: jq -e on OUT; fails the test when the filter is false or OUT is not JSON.
jqt() { jq -e "$1" <<<"$OUT" >/dev/null || fail "jq $1"; }
# A table-mode failure: exit 1, one line on stderr, nothing on stdout.
expect_fail() {
  expect_rc 1 "$2"; expect_no_out "$2"
  [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || fail "$2: stderr is not one line"
  expect_err "$1" "$2"
}
# expect_same DESCRIPTION SQL: the query gives the same answer as before the command ran.
snapshot() { SNAP=$(sqlite3 "$DB" "$1"); SNAPQ=$1; }
expect_unchanged() { [ "$(sqlite3 "$DB" "$SNAPQ")" = "$SNAP" ] || fail "$1: the database changed"; }
h() { printf "$1%.0s" $(seq 64); }
# add_node ID-CHAR HOSTNAME USER_ID|NULL ROUTABLE_JSON [TAGS_JSON] [ONLINE]
add_node() {
  q "INSERT INTO nodes(machine_key, node_key, host_info, hostname, given_name, user_id, tags, online, created_at, updated_at)
     VALUES ('mkey:$(h "$1")', 'nodekey:$(h "$1")', '{\"RoutableIPs\":$4}', '$2', '$2', $3, '${5:-[]}', ${6:-0}, '$NOW', '$NOW')"
}
# control_config [EXTRA_YAML]: adds what hs-control needs to $T/config.yaml (a free loopback
# port as $PORT and $URL, a one-node DERP map, policy.mode database), plus EXTRA_YAML.
control_config() {
  PORT=$(free_port)
  URL=http://127.0.0.1:$PORT
  "$HS_BIN/hs-derpmap" new --region-id 900 --region-code t --node "name=900a,host=127.0.0.1,ipv4=127.0.0.1,ipv6=none" >"$T/derp.yaml"
  cat >>"$T/config.yaml" <<CFG
server_url: $URL
listen_addr: 127.0.0.1:$PORT
noise: {private_key_path: $T/noise.key}
derp: {paths: [$T/derp.yaml]}
policy: {mode: database}
${1:-}
CFG
}
# start_control: hs-control on $T/config.yaml (which serves $URL), stopped at exit; CONTROL is
# its pid. R ARGS...: hs-admin --remote $URL with $KEY.
start_control() {
  "$HS_BIN/hs-control" -c "$T/config.yaml" >"$T/control.log" 2>&1 &
  CONTROL=$!
  trap 'kill $CONTROL 2>/dev/null; wait $CONTROL 2>/dev/null; rm -rf "$T"' EXIT
  for _ in $(seq 100); do curl -sf "$URL/health" >/dev/null && break; sleep 0.1; done
  curl -sf "$URL/health" >/dev/null || { cat "$T/control.log" >&2; fail "hs-control did not start"; }
}
R() { "$A" --remote "$URL" --api-key "$KEY" "$@"; }
