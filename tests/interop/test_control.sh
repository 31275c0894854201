#!/usr/bin/env bash
# hs-control with the official client, once per pinned client version: pre-auth registration,
# peers that see and ping each other, interactive login, rename/expire/delete from hs-admin,
# ephemeral nodes, and a server restart. Each client is its own network namespace.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root

run_suite() {
  local v=$1 tag=$2 base=$3
  ts_install "$v"
  log "=== client $v"
  control_config
  control_start
  admin users create alice >/dev/null
  local key; key=$(admin preauthkeys create -u alice --reusable -e 1h)
  [[ "$key" == hskey-auth-* ]] || fail "preauthkeys create printed '$key'"

  local a="${tag}a" b="${tag}b"
  host_add "$a" $((base + 1)); host_add "$b" $((base + 2))
  ts_start "$a" 41641; ts_start "$b" 41642
  ts_up "$a" "$key" || fail "$v: tailscale up with a pre-auth key failed on $a"
  # b's ID lands 300 past a's, in another of hs-control's spans of 128 IDs: each full map is
  # then several zstd frames (shared pieces), as in any tailnet of more than 128 nodes.
  if on_postgres; then
    control_sql "SELECT setval(pg_get_serial_sequence('nodes', 'id'), (SELECT max(id) FROM nodes) + 300)" >/dev/null
  else
    control_sql "UPDATE sqlite_sequence SET seq = seq + 300 WHERE name = 'nodes'"
  fi
  ts_up "$b" "$key" || fail "$v: tailscale up with a pre-auth key failed on $b"
  [ "$(ts "$a" status --json | jq -r .BackendState)" = Running ] || fail "$a is not Running"
  local span_a span_b; span_a=$(( $(node_id "$a") / 128 )); span_b=$(( $(node_id "$b") / 128 ))
  [ "$span_a" != "$span_b" ] || fail "$a and $b have IDs in the same span ($span_a)"
  pass "$v: two clients registered with a pre-auth key and are Running (IDs in spans $span_a and $span_b)"

  # Each lists the other with the addresses and DNS name hs-admin shows.
  eventually 10 peer_is "$a" "$b" .HostName "$b" || fail "$a does not list $b"
  eventually 10 peer_is "$b" "$a" .HostName "$a" || fail "$b does not list $a"
  local nodes; nodes=$(admin nodes list -o json)
  for pair in "$a $b" "$b $a"; do
    set -- $pair
    local want_ips want_name got_ips got_name
    want_ips=$(echo "$nodes" | jq -c --arg h "$2" '[.[] | select(.name==$h) | .ip_addresses[]] | sort')
    want_name=$(echo "$nodes" | jq -r --arg h "$2" '.[] | select(.name==$h) | .given_name')
    got_ips=$(ts "$1" status --json | jq -c --arg h "$2" '[.Peer[] | select(.HostName==$h) | .TailscaleIPs[]] | sort')
    got_name=$(peer_field "$1" "$2" .DNSName)
    [ "$want_ips" = "$got_ips" ] || fail "$1 sees $2 at $got_ips, hs-admin says $want_ips"
    [ "$got_name" = "$want_name.hs.test." ] || fail "$1 sees $2 as $got_name, expected $want_name.hs.test."
  done
  pass "$v: each client lists the other with hs-admin's addresses and DNS name"

  local ip_b; ip_b=$(ts "$b" ip -4)
  ts "$a" ping -c 5 --timeout=5s --until-direct=false "$ip_b" >"$LAB/ping.out" 2>&1 || { cat "$LAB/ping.out" >&2; fail "$v: ping $a -> $b failed"; }
  grep -q "pong from" "$LAB/ping.out" || fail "no pong"
  pass "$v: tailscale ping $a -> $b: $(grep -m1 pong "$LAB/ping.out")"

  # Rename shows on the peer within 2 s.
  local id_b; id_b=$(node_id "$b")
  admin nodes rename -i "$id_b" "web-$tag" >/dev/null || fail "rename failed"
  eventually 2 peer_is "$a" "$b" .DNSName "web-$tag.hs.test." || fail "$v: rename not seen by $a within 2s"
  eventually 2 status_is "$b" .Self.DNSName "web-$tag.hs.test." || fail "rename not seen by $b itself"
  pass "$v: hs-admin rename reached the peer and the node within 2s"

  # Interactive login: the URL's page shows the hs-admin command; running it completes `up`.
  local c="${tag}c"
  host_add "$c" $((base + 3)); ts_start "$c" 41643
  ts "$c" up --login-server="$CONTROL_URL" --hostname="$c" --json --timeout=90s >"$LAB/up-$c.json" 2>"$LAB/up-$c.err" &
  local up_pid=$!
  eventually 20 grep -q AuthURL "$LAB/up-$c.json" || fail "$v: interactive up printed no AuthURL"
  local url; url=$(jq -r 'select(.AuthURL != null and .AuthURL != "") | .AuthURL' "$LAB/up-$c.json" | sed -n 1p)
  local page; page=$(curl -sf "$url") || fail "fetching $url failed"
  local cmd; cmd=$(echo "$page" | grep -o 'hs-admin[^<]*nodes register --user USERNAME --key [A-Za-z0-9]*' | sed -n 1p)
  [ -n "$cmd" ] || fail "the registration page shows no hs-admin command: $page"
  local auth_id=${cmd##* }
  admin nodes register --user alice --key "$auth_id" >/dev/null || fail "nodes register failed"
  wait "$up_pid" || { cat "$LAB/up-$c.err" >&2; fail "$v: interactive tailscale up did not finish"; }
  [ "$(ts "$c" status --json | jq -r .BackendState)" = Running ] || fail "$c not Running after interactive login"
  pass "$v: interactive login: URL page shows '$cmd', running it let tailscale up finish"

  # Delete removes the node from peers within 2 s.
  local id_c; id_c=$(node_id "$c")
  admin nodes delete -i "$id_c" >/dev/null || fail "delete failed"
  eventually 2 peer_is "$a" "$c" .HostName "" || fail "$v: deleted node still listed by $a after 2s"
  pass "$v: hs-admin delete removed the node from its peer within 2s"

  # Expire moves the client to a logged-out state.
  admin nodes expire -i "$id_b" >/dev/null || fail "expire failed"
  eventually 10 status_is "$b" .BackendState NeedsLogin || fail "$v: expired client is not NeedsLogin"
  eventually 5 peer_is "$a" "$b" .Expired true || fail "$a does not see $b as expired"
  pass "$v: hs-admin expire logged the client out (NeedsLogin) and peers see Expired"

  # An ephemeral node disappears after tailscale logout.
  local ekey; ekey=$(admin preauthkeys create -u alice --ephemeral)
  local e="${tag}e"
  host_add "$e" $((base + 4)); ts_start "$e" 41644
  ts_up "$e" "$ekey" || fail "ephemeral up failed"
  eventually 5 peer_is "$a" "$e" .HostName "$e" || fail "ephemeral node not seen"
  ts "$e" logout || fail "logout failed"
  eventually 5 peer_is "$a" "$e" .HostName "" || fail "$v: ephemeral node still listed after logout"
  [ -z "$(node_id "$e")" ] || fail "ephemeral node still in hs-admin nodes list"
  pass "$v: ephemeral node vanished after tailscale logout"

  # Restart: clients reconnect on their own with the same addresses and peers.
  local before; before=$(ts "$a" status --json | jq -c '[.TailscaleIPs, ([.Peer[] | .HostName] | sort)]')
  control_stop
  control_start
  eventually 60 admin_node_is "$a" .online true \
    || fail "$v: $a did not reconnect after the restart"
  local after; after=$(ts "$a" status --json | jq -c '[.TailscaleIPs, ([.Peer[] | .HostName] | sort)]')
  [ "$before" = "$after" ] || fail "after restart $a has $after, before $before"
  pass "$v: after a server restart $a reconnected with the same addresses and peers"

  for n in "$a" "$b" "$c" "$e"; do ts_stop "$n"; done
  control_stop
  rm -rf "$CONTROL_DIR"
}

for_each_version run_suite
finish
