#!/usr/bin/env bash
# The hs-admin verbs headscale 0.29's scripts use: auth approve|reject, nodes expire
# --expiry|--disable, users create -p, health and configtest. Each is checked in its output, its
# exit status and the database; each refusal leaves the database as it was.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/admin_lib.sh"

# --- users create -p ------------------------------------------------------------------------------
run "$A" users create alice -p https://pics.example/alice.png -o json; expect_rc 0 "create with -p"
jqt '.name == "alice" and keys_unsorted == ["id","name","display_name","email","provider","created_at","profile_pic_url"]'
jqt '.profile_pic_url == "https://pics.example/alice.png"'; ok
[ "$(q "SELECT profile_pic_url FROM users WHERE name = 'alice'")" = https://pics.example/alice.png ] || fail "picture URL stored"; ok
run "$A" users create bob --picture-url 'not a url'; expect_fail 'invalid picture URL "not a url"' "bad picture URL"; ok
[ "$(q "SELECT count(*) FROM users WHERE name = 'bob'")" = 0 ] || fail "bob created despite the bad URL"; ok
"$A" users create bob >/dev/null

# --- nodes expire --expiry / --disable ------------------------------------------------------------
add_node a laptop 1 '[]'
add_node b desk 2 '[]'
run "$A" nodes expire -i 1 --expiry 2099-06-01T10:00:00Z -o json; expect_rc 0 "expire at a future time"
jqt '.id == 1 and .expired == false and .expiry == "2099-06-01T10:00:00Z"'; ok
[ "$(q 'SELECT expiry FROM nodes WHERE id = 1')" = 2099-06-01T10:00:00Z ] || fail "future expiry stored"; ok
run "$A" nodes expire -i 1 -e 2001-02-03T04:05:06+01:00 -o json; expect_rc 0 "expire at a past time"
jqt '.expired == true and .expiry == "2001-02-03T03:05:06Z"'; ok
run "$A" nodes expire -i 1 --disable -o json; expect_rc 0 "disable expiry"; jqt '.expiry == null and .expired == false'; ok
[ "$(q 'SELECT expiry IS NULL FROM nodes WHERE id = 1')" = 1 ] || fail "expiry not cleared"; ok
snapshot 'SELECT id, expiry, updated_at FROM nodes ORDER BY id'
run "$A" nodes expire -i 1 --expiry tomorrow; expect_fail 'invalid expiry "tomorrow"' "malformed expiry"; ok
run "$A" nodes expire -i 1 --expiry 2099-01-01T00:00:00Z --disable; expect_rc 2 "--expiry with --disable"; ok
run "$A" nodes expire -i 9 --disable; expect_fail "node 9 not found" "disable on an unknown node"; ok
expect_unchanged "refused expiries"; ok
run "$A" nodes expire -i 2 -o json; expect_rc 0 "expire now (unchanged behaviour)"; jqt '.expired == true'; ok

# --- auth approve / reject ------------------------------------------------------------------------
# R1: node 1's machine logging in again (its owner is known); R2: a new device; R3: to reject.
q "INSERT INTO auth_requests(id, machine_key, node_key, hostname, created_at, expires_at) VALUES
   ('RRRRRRRRRRRRRRRRRRRRRRR1', 'mkey:$(h a)', 'nodekey:$(h 9)', 'laptop', '$NOW', '2099-01-01T00:00:00Z'),
   ('RRRRRRRRRRRRRRRRRRRRRRR2', 'mkey:$(h e)', 'nodekey:$(h f)', 'newbox', '$NOW', '2099-01-01T00:00:00Z'),
   ('RRRRRRRRRRRRRRRRRRRRRRR3', 'mkey:$(h c)', 'nodekey:$(h d)', 'intruder', '$NOW', '2099-01-01T00:00:00Z');"
run "$A" auth approve --auth-id RRRRRRRRRRRRRRRRRRRRRRR1; expect_rc 0 "approve a known node's login"
[ "$OUT" = "auth request approved: node laptop logs in again as user alice" ] || fail "approve message"; ok
[ "$(q "SELECT status, user_id FROM auth_requests WHERE id = 'RRRRRRRRRRRRRRRRRRRRRRR1'")" = 'approved|1' ] || fail "R1 not approved for alice"; ok
snapshot "SELECT id, status, user_id, expires_at FROM auth_requests ORDER BY id"
run "$A" auth approve --auth-id RRRRRRRRRRRRRRRRRRRRRRR2; expect_fail "is a new device's login" "approve a new device"; ok
run "$A" auth approve --auth-id RRRRRRRRRRRRRRRRRRRRRRR1; expect_fail "already approved" "approve twice"; ok
run "$A" auth approve --auth-id nosuch -o json; expect_rc 1 "approve unknown"; jqt '.error | test("not found")'; ok
run "$A" auth reject --auth-id RRRRRRRRRRRRRRRRRRRRRRR1; expect_fail "already approved" "reject an approved login"; ok
run "$A" auth approve; expect_rc 2 "approve without --auth-id"; ok
expect_unchanged "refused approvals"; ok
run "$A" auth reject --auth-id hskey-authreq-RRRRRRRRRRRRRRRRRRRRRRR3 -o json; expect_rc 0 "reject"
jqt '.id == "RRRRRRRRRRRRRRRRRRRRRRR3" and .status == "rejected" and .message == "auth request rejected"'; ok
[ "$(q "SELECT status, expires_at <= '$(date -u +%Y-%m-%dT%H:%M:%SZ)' FROM auth_requests WHERE id = 'RRRRRRRRRRRRRRRRRRRRRRR3'")" = 'rejected|1' ] ||
  fail "R3 not rejected and ended"; ok
run "$A" auth register --auth-id RRRRRRRRRRRRRRRRRRRRRRR3 -u bob; expect_fail "was already rejected" "register a rejected login"; ok

# --- health -----------------------------------------------------------------------------------------
run "$A" health; expect_rc 0 "health"; [ "$OUT" = "database: ok" ] || fail "health text"; ok
run "$A" health -o json; expect_rc 0 "health json"; jqt '. == {"database_connectivity": true}'; ok
cp "$T/config.yaml" "$T/good.yaml"
printf 'database: {sqlite: {path: %s/nodir/db.sqlite}}\n' "$T" >"$T/nodb.yaml"
run "$A" -c "$T/nodb.yaml" health; expect_rc 1 "health without a database"; expect_err "" "health failure"; ok

# --- configtest -------------------------------------------------------------------------------------
# hs-control refuses to start without a DERP region, so configtest does too.
run "$A" configtest; expect_rc 1 "configtest without a DERP map"; expect_err "DERP map is empty" "names the DERP map"; ok
"$HS_BIN/hs-derpmap" new --region-id 900 --region-code t --node "name=900a,host=127.0.0.1,ipv4=127.0.0.1,ipv6=none" >"$T/dm.yaml"
DERP="derp: {paths: [$T/dm.yaml]}"
echo "$DERP" >>"$T/config.yaml"
run "$A" configtest; expect_rc 0 "configtest"; expect_out "^configuration .*config.yaml is valid" "configtest text"; expect_out "is at schema version" "configtest notes"; ok
run "$A" configtest -o json; expect_rc 0 "configtest json"; jqt '.valid == true'; ok
printf 'dns: {base_domain: t.test, magic_dns: maybe}\ndatabase: {sqlite: {path: %s}}\n' "$DB" >"$T/bad.yaml"
run "$A" -c "$T/bad.yaml" configtest; expect_rc 1 "configtest of a malformed config"; expect_err "magic_dns" "names the key"; ok
printf 'dns: {base_domain: t.test}\ndatabase: {sqlite: {path: %s}}\nderp: {paths: [%s/missing.yaml]}\n' "$DB" "$T" >"$T/derp.yaml"
run "$A" -c "$T/derp.yaml" configtest; expect_rc 1 "configtest with a missing DERP map"; expect_err "missing.yaml" "names the file"; ok
echo '{"acls": [{"action": "allow", "src": ["*"], "dst": ["nohost:22"]}' >"$T/policy.hujson"
printf 'dns: {base_domain: t.test}\ndatabase: {sqlite: {path: %s}}\npolicy: {mode: file, path: %s/policy.hujson}\n%s\n' "$DB" "$T" "$DERP" >"$T/pol.yaml"
run "$A" -c "$T/pol.yaml" configtest; expect_rc 1 "configtest with a broken policy"; expect_err "policy" "names the policy"; ok
printf 'dns: {base_domain: t.test}\ndatabase: {sqlite: {path: %s/fresh/db.sqlite}}\npolicy: {mode: file, path: %s/policy.hujson}\nnoise: {private_key_path: %s/fresh/noise.key}\n%s\n' "$T" "$T" "$T" "$DERP" >"$T/fresh.yaml"
run "$A" -c "$T/fresh.yaml" configtest; expect_rc 1 "configtest reads the policy file without a database"; expect_err "policy" "fresh: names the policy"; ok
echo '{"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"]}]}' >"$T/policy.hujson"
run "$A" -c "$T/fresh.yaml" configtest; expect_rc 0 "configtest before the database exists"; ok
[ ! -e "$T/fresh" ] || fail "configtest created the database"; ok
run "$A" -c "$T/fresh.yaml" configtest -o json; expect_rc 0 "configtest json notes"
jqt '.notes | any(test("database .*fresh/db.sqlite will be created"))'; jqt '.notes | any(test("Noise key .* will be created"))'; ok
# The key files are checked as hs-control checks them at start, by the same code as --check.
mkdir -p "$T/fresh"; echo "not a key" >"$T/fresh/noise.key"; chmod 600 "$T/fresh/noise.key"
run "$A" -c "$T/fresh.yaml" configtest; expect_rc 1 "configtest with a malformed Noise key"; expect_err "noise.key" "names the key file"; ok
ERR_ADMIN=$ERR
run "$HS_BIN/hs-control" -c "$T/fresh.yaml" --check; expect_rc 1 "--check with a malformed Noise key"
[ "${ERR#*: }" = "${ERR_ADMIN#*: }" ] || fail "configtest and --check disagree: [$ERR_ADMIN] vs [$ERR]"; ok
rm -rf "$T/fresh"
finish
