#!/usr/bin/env bash
# hs-admin routes and nodes approve-routes / list-routes: what is stored, the exit-route pairing,
# what is printed, and that bad input changes nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/admin_lib.sh"

"$A" users create alice >/dev/null
add_node a r1 1 '["10.77.0.0/24","0.0.0.0/0","::/0"]'
add_node b r2 1 '["10.77.0.0/24"]'
add_node c plain 1 '[]'

run "$A" routes list -o json; expect_rc 0 "routes list"
jqt 'length == 4 and all(.[]; .approved == false and .serving == false and .advertised == true)'
jqt '[.[] | select(.node_id == 1) | .prefix] == ["0.0.0.0/0","10.77.0.0/24","::/0"]'
jqt '.[0] | keys_unsorted == ["node_id","node","prefix","advertised","approved","exit_route","serving","primary"]'
jqt '[.[] | select(.exit_route) | .prefix] == ["0.0.0.0/0","::/0"]'; ok

run "$A" nodes approve-routes -i 1 -r 10.77.0.0/24 -o json; expect_rc 0 "approve-routes"
jqt '.id == 1 and .approved_routes == ["10.77.0.0/24"] and .available_routes == ["10.77.0.0/24","0.0.0.0/0","::/0"]'; ok
[ "$(q 'SELECT approved_routes FROM nodes WHERE id = 1')" = '["10.77.0.0/24"]' ] || fail "approved_routes not stored"; ok
# hs-control re-reads rows named in the change log.
[ "$(q "SELECT count(*) FROM change_log WHERE tbl = 'nodes' AND row_id = 1 AND op = 'update'")" -ge 1 ] ||
  fail "approve-routes left no change_log entry"; ok

# One exit route approves both; approve-routes replaces the set.
run "$A" nodes approve-routes -i 1 -r ::/0 -o json; jqt '.approved_routes == ["0.0.0.0/0","::/0"]'; ok
run "$A" nodes approve-routes -i 1 -r "10.77.0.0/24,0.0.0.0/0"; expect_rc 0 "approve-routes table"
expect_out $'^ID +Hostname +Name' "approve-routes prints the node"; ok
[ "$(q 'SELECT approved_routes FROM nodes WHERE id = 1')" = '["0.0.0.0/0","10.77.0.0/24","::/0"]' ] || fail "exit pair stored"; ok
run "$A" routes list -i 1 -o json; jqt 'length == 3 and all(.[]; .approved and .serving)'; ok

# routes unapprove: removing one exit route removes both, the subnet stays.
run "$A" routes unapprove -i 1 -r 0.0.0.0/0 -o json; expect_rc 0 "unapprove"
jqt 'map(select(.approved) | .prefix) == ["10.77.0.0/24"]'; ok
[ "$(q 'SELECT approved_routes FROM nodes WHERE id = 1')" = '["10.77.0.0/24"]' ] || fail "unapprove stored"; ok
# routes approve adds to the set; a route not advertised may be approved but is not served.
run "$A" routes approve -i 2 -r 10.77.0.0/24,192.168.9.0/24 -o json; expect_rc 0 "routes approve"
jqt 'map([.prefix, .advertised, .approved, .serving]) == [["10.77.0.0/24",true,true,true],["192.168.9.0/24",false,true,false]]'; ok
run "$A" routes enable -i 2 -r 10.1.0.0/16 -o json; jqt 'map(select(.approved) | .prefix) == ["10.1.0.0/16","10.77.0.0/24","192.168.9.0/24"]'; ok
run "$A" routes disable -i 2 -r 10.1.0.0/16,192.168.9.0/24 -o json; jqt 'map(select(.approved) | .prefix) == ["10.77.0.0/24"]'; ok

run "$A" nodes list-routes -o json; expect_rc 0 "list-routes"; jqt 'map(.id) == [1,2]'; ok
run "$A" nodes lsr -i 2 -o json; jqt 'length == 1 and .[0].approved_routes == ["10.77.0.0/24"]'; ok
run "$A" nodes list-routes; expect_out $'^ID +Name +Approved +Available +Serving\n1 +r1 +10.77.0.0/24 +10.77.0.0/24,0.0.0.0/0,::/0 +10.77.0.0/24' "list-routes table"; ok

# Bad input: nothing changes.
snapshot 'SELECT id, approved_routes, updated_at FROM nodes ORDER BY id'
run "$A" nodes approve-routes -i 1 -r 10.77.0.1/24; expect_fail 'host bits are set (did you mean 10.77.0.0/24?)' "host bits"; ok
run "$A" nodes approve-routes -i 1 -r 10.0.0.0/33; expect_fail 'invalid route "10.0.0.0/33"' "bad length"; ok
run "$A" nodes approve-routes -i 1 -r "10.0.0.0/8,banana"; expect_fail 'invalid route "banana"' "one bad of two"; ok
run "$A" routes approve -i 1 -r " 10.0.0.0/8"; expect_fail 'invalid route " 10.0.0.0/8"' "space"; ok
run "$A" nodes approve-routes -i 99 -r 10.0.0.0/8; expect_fail "node 99 not found" "unknown node"; ok
run "$A" routes approve -i 99 -r 10.0.0.0/8 -o json; expect_rc 1 "unknown node json"; jqt '.error == "node 99 not found"'; ok
run "$A" routes list -i 99; expect_fail "node 99 not found" "routes of unknown node"; ok
run "$A" routes approve -i 1 -r ""; expect_fail "no routes given" "empty approve"; ok
run "$A" nodes approve-routes -i 1; expect_rc 2 "approve-routes without -r"; ok
expect_unchanged "rejected route changes"; ok

# An empty list clears every approval.
run "$A" nodes approve-routes -i 1 -r "" -o json; jqt '.approved_routes == []'; ok
[ "$(q 'SELECT approved_routes FROM nodes WHERE id = 1')" = '[]' ] || fail "clear stored"; ok
finish
