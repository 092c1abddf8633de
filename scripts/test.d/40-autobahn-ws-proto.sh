# Autobahn|Testsuite against ws-proto, both directions, strict gate, all 517 cases:
#   - the echo-server example tested by wstest's fuzzingclient (server role);
#   - the autobahn-client example run against wstest's fuzzingserver (client role).
# Both run at the same time (each wstest is one CPU-bound Python process); any case that
# is not OK/INFORMATIONAL in behavior and behaviorClose fails the step.
# Summaries: $ARTIFACTS/autobahn-ws-proto-{server,client}.txt (copied to docs/conformance.md).
build_release

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
ab_pids=()
ab_cleanup() { local p; for p in "${ab_pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap ab_cleanup EXIT

echo_port=$(free_port)
fs_port=$(free_port)
server_reports=$ARTIFACTS/autobahn-ws-proto-server
client_reports=$ARTIFACTS/autobahn-ws-proto-client
rm -rf "$server_reports" "$client_reports"

log "ws-proto echo-server on 127.0.0.1:$echo_port"
"$ROOT/target/release/examples/echo-server" "127.0.0.1:$echo_port" >"$ARTIFACTS/ws-proto-echo-server.log" 2>&1 &
ab_pids+=($!)
log "Autobahn fuzzingserver on 127.0.0.1:$fs_port"
AUTOBAHN_REPORTS=$client_reports "$ROOT/scripts/autobahn.sh" fuzzingserver "$fs_port" >"$ARTIFACTS/autobahn-fuzzingserver.log" 2>&1 &
ab_pids+=($!)
wait_port "$echo_port"
wait_port "$fs_port" 120

# Server direction, in the background.
(
  AUTOBAHN_STRICT=1 AUTOBAHN_EXPECT=517 AUTOBAHN_AGENT=ws-proto AUTOBAHN_REPORTS=$server_reports \
    "$ROOT/scripts/autobahn.sh" fuzzingclient "ws://127.0.0.1:$echo_port" >"$ARTIFACTS/autobahn-ws-proto-server.log" 2>&1
) &
server_run=$!

# Client direction, in the foreground.
log "autobahn-client against the fuzzingserver"
client_rc=0
timeout 3600 "$ROOT/target/release/examples/autobahn-client" "ws://127.0.0.1:$fs_port" ws-proto \
  >"$ARTIFACTS/autobahn-ws-proto-client.log" 2>&1 || client_rc=$?
summary_py=$ROOT/../shared/tools/autobahn/summary.py
[ -f "$summary_py" ] || summary_py=$ROOT/scripts/autobahn_summary.py
python3 "$summary_py" --strict "$client_reports/index.json" >"$ARTIFACTS/autobahn-ws-proto-client.txt" 2>&1 || client_rc=1
grep -qx 'autobahn: 517 passed, 0 failed' "$ARTIFACTS/autobahn-ws-proto-client.txt" || client_rc=1

log "waiting for the server direction"
server_rc=0
wait "$server_run" || server_rc=$?
# The summary: from its first line ("agent: ...") to the end of the log.
sed -n '/^agent:/,$p' "$ARTIFACTS/autobahn-ws-proto-server.log" >"$ARTIFACTS/autobahn-ws-proto-server.txt" || true

log "Autobahn, ws-proto as server (echo-server):"
cat "$ARTIFACTS/autobahn-ws-proto-server.txt"
log "Autobahn, ws-proto as client (autobahn-client):"
cat "$ARTIFACTS/autobahn-ws-proto-client.txt"
[ "$server_rc" = 0 ] || die "Autobahn against the ws-proto echo-server failed (log: $ARTIFACTS/autobahn-ws-proto-server.log)"
[ "$client_rc" = 0 ] || die "Autobahn with the ws-proto autobahn-client failed (log: $ARTIFACTS/autobahn-ws-proto-client.log)"
