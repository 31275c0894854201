#!/usr/bin/env bash
# Builds the load generator (tests/bench/loadgen) against tailscale.com at TS_VERSION from
# tests/interop/versions.env, the one place that version is pinned.
#
#   loadgen.sh build OUT   check go.mod against TS_VERSION, then build hs-loadgen to OUT
#   loadgen.sh check       exit 1 (with a message) when go.mod requires another version
#   loadgen.sh sync        rewrite go.mod/go.sum to require tailscale.com@TS_VERSION
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=../interop/versions.env
. "$here/../interop/versions.env"
export GOTOOLCHAIN=local CGO_ENABLED=0 GOFLAGS=-modcacherw

required() { (cd "$here" && go list -m -f '{{.Version}}' tailscale.com); }

check() {
  command -v go >/dev/null || { echo "loadgen.sh: 'go' not found; Go >= 1.26 is needed (see 'make deps')" >&2; return 1; }
  local have
  have=$(required)
  if [ "$have" != "$TS_VERSION" ]; then
    echo "loadgen.sh: tests/bench/go.mod requires tailscale.com $have but versions.env pins $TS_VERSION; run 'bash tests/bench/loadgen.sh sync'" >&2
    return 1
  fi
}

case "${1:-}" in
  check) check ;;
  sync)
    cd "$here"
    go mod edit -require="tailscale.com@$TS_VERSION"
    go mod tidy
    echo "loadgen.sh: tests/bench/go.mod now requires tailscale.com $TS_VERSION" >&2
    ;;
  build)
    [ -n "${2:-}" ] || { echo "usage: loadgen.sh build OUT" >&2; exit 2; }
    check
    out=$(cd "$(dirname "$2")" && pwd)/$(basename "$2")
    (cd "$here" && go build -trimpath -o "$out" ./loadgen)
    ;;
  *) echo "usage: loadgen.sh build OUT | check | sync" >&2; exit 2 ;;
esac
