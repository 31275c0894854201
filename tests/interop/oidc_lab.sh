# The lab of the OIDC suites (test_oidc*.sh): a real OpenID provider (oidc-provider, OpenID
# Certified, https on the lab bridge with the lab's CA), a real browser (Debian's chromium through
# playwright-core, in a namespace of its own) and helpers to sign a waiting client in. Source
# after lib.sh and control.sh; call oidc_lab NAME first (screenshots go to
# $HS_OIDC_OUT or build/test-output/NAME).

# The first non-empty AuthURL `tailscale up --json` printed for NAME (it may print an empty one first).
auth_url_of() {
  local u; u=$(jq -r 'select(.AuthURL != null and .AuthURL != "") | .AuthURL' "$LAB/up-$1.json" 2>/dev/null | head -1)
  [ -n "$u" ] && echo "$u"
}
# up_interactive NAME: starts `tailscale up` on NAME in the background and sets AUTH_URL and UP_PID.
up_interactive() {
  ts "$1" up --login-server="$CONTROL_URL" --hostname="$1" --json --timeout=120s >"$LAB/up-$1.json" 2>"$LAB/up-$1.err" &
  UP_PID=$!
  eventually 20 auth_url_of "$1" || fail "$1: tailscale up printed no AuthURL"
  AUTH_URL=$(auth_url_of "$1")
}
field() { echo "$1" | jq -r "$2"; }
# browser SCENARIO ARGS...: tests/interop/oidc/browser.mjs; prints where the page ended as JSON.
browser() { OUT="$OUT" timeout 150 ip netns exec "$(host_ns browser)" node "$NODE_DIR/browser.mjs" "$@"; }
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
  command -v chromium >/dev/null || fail "chromium is not installed (.ci/deps.sh installs it)"
  command -v node >/dev/null || fail "node is not installed (.ci/deps.sh installs it)"
  OUT=${HS_OIDC_OUT:-$HS_BIN/../test-output/$1}
  rm -rf "$OUT" && mkdir -p "$OUT"
  # The pinned npm packages, installed once per lock file into the user's cache (never the repo).
  local lock_sum; lock_sum=$(sha256sum "$HS_SRC/tests/interop/oidc/package-lock.json" | cut -c1-16)
  NODE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/hs/oidc-npm-$lock_sum"
  if [ ! -d "$NODE_DIR/node_modules/oidc-provider" ]; then
    mkdir -p "$NODE_DIR"
    cp "$HS_SRC/tests/interop/oidc/package.json" "$HS_SRC/tests/interop/oidc/package-lock.json" "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null) || fail "npm ci in $NODE_DIR failed"
  fi
  # Each suite its own copy of the scripts: two suites may run at once with different versions.
  NODE_RUN="$LAB/oidc-node"
  mkdir -p "$NODE_RUN" && ln -s "$NODE_DIR/node_modules" "$NODE_RUN/node_modules"
  cp "$HS_SRC"/tests/interop/oidc/*.mjs "$HS_SRC/tests/interop/oidc/package.json" "$NODE_RUN/"
  NODE_DIR=$NODE_RUN
  # The browser runs in a namespace of its own: in the root namespace it sees every veth other
  # tests add and drop, and chromium aborts page loads on such changes (ERR_NETWORK_CHANGED).
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
