//! The well-behaved client connected throughout: an MQTT 5 client on its own
//! thread and runtime that publishes QoS 1 to a topic it subscribes to and
//! samples the round trip (PUBLISH → PUBACK and the delivered copy).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_proto::{Packet, PacketId, ProtocolVersion, PubResponse, Publish, QoS};
use realtime_tests::mqtt::{Event, TestClient};

/// Samples are not recorded (connecting, warming up).
pub(crate) const WARMUP: u8 = 0;
/// No bad input yet.
pub(crate) const BASELINE: u8 = 1;
/// The catalogue is running.
pub(crate) const DURING: u8 = 2;

/// Pause between two round trips.
const PACE: Duration = Duration::from_millis(5);

/// What the probe saw.
#[derive(Debug, Default)]
pub(crate) struct Report {
    /// Round trips in the baseline phase.
    pub(crate) baseline: Vec<Duration>,
    /// Round trips while the catalogue ran.
    pub(crate) during: Vec<Duration>,
    /// When each of `during` ended.
    pub(crate) during_at: Vec<Instant>,
    /// Every error or unexpected packet (must stay empty).
    pub(crate) errors: Vec<String>,
}

/// The 99th percentile (nearest rank) of `samples`.
pub(crate) fn p99(samples: &[Duration]) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = (sorted.len() * 99).div_ceil(100).max(1);
    sorted[rank - 1]
}

impl Report {
    /// The slowest round trip that ended between `from` and `to`.
    pub(crate) fn worst_between(&self, from: Instant, to: Instant) -> Duration {
        self.during_at
            .iter()
            .zip(&self.during)
            .filter(|(at, _)| **at >= from && **at <= to)
            .map(|(_, rtt)| *rtt)
            .max()
            .unwrap_or_default()
    }
}

/// The running probe.
pub(crate) struct Probe {
    phase: Arc<AtomicU8>,
    stop: Arc<AtomicBool>,
    thread: JoinHandle<Report>,
}

impl Probe {
    /// Connects to `addr` and starts sampling (in the warm-up phase).
    pub(crate) fn start(addr: SocketAddr) -> Self {
        let phase = Arc::new(AtomicU8::new(WARMUP));
        let stop = Arc::new(AtomicBool::new(false));
        let (p, s) = (phase.clone(), stop.clone());
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("probe runtime");
            rt.block_on(run(addr, p, s))
        });
        Self {
            phase,
            stop,
            thread,
        }
    }

    /// Moves to `phase`.
    pub(crate) fn set_phase(&self, phase: u8) {
        self.phase.store(phase, Ordering::Release);
    }

    /// Stops and returns the report.
    pub(crate) fn finish(self) -> Report {
        self.stop.store(true, Ordering::Release);
        self.thread.join().unwrap_or_else(|_| Report {
            errors: vec!["the probe thread panicked".into()],
            ..Report::default()
        })
    }
}

async fn run(addr: SocketAddr, phase: Arc<AtomicU8>, stop: Arc<AtomicBool>) -> Report {
    let mut report = Report::default();
    let mut c = TestClient::connect(addr, ProtocolVersion::V5, "probe").await;
    c.subscribe("probe/rtt", QoS::AtLeastOnce).await;
    let mut n: u16 = 0;
    while !stop.load(Ordering::Acquire) {
        n = n.wrapping_add(1).max(1);
        let id = PacketId::new(n).expect("non-zero");
        let mut p = Publish::new(
            "probe/rtt".to_string(),
            Bytes::from(n.to_be_bytes().to_vec()),
        );
        p.qos = QoS::AtLeastOnce;
        p.packet_id = Some(id);
        let started = Instant::now();
        c.try_send(&Packet::Publish(p)).await;
        let (mut acked, mut delivered) = (false, false);
        while !(acked && delivered) {
            match c.next_event(Duration::from_secs(5)).await {
                Some(Event::Packet(Packet::PubAck(a)))
                    if a.packet_id == id && !a.reason_code.is_error() =>
                {
                    acked = true
                }
                Some(Event::Packet(Packet::Publish(d))) if d.payload[..] == n.to_be_bytes() => {
                    if let Some(did) = d.packet_id {
                        c.try_send(&Packet::PubAck(PubResponse::new(did))).await;
                    }
                    delivered = true;
                }
                other => {
                    report.errors.push(format!("round trip {n}: {other:?}"));
                    return report;
                }
            }
        }
        let rtt = started.elapsed();
        match phase.load(Ordering::Acquire) {
            BASELINE => report.baseline.push(rtt),
            DURING => {
                report.during.push(rtt);
                report.during_at.push(Instant::now());
            }
            _ => {}
        }
        tokio::time::sleep(PACE).await;
    }
    c.disconnect().await;
    report
}
