#!/usr/bin/env bash
# hs-admin policy test|filter|peers|explain: the policy in force, compiled against the nodes in
# the database, seen from the administrator's side.
. "$(dirname "$0")/lib.sh"
ADMIN_EXTRA_CONFIG='policy: {mode: database}
server_url: https://hs.test'
. "$(dirname "$0")/admin_lib.sh"

"$A" users create alice >/dev/null; "$A" users create bob >/dev/null
add_node a laptop 1 '[]'; add_node b phone 2 '[]'; add_node c web NULL '[]' '["tag:web"]'
q "UPDATE nodes SET ipv4 = '100.64.0.' || id, ipv6 = 'fd7a:115c:a1e0::' || id"

# Line 4 is acls[0], line 5 acls[1], line 7 grants[0], line 9 tests[0], line 10 tests[1].
cat >"$T/p.hujson" <<'P'
{
  "tagOwners": {"tag:web": ["alice@"]},
  "acls": [
    {"action": "accept", "src": ["alice@"], "dst": ["tag:web:22", "bob@:*"]},
    {"action": "accept", "src": ["bob@"], "dst": ["tag:web:443"]},
  ],
  "grants": [{"src": ["bob@"], "dst": ["tag:web"], "ip": ["udp:53"]}],
  "tests": [
    {"src": "alice@", "accept": ["tag:web:22"], "deny": ["tag:web:443"]},
    {"src": "bob@", "accept": ["tag:web:443"]},
  ],
}
P
# No policy yet: everyone reaches everyone, and there are no tests to fail.
run "$A" policy test; expect_rc 0 "test without a policy"; expect_out "all tests passed" "no tests"; ok
run "$A" policy explain laptop web:22 -o json; jqt '.decision == "allowed" and .pairs[0].rule.section == "default"'; ok
"$A" policy set -f "$T/p.hujson" >/dev/null

# --- test ---------------------------------------------------------------------------------------
run "$A" policy test -o json; expect_rc 0 "test"
jqt '.passed == true and (.tests | length) == 2 and .tests[1].line == 10 and .tests[1].section == "tests"'; ok
run "$A" policy test --test '{"src":"bob@","accept":["tag:web:22"]}' --test '{"src":"alice@","deny":["bob@:80"]}'
expect_rc 1 "failing extra tests"
expect_out "PASS tests\[0\] \(line 9\) src alice@" "pass line"
expect_out "FAIL extra\[0\] src bob@" "fail line"
expect_out "expected access to tag:web:22 from 100.64.0.2" "failure reason"
expect_out "FAIL extra\[1\] src alice@" "second extra"; expect_out "expected no access to bob@:80" "deny failure"
expect_out "some tests failed" "summary"; ok
run "$A" policy test --test '{"src":"group:nope","accept":["web:22"]}' -o json; expect_rc 1 "undefined group in extra"
jqt '.tests[2].passed == false and (.tests[2].failures[0] | test("group"))'; ok

# --- explain ------------------------------------------------------------------------------------
run "$A" policy explain laptop web:22 -o json; expect_rc 0 "explain allowed"
jqt '.decision == "allowed" and .port == 22 and .src_nodes == ["laptop"] and .dst_nodes == ["web"]'
jqt '(.pairs | length) == 2 and all(.pairs[]; .rule.section == "acls" and .rule.index == 0 and .rule.line == 4)'; ok
run "$A" policy explain bob@ 100.64.0.3:22; expect_rc 0 "explain denied"
expect_out "^denied: bob@ -> 100.64.0.3:22 \(tcp\)" "denied headline"
expect_out "acls\[1\] \(line 5\) allows these ends on other ports" "other ports"
expect_out "grants\[0\] \(line 7\)" "grant on other ports"; ok
run "$A" policy explain phone tag:web:53 --proto udp -o json; expect_rc 0 "explain udp"
jqt '.decision == "allowed" and .pairs[0].rule.section == "grants" and .pairs[0].rule.line == 7'; ok
run "$A" policy explain 100.64.0.2 '[fd7a:115c:a1e0::1]:8080' -o json; expect_rc 0 "explain across families"
jqt '.decision == "denied" and .pairs == []'; ok
run "$A" policy explain laptop nobody@:22; expect_fail 'destination "nobody@" names no node' "unknown end"; ok
run "$A" policy explain laptop web:70000; expect_fail "port 70000 is out of range" "bad port"; ok
run "$A" policy explain laptop web:22 --proto bogus; expect_fail 'unknown protocol "bogus"' "bad proto"; ok

# --- filter and peers ---------------------------------------------------------------------------
run "$A" policy filter web -o json; expect_rc 0 "filter by name"
jqt '.node.id == 3 and (.packet_filter | length) >= 2'
jqt '[.packet_filter[].SrcIPs[]] | index("100.64.0.1") != null'
jqt '[.packet_filter[] | select(.SrcIPs | index("100.64.0.2")) | .DstPorts[].Ports.First] | index(443) != null'; ok
run "$A" policy filter 1 -o json; expect_rc 0 "filter by id"; jqt '.node.given_name == "laptop" and .packet_filter == [] and .ssh_policy == null'; ok
run "$A" policy filter web; expect_rc 0 "filter table"; expect_out "^node 3 \(web\)" "filter text"; expect_out "packet filter:" "filter text"; ok
run "$A" policy filter nope; expect_fail 'node "nope" not found' "unknown node"; ok
run "$A" policy peers laptop -o json; expect_rc 0 "peers"
jqt '[.[].given_name] == ["phone", "web"] and .[1].allowed_ips == ["100.64.0.3/32", "fd7a:115c:a1e0::3/128"]'; ok
run "$A" policy peers laptop; expect_rc 0 "peers table"; expect_out "AllowedIPs" "peers header"; expect_out "web" "peers row"; ok
# Without any rule towards or from it, a node has no peers.
cat >"$T/p2.hujson" <<'P'
{"tagOwners": {"tag:web": ["alice@"]}, "acls": [{"action": "accept", "src": ["alice@"], "dst": ["tag:web:22"]}]}
P
"$A" policy set -f "$T/p2.hujson" >/dev/null
run "$A" policy peers phone -o json; expect_rc 0 "isolated node"; jqt '. == []'; ok

finish
