#!/usr/bin/env bash
# Throughput cost of the store's durability modes (issue 7): QoS 1 fan-in to
# persistent subscribers with the server's store in `memory`, `sync` and
# `periodic` mode. Each repetition runs every mode once, each on a fresh server
# and a fresh data directory; the modes alternate so machine noise spreads evenly.
#
#   bench/durability-cost.sh [REPS] [extra realtime-bench fanin flags...]
#
# Needs the release binaries (cargo build --release -p realtime-server -p realtime-bench).
# Prints one line per run (mode, rep, the bench's report) and the medians per mode.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
REPS=${1:-5}
shift || true
SERVER=$ROOT/target/release/realtime-server
BENCH=$ROOT/target/release/realtime-bench
MODES=${MODES:-memory sync periodic}
PORT=${PORT:-18830}
HTTP_PORT=$((PORT + 1))
OUT=${OUT:-$(mktemp -d)}
[ -x "$SERVER" ] && [ -x "$BENCH" ] || { echo "build the release binaries first" >&2; exit 1; }

server_pid=
data=
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$data" ]; then rm -rf "$data"; fi
}
trap cleanup EXIT

for rep in $(seq 1 "$REPS"); do
  for mode in $MODES; do
    data=$(mktemp -d)
    "$SERVER" --mqtt-listen "127.0.0.1:$PORT" --http-listen "127.0.0.1:$HTTP_PORT" \
      --durability "$mode" --data-dir "$data" --log-level warn >"$OUT/server-$mode-$rep.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && break
      sleep 0.1
    done
    "$BENCH" fanin --mqtt "127.0.0.1:$PORT" --qos 1 --session-expiry 3600 \
      --server-pid "$server_pid" --quiet "$@" >"$OUT/bench-$mode-$rep.txt"
    printf '%s rep %s: %s\n' "$mode" "$rep" "$(tr '\n' ' ' <"$OUT/bench-$mode-$rep.txt")"
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    rm -rf "$data"
    data=
  done
done
echo "raw reports in $OUT"
python3 - "$OUT" $MODES <<'PY'
import json, statistics, sys, glob
out, modes = sys.argv[1], sys.argv[2:]
keys = ["published_per_s", "delivered_per_s", "latency_p99_ms", "lost", "server_cpu_s"]
med = {}
for m in modes:
    runs = [json.load(open(f)) for f in sorted(glob.glob(f"{out}/bench-{m}-*.txt"))]
    med[m] = {k: statistics.median(r[k] for r in runs) for k in keys}
    print(f"median of {len(runs)} {m}: " + ", ".join(f"{k} {med[m][k]:,.3f}" for k in keys))
if "memory" in med:
    for m in modes:
        if m != "memory":
            for k in ["published_per_s", "delivered_per_s"]:
                print(f"{m} / memory {k}: {med[m][k] / med['memory'][k]:.2f}")
PY
