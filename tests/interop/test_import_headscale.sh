#!/usr/bin/env bash
# Moving from headscale without touching a device. For headscale v0.29.2 and an older release
# whose database differs (v0.25.1: routes table, forced_tags, plaintext pre-auth keys), built
# from the Go module proxy: official clients register on headscale, a router with a pre-auth
# key (advertised route approved, tagged, renamed) and a peer interactively (headscale's CLI
# `nodes register`); headscale stops; `hs-admin import headscale --in-place` on headscale's own
# config.yaml; hs-control starts on that same file. With HS_TEST_DATABASE=postgres hs's config
# is headscale's with its database swapped for a PostgreSQL one of the lab, and headscale's
# file is imported from its path (no --in-place); an import is refused while that hs-control
# runs. The same tailscaled processes come back Running without logging in again, with the same
# addresses and names; the route is served and the peers ping; a pre-auth key and an API key
# made by headscale work on hs; a user, a pre-auth key and a node created on hs after the import
# get new ids (PostgreSQL's sequences were moved past the imported ones). Each run uses both
# pinned client versions (one per role, swapped between the headscale releases).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root

HEADSCALE_VERSIONS=${HS_IMPORT_HEADSCALE_VERSIONS:-"$HEADSCALE_VERSION $HEADSCALE_VERSION_OLD"}
for hv in $HEADSCALE_VERSIONS; do
  HS_HEADSCALE_VERSION=$hv bash "$HS_SRC/tests/bench/headscale.sh" install || fail "building headscale $hv"
done
ts_install "$TS_VERSION"; ts_install "$TS_VERSION_HEADSCALE"
lab_bridge

# hsc ARGS...: headscale's CLI on the run's config (over its unix socket).
hsc() { "$HEADSCALE_BIN" -c "$RUN_DIR/config.yaml" "$@"; }
older() { [ "$HV" != "$HEADSCALE_VERSION" ]; }
hs_node_id() { hsc nodes list -o json | jq -r --arg h "$1" '.[] | select(.name==$h) | .id'; }

# write_config PORT: headscale's config, as an admin of that release would have it.
write_config() {
  local url="http://${LAB_SUBNET}1:$1"
  "$HS_BIN/hs-derpmap" new --region-id 900 --region-code lab --region-name "Lab DERP" \
    --node "name=900a,host=${LAB_SUBNET}1,ipv4=${LAB_SUBNET}1,ipv6=none,stun=3478,derp=$(($1 + 2)),insecure=true" \
    >"$RUN_DIR/derp.yaml"
  cat >"$RUN_DIR/config.yaml" <<EOC
server_url: $url
listen_addr: ${LAB_SUBNET}1:$1
metrics_listen_addr: 127.0.0.1:$(($1 + 1))
grpc_listen_addr: 127.0.0.1:$(($1 + 3))
grpc_allow_insecure: false
noise:
  private_key_path: $RUN_DIR/noise_private.key
prefixes: {v4: 100.64.0.0/10, v6: fd7a:115c:a1e0::/48, allocation: sequential}
derp:
  server: {enabled: false}
  urls: []
  paths: [$RUN_DIR/derp.yaml]
  auto_update_enabled: false
disable_check_updates: true
database:
  type: sqlite
  sqlite: {path: $RUN_DIR/db.sqlite, write_ahead_log: true}
dns: {magic_dns: true, base_domain: hs.test, override_local_dns: false, nameservers: {global: []}}
policy: {mode: database}
unix_socket: $RUN_DIR/headscale.sock
unix_socket_permission: "0770"
log: {level: info}
logtail: {enabled: false}
EOC
  RUN_URL=$url
}

# Policy: 0.26+ needs user names with '@' and tags in tagOwners to tag a node; 0.25's tags
# set by the CLI (forced_tags) need no owner.
policy_json() {
  if older; then echo '{"acls":[{"action":"accept","src":["*"],"dst":["*:*"]}]}'
  else echo '{"tagOwners":{"tag:router":["alice@"]},"acls":[{"action":"accept","src":["*"],"dst":["*:*"]}]}'; fi
}

