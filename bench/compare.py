#!/usr/bin/env python3
"""Side-by-side benchmarks of realtime-server against its peers (issue 8).

Installs and starts the peers itself -- Mosquitto (Debian package), rumqttd
(`cargo install`), and WebSocket echo servers on tokio-tungstenite and fastwebsockets
(bench/peer-echo) -- then runs the same realtime-bench scenarios against each of them
and against the release build of realtime-server, alternating servers within every
repetition, and writes the medians, the ratios (ours / peer), the issue's target table
and a chart into BENCHMARKS.md (section "## realtime-server vs peers").

Not part of CI: it takes about 15 minutes and the numbers depend on what else the
machine runs. Python standard library only; the chart is a hand-written SVG.

    bench/compare.py                      # everything, 3 repetitions
    bench/compare.py --reps 1 --duration 2 --only fanin-q0,ws-echo-16   # a quick look
"""

import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "target" / "release"
PEER_ECHO = ROOT / "bench" / "peer-echo"
RESULTS = ROOT / "bench" / "results"
BEGIN = "<!-- realtime-server vs peers: begin (written by bench/compare.py) -->"
END = "<!-- realtime-server vs peers: end -->"


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


def run(cmd, **kw):
    log(" ".join(str(c) for c in cmd))
    subprocess.run(cmd, check=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc, limit=30.0):
    end = time.time() + limit
    while time.time() < end:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port} after {limit}s")


# --------------------------------------------------------------------------- setup

def install_peers():
    if shutil.which("mosquitto") is None and not Path("/usr/sbin/mosquitto").exists():
        run(["apt-get", "update", "-qq"])
        run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "mosquitto"])
    if shutil.which("rumqttd") is None:
        # `--locked` pins metrics 0.22.1, which Rust >= 1.89 refuses (E0521, rust#141402);
        # without it cargo picks the fixed patch release of the same minor version.
        try:
            run(["cargo", "install", "--locked", "-q", "rumqttd"])
        except subprocess.CalledProcessError:
            log("rumqttd does not build with --locked on this toolchain; retrying unlocked")
            run(["cargo", "install", "-q", "rumqttd"])
    run(["cargo", "build", "--release", "-q", "-p", "realtime-server", "-p", "realtime-bench"],
        cwd=ROOT)
    run(["cargo", "build", "--release", "-q", "-p", "ws-proto", "--example", "echo-server"],
        cwd=ROOT)
    run(["cargo", "build", "--release", "-q", "--manifest-path", str(PEER_ECHO / "Cargo.toml")],
        cwd=ROOT)


def tool_versions():
    out = {}
    try:
        v = subprocess.run(["mosquitto", "-h"], capture_output=True, text=True).stdout
        out["mosquitto"] = v.splitlines()[0].split("version")[-1].strip() if v else "?"
    except OSError:
        out["mosquitto"] = "?"
    try:
        v = subprocess.run(["rumqttd", "--version"], capture_output=True, text=True).stdout
        out["rumqttd"] = (v.split() or ["?"])[-1]
    except OSError:
        out["rumqttd"] = "?"
    lock = (PEER_ECHO / "Cargo.lock")
    if lock.exists():
        text = lock.read_text()
        for name in ("tokio-tungstenite", "fastwebsockets"):
            i = text.find(f'name = "{name}"\nversion = "')
            if i >= 0:
                out[name] = text[i:].split('"')[3]
    return out


# --------------------------------------------------------------------------- servers

