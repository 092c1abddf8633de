# Autobahn|Testsuite against the real server binary's /echo route, started with its
# defaults (permessage-deflate with no context takeover), strict gate, all 517 cases.
# Summary: $ARTIFACTS/autobahn-server.txt (copied to docs/conformance.md).
build_release

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
mqtt_port=$(free_port)
http_port=$(free_port)
reports=$ARTIFACTS/autobahn-server
rm -rf "$reports"

log "realtime-server on 127.0.0.1:$mqtt_port (MQTT) and 127.0.0.1:$http_port (HTTP)"
"$ROOT/target/release/realtime-server" --mqtt-listen "127.0.0.1:$mqtt_port" --http-listen "127.0.0.1:$http_port" \
  >"$ARTIFACTS/autobahn-server-realtime.log" 2>&1 &
server_pid=$!
trap 'kill $server_pid 2>/dev/null || true' EXIT
wait_port "$http_port"

rc=0
AUTOBAHN_STRICT=1 AUTOBAHN_EXPECT=517 AUTOBAHN_AGENT=realtime-server AUTOBAHN_REPORTS=$reports \
  "$ROOT/scripts/autobahn.sh" fuzzingclient "ws://127.0.0.1:$http_port/echo" >"$ARTIFACTS/autobahn-server.log" 2>&1 || rc=$?
sed -n '/^agent:/,$p' "$ARTIFACTS/autobahn-server.log" >"$ARTIFACTS/autobahn-server.txt" || true
log "Autobahn, realtime-server /echo:"
cat "$ARTIFACTS/autobahn-server.txt"
kill "$server_pid" 2>/dev/null || true
[ "$rc" = 0 ] || die "Autobahn against realtime-server /echo failed (log: $ARTIFACTS/autobahn-server.log)"
