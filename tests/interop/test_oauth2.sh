#!/usr/bin/env bash
# Sign-in through a plain OAuth2 provider (oidc.oauth2: docs/oidc.md, "OAuth2 providers"), end to
# end with the real provider of test_oidc.sh (oidc-provider) used as plain OAuth2: hs-control is
# given its authorization, token and userinfo endpoints (read here from its discovery document;
# hs itself fetches no discovery and no keys), a claim mapping and client_secret_post, the one
# method the provider's client is registered for. The provider's ID token is
# replaced by garbage, then left out: the sign-ins work all the same, since the identity comes
# from the userinfo endpoint alone. Refusals, each with its page and nothing registered: a user
# outside allowed_domains, an unverified e-mail (the mapped email_verified claim) and a userinfo
# endpoint answering HTTP 500. Then one pinned client signs in and gets to Running, and
# hs-admin users list shows the mapped name, e-mail and provider identifier.
# Screenshots: $HS_OIDC_OUT (default build/test-output/oauth2).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
. "$(dirname "$0")/oidc_lab.sh"
need_root

oidc_lab oauth2
control_config # sets CONTROL_URL, which the provider needs for its redirect URI
# The client is registered for client_secret_post: the provider refuses the secret in a header,
# so the sign-ins prove that hs honours oidc.oauth2.token_endpoint_auth_method.
provider_up TOKEN_AUTH_METHOD=client_secret_post
disc=$(curl -sS --cacert "$LAB/pki/ca.pem" "$ISSUER/.well-known/openid-configuration") || fail "no discovery document"
AUTHZ=$(echo "$disc" | jq -r .authorization_endpoint)
TOKEN=$(echo "$disc" | jq -r .token_endpoint)
USERINFO=$(echo "$disc" | jq -r .userinfo_endpoint)
pass "the provider's endpoints (read by the test, not by hs): $AUTHZ $TOKEN $USERINFO"

control_config "policy: {mode: database}" "oidc: {client_id: hs-control, client_secret_path: '$LAB/client_secret'," \
  "  scope: [openid, profile, email, groups], pkce: {enabled: true, method: S256}, allowed_domains: [example.com]," \
  "  oauth2: {authorization_endpoint: '$AUTHZ', token_endpoint: '$TOKEN', userinfo_endpoint: '$USERINFO'," \
  "    token_endpoint_auth_method: client_secret_post," \
  "    claims: {subject: sub, username: preferred_username, picture: picture}}}"
control_start
check "hs-control starts in OAuth2 mode" grep -q "OAuth2: signing in through $AUTHZ" "$CONTROL_DIR/control.log"
check "and fetched no discovery document or keys" test -z "$(grep -E 'OIDC: signing in|signing keys' "$CONTROL_DIR/control.log")"

v=${TS_VERSIONS%% *}
ts_install "$v"
host_add rq 90
ts_start rq 41690
up_interactive rq

echo '{"id_token": "absent"}' >"$LAB/provider-mode.json"
refusal "user outside allowed_domains" 403 "e-mail addresses at evil.test may not join" signin "$AUTH_URL" mallory rq-mallory
refusal "unverified e-mail (email_verified from userinfo)" 403 "carol@example.com is not verified" signin "$AUTH_URL" carol rq-carol
echo '{"id_token": "absent", "userinfo_status": 500}' >"$LAB/provider-mode.json"
refusal "userinfo endpoint answering HTTP 500" 403 "the userinfo endpoint answered HTTP 500" signin "$AUTH_URL" alice rq-userinfo
check "hs-control logged why: userinfo HTTP 500" grep -q "refused: the userinfo endpoint answered HTTP 500" "$CONTROL_DIR/control.log"
check "no node registered by a refused sign-in" test "$(admin nodes list -o json | jq 'length')" = 0
check "no user created by a refused sign-in" test "$(admin users list -o json | jq 'length')" = 0
check "the client still waits for a login (NeedsLogin)" status_is rq .BackendState NeedsLogin

# The ID token is bytes that are no JWT: an OIDC login would refuse it; OAuth2 mode never reads it.
echo '{"id_token": "garbage"}' >"$LAB/provider-mode.json"
r=$(browser signin "$AUTH_URL" alice rq-alice) || fail "the browser sign-in failed"
check "with a garbage ID token, the sign-in asks to confirm: '$(field "$r" .confirm.h1)'" \
  test "$(field "$r" .confirm.h1)" = "Add this device?"
check "and once confirmed registers the device: '$(field "$r" .h1)'" test "$(field "$r" .h1)" = "Device registered"
check "the page names the mapped user: $(field "$r" .text | head -c 120)" \
  test -n "$(field "$r" .text | grep -F "signed in as alice (alice@example.com)")"
wait "$UP_PID" || { cat "$LAB/up-rq.err" >&2; fail "$v: tailscale up did not finish after the sign-in"; }
check "$v: tailscale up -> provider -> /oidc/callback -> confirmation: client Running" status_is rq .BackendState Running
check "its register_method is oidc" admin_node_is rq .register_method oidc
# The provider logs each token answer it changed: the three refused sign-ins had none, alice's garbage.
tampered() { grep -q "id_token garbage" "$LAB/provider.log" && [ "$(grep -c "id_token absent" "$LAB/provider.log")" = 3 ]; }
check "the provider sent no ID token to the refused sign-ins and a garbage one to alice's" tampered
users=$(admin users list -o json)
u=$(echo "$users" | jq -c '.[0]')
check "hs-admin users list: one user, $(field "$u" '"\(.name), \(.display_name), \(.email), \(.provider), \(.provider_id)"')" \
  test "$(echo "$users" | jq 'length'),$(field "$u" '"\(.name),\(.display_name),\(.email),\(.provider_id)"')" = \
  "1,alice,Alice Liddell,alice@example.com,$ISSUER/alice"
pass "screenshots in $BROWSER_OUT: $(ls "$BROWSER_OUT" | wc -l) files"
finish
