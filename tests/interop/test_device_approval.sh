#!/usr/bin/env bash
# Device approval (auth.device_approval: true) with the official clients, one per pinned version.
# Each registers with a pre-auth key and then waits: its state is NeedsMachineAuth, `tailscale
# status` says why, and no peer sees it. The first is approved with hs-admin on the file; the
# second, while the first watches, over the REST API (/api/hs/v1/node/<id>/approve): the time
# from the approval to the second appearing in the first's `tailscale status` is measured and
# must be under a second. Then they ping each other, and the audit trail has both approvals.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root

control_embedded_derp
control_config "policy: {mode: database}" "auth: {device_approval: true}"
control_start
admin users create alice >/dev/null || fail "users create failed"
key=$(admin preauthkeys create -u alice --reusable -e 1h -o json | jq -r .key)
api_key=$(admin apikeys create -o json | jq -r .key)
[ -n "$api_key" ] && [ "$api_key" != null ] || fail "apikeys create printed no key"

clients=()
# add_client VERSION TAG BASE (for_each_version): one tailscaled of that version, not yet up.
add_client() {
  ts_install "$1"
  host_add "${2}c" "$3"
  ts_start "${2}c" $((41640 + $3 / 10))
  clients+=("${2}c")
}
for_each_version add_client
[ ${#clients[@]} -ge 2 ] || { clients+=(x2); host_add x2 30; ts_start x2 41643; }
first=${clients[0]}
second=${clients[1]}

# up_waiting NAME: `tailscale up` with the key; the client registers and then waits for the
# approval, so `up` runs in the background (it ends at its own --timeout or once approved).
up_waiting() {
  ts "$1" up --login-server="$CONTROL_URL" --auth-key="$key" --hostname="$1" --timeout=60s \
    >"$LAB/up-$1.out" 2>&1 &
  UP_PIDS+=("$!")
  eventually 20 status_is "$1" .BackendState NeedsMachineAuth ||
    fail "$1: not NeedsMachineAuth: $(ts "$1" status --json | jq -r .BackendState)"
}
UP_PIDS=()

up_waiting "$first"
pass "$first registered and waits: BackendState NeedsMachineAuth"
text=$(ts "$first" status 2>&1) && fail "$first: tailscale status exits 0 while waiting"
[[ "$text" == *"Machine is not yet approved by tailnet admin."* ]] || fail "$first: tailscale status says: $text"
pass "$first: tailscale status says '$(echo "$text" | sed -n 1p)' (exit 1)"
health=$(ts "$first" status --json | jq -r '.Health // [] | join(" | ")')
[[ "$health" == *"hs-admin nodes approve"* ]] || fail "$first: no approval line in the client's Health: '$health'"
pass "$first: the client's health says: $health"
admin_node_is "$first" .approved false || fail "hs-admin nodes list does not show $first waiting"
check "hs-admin nodes list (table) shows 'waiting'" eval "admin nodes list | grep -E '\\b$first\\b' | grep -q waiting"

id1=$(node_id "$first")
admin nodes approve -i "$id1" >/dev/null || fail "hs-admin nodes approve $id1 failed"
check "$first is Running once approved on the file" eventually 10 status_is "$first" .BackendState Running
admin_node_is "$first" .approved true || fail "hs-admin nodes list does not show $first approved"

up_waiting "$second"
id2=$(node_id "$second")
# Invisible while it waits: the first sees no peer for 3 s, the second none either.
for _ in $(seq 1 6); do
  peers_are "$first" "" || fail "$first sees $(peers "$first") while $second waits for approval"
  sleep 0.5
done
peers_are "$second" "" || fail "$second, waiting, sees $(peers "$second")"
pass "$second waits (NeedsMachineAuth): $first does not see it for 3 s, and it sees no peer"

# Approval over the REST API, while the first's status is read in a loop.
t0=$(date +%s%N)
r=$(curl -sS -X POST -H "Authorization: Bearer $api_key" "$CONTROL_URL/api/hs/v1/node/$id2/approve")
[ "$(echo "$r" | jq -r .approved)" = true ] || fail "REST approve answered: $r"
seen=""
while [ $(( ($(date +%s%N) - t0) / 1000000 )) -lt 5000 ]; do
  if peers_are "$first" "$second"; then seen=$(( ($(date +%s%N) - t0) / 1000000 )); break; fi
done
[ -n "$seen" ] || fail "$first does not see $second 5 s after the approval"
[ "$seen" -lt 1000 ] || fail "$second appeared to $first only after $seen ms"
pass "approved over POST /api/hs/v1/node/$id2/approve: $second appears in $first's tailscale status after $seen ms"
check "$second is Running once approved" eventually 10 status_is "$second" .BackendState Running
check "$second pings $first" eventually 20 pong "$second" "$first"
check "$first pings $second" eventually 20 pong "$first" "$second"

audit=$(admin audit list -o json)
rows=$(echo "$audit" | jq -c '[.[] | select(.action == "nodes.approve") | .actor]')
[ "$(echo "$rows" | jq 'length')" = 2 ] && [[ "$(echo "$rows" | jq -r '.[1]')" == apikey:* ]] ||
  fail "audit rows for the approvals: $rows"
pass "audit trail: two nodes.approve rows, actors $rows"
for p in "${UP_PIDS[@]}"; do wait "$p" || true; done
finish
