#!/usr/bin/env bash
# hs-admin policy get|set|check (HuJSON with comments and trailing commas; compiled against the
# tailnet, every problem named as line:column, nothing stored on failure), nodes tag against tagOwners, and config check.
. "$(dirname "$0")/lib.sh"
ADMIN_EXTRA_CONFIG='policy: {mode: database}'
. "$(dirname "$0")/admin_lib.sh"

cat >"$T/good.hujson" <<'P'
// The lab's policy.
{
  "groups": {"group:admins": ["alice@"],},
  "hosts": {"printer": "10.0.0.5", "lab": "10.1.0.0/16"},
  "tagOwners": {"tag:web": ["group:admins"], "tag:db": ["tag:web", "bob@example.com"]},
  /* Admins reach everything; web reaches db on 5432. */
  "acls": [
    {"action": "accept", "src": ["group:admins"], "dst": ["*:*"]},
    {"action": "accept", "src": ["tag:web"], "dst": ["tag:db:5432", "printer:80,443", "lab:1000-2000"], "proto": "tcp"},
    {"action": "accept", "src": ["autogroup:member"], "dst": ["autogroup:self:*", "[fd7a::1]:22"]},
  ],
  "ssh": [{"action": "check", "src": ["group:admins"], "dst": ["tag:web"], "users": ["root"]}],
}
P
run "$A" policy get; expect_fail "no policy stored yet" "get before set"; ok
run "$A" policy check -f "$T/good.hujson"; expect_rc 0 "check good"; [ "$OUT" = "Policy is valid" ] || fail "check text"; ok
[ "$(q 'SELECT count(*) FROM policies')" = 0 ] || fail "check stored the policy"; ok
run "$A" policy set -f "$T/good.hujson" -o json; expect_rc 0 "set"; jqt '.source == "database" and (.policy | startswith("// The lab"))'; ok
run "$A" policy get; expect_rc 0 "get"; [ "$OUT" = "$(cat "$T/good.hujson")" ] || fail "get is not the file verbatim"; ok
run --stdin "$T/good.hujson" "$A" policy put -f -; expect_rc 0 "set from stdin"; [ "$OUT" = "Policy updated." ] || fail "set text"; ok
[ "$(q 'SELECT count(*) FROM policies')" = 2 ] || fail "policies are append-only"; ok
[ "$(q "SELECT count(*) FROM change_log WHERE tbl = 'policies'")" = 2 ] || fail "policy change not logged"; ok

