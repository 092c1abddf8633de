//! Issue 7's crash test: nothing acknowledged is lost across SIGKILL.
//!
//! A persistent subscriber (session expiry > 0) goes offline; a publisher sends
//! 10,000 QoS 1 and 2,000 QoS 2 messages and records every acknowledgement
//! (PUBACK; PUBREC for QoS 2: from then on the server owns the message); the
//! server (release binary, `sync` durability) is killed with SIGKILL at a random
//! moment; it is restarted on the same data directory and the subscriber
//! reconnects. Every acknowledged message must be delivered, QoS 2 ones exactly
//! once (and no QoS 2 message twice), and the retained message must survive.
//! Five rounds, five different moments.
#![cfg(feature = "interop")]
// Helpers of a test: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{Decoder, Packet, PacketId, ProtocolVersion, PubResponse, Publish, QoS};
use realtime_tests::ServerProcess;
use realtime_tests::mqtt::{TestClient, connect_packet};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const QOS1: usize = 10_000;
const QOS2: usize = 2_000;
const WINDOW: usize = 64;
const V5: ProtocolVersion = ProtocolVersion::V5;

fn start(dir: &std::path::Path) -> ServerProcess {
    ServerProcess::start(&[
        "--data-dir",
        dir.to_str().unwrap(),
        "--durability",
        "sync",
        "--max-queued-messages",
        "100000",
        "--max-queued-bytes",
        "1000000000",
    ])
}

async fn subscriber(addr: std::net::SocketAddr) -> TestClient {
    let mut c = connect_packet(V5, "crash-sub");
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(3600);
    let (client, ack) = TestClient::connect_with(addr, c).await;
    assert_eq!(ack.reason_code, mqtt_proto::ReasonCode::Success);
    client
}

/// Publishes everything with a window of unacknowledged messages until done or
/// the connection breaks; returns the payloads acknowledged. `progress` follows
/// how many are acknowledged so far.
async fn publish_all(addr: std::net::SocketAddr, progress: Arc<AtomicUsize>) -> HashSet<String> {
    let mut acked = HashSet::new();
    let Ok(mut stream) = TcpStream::connect(addr).await else {
        return acked;
    };
    let mut out = BytesMut::new();
    Packet::Connect(Box::new(connect_packet(V5, "crash-pub")))
        .encode(V5, &mut out)
        .unwrap();
    let decoder = Decoder::new(V5);
    let mut inbox = BytesMut::new();
    let mut pending: HashMap<u16, String> = HashMap::new();
    let mut next = 0usize;
    let total = QOS1 + QOS2;
    let mut connected = false;
    loop {
        if connected {
            while pending.len() < WINDOW && next < total {
                // Interleaved (every sixth is QoS 2), so that a kill at any
                // moment finds both kinds in flight.
                let every = total / QOS2;
                let (qos, payload) = if next % every == every - 1 {
                    (QoS::ExactlyOnce, format!("2-{}", next / every))
                } else {
                    (QoS::AtLeastOnce, format!("1-{}", next - next / every))
                };
                let id = (next % 65_000 + 1) as u16;
                let mut p =
                    Publish::new(format!("crash/{}", next % 10), Bytes::from(payload.clone()));
                p.qos = qos;
                p.packet_id = PacketId::new(id);
                Packet::Publish(p).encode(V5, &mut out).unwrap();
                pending.insert(id, payload);
                next += 1;
            }
        }
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return acked;
        }
        out.clear();
        if connected && next == total && pending.is_empty() {
            return acked;
        }
        match tokio::time::timeout(Duration::from_secs(10), stream.read_buf(&mut inbox)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return acked,
        }
        while let Ok(Some(packet)) = decoder.decode(&mut inbox) {
            match packet {
                Packet::ConnAck(_) => connected = true,
                Packet::PubAck(a) => {
                    if let Some(p) = pending.remove(&a.packet_id.get()) {
                        acked.insert(p);
                    }
                }
                Packet::PubRec(a) => {
                    if let Some(p) = pending.remove(&a.packet_id.get()) {
                        acked.insert(p);
                    }
                    Packet::PubRel(PubResponse::new(a.packet_id))
                        .encode(V5, &mut out)
                        .unwrap();
                }
                _ => {}
            }
        }
        progress.store(acked.len(), Ordering::Relaxed);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_five_moments_loses_no_acknowledged_message() {
    let base = std::env::temp_dir().join(format!("realtime-crash-{}", std::process::id()));
    let mut seed = u64::from(std::process::id())
        ^ Instant::now().elapsed().as_nanos() as u64
        ^ 0x9E37_79B9_7F4A_7C15;
    let mut killed_while_publishing = 0;
    for round in 0..5 {
        let dir = base.join(format!("round-{round}"));
        let _ = std::fs::remove_dir_all(&dir);
        let mut server = start(&dir);
        let mut sub = subscriber(server.mqtt).await;
        sub.subscribe("crash/#", QoS::ExactlyOnce).await;
        sub.disconnect().await;
        let mut retainer = TestClient::connect(server.mqtt, V5, "crash-retainer").await;
        retainer
            .publish("crash-retained/state", b"kept", QoS::AtLeastOnce, true)
            .await;

        // A different moment each round, while publishing: once a random number
        // of messages (1,000 to ~11,000 of 12,000) has been acknowledged. (A
        // fixed delay often fell after the last acknowledgement on a fast run.)
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let kill_at = 1_000 + (seed % 10) as usize * 1_000 + round * 173;
        let addr = server.mqtt;
        let progress = Arc::new(AtomicUsize::new(0));
        let publisher = tokio::spawn(publish_all(addr, progress.clone()));
        let started = Instant::now();
        while progress.load(Ordering::Relaxed) < kill_at
            && !publisher.is_finished()
            && started.elapsed() < Duration::from_secs(60)
        {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        server.kill();
        let acked = publisher.await.unwrap();
        if acked.len() < QOS1 + QOS2 {
            killed_while_publishing += 1;
        }
        eprintln!(
            "round {round}: killed after {:?} at >= {kill_at} acknowledgements, {} acknowledged",
            started.elapsed(),
            acked.len()
        );

        let server = start(&dir);
        let mut sub = subscriber(server.mqtt).await;
        let mut seen: HashMap<String, usize> = HashMap::new();
        while let Some(packet) = sub.recv_within(Duration::from_secs(3)).await {
            if let Packet::Publish(p) = packet {
                *seen
                    .entry(String::from_utf8_lossy(&p.payload).to_string())
                    .or_default() += 1;
                sub.ack(&p).await;
            }
        }
        let missing: Vec<&String> = acked.iter().filter(|p| !seen.contains_key(*p)).collect();
        assert!(
            missing.is_empty(),
            "round {round}: {} acknowledged messages lost, e.g. {:?}",
            missing.len(),
            &missing[..missing.len().min(5)]
        );
        let twice: Vec<(&String, &usize)> = seen
            .iter()
            .filter(|(p, n)| p.starts_with("2-") && **n > 1)
            .collect();
        assert!(
            twice.is_empty(),
            "round {round}: QoS 2 delivered more than once: {twice:?}"
        );
        let mut late = TestClient::connect(server.mqtt, V5, "crash-late").await;
        late.subscribe("crash-retained/#", QoS::AtMostOnce).await;
        let r = late.recv_publish().await;
        assert_eq!(
            (&r.payload[..], r.retain),
            (&b"kept"[..], true),
            "round {round}: retained message survives"
        );
        drop(server);
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&base);
    assert!(
        killed_while_publishing >= 3,
        "only {killed_while_publishing} of 5 kills hit the publishing"
    );
}
