#!/usr/bin/env bash
# The client matrix's smoke test: every older release family in TS_VERSIONS_SMOKE
# (tests/interop/versions.env; down to v1.74, capability version 106, the oldest hs accepts)
# against hs-control and hs-derper. Per version, in a lab of its own (all
# versions at once, each its own process, lab ID and namespaces):
#   register two clients with a pre-auth key, each gets a map listing the other;
#   a direct ping (tailscale ping reaching the peer's lab address, not DERP);
#   a ping via DERP (hs-derper) to a third client whose direct UDP is dropped by nftables;
#   a rename with hs-admin seen by the peer;
#   a policy denial: the ACL lets the clients reach each other on port 80 only, so 81 is refused
#   while 80 answers.
# The full suites run on TS_VERSIONS (the newest and the default); this keeps the rest short.
# HS_MATRIX_VERSIONS="v1.74.1 ..." runs those versions instead.
set -euo pipefail
HS_SRC=${HS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
self="$HS_SRC/tests/interop/test_client_matrix.sh"

if [ -z "${HS_MATRIX_VERSION:-}" ]; then
  # The driver: builds what is missing (in parallel), starts one lab per version, reports each.
  # shellcheck source=versions.env
  . "$HS_SRC/tests/interop/versions.env"
  TS_VERSIONS_SMOKE=${HS_MATRIX_VERSIONS:-$TS_VERSIONS_SMOKE}  # a subset, when debugging one
  [ "$(id -u)" = 0 ] || { echo "interop tests need root (network namespaces)" >&2; exit 1; }
  bash "$HS_SRC/tests/interop/tailscale.sh" install $TS_VERSIONS_SMOKE || { echo "FAIL: building the clients" >&2; exit 1; }
  out=$(mktemp -d /tmp/hs-matrix.XXXXXX)
  trap 'rm -rf "$out"' EXIT
  pids=()
  for v in $TS_VERSIONS_SMOKE; do
    HS_MATRIX_VERSION=$v bash "$self" >"$out/$v.log" 2>&1 &
    pids+=("$!")
  done
  passed=0 failed=0 i=0
  for v in $TS_VERSIONS_SMOKE; do
    rc=0
    wait "${pids[$i]}" || rc=$?
    i=$((i + 1))
    sed "s/^/[$v] /" "$out/$v.log" >&2
    n=$(grep -c '] ok: ' "$out/$v.log" || true)
    if [ "$rc" = 0 ]; then
      passed=$((passed + n))
      echo "$v: $n checks passed"
    else
      passed=$((passed + n)) failed=$((failed + 1))
      echo "$v: FAILED after $n checks passed: $(grep -m1 -E '^FAIL|FAILED' "$out/$v.log")"
    fi
  done
  echo "test_client_matrix: $passed passed, $failed failed"
  [ "$failed" = 0 ]
  exit
fi

# One version's lab.
. "$HS_SRC/tests/interop/lib.sh"
. "$HS_SRC/tests/interop/control.sh"
. "$HS_SRC/tests/interop/derp.sh"
need_root
v=$HS_MATRIX_VERSION
ts_install "$v"

# A standalone hs-derper whose self-signed certificate the DERP map accepts with InsecureForTests
# (hs-derpmap's insecure=true), which every version honours. The embedded relay pins its
# self-signed certificate with CertName "sha256-raw:...", which clients before v1.82 do not know
# (v1.80.3: "x509: certificate is not valid for any names").
DERP_PORT=$((18500 + LAB_ID)) DERP_STUN_PORT=$((19500 + LAB_ID))
hs_derper_start derper "$DERP_PORT" $((20500 + LAB_ID)) --hostname "$DERP_IP" --self-signed --stun --stun-port "$DERP_STUN_PORT"
control_config "policy: {mode: database}"
control_start
admin users create alice >/dev/null
policy_set <<'P'
// test_client_matrix.sh: alice's devices reach each other on port 80 only.
{"acls": [{"action": "accept", "src": ["alice@"], "dst": ["alice@:80"]}]}
P
key=$(admin preauthkeys create -u alice --reusable -e 1h)
host_add a 1; host_add b 2; host_add c 3
block_direct_udp c
for n in a b c; do serve "$n" 80 "port80-$n"; done
serve b 81 port81-b
ts_start a 41641; ts_start b 41642; ts_start c 41643
for n in a b c; do ts_up "$n" "$key" || fail "$v: tailscale up with a pre-auth key failed on $n"; done
ver=$(ts a version | sed -n 1p)
[[ "$ver" == "${v#v}"* ]] || fail "the client reports version $ver, not $v"
pass "$v: three clients ($ver) registered with a pre-auth key and are Running"
eventually 20 peer_is a b .HostName b || fail "$v: a's map does not list b"
eventually 20 peer_is b a .HostName a || fail "$v: b's map does not list a"
eventually 20 peer_is a c .HostName c || fail "$v: a's map does not list c"
want=$(admin nodes list -o json | jq -c '[.[] | select(.name=="b") | .ip_addresses[]] | sort')
got=$(ts a status --json | jq -c '[.Peer[] | select(.HostName=="b") | .TailscaleIPs[]] | sort')
[ "$want" = "$got" ] || fail "$v: a sees b at $got, hs-admin says $want"
pass "$v: maps list the peers, with hs-admin's addresses ($got)"

# Direct: a and b share the lab bridge; tailscale ping stops at the first direct pong.
ip_b=$(ts b ip -4)
direct() { ts a ping -c 10 --timeout=3s "$ip_b" >"$LAB/ping-direct.out" 2>&1 && grep 'pong from' "$LAB/ping-direct.out" | tail -1 | grep -q "via ${LAB_SUBNET}12:"; }
eventually 20 direct || { cat "$LAB/ping-direct.out" >&2; fail "$v: no direct pong from b"; }
pass "$v: direct ping a -> b: $(grep 'pong from' "$LAB/ping-direct.out" | tail -1)"

# Via DERP: c may send UDP only to the bridge address (STUN and hs-derper).
ip_c=$(ts c ip -4)
eventually 20 ping_via_derp a "$ip_c" lab || fail "$v: ping a -> c did not get 3 pongs via DERP(lab)"
pass "$v: ping a -> c via hs-derper: $(grep -m1 'pong from' "$LAB/ping-a.out")"

# A rename reaches the peer.
id_b=$(node_id b)
admin nodes rename -i "$id_b" "web-b" >/dev/null || fail "$v: rename failed"
eventually 5 peer_is a b .DNSName "web-b.hs.test." || fail "$v: rename not seen by a within 5s: $(peer_field a b .DNSName)"
pass "$v: hs-admin rename seen by the peer: $(peer_field a b .DNSName)"

# The policy: port 80 answers, 81 (a server is listening) is refused by b's packet filter.
eventually 20 reaches a b 80 port80-b || fail "$v: a cannot reach b:80 ('$(get a b 80)')"
pass "$v: a -> b:80 answers 'port80-b' (allowed by the ACL)"
check "$v: a -> b:81 refused by the ACL although a server listens there" refused a b 81
finish
