#!/usr/bin/env bash
# Built-in accounts from the command line: users set-password never takes a password from argv,
# bounds and checks what it reads (empty, 1 MB, the policy), stores only an argon2id hash;
# users mfa enroll prints the otpauth:// URI, a QR code and recovery codes kept only as hashes;
# users mfa disable removes them. Each change has an audit row without the secret.
. "$(dirname "$0")/lib.sh"
# Cheap hashes: the test checks behaviour, not the cost.
ADMIN_EXTRA_CONFIG='auth: {local: {enabled: true, opslimit: 1, memlimit_mib: 8}}'
. "$(dirname "$0")/admin_lib.sh"

"$A" users create alice >/dev/null
"$A" users create admin >/dev/null

run "$A" users set-password alice 'Blue-kettle-4891'
expect_fail "a password on the command line is refused" "password as argument"; ok
run "$A" users set-password alice --password 'Blue-kettle-4891'
expect_fail "a password on the command line is refused" "password as flag"; ok
[ "$(q 'SELECT COUNT(*) FROM local_credentials')" = 0 ] || fail "a refused command stored something"; ok

printf '' >"$T/empty"
run --stdin "$T/empty" "$A" users set-password alice
expect_fail "the password is empty" "empty password"; ok
head -c 1048576 /dev/zero | tr '\0' 'a' >"$T/big"
run --stdin "$T/big" "$A" users set-password alice
expect_fail "the password is too long: at most 256 bytes" "1 MB password"; ok
for bad in "Short-1:too short" "alllowercaseletters:kinds of character" "Password123456!:commonly used" \
           "My-alice-is-9999:the user's name"; do
  printf '%s\n' "${bad%%:*}" >"$T/pw"
  run --stdin "$T/pw" "$A" users set-password alice
  expect_fail "${bad#*:}" "policy: ${bad%%:*}"; ok
done
printf 'Blue-kettle-4891\n' >"$T/pw"
run --stdin "$T/pw" "$A" users set-password admin
expect_fail 'user name "admin" is refused for accounts that sign in' "reserved name"; ok
run --stdin "$T/pw" "$A" users set-password nobody
expect_fail 'not found' "unknown user"; ok
run --stdin "$T/pw" "$A" --remote http://127.0.0.1:1 users set-password alice
expect_fail "works on the server's database only" "--remote"; ok

run --stdin "$T/pw" "$A" users set-password alice
expect_rc 0 "set-password"; expect_out "password set for user alice" "set-password"; ok
[[ "$(q 'SELECT password_hash FROM local_credentials WHERE user_id = 1')" == '$argon2id$v=19$m=8192,t=1,p=1$'* ]] ||
  fail "stored hash is not argon2id"; ok
[ "$(q "SELECT COUNT(*) FROM audit_log WHERE action = 'users.set_password' AND object = 'user 1 (alice)'")" = 1 ] ||
  fail "no audit row"; ok
! grep -q "Blue-kettle" "$DB" || fail "the password is in the database file"; ok

run "$A" users mfa enroll alice
expect_rc 0 "mfa enroll"
expect_out "otpauth://totp/hs%20127\.0\.0\.1:alice\?secret=[A-Z2-7]{32}&issuer=hs%20127\.0\.0\.1&algorithm=SHA1&digits=6&period=30" "enroll URI"; ok
[[ "$OUT" == *"█"* && "$OUT" == *"▀"* ]] || fail "no QR code printed"; ok
[ "$(grep -cE '^  [a-z2-9]{5}-[a-z2-9]{5}$' <<<"$OUT")" = 10 ] || fail "not 10 recovery codes"; ok
CODE=$(grep -oE '^  [a-z2-9]{5}-[a-z2-9]{5}$' <<<"$OUT" | sed -n 1p | tr -d ' ')
[ "$(q 'SELECT COUNT(*) FROM recovery_codes WHERE user_id = 1 AND used_at IS NULL')" = 10 ] || fail "codes not stored"; ok
! grep -q "$CODE" "$DB" || fail "a recovery code is stored in clear"; ok
run "$A" users mfa enroll alice -o json
expect_rc 0 "enroll -o json"; jqt '(.otpauth_uri | startswith("otpauth://totp/")) and (.recovery_codes | length) == 10'; ok
[ "$(q 'SELECT COUNT(*) FROM recovery_codes')" = 10 ] || fail "enrolling again did not replace the codes"; ok

run "$A" users mfa disable alice
expect_rc 0 "mfa disable"; expect_out "two-step sign-in removed for user alice" "disable"; ok
[ "$(q "SELECT totp_secret FROM local_credentials")$(q "SELECT COUNT(*) FROM recovery_codes")" = 0 ] ||
  fail "secrets left"; ok
run "$A" users mfa disable alice
expect_fail "has no two-step sign-in enrolled" "disable twice"; ok
[ "$(q "SELECT group_concat(action) FROM audit_log WHERE action LIKE 'users.mfa%'")" = \
  "users.mfa_enrolled,users.mfa_enrolled,users.mfa_disabled" ] || fail "mfa audit rows"; ok
finish