class Server:
    """A server process on free ports; `urls` tells the scenarios where it listens."""

    def __init__(self, name, workdir):
        self.name = name
        self.workdir = Path(workdir)
        self.proc = None
        self.urls = {}

    def command(self):
        raise NotImplementedError

    def start(self):
        cmd, port = self.command()
        logf = open(self.workdir / f"{self.name}.log", "ab")
        self.proc = subprocess.Popen(cmd, stdout=logf, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        wait_port(port, self.proc)
        time.sleep(0.3)
        return self

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid


class Ours(Server):
    def command(self):
        m, h = free_port(), free_port()
        self.urls = {"mqtt": f"127.0.0.1:{m}", "echo": f"ws://127.0.0.1:{h}/echo",
                     "ws": f"ws://127.0.0.1:{h}/ws"}
        env_cmd = [str(TARGET / "realtime-server"), "--mqtt-listen", f"127.0.0.1:{m}",
                   "--http-listen", f"127.0.0.1:{h}"]
        return env_cmd, m

    def start(self):
        os.environ.setdefault("RUST_LOG", "warn")
        return super().start()


class Mosquitto(Server):
    def command(self):
        p = free_port()
        conf = self.workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {p} 127.0.0.1\nallow_anonymous true\npersistence false\n"
            "log_dest none\nmax_keepalive 65535\n")
        self.urls = {"mqtt": f"127.0.0.1:{p}"}
        return [shutil.which("mosquitto") or "/usr/sbin/mosquitto", "-c", str(conf)], p


class Rumqttd(Server):
    def command(self):
        p = free_port()
        conf = self.workdir / "rumqttd.toml"
        conf.write_text(f"""id = 0
[router]
id = 0
max_connections = 30000
max_outgoing_packet_count = 200
max_segment_size = 104857600
max_segment_count = 10

[v4.1]
name = "v4-1"
listen = "127.0.0.1:{p}"
next_connection_delay_ms = 0
    [v4.1.connections]
    connection_timeout_ms = 60000
    max_payload_size = 1048576
    max_inflight_count = 100
    dynamic_filters = true
""")
        self.urls = {"mqtt": f"127.0.0.1:{p}"}
        return ["rumqttd", "--config", str(conf)], p


class EchoBin(Server):
    def __init__(self, name, workdir, binary):
        super().__init__(name, workdir)
        self.binary = binary

    def command(self):
        p = free_port()
        self.urls = {"echo": f"ws://127.0.0.1:{p}/", "ws_idle": f"ws://127.0.0.1:{p}/"}
        return [str(self.binary), f"127.0.0.1:{p}"], p


def make_servers(workdir):
    return {
        "realtime-server": Ours("realtime-server", workdir),
        "mosquitto": Mosquitto("mosquitto", workdir),
        "rumqttd": Rumqttd("rumqttd", workdir),
        "tokio-tungstenite": EchoBin("tokio-tungstenite", workdir,
                                     PEER_ECHO / "target/release/tungstenite-echo"),
        "fastwebsockets": EchoBin("fastwebsockets", workdir,
                                  PEER_ECHO / "target/release/fastwebsockets-echo"),
        "ws-proto example": EchoBin("ws-proto-example", workdir,
                                    TARGET / "examples/echo-server"),
    }


# --------------------------------------------------------------------------- scenarios

MQTT_PEERS = ["realtime-server", "mosquitto", "rumqttd"]
WS_PEERS = ["realtime-server", "tokio-tungstenite", "fastwebsockets", "ws-proto example"]


