#!/usr/bin/env bash
# hs-derper under ThreadSanitizer (issue 20): the ThreadSanitizer build of hs-derper (make
# build-tsan: hs-derper and hs-bench-derp only) relays a short load from many clients on all its
# worker threads while its STUN server answers a flood and a second hs-derper is meshed with it
# (every client's arrival and departure crosses the mesh link). Fails on any data race report,
# on any other sanitizer report, or when the load did not get through.
#   HS_BIN: the ThreadSanitizer build's bin directory. TSAN_PAIRS (20), TSAN_SECONDS (8).
HS_SRC=${HS_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=../interop/lib.sh
. "$HS_SRC/tests/interop/lib.sh"
pairs=${TSAN_PAIRS:-20} secs=${TSAN_SECONDS:-8}
for b in hs-derper hs-bench-derp hs-bench-stun; do [ -x "$HS_BIN/$b" ] || fail "$HS_BIN/$b is not built (make build-tsan)"; done
# grep -c reads to the end: grep -q would close the pipe on nm, which pipefail counts as failure.
[ "$(nm "$HS_BIN/hs-derper" | grep -c __tsan_init)" -gt 0 ] || fail "$HS_BIN/hs-derper is not built with -fsanitize=thread"

IP=127.0.0.1
P1=$((30250 + LAB_ID)) P2=$((31250 + LAB_ID)) M1=$((31500 + LAB_ID)) M2=$((31750 + LAB_ID)) S1=$((32250 + LAB_ID))
lab_pki "$IP"
mkdir -p "$LAB/certs"
cp "$LAB/pki/srv.pem" "$LAB/certs/$IP.crt"
cp "$LAB/pki/srv.key" "$LAB/certs/$IP.key"
(umask 077; openssl rand -hex 32 >"$LAB/mesh.key")
# exitcode: a report makes the process exit 66 even when the run goes on (halt_on_error=0, so
# one run lists every race). GCC's TSan maps its shadow memory at fixed addresses that the
# kernel's wider mmap randomisation can take: setarch -R turns randomisation off for it.
export TSAN_OPTIONS="halt_on_error=0 exitcode=66 second_deadlock_stack=1 log_path=$LAB/tsan"
derper() {  # NAME PORT METRICS [flags]
  local name=$1 port=$2 mport=$3
  shift 3
  mkdir -p "$LAB/$name"
  daemon_start "PID_$name" "$LAB/$name/derper.log" "http://127.0.0.1:$mport/metrics" \
    env SSL_CERT_FILE="$LAB/pki/bundle.pem" setarch "$(uname -m)" -R "$HS_BIN/hs-derper" -a "$IP:$port" \
    -c "$LAB/$name/derper.key" --metrics-addr "127.0.0.1:$mport" --hostname "$IP" --certdir "$LAB/certs" \
    --mesh-psk-file "$LAB/mesh.key" --mesh-with "$IP:$P1,$IP:$P2" --log-level info "$@"
}
metric() { curl -sf "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1 == n { print $2; f=1 } END { if (!f) print 0 }'; }
metric_is() { [ "$(metric "$1" "$2")" = "$3" ]; }
derper d1 "$P1" "$M1" --stun-port "$S1"
derper d2 "$P2" "$M2" --stun=false
eventually 60 metric_is "$M1" derp_current_mesh_peers 1 || fail "d2 did not mesh with d1"
pass "two ThreadSanitizer hs-derpers meshed ($(grep -c . "$LAB/d1/derper.log") log lines so far)"

t0=$(date +%s)
setarch "$(uname -m)" -R "$HS_BIN/hs-bench-stun" --port "$S1" --sockets 4 --duration "${secs}s" --warmup 1s >"$LAB/stun.json" 2>"$LAB/stun.err" &
stun_pid=$!
setarch "$(uname -m)" -R "$HS_BIN/hs-bench-derp" --port "$P1" --pairs "$pairs" --size 1200 --duration "${secs}s" --warmup 1s \
  --server-pid "$PID_d1" >"$LAB/derp.json" 2>"$LAB/derp.err" || { cat "$LAB/derp.err" >&2; fail "hs-bench-derp failed"; }
wait "$stun_pid" || { cat "$LAB/stun.err" >&2; fail "hs-bench-stun failed"; }
rx=$(jq -r .received "$LAB/derp.json") stun=$(jq -r .responses "$LAB/stun.json")
[ "${rx:-0}" -gt 1000 ] || fail "only ${rx:-0} packets relayed: $(cat "$LAB/derp.json")"
[ "${stun:-0}" -gt 100 ] || fail "only ${stun:-0} STUN answers: $(cat "$LAB/stun.json")"
pass "$((2 * pairs)) clients relayed $rx packets through d1 and STUN answered $stun requests in $(( $(date +%s) - t0 )) s"
# Every client's departure reached d2 over the mesh as PeerGone.
eventually 20 metric_is "$M1" derp_current_connections 1 || fail "d1 still has $(metric "$M1" derp_current_connections) connections"

rc1=0 rc2=0
kill -TERM "$PID_d1" "$PID_d2"
wait "$PID_d1" || rc1=$?
wait "$PID_d2" || rc2=$?
reports=$(cat "$LAB"/tsan.* 2>/dev/null || true)
if [ -n "$reports" ]; then
  echo "$reports" >&2
  fail "ThreadSanitizer reported $(grep -c '^WARNING: ThreadSanitizer' <<<"$reports") problem(s): $(grep -m1 '^WARNING: ThreadSanitizer' <<<"$reports")"
fi
[ "$rc1" = 0 ] && [ "$rc2" = 0 ] || fail "hs-derper exit codes $rc1, $rc2 (66: a ThreadSanitizer report)"
pass "no ThreadSanitizer report; both hs-derpers exited 0"
finish