preauth_key() {
  local user=alice
  older || user=$(hsc users list -o json | jq -r '.[] | select(.name=="alice") | .id')
  hsc preauthkeys create -u "$user" "$@" -e 1h -o json | jq -r .key
}

approve_route() {
  if older; then
    local rid; rid=$(hsc routes list -o json | jq -r '.[] | select(.prefix=="10.77.0.0/24") | .id')
    [ -n "$rid" ] || return 1
    hsc routes enable -r "$rid" >/dev/null
  else
    hsc nodes approve-routes -i "$1" -r 10.77.0.0/24 >/dev/null
  fi
}

# register_interactively NAME: `tailscale up` without a key; headscale's CLI completes it.
register_interactively() {
  ts "$1" up --login-server="$RUN_URL" --hostname="$1" --accept-routes --json --timeout=60s >"$LAB/up-$1.json" 2>"$LAB/up-$1.err" &
  local up_pid=$!
  eventually 20 grep -q AuthURL "$LAB/up-$1.json" || fail "$HV: interactive up printed no AuthURL"
  local url; url=$(jq -r 'select(.AuthURL != null and .AuthURL != "") | .AuthURL' "$LAB/up-$1.json" | sed -n 1p)
  hsc nodes register --user alice --key "${url##*/}" >/dev/null 2>"$LAB/register-$1.err" ||
    fail "$HV: headscale nodes register: $(cat "$LAB/register-$1.err")"
  wait "$up_pid" || fail "$HV: interactive tailscale up did not finish: $(cat "$LAB/up-$1.err")"
}

fetch_is() { [ "$(socks_get "$1" http://10.77.0.1:8080/)" = "$2" ]; }
pings() { TS_TIMEOUT=8 ts "$1" ping -c 1 --timeout=3s --until-direct=false "$2" >/dev/null; }
# what_clients_see NAME: address, DNS name and state, as the client itself reports them
# (headscale 0.25 sends the name without the root's trailing dot).
what_clients_see() { ts "$1" status --json | jq -r '[.BackendState, (.Self.TailscaleIPs | join(",")), (.Self.DNSName | rtrimstr("."))] | join(" ")'; }

# hs_config: sets HS_CFG, the config hs-admin and hs-control use, and IN_PLACE. SQLite: headscale's
# own config.yaml (its file is moved aside by --in-place). PostgreSQL: a copy whose database
# section (the three lines write_config wrote) names a PostgreSQL database of this run.
hs_config() {
  HS_CFG=$RUN_DIR/config.yaml IN_PLACE=(--in-place)
  on_postgres || return 0
  control_pg_db "$RUN_DIR"
  HS_CFG=$RUN_DIR/hs.yaml IN_PLACE=()
  { sed '/^database:/,+2d' "$RUN_DIR/config.yaml"; control_db_yaml; } >"$HS_CFG"
  ! grep -q sqlite "$HS_CFG" || fail "$HV: $HS_CFG still names headscale's SQLite database"
}
hsa() { "$HS_BIN/hs-admin" -c "$HS_CFG" "$@"; }