def scenarios(d):
    """id -> (title, servers, argv builder(server) -> list, metrics, reps override)."""
    dur = ["--duration", str(d)]

    def fanin(qos, *extra):
        return lambda s: ["fanin", "--mqtt", s.urls["mqtt"], "--publishers", "4",
                          "--subscribers", "1", "--qos", str(qos), "--size", "64",
                          "--window", "64", *extra, *dur]

    return {
        "fanin-q0": ("MQTT fan-in QoS 0, 4 publishers → 1 subscriber, 64 B", MQTT_PEERS, fanin(0),
                     ["delivered_per_s", "per_server_cpu_s", "latency_p99_ms", "lost"], None),
        "fanin-q0-sndbuf": ("MQTT fan-in QoS 0, 4 → 1, 64 B, publishers' SO_SNDBUF pinned at "
                            "64 KiB (not autotuned to 4 MiB)", MQTT_PEERS,
                            fanin(0, "--pub-send-buffer", "65536"),
                            ["delivered_per_s", "per_server_cpu_s", "latency_p50_ms",
                             "latency_p99_ms", "lost"], None),
        "fanin-q1": ("MQTT fan-in QoS 1, 4 → 1, 64 B, 64 in flight per publisher", MQTT_PEERS,
                     fanin(1), ["delivered_per_s", "per_server_cpu_s", "latency_p99_ms",
                                "publisher_blocked_s", "acked", "lost"], None),
        "fanin-q2": ("MQTT fan-in QoS 2, 4 → 1, 64 B, 64 in flight per publisher", MQTT_PEERS,
                     fanin(2), ["delivered_per_s", "per_server_cpu_s", "latency_p99_ms",
                                "acked", "lost"], None),
        "fanout-100": ("MQTT fan-out 1 → 100 subscribers at 1,000 msgs/s, QoS 0, 64 B",
                       MQTT_PEERS,
                       lambda s: ["fanout", "--mqtt", s.urls["mqtt"], "--subscribers", "100",
                                  "--rate", "1000", *dur],
                       ["latency_p50_ms", "latency_p99_ms", "delivered_per_s",
                        "per_server_cpu_s"], None),
        "fanout-10k": ("MQTT fan-out 1 → 10,000 subscribers at 10 msgs/s, QoS 0, 64 B",
                       MQTT_PEERS,
                       lambda s: ["fanout", "--mqtt", s.urls["mqtt"], "--subscribers", "10000",
                                  "--rate", "10", *dur],
                       ["delivered_per_s", "latency_p50_ms", "latency_p99_ms", "lost",
                        "per_server_cpu_s"], 1),
        "idle-mqtt": ("Idle MQTT connections: 10,000, server RSS growth per connection",
                      MQTT_PEERS,
                      lambda s: ["storm", "--kind", "mqtt", "--mqtt", s.urls["mqtt"],
                                 "--connections", "10000"],
                      ["rss_per_connection_bytes", "connects_per_s", "connected"], 1),
        "idle-ws": ("Idle WebSocket connections: 10,000 (ours: /ws), RSS growth per connection",
                    ["realtime-server", "tokio-tungstenite", "fastwebsockets"],
                    lambda s: ["storm", "--kind", "ws", "--ws-url",
                               s.urls.get("ws", s.urls.get("ws_idle")), "--connections", "10000"],
                    ["rss_per_connection_bytes", "connects_per_s", "connected"], 1),
        "ws-echo-16": ("WS echo, 100 connections × 16 B, 16 in flight", WS_PEERS,
                       lambda s: ["ws-echo", "--url", s.urls["echo"], "--connections", "100",
                                  "--size", "16", "--window", "16", *dur],
                       ["echoes_per_s", "per_server_cpu_s", "latency_p99_ms"], None),
        "ws-echo-64k": ("WS echo, 10 connections × 64 KiB, 4 in flight", WS_PEERS,
                        lambda s: ["ws-echo", "--url", s.urls["echo"], "--connections", "10",
                                   "--size", "65536", "--window", "4", *dur],
                        ["echoes_per_s", "per_server_cpu_s", "latency_p99_ms"], None),
        "ws-broadcast": ("/ws JSON broadcast, 1 publisher at 1,000 msgs/s → 100 subscribers",
                         ["realtime-server"],
                         lambda s: ["ws-broadcast", "--ws-url", s.urls["ws"], "--subscribers",
                                    "100", "--rate", "1000", *dur],
                         ["delivered_per_s", "latency_p50_ms", "latency_p99_ms",
                          "per_server_cpu_s", "lost"], None),
        "cross": ("MQTT publisher at 1,000 msgs/s → 100 /ws JSON subscribers",
                  ["realtime-server"],
                  lambda s: ["cross", "--mqtt", s.urls["mqtt"], "--ws-url", s.urls["ws"],
                             "--subscribers", "100", "--rate", "1000", *dur],
                  ["delivered_per_s", "latency_p50_ms", "latency_p99_ms", "per_server_cpu_s",
                   "lost"], None),
        "mixed-100k": ("100,000 concurrent connections, MQTT and /ws alternating",
                       ["realtime-server"],
                       lambda s: ["storm", "--kind", "mixed", "--mqtt", s.urls["mqtt"],
                                  "--ws-url", s.urls["ws"], "--connections", "100000",
                                  "--concurrency", "128"],
                       ["connected", "failed", "server_rss_bytes", "rss_per_connection_bytes"],
                       1),
    }


