#!/usr/bin/env bash
# headscale v0.29.2's config-example.yaml, read from the Go module cache at test time (never
# copied into this repository): hs-control --check accepts every key, and prints one warning
# line for each setting hs handles differently or not at all. Only the paths that would touch
# /var/lib/headscale and the DERP map URL are overridden, through headscale's environment names.
. "$(dirname "$0")/lib.sh"
. "$HS_SRC/tests/interop/versions.env"
command -v go >/dev/null || { echo "FAIL: go is needed to find headscale's module (see .ci/deps.sh)" >&2; exit 1; }
dir=$(go env GOMODCACHE)/github.com/juanfont/headscale@$HEADSCALE_VERSION
[ -f "$dir/config-example.yaml" ] ||
  dir=$(GOFLAGS=-modcacherw GOTOOLCHAIN=local go mod download -json "github.com/juanfont/headscale@$HEADSCALE_VERSION" | jq -r .Dir)
EX=$dir/config-example.yaml
[ -f "$EX" ] || { echo "FAIL: $EX not found" >&2; exit 1; }

"$HS_BIN/hs-derpmap" new --region-id 900 --region-code t --region-name T \
  --node "name=900a,host=127.0.0.1,ipv4=127.0.0.1,ipv6=none,stun=3478,derp=8443,insecure=true" >"$T/derp.yaml"
env_overrides=(HEADSCALE_NOISE_PRIVATE_KEY_PATH="$T/noise.key" HEADSCALE_DATABASE_SQLITE_PATH="$T/db.sqlite"
  HEADSCALE_DERP_URLS='[]' HEADSCALE_DERP_PATHS="[$T/derp.yaml]")

run env "${env_overrides[@]}" "$HS_BIN/hs-control" --check -c "$EX"
expect_rc 0 "hs-control --check on headscale's example"
expect_out "configuration .* is valid" "--check"
[[ "$ERR" != *"unknown key"* ]] || fail "a key of the example is unknown to hs"
ok
# One line per setting hs does not honour, each naming its key(s) and the example's line.
for w in "config-example.yaml:[0-9]*: grpc_listen_addr, grpc_allow_insecure: hs has no gRPC API" \
         "node.routes.ha.probe_interval, node.routes.ha.probe_timeout: hs does not probe subnet routers" \
         "database.debug, database.gorm.prepare_stmt, .*: no effect in hs" \
         "unix_socket, unix_socket_permission: hs has no admin socket"; do
  [ "$(grep -c -- "$w" <<<"$ERR")" = 1 ] || fail "expected one warning matching '$w'"
done
[ "$(grep -c 'warn' <<<"$ERR")" = 4 ] || fail "expected exactly 4 warnings"
ok

# The defaults that differ from hs's own follow headscale's: override_local_dns is true.
run env "${env_overrides[@]}" "$HS_BIN/hs-admin" config check "$EX" -o json
expect_rc 0 "config check"
jq -e '.dns.override_local_dns == true and (.dns.nameservers.global | length) == 4' <<<"$OUT" >/dev/null || fail "dns defaults"
ok

# ACME configured as headscale's keys say: --check names the certificate start-up will request
# (and changes nothing: the cache directory is only checked to be creatable).
sed "s/^tls_letsencrypt_hostname: \"\"/tls_letsencrypt_hostname: hs.example.com/" "$EX" >"$T/acme.yaml"
grep -q '^tls_letsencrypt_hostname: hs.example.com' "$T/acme.yaml" || fail "could not set tls_letsencrypt_hostname"
run env "${env_overrides[@]}" HEADSCALE_TLS_LETSENCRYPT_CACHE_DIR="$T/acme-cache" "$HS_BIN/hs-control" --check -c "$T/acme.yaml"
expect_rc 0 "ACME configured"
expect_out "an ACME certificate for hs.example.com will be requested from https://acme-v02.api.letsencrypt.org/directory" "ACME"
[ ! -e "$T/acme-cache" ] || fail "--check created the ACME cache"
ok
finish
