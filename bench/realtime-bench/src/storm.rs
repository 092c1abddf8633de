//! Connection storm and idle memory per connection.
//!
//! The parent process spreads `connections` over worker processes (each may hold
//! 20,000 open files at most, so at most [`PER_PROCESS`] connections each), every
//! worker binds its sockets to its own range of 127.x.y.z source addresses, opens its
//! share as fast as `concurrency` allows (MQTT CONNECT/CONNACK, or the WebSocket
//! opening handshake; `mixed` alternates), reports on stdout and holds the connections
//! idle until its stdin closes. The parent reads the server's RSS before the storm and
//! once every worker holds its connections (after a settle time): the growth divided
//! by the connections held is the idle memory per connection.

use std::net::{Ipv4Addr, SocketAddr};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use crate::latency::Latencies;
use crate::net::Sources;
use crate::procstat;
use crate::progress::{self, Counters};
use crate::report::{Report, round3};
use crate::ws::WsUrl;
use crate::{Result, error};

/// Most connections one worker process opens (the limit is 20,000 open files).
pub const PER_PROCESS: usize = 19_000;
/// A worker gives up after this many failed connections (e.g. the server is out of
/// file descriptors: the kernel still completes the TCP handshake, nobody answers).
const MAX_FAILURES: u64 = 200;
/// Time allowed for one connection's setup.
const SETUP_TIMEOUT: Duration = Duration::from_secs(10);

/// Which connections a storm opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// MQTT over TCP (CONNECT, CONNACK).
    Mqtt,
    /// WebSocket (opening handshake) to the given URL.
    Ws,
    /// Alternately MQTT and WebSocket.
    Mixed,
}

impl Kind {
    /// Parses `mqtt`, `ws` or `mixed`.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "mqtt" => Ok(Self::Mqtt),
            "ws" => Ok(Self::Ws),
            "mixed" => Ok(Self::Mixed),
            _ => Err(error(format!("--kind {s}: use mqtt, ws or mixed"))),
        }
    }

    /// The name `parse` takes.
    pub fn name(self) -> &'static str {
        match self {
            Self::Mqtt => "mqtt",
            Self::Ws => "ws",
            Self::Mixed => "mixed",
        }
    }
}

/// What a worker opens.
#[derive(Debug, Clone)]
pub struct Shard {
    /// Connection kind.
    pub kind: Kind,
    /// MQTT listener.
    pub mqtt: SocketAddr,
    /// WebSocket URL.
    pub ws: Option<WsUrl>,
    /// Index of this worker's first connection in the whole storm.
    pub offset: u64,
    /// Connections this worker opens.
    pub count: usize,
    /// Source addresses of the whole storm.
    pub sources: Sources,
    /// Connection setups in progress at once.
    pub concurrency: usize,
}

/// A storm over several processes.
#[derive(Debug, Clone)]
pub struct Storm {
    /// Connection kind.
    pub kind: Kind,
    /// MQTT listener.
    pub mqtt: SocketAddr,
    /// WebSocket URL (for `ws` and `mixed`).
    pub ws: Option<WsUrl>,
    /// Total connections.
    pub connections: usize,
    /// Worker processes (0: as few as the per-process limit allows).
    pub processes: usize,
    /// Setups in progress at once, per worker.
    pub concurrency: usize,
    /// Connections per source address.
    pub per_address: u32,
    /// Wait after the last connection before reading the server's RSS.
    pub settle: Duration,
    /// The server's pid.
    pub server_pid: Option<u32>,
}

