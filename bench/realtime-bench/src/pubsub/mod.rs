//! Publish/subscribe scenarios: N publishers → one topic → M subscribers.
//!
//! - **fan-in**: N MQTT publishers as fast as flow control allows → M MQTT subscribers;
//! - **fan-out**: 1 MQTT publisher at a fixed rate → M MQTT subscribers;
//! - **ws-broadcast**: a `/ws` JSON publisher → M `/ws` JSON subscribers;
//! - **cross**: an MQTT publisher → M `/ws` JSON subscribers (the cross-protocol path).
//!
//! A run connects and subscribes everyone first, then publishes for `duration`; the
//! rate is what subscribers received inside that window, and the server's CPU time is
//! read at its two ends. After the window publishers stop and the run waits up to
//! `drain` for the messages still queued, whose latencies count too (a broker that
//! queues for seconds shows it in p99, not in a lost message).
//!
//! Flow control is honest: QoS 1/2 publishers keep at most `window` messages in flight
//! (and never more than the server's Receive Maximum); time spent waiting for a window
//! slot, or for a write the server's socket did not accept, is reported as
//! `publisher_blocked_s` — the server pushing back.

mod publisher;
mod subscriber;

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use mqtt_proto::{ProtocolVersion, QoS};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;

use crate::latency::Latencies;
use crate::net::Sources;
use crate::procstat::{self, ProcSample};
use crate::progress::{self, Counters};
use crate::report::{Report, round3};
use crate::ws::WsUrl;
use crate::{Result, error};

/// Connections set up at the same time.
const CONNECT_CONCURRENCY: usize = 256;

/// The protocol of one side of a pub/sub scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Proto {
    /// MQTT over TCP.
    Mqtt,
    /// The `/ws` JSON protocol over WebSocket.
    WsJson,
}

/// A pub/sub scenario.
#[derive(Debug, Clone)]
pub struct PubSub {
    /// Scenario name in the report (`fanin`, `fanout`, ...).
    pub name: String,
    /// The MQTT listener.
    pub mqtt: SocketAddr,
    /// The `/ws` URL (for [`Proto::WsJson`] sides).
    pub ws: Option<WsUrl>,
    /// Publishers' protocol.
    pub pub_proto: Proto,
    /// Subscribers' protocol.
    pub sub_proto: Proto,
    /// Number of publishers.
    pub publishers: usize,
    /// Number of subscribers.
    pub subscribers: usize,
    /// QoS of the publishes and of the subscriptions.
    pub qos: QoS,
    /// Payload size in bytes (at least 16: the timestamp).
    pub size: usize,
    /// Messages per second per publisher; 0 = as fast as flow control allows.
    pub rate: f64,
    /// QoS 1/2 messages in flight per publisher.
    pub window: usize,
    /// Length of the measured window.
    pub duration: Duration,
    /// Longest wait for queued messages after the window.
    pub drain: Duration,
    /// MQTT protocol version.
    pub version: ProtocolVersion,
    /// MQTT subscribers' session: 0 = ends with the connection; above 0 = kept by
    /// the server (v5 Session Expiry Interval in seconds, v3 Clean Session 0), so
    /// that a durable store writes their QoS 1/2 deliveries.
    pub session_expiry: u32,
    /// MQTT publishers' socket send buffer (`SO_SNDBUF`), instead of the kernel's
    /// autotuning: what a flooding publisher has written but the server has not
    /// read yet waits there, and counts in the latency.
    pub pub_send_buffer: Option<u32>,
    /// The server's pid, for its CPU time and RSS.
    pub server_pid: Option<u32>,
    /// Connections per source address.
    pub per_address: u32,
    /// Print progress on stderr.
    pub progress: bool,
}

impl PubSub {
    /// Fan-in: `publishers` → `subscribers` over MQTT at QoS 0, 64 B, 10 s.
    pub fn fan_in(mqtt: SocketAddr, publishers: usize, subscribers: usize) -> Self {
        Self {
            name: "fanin".into(),
            mqtt,
            ws: None,
            pub_proto: Proto::Mqtt,
            sub_proto: Proto::Mqtt,
            publishers,
            subscribers,
            qos: QoS::AtMostOnce,
            size: 64,
            rate: 0.0,
            window: 64,
            duration: Duration::from_secs(10),
            drain: Duration::from_secs(5),
            version: ProtocolVersion::V3_1_1,
            session_expiry: 0,
            pub_send_buffer: None,
            server_pid: None,
            per_address: 5000,
            progress: true,
        }
    }
}

/// What publisher and subscriber tasks share.
struct Shared {
    scenario: PubSub,
    topic: String,
    counters: Arc<Counters>,
    latencies: Arc<Latencies>,
    stop: AtomicBool,
    /// Why the server closed connections (DISCONNECT reason codes, close codes).
    notes: std::sync::Mutex<Vec<String>>,
}

