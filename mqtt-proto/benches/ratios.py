#!/usr/bin/env python3
"""Prints the mqtt-proto / rumqttc ratios of the last `cargo bench -p mqtt-proto`
run as a Markdown table, from criterion's estimates (medians).

    cargo bench -p mqtt-proto && python3 mqtt-proto/benches/ratios.py
"""
import json
import pathlib
import sys

root = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else "target/criterion")


def median(group: str, bench: str):
    path = root / group / bench / "new" / "estimates.json"
    if not path.is_file():
        return None
    return json.loads(path.read_text())["median"]["point_estimate"]


def fmt(ns: float) -> str:
    return f"{ns / 1000:.2f} µs" if ns >= 1000 else f"{ns:.1f} ns"


rows = []
for d in sorted(root.iterdir()):
    if not d.is_dir() or d.name == "report":
        continue
    group = d.name  # criterion flattens "decode/publish_64B/v311" to "decode_publish_64B_v311"
    ours = median(group, "mqtt-proto")
    theirs = median(group, "rumqttc")
    if ours is None or theirs is None:
        continue
    fan = median(group, "mqtt-proto header-only (fan-out)")
    # Decode groups time a batch of 64 packets (benches/codec.rs BATCH): per packet.
    per = 64 if group.startswith("decode") else 1
    ours, theirs, fan = ours / per, theirs / per, (fan / per if fan else None)
    fan_cell = f"{fmt(fan)} ({theirs / fan:.2f}×)" if fan else ""
    received = median(group, "mqtt-proto received")
    received_cell = f"{fmt(received)} ({theirs / received:.2f}×)" if received else ""
    rows.append(
        f"| `{group}` | {fmt(ours)} | {fmt(theirs)} | **{theirs / ours:.2f}×** | {fan_cell} | {received_cell} |"
    )

print(
    "| benchmark (median per packet) | mqtt-proto | rumqttc | speed-up | header-only fan-out (speed-up)"
    " | encode of the decoded packet (speed-up) |"
)
print("|---|---|---|---|---|---|")
print("\n".join(rows))