def run_one(argv, server):
    cmd = [str(TARGET / "realtime-bench"), *argv, "--server-pid", str(server.pid)]
    log(f"[{server.name}] realtime-bench {' '.join(argv)}")
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    tail = "\n".join(p.stderr.strip().splitlines()[-3:])
    if tail:
        print(tail, file=sys.stderr, flush=True)
    if p.returncode != 0:
        return {"error": (p.stderr.strip().splitlines() or ["failed"])[-1]}
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    return json.loads(lines[-1]) if lines else {"error": "no result line"}


# --------------------------------------------------------------------------- report

def median(values):
    vals = [v for v in values if isinstance(v, (int, float))]
    return statistics.median(vals) if vals else None


def fmt(v, key=""):
    if v is None:
        return "–"
    if key.endswith("_ms"):
        return f"{v:.2f} ms" if v < 100 else f"{v:,.0f} ms"
    if key.endswith("_bytes"):
        if v >= 1 << 20:
            return f"{v / (1 << 20):,.1f} MiB"
        return f"{v / 1024:,.1f} KiB" if v >= 1024 else f"{v:,.0f} B"
    if key.endswith("_s") and not key.endswith("per_s") and not key.endswith("cpu_s"):
        return f"{v:.2f} s"
    if isinstance(v, float) and v >= 1000:
        return f"{v:,.0f}"
    if isinstance(v, float):
        return f"{v:.3g}"
    return f"{v:,}"


LOWER_IS_BETTER = ("latency", "rss", "lost", "blocked", "failed")


def ratio(ours, peer):
    if ours is None or peer is None or peer == 0:
        return None
    return ours / peer


def chart_svg(rows, path):
    """rows: [(label, ratio, better_is_higher)] -> horizontal bar chart, log scale."""
    import math
    # A ratio of 0 (nothing delivered) is drawn at the left edge, not left out.
    rows = [r for r in rows if r[1] is not None and r[1] >= 0]
    width, left, bar, gap = 900, 380, 16, 6
    height = 60 + len(rows) * (bar + gap)
    lo, hi = math.log10(0.01), math.log10(100)
    x = lambda v: left + (min(max(math.log10(max(v, 1e-9)), lo), hi) - lo) / (hi - lo) * (
        width - left - 20)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           '<text x="10" y="18" font-size="13" font-weight="bold">realtime-server / peer '
           '(log scale; green = ours better, red = ours worse)</text>']
    for tick in (0.01, 0.1, 0.5, 1, 2, 10, 100):
        tx = x(tick)
        out.append(f'<line x1="{tx:.1f}" y1="30" x2="{tx:.1f}" y2="{height - 10}" '
                   f'stroke="{"#333" if tick == 1 else "#ddd"}"/>')
        out.append(f'<text x="{tx:.1f}" y="28" text-anchor="middle">{tick:g}×</text>')
    for i, (label, r, higher) in enumerate(rows):
        y = 40 + i * (bar + gap)
        good = (r >= 1) if higher else (r <= 1)
        x0, x1 = sorted((x(1), x(r)))
        out.append(f'<text x="{left - 6}" y="{y + bar - 4}" text-anchor="end">'
                   f'{label.replace("&", "&amp;").replace("<", "&lt;")}</text>')
        out.append(f'<rect x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" height="{bar}" '
                   f'fill="{"#3a3" if good else "#c33"}"/>')
        out.append(f'<text x="{x1 + 4:.1f}" y="{y + bar - 4}">{r:.2f}×</text>')
    out.append("</svg>")
    path.write_text("\n".join(out) + "\n")


