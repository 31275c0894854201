#!/usr/bin/env bash
# What the config gives clients, seen by the official client: split DNS, search domains and
# extra records; a DERP map fetched from derp.urls and refreshed on SIGHUP; a tagged pre-auth
# key; and node-key rotation (tailscale up --force-reauth) keeping the node and its address.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/control.sh"
need_root
ts_install
lab_bridge
ip=${LAB_SUBNET}1
web=$((16000 + LAB_ID))
mkdir -p "$LAB/www"
"$HS_BIN/hs-derpmap" new -o json --region-id 902 --region-code url --region-name "From a URL" \
  --node "name=902a,host=$ip,ipv4=$ip,ipv6=none,stun=-1,derp=1,insecure=true" >"$LAB/www/derp.json" || fail "hs-derpmap new"
python3 -m http.server "$web" --bind "$ip" --directory "$LAB/www" >"$LAB/www.log" 2>&1 &
LAB_PIDS+=("$!")
eventually 10 curl -sf "http://$ip:$web/derp.json" || fail "map server did not start"

control_config \
  "dns: {base_domain: hs.test, search_domains: [corp.example], nameservers: {split: {corp.example: [$ip]}}, extra_records: [{name: grafana.hs.test, type: A, value: 100.64.0.99}]}"
sed -i "s|^derp: .*|derp: {paths: [derp.yaml], urls: ['http://$ip:$web/derp.json']}|" "$CONTROL_DIR/config.yaml"
sed -i '/^dns: {base_domain: hs.test}$/d' "$CONTROL_DIR/config.yaml"
control_start
admin users create alice >/dev/null
key=$(admin preauthkeys create -u alice --reusable)
tkey=$(admin preauthkeys create --tags tag:server --reusable)
host_add ca 1; host_add cb 2
ts_start ca 41641; ts_start cb 41642
ts_up ca "$key" || fail "up ca"
ts_up cb "$tkey" || fail "up cb with a tagged key"

dns=$(ts ca debug netmap | jq -c .DNS)
echo "$dns" | jq -e '.Routes["corp.example"][0].Addr == "'"$ip"'"' >/dev/null || fail "split DNS route missing: $dns"
echo "$dns" | jq -e '.Domains | index("corp.example") != null' >/dev/null || fail "search domain missing: $dns"
pass "the client's DNS config has the split route and search domain: $(echo "$dns" | jq -c '{Routes, Domains}')"
answer=$(ts ca dns query grafana.hs.test A 2>&1) || fail "dns query failed: $answer"
grep -q "100.64.0.99" <<<"$answer" || fail "extra record not served: $answer"
pass "MagicDNS answers the extra record grafana.hs.test -> 100.64.0.99"

[ "$(ts ca debug derp-map | jq -r '.Regions["902"].RegionName')" = "From a URL" ] || fail "region from derp.urls missing"
pass "the DERP map fetched from derp.urls reached the client"
"$HS_BIN/hs-derpmap" new -o json --region-id 902 --region-code url --region-name "Renamed" \
  --node "name=902a,host=$ip,ipv4=$ip,ipv6=none,stun=-1,derp=1,insecure=true" >"$LAB/www/derp.json"
kill -HUP "$CONTROL_PID"
derp_name_is() { [ "$(ts ca debug derp-map | jq -r '.Regions["902"].RegionName')" = "$1" ]; }
eventually 15 derp_name_is Renamed || fail "the refreshed DERP map did not reach the client"
pass "after SIGHUP the changed map at the URL reached the connected client"

[ "$(admin nodes list -o json | jq -c '.[] | select(.name=="cb") | .tags')" = '["tag:server"]' ] || fail "cb is not tagged"
eventually 5 peer_is ca cb '.Tags | join(",")' tag:server || fail "ca does not see cb's tag"
pass "a tagged pre-auth key made a tagged node; its peer sees Tags [tag:server]"

before=$(admin nodes list -o json | jq -c '.[] | select(.name=="ca") | [.id, .node_key, .ip_addresses]')
ts ca up --login-server="$CONTROL_URL" --auth-key="$key" --hostname=ca --force-reauth --timeout=60s || fail "force-reauth failed"
after=$(admin nodes list -o json | jq -c '.[] | select(.name=="ca") | [.id, .node_key, .ip_addresses]')
[ "$(echo "$before" | jq -c '[.[0], .[2]]')" = "$(echo "$after" | jq -c '[.[0], .[2]]')" ] || fail "rotation changed id or IPs: $before -> $after"
[ "$(echo "$before" | jq -r '.[1]')" != "$(echo "$after" | jq -r '.[1]')" ] || fail "node key did not change: $after"
[ "$(admin nodes list -o json | jq 'length')" = 2 ] || fail "rotation created a second node"
eventually 10 status_is ca .BackendState Running || fail "ca not Running after rotation"
pass "tailscale up --force-reauth rotated the node key ($(echo "$before" | jq -r '.[1]' | cut -c1-16)... -> $(echo "$after" | jq -r '.[1]' | cut -c1-16)...) and kept node $(echo "$after" | jq -r '.[0]') and its addresses"
finish