# Malformed policies: each error named, nothing stored.
bad() { # bad NAME EXPECTED-ERROR-TEXT POLICY
  printf '%s\n' "$3" >"$T/bad.hujson"
  run "$A" policy set -f "$T/bad.hujson"; expect_rc 1 "$1"; expect_no_out "$1"; expect_err "$2" "$1"
  run "$A" policy check -f "$T/bad.hujson" -o json; expect_rc 1 "$1 (check)"; jqt '.error | startswith("invalid policy")'; ok
}
bad "syntax" "3:25: expected ','" $'{\n  "acls": [\n    {"action": "accept" "src": []}\n  ]\n}'
bad "unterminated comment" "1:18: unterminated comment" '{ /* "acls": [] }'
bad "not an object" "1:1: policy: expected an object" '[1, 2]'
bad "unknown section" '1:2: unknown field "postures"' '{"postures": {}}'
bad "group member" 'group members cannot be recursive' '{"groups": {"group:a": ["x@"], "group:b": ["group:a"]}}'
bad "bare user" '1:25: group "group:a": "alice" is not a user' '{"groups": {"group:a": ["alice"]}}'
bad "host value" '1:23: host "printer": "not-an-ip" is not an IP or CIDR' '{"hosts": {"printer": "not-an-ip"}}'
bad "tag name" 'tag names must start with a letter' '{"tagOwners": {"tag:1x": ["a@"]}}'
bad "undefined tag" '1:40: src=tag not found: "tag:nope"' '{"acls": [{"action": "accept", "src": ["tag:nope"], "dst": ["*:*"]}]}'
bad "undefined group" '1:40: src: group not found: "group:nope"' '{"acls": [{"action": "accept", "src": ["group:nope"], "dst": ["*:*"]}]}'
bad "undefined host" '1:54: "printer": invalid address (no such host in hosts)' '{"acls": [{"action": "accept", "src": ["*"], "dst": ["printer:80"]}]}'
bad "action" '1:22: action="drop" is not supported' '{"acls": [{"action": "drop", "src": ["*"], "dst": ["*:*"]}]}'
bad "ports" 'first port must be >0' '{"acls": [{"action": "accept", "src": ["*"], "dst": ["*:0"]}]}'
bad "missing port" 'expected alias:ports' '{"acls": [{"action": "accept", "src": ["*"], "dst": ["alice@"]}]}'
bad "self as source" '"autogroup:self" not valid on the src side' '{"acls": [{"action": "accept", "src": ["autogroup:self"], "dst": ["*:*"]}]}'
bad "proto" '1:71: acl proto "*" is not a protocol' '{"acls": [{"action": "accept", "src": ["*"], "dst": ["*:*"], "proto": "*"}]}'
bad "ssh action" '1:21: "allow" is not a valid action' '{"ssh": [{"action": "allow", "src": ["a@"], "dst": ["a@"], "users": ["root"]}]}'
# Every problem is reported at once.
printf '{"hosts": {"h": "x"}, "acls": [{"action": "deny", "src": ["tag:x"], "dst": ["*:*"]}]}' >"$T/bad.hujson"
run "$A" policy check -f "$T/bad.hujson"; expect_rc 1 "several errors"
expect_err "1:17: host" "several errors"; expect_err "1:43: action" "several errors"; expect_err "1:59: src=tag" "several errors"; ok
# Compiled against the tailnet: a test whose source user does not exist refuses the policy.
bad "failing test" 'test(s) failed: src user "nobody@" does not exist' '{"acls": [{"action": "accept", "src": ["*"], "dst": ["*:22"]}], "tests": [{"src": "nobody@", "deny": ["100.64.0.1:22"]}]}'
run "$A" policy set -f "$T/missing.hujson"; expect_fail "cannot read" "missing file"; ok
run "$A" policy set; expect_rc 2 "set without -f"; ok
[ "$(q 'SELECT count(*) FROM policies')" = 2 ] || fail "a rejected policy was stored"; ok

# nodes tag: with a policy in force, only tags of its tagOwners.
"$A" users create alice >/dev/null
add_node a laptop 1 '[]'
run "$A" nodes tag -i 1 -t tag:other; expect_fail 'tag "tag:other" is not defined' "tag outside tagOwners"; ok
run "$A" nodes tag -i 1 -t tag:web -o json; expect_rc 0 "tag from tagOwners"; jqt '.tags == ["tag:web"]'; ok

# In file mode the policy lives in policy.path; set refuses to store a row nobody reads.
printf 'dns: {base_domain: t.test}\ndatabase: {sqlite: {path: %s}}\npolicy: {path: %s}\n' "$DB" "$T/good.hujson" >"$T/file.yaml"
run "$A" -c "$T/file.yaml" policy get; expect_rc 0 "get in file mode"; [ "$OUT" = "$(cat "$T/good.hujson")" ] || fail "file-mode get"; ok
run "$A" -c "$T/file.yaml" policy set -f "$T/good.hujson"; expect_fail 'policy.mode is "file"' "set in file mode"; ok

# --- config check ------------------------------------------------------------------------------------
run "$A" config check -o json; expect_rc 0 "config check"
jqt '.database.sqlite.path == "'"$DB"'" and .policy.mode == "database" and .prefixes.v4 == "100.64.0.0/10"'
jqt '.listen_addr == "127.0.0.1:8080" and .node.ephemeral.inactivity_timeout == "2m"'; ok
run "$A" config check; expect_rc 0 "config check yaml"; expect_out 'server_url: ' "yaml"; ok
printf 'oidc: {issuer: "https://idp", client_id: x, client_secret: s3cret}\ndns: {base_domain: t.test}\n' >"$T/oidc.yaml"
run "$A" config check "$T/oidc.yaml" -o json; expect_rc 0 "config check FILE"; jqt '.oidc.client_secret == "<redacted>"'
[[ "$OUT" != *s3cret* ]] || fail "secret printed"; ok
printf 'listen_addr: [1, 2]\nnope: 1\n' >"$T/broken.yaml"
run "$A" config check "$T/broken.yaml"; expect_rc 1 "broken config"; expect_no_out "broken config"; expect_err "nope" "broken config"; ok
finish
