#!/usr/bin/env bash
# Crash safety (issue 20): CRASH_NODES (300) nodes (half with a single-use key each, half with
# one reusable key) register through tailscale.com's own client
# code, 32 at a time, while hs-loadgen SIGKILLs hs-control's process group after 60, 150 and
# 240 registrations and once more while the retries after the last restart pour in; every node
# whose attempt failed retries until it is registered. Then the SQLite file must hold each node
# exactly once, with its own addresses and name, and pass PRAGMA integrity_check; and what the
# server told each node (its addresses, from a map request) must be what the database holds.
HS_SRC=${HS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../interop/lib.sh
. "$HS_SRC/tests/interop/lib.sh"
# shellcheck source=servers.sh
. "$HS_SRC/tests/bench/servers.sh"
N=${CRASH_NODES:-300}

bash "$HS_SRC/tests/bench/loadgen.sh" build "$LAB/hs-loadgen" || fail "building hs-loadgen failed"
pass "hs-loadgen builds"

port=$((22000 + LAB_ID * 2))
hs_setup "$LAB/hs" "$port" >/dev/null
# info: each kill must be seen to land while registrations are being written.
sed -i "s/^log: .*/log: {level: info}/" "$LAB/hs/config.yaml"
db=$LAB/hs/db.sqlite
admin="$HS_BIN/hs-admin -c $LAB/hs/config.yaml"
log "hs-loadgen: $N nodes register against hs-control on 127.0.0.1:$port, SIGKILLed 4 times"
"$LAB/hs-loadgen" run --label hs --url "$SERVER_URL" --server-cmd "$SERVER_CMD" --ready-url "$READY_URL" \
  --key-cmd "$KEY_CMD" --single-use-key-cmd "$admin preauthkeys create -u bench -e 24h" --server-log "$LAB/hs/server.log" --nodes "$N" --observers 1 --scenarios crash \
  --kill-at 60,150,240 --kill-burst --concurrency 32 --phase-timeout 40s --deadline 100s \
  >"$LAB/result.json" || { tail -20 "$LAB/hs/server.log" >&2; fail "hs-loadgen run --scenarios crash failed"; }
r() { jq -r "$1" "$LAB/result.json"; }
log "result: $(jq -c '.crash | del(.records)' "$LAB/result.json")"

[ "$(r '.crash.kills | length')" = 4 ] || fail "kills: $(r '.crash.kills')"
# A kill with nothing in flight tests nothing: every one must have caught requests mid-way.
[ "$(r '[.crash.kills[] | select(.in_flight > 0)] | length')" = 4 ] || fail "a kill found no registration in flight: $(r '.crash.kills')"
pass "4 SIGKILLs, each with registrations in flight ($(r '[.crash.kills[].in_flight] | join(",")') of them), one during the retry burst"
[ "$(r '.crash.registered')" = "$N" ] || fail "registered $(r '.crash.registered') of $N; problems: $(r '.problems')"
[ "$(r '.crash.retried')" -gt 0 ] || fail "no node had to retry: the kills missed"
pass "all $N nodes registered; $(r '.crash.retried') retried after errors ($(r '.crash.errors_by_kind | to_entries | map("\(.key) \(.value)") | join(", ")'))"
[ "$(r '.crash.nodes_with_addresses')" = "$N" ] || fail "$(r '.crash.nodes_with_addresses') of $N nodes got their addresses; problems: $(r '.problems')"
[ "$(r '.problems | length')" = 0 ] || fail "problems: $(r '.problems')"

# The server is stopped (hs-loadgen's exit); the database is what the last crash left plus
# what the last server wrote.
q() { sqlite3 -batch -noheader "$db" "$1"; }
[ "$(q 'PRAGMA integrity_check')" = ok ] || fail "integrity_check: $(q 'PRAGMA integrity_check')"
pass "PRAGMA integrity_check: ok"
counts=$(q "SELECT count(*), count(DISTINCT machine_key), count(DISTINCT node_key), count(DISTINCT ipv4),
  count(DISTINCT ipv6), count(DISTINCT given_name), count(*) FILTER (WHERE ipv4 IS NULL OR ipv6 IS NULL) FROM nodes")
[ "$counts" = "$N|$N|$N|$N|$N|$N|0" ] ||
  fail "nodes, distinct machine keys, node keys, ipv4, ipv6, given names, NULL addresses: $counts (want $N each, 0 NULL)"
pass "$N node rows: $N distinct machine keys, node keys, IPv4s, IPv6s and names; no NULL address"
jq -r '.crash.records[] | [.machine_key, .node_key, .ipv4, .ipv6] | join("|")' "$LAB/result.json" | sort >"$LAB/told.txt"
q "SELECT machine_key, node_key, ipv4, ipv6 FROM nodes" | sort >"$LAB/stored.txt"
diff "$LAB/told.txt" "$LAB/stored.txt" >"$LAB/diff.txt" || fail "what nodes were told differs from the database: $(head -5 "$LAB/diff.txt")"
pass "every node's keys and addresses, as the server told it, are the database's"
[ "$(q "SELECT count(*) FROM nodes WHERE hostname NOT LIKE 'sim%'")" = 0 ] || fail "nodes with foreign host names"
# Half the nodes (the even ones) had a single-use key each: every such key spent by exactly
# one node, none spent without its node row.
half=$(r '.crash.single_use_key_nodes')
keys=$(q "SELECT count(*), sum(used), (SELECT count(*) FROM nodes n JOIN pre_auth_keys k ON n.auth_key_id = k.id
  WHERE k.reusable = 0), (SELECT count(DISTINCT auth_key_id) FROM nodes n JOIN pre_auth_keys k ON n.auth_key_id = k.id
  WHERE k.reusable = 0) FROM pre_auth_keys WHERE reusable = 0")
[ "$half" -gt 0 ] && [ "$keys" = "$half|$half|$half|$half" ] ||
  fail "single-use keys, spent, nodes with one, distinct keys among them: $keys (want $half each)"
pass "$half single-use keys: each spent, by exactly one node"
finish