# run_one HEADSCALE_VERSION INDEX ROUTER_CLIENT PEER_CLIENT
run_one() {
  HV=$1
  local i=$2 vr=$3 vp=$4 port=$((CONTROL_PORT + 20 * $2))
  HEADSCALE_BIN=$(HS_HEADSCALE_VERSION=$HV bash "$HS_SRC/tests/bench/headscale.sh" bin)
  RUN_DIR="$LAB/run$i"
  mkdir -p "$RUN_DIR"
  write_config "$port"
  local r="r$i" p="p$i" n="n$i" hpid=""
  daemon_start hpid "$RUN_DIR/headscale.log" "$RUN_URL/health" "$HEADSCALE_BIN" -c "$RUN_DIR/config.yaml" serve
  hsc users create alice >/dev/null || fail "$HV: users create"
  policy_json >"$RUN_DIR/policy.json"
  hsc policy set -f "$RUN_DIR/policy.json" >/dev/null || fail "$HV: policy set"
  local key; key=$(preauth_key --reusable)
  [ -n "$key" ] || fail "$HV: no pre-auth key"

  host_add "$r" $((10 * i + 1)); host_add "$p" $((10 * i + 2)); host_add "$n" $((10 * i + 3))
  ip -n "$(host_ns "$r")" addr add 10.77.0.1/32 dev lo
  mkdir -p "$LAB/www-$r"; echo "behind-$r" >"$LAB/www-$r/index.html"
  ip netns exec "$(host_ns "$r")" python3 -m http.server 8080 --bind 10.77.0.1 --directory "$LAB/www-$r" >/dev/null 2>&1 &
  LAB_PIDS+=("$!")
  ts_install "$vr"; ts_start "$r" 41641
  ts_install "$vp"; ts_start "$p" 41642 --socks5-server="127.0.0.1:$SOCKS_PORT"
  ts_up_at() { local name=$1 k=$2; shift 2; ts "$name" up --login-server="$RUN_URL" --auth-key="$k" --hostname="$name" --timeout=60s "$@"; }
  ts_up_at "$r" "$key" --advertise-routes=10.77.0.0/24 || fail "$HV: up $r"
  register_interactively "$p"
  local rid; rid=$(hs_node_id "$r")
  eventually 10 approve_route "$rid" || fail "$HV: approving the route"
  hsc nodes tag -i "$rid" -t tag:router >/dev/null || fail "$HV: nodes tag"
  hsc nodes rename -i "$rid" router-one >/dev/null || fail "$HV: nodes rename"
  eventually 30 fetch_is "$p" "behind-$r" || fail "$HV: $p cannot reach the route through $r under headscale"
  pass "$HV: on headscale, $r ($vr, pre-auth key) serves 10.77.0.0/24 as tagged router-one, $p ($vp) registered interactively"

  local new_key api_key
  new_key=$(preauth_key)
  api_key=$(hsc apikeys create -e 1h | tail -n 1)
  local before_r before_p
  before_r=$(what_clients_see "$r"); before_p=$(what_clients_see "$p")
  hs_config
  hsa import headscale "$RUN_DIR/db.sqlite" "${IN_PLACE[@]}" >/dev/null 2>"$RUN_DIR/busy.err" &&
    fail "$HV: imported while headscale was running"
  grep -q "is open in process $hpid (headscale still running?)" "$RUN_DIR/busy.err" || fail "$HV: import next to a running headscale: $(cat "$RUN_DIR/busy.err")"
  daemon_stop "$hpid"

  hsa import headscale "$RUN_DIR/db.sqlite" "${IN_PLACE[@]}" -o json >"$RUN_DIR/import.json" 2>"$RUN_DIR/import.err" || fail "$HV: import: $(cat "$RUN_DIR/import.err")"
  jq -e '(.nodes | length) == 2 and .users == 1 and .policy == true' "$RUN_DIR/import.json" >/dev/null ||
    fail "$HV: import summary: $(cat "$RUN_DIR/import.json")"
  pass "$HV: import refused while headscale ran (its pid named); imported once stopped into $(jq -r .database "$RUN_DIR/import.json") ($(jq -r .source_kind "$RUN_DIR/import.json"); $(jq -r '.preauth_keys' "$RUN_DIR/import.json") pre-auth keys, $(jq -r '.not_imported | length' "$RUN_DIR/import.json") notes)"
  # The largest imported ids: what hs creates from now on must get ids past them.
  local max_user max_key max_node
  max_user=$(hsa users list -o json | jq '[.[].id] | max')
  max_key=$(hsa preauthkeys list -o json | jq '[.[].id] | max')
  max_node=$(hsa nodes list -o json | jq '[.[].id] | max')

  local cpid=""
  daemon_start cpid "$RUN_DIR/hs-control.log" "$RUN_URL/health" "$HS_BIN/hs-control" -c "$HS_CFG"
  local t0=$SECONDS
  # Online in hs-admin = a map session open on hs-control: both clients came back to it.
  hs_online() { [ "$(hsa nodes list -o json | jq '[.[] | select(.online)] | length')" = 2 ]; }
  eventually 60 hs_online || fail "$HV: the clients did not reconnect to hs-control: $(hsa nodes list 2>&1)"
  eventually 30 peer_is "$p" "$r" .Online true || fail "$HV: $r not online for $p after the switch: $(ts "$p" status 2>&1)"
  eventually 20 pings "$p" "$(ts "$r" ip -4)" || fail "$HV: $p cannot ping $r on hs"
  [ "$(what_clients_see "$r")" = "$before_r" ] || fail "$HV: $r changed: '$before_r' -> '$(what_clients_see "$r")'"
  [ "$(what_clients_see "$p")" = "$before_p" ] || fail "$HV: $p changed: '$before_p' -> '$(what_clients_see "$p")'"
  peer_is "$p" "$r" .DNSName "router-one.hs.test." || fail "$HV: $p sees $r as $(peer_field "$p" "$r" .DNSName)"
  eventually 30 fetch_is "$p" "behind-$r" || fail "$HV: $p cannot reach the route through $r on hs"
  pass "$HV: on hs after $((SECONDS - t0)) s: both still '$before_r' / '$before_p' without logging in, $p pings $r, the route answers"
  [ "$(hsa nodes list -o json | jq -r '.[] | select(.given_name=="router-one") | .tags | join(",")')" = tag:router ] ||
    fail "$HV: router-one lost its tag"
  if on_postgres; then
    # hs-control holds its instance lock on the database: a second import must not run under it.
    hsa import headscale "$RUN_DIR/db.sqlite" --force >/dev/null 2>"$RUN_DIR/serving.err" &&
      fail "$HV: imported while hs-control ran on $CONTROL_DB"
    grep -q "an hs-control is running on this database" "$RUN_DIR/serving.err" ||
      fail "$HV: import next to a running hs-control: $(cat "$RUN_DIR/serving.err")"
    hs_online || fail "$HV: the refused import changed the tailnet: $(hsa nodes list 2>&1)"
    pass "$HV: import refused while hs-control ran on PostgreSQL database $CONTROL_DB: $(grep -o 'an hs-control is running.*' "$RUN_DIR/serving.err")"
  fi

  ts_install "$vr"; ts_start "$n" 41643
  ts_up_at "$n" "$new_key" || fail "$HV: a key headscale made did not register $n on hs: $(tail -5 "$RUN_DIR/hs-control.log")"
  local nid uid kid
  nid=$(hsa nodes list -o json | jq --arg h "$n" '.[] | select(.name==$h) | .id')
  uid=$(hsa users create bob -o json | jq .id) || fail "$HV: users create after the import"
  kid=$(hsa preauthkeys create -u bob -o json | jq .id) || fail "$HV: preauthkeys create after the import"
  [ "$nid" -gt "$max_node" ] && [ "$uid" -gt "$max_user" ] && [ "$kid" -gt "$max_key" ] ||
    fail "$HV: new ids not past the imported ones: node $nid (max $max_node), user $uid ($max_user), key $kid ($max_key)"
  eventually 20 peer_is "$n" "$r" .Online true || fail "$HV: $n does not see $r online"
  local code; code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $api_key" "$RUN_URL/api/v1/apikey")
  [ "$code" = 200 ] || fail "$HV: headscale's API key got HTTP $code from hs"
  pass "$HV: a pre-auth key made by headscale registered $n on hs (node $nid; then user $uid, pre-auth key $kid: new ids); headscale's API key is accepted (HTTP 200)"
  ts_stop "$r"; ts_stop "$p"; ts_stop "$n"
  daemon_stop "$cpid"
}

set -- $HEADSCALE_VERSIONS
run_one "$1" 1 "$TS_VERSION" "$TS_VERSION_HEADSCALE"
[ -z "${2:-}" ] || run_one "$2" 2 "$TS_VERSION_HEADSCALE" "$TS_VERSION"
finish
