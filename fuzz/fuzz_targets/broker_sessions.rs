//! The broker's session logic driven by several clients at once, without sockets:
//! arbitrary sequences of CONNECT, PUBLISH, SUBSCRIBE, acknowledgements, drops,
//! raw garbage and the passing of time, checking after every step that
//! - nothing panics and the server's output always decodes;
//! - the server never adds a message in flight beyond the client's Receive Maximum
//!   (MQTT-3.3.4-9);
//! - no PUBLISH reaches a client whose session never subscribed to a matching filter.
#![no_main]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use bytes::{Bytes, BytesMut};
use libfuzzer_sys::fuzz_target;
use mqtt_proto::{
    Connect, Decoder, Disconnect, Packet, PacketId, ProtocolVersion, PubResponse, Publish, QoS, ReasonCode, RetainHandling,
    Subscribe, Subscription, SubscriptionOptions, Unsubscribe, Will, topic,
};
use realtime_server::broker::{Broker, BrokerConfig, QueueLimits};
use realtime_server::conn::{Protocol, Status};
use realtime_server::metrics::Transport;
use realtime_server::mqtt::MqttConnection;
use realtime_server::conn::ConnWake;

const LEVELS: [&str; 4] = ["a", "b", "$s", ""];
const IDS: [&str; 3] = ["alpha", "beta", ""];

#[derive(Arbitrary, Debug)]
struct Input {
    receive_maximum: u8,
    max_inflight: u8,
    queue: u8,
    alias_max: u8,
    steps: Vec<Step>,
}

#[derive(Arbitrary, Debug, Clone, Copy)]
struct TopicSel(u8, u8, u8);

impl TopicSel {
    fn name(self) -> String {
        let n = 1 + usize::from(self.0 % 3);
        [self.0, self.1, self.2].iter().take(n).map(|b| LEVELS[usize::from(*b >> 2) % 4]).collect::<Vec<_>>().join("/")
    }

    fn filter(self) -> String {
        let mut levels: Vec<&str> = Vec::new();
        let n = 1 + usize::from(self.0 % 3);
        for b in [self.0, self.1, self.2].iter().take(n) {
            levels.push(match b >> 5 {
                0 => "+",
                1 if levels.len() + 1 == n => "#",
                _ => LEVELS[usize::from(*b >> 2) % 4],
            });
        }
        let f = levels.join("/");
        if self.1 & 1 == 1 { format!("$share/g/{f}") } else { f }
    }
}

#[derive(Arbitrary, Debug)]
enum Step {
    Connect { slot: u8, version: u8, id: u8, clean: bool, expiry: u8, keep_alive: u8, will: Option<(TopicSel, u8, bool, u8)>, receive_max: u8, alias_max: u8, max_packet: Option<u8> },
    Publish { slot: u8, topic: TopicSel, alias: Option<u8>, qos: u8, retain: bool, dup: bool, pid: u8, len: u8, expiry: Option<u8> },
    Subscribe { slot: u8, filter: TopicSel, qos: u8, no_local: bool, rap: bool, rh: u8, sub_id: Option<u8>, pid: u8 },
    Unsubscribe { slot: u8, filter: TopicSel, pid: u8 },
    AckReceived { slot: u8, nth: u8, pubrec_error: bool },
    AckRaw { slot: u8, kind: u8, pid: u8 },
    Ping { slot: u8 },
    Disconnect { slot: u8, reason: u8, expiry: Option<u8> },
    Drop { slot: u8 },
    Raw { slot: u8, bytes: Vec<u8> },
    Advance { secs: u8 },
}

/// What the harness knows about one simulated client connection.
struct Sim {
    conn: MqttConnection,
    version: ProtocolVersion,
    decoder: Decoder,
    inbox: BytesMut,
    session_key: String,
    aliases: HashMap<u16, String>,
    /// QoS > 0 PUBLISH received and not yet acknowledged by the harness: (id, qos).
    unacked: Vec<(PacketId, QoS)>,
    /// CONNACK 0x00 received.
    connected: bool,
    /// Clean Start / Clean Session of its CONNECT.
    clean: bool,
}

