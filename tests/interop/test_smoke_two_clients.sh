#!/usr/bin/env bash
# Two official tailscaled instances, each in its own network namespace with its own state,
# socket and port, answer `tailscale status --json`. With no control server configured they
# must say NeedsLogin; that they answer at all proves the client cache and the lab helpers.
. "$(dirname "$0")/lib.sh"
need_root

n=0
for v in $TS_VERSIONS; do
  ts_install "$v"
  n=$((n + 1))
  for i in 1 2; do
    host_add "v${n}c$i" "$((n * 10 + i))"
    ts_start "v${n}c$i" $((41640 + i))
  done
  for i in 1 2; do
    out=$(ts "v${n}c$i" status --json) || true
    state=$(echo "$out" | jq -r .BackendState)
    [ "$state" = "NeedsLogin" ] || fail "$v instance $i: BackendState=$state, expected NeedsLogin"
    ver=$(echo "$out" | jq -r .Version)
    [[ "$ver" == "${v#v}"* ]] || fail "$v instance $i reports version $ver"
    pass "$v instance $i: BackendState=NeedsLogin, version $ver"
  done
  # Distinct instances: separate sockets and state files.
  [ -f "$LAB/v${n}c1/tailscaled.state" ] && [ -f "$LAB/v${n}c2/tailscaled.state" ] || fail "state files missing"
  pass "$v: two separate state files"
done
finish
