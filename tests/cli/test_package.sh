#!/usr/bin/env bash
# `make package` (CPack DEB, packaging/package.cmake) from the build tree under test: the control
# fields, conffiles and postinst; every file's place and mode; stripped binaries whose --version
# runs; and an install into a scratch root (dpkg --root, maintainer scripts without chroot and
# told the root through DPKG_ROOT) that creates the hs user there, then removal and purge that
# leave nothing of the package behind. Never touches the real system's dpkg database.
. "$(dirname "$0")/lib.sh"
for t in cpack dpkg dpkg-deb file; do command -v $t >/dev/null || fail "$t is not installed"; done
BUILD=$(cd "$HS_BIN/.." && pwd)
[ -f "$BUILD/CPackConfig.cmake" ] || fail "$BUILD has no CPackConfig.cmake"

run cpack -G DEB --config "$BUILD/CPackConfig.cmake" -B "$T/pkg"; expect_rc 0 "cpack"
DEB=$(ls "$T"/pkg/hs_*.deb) || fail "no package in $T/pkg: $OUT"
VERSION=$(dpkg-deb -f "$DEB" Version)
ok

# Control: name, dependencies found by dpkg-shlibdeps, the conffile, a postinst.
[ "$(dpkg-deb -f "$DEB" Package)" = hs ] || fail "package name"
deps=$(dpkg-deb -f "$DEB" Depends)
for d in libc6 libsodium23 libsqlite3-0 libssl3 libnghttp2-14 libyaml-cpp; do [[ "$deps" == *"$d"* ]] || fail "Depends lacks $d: $deps"; done
dpkg-deb -e "$DEB" "$T/control"
[ "$(cat "$T/control/conffiles")" = /etc/hs/config.yaml ] || fail "conffiles: $(cat "$T/control/conffiles")"
[ -x "$T/control/postinst" ] || fail "no executable postinst"
ok