impl Shared {
    fn note(&self, what: String) {
        Counters::add(&self.counters.disconnects, 1);
        if let Ok(mut notes) = self.notes.lock() {
            if notes.len() < 10 {
                notes.push(what);
            }
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

fn server_sample(pid: Option<u32>) -> Option<ProcSample> {
    pid.and_then(|p| procstat::sample(p).ok())
}

/// Runs the scenario and returns its report.
pub async fn run(scenario: &PubSub) -> Result<Report> {
    if scenario.publishers == 0 || scenario.subscribers == 0 {
        return Err(error("need at least one publisher and one subscriber"));
    }
    if (scenario.pub_proto == Proto::WsJson || scenario.sub_proto == Proto::WsJson)
        && scenario.ws.is_none()
    {
        return Err(error("a /ws side needs --ws-url"));
    }
    let sources = Sources::random(scenario.per_address);
    let shared = Arc::new(Shared {
        scenario: scenario.clone(),
        topic: format!("bench/{:08x}/t", rand::random::<u32>()),
        counters: Counters::new(),
        latencies: Latencies::new()?,
        stop: AtomicBool::new(false),
        notes: std::sync::Mutex::new(Vec::new()),
    });
    let _progress = scenario.progress.then(|| {
        progress::start(
            scenario.name.clone(),
            shared.counters.clone(),
            scenario.server_pid,
        )
    });

    // Subscribers: connected and subscribed before anything is published.
    let gate = Arc::new(Semaphore::new(CONNECT_CONCURRENCY));
    let (ready_tx, mut ready_rx) = mpsc::channel::<Result<()>>(CONNECT_CONCURRENCY);
    let mut subscribers = JoinSet::new();
    for i in 0..scenario.subscribers {
        let source = sources.for_index(i as u64);
        subscribers.spawn(subscriber::run(
            shared.clone(),
            i,
            source,
            gate.clone(),
            ready_tx.clone(),
        ));
    }
    drop(ready_tx);
    for _ in 0..scenario.subscribers {
        match ready_rx.recv().await {
            Some(Ok(())) => {}
            Some(Err(e)) => return Err(error(format!("subscriber setup: {e}"))),
            None => return Err(error("subscriber tasks ended during setup")),
        }
    }

    let mut publishers = Vec::new();
    for i in 0..scenario.publishers {
        let source = sources.for_index((scenario.subscribers + i) as u64);
        publishers.push(publisher::connect(shared.clone(), i, source).await?);
    }

    let server0 = server_sample(scenario.server_pid);
    let client0 = procstat::own().ok();
    let t0 = Instant::now();
    let received0 = Counters::get(&shared.counters.received);
    let mut running = JoinSet::new();
    for p in publishers {
        running.spawn(p.run());
    }
    tokio::time::sleep(scenario.duration).await;
    let window = t0.elapsed().as_secs_f64();
    let received1 = Counters::get(&shared.counters.received);
    let server1 = server_sample(scenario.server_pid);
    let client1 = procstat::own().ok();
    shared.stop.store(true, Ordering::Relaxed);

    // Publishers finish their in-flight messages (bounded by the drain time).
    let drain_end = Instant::now() + scenario.drain;
    let mut publish_errors = Vec::new();
    while let Ok(Some(done)) = tokio::time::timeout_at(drain_end.into(), running.join_next()).await
    {
        if let Ok(Err(e)) = done {
            publish_errors.push(e.to_string());
        }
    }
    running.abort_all();
    let sent = Counters::get(&shared.counters.sent);
    let expected = sent * scenario.subscribers as u64;
    // Then subscribers drain their queues: until all arrived, nothing moved for a
    // second, or the drain time is over.
    let mut last = (Counters::get(&shared.counters.received), Instant::now());
    while Instant::now() < drain_end {
        let now = Counters::get(&shared.counters.received);
        if now >= expected {
            break;
        }
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(1) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    subscribers.abort_all();
    while subscribers.join_next().await.is_some() {}

    let c = &shared.counters;
    let delivered = Counters::get(&c.received);
    let in_window = received1.saturating_sub(received0);
    let mut r = Report::new(&scenario.name);
    r.set("publishers", scenario.publishers);
    r.set("subscribers", scenario.subscribers);
    r.set("pub_proto", proto_name(scenario.pub_proto));
    r.set("sub_proto", proto_name(scenario.sub_proto));
    r.set("qos", u8::from(scenario.qos));
    r.set("size", scenario.size);
    r.set("rate_per_publisher", scenario.rate);
    if let Some(bytes) = scenario.pub_send_buffer {
        r.set("pub_send_buffer", bytes);
    }
    r.set("window", scenario.window);
    r.set("duration_s", round3(window));
    r.set("sent", sent);
    r.set("acked", Counters::get(&c.acked));
    r.set("delivered", delivered);
    r.set("expected", expected);
    r.set("lost", expected.saturating_sub(delivered));
    r.set("delivered_per_s", (in_window as f64 / window).round());
    r.set("published_per_s", (sent as f64 / window).round());
    r.set("window_full", Counters::get(&c.window_full));
    r.set(
        "publisher_blocked_s",
        round3(Counters::get(&c.blocked_ns) as f64 / 1e9),
    );
    r.set("disconnects", Counters::get(&c.disconnects));
    if let Ok(notes) = shared.notes.lock() {
        if !notes.is_empty() {
            r.set("server_said", notes.join("; "));
        }
    }
    if !publish_errors.is_empty() {
        r.set("publisher_errors", publish_errors.join("; "));
    }
    r.latency(&shared.latencies.summary());
    r.server(server0, server1, in_window as f64);
    r.client(client0, client1);
    Ok(r)
}

fn proto_name(p: Proto) -> &'static str {
    match p {
        Proto::Mqtt => "mqtt",
        Proto::WsJson => "ws-json",
    }
}
