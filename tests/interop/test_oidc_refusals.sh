#!/usr/bin/env bash
# The ID token refusals of the OIDC sign-in, each with the real provider (oidc-provider), the
# real browser and the official client waiting, each ending on a page that says why with nothing
# registered (docs/oidc.md, "How it is tested"):
#  - a wrong nonce: the browser takes hs's authorization request to the provider with another
#    nonce; the provider's genuine ID token carries that one;
#  - an expired ID token: the provider issues tokens valid for 1 s (its ttl.IdToken) and answers
#    the token request 1.5 s late; hs allows no clock skew here (oidc.clock_skew: 0s);
#  - a token signed by another key: another provider answers at the issuer's address with keys
#    of its own under the same key IDs, after hs fetched the real provider's JWKS;
#  - a confirmation (headscale 0.29's /register/confirm) posted without hs's cookie.
# Then the real provider is back and the same link signs the device in: what was refused was
# the token, not the setup. auth.device_approval is on: the device, signed in, then waits for
# hs-admin nodes approve like any new node. Screenshots: $HS_OIDC_OUT (default build/test-output/oidc-refusals).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
. "$(dirname "$0")/oidc_lab.sh"
need_root

oidc_lab oidc-refusals
OIDC_EXTRA="clock_skew: 0s" oidc_config "auth: {device_approval: true}"
provider_up
control_start
grep -q "OIDC: signing in through $ISSUER" "$CONTROL_DIR/control.log" || fail "hs-control did not discover the provider"

v=${TS_VERSIONS%% *}
ts_install "$v"
host_add rq 90
ts_start rq 41690
up_interactive rq

refusal "wrong nonce" 403 "the ID token's nonce does not belong to this login" wrong-nonce "$AUTH_URL" alice rq-nonce

echo '{"id_token_ttl": 1, "token_delay_ms": 1500}' >"$LAB/provider-mode.json"
refusal "expired ID token (1 s lifetime, answered 1.5 s late, no clock skew allowed)" 403 "the ID token has expired" \
  signin "$AUTH_URL" alice rq-expired
rm -f "$LAB/provider-mode.json"

# headscale 0.29's /register/confirm: the provider vouched for alice, but the form is posted from
# a browser without hs's cookie (as another site making the victim's browser post it would).
refusal "confirmation posted without its cookie (login CSRF)" 403 "did not come from the page this server showed you" \
  forged-confirm "$AUTH_URL" alice rq-forged-confirm

provider_stop
provider_up IMPOSTOR=1
refusal "token signed by another key (same kid, another provider at the issuer's address)" 403 \
  "the ID token's signature does not match the provider's key" signin "$AUTH_URL" alice rq-other-key
provider_stop
provider_up

check "no node registered by a refused sign-in" test "$(admin nodes list -o json | jq 'length')" = 0
check "no user created by a refused sign-in" test "$(admin users list -o json | jq 'length')" = 0
check "the client still waits for a login (NeedsLogin)" status_is rq .BackendState NeedsLogin
for why in "nonce does not belong" "has expired" "signature does not match"; do
  check "hs-control logged the refusal: $why" grep -q "refused: the ID token.*$why" "$CONTROL_DIR/control.log"
done

r=$(browser signin "$AUTH_URL" alice rq-alice) || fail "the browser sign-in failed"
check "with the real provider back, the same link asks to confirm: '$(field "$r" .confirm.h1)'" \
  test "$(field "$r" .confirm.h1)" = "Add this device?"
check "and once confirmed signs the device in: '$(field "$r" .h1)'" test "$(field "$r" .h1)" = "Device registered"
check "the page says the device waits for an administrator (auth.device_approval)" \
  test -n "$(field "$r" .text | grep -F "only once an administrator has approved it")"
check "signed in, the client waits for the approval (NeedsMachineAuth)" eventually 20 status_is rq .BackendState NeedsMachineAuth
admin nodes approve -i "$(node_id rq)" >/dev/null || fail "hs-admin nodes approve failed"
wait "$UP_PID" || fail "tailscale up did not finish after the sign-in and the approval"
check "approved, the client is Running" status_is rq .BackendState Running
check "its register_method is oidc" admin_node_is rq .register_method oidc
row=$(admin audit list -o json | jq -c '[.[] | select(.action == "signin.succeeded")]')
check "one signin.succeeded audit row, for the confirmed sign-in only: $row" \
  test "$(echo "$row" | jq -r 'length, .[0].actor, .[0].after.method' | tr '\n' ' ')" = "1 oidc:$ISSUER/alice oidc "
pass "screenshots in $BROWSER_OUT: $(ls "$BROWSER_OUT" | wc -l) files"
finish
