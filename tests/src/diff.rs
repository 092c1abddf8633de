//! Differential testing: one scripted scenario, run with the packet-level
//! [`TestClient`] against two brokers, yields a transcript per broker — every
//! packet sent and received, normalised so that what both may legitimately choose
//! (packet identifier values, assigned client identifiers, server limits in CONNACK,
//! Reason Strings, whether the server uses topic aliases) does not show — and the
//! transcripts are compared.
//!
//! Documented differences ([`Difference`]) are applied explicitly: the Mosquitto
//! transcript must contain the documented lines, which are replaced by ours before
//! comparing, so a difference that disappears or changes fails the test too.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write as _;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{
    Connect, Packet, ProtocolVersion, PubResponse, Publish, QoS, Subscribe, Subscription,
    SubscriptionOptions, Unsubscribe,
};

use crate::mqtt::{Event, TestClient, connect_packet};

/// How long a scenario waits for a packet it expects.
pub const EXPECT_WAIT: Duration = Duration::from_secs(4);
/// How long "nothing more arrives" is watched.
pub const QUIET: Duration = Duration::from_millis(400);

/// One client of a scenario, with what normalisation needs to remember.
struct Probe {
    client: TestClient,
    /// Server-chosen packet identifiers (received PUBLISH, PUBREL) → `s1`, `s2`, ...
    server_ids: HashMap<u16, usize>,
    /// Topic aliases the server set towards this client.
    aliases: HashMap<u16, String>,
    /// The client's Topic Alias Maximum (0: none allowed).
    alias_max: u16,
    /// The last PUBLISH received.
    last_publish: Option<Publish>,
    /// QoS 1/2 PUBLISH received and not yet acknowledged, oldest first.
    unacked: std::collections::VecDeque<Publish>,
    /// QoS 2 messages PUBREC was sent for, awaiting PUBREL/PUBCOMP, oldest first.
    released: std::collections::VecDeque<mqtt_proto::PacketId>,
    /// The server closed the connection (already recorded).
    closed: bool,
}

/// One run of a scenario against one broker: its clients and its transcript.
pub struct Run {
    /// The broker's MQTT address.
    pub addr: SocketAddr,
    /// The protocol version the scenario's clients use.
    pub version: ProtocolVersion,
    /// The transcript.
    pub log: Vec<String>,
    clients: BTreeMap<String, Probe>,
    /// Message Expiry Intervals sent, by (topic, payload).
    sent_expiry: HashMap<(String, Bytes), u32>,
}

/// A scenario: an async function of a [`Run`].
pub type Scenario = for<'a> fn(&'a mut Run) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;

impl Run {
    /// A run against `addr` with clients of `version`.
    pub fn new(addr: SocketAddr, version: ProtocolVersion) -> Self {
        Self {
            addr,
            version,
            log: Vec::new(),
            clients: BTreeMap::new(),
            sent_expiry: HashMap::new(),
        }
    }

    /// Whether the clients speak MQTT 5.0.
    pub fn v5(&self) -> bool {
        self.version.is_v5()
    }

    /// A CONNECT for `id` (clean start, keep-alive 60) in the run's version.
    pub fn connect_packet(&self, id: &str) -> Connect {
        connect_packet(self.version, id)
    }

    /// Adds a line of the scenario's own to the transcript.
    pub fn note(&mut self, line: impl Into<String>) {
        self.log.push(line.into());
    }

    fn probe(&mut self, name: &str) -> &mut Probe {
        self.clients
            .get_mut(name)
            .unwrap_or_else(|| panic!("no client {name}"))
    }

    /// Opens a TCP connection for client `name` without sending anything.
    pub async fn open(&mut self, name: &str) {
        let client = TestClient::open(self.addr, self.version).await;
        self.clients.insert(
            name.to_string(),
            Probe {
                client,
                server_ids: HashMap::new(),
                aliases: HashMap::new(),
                alias_max: 0,
                last_publish: None,
                unacked: Default::default(),
                released: Default::default(),
                closed: false,
            },
        );
    }

    /// Opens a connection for `name`, sends `connect` and records the answer.
    pub async fn connect_with(&mut self, name: &str, connect: Connect) {
        self.open(name).await;
        self.probe(name).alias_max = connect.properties.topic_alias_maximum.unwrap_or(0);
        self.send(name, Packet::Connect(Box::new(connect))).await;
        self.expect(name, 1).await;
    }