# Every file, with its mode, and nothing else.
{
  for b in hs-control hs-derper hs-stun hs-keygen hs-derpmap; do echo "0755 ./usr/bin/$b"; done
  echo "0755 ./usr/sbin/hs-admin"
  for m in hs-derpmap.1 hs-keygen.1; do echo "0644 ./usr/share/man/man1/$m.gz"; done
  for m in hs-admin.8 hs-control.8 hs-derper.8 hs-stun.8; do echo "0644 ./usr/share/man/man8/$m.gz"; done
  for b in hs-admin hs-control hs-derper hs-derpmap hs-keygen hs-stun; do
    echo "0644 ./usr/share/bash-completion/completions/$b"
    echo "0644 ./usr/share/zsh/vendor-completions/_$b"
    echo "0644 ./usr/share/fish/vendor_completions.d/$b.fish"
  done
  for u in hs-control hs-derper hs-stun hs-audit-check; do echo "0644 ./lib/systemd/system/$u.service"; done
  echo "0644 ./lib/systemd/system/hs-audit-check.timer"
  echo "0644 ./usr/lib/sysusers.d/hs.conf"
  echo "0644 ./etc/hs/config.yaml"
  echo "0644 ./usr/share/doc/hs/examples/policy.hujson"
} | sort -k2 >"$T/want"
mkdir "$T/x" && dpkg-deb -x "$DEB" "$T/x"
(cd "$T/x" && find . -type f -printf '%04m %p\n' | sort -k2) >"$T/got"
diff -u "$T/want" "$T/got" >"$T/diff" || fail "package files differ from the list: $(cat "$T/diff")"
[ -z "$(find "$T/x" -type d ! -perm 0755)" ] || fail "directories not 0755: $(find "$T/x" -type d ! -perm 0755)"
dpkg-deb -c "$DEB" | awk '$2 != "root/root" { bad = 1; print } END { exit bad }' >"$T/owners" || fail "files not owned by root: $(cat "$T/owners")"
ok
for f in "$T"/x/usr/bin/* "$T"/x/usr/sbin/*; do
  file "$f" | grep -q ', stripped' || fail "$(basename "$f") is not stripped"
done
for f in "$T"/x/usr/share/man/man*/*.gz; do gzip -t "$f" || fail "$f is not gzip"; done
grep -q '^ExecStart=/usr/bin/hs-control -c /etc/hs/config.yaml$' "$T/x/lib/systemd/system/hs-control.service" || fail "hs-control.service ExecStart"
grep -q '^ExecStart=/usr/sbin/hs-admin -c /etc/hs/config.yaml audit check$' "$T/x/lib/systemd/system/hs-audit-check.service" || fail "hs-audit-check.service ExecStart"
[ -x "$T/x$(sed -n 's/^ExecStart=\([^ ]*\).*/\1/p' "$T/x/lib/systemd/system/hs-audit-check.service")" ] || fail "hs-audit-check.service names a binary the package does not ship"
! grep -q /usr/local "$T"/x/lib/systemd/system/* || fail "a unit still names /usr/local"
ok

# The packaged config: valid, with its state in /var/lib/hs (where the units may write).
run "$T/x/usr/sbin/hs-admin" -c "$T/x/etc/hs/config.yaml" config check -o json; expect_rc 0 "config check of the packaged config"
jq -e '.noise.private_key_path == "/var/lib/hs/noise_private.key" and .database.sqlite.path == "/var/lib/hs/db.sqlite"
  and .derp.server.private_key_path == "/var/lib/hs/derp_server_private.key"' <<<"$OUT" >/dev/null || fail "packaged config paths: $OUT"
ok

# A scratch root: its own dpkg database; dependencies are the host's, not the scratch root's.
R="$T/root"
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates" "$R/etc"
touch "$R/var/lib/dpkg/status"
NR=(); [ "$(id -u)" = 0 ] || NR=(--force-not-root)
D=(dpkg --root="$R" --log="$T/dpkg.log" --force-script-chrootless --force-depends "${NR[@]}")
run "${D[@]}" -i "$DEB"; expect_rc 0 "dpkg -i into the scratch root"; ok
[ "$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Status} ${Version}' hs)" = "install ok installed $VERSION" ] || fail "dpkg does not list hs as installed"
# Besides the package: dpkg's database and what systemd-sysusers writes for the hs user.
(cd "$R" && find . -type f ! -path './var/lib/dpkg/*' ! -path './etc/passwd' ! -path './etc/group' ! -path './etc/shadow' \
  ! -path './etc/gshadow' ! -path './etc/.pwd.lock' -printf '%04m %p\n' | sort -k2) >"$T/installed"
diff -u "$T/want" "$T/installed" >"$T/diff" || { cat "$T/diff" >&2; fail "installed files differ"; }
ok
if command -v systemd-sysusers >/dev/null; then
  grep -q '^hs:x:[0-9]*:[0-9]*:hs tailnet services:/var/lib/hs:' "$R/etc/passwd" || fail "postinst did not create the hs user in the scratch root: $(cat "$R/etc/passwd" 2>&1)"
  ok
fi
for b in hs-control hs-derper hs-stun hs-keygen hs-derpmap; do
  run "$R/usr/bin/$b" --version; expect_rc 0 "$b --version"; [ "$OUT" = "$b $VERSION" ] || fail "$b --version: $OUT"
done
run "$R/usr/sbin/hs-admin" --version; expect_rc 0 "hs-admin --version"; [ "$OUT" = "hs-admin $VERSION" ] || fail "hs-admin --version: $OUT"
ok

# Remove keeps the edited conffile (Debian's rule); purge takes it too. Nothing else remains.
echo "# edited" >>"$R/etc/hs/config.yaml"
run "${D[@]}" -r hs; expect_rc 0 "dpkg -r"
[ -f "$R/etc/hs/config.yaml" ] || fail "remove deleted the conffile"
[ -z "$(find "$R/usr" "$R/lib" -type f 2>/dev/null)" ] || fail "remove left files: $(find "$R/usr" "$R/lib" -type f)"
run "${D[@]}" -P hs; expect_rc 0 "dpkg -P"
[ ! -e "$R/etc/hs/config.yaml" ] || fail "purge left the conffile"
[ -z "$(dpkg-query --admindir="$R/var/lib/dpkg" -W hs 2>/dev/null)" ] || fail "dpkg still lists hs after purge"
ok
echo "package: $(basename "$DEB"), $(wc -l <"$T/want") files, $(du -k "$DEB" | cut -f1) KiB" >&2
finish
