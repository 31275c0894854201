#!/usr/bin/env bash
# `make run`: a complete tailnet on this machine. First start creates VAR (default ./var) with
# a config, keys and the SQLite file; every start runs hs-control on 127.0.0.1:8080 with the
# embedded DERP relay and STUN server.
set -euo pipefail
# The config, keys and SQLite file are for this user alone (hs-control refuses keys others may read).
umask 077
bin=${1:-build/bin}
var=${2:-var}
mkdir -p "$var"
var=$(cd "$var" && pwd)
bin=$(cd "$bin" && pwd)
cfg="$var/config.yaml"
if [ ! -f "$cfg" ]; then
  cat >"$cfg" <<EOC
# Created by 'make run'. Every key is described in examples/config.yaml.
server_url: http://127.0.0.1:8080
listen_addr: 127.0.0.1:8080
metrics_listen_addr: 127.0.0.1:9090
noise:
  private_key_path: noise_private.key
database:
  sqlite:
    path: db.sqlite
dns:
  magic_dns: true
  base_domain: tailnet.internal
derp:
  server:
    enabled: true
    region_id: 999
    region_code: local
    region_name: hs embedded DERP
    stun_listen_addr: 127.0.0.1:3478
    # DERP speaks TLS; with a plain-http server_url it gets its own port and a self-signed
    # certificate that clients pin through the DERP map.
    tls_listen_addr: 127.0.0.1:8443
    private_key_path: derp_server_private.key
log:
  level: info
EOC
  echo "make run: created $cfg" >&2
fi
cat >&2 <<EOM

hs-control is starting with $cfg (SQLite file, keys and config all in $var).
To join a device:

  $bin/hs-admin -c $cfg users create me
  KEY=\$($bin/hs-admin -c $cfg preauthkeys create -u me --reusable -e 24h)
  tailscale up --login-server http://127.0.0.1:8080 --auth-key "\$KEY"

Stop with Ctrl-C.

EOM
exec "$bin/hs-control" -c "$cfg"