    /// Connects `name` with a clean session whose client id is `name`.
    pub async fn connect(&mut self, name: &str) {
        let c = self.connect_packet(name);
        self.connect_with(name, c).await;
    }

    /// Sends `packet` from `name` and records it.
    pub async fn send(&mut self, name: &str, packet: Packet) {
        // Acknowledgements of the server's PUBLISH carry its identifiers: normalised.
        let described = match &packet {
            Packet::PubAck(a) => format!("PUBACK {}", self.probe(name).server_id(a.packet_id)),
            Packet::PubRec(a) => format!("PUBREC {}", self.probe(name).server_id(a.packet_id)),
            Packet::PubComp(a) => format!("PUBCOMP {}", self.probe(name).server_id(a.packet_id)),
            other => describe_sent(other),
        };
        if let Packet::Publish(p) = &packet
            && let Some(e) = p.properties.message_expiry_interval()
        {
            self.sent_expiry
                .insert((p.topic.to_string(), p.payload.clone()), e);
        }
        let line = format!("{name} > {described}");
        self.log.push(line);
        self.probe(name).client.try_send(&packet).await;
    }

    /// Sends raw bytes from `name` (recorded as `label`).
    pub async fn send_raw(&mut self, name: &str, label: &str, bytes: &[u8]) {
        self.log.push(format!("{name} > {label}"));
        self.probe(name).client.try_send_raw(bytes).await;
    }

    /// Records the next `n` events of `name` (packets, the connection closing, or
    /// `nothing` when none comes within [`EXPECT_WAIT`]).
    pub async fn expect(&mut self, name: &str, n: usize) {
        self.expect_within(name, n, EXPECT_WAIT).await;
    }

    /// Like [`Run::expect`] with another wait.
    pub async fn expect_within(&mut self, name: &str, n: usize, wait: Duration) {
        for _ in 0..n {
            if !self.record_next(name, wait).await {
                break;
            }
        }
    }

    /// Records one event; false once the connection is closed or silent.
    async fn record_next(&mut self, name: &str, wait: Duration) -> bool {
        let probe = self.probe(name);
        let event = probe.client.next_event(wait).await;
        let (line, more) = match event {
            None => ("nothing".to_string(), false),
            Some(Event::Closed) => {
                probe.closed = true;
                ("closed".to_string(), false)
            }
            Some(Event::Undecodable(e)) => (format!("undecodable: {e}"), false),
            Some(Event::Packet(p)) => {
                let line = probe.describe_received(&p);
                (self.normalise_expiry(line, &p), true)
            }
        };
        self.log.push(format!("{name} < {line}"));
        more
    }

    /// The remaining Message Expiry Interval a server sends is the sent one minus
    /// the time the message waited (MQTT-3.3.2-6), in whole seconds rounded as the
    /// server likes: recorded as `expiry=<sent>` when at most one second was taken
    /// off, else `expiry=<sent> reduced`.
    fn normalise_expiry(&self, line: String, p: &Packet) -> String {
        let Packet::Publish(p) = p else { return line };
        let Some(got) = p.properties.message_expiry_interval() else {
            return line;
        };
        let key = (p.topic.to_string(), p.payload.clone());
        let Some(&sent) = self.sent_expiry.get(&key) else {
            return line;
        };
        let shown = if got > sent {
            format!("expiry={got} (above the {sent} sent)")
        } else if sent - got <= 1 {
            format!("expiry={sent}")
        } else {
            format!("expiry={sent} reduced")
        };
        line.replace(&format!("expiry={got}"), &shown)
    }

    /// Records whatever `name` receives until [`QUIET`] passes without a packet.
    pub async fn quiet(&mut self, name: &str) {
        loop {
            let probe = self.probe(name);
            if probe.closed {
                return;
            }
            match probe.client.next_event(QUIET).await {
                None => return,
                Some(Event::Closed) => {
                    probe.closed = true;
                    self.log.push(format!("{name} < closed"));
                    return;
                }
                Some(Event::Undecodable(e)) => {
                    self.log.push(format!("{name} < undecodable: {e}"));
                    return;
                }
                Some(Event::Packet(p)) => {
                    let line = probe.describe_received(&p);
                    let line = self.normalise_expiry(line, &p);
                    self.log.push(format!("{name} < {line}"));
                }
            }
        }
    }

