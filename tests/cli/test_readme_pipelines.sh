#!/usr/bin/env bash
# The README's pipelines, taken from README.md and run as written: hs-admin on a database this
# test fills, hs-keygen writing its /var/lib/hs path on a tmpfs in a private mount namespace,
# hs-derpmap probing with no network at all (unshare -n: the example host is never contacted).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/admin_lib.sh"
command -v unshare >/dev/null || { echo "unshare is missing" >&2; exit 1; }

# Each pipeline: the lines after a comment, continuation lines joined.
awk '/^### Pipelines/{on=1} on && /^```sh/{inblock=1; next} inblock && /^```/{exit}
     inblock && /^#/{if (cmd != "") print cmd; cmd=""; next}
     inblock && NF {line=$0; cont=sub(/\\$/, "", line); cmd=cmd line; if (!cont) {print cmd; cmd=""}}' \
  "$HS_SRC/README.md" >"$T/pipelines"
[ "$(wc -l <"$T/pipelines")" -ge 5 ] || fail "found $(wc -l <"$T/pipelines") pipelines in README.md"; ok
pipeline() { grep -F -- "$1" "$T/pipelines" || fail "README.md has no pipeline with \"$1\""; }
# sh_run CMD: the pipeline in a private mount and network namespace, the built tools first on PATH.
sh_run() {
  run unshare -mn bash -o pipefail -c "mount -t tmpfs tmpfs /var/lib && cd '$T' && PATH='$(cd "$HS_BIN" && pwd)':\$PATH && $1"
}

run "$A" users create bob; expect_rc 0 "create bob"
run "$A" users create carol; expect_rc 0 "create carol"
bob=$(q "SELECT id FROM users WHERE name = 'bob'")
add_node 1 laptop "$bob" '[]' '[]' 1
add_node 2 phone "$bob" '[]'
add_node 3 router NULL '["10.77.0.0/24","0.0.0.0/0","::/0"]' '["tag:router"]'
q "UPDATE nodes SET ipv4 = '100.64.0.1' WHERE given_name = 'laptop'"

sh_run "$(pipeline 'select(.online)')"; expect_rc 0 "online nodes"; [ "$OUT" = "laptop 100.64.0.1" ] || fail "online nodes"; ok
sh_run "$(pipeline 'routes approve')"; expect_rc 0 "approve routes"
[ "$(q "SELECT approved_routes FROM nodes WHERE given_name = 'router'")" = '["0.0.0.0/0","10.77.0.0/24","::/0"]' ] || fail "approved routes: $(q "SELECT approved_routes FROM nodes WHERE given_name = 'router'")"; ok
sh_run "$(pipeline 'routes list')"; expect_rc 0 "served routes"; ok  # nothing serves without hs-control

expire=$(pipeline 'nodes expire')
sh_run "$expire"; expect_rc 0 "expire bob's nodes"
[ "$(q "SELECT count(*) FROM nodes WHERE user_id = $bob AND expiry <= strftime('%Y-%m-%dT%H:%M:%fZ', 'now')")" = 2 ] || fail "bob's nodes not expired"; ok
sh_run "${expire/-u bob/-u carol}"; expect_rc 0 "expire for a user without nodes"; ok

sh_run "$(pipeline 'hs-keygen') && stat -c %a /var/lib/hs/noise_private.key"; expect_rc 0 "keygen"; [ "$OUT" = 600 ] || fail "key mode"; ok

sh_run "$(pipeline 'hs-derpmap new')"; expect_rc 1 "derp map probe without a network"
[ -s "$T/derp.yaml" ] || fail "derp.yaml not written"; expect_out "900 +d1 .*FAILED: resolve derp.example.com" "probe"; ok
finish
