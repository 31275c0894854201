#!/usr/bin/env bash
# Sign-in with an identity provider, end to end: a real OpenID provider (oidc-provider, OpenID
# Certified, on https://127.0.0.1 with the lab's CA), a real browser (Debian's chromium through
# playwright-core) and the official clients. `tailscale up` prints hs's /register/<id> URL, the
# browser opens it, signs in at the provider and comes back to /oidc/callback; the client gets
# to Running and pings the other. Then the refusals, each with the page the person sees and
# nothing registered: users outside allowed_groups, allowed_domains and allowed_users, an
# unverified e-mail, a forged state, a replayed callback, a reused authorization code and a
# callback from a browser without the state cookie.
# Screenshots of every page: $HS_OIDC_OUT (default build/test-output/oidc).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
. "$(dirname "$0")/oidc_lab.sh"
need_root

oidc_lab oidc
oidc_config
provider_up
curl -sS --cacert "$LAB/pki/ca.pem" "$ISSUER/.well-known/openid-configuration" | jq -e .issuer >/dev/null || fail "the provider serves no discovery document"
pass "oidc-provider $(jq -r '.packages["node_modules/oidc-provider"].version' "$HS_SRC/tests/interop/oidc/package-lock.json") serves $ISSUER"
control_start
grep -q "OIDC: signing in through $ISSUER" "$CONTROL_DIR/control.log" || fail "hs-control did not discover the provider"
pass "hs-control discovered the provider and fetched its keys at start"

# One client per pinned version signs in as alice; the second pings the first.
clients=()
n=0
for v in $TS_VERSIONS; do
  n=$((n + 1))
  client_waiting "$n" "$v"
  c=$C
  r=$(browser signin "$AUTH_URL" alice "$c-alice") || fail "$v: the browser sign-in failed"
  [ "$(field "$r" .status)" = 200 ] && [ "$(field "$r" .h1)" = "Device registered" ] ||
    fail "$v: the callback page is not the success page: $r"
  [[ "$(field "$r" .text)" == *"signed in as alice (alice@example.com)"*"$c"* ]] || fail "$v: success page: $(field "$r" .text)"
  [ "$(field "$r" .confirm.h1)" = "Add this device?" ] && [[ "$(field "$r" .confirm.text)" == *"$c"* ]] ||
    fail "$v: no confirmation page naming $c before the registration: $(field "$r" .confirm)"
  wait "$UP_PID" || { cat "$LAB/up-$c.err" >&2; fail "$v: tailscale up did not finish after the sign-in"; }
  status_is "$c" .BackendState Running || fail "$v: $c is not Running after the sign-in"
  pass "$v: tailscale up -> /register/<id> -> provider login and consent -> /oidc/callback -> confirmation: '$(field "$r" .h1)', client Running"
  [ -z "${ALICE_CALLBACK:-}" ] && ALICE_CALLBACK=$(field "$r" .callback)
  clients+=("$c")
done
admin_node_is "${clients[0]}" .user.name alice || fail "the node's user is not alice: $(admin nodes list -o json)"
users=$(admin users list -o json)
[ "$(echo "$users" | jq 'length')" = 1 ] || fail "two logins of one person made more than one user: $users"
u=$(echo "$users" | jq -c '.[0]')
[ "$(field "$u" .provider)" = oidc ] && [ "$(field "$u" .provider_id)" = "$ISSUER/alice" ] &&
  [ "$(field "$u" .email)" = alice@example.com ] && [ "$(field "$u" .display_name)" = "Alice Liddell" ] ||
  fail "hs-admin users list does not show the provider identity: $u"
pass "hs-admin users list: $(field "$u" '"\(.name), \(.email), \(.provider), \(.provider_id)"')"
# headscale's register_method for a node signed in through the provider: "oidc", also over REST.
check "hs-admin nodes list: register_method oidc" admin_node_is "${clients[0]}" .register_method oidc
api_key=$(admin apikeys create -o json | jq -r .key)
check "REST /api/v1/node: registerMethod REGISTER_METHOD_OIDC" test "$(curl -sS -H "Authorization: Bearer $api_key" \
  "$CONTROL_URL/api/v1/node" | jq -r --arg h "${clients[0]}" '.nodes[] | select(.name==$h) | .registerMethod')" = REGISTER_METHOD_OIDC
# use_expiry_from_token: the node expires with its ID token (oidc-provider's default lifetime, 1 h).
token_expiry_ok() {
  local e; e=$(admin nodes list -o json | jq -r --arg h "$1" '.[] | select(.name==$h) | .expiry // empty')
  [ -n "$e" ] || return 1
  local left=$(( $(date -d "$e" +%s) - $(date +%s) ))
  [ "$left" -gt 3300 ] && [ "$left" -le 3600 ]
}
check "use_expiry_from_token: ${clients[0]} expires with its ID token (in $(admin nodes list -o json | jq -r --arg h "${clients[0]}" '.[] | select(.name==$h) | .expiry'))" \
  eventually 10 token_expiry_ok "${clients[0]}"
