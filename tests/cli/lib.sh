# Helpers for command-line tests: run a command, capture stdout/stderr/exit code, assert.
set -euo pipefail
HS_SRC=${HS_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
HS_BIN=${HS_BIN:-$HS_SRC/build/bin}
T=$(mktemp -d /tmp/hs-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
PASSED=0

# run [--stdin FILE] CMD...: sets OUT, ERR, RC.
run() {
  local in=/dev/null
  if [ "$1" = "--stdin" ]; then in=$2; shift 2; fi
  set +e
  "$@" <"$in" >"$T/out" 2>"$T/err"
  RC=$?
  set -e
  OUT=$(cat "$T/out")
  ERR=$(cat "$T/err")
}
fail() { echo "FAIL: $*" >&2; echo "  rc=$RC stdout=[$OUT] stderr=[$ERR]" >&2; exit 1; }
ok() { PASSED=$((PASSED + 1)); }
expect_rc() { [ "$RC" = "$1" ] || fail "$2: exit code $RC, expected $1"; }
expect_out() { [[ "$OUT" =~ $1 ]] || fail "$2: stdout does not match $1"; }
expect_err() { [[ "$ERR" == *"$1"* ]] || fail "$2: stderr lacks \"$1\""; }
expect_no_out() { [ -z "$OUT" ] || fail "$1: stdout should be empty"; }
# A TCP port on 127.0.0.1 that was free a moment ago.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
finish() { echo "$(basename "$0" .sh): $PASSED passed, 0 failed"; }
