# Webhook receivers for the interop suites: webhook_receiver.py on loopback, verifying each
# delivery's signature as docs/security.md tells a receiver to. Source after lib.sh.
# RX holds the shared secret (RX/secret), the deliveries (RX/got.jsonl, one line per request)
# and RX/slow (while it exists, its content is how many seconds a receiver waits to answer).
RX="$LAB/rx"
mkdir -p "$RX"
[ -s "$RX/secret" ] || head -c 32 /dev/urandom | base64 >"$RX/secret"

# rx_start_one PORT [--cert PEM --key KEY]: a receiver on 127.0.0.1:PORT (https with a
# certificate), recording into RX/got.jsonl; its pid in RX_PID and LAB_PIDS.
rx_start_one() {
  local port=$1; shift
  : >"$RX/up-$port.log"
  python3 "$HS_SRC/tests/interop/webhook_receiver.py" --port "$port" --secret-file "$RX/secret" \
    --out "$RX/got.jsonl" --slow "$RX/slow" "$@" >>"$RX/up-$port.log" 2>&1 &
  RX_PID=$!; LAB_PIDS+=("$RX_PID")
  eventually 10 grep -q listening "$RX/up-$port.log" || fail "webhook receiver on $port did not start: $(cat "$RX/up-$port.log")"
}

# rx_events PATH: the event names delivered to PATH, each delivery once, sorted, space-separated.
rx_events() {
  [ -f "$RX/got.jsonl" ] || return 0
  jq -sr --arg p "$1" '[.[] | select(.path == $p)] | unique_by(.delivery) | map(.event) | sort | join(" ")' "$RX/got.jsonl"
}
# rx_all_verified: every delivery recorded so far carries a valid signature (and there is one).
rx_all_verified() { [ -s "$RX/got.jsonl" ] && jq -se 'all(.verified)' "$RX/got.jsonl" >/dev/null; }

# rx_base URL: the audit row after which hs-control delivers events to URL (its start log line,
# which its delivery thread writes after /health answers: waited for up to 5 s).
rx_base() {
  eventually 5 grep -q "webhook $1: delivering events after audit row" "$CONTROL_DIR/control.log" || true
  sed -n "s|.*webhook $1: delivering events after audit row \([0-9]*\).*|\1|p" "$CONTROL_DIR/control.log" | sed -n 1p
}
# rx_want BASE: the event names hs-admin events derives after audit row BASE, sorted.
rx_want() { admin events --since "$1" -o json | jq -r 'map(.event) | sort | join(" ")'; }
# rx_matches PATH BASE: PATH got exactly the events hs-admin derives after BASE.
rx_matches() { [ "$(rx_events "$1")" = "$(rx_want "$2")" ]; }
