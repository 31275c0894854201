#!/usr/bin/env bash
# examples/policy.hujson stays valid: with its example users in the tailnet, hs-admin policy
# check accepts it, policy set stores it and policy test passes every test and sshTest in it,
# and hs-control --check loads it as policy.path. Copies with one test turned around or an
# undefined tag are refused, so the checks are known to bite.
. "$(dirname "$0")/lib.sh"
ADMIN_EXTRA_CONFIG='policy: {mode: database}'
. "$(dirname "$0")/admin_lib.sh"
P=$HS_SRC/examples/policy.hujson

for u in alice bob carol; do "$A" users create "$u@example.com" >/dev/null; done
# A device per person and a node per tag, so every test names addresses that exist.
add_node a alice-laptop 1 '[]'; add_node b bob-laptop 2 '[]'; add_node c carol-laptop 3 '[]'
add_node d web1 NULL '[]' '["tag:server"]'; add_node e db1 NULL '[]' '["tag:prod"]'
add_node f runner1 NULL '[]' '["tag:ci"]'; add_node 1 office NULL '["192.168.10.0/24"]' '["tag:router"]'
add_node 2 exit1 NULL '["0.0.0.0/0","::/0"]' '["tag:exit"]'; add_node 3 prom NULL '[]' '["tag:monitoring"]'
q "UPDATE nodes SET ipv4 = '100.64.0.' || id, ipv6 = 'fd7a:115c:a1e0::' || id"
run "$A" policy check -f "$P"; expect_rc 0 "policy check"; [ "$OUT" = "Policy is valid" ] || fail "check text"; ok
run "$A" policy set -f "$P"; expect_rc 0 "policy set"; ok
run "$A" policy test; expect_rc 0 "policy test"; expect_out "all tests passed" "policy test"
[ "$(grep -c '^PASS ' <<<"$OUT")" -ge 6 ] || fail "expected every test and sshTest to run"; ok

"$HS_BIN/hs-derpmap" new --region-id 900 --region-code t --node "name=900a,host=127.0.0.1,ipv4=127.0.0.1,ipv6=none" >"$T/derp.yaml"
cat >"$T/control.yaml" <<CFG
server_url: http://127.0.0.1:1
listen_addr: 127.0.0.1:1
dns: {base_domain: t.test}
database: {sqlite: {path: $DB}}
noise: {private_key_path: $T/noise.key}
derp: {paths: [$T/derp.yaml]}
policy: {mode: file, path: $P}
CFG
run "$HS_BIN/hs-control" -c "$T/control.yaml" --check; expect_rc 0 "hs-control --check with the example as policy.path"; ok

# Carol (sales) must not reach CI; a copy claiming she does is refused, naming the test.
sed 's|{"src": "carol@example.com", "accept": \["tag:server:443",|{"src": "carol@example.com", "accept": ["tag:ci:22", "tag:server:443",|' "$P" >"$T/wrong.hujson"
! cmp -s "$P" "$T/wrong.hujson" || fail "could not make the wrong copy (the example changed shape)"
run "$A" policy check -f "$T/wrong.hujson"; expect_rc 1 "a failing test"; expect_err "test(s) failed" "a failing test"; ok
# hs-control --check checks the policy's own structure (the tailnet is the server's to resolve):
# a tag missing from tagOwners is refused there too.
sed 's|"dst": \["tag:prod:22,443"\]|"dst": ["tag:production:22,443"]|' "$P" >"$T/untagged.hujson"
! cmp -s "$P" "$T/untagged.hujson" || fail "could not make the undefined-tag copy (the example changed shape)"
sed -i "s|path: $P|path: $T/untagged.hujson|" "$T/control.yaml"
run "$HS_BIN/hs-control" -c "$T/control.yaml" --check; expect_rc 1 "hs-control --check with an undefined tag"
expect_err "tag:production" "hs-control --check names the tag"; ok
finish
