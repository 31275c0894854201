#!/usr/bin/env bash
# examples/systemd: every unit passes `systemd-analyze verify` without a single warning (its
# binaries are the ones just built, its man pages ours), carries the hardening we promise, and
# scores as well exposed as `systemd-analyze security` allows. A broken copy must fail, so the
# check is known to bite.
. "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || fail "systemd-analyze not found (make deps installs the systemd package)"
UNITS="$HS_SRC/examples/systemd"
mkdir -p "$T/man/man1" "$T/man/man8" "$T/units"
ln -s "$HS_SRC"/man/*.1 "$T/man/man1/"; ln -s "$HS_SRC"/man/*.8 "$T/man/man8/"
export MANPATH=$T/man
for u in "$UNITS"/*.service "$UNITS"/*.timer; do sed "s#/usr/local/s*bin/#$HS_BIN/#" "$u" >"$T/units/$(basename "$u")"; done
[ "$(ls "$T/units" | wc -l)" = 5 ] || fail "expected hs-control, hs-derper, hs-stun and hs-audit-check units and a timer"

verify() { run systemd-analyze verify "$@"; }
for u in "$T"/units/*.service; do
  name=$(basename "$u")
  verify "$u"; expect_rc 0 "verify $name"; [ -z "$ERR" ] || fail "verify $name warned: $ERR"; ok
  for d in User=hs NoNewPrivileges=yes ProtectSystem=strict ReadWritePaths=/var/lib/hs StateDirectory=hs; do
    grep -qx "$d" "$u" || fail "$name lacks $d"
  done; ok
  run systemd-analyze security --offline=yes "$u"; expect_rc 0 "security $name"
  level=$(sed -n 's/.*Overall exposure level for [^:]*: \([0-9.]*\).*/\1/p' <<<"$OUT")
  awk -v l="$level" 'BEGIN { exit !(l != "" && l <= 2.5) }' || fail "$name exposure level ${level:-?} above 2.5"; ok
done
for name in hs-control hs-derper; do
  grep -qx 'AmbientCapabilities=CAP_NET_BIND_SERVICE' "$T/units/$name.service" || fail "$name cannot bind 443"
  grep -qx 'CapabilityBoundingSet=CAP_NET_BIND_SERVICE' "$T/units/$name.service" || fail "$name keeps other capabilities"; ok
done
grep -qx 'CapabilityBoundingSet=' "$T/units/hs-stun.service" || fail "hs-stun needs no capability"; ok
# The daily security check: the timer names its service, which runs `audit check` offline.
verify "$T/units/hs-audit-check.timer" "$T/units/hs-audit-check.service"; expect_rc 0 "verify timer"
[ -z "$ERR" ] || fail "verify timer warned: $ERR"; ok
grep -q 'audit check$' "$T/units/hs-audit-check.service" && grep -qx 'PrivateNetwork=yes' "$T/units/hs-audit-check.service" \
  || fail "hs-audit-check does not run audit check offline"; ok

# The check bites: a missing binary and a misspelt directive are both reported.
sed 's#^ExecStart=[^ ]*#ExecStart=/nonexistent/hs-control#' "$T/units/hs-control.service" >"$T/bad.service"
verify "$T/bad.service"; expect_rc 1 "missing binary"; expect_err "not executable" "missing binary"; ok
sed 's#^ProtectSystem=strict#ProtectSytem=strict#' "$T/units/hs-control.service" >"$T/typo.service"
verify "$T/typo.service"; expect_err "Unknown key 'ProtectSytem'" "misspelt directive"; ok
finish