/// Worker side: opens the shard's connections, prints one JSON line, holds them until
/// stdin closes.
pub async fn worker(shard: &Shard) -> Result<()> {
    let counters = Counters::new();
    let latencies = Latencies::new()?;
    let _progress = progress::start(
        format!("storm {}", shard.offset / PER_PROCESS as u64),
        counters.clone(),
        None,
    );
    let t0 = Instant::now();
    let gate = Arc::new(Semaphore::new(shard.concurrency.max(1)));
    let mut tasks = JoinSet::new();
    let mut held: Vec<TcpStream> = Vec::with_capacity(shard.count);
    let mut errors: Vec<String> = Vec::new();
    let mut collect =
        |done: Option<std::result::Result<Result<TcpStream>, tokio::task::JoinError>>,
         held: &mut Vec<TcpStream>| {
            match done {
                Some(Ok(Ok(s))) => {
                    held.push(s);
                    Counters::add(&counters.connected, 1);
                }
                Some(Ok(Err(e))) => {
                    Counters::add(&counters.failed, 1);
                    if errors.len() < 5 {
                        errors.push(e.to_string());
                    }
                }
                Some(Err(e)) => errors.push(e.to_string()),
                None => {}
            }
        };
    for i in 0..shard.count {
        if Counters::get(&counters.failed) >= MAX_FAILURES {
            break;
        }
        let permit = gate
            .clone()
            .acquire_owned()
            .await
            .map_err(|e| error(e.to_string()))?;
        let index = shard.offset + i as u64;
        let source = shard.sources.for_index(index);
        let is_ws = match shard.kind {
            Kind::Mqtt => false,
            Kind::Ws => true,
            Kind::Mixed => index % 2 == 1,
        };
        let (mqtt, ws) = (shard.mqtt, shard.ws.clone());
        let mut rec = latencies.recorder();
        tasks.spawn(async move {
            let started = Instant::now();
            let setup = open(is_ws, mqtt, ws.as_ref(), source, index);
            let stream = tokio::time::timeout(SETUP_TIMEOUT, setup)
                .await
                .map_err(|_| error("setup timed out (10 s)"))??;
            rec.record(started.elapsed().as_nanos() as u64);
            drop(permit);
            Ok(stream)
        });
        while let Some(done) = tasks.try_join_next() {
            collect(Some(done), &mut held);
        }
    }
    while let Some(done) = tasks.join_next().await {
        collect(Some(done), &mut held);
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let lat = latencies.summary();
    let line = serde_json::json!({
        "connected": held.len(),
        "failed": Counters::get(&counters.failed),
        "elapsed_s": round3(elapsed),
        "setup_p50_ms": round3(lat.p50_ms),
        "setup_p99_ms": round3(lat.p99_ms),
        "errors": errors,
    });
    println!("{line}");
    // Hold until the parent closes stdin.
    let mut sink = Vec::new();
    let _ = tokio::io::stdin().read_to_end(&mut sink).await;
    drop(held);
    Ok(())
}

async fn open(
    is_ws: bool,
    mqtt: SocketAddr,
    ws: Option<&WsUrl>,
    source: Ipv4Addr,
    index: u64,
) -> Result<TcpStream> {
    if is_ws {
        let url = ws.ok_or_else(|| error("a WebSocket storm needs --ws-url"))?;
        let mut stream = crate::net::connect(url.addr, source).await?;
        crate::ws::handshake(&mut stream, url).await?;
        Ok(stream)
    } else {
        let mut stream = crate::net::connect(mqtt, source).await?;
        let id = format!("rb-idle-{}-{index}", std::process::id());
        crate::mqtt::handshake(&mut stream, &id, mqtt_proto::ProtocolVersion::V3_1_1, 0).await?;
        Ok(stream)
    }
}

/// Parent side: runs the workers and measures the server.
pub async fn run(s: &Storm) -> Result<Report> {
    let processes = if s.processes == 0 {
        s.connections.div_ceil(PER_PROCESS).max(1)
    } else {
        s.processes
    };
    let per = s.connections.div_ceil(processes);
    if per > PER_PROCESS {
        return Err(error(format!(
            "{per} connections per process is over {PER_PROCESS}: use more --processes"
        )));
    }
    let sources = Sources::random(s.per_address);
    let exe = std::env::current_exe()?;
    let server0 = s.server_pid.and_then(|p| procstat::sample(p).ok());
    let t0 = Instant::now();
    let mut workers = Vec::new();
    let mut offset = 0usize;
    for _ in 0..processes {
        let count = per.min(s.connections - offset);
        if count == 0 {
            break;
        }
        let mut cmd = tokio::process::Command::new(&exe);
        cmd.arg("storm-worker")
            .args(["--kind", s.kind.name()])
            .args(["--mqtt", &s.mqtt.to_string()])
            .args(["--offset", &offset.to_string()])
            .args(["--count", &count.to_string()])
            .args(["--first-source", &sources.first().to_string()])
            .args(["--per-address", &sources.per_address().to_string()])
            .args(["--concurrency", &s.concurrency.to_string()])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        if let Some(url) = &s.ws {
            cmd.args(["--ws-url", &format!("ws://{}{}", url.host, url.path)]);
        }
        workers.push(cmd.spawn()?);
        offset += count;
    }
    let mut connected = 0u64;
    let mut failed = 0u64;
    let mut slowest = 0.0f64;
    let mut p99 = 0.0f64;
    let mut p50s = Vec::new();
    let mut errors = Vec::new();
    for w in &mut workers {
        let stdout = w
            .stdout
            .take()
            .ok_or_else(|| error("worker without stdout"))?;
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).await?;
        let v: serde_json::Value = serde_json::from_str(line.trim())
            .map_err(|e| error(format!("worker said {line:?}: {e}")))?;
        let num = |k: &str| v.get(k).and_then(serde_json::Value::as_f64).unwrap_or(0.0);
        connected += num("connected") as u64;
        failed += num("failed") as u64;
        slowest = slowest.max(num("elapsed_s"));
        p99 = p99.max(num("setup_p99_ms"));
        p50s.push(num("setup_p50_ms"));
        if let Some(e) = v.get("errors").and_then(serde_json::Value::as_array) {
            errors.extend(
                e.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .take(3),
            );
        }
    }
    let opened = t0.elapsed().as_secs_f64();
    tokio::time::sleep(s.settle).await;
    let server1 = s.server_pid.and_then(|p| procstat::sample(p).ok());
    // Release the workers: they close their connections and exit.
    for w in &mut workers {
        drop(w.stdin.take());
    }
    for w in &mut workers {
        let _ = w.wait().await;
    }

    let mut r = Report::new("storm");
    r.set("kind", s.kind.name());
    r.set("connections", s.connections);
    r.set("processes", workers.len());
    r.set("connected", connected);
    r.set("failed", failed);
    r.set("open_s", round3(opened));
    r.set(
        "connects_per_s",
        (connected as f64 / slowest.max(1e-9)).round(),
    );
    p50s.sort_by(f64::total_cmp);
    r.set(
        "setup_p50_ms",
        p50s.get(p50s.len() / 2).copied().unwrap_or(0.0),
    );
    r.set("setup_p99_ms_worst_worker", p99);
    if !errors.is_empty() {
        errors.truncate(5);
        r.set("errors", errors.join("; "));
    }
    if let (Some(b), Some(a)) = (server0, server1) {
        r.set("server_rss_before_bytes", b.rss);
        r.set("server_rss_bytes", a.rss);
        r.set("server_cpu_s", round3(a.cpu_s - b.cpu_s));
        if connected > 0 {
            let growth = a.rss.saturating_sub(b.rss) as f64;
            r.set(
                "rss_per_connection_bytes",
                (growth / connected as f64).round(),
            );
        }
    }
    Ok(r)
}

/// The first source address and per-address count a worker was given.
pub fn sources_from_args(first: Ipv4Addr, per_address: u32) -> Sources {
    Sources::starting_at(first, per_address)
}
