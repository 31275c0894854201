# The lab of the OIDC suites (test_oidc*.sh): a real OpenID provider (oidc-provider, OpenID
# Certified, https on the lab bridge with the lab's CA), a real browser (Debian's chromium through
# playwright-core, in a namespace of its own: browser.sh) and helpers to sign a waiting client
# in. Source after lib.sh and control.sh; call oidc_lab NAME first (screenshots go to
# $HS_OIDC_OUT or build/test-output/NAME).
. "$(dirname "${BASH_SOURCE[0]}")/browser.sh"

# refusal WHAT STATUS TEXT SCENARIO ARGS...: the browser runs SCENARIO; the page must have
# HTTP STATUS and say TEXT.
refusal() {
  local what=$1 status=$2 text=$3
  shift 3
  local r; r=$(browser "$@") || { check "$what" false; return; }
  check "$what: HTTP $status, page says '$text'" \
    test "$(field "$r" .status)" = "$status" -a -n "$(field "$r" .text | grep -F -- "$text")"
}

oidc_lab() {
  browser_setup browser.mjs "${HS_OIDC_OUT:-$HS_BIN/../test-output/$1}"
  # The provider, on the lab bridge where hs-control and the browser's namespace reach it: its
  # certificate from the lab CA, which hs-control trusts through SSL_CERT_FILE.
  lab_bridge
  host_add browser 95
  lab_pki "${LAB_SUBNET}1"
  export SSL_CERT_FILE="$LAB/pki/bundle.pem"
  PROVIDER_PORT=$((21000 + LAB_ID))
  ISSUER="https://${LAB_SUBNET}1:$PROVIDER_PORT"
  echo "s3cret-$RANDOM$RANDOM" >"$LAB/client_secret"
  cat >"$LAB/users.json" <<'JSON'
{
  "alice":   {"email": "alice@example.com",   "email_verified": true,  "name": "Alice Liddell", "preferred_username": "alice", "groups": ["vpn", "eng"]},
  "bob":     {"email": "bob@example.com",     "email_verified": true,  "name": "Bob", "preferred_username": "bob", "groups": ["sales"]},
  "mallory": {"email": "mallory@evil.test",   "email_verified": true,  "name": "Mallory", "preferred_username": "mallory", "groups": ["vpn"]},
  "carol":   {"email": "carol@example.com",   "email_verified": false, "name": "Carol", "preferred_username": "carol", "groups": ["vpn"]},
  "dave":    {"email": "dave@example.com",    "email_verified": true,  "name": "Dave", "preferred_username": "dave", "groups": ["vpn"]}
}
JSON
}

# oidc_config [extra yaml lines...]: hs-control's config with the provider as its issuer.
oidc_config() {
  control_config "policy: {mode: database}" "oidc: {issuer: '$ISSUER', client_id: hs-control, client_secret_path: '$LAB/client_secret'," \
    "  scope: [openid, profile, email, groups], pkce: {enabled: true, method: S256}, use_expiry_from_token: true," \
    "  allowed_groups: [vpn], allowed_domains: [example.com]," \
    "  allowed_users: [alice@example.com, carol@example.com, mallory@evil.test]${OIDC_EXTRA:+, $OIDC_EXTRA}}" "$@"
}

# Node 20 here sometimes hangs while the provider sets up (1 of 8 standalone starts: every
# thread waiting on a futex, no CPU used; cause not found): a start that is not ready within
# 15 s is ended and tried again, at most three times, and the log says so.
# provider_up [ENV=VALUE...]: starts the provider (with those variables) and waits until ready.
provider_start() {
  env HOST="${LAB_SUBNET}1" PORT=$PROVIDER_PORT USERS_FILE="$LAB/users.json" CLIENT_SECRET="$(<"$LAB/client_secret")" \
    REDIRECT_URI="$CONTROL_URL/oidc/callback" TLS_KEY="$LAB/pki/srv.key" TLS_CERT="$LAB/pki/srv.pem" \
    KEYS_FILE="$LAB/provider-keys.json" MODE_FILE="$LAB/provider-mode.json" \
    ID_TOKEN_ALG="${HS_OIDC_ALG:-ES256}" "$@" node "$NODE_DIR/provider.mjs" >"$LAB/provider.log" 2>&1 &
  PROVIDER_PID=$!
  LAB_PIDS+=("$PROVIDER_PID")
}
provider_ready() { kill -0 "$PROVIDER_PID" && grep -q ready "$LAB/provider.log"; }
provider_up() {
  local attempt
  for attempt in 1 2 3; do
    provider_start "$@"
    eventually 15 provider_ready && return 0
    log "the provider was not ready after 15 s (attempt $attempt): $(tr '\n' ' ' <"$LAB/provider.log")"
    kill -KILL "$PROVIDER_PID" 2>/dev/null || true
  done
  fail "the provider did not start in three attempts"
}
provider_stop() {
  kill "$PROVIDER_PID" 2>/dev/null || true
  wait "$PROVIDER_PID" 2>/dev/null || true
}
