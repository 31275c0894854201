#!/usr/bin/env bash
# hs-keygen: generation, the private | public pipeline, files, and every rejection.
. "$(dirname "$0")/lib.sh"
K=$HS_BIN/hs-keygen
HEX64='[0-9a-f]{64}'

run "$K" private
expect_rc 0 "private"; expect_out "^privkey:$HEX64\$" "private"; ok
echo "$OUT" >"$T/priv"

for t in machine noise; do
  run --stdin "$T/priv" "$K" public --type $t; expect_rc 0 "public $t"; expect_out "^mkey:$HEX64\$" "public $t"; ok
done
for t in node derp; do
  run --stdin "$T/priv" "$K" public --type $t; expect_rc 0 "public $t"; expect_out "^nodekey:$HEX64\$" "public $t"; ok
done
run --stdin "$T/priv" "$K" public --type disco; expect_out "^discokey:$HEX64\$" "public disco"; ok

# Same hex in every public form: one key, three prefixes.
a=$("$K" public --type node <"$T/priv"); b=$("$K" public --type machine <"$T/priv")
[ "${a#nodekey:}" = "${b#mkey:}" ] || { RC=0; OUT="$a $b"; fail "prefixes differ in key bytes"; }; ok

# The pipeline from the README round-trips: generating twice gives different keys.
p1=$("$K" private | "$K" public); p2=$("$K" private | "$K" public)
[[ "$p1" =~ ^mkey:$HEX64$ ]] && [ "$p1" != "$p2" ] || { RC=0; OUT="$p1 $p2"; fail "pipeline"; }; ok

# Bad keys on stdin: non-zero, one line on stderr, nothing on stdout.
bad() {
  printf '%s' "$1" >"$T/bad"
  run --stdin "$T/bad" "$K" public
  expect_rc 1 "$2"; expect_no_out "$2"
  [ "$(printf '%s\n' "$ERR" | wc -l)" = 1 ] || fail "$2: stderr is not one line"
  expect_err "$3" "$2"; ok
}
bad "" "empty input" "empty input"
bad "garbage" "garbage" "expected \"privkey:\" followed by 64 hex characters"
bad "nodekey:$(printf 'a%.0s' $(seq 64))" "public key given" "got prefix \"nodekey:\""
bad "privkey:$(printf 'a%.0s' $(seq 63))" "short" "got 63"
bad "privkey:$(printf 'a%.0s' $(seq 65))" "long" "got 65"
bad "privkey:$(printf 'a%.0s' $(seq 63))z" "non-hex" "non-hex character at position 64"
bad '{"PrivateKey": 1}' "bad JSON key file" "PrivateKey"
head -c 100000 /dev/zero | tr '\0' 'a' >"$T/huge"
run --stdin "$T/huge" "$K" public; expect_rc 1 "huge stdin"; expect_no_out "huge stdin"; expect_err "longer than" "huge stdin"; ok

# Key files headscale and derper write.
priv=$(cat "$T/priv")
want=$("$K" public --type derp <"$T/priv")
printf '%s' "$priv" >"$T/noise_private.key"            # headscale: no trailing newline
run "$K" public --type derp --in "$T/noise_private.key"; [ "$OUT" = "$want" ] || fail "headscale key file"; ok
printf '{"PrivateKey":"%s"}\n' "$priv" >"$T/derper.key"  # derper's JSON key file
run "$K" public --type derp --in "$T/derper.key"; [ "$OUT" = "$want" ] || fail "derper key file"; ok
run "$K" public --in "$T/missing.key"; expect_rc 1 "missing file"; expect_err "missing.key: cannot open" "missing file"; ok

# --out: mode 0600, refuses to overwrite without --force, writes nothing on stdout.
run "$K" private --out "$T/k1"; expect_rc 0 "--out"; expect_no_out "--out"
[ "$(stat -c %a "$T/k1")" = 600 ] || fail "mode is $(stat -c %a "$T/k1")"; ok
before=$(cat "$T/k1")
run "$K" private --out "$T/k1"; expect_rc 1 "no overwrite"; expect_err "already exists" "no overwrite"
[ "$(cat "$T/k1")" = "$before" ] || fail "file changed without --force"; ok
run "$K" private --out "$T/k1" --force; expect_rc 0 "--force"; [ "$(cat "$T/k1")" != "$before" ] || fail "--force did not replace"; ok
[ "$(stat -c %a "$T/k1")" = 600 ] || fail "mode after --force"; ok
run "$K" private --out "$T/nodir/sub/k"; expect_rc 0 "missing directory"
[ "$(stat -c %a "$T/nodir") $(stat -c %a "$T/nodir/sub") $(stat -c %a "$T/nodir/sub/k")" = "700 700 600" ] || fail "modes of made directories"; ok
touch "$T/afile"
run "$K" private --out "$T/afile/k"; expect_rc 1 "under a file"; expect_err "cannot create" "under a file"; ok
ls -a "$T" | grep -q '\.tmp' && fail "temporary file left behind"; ok

# derper's JSON format out, read back.
run "$K" private --format json; expect_out '^\{"PrivateKey":"privkey:[0-9a-f]{64}"\}$' "json"; ok

# Usage errors exit 2.
run "$K"; expect_rc 2 "no subcommand"; ok
run "$K" private --type wireguard; expect_rc 2 "bad type"; expect_err "wireguard" "bad type"; ok
run "$K" --version; expect_rc 0 "--version"; expect_out '^hs-keygen [0-9]' "--version"; ok
finish