if [ ${#clients[@]} -ge 2 ]; then
  eventually 20 pong "${clients[1]}" "${clients[0]}" || fail "${clients[1]} cannot ping ${clients[0]}"
  pass "${clients[1]} pings ${clients[0]}: both signed in through the provider"
fi

# Refusals: one waiting client, one page each, nothing registered.
host_add rq 90
ts_start rq 41690
up_interactive rq
refusal "user outside allowed_groups" 403 "is in none of the groups allowed" signin "$AUTH_URL" bob rq-bob
refusal "user outside allowed_domains" 403 "e-mail addresses at evil.test may not join" signin "$AUTH_URL" mallory rq-mallory
refusal "unverified e-mail" 403 "carol@example.com is not verified" signin "$AUTH_URL" carol rq-carol
refusal "user outside allowed_users" 403 "dave@example.com is not on this server's list" signin "$AUTH_URL" dave rq-dave
refusal "forged state" 400 "unknown, has expired or was already used" visit "$CONTROL_URL/oidc/callback?state=forged&code=x" rq-forged
refusal "replayed callback" 400 "unknown, has expired or was already used" visit "$ALICE_CALLBACK" rq-replayed
refusal "reused authorization code" 403 "the provider refused the code" reuse-code "$AUTH_URL" "$ALICE_CALLBACK" rq-reused-code
refusal "callback in a browser without the state cookie" 400 "started in another browser" lost-cookie "$AUTH_URL" "$ALICE_CALLBACK" rq-lost-cookie
check "no node registered by a refused sign-in" test "$(admin nodes list -o json | jq '[.[] | select(.name == "rq")] | length')" = 0
check "no user created by a refused sign-in" test "$(admin users list -o json | jq -r '[.[].name] | join(",")')" = alice
check "the refused client still waits for a login (NeedsLogin)" status_is rq .BackendState NeedsLogin
kill "$UP_PID" 2>/dev/null || true

# The provider's groups in the policy, kept in sync at each sign-in: with only eng members
# allowed to talk, alice's two devices see each other; once the provider takes alice out of eng
# and one device signs in again, neither sees the other.
v1=${clients[0]}
v2=${clients[${#clients[@]}-1]}
policy_set <<'POLICY'
{"acls": [{"action": "accept", "src": ["group:oidc/eng"], "dst": ["group:oidc/eng:*"]}]}
POLICY
check "group:oidc/eng: alice (groups vpn, eng at the provider) sees her other device" eventually 10 peers_are "$v2" "$v1"
check "group:oidc/eng grants it: $v2 pings $v1" eventually 20 pong "$v2" "$v1"
check "hs-admin users list shows the provider's groups" \
  test "$(admin users list -o json | jq -c '.[0].groups')" = '["vpn","eng"]'
jq '.alice.groups = ["vpn"]' "$LAB/users.json" >"$LAB/users.json.new" && mv "$LAB/users.json.new" "$LAB/users.json"
ts "$v1" logout || fail "tailscale logout on $v1 failed"
up_interactive "$v1"
r=$(browser signin "$AUTH_URL" alice "$v1-alice-again") || fail "the second sign-in failed"
wait "$UP_PID" || fail "tailscale up did not finish after the second sign-in"
check "a re-login goes through the provider again: '$(field "$r" .h1)'" test "$(field "$r" .h1)" = "Device registered"
check "the groups follow the provider at the next sign-in" \
  test "$(admin users list -o json | jq -c '.[0].groups')" = '["vpn"]'
if eventually 10 peers_are "$v2" ""; then pass "group:oidc/eng is empty now: $v2 sees no peer"; else
  echo "$v2 peers: $(peers "$v2"); $v1 peers: $(peers "$v1")" >&2; admin policy get >&2 || true
  admin nodes list -o json | jq -c '.[] | [.name, .user.name, .expiry]' >&2; tail -30 "$CONTROL_DIR/control.log" >&2
  check "group:oidc/eng is empty now: $v2 sees no peer" false
fi
if denied=$(pong "$v2" "$v1" 2>&1); then check "$v2 can no longer ping $v1" false; else
  pass "$v2 can no longer ping $v1: $(echo "$denied" | tail -n 1)"
fi
pass "screenshots in $BROWSER_OUT: $(ls "$BROWSER_OUT" | wc -l) files"
finish
