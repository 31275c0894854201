# Shared helpers for the real-client tests. Source it; it installs an EXIT trap that stops every
# tailscaled it started, deletes the network namespaces and bridge it made, and removes its
# scratch directory (kept when HS_KEEP_LAB=1, for debugging).
#
# Every test host is a network namespace this file creates; the only addresses used are
# loopback and the lab subnet inside those namespaces and on the bridge made here.

set -euo pipefail
HS_SRC=${HS_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
HS_BIN=${HS_BIN:-$HS_SRC/build/bin}
# shellcheck source=versions.env
. "$HS_SRC/tests/interop/versions.env"
TS_VERSION=${HS_TS_VERSION:-$TS_VERSION}

LAB=$(mktemp -d /tmp/hs-lab.XXXXXX)
# The lab's ID (0-249) names its bridge and namespaces, picks its subnet 10.201.<ID>.0/24 and
# offsets its ports, so it must be one no other running lab holds: suites of several trees run
# side by side. Claimed as a directory under a lock; a claim whose lab died is taken over.
lab_claim_id() {
  local dir=/tmp/hs-lab-ids i id owner fd
  mkdir -p "$dir"
  exec {fd}>"$dir/.lock"
  flock "$fd"
  for i in $(seq 0 249); do
    id=$(( ($$ + i) % 250 ))
    owner=$(cat "$dir/$id" 2>/dev/null || true)
    if [ -z "$owner" ] || ! kill -0 "$owner" 2>/dev/null; then
      echo $$ >"$dir/$id"
      LAB_ID=$id
      flock -u "$fd"
      exec {fd}>&-
      return 0
    fi
  done
  echo "lib.sh: all 250 lab IDs are held by running labs" >&2
  exit 1
}
lab_claim_id
# What a lab that held this ID before left behind (killed before its cleanup ran) goes now: the
# ID is ours, so a namespace, link or bridge named with it is stale.
lab_clear_stale() {
  local ns l
  for ns in $(ip netns list 2>/dev/null | awk -v p="hs$LAB_ID-" 'index($1, p) == 1 {print $1}'); do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
  done
  for l in $(ip -o link show 2>/dev/null | awk -F': ' -v p="hsv$LAB_ID-" -v b="hsbr$LAB_ID" \
    '{sub(/@.*/, "", $2)} index($2, p) == 1 || $2 == b {print $2}'); do
    ip link del "$l" 2>/dev/null || true
  done
}
lab_clear_stale
LAB_NETNS=()
LAB_PIDS=()
LAB_BRIDGE=""
LAB_SUBNET=${LAB_SUBNET:-10.201.$(( LAB_ID % 250 )).}
TESTS_PASSED=0
TESTS_FAILED=0
TESTS_SKIPPED=0
# Commands lab_cleanup runs once the lab's processes are gone (e.g. stopping a database server).
LAB_ATEXIT=()

log() { echo "[$(date +%H:%M:%S)] $*" >&2; }
fail() {
  echo "FAIL: $*" >&2
  for f in "$LAB"/*/tailscaled.log; do
    [ -f "$f" ] || continue
    echo "--- last lines of $f" >&2
    tail -n 25 "$f" >&2
  done
  exit 1
}
pass() { TESTS_PASSED=$((TESTS_PASSED + 1)); log "ok: $*"; }
# check WHAT CMD...: runs CMD; "ok: WHAT" when it succeeds, else "FAILED: WHAT" and the suite
# goes on (finish then exits non-zero). For checks that stand alone, where one failing says
# nothing about the rest; fail stays right for steps later checks depend on.
check() {
  local what=$1
  shift
  if "$@"; then pass "$what"; return 0; fi
  TESTS_FAILED=$((TESTS_FAILED + 1))
  echo "[$(date +%H:%M:%S)] FAILED: $what" >&2
}
# skip WHAT WHY: a check this run does not make, said as such and counted apart (never as passed).
skip() { TESTS_SKIPPED=$((TESTS_SKIPPED + 1)); log "SKIPPED: $1 ($2)"; }
# skip_test WHY: the whole test does not apply to this run; exit 77, which ctest reports as
# skipped (SKIP_RETURN_CODE in CMakeLists.txt).
skip_test() { echo "$(basename "$0" .sh): SKIPPED: $*"; exit 77; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "interop tests need root (network namespaces)" >&2
    exit 1
  fi
}

lab_cleanup() {
  local rc=$?
  local p
  for p in "${LAB_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${LAB_PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
  done
  for p in "${LAB_ATEXIT[@]}"; do $p || true; done
  local ns
  for ns in "${LAB_NETNS[@]}"; do
    ip netns pids "$ns" 2>/dev/null | xargs -r kill -KILL 2>/dev/null || true
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "/etc/netns/$ns"
  done
  [ -n "$LAB_BRIDGE" ] && ip link del "$LAB_BRIDGE" 2>/dev/null || true
  [ "$(cat "/tmp/hs-lab-ids/$LAB_ID" 2>/dev/null)" = $$ ] && rm -f "/tmp/hs-lab-ids/$LAB_ID"
  if [ "${HS_KEEP_LAB:-0}" = 1 ]; then
    echo "lab kept in $LAB" >&2
  else
    rm -rf "$LAB"
  fi
  return $rc
}
trap lab_cleanup EXIT

# Makes sure the pinned client is built; sets TS_BIN to its directory.
ts_install() {
  local v=${1:-$TS_VERSION}
  bash "$HS_SRC/tests/interop/tailscale.sh" install "$v"
  TS_BIN=$(bash "$HS_SRC/tests/interop/tailscale.sh" bindir "$v")
}

# Creates the lab bridge in the root namespace with ${LAB_SUBNET}1/24.
lab_bridge() {
  [ -n "$LAB_BRIDGE" ] && return 0
  LAB_BRIDGE="hsbr$LAB_ID"
  ip link add "$LAB_BRIDGE" type bridge
  ip addr add "${LAB_SUBNET}1/24" dev "$LAB_BRIDGE"
  ip link set "$LAB_BRIDGE" up
}

# host_add NAME INDEX: a network namespace "hs<id>-NAME" on the lab bridge with address
# ${LAB_SUBNET}<10+INDEX>/24 and no route out of the lab; DNS resolves nothing. NAME may hold
# hyphens (alice-laptop); each is an underscore in the HOST_NS_ variable.
host_add() {
  local name=$1 idx=$2 ns="hs$LAB_ID-$1"
  lab_bridge
  ip netns add "$ns"
  LAB_NETNS+=("$ns")
  ip -n "$ns" link set lo up
  ip link add "hsv$LAB_ID-$idx" type veth peer name eth0 netns "$ns"
  ip link set "hsv$LAB_ID-$idx" master "$LAB_BRIDGE" up
  ip -n "$ns" addr add "${LAB_SUBNET}$((10 + idx))/24" dev eth0
  ip -n "$ns" link set eth0 up
  ip -n "$ns" route add unreachable default
  mkdir -p "/etc/netns/$ns"
  echo "nameserver 127.0.0.1" >"/etc/netns/$ns/resolv.conf"
  printf -v "HOST_NS_${name//-/_}" '%s' "$ns"
}
host_ns() { local v="HOST_NS_${1//-/_}"; echo "${!v}"; }
host_ip() { local i; i=$(ip -n "$(host_ns "$1")" -4 -o addr show dev eth0 | awk '{print $4}'); echo "${i%/*}"; }

# ts_start NAME PORT [tailscaled flags...]: one tailscaled with its own state dir, socket and
# UDP port, userspace networking, no log uploads, no port mapping. Runs inside the host's
# namespace when host_add NAME was called, else on this host.
ts_start() {
  local name=$1 port=$2
  shift 2
  local d="$LAB/$name"
  mkdir -p "$d/logs"
  local prefix=()
  local ns_var="HOST_NS_${name//-/_}"
  if [ -n "${!ns_var:-}" ]; then prefix=(ip netns exec "${!ns_var}"); fi
  echo "$TS_BIN" >"$d/bindir"
  "${prefix[@]}" env TS_NO_LOGS_NO_SUPPORT=true TS_LOGS_DIR="$d/logs" TS_DISABLE_PORTMAPPER=1 \
    TS_DISABLE_UPNP=true TS_PANIC_IF_HIT_MAIN_CONTROL=1 TS_ASSUME_NETWORK_UP_FOR_TEST=1 \
    ${TS_EXTRA_ENV:-} \
    "$TS_BIN/tailscaled" --tun=userspace-networking --statedir="$d" --socket="$d/ts.sock" \
    --port="$port" --no-logs-no-support "$@" >"$d/tailscaled.log" 2>&1 &
  local pid=$!
  LAB_PIDS+=("$pid")
  echo "$pid" >"$d/pid"
  for _ in $(seq 100); do
    [ -S "$d/ts.sock" ] && return 0
    kill -0 "$pid" 2>/dev/null || fail "tailscaled $name exited at start"
    sleep 0.1
  done
  fail "tailscaled $name did not create its socket within 10s"
}

# ts NAME ARGS...: the tailscale CLI against instance NAME, of the version NAME's tailscaled runs
# (a lab may mix versions: ts_install V before each ts_start picks that host's version).
# With TS_TIMEOUT=SECONDS set, the CLI is killed after that long.
ts() {
  local name=$1 bin=$TS_BIN pre=()
  shift
  [ -f "$LAB/$name/bindir" ] && bin=$(<"$LAB/$name/bindir")
  [ -n "${TS_TIMEOUT:-}" ] && pre=(timeout "$TS_TIMEOUT")
  TS_DISABLE_PORTMAPPER=1 TS_DISABLE_UPNP=true "${pre[@]}" "$bin/tailscale" --socket="$LAB/$name/ts.sock" "$@"
}

ts_stop() {
  local pid
  pid=$(cat "$LAB/$1/pid")
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
}

# daemon_start VAR LOG READY_URL CMD...: starts CMD in the background (output to LOG), waits
# until READY_URL answers, and stores the pid in the variable VAR. Fails if it exits or is slow.
daemon_start() {
  local var=$1 logf=$2 url=$3
  shift 3
  "$@" >>"$logf" 2>&1 &
  local pid=$!
  LAB_PIDS+=("$pid")
  printf -v "$var" '%s' "$pid"
  for _ in $(seq 100); do
    curl -sf "$url" >/dev/null 2>&1 && return 0
    kill -0 "$pid" 2>/dev/null || { tail -20 "$logf" >&2; fail "$(basename "$1") exited at start"; }
    sleep 0.1
  done
  fail "$(basename "$1") did not answer $url within 10s"
}

# daemon_stop PID: SIGTERM, then wait up to 10 s.
daemon_stop() {
  [ -n "$1" ] || return 0
  kill -TERM "$1" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
}

# ms: milliseconds since the epoch, for timing a step of a test.
ms() { echo $(( ${EPOCHREALTIME/[.,]/} / 1000 )); }

# eventually SECONDS CMD...: retries CMD every 0.25 s until it succeeds or time runs out. The
# deadline is SECONDS from now to the microsecond ($SECONDS ticks whole seconds, which gave
# `eventually 2` anywhere from 1 to 2 s).
eventually() {
  local secs=$1
  shift
  local end=$(( ${EPOCHREALTIME/[.,]/} + secs * 1000000 ))
  while :; do
    if "$@" >/dev/null 2>&1; then return 0; fi
    [ "${EPOCHREALTIME/[.,]/}" -ge "$end" ] && return 1
    sleep 0.25
  done
}

# for_each_version FUNC: runs `FUNC VERSION TAG BASE` once per pinned client version, with a
# short tag (v1, v2...) and a host index base (10, 20...) so namespaces never collide.
for_each_version() {
  local i=0 v
  for v in $TS_VERSIONS; do
    i=$((i + 1))
    "$1" "$v" "v$i" $((i * 10))
  done
}

# Prints the plain closing line the CI reads, then exits non-zero if any check failed.
finish() {
  local skipped=""
  [ "$TESTS_SKIPPED" = 0 ] || skipped=", $TESTS_SKIPPED skipped"
  echo "$(basename "$0" .sh): $TESTS_PASSED passed, $TESTS_FAILED failed$skipped"
  [ "$TESTS_FAILED" = 0 ]
}

# lab_pki IP: a lab CA and a server certificate for IP, signed by it, in $LAB/pki: ca.pem,
# srv.pem, srv.key, and bundle.pem (the system roots plus the lab CA, for SSL_CERT_FILE), so
# clients verify our servers as they would verify a public CA's certificate.
lab_pki() {
  local ip=$1 pki="$LAB/pki"
  [ -f "$pki/bundle.pem" ] && return 0
  mkdir -p "$pki"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=hs-lab-ca \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$pki/ca.key" -out "$pki/ca.pem" 2>/dev/null || fail "making the lab CA"
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=hs-lab-server \
    -keyout "$pki/srv.key" -out "$pki/srv.csr" 2>/dev/null || fail "making the server key"
  printf 'subjectAltName=IP:%s\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature\n' "$ip" >"$pki/ext.cnf"
  openssl x509 -req -in "$pki/srv.csr" -CA "$pki/ca.pem" -CAkey "$pki/ca.key" -CAcreateserial -days 2 \
    -extfile "$pki/ext.cnf" -out "$pki/srv.pem" 2>/dev/null || fail "signing the server certificate"
  cat /etc/ssl/certs/ca-certificates.crt "$pki/ca.pem" >"$pki/bundle.pem" 2>/dev/null || cp "$pki/ca.pem" "$pki/bundle.pem"
}

# internet_behind HOST ADDR TEXT: a namespace routed behind HOST (a veth, 10.98.0.0/30) with
# ADDR on its loopback and a web server on ADDR:8080 answering TEXT. An exit node forwards only
# to addresses outside its own LANs and outside RFC 1918 ("guest wifi"), so ADDR is taken from
# TEST-NET-3 (203.0.113.0/24, documentation only); it exists only inside this namespace.
internet_behind() {
  local host_ns inet="hs$LAB_ID-inet"
  host_ns=$(host_ns "$1")
  ip netns add "$inet"
  LAB_NETNS+=("$inet")
  ip -n "$inet" link set lo up
  # http.server looks its address up by name before it listens: answer at once, locally.
  mkdir -p "/etc/netns/$inet"
  echo "nameserver 127.0.0.1" >"/etc/netns/$inet/resolv.conf"
  ip link add "hsx$LAB_ID" netns "$host_ns" type veth peer name up0 netns "$inet"
  ip -n "$host_ns" addr add 10.98.0.1/30 dev "hsx$LAB_ID"
  ip -n "$host_ns" link set "hsx$LAB_ID" up
  ip -n "$inet" addr add 10.98.0.2/30 dev up0
  ip -n "$inet" link set up0 up
  ip -n "$inet" addr add "$2/32" dev lo
  ip -n "$inet" route add default via 10.98.0.1
  ip -n "$host_ns" route add "$2/32" via 10.98.0.2
  mkdir -p "$LAB/www-inet"
  echo "$3" >"$LAB/www-inet/index.html"
  ip netns exec "$inet" python3 -m http.server 8080 --bind "$2" --directory "$LAB/www-inet" >"$LAB/www-inet.log" 2>&1 &
  LAB_PIDS+=("$!")
  local t; t=$(ip netns exec "$host_ns" curl -s --max-time 5 --retry 10 --retry-connrefused --retry-delay 0 "http://$2:8080/") || true
  [ "$t" = "$3" ] || fail "$1 cannot reach its own internet host $2 ('$t')"
}

# SOCKS_PORT: where a tailscaled started with --socks5-server="127.0.0.1:$SOCKS_PORT" serves its
# proxy, inside its host's namespace. socks_get HOST URL: a GET through HOST's tailnet (5 s).
SOCKS_PORT=1055
socks_get() { ip netns exec "$(host_ns "$1")" curl -s --max-time 5 --socks5 "127.0.0.1:$SOCKS_PORT" "$2"; }

# nft_out NAME MATCH...: adds a rule to the output hook inside NAME's namespace (nft syntax,
# e.g. `nft_out a meta l4proto udp ip daddr != 10.0.0.1 counter drop`).
nft_out() {
  local ns; ns=$(host_ns "$1"); shift
  if ! ip netns exec "$ns" nft list table inet hslab >/dev/null 2>&1; then
    ip netns exec "$ns" nft add table inet hslab
    ip netns exec "$ns" nft add chain inet hslab out '{ type filter hook output priority 0; policy accept; }'
  fi
  ip netns exec "$ns" nft add rule inet hslab out "$@"
}
# nft_dropped NAME: packets the counters of NAME's rules matched, summed.
nft_dropped() {
  ip netns exec "$(host_ns "$1")" nft list table inet hslab | awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") s += $(i + 1) } END { print s + 0 }'
}
# block_direct_udp NAME: NAME may send UDP only to the lab bridge address (where STUN and DERP
# live), so two clients cannot reach each other directly and must relay through DERP.
block_direct_udp() {
  nft_out "$1" meta l4proto udp ip daddr != "${LAB_SUBNET}1" counter drop
  nft_out "$1" meta nfproto ipv6 meta l4proto udp counter drop
}
