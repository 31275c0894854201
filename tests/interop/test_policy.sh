#!/usr/bin/env bash
# The ACL policy with the official client (policy.mode: database, set with hs-admin policy set).
# Users alice and bob each have a laptop; web and db are tagged nodes (tagged pre-auth keys).
# The laptops run one pinned client version, web and db the other. The policy lets group:eng
# (alice) reach tag:web on port 80 and tag:web reach tag:db on 5432, nothing else. Through the
# clients (tailscale nc to a web server on each target's loopback, which tailscaled's userspace
# netstack forwards to) the allowed connections succeed and the others fail; each node's peer
# list holds only the nodes it may reach or be reached by (bob: none). Adding bob to group:eng
# with hs-admin reaches the connected clients within 2 s, without a new map stream: bob then
# lists web and reaches it. Then autoApprovers approve a route alice announces (and it becomes
# primary) but not one bob announces, and bob asking for a tag he does not own is refused with
# the message the client prints.
#
# Deny and visibility checks go on after a failure (check), so one run shows every verdict.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root
LAPTOP_VERSION=$TS_VERSION
SERVER_VERSION=$TS_VERSION_HEADSCALE

# policy_text BOB_IN_ENG: the lab's policy; with 1, bob is in group:eng too.
policy_text() {
  local eng='"alice@"'
  [ "$1" = 1 ] && eng='"alice@", "bob@"'
  cat <<EOF
// test_policy.sh: laptops of group:eng reach web on 80; web reaches db on 5432.
{
  "groups": {"group:eng": [$eng]},
  "tagOwners": {"tag:web": ["alice@"], "tag:db": ["alice@"]},
  "autoApprovers": {"routes": {"10.77.0.0/16": ["group:eng"]}},
  "acls": [
    {"action": "accept", "src": ["group:eng"], "dst": ["tag:web:80"]},
    {"action": "accept", "src": ["tag:web"], "dst": ["tag:db:5432"]},
  ],
}
EOF
}

# map_streams NAME: how many map streams hs-control has opened for NAME's node (debug log).
map_streams() { grep -c "map stream [0-9]* opened for node $(node_id "$1")\$" "$CONTROL_DIR/control.log" || true; }

# The embedded DERP region: a path between two clients exists at once, so a refused connection
# means the filter.
control_embedded_derp
control_config "policy: {mode: database}"
control_start
admin users create alice >/dev/null
admin users create bob >/dev/null
policy_text 0 | policy_set
[ "$(admin policy get)" = "$(policy_text 0)" ] || fail "hs-admin policy get does not print the policy set"
pass "policy stored with hs-admin policy set (mode database) and read back unchanged"

key_alice=$(admin preauthkeys create -u alice)
key_bob=$(admin preauthkeys create -u bob)
key_web=$(admin preauthkeys create -u alice --tags tag:web)
key_db=$(admin preauthkeys create -u alice --tags tag:db)
host_add alice-laptop 1; host_add bob-laptop 2; host_add web 3; host_add db 4
serve web 80 from-web
serve web 5432 web-5432
serve db 5432 from-db
ts_install "$LAPTOP_VERSION"
ts_start alice-laptop 41641; ts_start bob-laptop 41642
ts_install "$SERVER_VERSION"
ts_start web 41643; ts_start db 41644
ts_up alice-laptop "$key_alice" || fail "up alice-laptop"
ts_up bob-laptop "$key_bob" || fail "up bob-laptop"
ts_up web "$key_web" || fail "up web"
ts_up db "$key_db" || fail "up db"
for n in web db; do
  admin_node_is "$n" '.tags | join(",")' "tag:$n" || fail "$n is not tagged tag:$n: $(admin nodes list -o json | jq -c --arg h "$n" '.[] | select(.name==$h)')"
done
admin_node_is alice-laptop .user.name alice && admin_node_is bob-laptop .user.name bob \
  || fail "the laptops are not alice's and bob's: $(admin nodes list -o json | jq -c '[.[] | {name, user, tags}]')"
pass "alice-laptop, bob-laptop ($LAPTOP_VERSION) and web, db ($SERVER_VERSION, tagged by their keys) are Running"

# The allowed connections: without them nothing below means anything, so they stop the suite.
eventually 20 reaches alice-laptop web 80 from-web || fail "alice-laptop cannot reach web:80: '$(get alice-laptop web 80)'"
pass "alice-laptop -> web:80 answers 'from-web' (group:eng -> tag:web:80)"
eventually 20 reaches web db 5432 from-db || fail "web cannot reach db:5432: '$(get web db 5432)'"
pass "web -> db:5432 answers 'from-db' (tag:web -> tag:db:5432)"

# The peer lists, once every node has had time to hear of the last one to join (web lists both
# its neighbours; the connections above took a while too). Then they are compared as they stand.
eventually 15 peers_are web alice-laptop,db || true
check "alice-laptop's peers are only web ($(peers alice-laptop))" peers_are alice-laptop web
check "bob-laptop has no peers: the policy lets him reach nothing ($(peers bob-laptop))" peers_are bob-laptop ""
check "web's peers are alice-laptop and db ($(peers web))" peers_are web alice-laptop,db
check "db's peers are only web ($(peers db))" peers_are db web

