#!/usr/bin/env bash
# Installs the official tailscale and tailscaled from the Go module proxy into a per-version
# cache outside the repository, and reuses it when present.
#
#   tailscale.sh install [VERSION...]   build what is missing (default: every pinned version)
#   tailscale.sh bindir [VERSION]       print the cache directory of VERSION (default: TS_VERSION)
#
# Cache: ${HS_CACHE:-$HOME/.cache/hs}/tailscale/<version>/{tailscale,tailscaled}
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
cache=${HS_CACHE:-$HOME/.cache/hs}/tailscale

bindir() { echo "$cache/$1"; }

install_one() {
  local v=$1 dir tmp
  dir=$(bindir "$v")
  if [ -x "$dir/tailscale" ] && [ -x "$dir/tailscaled" ]; then return 0; fi
  command -v go >/dev/null || { echo "tailscale.sh: 'go' not found; Go >= 1.26 is needed to build the client (see 'make deps')" >&2; return 1; }
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.build-$v.XXXXXX")
  echo "tailscale.sh: building tailscale $v (once; cached in $dir)" >&2
  if ! GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-modcacherw GOBIN="$tmp" \
       go install "tailscale.com/cmd/tailscale@$v" "tailscale.com/cmd/tailscaled@$v" >&2; then
    rm -rf "$tmp"
    echo "tailscale.sh: building tailscale $v failed" >&2
    return 1
  fi
  rm -rf "$dir"
  mv "$tmp" "$dir"
}

cmd=${1:-install}
shift || true
case "$cmd" in
  install)
    [ $# -gt 0 ] || set -- $TS_VERSIONS
    exec 9>"${cache%/*}/.tailscale.lock" 2>/dev/null || { mkdir -p "${cache%/*}"; exec 9>"${cache%/*}/.tailscale.lock"; }
    flock 9
    for v in "$@"; do install_one "$v"; done
    ;;
  bindir) bindir "${1:-$TS_VERSION}" ;;
  *) echo "usage: tailscale.sh install [VERSION...] | bindir [VERSION]" >&2; exit 2 ;;
esac
