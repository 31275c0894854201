#!/usr/bin/env bash
# Crash safety (issue 20), in two runs; each checks the same things afterwards.
# 1. Kills from outside: CRASH_NODES (300) nodes (half with a single-use key each, half with
#    one reusable key) register through tailscale.com's own client code, 32 at a time, while
#    hs-loadgen SIGKILLs hs-control's process group after 60, 150 and 240 registrations and once
#    more while the retries after the last restart pour in.
# 2. Kills at a crash point: a kill from outside almost never lands between two particular
#    steps, so hs-control-fault (hs-control with a crash hook, common/base/fault.h) SIGKILLs
#    itself every CRASH_FAULT_EVERY-th (20) time it has claimed a pre-auth key and not yet
#    inserted the node (HS_FAULT_POINT=register.key_claimed@N); hs-loadgen restarts it each time.
#    Had the claim and the insert two transactions, the single-use keys claimed there would be
#    spent with no node and those nodes could never register.
# Every node whose attempt failed retries until it is registered. Then the SQLite file must
# hold each node exactly once, with its own addresses and name, and pass PRAGMA
# integrity_check; what the server told each node (its addresses, from a map request) must be
# what the database holds; and each single-use key is spent by exactly one node.
HS_SRC=${HS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../interop/lib.sh
. "$HS_SRC/tests/interop/lib.sh"
# shellcheck source=servers.sh
. "$HS_SRC/tests/bench/servers.sh"
N=${CRASH_NODES:-300}

bash "$HS_SRC/tests/bench/loadgen.sh" build "$LAB/hs-loadgen" || fail "building hs-loadgen failed"
pass "hs-loadgen builds"

port=$((22000 + LAB_ID * 2))

# crash_run NAME SERVER [hs-loadgen flags...]: a fresh database in $LAB/NAME and the crash
# scenario against SERVER (a command line that takes -c CONFIG), restarted after each kill.
crash_run() {
  local name=$1 bin=$2
  shift 2
  local dir=$LAB/$name
  hs_setup "$dir" "$port" >/dev/null
  # info: each kill must be seen to land while registrations are being written.
  sed -i "s/^log: .*/log: {level: info}/" "$dir/config.yaml"
  db=$dir/db.sqlite res=$dir/result.json
  local admin="$HS_BIN/hs-admin -c $dir/config.yaml"
  "$LAB/hs-loadgen" run --label hs --url "$SERVER_URL" --server-cmd "$bin -c $dir/config.yaml" --ready-url "$READY_URL" \
    --key-cmd "$KEY_CMD" --single-use-key-cmd "$admin preauthkeys create -u bench -e 24h" --server-log "$dir/server.log" \
    --nodes "$N" --observers 1 --scenarios crash --concurrency 32 --phase-timeout 40s --deadline 100s "$@" \
    >"$res" || { tail -20 "$dir/server.log" >&2; fail "$name: hs-loadgen run --scenarios crash failed"; }
  log "$name: result: $(jq -c '.crash | del(.records)' "$res")"
}
r() { jq -r "$1" "$res"; }
q() { sqlite3 -batch -noheader "$db" "$1"; }

# crash_checks NAME: what every run must leave (the server is stopped by hs-loadgen's exit; the
# database is what the last crash left plus what the last server wrote).
crash_checks() {
  local name=$1
  [ "$(r '.crash.registered')" = "$N" ] || fail "$name: registered $(r '.crash.registered') of $N; problems: $(r '.problems')"
  [ "$(r '.crash.retried')" -gt 0 ] || fail "$name: no node had to retry: the kills missed"
  pass "$name: all $N nodes registered; $(r '.crash.retried') retried after errors ($(r '.crash.errors_by_kind | to_entries | map("\(.key) \(.value)") | join(", ")'))"
  [ "$(r '.crash.nodes_with_addresses')" = "$N" ] || fail "$name: $(r '.crash.nodes_with_addresses') of $N nodes got their addresses; problems: $(r '.problems')"
  [ "$(r '.problems | length')" = 0 ] || fail "$name: problems: $(r '.problems')"
  [ "$(q 'PRAGMA integrity_check')" = ok ] || fail "$name: integrity_check: $(q 'PRAGMA integrity_check')"
  pass "$name: PRAGMA integrity_check: ok"
  local counts
  counts=$(q "SELECT count(*), count(DISTINCT machine_key), count(DISTINCT node_key), count(DISTINCT ipv4),
    count(DISTINCT ipv6), count(DISTINCT given_name), count(*) FILTER (WHERE ipv4 IS NULL OR ipv6 IS NULL) FROM nodes")
  [ "$counts" = "$N|$N|$N|$N|$N|$N|0" ] ||
    fail "$name: nodes, distinct machine keys, node keys, ipv4, ipv6, given names, NULL addresses: $counts (want $N each, 0 NULL)"
  pass "$name: $N node rows: $N distinct machine keys, node keys, IPv4s, IPv6s and names; no NULL address"
  jq -r '.crash.records[] | [.machine_key, .node_key, .ipv4, .ipv6] | join("|")' "$res" | sort >"$LAB/$name/told.txt"
  q "SELECT machine_key, node_key, ipv4, ipv6 FROM nodes" | sort >"$LAB/$name/stored.txt"
  diff "$LAB/$name/told.txt" "$LAB/$name/stored.txt" >"$LAB/$name/diff.txt" || fail "$name: what nodes were told differs from the database: $(head -5 "$LAB/$name/diff.txt")"
  pass "$name: every node's keys and addresses, as the server told it, are the database's"
  [ "$(q "SELECT count(*) FROM nodes WHERE hostname NOT LIKE 'sim%'")" = 0 ] || fail "$name: nodes with foreign host names"
  # Half the nodes (the even ones) had a single-use key each: every such key spent by exactly
  # one node, none spent without its node row.
  local half keys
  half=$(r '.crash.single_use_key_nodes')
  keys=$(q "SELECT count(*), sum(used), (SELECT count(*) FROM nodes n JOIN pre_auth_keys k ON n.auth_key_id = k.id
    WHERE k.reusable = 0), (SELECT count(DISTINCT auth_key_id) FROM nodes n JOIN pre_auth_keys k ON n.auth_key_id = k.id
    WHERE k.reusable = 0) FROM pre_auth_keys WHERE reusable = 0")
  [ "$half" -gt 0 ] && [ "$keys" = "$half|$half|$half|$half" ] ||
    fail "$name: single-use keys, spent, nodes with one, distinct keys among them: $keys (want $half each)"
  pass "$name: $half single-use keys: each spent, by exactly one node"
}

log "kills from outside: $N nodes register against hs-control, SIGKILLed 4 times"
crash_run outside "$HS_BIN/hs-control" --kill-at 60,150,240 --kill-burst
[ "$(r '.crash.kills | length')" = 4 ] || fail "kills: $(r '.crash.kills')"
# A kill with nothing in flight tests nothing: every one must have caught requests mid-way.
[ "$(r '[.crash.kills[] | select(.in_flight > 0)] | length')" = 4 ] || fail "a kill found no registration in flight: $(r '.crash.kills')"
pass "outside: 4 SIGKILLs, each with registrations in flight ($(r '[.crash.kills[].in_flight] | join(",")') of them), one during the retry burst"
crash_checks outside

every=${CRASH_FAULT_EVERY:-20}
log "kills at a crash point: hs-control-fault stops itself every ${every}th pre-auth key claim"
[ -x "$HS_BIN/hs-control-fault" ] || fail "$HS_BIN/hs-control-fault is not built"
crash_run point "env HS_FAULT_POINT=register.key_claimed@$every $HS_BIN/hs-control-fault" --kill-at "" --kill-burst=false --restart-exited
self=$(r '[.crash.kills[] | select(.self)] | length')
[ "$self" -ge 3 ] || fail "point: the server stopped itself $self times at register.key_claimed (want >= 3): $(r '.crash.kills')"
pass "point: hs-control-fault stopped itself $self times right after claiming a pre-auth key; restarted each time"
crash_checks point
finish
