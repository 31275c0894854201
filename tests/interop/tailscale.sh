#!/usr/bin/env bash
# Installs the official tailscale and tailscaled from the Go module proxy into a per-version
# cache outside the repository, and reuses it when present.
#
#   tailscale.sh install [VERSION...]   build what is missing, the versions in parallel (default:
#                                       every pinned version, TS_VERSIONS and TS_VERSIONS_SMOKE)
#   tailscale.sh bindir [VERSION]       print the cache directory of VERSION (default: TS_VERSION)
#   tailscale.sh derper [VERSION]       build Tailscale's derper of VERSION (default: TS_VERSION) if
#                                       missing and print its path (benchmarks and mesh tests)
#
# Cache: ${HS_CACHE:-$HOME/.cache/hs}/tailscale/<version>/{tailscale,tailscaled,derper}
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
  # File by file: a derper built earlier for this version stays where it is.
  mkdir -p "$dir"
  mv "$tmp/tailscale" "$tmp/tailscaled" "$dir/"
  rm -rf "$tmp"
}

# derper lives beside the client of the same version, built on its own: most runs never need it.
install_derper() {
  local v=$1 dir tmp
  dir=$(bindir "$v")
  if [ -x "$dir/derper" ]; then return 0; fi
  command -v go >/dev/null || { echo "tailscale.sh: 'go' not found; Go >= 1.26 is needed to build derper (see 'make deps')" >&2; return 1; }
  mkdir -p "$dir"
  tmp=$(mktemp -d "$cache/.build-derper-$v.XXXXXX")
  echo "tailscale.sh: building derper $v (once; cached in $dir)" >&2
  if ! GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-modcacherw GOBIN="$tmp" \
       go install "tailscale.com/cmd/derper@$v" >&2; then
    rm -rf "$tmp"
    echo "tailscale.sh: building derper $v failed" >&2
    return 1
  fi
  mv "$tmp/derper" "$dir/derper"
  rm -rf "$tmp"
}

# lock NAME: one builder per version at a time (a concurrent test waits for it, then finds the
# binaries); different versions build side by side.
lock() {
  mkdir -p "${cache%/*}"
  exec 9>"${cache%/*}/.tailscale-$1.lock"
  flock 9
}

cmd=${1:-install}
shift || true
case "$cmd" in
  install)
    [ $# -gt 0 ] || set -- $TS_VERSIONS ${TS_VERSIONS_SMOKE:-}
    pids=() rc=0
    for v in "$@"; do (lock "$v"; install_one "$v") & pids+=("$!"); done
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    exit $rc
    ;;
  bindir) bindir "${1:-$TS_VERSION}" ;;
  derper)
    lock "derper-${1:-$TS_VERSION}"
    install_derper "${1:-$TS_VERSION}"
    echo "$(bindir "${1:-$TS_VERSION}")/derper"
    ;;
  *) echo "usage: tailscale.sh install [VERSION...] | bindir [VERSION] | derper [VERSION]" >&2; exit 2 ;;
esac
