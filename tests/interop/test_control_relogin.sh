#!/usr/bin/env bash
# A running client whose node the server no longer knows (deleted with hs-admin) is told to log
# in again: its map poll gets a self node whose key expired (tools/hs-control/relogin.h), so the
# official client shows NeedsLogin and hs-control's message instead of looking Running while
# offline. `tailscale up` with a pre-auth key then registers a new node key and brings it back.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root

for_each_version_body() {
  local v=$1 h=c${1//[^0-9]/}
  ts_install "$v"
  host_add "$h" "$2"
  ts_start "$h" $((41640 + $2))
  ts_up "$h" "$KEY" || fail "[$v] tailscale up failed"
  eventually 20 status_is "$h" .BackendState Running || fail "[$v] not Running after up"
  local id; id=$(node_id "$h")
  admin nodes delete -i "$id" >/dev/null || fail "[$v] hs-admin nodes delete $id"
  eventually 30 status_is "$h" .BackendState NeedsLogin || fail "[$v] still $(ts "$h" status --json | jq -r .BackendState) after its node was deleted"
  ts "$h" status --json | jq -e '.Health | any(contains("not known to the control server"))' >/dev/null ||
    fail "[$v] no message in status .Health: $(ts "$h" status --json | jq -c .Health)"
  local out; out=$(ts "$h" status 2>&1 || true)
  [[ "$out" == *"Logged out."* ]] || fail "[$v] tailscale status printed: $out"
  pass "[$v] deleted node $id: NeedsLogin, 'tailscale status' says '$out', .Health: $(ts "$h" status --json | jq -r '.Health[] | select(contains("control server"))')"
  ts "$h" up --login-server="$CONTROL_URL" --auth-key="$KEY" --hostname="$h" --timeout=60s || fail "[$v] tailscale up after the deletion failed: $(ts "$h" status --json | jq -c "{BackendState, Health, Self: .Self.Online}")"
  eventually 20 status_is "$h" .BackendState Running || fail "[$v] not Running after logging in again"
  local id2; id2=$(node_id "$h")
  [ -n "$id2" ] && [ "$id2" != "$id" ] || fail "[$v] expected a new node after logging in again, got id '$id2'"
  eventually 20 admin_node_is "$h" .online true || fail "[$v] the new node $id2 is not online"
  pass "[$v] tailscale up with a key: Running again as node $id2, online"
  ts_stop "$h"
}

control_embedded_derp
control_config
control_start
admin users create alice >/dev/null
KEY=$(admin preauthkeys create -u alice --reusable -e 1h)
i=1
for v in $TS_VERSIONS; do
  for_each_version_body "$v" "$i"
  i=$((i + 1))
done
control_stop
finish
