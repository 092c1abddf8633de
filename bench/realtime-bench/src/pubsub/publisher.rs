//! A publisher: publishes stamped payloads to the scenario's topic, paced to a rate or
//! as fast as flow control allows, with at most `window` QoS 1/2 messages in flight.
//!
//! Each publisher is two tasks: this writer, and a reader that takes the server's
//! acknowledgements (freeing window slots, answering PUBREC with PUBREL) and notices a
//! DISCONNECT. Many messages are encoded into one buffer and written at once.

use std::net::Ipv4Addr;
use std::num::NonZeroU16;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{Packet, PubResponse, Publish, QoS, Utf8Bytes};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::OwnedWriteHalf;
use tokio::sync::{Mutex, Semaphore};
use ws_proto::Message;

use super::{Proto, Shared};
use crate::clock::{self, STAMP_LEN};
use crate::mqtt::{self, MqttClient, MqttReader};
use crate::progress::Counters;
use crate::ws::{self, WsReader, WsWriter};
use crate::{Result, error};

/// Most messages encoded into one write.
const BATCH: usize = 64;
/// Most bytes encoded into one write.
const BATCH_BYTES: usize = 64 * 1024;
/// A write that took longer than this found the server's socket full.
const BLOCKED: Duration = Duration::from_micros(200);

/// The in-flight window: a permit per free slot, and which packet ids are in flight.
struct Flight {
    permits: Semaphore,
    in_flight: std::sync::Mutex<Vec<bool>>,
}

impl Flight {
    fn new(window: usize) -> Arc<Self> {
        Arc::new(Self {
            permits: Semaphore::new(window),
            in_flight: std::sync::Mutex::new(vec![false; 1 << 16]),
        })
    }

    /// Marks the next free packet id after `last` as in flight.
    fn next_id(&self, last: &mut u16) -> Option<NonZeroU16> {
        let mut map = self.in_flight.lock().ok()?;
        for _ in 0..u16::MAX {
            *last = last.wrapping_add(1).max(1);
            if let Some(slot) = map.get_mut(usize::from(*last)) {
                if !*slot {
                    *slot = true;
                    return NonZeroU16::new(*last);
                }
            }
        }
        None
    }

    /// The server acknowledged `id`: frees its slot (once).
    fn release(&self, id: u16, counters: &Counters) {
        let freed = match self.in_flight.lock() {
            Ok(mut map) => map
                .get_mut(usize::from(id))
                .map(|slot| std::mem::replace(slot, false))
                .unwrap_or(false),
            Err(_) => false,
        };
        if freed {
            self.permits.add_permits(1);
            Counters::add(&counters.acked, 1);
        }
    }

    /// Takes up to `want` free slots, waiting for at least one (the time waited is the
    /// server pushing back); `None` once the run stops.
    async fn take(&self, want: usize, shared: &Shared) -> Option<usize> {
        let now = self.permits.available_permits().min(want);
        if now > 0 {
            if let Ok(p) = self.permits.try_acquire_many(now as u32) {
                p.forget();
                return Some(now);
            }
        }
        let c = &shared.counters;
        Counters::add(&c.window_full, 1);
        let waited = Instant::now();
        loop {
            if shared.stopped() {
                return None;
            }
            match tokio::time::timeout(Duration::from_millis(50), self.permits.acquire()).await {
                Ok(Ok(p)) => {
                    p.forget();
                    Counters::add(&c.blocked_ns, waited.elapsed().as_nanos() as u64);
                    return Some(1);
                }
                Ok(Err(_)) => return None,
                Err(_) => continue,
            }
        }
    }
}

/// A connected publisher, ready to run.
pub(super) struct Publisher {
    shared: Arc<Shared>,
    side: Side,
}

enum Side {
    Mqtt(MqttClient),
    Ws(WsReader, WsWriter),
}

