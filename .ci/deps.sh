#!/usr/bin/env bash
# Installs what hs needs to build and test on Debian (12 or later). Idempotent: when every
# package is present it only checks and returns.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config ccache clang libclang-rt-14-dev clang-format
  # libraries
  libcli11-dev libsodium-dev libsqlite3-dev libboost-dev nlohmann-json3-dev libssl-dev
  libspdlog-dev catch2 libzstd-dev libnghttp2-dev libyaml-cpp-dev
  # crypt_r (libxcrypt): bcrypt hashes of keys imported from headscale; libpq: its PostgreSQL
  libcrypt-dev libpq-dev
  # libqrencode: the QR code hs-admin users mfa enroll prints
  libqrencode-dev
  # tests and tools the tests drive
  iproute2 nftables jq curl sqlite3 openssl procps man-db bash-completion zsh fish file python3
  # a throwaway PostgreSQL server for test_import_headscale_postgres.sh
  postgresql
  # systemd-analyze verifies examples/systemd
  systemd
  # a real Prometheus (and promtool) scrapes the servers; nginx, Caddy and HAProxy run the
  # reverse-proxy and load-balancer examples
  prometheus nginx caddy haproxy
  # test_oidc.sh: the browser that signs in (driven by playwright-core from npm)
  chromium
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  # The tests run prometheus, nginx, caddy and haproxy themselves, on ports of their own; their
  # packages would start system services on :9090 (the port `make run` gives hs-control's
  # metrics) and :80. policy-rc.d tells the maintainer scripts not to start anything (an
  # existing one stays).
  own_policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod 755 /usr/sbin/policy-rc.d
    own_policy=1
  fi
  rc=0
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || rc=$?
  if [ -n "$own_policy" ]; then $SUDO rm -f /usr/sbin/policy-rc.d; fi
  [ "$rc" = 0 ] || exit "$rc"
  if [ -d /run/systemd/system ]; then
    $SUDO systemctl disable --now prometheus.service nginx.service caddy.service haproxy.service >/dev/null 2>&1 || true
  fi
fi

# The official client for the interop tests is built from source with Go >= 1.26.
if ! command -v go >/dev/null 2>&1; then
  echo "deps: Go is not installed; the interop tests need Go >= 1.26 to build the official client." >&2
  echo "deps: install it from https://go.dev/dl/ (Debian's golang package is too old) and put 'go' on PATH." >&2
else
  v=$(go env GOVERSION 2>/dev/null | sed 's/^go//')
  major=${v%%.*}; rest=${v#*.}; minor=${rest%%.*}
  if [ "${major:-0}" -lt 1 ] || { [ "$major" -eq 1 ] && [ "${minor:-0}" -lt 26 ]; }; then
    echo "deps: Go $v is too old; the interop tests need Go >= 1.26 (https://go.dev/dl/)." >&2
  fi
fi

# test_oidc.sh runs an OpenID provider (npm oidc-provider) and the browser driver on Node.js >= 20
# (Debian 13's nodejs; Debian 12 ships 18, too old: use NodeSource's nodejs 20 or later there).
if ! command -v node >/dev/null 2>&1; then
  echo "deps: installing nodejs and npm (test_oidc.sh)" >&2
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null || true
fi
if command -v node >/dev/null 2>&1; then
  nv=$(node --version | sed 's/^v//; s/\..*//')
  if [ "${nv:-0}" -lt 20 ]; then
    echo "deps: Node.js $(node --version) is too old; test_oidc.sh needs Node.js >= 20 (https://github.com/nodesource/distributions)." >&2
  fi
else
  echo "deps: Node.js is not installed; test_oidc.sh needs Node.js >= 20 with npm." >&2
fi
