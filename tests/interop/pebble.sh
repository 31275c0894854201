#!/usr/bin/env bash
# Builds Pebble (Let's Encrypt's ACME test CA) and pebble-challtestsrv (its DNS answerer) from
# the Go module proxy into a per-version cache outside the repository; prints the directory.
#
# Cache: ${HS_CACHE:-$HOME/.cache/hs}/pebble/<version>/{pebble,pebble-challtestsrv}
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=versions.env
. "$here/versions.env"
v=${1:-$PEBBLE_VERSION}
cache=${HS_CACHE:-$HOME/.cache/hs}/pebble
dir="$cache/$v"
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ ! -x "$dir/pebble" ] || [ ! -x "$dir/pebble-challtestsrv" ]; then
  command -v go >/dev/null || { echo "pebble.sh: 'go' not found; Go >= 1.26 is needed to build Pebble (see 'make deps')" >&2; exit 1; }
  tmp=$(mktemp -d "$cache/.build-$v.XXXXXX")
  echo "pebble.sh: building pebble $v (once; cached in $dir)" >&2
  if ! GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-modcacherw GOBIN="$tmp" go install \
       "github.com/letsencrypt/pebble/v2/cmd/pebble@$v" "github.com/letsencrypt/pebble/v2/cmd/pebble-challtestsrv@$v" >&2; then
    rm -rf "$tmp"
    echo "pebble.sh: building pebble $v failed" >&2
    exit 1
  fi
  mkdir -p "$dir"
  mv "$tmp/pebble" "$tmp/pebble-challtestsrv" "$dir/"
  rm -rf "$tmp"
fi
echo "$dir"