    /// [`Run::quiet`] for every client, in name order.
    pub async fn quiet_all(&mut self) {
        let names: Vec<String> = self.clients.keys().cloned().collect();
        for name in names {
            self.quiet(&name).await;
        }
    }

    /// Publishes from `name` and completes its QoS flow, recording every packet.
    pub async fn publish(&mut self, name: &str, p: Publish) {
        let mut p = p;
        if p.qos != QoS::AtMostOnce && p.packet_id.is_none() {
            p.packet_id = Some(self.probe(name).client.next_id());
        }
        let (qos, id) = (p.qos, p.packet_id);
        self.send(name, Packet::Publish(p)).await;
        match (qos, id) {
            (QoS::AtLeastOnce, _) => self.expect(name, 1).await,
            (QoS::ExactlyOnce, Some(id)) => {
                self.expect(name, 1).await;
                self.send(name, Packet::PubRel(PubResponse::new(id))).await;
                self.expect(name, 1).await;
            }
            _ => {}
        }
    }

    /// Publishes `payload` to `topic` from `name` at `qos` with `retain`.
    pub async fn publish_simple(
        &mut self,
        name: &str,
        topic: &str,
        payload: &str,
        qos: QoS,
        retain: bool,
    ) {
        let mut p = Publish::new(topic.to_string(), Bytes::from(payload.to_string()));
        p.qos = qos;
        p.retain = retain;
        self.publish(name, p).await;
    }

    /// Subscribes `name` to `filters` (one SUBSCRIBE) and records the SUBACK.
    pub async fn subscribe_many(
        &mut self,
        name: &str,
        filters: &[(&str, SubscriptionOptions)],
        id: Option<u32>,
    ) {
        let packet_id = self.probe(name).client.next_id();
        let mut s = Subscribe {
            packet_id,
            properties: Default::default(),
            subscriptions: filters
                .iter()
                .map(|(f, o)| Subscription {
                    filter: f.to_string().into(),
                    options: *o,
                })
                .collect(),
        };
        s.properties.subscription_identifier = id;
        self.send(name, Packet::Subscribe(s)).await;
        self.expect(name, 1).await;
    }

    /// Subscribes `name` to one `filter` at `qos`.
    pub async fn subscribe(&mut self, name: &str, filter: &str, qos: QoS) {
        self.subscribe_many(name, &[(filter, opts(qos))], None)
            .await;
    }

    /// Unsubscribes `name` from `filters` and records the UNSUBACK.
    pub async fn unsubscribe(&mut self, name: &str, filters: &[&str]) {
        let packet_id = self.probe(name).client.next_id();
        let u = Unsubscribe {
            packet_id,
            properties: Default::default(),
            filters: filters.iter().map(|f| f.to_string().into()).collect(),
        };
        self.send(name, Packet::Unsubscribe(u)).await;
        self.expect(name, 1).await;
    }

    /// Acknowledges the oldest QoS 1/2 PUBLISH `name` received and has not
    /// acknowledged yet (PUBACK, or PUBREC, PUBREL expected, PUBCOMP).
    pub async fn ack(&mut self, name: &str) {
        let Some(p) = self.probe(name).unacked.pop_front() else {
            self.log.push(format!("{name} : nothing to acknowledge"));
            return;
        };
        match (p.qos, p.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => {
                self.send(name, Packet::PubAck(PubResponse::new(id))).await
            }
            (QoS::ExactlyOnce, Some(id)) => {
                self.send(name, Packet::PubRec(PubResponse::new(id))).await;
                self.expect(name, 1).await;
                self.send(name, Packet::PubComp(PubResponse::new(id))).await;
            }
            _ => {}
        }
    }

    /// Sends PUBREC for the oldest unacknowledged QoS 2 PUBLISH of `name`, and keeps
    /// it as released (for [`Run::send_pubcomp_for_released`]).
    pub async fn send_pubrec_for_oldest(&mut self, name: &str) {
        let probe = self.probe(name);
        let Some(p) = probe.unacked.pop_front() else {
            self.log.push(format!("{name} : nothing to acknowledge"));
            return;
        };
        let Some(id) = p.packet_id else { return };
        probe.released.push_back(id);
        self.send(name, Packet::PubRec(PubResponse::new(id))).await;
    }

    /// Sends PUBCOMP for the oldest QoS 2 message `name` sent PUBREC for.
    pub async fn send_pubcomp_for_released(&mut self, name: &str) {
        let Some(id) = self.probe(name).released.pop_front() else {
            self.log.push(format!("{name} : nothing released"));
            return;
        };
        self.send(name, Packet::PubComp(PubResponse::new(id))).await;
    }

