#!/usr/bin/env bash
# Installs what hs needs to build and test on Debian (12 or later). Idempotent: when every
# package is present it only checks and returns.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config ccache clang libclang-rt-14-dev
  # libraries
  libcli11-dev libsodium-dev libsqlite3-dev libboost-dev nlohmann-json3-dev libssl-dev
  libspdlog-dev catch2 libzstd-dev libnghttp2-dev libyaml-cpp-dev
  # crypt_r (libxcrypt): bcrypt hashes of keys imported from headscale; libpq: its PostgreSQL
  libcrypt-dev libpq-dev
  # tests and tools the tests drive
  iproute2 nftables jq curl sqlite3 openssl procps man-db bash-completion zsh fish
  # a throwaway PostgreSQL server for test_import_headscale_postgres.sh
  postgresql
  # systemd-analyze verifies examples/systemd
  systemd
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
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
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