struct World {
    now: Instant,
    slots: [Option<Sim>; 4],
    /// Filters each session ever subscribed to (by session key: client id, or a
    /// unique name for assigned ids).
    subscribed: HashMap<String, Vec<String>>,
    anon: u32,
}

fn pid(n: u8) -> PacketId {
    PacketId::new(u16::from(n) + 1).unwrap_or(PacketId::MIN)
}

fn qos(n: u8) -> QoS {
    QoS::from_u8(n % 3).unwrap_or(QoS::AtMostOnce)
}

impl World {
    fn send(&mut self, slot: usize, packet: &Packet) {
        let Some(sim) = self.slots[slot].as_mut() else { return };
        let mut buf = BytesMut::new();
        if packet.encode(sim.version, &mut buf).is_ok() {
            self.feed(slot, buf);
        }
    }

    fn feed(&mut self, slot: usize, mut buf: BytesMut) {
        let now = self.now;
        let Some(sim) = self.slots[slot].as_mut() else { return };
        let window_before = sim.conn.session().map(|s| s.lock().outbox.inflight_len());
        let status = sim.conn.on_read(&mut buf, now);
        self.after(slot, status, window_before);
    }

    /// Drains a connection's output, checks it, closes it if asked.
    fn after(&mut self, slot: usize, status: Status, inflight_before: Option<usize>) {
        let Some(sim) = self.slots[slot].as_mut() else { return };
        // Receive Maximum: nothing added beyond the window (resends after a
        // reconnect may exceed a smaller new window: MQTT-4.4.0-1 comes first).
        // (On the CONNECT itself, messages carried over from the session's previous
        // connection are resent whatever the new window: there is no "before".)
        if let (Some(session), Some(window), Some(before)) = (sim.conn.session(), sim.conn.inflight_window(), inflight_before) {
            let now_inflight = session.lock().outbox.inflight_len();
            assert!(now_inflight <= window.max(before), "in flight {now_inflight} > window {window} (was {before})");
        }
        let bytes = sim.conn.output().take_all();
        sim.inbox.extend_from_slice(&bytes);
        loop {
            let packet = match sim.decoder.decode(&mut sim.inbox) {
                Ok(Some(p)) => p,
                Ok(None) => break,
                Err(e) => panic!("server sent an undecodable packet: {e}"),
            };
            match packet {
                Packet::ConnAck(ack) => {
                    sim.connected = ack.reason_code == ReasonCode::Success;
                    // The model follows what the server says: a new session has no
                    // subscriptions (MQTT-3.2.2-2/3).
                    // (MQTT 3.1 has no Session Present flag: its Clean Session decides.)
                    let new_session = if sim.version == ProtocolVersion::V3_1 { sim.clean } else { !ack.session_present };
                    if sim.connected && new_session {
                        self.subscribed.insert(sim.session_key.clone(), Vec::new());
                    }
                }
                Packet::Publish(p) => {
                    let topic = match p.properties.topic_alias() {
                        Some(a) if p.topic.is_empty() => sim.aliases.get(&a).cloned().expect("alias used before set"),
                        Some(a) => {
                            sim.aliases.insert(a, p.topic.to_string());
                            p.topic.to_string()
                        }
                        None => p.topic.to_string(),
                    };
                    let filters = self.subscribed.get(&sim.session_key).cloned().unwrap_or_default();
                    let ok = filters.iter().any(|f| {
                        let inner = match topic::parse_shared(f) {
                            Ok(Some(s)) => s.filter.to_string(),
                            _ => f.clone(),
                        };
                        topic::matches(&inner, &topic)
                    });
                    assert!(ok, "PUBLISH on {topic:?} to slot {slot} session {} subscribed to {filters:?}; model {:?}", sim.session_key, self.subscribed);
                    if let Some(id) = p.packet_id {
                        sim.unacked.push((id, p.qos));
                    }
                }
                _ => {}
            }
        }
        if status == Status::Close || sim.conn.is_closed() {
            self.slots[slot] = None;
        }
    }

