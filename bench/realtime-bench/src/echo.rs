//! WebSocket echo: `connections` clients each keep `window` binary messages of `size`
//! bytes in flight against any `ws://` echo URL; the latency is the round trip.
//!
//! Each connection is a writer task (encodes as many messages as free window slots
//! into one buffer, one write) and a reader task (frees a slot per echo). The rate is
//! what came back inside the measured window; `per_server_cpu_s` divides it by the
//! server's CPU seconds over the same window.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use ws_proto::Message;

use crate::clock::{self, STAMP_LEN};
use crate::latency::Latencies;
use crate::net::Sources;
use crate::procstat;
use crate::progress::{self, Counters};
use crate::report::{Report, round3};
use crate::ws::{self, WsReader, WsUrl, WsWriter};
use crate::{Result, error};

/// A WebSocket echo scenario.
#[derive(Debug, Clone)]
pub struct Echo {
    /// The echo server's URL.
    pub url: WsUrl,
    /// Concurrent connections.
    pub connections: usize,
    /// Message size in bytes (at least 16).
    pub size: usize,
    /// Messages in flight per connection.
    pub window: usize,
    /// Length of the measured window.
    pub duration: Duration,
    /// The server's pid.
    pub server_pid: Option<u32>,
    /// Connections per source address.
    pub per_address: u32,
    /// Print progress on stderr.
    pub progress: bool,
}

/// Runs the scenario.
pub async fn run(e: &Echo) -> Result<Report> {
    if e.connections == 0 || e.window == 0 {
        return Err(error("need at least one connection and a window of one"));
    }
    let counters = Counters::new();
    let latencies = Latencies::new()?;
    let _progress = e
        .progress
        .then(|| progress::start("ws-echo".into(), counters.clone(), e.server_pid));
    let sources = Sources::random(e.per_address);
    let gate = Arc::new(Semaphore::new(256));
    let mut setup = JoinSet::new();
    for i in 0..e.connections {
        let (url, gate, source) = (e.url.clone(), gate.clone(), sources.for_index(i as u64));
        setup.spawn(async move {
            let _permit = gate.acquire().await.map_err(|e| error(e.to_string()))?;
            ws::connect(&url, source).await
        });
    }
    let mut conns = Vec::with_capacity(e.connections);
    while let Some(done) = setup.join_next().await {
        conns.push(done.map_err(|j| error(j.to_string()))??);
        Counters::add(&counters.connected, 1);
    }

    let stop = Arc::new(AtomicBool::new(false));
    let payload = Bytes::from(vec![b'x'; e.size.max(STAMP_LEN)]);
    let server0 = e.server_pid.and_then(|p| procstat::sample(p).ok());
    let client0 = procstat::own().ok();
    let t0 = Instant::now();
    let mut tasks = JoinSet::new();
    for (reader, writer) in conns {
        let window = Arc::new(Semaphore::new(e.window));
        tasks.spawn(read_echoes(
            reader,
            window.clone(),
            counters.clone(),
            latencies.clone(),
        ));
        tasks.spawn(write_requests(
            writer,
            window,
            e.window,
            payload.clone(),
            counters.clone(),
            stop.clone(),
        ));
    }
    tokio::time::sleep(e.duration).await;
    let elapsed = t0.elapsed().as_secs_f64();
    let received = Counters::get(&counters.received);
    let server1 = e.server_pid.and_then(|p| procstat::sample(p).ok());
    let client1 = procstat::own().ok();
    stop.store(true, Ordering::Relaxed);
    // Let the messages in flight come back, briefly.
    tokio::time::sleep(Duration::from_millis(200)).await;
    tasks.abort_all();
    let mut errors = Vec::new();
    while let Some(done) = tasks.join_next().await {
        if let Ok(Err(err)) = done {
            errors.push(err.to_string());
        }
    }

    let mut r = Report::new("ws-echo");
    r.set("url", format!("ws://{}{}", e.url.host, e.url.path));
    r.set("connections", e.connections);
    r.set("size", e.size);
    r.set("window", e.window);
    r.set("duration_s", round3(elapsed));
    r.set("sent", Counters::get(&counters.sent));
    r.set("echoed", Counters::get(&counters.received));
    r.set("echoes_per_s", (received as f64 / elapsed).round());
    r.set(
        "mib_per_s",
        round3(received as f64 * e.size as f64 / elapsed / 1048576.0),
    );
    r.set("disconnects", errors.len());
    if !errors.is_empty() {
        errors.truncate(5);
        r.set("server_said", errors.join("; "));
    }
    r.latency(&latencies.summary());
    r.server(server0, server1, received as f64);
    r.client(client0, client1);
    Ok(r)
}

async fn write_requests(
    mut writer: WsWriter,
    window: Arc<Semaphore>,
    max: usize,
    payload: Bytes,
    counters: Arc<Counters>,
    stop: Arc<AtomicBool>,
) -> Result<()> {
    let mut stamp = [0u8; STAMP_LEN];
    while !stop.load(Ordering::Relaxed) {
        let first = match tokio::time::timeout(Duration::from_millis(50), window.acquire()).await {
            Ok(Ok(p)) => p,
            Ok(Err(_)) => return Ok(()),
            Err(_) => continue,
        };
        first.forget();
        let more = window.available_permits().min(max - 1);
        if more > 0 {
            if let Ok(p) = window.try_acquire_many(more as u32) {
                p.forget();
            }
        }
        clock::write_stamp(clock::now_ns(), &mut stamp);
        for _ in 0..=more {
            let mut body = Vec::with_capacity(payload.len());
            body.extend_from_slice(&stamp);
            body.extend_from_slice(payload.get(STAMP_LEN..).unwrap_or_default());
            writer.queue(&Message::Binary(Bytes::from(body)))?;
        }
        writer.flush().await?;
        Counters::add(&counters.sent, more as u64 + 1);
    }
    // Keep the connection open (dropping the write half would end it) until the run
    // aborts the task, so the echoes in flight can still come back.
    std::future::pending::<()>().await;
    drop(writer);
    Ok(())
}

async fn read_echoes(
    mut reader: WsReader,
    window: Arc<Semaphore>,
    counters: Arc<Counters>,
    latencies: Arc<Latencies>,
) -> Result<()> {
    let mut rec = latencies.recorder();
    loop {
        if !reader.fill().await? {
            return Err(error("server closed the connection"));
        }
        let mut got = 0;
        while let Some(m) = reader.next_buffered()? {
            let payload = m.payload();
            if let Some(age) = clock::age_ns(&payload) {
                rec.record(age);
            }
            got += 1;
        }
        if got > 0 {
            window.add_permits(got);
            Counters::add(&counters.received, got as u64);
        }
    }
}