    /// Receives and acknowledges `n` messages on `name`, recording them.
    pub async fn receive_and_ack(&mut self, name: &str, n: usize) {
        for _ in 0..n {
            self.probe(name).last_publish = None;
            self.expect(name, 1).await;
            if self
                .probe(name)
                .last_publish
                .as_ref()
                .is_some_and(|p| p.qos != QoS::AtMostOnce)
            {
                self.ack(name).await;
            }
        }
    }

    /// Closes `name`'s TCP connection without DISCONNECT, then gives the server a
    /// moment to notice (so that what follows does not race with it).
    pub async fn drop_connection(&mut self, name: &str) {
        self.log.push(format!("{name} : connection dropped"));
        if let Some(p) = self.clients.remove(name) {
            p.client.drop_connection();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    /// Sends DISCONNECT with `code` from `name` and records how the server ends it.
    pub async fn disconnect(&mut self, name: &str, code: mqtt_proto::ReasonCode) {
        self.send(name, Packet::Disconnect(mqtt_proto::Disconnect::new(code)))
            .await;
        self.expect(name, 1).await;
        self.clients.remove(name);
    }
}

/// Subscription options with `qos` and nothing else.
pub fn opts(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        ..Default::default()
    }
}

fn id_of(p: Option<mqtt_proto::PacketId>) -> String {
    p.map_or("-".into(), |id| format!("#{id}"))
}

/// A sent packet, as recorded (client-chosen identifiers are deterministic).
fn describe_sent(p: &Packet) -> String {
    match p {
        Packet::Connect(c) => {
            let mut s = format!(
                "CONNECT clean={} keepalive={} id={:?}",
                c.clean_start as u8,
                c.keep_alive,
                c.client_id.as_str()
            );
            if c.will.is_some() {
                s.push_str(" will");
            }
            s
        }
        Packet::Publish(p) => describe_publish(p, &id_of(p.packet_id), p.topic.as_str()),
        Packet::PubRel(r) => format!("PUBREL #{}", r.packet_id),
        other => format!("{other:?}")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" "),
    }
}

fn describe_publish(p: &Publish, id: &str, topic: &str) -> String {
    let mut s = format!(
        "PUBLISH {topic:?} q{} r{} d{} id={id} payload={:?}",
        u8::from(p.qos),
        p.retain as u8,
        p.dup as u8,
        String::from_utf8_lossy(&p.payload)
    );
    let pr = &p.properties.to_properties();
    if let Some(v) = pr.payload_format_indicator {
        let _ = write!(s, " pfi={}", v as u8);
    }
    if let Some(v) = pr.message_expiry_interval {
        let _ = write!(s, " expiry={v}");
    }
    if let Some(v) = &pr.response_topic {
        let _ = write!(s, " response_topic={:?}", v.as_str());
    }
    if let Some(v) = &pr.correlation_data {
        let _ = write!(s, " correlation={v:?}");
    }
    if let Some(v) = &pr.content_type {
        let _ = write!(s, " content_type={:?}", v.as_str());
    }
    if !pr.subscription_identifiers.is_empty() {
        let mut ids = pr.subscription_identifiers.clone();
        ids.sort_unstable();
        let _ = write!(s, " sub_ids={ids:?}");
    }
    for u in &pr.user_properties {
        let _ = write!(s, " user[{}={}]", u.name.as_str(), u.value.as_str());
    }
    s
}

impl Probe {
    fn server_id(&mut self, id: mqtt_proto::PacketId) -> String {
        let next = self.server_ids.len() + 1;
        let n = *self.server_ids.entry(id.get()).or_insert(next);
        format!("s{n}")
    }

