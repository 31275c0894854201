#!/usr/bin/env bash
# An ephemeral node whose tailscaled dies without logging out is deleted once it has been
# offline for node.ephemeral.inactivity_timeout (the shortest allowed, 66s, to keep this quick),
# and its peer sees it go. A non-ephemeral node that dies the same way stays.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root
ts_install
control_config "node: {ephemeral: {inactivity_timeout: 66s}}"
control_start
admin users create alice >/dev/null
key=$(admin preauthkeys create -u alice --reusable)
ekey=$(admin preauthkeys create -u alice --reusable --ephemeral)
host_add keeper 1; host_add eph 2; host_add plain 3
ts_start keeper 41641; ts_start eph 41642; ts_start plain 41643
ts_up keeper "$key" || fail "up keeper"
ts_up eph "$ekey" || fail "up eph"
ts_up plain "$key" || fail "up plain"
eventually 10 peer_is keeper eph .HostName eph || fail "keeper does not see eph"
pass "an ephemeral and a plain node joined"
# hs-control records each registration in the audit trail as itself, with the machine key.
admin audit list -o json | jq -e '[.[] | select(.action == "node.registered" and .actor == "hs-control" and .source == "authkey"
  and (.after.machine_key | startswith("mkey:")))] | length == 3' >/dev/null || fail "registrations not in the audit trail"
pass "audit trail: 3 node.registered rows by hs-control"

kill -KILL "$(cat "$LAB/eph/pid")" "$(cat "$LAB/plain/pid")"
t0=$SECONDS
eventually 10 admin_node_is eph .online false || fail "eph not offline after its daemon died"
pass "both daemons killed without logout; eph is offline"
sleep 50
[ -n "$(node_id eph)" ] || fail "eph was deleted before the inactivity timeout (after $((SECONDS - t0))s)"
eventually 40 sh -c "[ -z \"\$($HS_BIN/hs-admin -c $CONTROL_DIR/config.yaml nodes list -o json | jq -r '.[] | select(.name==\"eph\") | .id')\" ]" \
  || fail "eph still listed $((SECONDS - t0))s after it went offline"
pass "eph deleted $((SECONDS - t0))s after it went offline (timeout 66s)"
admin audit list -o json | jq -e '[.[] | select(.action == "node.deleted" and .actor == "hs-control"
  and .source == "ephemeral inactivity" and .before.name == "eph")] | length == 1' >/dev/null || fail "ephemeral deletion not in the audit trail"
pass "audit trail: node.deleted by hs-control (ephemeral inactivity)"
eventually 5 peer_is keeper eph .HostName "" || fail "keeper still lists eph"
pass "keeper no longer lists eph"
[ -n "$(node_id plain)" ] || fail "the non-ephemeral node was deleted too"
pass "the non-ephemeral node that died the same way is still there"
finish
