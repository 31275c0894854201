# Helpers to run hs-control (and hs-admin against it) inside the lab from lib.sh. Source after lib.sh.
# The server listens on the lab bridge address; clients in their namespaces reach it there.

CONTROL_PORT=${CONTROL_PORT:-$((18000 + LAB_ID))}
CONTROL_DIR="$LAB/control"
CONTROL_URL=""
CONTROL_PID=""

# The database hs-control runs on: the SQLite file db.sqlite beside the config (the default), or
# with HS_TEST_DATABASE=postgres a throwaway PostgreSQL cluster of this lab (tests/cli/pg_lib.sh),
# started by the first control_config and stopped by lab_cleanup. There each control directory
# has a database of its own, as it would have a SQLite file of its own.
HS_TEST_DATABASE=${HS_TEST_DATABASE:-sqlite}
case "$HS_TEST_DATABASE" in
  sqlite) ;;
  postgres) T=$LAB; . "$HS_SRC/tests/cli/pg_lib.sh" ;;
  *) echo "HS_TEST_DATABASE: sqlite or postgres, not '$HS_TEST_DATABASE'" >&2; exit 1 ;;
esac
on_postgres() { [ "$HS_TEST_DATABASE" = postgres ]; }
CONTROL_DB=""
CONTROL_PG_DBS=0
# control_pg_db [DIR]: on PostgreSQL, sets CONTROL_DB to the database of DIR ($CONTROL_DIR),
# starting the cluster and creating the database when DIR has none yet. Not in a subshell: the
# cluster's stop is registered here.
control_pg_db() {
  local dir=${1:-$CONTROL_DIR}
  on_postgres || return 0
  mkdir -p "$dir"
  if [ ! -f "$dir/pg-database" ]; then
    if [ "$CONTROL_PG_DBS" = 0 ]; then
      LAB_ATEXIT+=(pg_stop)
      start_pg
      # Should this shell be killed outright (a test runner's timeout), no trap runs: this
      # watcher stops the cluster then.
      (while kill -0 $$ 2>/dev/null; do sleep 1; done; pg_stop) </dev/null >/dev/null 2>&1 &
    fi
    CONTROL_PG_DBS=$((CONTROL_PG_DBS + 1))
    pg_create "hs$CONTROL_PG_DBS" >/dev/null
    echo "hs$CONTROL_PG_DBS" >"$dir/pg-database"
  fi
  CONTROL_DB=$(<"$dir/pg-database")
}
# control_db_yaml: the database line for $CONTROL_DB (one line: a copy's can be swapped by sed).
control_db_yaml() { echo "database: {type: postgres, postgres: {host: $PGSOCK, name: $CONTROL_DB, user: $PGUSER_}}"; }
# control_own_db DIR: on PostgreSQL, points DIR/config.yaml (a copy of a config of this file's)
# at a database of DIR's own, as on SQLite the copy uses a db.sqlite of its own beside it.
control_own_db() {
  on_postgres || return 0
  local keep=$CONTROL_DB
  control_pg_db "$1"
  sed -i "s|^database: .*|$(control_db_yaml)|" "$1/config.yaml"
  CONTROL_DB=$keep
}
# control_sql SQL: runs SQL on hs-control's database (the SQLite file or PostgreSQL) and prints
# the rows, fields separated by |.
control_sql() {
  if on_postgres; then
    pq "$CONTROL_DB" "$1"
  else
    sqlite3 -cmd ".timeout 5000" "$CONTROL_DIR/db.sqlite" "$1"
  fi
}

# control_config [extra yaml lines...]: writes $CONTROL_DIR/config.yaml. On PostgreSQL it holds
# the database section of the lab's cluster unless an extra line starts one.
control_config() {
  lab_bridge
  mkdir -p "$CONTROL_DIR"
  local l db_yaml="" own_db=""
  for l in "$@"; do [[ "$l" != database:* ]] || own_db=1; done
  if on_postgres && [ -z "$own_db" ]; then
    control_pg_db
    db_yaml=$(control_db_yaml)
  fi
  CONTROL_URL="http://${LAB_SUBNET}1:$CONTROL_PORT"
  # The map comes from hs-derpmap, so every control test also checks that hs-control (and
  # through it the official client) takes what hs-derpmap writes.
  "$HS_BIN/hs-derpmap" new --region-id 900 --region-code lab --region-name "Lab DERP" \
    --node "name=900a,host=${LAB_SUBNET}1,ipv4=${LAB_SUBNET}1,ipv6=none,stun=${DERP_STUN_PORT:-3478},derp=${DERP_PORT:-$((18500 + LAB_ID))},insecure=true" \
    >"$CONTROL_DIR/derp.yaml" || fail "hs-derpmap new failed"
  "$HS_BIN/hs-derpmap" check "$CONTROL_DIR/derp.yaml" || fail "hs-derpmap check refused its own map"
  {
    echo "server_url: $CONTROL_URL"
    echo "listen_addr: ${LAB_SUBNET}1:$CONTROL_PORT"
    echo "metrics_listen_addr: 127.0.0.1:$((CONTROL_PORT + 1000))"
    echo "log: {level: debug}"
    echo "dns: {base_domain: hs.test}"
    local derp_line='derp: {paths: [derp.yaml]}'
    echo "${CONTROL_DERP:-$derp_line}"
    [ -z "$db_yaml" ] || echo "$db_yaml"
    for l in "$@"; do echo "$l"; done
  } >"$CONTROL_DIR/config.yaml"
}