/// Connects publisher `index` from `source`.
pub(super) async fn connect(
    shared: Arc<Shared>,
    index: usize,
    source: Ipv4Addr,
) -> Result<Publisher> {
    let sc = &shared.scenario;
    let side = match sc.pub_proto {
        Proto::Mqtt => {
            let stream = crate::net::connect_with(sc.mqtt, source, sc.pub_send_buffer).await?;
            let id = format!("rb-pub-{}-{index}", std::process::id());
            Side::Mqtt(MqttClient::connect(stream, &id, sc.version, 0).await?)
        }
        Proto::WsJson => {
            let url = sc.ws.as_ref().ok_or_else(|| error("no /ws URL"))?;
            let (mut reader, writer) = ws::connect(url, source).await?;
            // The welcome message comes first.
            reader.next().await?;
            Side::Ws(reader, writer)
        }
    };
    Ok(Publisher { shared, side })
}

impl Publisher {
    /// Publishes until the run stops.
    pub(super) async fn run(self) -> Result<()> {
        match self.side {
            Side::Mqtt(client) => run_mqtt(self.shared, client).await,
            Side::Ws(reader, writer) => run_ws(self.shared, reader, writer).await,
        }
    }
}

/// How many messages to encode now: the batch size, limited by the pacing.
async fn due(shared: &Shared, start: Instant, sent: u64) -> Option<usize> {
    let sc = &shared.scenario;
    let batch = BATCH.min((BATCH_BYTES / sc.size.max(1)).max(1));
    loop {
        if shared.stopped() {
            return None;
        }
        if sc.rate <= 0.0 {
            return Some(batch);
        }
        let target = (start.elapsed().as_secs_f64() * sc.rate) as u64 + 1;
        if target > sent {
            return Some(batch.min((target - sent) as usize));
        }
        let next = start + Duration::from_secs_f64((sent as f64) / sc.rate);
        tokio::time::sleep_until(next.into()).await;
    }
}

/// Writes `out` and counts the time the write waited for the server.
async fn write_counted(w: &Mutex<OwnedWriteHalf>, out: &[u8], c: &Counters) -> Result<()> {
    let t = Instant::now();
    w.lock().await.write_all(out).await?;
    let took = t.elapsed();
    if took > BLOCKED {
        Counters::add(&c.blocked_ns, took.as_nanos() as u64);
    }
    Ok(())
}