def write_markdown(results, scen, args, versions, started, load, commit, out_path):
    med = {}
    for (sid, server), runs in results.items():
        keys = set().union(*[r.keys() for r in runs]) if runs else set()
        med[(sid, server)] = {k: median([r.get(k) for r in runs]) for k in keys}
        med[(sid, server)]["_runs"] = len([r for r in runs if "error" not in r])
        errs = [r["error"] for r in runs if "error" in r]
        if errs:
            med[(sid, server)]["_error"] = errs[0]
    g = lambda sid, srv, k: med.get((sid, srv), {}).get(k)

    runs = sorted({(r.get("started", started), r.get("commit", commit), r.get("load", load))
                   for rs in results.values() for r in rs})
    when = "; ".join(f"{s} at commit `{c}` (load average {l})" for s, c, l in runs)
    lines = [BEGIN, "## realtime-server vs peers", ""]
    lines += [
        f"Measured by `bench/compare.py` (`--duration {args.duration}`, medians of "
        f"`--reps {args.reps}`; 1 run for the 10,000-connection and 100k scenarios): {when}. "
        "Client and server share one 2-core machine with other engineers' builds and "
        "fuzzers, so absolute numbers move by ±30 % between runs; servers "
        "alternate within each repetition, each started fresh per run. Ratios are "
        "realtime-server / peer: above 1 is better for rates, below 1 is better for "
        "latency and memory. The load generator is `realtime-bench` (one client thread); "
        "`per server CPU-s` divides the delivered messages by the server's CPU seconds "
        "(user + system, all threads, from /proc) over the same window.",
        "",
        "Peers: " + ", ".join(f"{k} {v}" for k, v in versions.items()) + "; "
        "ws-proto example = `ws-proto/examples/echo-server` (our codec without the server).",
        "",
        "![realtime-server / peer](bench/results/peers.svg)",
        "",
    ]
    chart = []
    for sid, (title, servers, _b, metrics, _r) in scen.items():
        if not any((sid, s) in results for s in servers):
            continue
        lines += [f"### {title}", ""]
        peers = [s for s in servers if s != "realtime-server"]
        head = "| metric | " + " | ".join(servers) + "".join(
            f" | ours / {p}" for p in peers) + " |"
        lines += [head, "|" + "---|" * (1 + len(servers) + len(peers))]
        for k in metrics:
            row = [fmt(g(sid, s, k), k) for s in servers]
            rats = []
            for p in peers:
                r = ratio(g(sid, "realtime-server", k), g(sid, p, k))
                rats.append("–" if r is None else f"{r:.2f}×")
                if r is not None and k not in ("lost", "connected", "failed", "acked",
                                               "publisher_blocked_s"):
                    higher = not any(w in k for w in LOWER_IS_BETTER)
                    chart.append((f"{sid} {k} vs {p}", r, higher))
            lines.append(f"| {k} | " + " | ".join(row) + "".join(f" | {x}" for x in rats) + " |")
        errs = [f"{s}: {med[(sid, s)]['_error']}" for s in servers
                if (sid, s) in med and "_error" in med[(sid, s)]]
        if errs:
            lines += ["", "Failed runs: " + "; ".join(errs)]
        lines.append("")
    chart_svg(chart, RESULTS / "peers.svg")
    lines += targets(g), ""
    lines.append(END)
    section = "\n".join(lines) + "\n"
    text = out_path.read_text() if out_path.exists() else "# Benchmarks\n\n"
    if BEGIN in text and END in text:
        pre, rest = text.split(BEGIN, 1)
        post = rest.split(END, 1)[1].lstrip("\n")
        text = pre + section + ("\n" + post if post else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    out_path.write_text(text)


def targets(g):
    """The issue's target table, met / missed with the numbers."""
    ours = "realtime-server"
    rows = []

    def add(name, ok, numbers):
        state = "–" if ok is None else ("**met**" if ok else "**missed**")
        rows.append(f"| {name} | {state} | {numbers} |")

    def cmp(a, b, op):
        return None if a is None or b is None else op(a, b)

    q0o, q0m = g("fanin-q0", ours, "per_server_cpu_s"), g("fanin-q0", "mosquitto", "per_server_cpu_s")
    p99 = g("fanin-q0", ours, "latency_p99_ms")
    ok = None if q0o is None or q0m is None or p99 is None else (q0o >= 2 * q0m and p99 < 50)
    add("QoS 0 fan-in: per server CPU-s ≥ 2× Mosquitto, p99 < 50 ms", ok,
        f"ours {fmt(q0o)} /CPU-s, p99 {fmt(p99, '_ms')}; Mosquitto {fmt(q0m)} /CPU-s "
        f"(ratio {fmt(ratio(q0o, q0m))}); delivered/s ours {fmt(g('fanin-q0', ours, 'delivered_per_s'))}, "
        f"Mosquitto {fmt(g('fanin-q0', 'mosquitto', 'delivered_per_s'))}")
    ps, pm = (g("fanin-q0-sndbuf", s, "latency_p99_ms") for s in (ours, "mosquitto"))
    qs, qm = (g("fanin-q0-sndbuf", s, "per_server_cpu_s") for s in (ours, "mosquitto"))
    ok = None if None in (ps, qs, qm) else (qs >= 2 * qm and ps < 50)
    add("the same with the publishers' send buffer pinned at 64 KiB (the client's own "
        "kernel buffer out of the latency)", ok,
        f"ours {fmt(qs)} /CPU-s, p99 {fmt(ps, '_ms')}; Mosquitto {fmt(qm)} /CPU-s, "
        f"p99 {fmt(pm, '_ms')} (ratio {fmt(ratio(qs, qm))})")
    q1o, q1m = g("fanin-q1", ours, "per_server_cpu_s"), g("fanin-q1", "mosquitto", "per_server_cpu_s")
    p1o, p1m = g("fanin-q1", ours, "latency_p99_ms"), g("fanin-q1", "mosquitto", "latency_p99_ms")
    ok = None if None in (q1o, q1m, p1o, p1m) else (q1o >= 2 * q1m and p1o <= p1m)
    add("QoS 1 fan-in: per server CPU-s ≥ 2× Mosquitto, p99 ≤ Mosquitto's", ok,
        f"ours {fmt(q1o)} /CPU-s, p99 {fmt(p1o, '_ms')}; Mosquitto {fmt(q1m)} /CPU-s, "
        f"p99 {fmt(p1m, '_ms')} (ratio {fmt(ratio(q1o, q1m))}); acknowledged but not delivered "
        f"(dropped for the slow subscriber): ours {fmt(g('fanin-q1', ours, 'lost'))}, "
        f"Mosquitto {fmt(g('fanin-q1', 'mosquitto', 'lost'))}")
    fo, fm = g("fanout-100", ours, "latency_p99_ms"), g("fanout-100", "mosquitto", "latency_p99_ms")
    add("Fan-out 1 → 100: p99 ≤ ½ Mosquitto's", cmp(fo, fm, lambda a, b: a <= b / 2),
        f"ours {fmt(fo, '_ms')}, Mosquitto {fmt(fm, '_ms')}, rumqttd "
        f"{fmt(g('fanout-100', 'rumqttd', 'latency_p99_ms'), '_ms')}")
    d10, l10 = g("fanout-10k", ours, "delivered_per_s"), g("fanout-10k", ours, "lost")
    add("Fan-out 1 → 10,000 works", None if d10 is None else (d10 > 0 and (l10 or 0) == 0),
        f"ours {fmt(d10)} deliveries/s, lost {fmt(l10)}, p99 "
        f"{fmt(g('fanout-10k', ours, 'latency_p99_ms'), '_ms')}")
    im = g("idle-mqtt", ours, "rss_per_connection_bytes")
    add("Idle memory ≤ 1 KiB per MQTT connection", cmp(im, 1024, lambda a, b: a <= b),
        f"ours {fmt(im, '_bytes')}; Mosquitto {fmt(g('idle-mqtt', 'mosquitto', 'rss_per_connection_bytes'), '_bytes')}, "
        f"rumqttd {fmt(g('idle-mqtt', 'rumqttd', 'rss_per_connection_bytes'), '_bytes')}")
    iw = g("idle-ws", ours, "rss_per_connection_bytes")
    add("Idle memory ≤ 2 KiB per WebSocket connection", cmp(iw, 2048, lambda a, b: a <= b),
        f"ours {fmt(iw, '_bytes')}; tokio-tungstenite "
        f"{fmt(g('idle-ws', 'tokio-tungstenite', 'rss_per_connection_bytes'), '_bytes')}, fastwebsockets "
        f"{fmt(g('idle-ws', 'fastwebsockets', 'rss_per_connection_bytes'), '_bytes')}")
    for sid, label in (("ws-echo-16", "16 B"), ("ws-echo-64k", "64 KiB")):
        o = g(sid, ours, "per_server_cpu_s")
        peers = [g(sid, p, "per_server_cpu_s") for p in ("tokio-tungstenite", "fastwebsockets")]
        best = max([p for p in peers if p is not None], default=None)
        add(f"WS echo {label}: per server CPU-s ≥ 1.2× the better peer",
            cmp(o, best, lambda a, b: a >= 1.2 * b),
            f"ours {fmt(o)} /CPU-s; tokio-tungstenite {fmt(peers[0])}, fastwebsockets "
            f"{fmt(peers[1])} (ratio to the better {fmt(ratio(o, best))})")
    c, f, rss = (g("mixed-100k", ours, k) for k in ("connected", "failed", "server_rss_bytes"))
    add("100,000 concurrent connections (MQTT + WS mixed), RSS reported",
        None if c is None else c >= 100_000,
        f"held {fmt(c)} of 100,000 (failed {fmt(f)}), server RSS {fmt(rss, '_bytes')}, "
        f"{fmt(g('mixed-100k', ours, 'rss_per_connection_bytes'), '_bytes')} per connection")
    return "\n".join(["### Issue 8 targets", "", "| target | state | numbers (medians) |",
                      "|---|---|---|", *rows])


# --------------------------------------------------------------------------- main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--reps", type=int, default=3, help="repetitions (medians are quoted)")
    ap.add_argument("--duration", type=float, default=5.0, help="seconds measured per run")
    ap.add_argument("--only", default="", help="comma-separated scenario ids")
    ap.add_argument("--skip", default="", help="comma-separated scenario ids to leave out")
    ap.add_argument("--servers", default="", help="comma-separated server names to run")
    ap.add_argument("--no-install", action="store_true", help="do not install or build")
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--render-only", action="store_true",
                    help="run nothing: rewrite the section from bench/results/latest.jsonl")
    args = ap.parse_args()

    if not args.no_install and not args.render_only:
        install_peers()
    RESULTS.mkdir(parents=True, exist_ok=True)
    started = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                            capture_output=True, text=True).stdout.strip()
    scen = scenarios(args.duration)
    only = [s for s in args.only.split(",") if s]
    skip = [s for s in args.skip.split(",") if s]
    chosen = {k: v for k, v in scen.items() if (not only or k in only) and k not in skip}
    if args.render_only:
        chosen = {}
    wanted = [s for s in args.servers.split(",") if s]
    results = {}
    # Scenarios not run this time keep their results from the previous run (so that
    # `--only` refreshes part of the section without dropping the rest).
    previous = RESULTS / "latest.jsonl"
    if previous.exists():
        for line in previous.read_text().splitlines():
            r = json.loads(line)
            if r.get("id") in scen and r.get("id") not in chosen:
                results.setdefault((r["id"], r["server"]), []).append(r)
    raw = open(RESULTS / "latest.jsonl.new", "w")
    for runs in results.values():
        for r in runs:
            raw.write(json.dumps(r) + "\n")
    with tempfile.TemporaryDirectory(prefix="rt-compare-") as tmp:
        servers = make_servers(tmp)
        for rep in range(args.reps):
            for sid, (title, names, build, _metrics, reps) in chosen.items():
                if reps is not None and rep >= reps:
                    continue
                names = [n for n in names if not wanted or n in wanted]
                # Alternate: rotate the order every repetition.
                order = names[rep % len(names):] + names[:rep % len(names)]
                for name in order:
                    srv = servers[name]
                    try:
                        srv.start()
                        res = run_one(build(srv), srv)
                    except Exception as e:  # a failed run is reported, not fatal
                        res = {"error": str(e)}
                    finally:
                        srv.stop()
                    res.update({"id": sid, "server": name, "rep": rep, "commit": commit,
                                "started": started, "load": load})
                    raw.write(json.dumps(res) + "\n")
                    raw.flush()
                    results.setdefault((sid, name), []).append(res)
                    time.sleep(1)
    raw.close()
    (RESULTS / "latest.jsonl.new").replace(RESULTS / "latest.jsonl")
    write_markdown(results, scen, args, tool_versions(), started, load, commit,
                   Path(args.out))
    log(f"wrote {args.out}, {RESULTS / 'peers.svg'} and {RESULTS / 'latest.jsonl'}")


if __name__ == "__main__":
    main()