    /// A received packet, normalised.
    fn describe_received(&mut self, p: &Packet) -> String {
        match p {
            Packet::ConnAck(a) => {
                let mut s = format!(
                    "CONNACK sp={} rc={:?}",
                    a.session_present as u8, a.reason_code
                );
                if a.properties.assigned_client_identifier.is_some() {
                    s.push_str(" assigned_client_id");
                }
                if a.properties.response_information.is_some() {
                    s.push_str(" response_information");
                }
                s
            }
            Packet::Publish(p) => {
                self.last_publish = Some(p.clone());
                if p.qos != QoS::AtMostOnce {
                    self.unacked.push_back(p.clone());
                }
                let id = match p.packet_id {
                    Some(id) => self.server_id(id),
                    None => "-".into(),
                };
                // Topic aliases are the sender's choice (MQTT-3.3.2-11 allows, never
                // requires them): resolved here, checked against the maximum.
                let mut topic = p.topic.to_string();
                if let Some(alias) = p.properties.topic_alias() {
                    if alias == 0 || alias > self.alias_max {
                        return format!(
                            "PUBLISH with Topic Alias {alias} above maximum {}",
                            self.alias_max
                        );
                    }
                    if topic.is_empty() {
                        match self.aliases.get(&alias) {
                            Some(t) => topic = t.clone(),
                            None => return format!("PUBLISH with unknown Topic Alias {alias}"),
                        }
                    } else {
                        self.aliases.insert(alias, topic.clone());
                    }
                }
                describe_publish(p, &id, &topic)
            }
            Packet::PubAck(r) => format!("PUBACK #{} rc={:?}", r.packet_id, r.reason_code),
            Packet::PubRec(r) => format!("PUBREC #{} rc={:?}", r.packet_id, r.reason_code),
            Packet::PubRel(r) => {
                let id = self.server_id(r.packet_id);
                format!("PUBREL {id} rc={:?}", r.reason_code)
            }
            Packet::PubComp(r) => format!("PUBCOMP #{} rc={:?}", r.packet_id, r.reason_code),
            Packet::SubAck(a) => format!("SUBACK #{} {:?}", a.packet_id, a.reason_codes),
            Packet::UnsubAck(a) => format!("UNSUBACK #{} {:?}", a.packet_id, a.reason_codes),
            Packet::Disconnect(d) => format!("DISCONNECT rc={:?}", d.reason_code),
            Packet::PingResp => "PINGRESP".into(),
            other => format!("unexpected {:?}", other.packet_type()),
        }
    }
}

/// A documented difference between Mosquitto and us in one scenario: the
/// Mosquitto transcript must contain the lines `mosquitto` (contiguous), which stand
/// for our lines `ours`; `doc` names the entry of `docs/mosquitto-differences.md`.
#[derive(Debug, Clone, Copy)]
pub struct Difference {
    /// Only for this protocol version (`None`: both).
    pub version: Option<ProtocolVersion>,
    /// What Mosquitto does (transcript lines).
    pub mosquitto: &'static [&'static str],
    /// What we do instead.
    pub ours: &'static [&'static str],
    /// The anchor of the entry in `docs/mosquitto-differences.md`.
    pub doc: &'static str,
}

/// Compares the transcripts of one scenario after applying the documented
/// differences; panics with both transcripts on a mismatch. With `DIFF_SHOW` set
/// in the environment, prints our transcript too.
pub fn compare(
    scenario: &str,
    version: ProtocolVersion,
    mosquitto: &[String],
    ours: &[String],
    differences: &[Difference],
) {
    if std::env::var_os("DIFF_SHOW").is_some() {
        eprintln!("=== {scenario} ({version})\n{}", render(ours));
    }
    let docs =
        std::fs::read_to_string(crate::workspace_root().join("docs/mosquitto-differences.md"))
            .unwrap_or_default();
    let mut theirs: Vec<String> = mosquitto.to_vec();
    for d in differences
        .iter()
        .filter(|d| d.version.is_none_or(|v| v == version))
    {
        assert!(
            docs.contains(&format!("<a id=\"{}\"></a>", d.doc)),
            "{scenario}: difference `{}` is not documented in docs/mosquitto-differences.md",
            d.doc
        );
        let want: Vec<String> = d.mosquitto.iter().map(|s| s.to_string()).collect();
        let at = theirs
            .windows(want.len().max(1))
            .position(|w| w == want.as_slice())
            .unwrap_or_else(|| {
                panic!(
                    "{scenario} ({version}): documented difference `{}` not seen in Mosquitto's transcript\n  expected lines: {want:#?}\n  mosquitto: {}",
                    d.doc,
                    render(mosquitto)
                )
            });
        theirs.splice(at..at + want.len(), d.ours.iter().map(|s| s.to_string()));
    }
    if theirs != ours {
        panic!(
            "{scenario} ({version}): transcripts differ\n--- mosquitto (documented differences applied)\n{}\n--- realtime-server\n{}",
            render(&theirs),
            render(ours)
        );
    }
}

fn render(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}