check "bob-laptop -> web:80 is refused (bob is not in group:eng)" refused bob-laptop web 80
check "db -> web:80 is refused (only tag:web -> tag:db is allowed)" refused db web 80
check "alice-laptop -> db:5432 is refused (group:eng reaches only tag:web)" refused alice-laptop db 5432
check "alice-laptop -> web:5432 is refused (the rule names port 80 only; web listens there)" refused alice-laptop web 5432

# What hs-admin says about the same lab: explain names the deciding rule, filter prints the
# PacketFilter web's map carries (alice's addresses on port 80).
explain() { admin -o json policy explain "$@"; }
log "hs-admin policy explain alice-laptop web:80: $(explain alice-laptop web:80 | jq -c '{decision, rule: .pairs[0].rule}')"
log "hs-admin policy explain bob-laptop web:80: $(explain bob-laptop web:80 | jq -c '{decision, other_ports: .pairs[0].other_ports}')"
log "hs-admin policy filter web: $(admin -o json policy filter web | jq -c '.packet_filter')"
check "policy explain: alice-laptop -> web:80 allowed by acls[0] (line 7 of the policy)" \
  [ "$(explain alice-laptop web:80 | jq -r '.pairs[0].rule as $r | "\(.decision) \($r.section)[\($r.index)] line \($r.line)"')" = "allowed acls[0] line 7" ]
check "policy explain: bob-laptop -> web:80 denied" [ "$(explain bob-laptop web:80 | jq -r .decision)" = denied ]
check "policy explain: alice-laptop -> web:5432 denied, acls[0] joins them on another port" \
  [ "$(explain alice-laptop web:5432 | jq -r '"\(.decision) " + ([.pairs[0].other_ports[] | "\(.section)[\(.index)] line \(.line)"] | join(","))')" = "denied acls[0] line 7" ]
check "policy filter web: one rule, alice-laptop's address to port 80" \
  [ "$(admin -o json policy filter web | jq -r --arg a "$(ts alice-laptop ip -4)" \
      '[.packet_filter[] | select(any(.SrcIPs[]; startswith($a)) and any(.DstPorts[]; .Ports.First == 80))] | length')" = 1 ]

# The policy changes under connected clients: bob joins group:eng.
streams_before=$(map_streams bob-laptop)
t0=$(date +%s%N)
policy_text 1 | policy_set
seen=0
eventually 2 peers_are bob-laptop web && seen=1
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "after bob joined group:eng, bob-laptop lists only web within 2 s (${ms} ms; peers: $(peers bob-laptop))" [ "$seen" = 1 ]
check "after the change web's peers are alice-laptop, bob-laptop and db ($(peers web))" peers_are web alice-laptop,bob-laptop,db
check "after the change bob-laptop -> web:80 answers 'from-web'" reaches bob-laptop web 80 from-web
check "after the change bob-laptop -> db:5432 is still refused" refused bob-laptop db 5432
check "alice-laptop -> web:80 still answers" reaches alice-laptop web 80 from-web
streams_after=$(map_streams bob-laptop)
check "bob-laptop kept its map stream through the change ($streams_before opened before, $streams_after after)" \
  [ "$streams_before" = "$streams_after" ]

# autoApprovers: alice (group:eng) announces a route inside 10.77.0.0/16; it is approved and
# elected primary with no admin step. bob's announced route has no approver and waits.
ts alice-laptop set --advertise-routes=10.77.1.0/24 || fail "tailscale set --advertise-routes on alice-laptop"
ts bob-laptop set --advertise-routes=10.78.1.0/24 || fail "tailscale set --advertise-routes on bob-laptop"
check "alice-laptop's 10.77.1.0/24 is approved by autoApprovers and primary within 5 s" \
  eventually 5 admin_node_is alice-laptop '.approved_routes + .primary_routes | join(",")' 10.77.1.0/24,10.77.1.0/24
eventually 5 admin_node_is bob-laptop '.available_routes | join(",")' 10.78.1.0/24 || true
check "bob-laptop's 10.78.1.0/24 (no approver) is announced but not approved" \
  admin_node_is bob-laptop '.approved_routes | length' 0

# Tags: bob owns no tag, so asking for tag:web is refused with Tailscale's message, which the
# client prints (a logged-in client asks for new tags by logging in again); his node stays his.
key_bob_again=$(admin preauthkeys create -u bob --reusable)
refused_tags() {
  ! ts_up bob-laptop "$key_bob_again" --advertise-tags=tag:web --force-reauth >"$LAB/tags.out" 2>"$LAB/tags.err" &&
    grep -qF "requested tags [tag:web] are invalid or not permitted" "$LAB/tags.err"
}
check "tailscale up --advertise-tags=tag:web as bob is refused: $(refused_tags; tail -n 1 "$LAB/tags.err")" \
  grep -qF "requested tags [tag:web] are invalid or not permitted" "$LAB/tags.err"
check "bob-laptop is still bob's and untagged" admin_node_is bob-laptop '.user.name + "/" + (.tags | join(","))' bob/
server_alive "the policy change, the routes and the refused tags"
finish
