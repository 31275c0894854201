#!/usr/bin/env bash
# `make bench-policy` (also run by `make bench`): the policy scenario. A company-shaped tailnet
# (hs-loadgen policy-gen: users with 1-3 devices, 10% tagged over 100 tags, 50 groups, 500 acls
# lines) at BENCH_POLICY_NODES against hs-control and headscale with the same policy, and at
# BENCH_POLICY_HS_NODES against hs-control alone; hs-policy-bench times the engine on the same
# company. Writes docs/bench/results/policy-*.json and the policy section of docs/benchmarks.md.
#
# Environment: BENCH_POLICY_NODES (2000), BENCH_POLICY_HS_NODES (10000; "" for none),
# BENCH_POLICY_SERVERS ("hs headscale"), BENCH_POLICY_LIMIT (seconds per server and N, 1800;
# a server slower than that is reported as far as it got), BENCH_OBSERVERS (5), BENCH_PIN (1:
# server on CPU 0, generator on CPU 1), BENCH_POLICY_ENGINE_NODES ("2000 10000": the companies
# hs-policy-bench times), HS_BIN (build/bin). Results of earlier runs at other N stay in
# docs/bench/results/policy-*.json and in the report; delete them for a clean one.
# Everything listens on 127.0.0.1; every wait is bounded.
set -euo pipefail
HS_SRC=$(cd "$(dirname "$0")/../.." && pwd)
HS_BIN=${HS_BIN:-$HS_SRC/build/bin}
# shellcheck source=../interop/versions.env
. "$HS_SRC/tests/interop/versions.env"
# shellcheck source=servers.sh
. "$HS_SRC/tests/bench/servers.sh"
results=$HS_SRC/docs/bench/results
limit=${BENCH_POLICY_LIMIT:-1800}
log() { echo "[$(date +%H:%M:%S)] bench-policy: $*" >&2; }
command -v jq >/dev/null || { log "jq is needed"; exit 1; }
for b in hs-control hs-admin hs-derpmap hs-policy-bench; do
  [ -x "$HS_BIN/$b" ] || { log "$HS_BIN/$b is missing; run 'make build' first"; exit 1; }
done

work=$(mktemp -d /tmp/hs-bench-policy.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bin"
cp "$HS_BIN/hs-control" "$HS_BIN/hs-admin" "$HS_BIN/hs-derpmap" "$HS_BIN/hs-policy-bench" "$work/bin/"
HS_BIN=$work/bin
bash "$HS_SRC/tests/bench/loadgen.sh" build "$work/hs-loadgen"
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

bench_pin_port_version
mkdir -p "$results"

# The engine alone on the same company: compile and every node's view, median of 5.
engine_ns=${BENCH_POLICY_ENGINE_NODES:-2000 10000}
: >"$work/engine.txt"
for n in $engine_ns; do
  "$work/hs-loadgen" policy-gen --nodes "$n" --out "$work/company-$n"
  "$HS_BIN/hs-policy-bench" --company "$work/company-$n" --runs 5 | sed "s|$work/||" | tee -a "$work/engine.txt" >&2
done
cp "$work/engine.txt" "$results/policy-engine.txt"

run() { # run SERVER N
  local s=$1 n=$2 dir="$work/$1-$2" version
  if [ "$s" = hs ]; then
    hs_policy_setup "$dir" "$port" $srv_cpu >/dev/null
    version=$hs_version
  else
    bash "$HS_SRC/tests/bench/headscale.sh" install
    headscale_policy_setup "$dir" $((port + 5)) "$(bash "$HS_SRC/tests/bench/headscale.sh" bin)" $srv_cpu >/dev/null
    version=$HEADSCALE_VERSION
  fi
  if [ "$(ulimit -n)" -lt $((n + 1000)) ]; then
    log "ulimit -n is $(ulimit -n); $((n + 1000)) descriptors are needed for $n nodes; skipping $s at N=$n"
    return
  fi
  log "$s, N=$n (limit ${limit}s); uptime:$(uptime)"
  if ! timeout --kill-after=30 "$limit" "${gen_pin[@]}" "$work/hs-loadgen" run --deadline $((limit - 60))s \
      --label "$s" --version "$version" --url "$SERVER_URL" --server-cmd "$SERVER_CMD" \
      --ready-url "$READY_URL" --server-log "$dir/server.log" --nodes "$n" --spread-sources \
      --policy "$POLICY_PATH" --user-key-cmd "$USER_KEY_CMD" --tag-key-cmd "$TAG_KEY_CMD" \
      --observers "${BENCH_OBSERVERS:-5}" --phase-timeout 300s >"$dir/result.json"; then
    log "$s, N=$n ended early; last lines of its server log:"
    tail -n 20 "$dir/server.log" >&2 || true
  fi
  # A partial result (printed before the failure) still goes into the report.
  if [ -s "$dir/result.json" ] && jq -e .policy "$dir/result.json" >/dev/null 2>&1; then
    cp "$dir/result.json" "$results/policy-$s-$n.json"
  fi
  rm -rf "$dir/db.sqlite"*
}
for n in ${BENCH_POLICY_NODES:-2000}; do
  for s in ${BENCH_POLICY_SERVERS:-hs headscale}; do run "$s" "$n"; done
done
for n in ${BENCH_POLICY_HS_NODES-10000}; do
  case " ${BENCH_POLICY_SERVERS:-hs headscale} " in *" hs "*) run hs "$n" ;; esac
done
log "done; uptime:$(uptime)"
shopt -s nullglob
files=("$results"/policy-*.json)
[ ${#files[@]} -gt 0 ] || { log "no result"; exit 1; }
# docs/bench/policy-notes.md, when present, is what a person found in these results; it is
# appended to the section as it is (delete or update it with new results).
notes=()
[ -f "$HS_SRC/docs/bench/policy-notes.md" ] && notes=(--notes "$HS_SRC/docs/bench/policy-notes.md")
"$work/hs-loadgen" policy-report --out "$HS_SRC/docs/benchmarks.md" --hs-version "$hs_version" \
  --generator "tailscale.com $TS_VERSION" --engine "$results/policy-engine.txt" "${notes[@]}" "${files[@]}"
log "wrote the policy section of docs/benchmarks.md"