    fn wake_all(&mut self) {
        for slot in 0..4 {
            let now = self.now;
            let Some(sim) = self.slots[slot].as_mut() else { continue };
            let before = sim.conn.session().map(|s| s.lock().outbox.inflight_len());
            let status = sim.conn.on_wake(now);
            self.after(slot, status, before);
        }
    }
}

fuzz_target!(|input: Input| {
    let config = BrokerConfig {
        receive_maximum: u16::from(input.receive_maximum.max(1)),
        max_inflight: u16::from(input.max_inflight.max(1)),
        queue: QueueLimits { max_messages: usize::from(input.queue.max(1)), max_bytes: 64 * 1024 },
        topic_alias_maximum: u16::from(input.alias_max % 8),
        sys_interval: None,
        ..BrokerConfig::default()
    };
    let broker = Arc::new(Broker::new(config));
    let mut w = World { now: Instant::now(), slots: Default::default(), subscribed: HashMap::new(), anon: 0 };
    let peer: SocketAddr = ([127, 0, 0, 1], 1).into();
    for step in input.steps.into_iter().take(64) {
        match step {
            Step::Connect { slot, version, id, clean, expiry, keep_alive, will, receive_max, alias_max, max_packet } => {
                let slot = usize::from(slot % 4);
                let version = [ProtocolVersion::V3_1, ProtocolVersion::V3_1_1, ProtocolVersion::V5][usize::from(version % 3)];
                let client_id = IDS[usize::from(id % 3)];
                let session_key = if client_id.is_empty() {
                    w.anon += 1;
                    format!("anon-{}", w.anon)
                } else {
                    client_id.to_string()
                };
                let wake = Arc::new(ConnWake::new());
                let conn = MqttConnection::new(broker.clone(), Transport::MqttTcp, peer, wake, w.now);
                w.slots[slot] = Some(Sim {
                    conn,
                    version,
                    decoder: Decoder::new(version),
                    inbox: BytesMut::new(),
                    session_key,
                    aliases: HashMap::new(),
                    unacked: Vec::new(),
                    connected: false,
                    clean,
                });
                let mut c = Connect::new(version, client_id.to_string());
                c.clean_start = clean;
                c.keep_alive = u16::from(keep_alive % 4);
                if version.is_v5() {
                    c.properties.session_expiry_interval = Some(u32::from(expiry % 4));
                    c.properties.receive_maximum = Some(u16::from(receive_max.max(1)));
                    c.properties.topic_alias_maximum = Some(u16::from(alias_max % 4));
                    c.properties.maximum_packet_size = max_packet.map(|m| 20 + u32::from(m));
                }
                if let Some((t, q, retain, delay)) = will {
                    let mut wl = Will { topic: t.name().into(), payload: Bytes::from_static(b"will"), qos: qos(q), retain, properties: Default::default() };
                    if version.is_v5() {
                        wl.properties.will_delay_interval = Some(u32::from(delay % 3));
                    }
                    c.will = Some(wl);
                }
                w.send(slot, &Packet::Connect(Box::new(c)));
            }
            Step::Publish { slot, topic, alias, qos: q, retain, dup, pid: p, len, expiry } => {
                let slot = usize::from(slot % 4);
                let mut m = Publish::new(topic.name(), Bytes::from(vec![b'x'; usize::from(len)]));
                m.qos = qos(q);
                m.retain = retain;
                m.dup = dup && m.qos != QoS::AtMostOnce;
                m.packet_id = (m.qos != QoS::AtMostOnce).then(|| pid(p));
                m.properties.to_mut().topic_alias = alias.map(|a| u16::from(a % 4) + 1);
                if alias.is_some_and(|a| a & 0x80 != 0) {
                    m.topic = Default::default();
                }
                m.properties.to_mut().message_expiry_interval = expiry.map(|e| u32::from(e % 3));
                w.send(slot, &Packet::Publish(m));
            }
            Step::Subscribe { slot, filter, qos: q, no_local, rap, rh, sub_id, pid: p } => {
                let slot = usize::from(slot % 4);
                let f = filter.filter();
                let opts = SubscriptionOptions {
                    qos: qos(q),
                    no_local: no_local && !f.starts_with("$share/"),
                    retain_as_published: rap,
                    retain_handling: [RetainHandling::SendAtSubscribe, RetainHandling::SendIfNew, RetainHandling::DoNotSend][usize::from(rh % 3)],
                };
                if let Some(sim) = &w.slots[slot] {
                    if sim.connected {
                        let key = sim.session_key.clone();
                        w.subscribed.entry(key).or_default().push(f.clone());
                    }
                }
                let mut s = Subscribe { packet_id: pid(p), properties: Default::default(), subscriptions: vec![Subscription { filter: f.into(), options: opts }] };
                s.properties.subscription_identifier = sub_id.map(|i| u32::from(i) + 1);
                w.send(slot, &Packet::Subscribe(s));
            }
            Step::Unsubscribe { slot, filter, pid: p } => {
                let u = Unsubscribe { packet_id: pid(p), properties: Default::default(), filters: vec![filter.filter().into()] };
                w.send(usize::from(slot % 4), &Packet::Unsubscribe(u));
            }
            Step::AckReceived { slot, nth, pubrec_error } => {
                let slot = usize::from(slot % 4);
                let Some(sim) = w.slots[slot].as_mut() else { continue };
                if sim.unacked.is_empty() {
                    continue;
                }
                let (id, q) = sim.unacked.remove(usize::from(nth) % sim.unacked.len());
                match q {
                    QoS::AtLeastOnce => w.send(slot, &Packet::PubAck(PubResponse::new(id))),
                    _ => {
                        let mut rec = PubResponse::new(id);
                        if pubrec_error {
                            rec.reason_code = ReasonCode::UnspecifiedError;
                        }
                        w.send(slot, &Packet::PubRec(rec));
                        if !pubrec_error {
                            w.send(slot, &Packet::PubComp(PubResponse::new(id)));
                        }
                    }
                }
            }
            Step::AckRaw { slot, kind, pid: p } => {
                let r = PubResponse::new(pid(p));
                let packet = match kind % 4 {
                    0 => Packet::PubAck(r),
                    1 => Packet::PubRec(r),
                    2 => Packet::PubRel(r),
                    _ => Packet::PubComp(r),
                };
                w.send(usize::from(slot % 4), &packet);
            }
            Step::Ping { slot } => w.send(usize::from(slot % 4), &Packet::PingReq),
            Step::Disconnect { slot, reason, expiry } => {
                let mut d = Disconnect::new(if reason & 1 == 0 { ReasonCode::Success } else { ReasonCode::DisconnectWithWillMessage });
                d.properties.session_expiry_interval = expiry.map(|e| u32::from(e % 4));
                w.send(usize::from(slot % 4), &Packet::Disconnect(d));
            }
            Step::Drop { slot } => {
                let slot = usize::from(slot % 4);
                if let Some(mut sim) = w.slots[slot].take() {
                    sim.conn.on_eof(w.now);
                }
            }
            Step::Raw { slot, bytes } => {
                w.feed(usize::from(slot % 4), BytesMut::from(&bytes[..bytes.len().min(256)]));
            }
            Step::Advance { secs } => {
                w.now += Duration::from_millis(u64::from(secs) * 100);
                let now = w.now;
                broker.tick(now);
                for slot in 0..4 {
                    let Some(sim) = w.slots[slot].as_mut() else { continue };
                    if sim.conn.deadline().is_some_and(|d| d <= now) {
                        let before = sim.conn.session().map(|s| s.lock().outbox.inflight_len());
                        let status = sim.conn.on_timer(now);
                        w.after(slot, status, before);
                    }
                }
            }
        }
        w.wake_all();
    }
});
