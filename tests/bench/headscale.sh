#!/usr/bin/env bash
# Builds headscale at HEADSCALE_VERSION (tests/interop/versions.env; HS_HEADSCALE_VERSION picks
# another release, e.g. HEADSCALE_VERSION_OLD for test_import_headscale.sh) from the Go module proxy
# into a cache outside the repository, and reuses it when present. It is only the reference
# the benchmarks compare against; nothing of it is copied into hs.
#
#   headscale.sh install   build it when missing
#   headscale.sh bin       print the path of the binary
#
# Cache: ${HS_CACHE:-$HOME/.cache/hs}/headscale/<version>/headscale
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../interop/versions.env
. "$here/../interop/versions.env"
HEADSCALE_VERSION=${HS_HEADSCALE_VERSION:-$HEADSCALE_VERSION}
cache=${HS_CACHE:-$HOME/.cache/hs}/headscale
bin="$cache/$HEADSCALE_VERSION/headscale"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-modcacherw

install() {
  [ -x "$bin" ] && return 0
  command -v go >/dev/null || { echo "headscale.sh: 'go' not found; Go >= 1.26 is needed (see 'make deps')" >&2; return 1; }
  mkdir -p "$cache"
  exec 9>"$cache/.lock"
  flock 9
  [ -x "$bin" ] && return 0
  echo "headscale.sh: building headscale $HEADSCALE_VERSION (once; cached in ${bin%/*})" >&2
  # `go install module@version` also asks the proxy for the module's version list, which it
  # does not serve for headscale; downloading the tagged module and building inside it needs
  # only that one version, with headscale's own go.sum.
  local dir tmp
  dir=$(go mod download -json "github.com/juanfont/headscale@$HEADSCALE_VERSION" | jq -r .Dir)
  [ -d "$dir" ] || { echo "headscale.sh: download of headscale $HEADSCALE_VERSION failed" >&2; return 1; }
  tmp=$(mktemp -d "$cache/.build.XXXXXX")
  chmod 755 "$tmp"
  if ! (cd "$dir" && go build -trimpath -o "$tmp/headscale" ./cmd/headscale); then
    rm -rf "$tmp"
    echo "headscale.sh: building headscale $HEADSCALE_VERSION failed" >&2
    return 1
  fi
  rm -rf "${bin%/*}"
  mv "$tmp" "${bin%/*}"
}

case "${1:-install}" in
  install) install ;;
  bin) echo "$bin" ;;
  *) echo "usage: headscale.sh install | bin" >&2; exit 2 ;;
esac