control_start() {
  [ -f "$CONTROL_DIR/config.yaml" ] || control_config
  daemon_start CONTROL_PID "$CONTROL_DIR/control.log" "$CONTROL_URL/health" "$HS_BIN/hs-control" -c "$CONTROL_DIR/config.yaml"
  ! on_postgres || [ ! -e "$CONTROL_DIR/db.sqlite" ] || fail "HS_TEST_DATABASE=postgres, yet there is a SQLite file in $CONTROL_DIR"
}

# server_alive WHAT: fails (with the log's tail) if hs-control has exited, so a crash shows up
# at the first step after it rather than at the end.
server_alive() {
  kill -0 "$CONTROL_PID" 2>/dev/null && return 0
  tail -n 30 "$CONTROL_DIR/control.log" >&2
  fail "hs-control is gone after: $1"
}

# control_embedded_derp: before control_config, makes the lab's DERP map hs-control's embedded
# region: a relay from the start, so a path between two clients exists at once (the lab's direct
# UDP takes some seconds to be found) and a refused connection means the packet filter.
control_embedded_derp() {
  CONTROL_DERP="derp: {server: {enabled: true, region_id: 901, region_code: embedded, region_name: hs embedded, stun_listen_addr: '${LAB_SUBNET}1:$((13000 + LAB_ID))', tls_listen_addr: '${LAB_SUBNET}1:$((14000 + LAB_ID))'}}"
}

control_stop() {
  daemon_stop "$CONTROL_PID"
  CONTROL_PID=""
}

# admin ARGS...: hs-admin against the lab's config.
admin() { "$HS_BIN/hs-admin" -c "$CONTROL_DIR/config.yaml" "$@"; }

# ts_up NAME KEY [flags...]: joins NAME with a pre-auth key.
ts_up() {
  local name=$1 key=$2
  shift 2
  ts "$name" up --login-server="$CONTROL_URL" --auth-key="$key" --hostname="$name" --reset --timeout=60s "$@"
}

# Peer field of NAME's status for the peer whose HostName is PEER.
peer_field() { ts "$1" status --json | jq -r --arg h "$2" ".Peer[] | select(.HostName==\$h) | $3"; }
# For `eventually`, which re-runs a command: each evaluates the status afresh on every try.
peer_is() { [ "$(peer_field "$1" "$2" "$3")" = "$4" ]; }
status_is() { [ "$(ts "$1" status --json | jq -r "$2")" = "$3" ]; }
admin_node_is() { [ "$(admin nodes list -o json | jq -r --arg h "$1" ".[] | select(.name==\$h) | $2")" = "$3" ]; }
node_id() { admin nodes list -o json | jq -r --arg h "$1" '.[] | select(.name==$h) | .id'; }

# policy_set: stores the policy read from stdin (policy.mode database; kept in $LAB/policy.hujson).
policy_set() {
  cat >"$LAB/policy.hujson"
  admin policy set -f "$LAB/policy.hujson" >/dev/null || fail "hs-admin policy set refused: $(admin policy set -f "$LAB/policy.hujson" 2>&1)"
}

# Connections through the clients, for policy labs (the hosts made by host_add).

# serve HOST PORT TEXT: a web server on HOST's 127.0.0.1:PORT answering TEXT. tailscaled in
# userspace mode hands TCP for its own tailnet address to the same port on its loopback.
serve() {
  local dir="$LAB/www-$1-$2"
  mkdir -p "$dir"
  echo "$3" >"$dir/index.html"
  ip netns exec "$(host_ns "$1")" python3 -m http.server "$2" --bind 127.0.0.1 --directory "$dir" >"$dir.log" 2>&1 &
  LAB_PIDS+=("$!")
  local t; t=$(ip netns exec "$(host_ns "$1")" curl -s --max-time 5 --retry 10 --retry-connrefused --retry-delay 0 "http://127.0.0.1:$2/") || true
  [ "$t" = "$3" ] || fail "$1 cannot reach its own web server on port $2 ('$t')"
}

# get SRC DST PORT: GET / from SRC's tailscaled to DST's tailnet address (tailscale nc, 4 s at
# most); prints the body. stdin stays open longer than that: nc ends when its input does. The
# writer lets go of stderr, so a test runner waiting on it is not held up by a sleep.
get() {
  TS_TIMEOUT=4 ts "$1" nc "$(ts "$2" ip -4)" "$3" \
    < <(exec 2>/dev/null; printf 'GET / HTTP/1.0\r\nHost: %s\r\n\r\n' "$2"; sleep 5) 2>/dev/null | tail -n 1
}
reaches() { [ "$(get "$1" "$2" "$3")" = "$4" ]; }
# peers NAME: the HostNames of NAME's peers, sorted, comma-separated.
peers() { ts "$1" status --json | jq -r '[.Peer // {} | .[] | .HostName] | sort | join(",")'; }
peers_are() { [ "$(peers "$1")" = "$2" ]; }
# refused SRC DST PORT: SRC cannot open PORT on DST (where a server listens). Either DST is not
# among SRC's peers, or SRC has a working path to DST (a disco pong: tailscale ping, which the
# packet filter does not see) and the connection still gets no answer. Without a pong a failed
# connection proves nothing (a path still being set up fails it too), so the check fails.
refused() {
  peers "$1" | tr , '\n' | grep -qx "$2" || return 0
  eventually 10 pong "$1" "$2" || { echo "no pong from $2 to $1: $(pong "$1" "$2" 2>&1 | tail -n 1)" >&2; return 1; }
  [ -z "$(get "$1" "$2" "$3")" ]
}
pong() { TS_TIMEOUT=5 ts "$1" ping -c 1 --timeout=2s --until-direct=false "$(ts "$2" ip -4)"; }
