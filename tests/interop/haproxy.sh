# examples/haproxy/hs.cfg made runnable by a test (source after lib.sh): the tests run the
# example itself, so it stays a configuration that works.

# haproxy_config OUT BIND SERVER...: writes the example to OUT with BIND as its frontend's bind
# line (after "bind "), the servers SERVER... (host:port; hs1, hs2, ... in order) instead of its
# three, and without what only root can do (chroot, user, group; maxconn, which raises the file
# limit) or syslog (stdout instead). Over plain HTTP (a BIND without ssl) the stickiness cookie
# loses "secure". Fails when the example no longer has the lines it replaces.
haproxy_config() {
  local out=$1 bind=$2 i=0 s
  shift 2
  local drop_secure=()
  [[ "$bind" == *" ssl "* ]] || drop_secure=(-e "s| httponly secure$| httponly|")
  sed -e "s|^\( *\)bind :443 ssl crt /etc/haproxy/certs/hs.example.com.pem alpn http/1.1$|\1bind $bind|" \
    -e "s|^\( *\)log /dev/log local0|\1log stdout format raw local0|" \
    -e "/^ *\(chroot\|user\|group\|maxconn\) /d" -e "/^ *server hs[0-9]* /d" "${drop_secure[@]}" \
    "$HS_SRC/examples/haproxy/hs.cfg" >"$out"
  # The backend is the example's last section: the servers go at its end.
  for s in "$@"; do
    i=$((i + 1))
    echo "    server hs$i $s cookie hs$i" >>"$out"
  done
  for want in "bind $bind" "log stdout format raw local0" "server hs1 $1 cookie hs1"; do
    grep -qF "$want" "$out" || fail "examples/haproxy/hs.cfg changed shape: could not set '$want' in it"
  done
  ! grep -qE "^ *(chroot|user|group|maxconn) " "$out" || fail "examples/haproxy/hs.cfg changed shape: a root-only line is left"
  [ "$(tail -n "$#" "$out" | grep -c '^    server ')" = "$#" ] && [ "$(grep -c '^ *server ' "$out")" = "$#" ] ||
    fail "examples/haproxy/hs.cfg changed shape: the backend is not its last section"
}
