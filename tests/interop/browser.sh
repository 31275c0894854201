# The real browser of test_oidc*.sh and test_local_login.sh: Debian's chromium driven by
# playwright-core (tests/interop/oidc/package.json). Source after lib.sh.

# browser_setup DRIVER OUT: checks chromium and node, installs the pinned npm packages once per
# lock file into the user's cache (never the repo), empties OUT for the screenshots and defines
# browser ARGS..., which runs tests/interop/oidc/DRIVER in the namespace "browser" (host_add it
# first). A namespace of its own: in the root namespace chromium sees every veth other tests add
# and drop, and aborts page loads on such changes (ERR_NETWORK_CHANGED).
browser_setup() {
  command -v chromium >/dev/null || fail "chromium is not installed (.ci/deps.sh installs it)"
  command -v node >/dev/null || fail "node is not installed (.ci/deps.sh installs it)"
  BROWSER_DRIVER=$1
  BROWSER_OUT=$2
  rm -rf "$BROWSER_OUT" && mkdir -p "$BROWSER_OUT"
  local lock_sum
  lock_sum=$(sha256sum "$HS_SRC/tests/interop/oidc/package-lock.json" | cut -c1-16)
  NODE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/hs/oidc-npm-$lock_sum"
  if [ ! -d "$NODE_DIR/node_modules/oidc-provider" ]; then
    mkdir -p "$NODE_DIR"
    cp "$HS_SRC/tests/interop/oidc/package.json" "$HS_SRC/tests/interop/oidc/package-lock.json" "$NODE_DIR/"
    (cd "$NODE_DIR" && npm ci --ignore-scripts --no-audit --no-fund >/dev/null) || fail "npm ci in $NODE_DIR failed"
  fi
  # Each suite its own copy of the scripts: two suites may run at once with different versions.
  local run="$LAB/oidc-node"
  mkdir -p "$run" && ln -sfn "$NODE_DIR/node_modules" "$run/node_modules"
  cp "$HS_SRC"/tests/interop/oidc/*.mjs "$HS_SRC/tests/interop/oidc/package.json" "$run/"
  NODE_DIR=$run
}
browser() {
  local ns _
  ns=$(host_ns browser)
  # Chromium aborts a page load when an address appears in its namespace (ERR_NETWORK_CHANGED,
  # seen once in test_oauth2): the IPv6 link-local address arrives when duplicate address
  # detection ends, about 2 s after the link came up. Wait for it (at most 5 s).
  for _ in $(seq 50); do
    [ -z "$(ip -n "$ns" -6 addr show tentative 2>/dev/null)" ] && break
    sleep 0.1
  done
  OUT="$BROWSER_OUT" timeout 150 ip netns exec "$ns" node "$NODE_DIR/$BROWSER_DRIVER" "$@"
}

# The first non-empty AuthURL `tailscale up --json` printed for NAME (it may print an empty one first).
auth_url_of() {
  local u; u=$(jq -r 'select(.AuthURL != null and .AuthURL != "") | .AuthURL' "$LAB/up-$1.json" 2>/dev/null | sed -n 1p)
  [ -n "$u" ] && echo "$u"
}
# up_interactive NAME: starts `tailscale up` on NAME in the background and sets AUTH_URL and UP_PID.
up_interactive() {
  ts "$1" up --login-server="$CONTROL_URL" --hostname="$1" --json --timeout=120s >"$LAB/up-$1.json" 2>"$LAB/up-$1.err" &
  UP_PID=$!
  eventually 20 auth_url_of "$1" || fail "$1: tailscale up printed no AuthURL"
  AUTH_URL=$(auth_url_of "$1")
}
# field JSON FILTER: one value of a page the browser described.
field() { echo "$1" | jq -r "$2"; }
# client_waiting N VERSION: client C=v<N>c of VERSION in a namespace of its own, its
# `tailscale up` waiting for a sign-in (AUTH_URL, UP_PID).
client_waiting() {
  C="v${1}c"
  ts_install "$2"
  host_add "$C" $(($1 * 10))
  ts_start "$C" $((41640 + $1))
  up_interactive "$C"
}