async fn run_mqtt(shared: Arc<Shared>, client: MqttClient) -> Result<()> {
    let sc = &shared.scenario;
    let version = client.version;
    let qos = sc.qos;
    let window = sc.window.clamp(1, usize::from(client.receive_maximum));
    let flight = Flight::new(window);
    let writer = Arc::new(Mutex::new(client.writer));
    let acks = tokio::spawn(read_mqtt_acks(
        shared.clone(),
        client.reader,
        writer.clone(),
        flight.clone(),
        version,
    ));
    let topic = Utf8Bytes::from(shared.topic.clone());
    let pad = Bytes::from(vec![b'x'; sc.size.max(STAMP_LEN)]);
    let mut out = BytesMut::with_capacity(BATCH_BYTES + 1024);
    let mut stamp = [0u8; STAMP_LEN];
    let (start, mut sent, mut last_id) = (Instant::now(), 0u64, 0u16);
    let result = async {
        while let Some(mut n) = due(&shared, start, sent).await {
            if qos != QoS::AtMostOnce {
                match flight.take(n, &shared).await {
                    Some(got) => n = got,
                    None => break,
                }
            }
            clock::write_stamp(clock::now_ns(), &mut stamp);
            for _ in 0..n {
                let mut p = Publish::new(topic.clone(), pad.clone());
                p.qos = qos;
                if qos != QoS::AtMostOnce {
                    p.packet_id = flight.next_id(&mut last_id);
                }
                p.encode_header(version, &mut out)
                    .map_err(|e| error(format!("encode PUBLISH: {e}")))?;
                out.extend_from_slice(&stamp);
                out.extend_from_slice(pad.get(STAMP_LEN..).unwrap_or_default());
            }
            write_counted(&writer, &out, &shared.counters).await?;
            out.clear();
            sent += n as u64;
            Counters::add(&shared.counters.sent, n as u64);
        }
        // Wait for the acknowledgements still due (the caller bounds this by `drain`).
        while qos != QoS::AtMostOnce && flight.permits.available_permits() < window {
            if acks.is_finished() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
    .await;
    acks.abort();
    result
}

async fn read_mqtt_acks(
    shared: Arc<Shared>,
    mut reader: MqttReader,
    writer: Arc<Mutex<OwnedWriteHalf>>,
    flight: Arc<Flight>,
    version: mqtt_proto::ProtocolVersion,
) {
    let c = &shared.counters;
    let mut rel = BytesMut::new();
    let outcome: Result<()> = async {
        loop {
            if !reader.fill().await? {
                return Err(error("server closed the connection"));
            }
            while let Some(packet) = reader.next_buffered()? {
                match packet {
                    Packet::PubAck(a) | Packet::PubComp(a) => {
                        if a.reason_code.is_error() {
                            shared.note(format!("PUBACK {}", a.reason_code.name()));
                        }
                        flight.release(a.packet_id.get(), c);
                    }
                    Packet::PubRec(a) if a.reason_code.is_error() => {
                        shared.note(format!("PUBREC {}", a.reason_code.name()));
                        flight.release(a.packet_id.get(), c);
                    }
                    Packet::PubRec(a) => mqtt::encode(
                        &Packet::PubRel(PubResponse::new(a.packet_id)),
                        version,
                        &mut rel,
                    )?,
                    Packet::Disconnect(d) => {
                        return Err(error(format!("DISCONNECT {}", d.reason_code.name())));
                    }
                    _ => {}
                }
            }
            if !rel.is_empty() {
                writer.lock().await.write_all(&rel).await?;
                rel.clear();
            }
        }
    }
    .await;
    if let Err(e) = outcome {
        if !shared.stopped() {
            shared.note(format!("publisher: {e}"));
        }
    }
}

async fn run_ws(shared: Arc<Shared>, reader: WsReader, writer: WsWriter) -> Result<()> {
    let sc = &shared.scenario;
    let qos = u8::from(sc.qos).min(1);
    let window = sc.window.max(1);
    let flight = Flight::new(window);
    let writer = Arc::new(Mutex::new(writer));
    let acks = tokio::spawn(read_ws_acks(shared.clone(), reader, flight.clone()));
    let pad = "x".repeat(sc.size.saturating_sub(STAMP_LEN));
    let mut stamp = [0u8; STAMP_LEN];
    let (start, mut sent, mut last_id) = (Instant::now(), 0u64, 0u16);
    let result = async {
        while let Some(mut n) = due(&shared, start, sent).await {
            if qos == 1 {
                match flight.take(n, &shared).await {
                    Some(got) => n = got,
                    None => break,
                }
            }
            clock::write_stamp(clock::now_ns(), &mut stamp);
            let stamp = std::str::from_utf8(&stamp).unwrap_or("0000000000000000");
            let mut w = writer.lock().await;
            for _ in 0..n {
                let id = match qos {
                    1 => format!(",\"id\":{}", flight.next_id(&mut last_id).map_or(0, |i| i.get())),
                    _ => String::new(),
                };
                let text = format!(
                    "{{\"type\":\"publish\",\"topic\":\"{}\",\"payload\":\"{stamp}{pad}\",\"qos\":{qos}{id}}}",
                    shared.topic
                );
                w.queue(&Message::text(text))?;
            }
            let t = Instant::now();
            w.flush().await?;
            if t.elapsed() > BLOCKED {
                Counters::add(&shared.counters.blocked_ns, t.elapsed().as_nanos() as u64);
            }
            drop(w);
            sent += n as u64;
            Counters::add(&shared.counters.sent, n as u64);
        }
        while qos == 1 && flight.permits.available_permits() < window && !acks.is_finished() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Ok(())
    }
    .await;
    acks.abort();
    result
}

async fn read_ws_acks(shared: Arc<Shared>, mut reader: WsReader, flight: Arc<Flight>) {
    let outcome: Result<()> = async {
        loop {
            match reader.next().await? {
                Message::Text(t) => match ws::json_type(t.as_str()) {
                    Some("puback") => {
                        let v: serde_json::Value = serde_json::from_str(t.as_str())?;
                        let id = v.get("id").and_then(serde_json::Value::as_u64).unwrap_or(0);
                        flight.release(u16::try_from(id).unwrap_or(0), &shared.counters);
                    }
                    Some("error") => shared.note(format!("/ws publish: {}", t.as_str())),
                    _ => {}
                },
                _ => continue,
            }
        }
    }
    .await;
    if let Err(e) = outcome {
        if !shared.stopped() {
            shared.note(format!("/ws publisher: {e}"));
        }
    }
}
