//! [`MqttConnection`]: one MQTT client connection as a sans-IO state machine.
//!
//! It decodes packets from the bytes a driver hands it, applies the rules of the
//! protocol that belong to a connection (first packet CONNECT, keep-alive, topic
//! aliases, flow control, acknowledgements), calls the [`Broker`] for everything
//! that concerns sessions and routing, and encodes its answers and deliveries into
//! its [`OutQueue`].

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use mqtt_proto::{
    ConnAck, Connect, ConnectDecoder, DecodeError, Decoder, Disconnect, Packet, PacketId,
    ProtocolVersion, PubResponse, Publish, QoS, ReasonCode, SubAck, Subscribe, UnsubAck,
    Unsubscribe, Utf8Bytes,
};

use super::convert::{message_from_publish, will_message};
use crate::auth::{Access, EnhancedAuth, ListenerPolicy, Principal};
use crate::broker::message::owned_str;
use crate::broker::{
    AckResult, Broker, Commit, ConnectRequest, Delivery, Departure, DropCause, NextDelivery,
    Resend, Session,
};
use crate::conn::rate::TokenBucket;
use crate::conn::{OutQueue, Protocol, Status};

mod auth;
use crate::metrics::Transport;

/// Above this many bytes of output, deliveries stay in the session queue.
const OUTPUT_HIGH_WATER: usize = 256 * 1024;
/// Above this many bytes of output, the connection stops reading (the client does
/// not read what it is sent: back-pressure instead of buffering).
const OUTPUT_PAUSE_READ: usize = 1024 * 1024;

/// The state of a connected client.
#[derive(Debug)]
struct Live {
    version: ProtocolVersion,
    decoder: Decoder,
    /// Keep-alive in force, seconds (zero: none; a u16 on the wire, not a
    /// 16-byte `Duration` in every connection).
    keep_alive: u16,
    last_packet: Instant,
    /// The client's Receive Maximum: most QoS 1/2 PUBLISH in flight to it.
    client_receive_max: u16,
    /// The client's Maximum Packet Size.
    client_max_packet: u32,
    /// The client's Topic Alias Maximum.
    client_alias_max: u16,
    /// Session Expiry Interval from CONNECT (for the DISCONNECT rule of MQTT 5.0 §3.14.2.2.2).
    connect_expiry: u32,
    /// Topic aliases and enhanced authentication, which most connections never
    /// use: one box on first use (8 bytes in the others, not 8 for each).
    extras: Option<Box<Extras>>,
    /// How the connection is ending, decided by a DISCONNECT.
    departure: Departure,
    /// Session Expiry Interval from DISCONNECT.
    disconnect_expiry: Option<u32>,
    /// Who the client authenticated as.
    principal: Arc<Principal>,
    /// The client's entry in the registry (HTTP API, webhooks); dropped with
    /// the connection, which reports the disconnection.
    client: crate::hooks::ClientHandle,
}

/// What few connections use (see [`Live::extras`]).
#[derive(Debug, Default)]
struct Extras {
    /// Topic aliases set by the client (index = alias - 1); sized to the server's
    /// Topic Alias Maximum on first use.
    aliases_in: Vec<Option<Utf8Bytes>>,
    /// Topic aliases the server set towards the client.
    aliases_out: HashMap<Utf8Bytes, u16, crate::keyed::Seeded>,
    /// After an enhanced authentication: its method and any re-authentication in
    /// progress.
    auth: Option<EnhancedState>,
}

/// The enhanced authentication a connection was accepted with (MQTT 5.0 §4.12).
#[derive(Debug)]
struct EnhancedState {
    /// Its Authentication Method (re-authentication uses it again, MQTT-4.12.1-1).
    method: &'static str,
    /// A re-authentication in progress.
    reauth: Option<Box<dyn EnhancedAuth>>,
}

impl Live {
    /// The session: the registry entry's (not a field of its own here: the two
    /// words are in every idle connection, see `live_fits_its_allocation_step`).
    fn session(&self) -> &Arc<Session> {
        &self.client.entry().session
    }

    /// The connection's id (unique per process), as the registry entry holds it.
    fn conn_id(&self) -> u64 {
        self.client.entry().conn_id
    }

    /// When the connection times out without a packet: 1.5 × Keep Alive after the
    /// last one (MQTT-3.1.2-22); `None` without a Keep Alive.
    fn keep_alive_due(&self) -> Option<Instant> {
        (self.keep_alive > 0)
            .then(|| self.last_packet + Duration::from_millis(u64::from(self.keep_alive) * 1500))
    }
}

/// One MQTT client connection (MQTT 3.1, 3.1.1 or 5.0).
#[derive(Debug)]
pub struct MqttConnection {
    broker: Arc<Broker>,
    transport: Transport,
    peer: SocketAddr,
    wake: Arc<crate::conn::ConnWake>,
    out: OutQueue,
    /// Before CONNECT (`live` is `None`): when the CONNECT is due. After it,
    /// while `pushed_back`: when reading resumes at the latest (a subscriber's
    /// queue is full, `broker::pushback`). One field for the two, which never
    /// apply together (16 bytes fewer in every connection; see
    /// [`MqttConnection::pushback_until`]).
    timer: Instant,
    /// Reading is paused until `timer` (or a wake-up).
    pushed_back: bool,
    live: Option<Box<Live>>,
    closed: bool,
    /// Acknowledgements waiting for the store, and the task that waits for it.
    /// Boxed on first use: most connections never wait for the store.
    store: Option<Box<StoreAcks>>,
    /// Whether the listener accepts clients without credentials (the part of its
    /// [`ListenerPolicy`] used after [`MqttConnection::with_listener`]).
    allow_anonymous: bool,
    /// A CONNECT waiting for its authentication to finish.
    pending: Option<Box<auth::PendingConnect>>,
    /// PUBLISH rate limit (reading pauses while over it).
    publish_rate: TokenBucket,
    /// Closed because the client's packets broke a rule (MQTT-4.13.1-1).
    failed: bool,
}

/// A connection's acknowledgements that wait for the store.
#[derive(Debug, Default)]
struct StoreAcks {
    /// Acknowledgements of client PUBLISH packets waiting for their batch to be
    /// durable, in arrival order.
    pending: VecDeque<(Commit, Packet)>,
    /// Created with the first acknowledgement that waits for the store.
    waiter: Option<Arc<StoreWaiter>>,
}

/// The task waiting for the store on behalf of a connection.
#[derive(Debug, Default)]
struct StoreWaiter {
    active: AtomicBool,
    failed: AtomicBool,
}

impl MqttConnection {
    /// A connection from `peer` accepted at `now`, not yet CONNECTed. `wake` is
    /// what the broker signals when something is ready for it.
    pub fn new(
        broker: Arc<Broker>,
        transport: Transport,
        peer: SocketAddr,
        wake: Arc<crate::conn::ConnWake>,
        now: Instant,
    ) -> Self {
        broker.metrics.connections_of(transport).inc();
        broker.metrics.connections_total.inc();
        let timer = now + broker.config().connect_timeout;
        Self {
            broker,
            transport,
            peer,
            wake,
            out: OutQueue::default(),
            timer,
            pushed_back: false,
            live: None,
            closed: false,
            store: None,
            allow_anonymous: ListenerPolicy::default().allow_anonymous,
            pending: None,
            publish_rate: TokenBucket::new(0, now),
            failed: false,
        }
    }

    /// The same connection under `listener`'s rules (anonymous access); the
    /// default allows anonymous clients.
    pub fn with_listener(mut self, listener: ListenerPolicy) -> Self {
        self.publish_rate = TokenBucket::new(u64::from(listener.max_publish_rate), Instant::now());
        self.allow_anonymous = listener.allow_anonymous;
        self
    }

    /// While a subscriber's queue is full (`broker::pushback`): when reading
    /// resumes at the latest (a wake-up resumes it sooner).
    fn pushback_until(&self) -> Option<Instant> {
        (self.pushed_back && self.live.is_some()).then_some(self.timer)
    }

    /// Pauses reading until `until` (a connected client's only: before CONNECT
    /// the timer is the CONNECT deadline, and nothing is published then).
    fn set_pushback(&mut self, until: Option<Instant>) {
        match until {
            Some(t) if self.live.is_some() => {
                self.timer = t;
                self.pushed_back = true;
            }
            _ => self.pushed_back = false,
        }
    }

    /// The Client Identifier, once connected.
    pub fn client_id(&self) -> Option<&str> {
        self.live.as_ref().map(|l| l.session().client_id.as_str())
    }

    /// The session, once connected (for tests and the fuzz harness).
    pub fn session(&self) -> Option<&Arc<Session>> {
        self.live.as_ref().map(|l| l.session())
    }

    /// The most QoS 1/2 messages this connection may have in flight: the client's
    /// Receive Maximum, capped by the server's `max_inflight`.
    pub fn inflight_window(&self) -> Option<usize> {
        self.live
            .as_ref()
            .map(|l| usize::from(l.client_receive_max.min(self.broker.config().max_inflight)))
    }

    /// Whether the connection has ended (nothing more will be read).
    pub fn is_closed(&self) -> bool {
        self.closed
    }

    /// Whether the connection was closed because the client's packets broke a rule
    /// (Malformed Packet, Protocol Error and the like, MQTT-4.13.1-1), not by its
    /// DISCONNECT, a refused CONNECT, a keep-alive timeout or a store failure: a
    /// transport with close codes (WebSocket: 1002) can tell the client.
    pub fn failed(&self) -> bool {
        self.failed
    }

    /// Encodes `packet` for this client, within its Maximum Packet Size.
    fn send(&mut self, packet: &Packet) {
        let (version, max) = match &self.live {
            Some(l) => (l.version, l.client_max_packet),
            None => (ProtocolVersion::V5, mqtt_proto::MAX_PACKET_SIZE),
        };
        let before = self.out.len();
        if let Err(err) = packet.encode_within(version, max, self.out.tail_mut()) {
            tracing::warn!(peer = %self.peer, %err, "packet not sent");
        }
        self.broker
            .metrics
            .bytes_sent
            .add((self.out.len() - before) as u64);
    }

    /// Ends the connection after a Malformed Packet or Protocol Error (MQTT-4.13.1-1):
    /// a v5 client connected gets a DISCONNECT with `code` and a Reason String
    /// naming the rule (MQTT-3.14.0-1: only after CONNACK); the Will is published.
    fn fail(&mut self, code: ReasonCode, why: &str, now: Instant) -> Status {
        let reason = if code == ReasonCode::KeepAliveTimeout {
            "keep_alive_timeout"
        } else {
            "protocol_error"
        };
        self.end_reason(reason, Some(format!("{}: {why}", code.name())));
        tracing::warn!(peer = %self.peer, client_id = self.client_id().unwrap_or("-"), reason = code.name(), "closing connection: {why}");
        self.broker.metrics.protocol_errors.inc();
        // Only the client's own packets count: not a keep-alive timeout, not a
        // store failure.
        self.failed = matches!(
            code,
            ReasonCode::MalformedPacket
                | ReasonCode::ProtocolError
                | ReasonCode::TopicFilterInvalid
                | ReasonCode::TopicNameInvalid
                | ReasonCode::ReceiveMaximumExceeded
                | ReasonCode::TopicAliasInvalid
                | ReasonCode::PacketTooLarge
                | ReasonCode::PayloadFormatInvalid
                | ReasonCode::RetainNotSupported
                | ReasonCode::QoSNotSupported
                | ReasonCode::SharedSubscriptionsNotSupported
                | ReasonCode::SubscriptionIdentifiersNotSupported
                | ReasonCode::WildcardSubscriptionsNotSupported
        );
        if let Some(live) = &self.live
            && live.version.is_v5()
        {
            let mut d = Disconnect::new(code);
            d.properties.reason_string = Some(Utf8Bytes::from(why.to_string()));
            self.send(&Packet::Disconnect(d));
        }
        self.close(Departure::WithWill, now)
    }

    /// Records why the connection ends, for the `client.disconnected` webhook.
    fn end_reason(&mut self, reason: &'static str, detail: Option<String>) {
        if let Some(live) = self.live.as_mut() {
            live.client.set_reason(reason, detail);
        }
    }

    /// Detaches from the session (once) and closes.
    fn close(&mut self, departure: Departure, now: Instant) -> Status {
        if !self.closed {
            self.closed = true;
            if let Some(live) = &self.live {
                let departure = if live.departure == Departure::Normal {
                    Departure::Normal
                } else {
                    departure
                };
                self.broker.disconnect(
                    live.session(),
                    live.conn_id(),
                    departure,
                    live.disconnect_expiry,
                    now,
                );
            }
        }
        Status::Close
    }

    /// Refuses a CONNECT with CONNACK `code` (3.1.1: its return code) and closes.
    fn refuse_connect(
        &mut self,
        version: ProtocolVersion,
        client_id: &str,
        code: ReasonCode,
        why: &str,
    ) -> Status {
        tracing::info!(peer = %self.peer, client_id, reason = code.name(), "CONNECT refused: {why}");
        let mut ack = ConnAck::new(code);
        if version.is_v5() {
            ack.properties.reason_string = Some(Utf8Bytes::from(why.to_string()));
        }
        let mut buf = BytesMut::new();
        if Packet::ConnAck(Box::new(ack))
            .encode(version, &mut buf)
            .is_ok()
        {
            self.out.put_slice(&buf);
        }
        self.pending = None;
        self.closed = true;
        Status::Close
    }

    fn on_connect(&mut self, connect: Connect, now: Instant) -> Status {
        let config = self.broker.config().clone();
        let version = connect.protocol_version;
        let reject = |this: &mut Self, code: ReasonCode, why: &str| {
            this.refuse_connect(version, connect.client_id.as_str(), code, why)
        };
        if connect.client_id.is_empty()
            && (!version.is_v5() && !connect.clean_start || version == ProtocolVersion::V3_1)
        {
            // MQTT-3.1.3-8 (3.1.1): an empty ClientId needs CleanSession 1; 3.1
            // requires 1 to 23 characters.
            return reject(
                self,
                ReasonCode::ClientIdentifierNotValid,
                "empty Client Identifier without Clean Session [MQTT-3.1.3-8]",
            );
        }
        if let Some(will) = &connect.will {
            if will.qos > config.max_qos {
                return reject(
                    self,
                    ReasonCode::QoSNotSupported,
                    "Will QoS exceeds the server's Maximum QoS [MQTT-3.2.2-12]",
                );
            }
            if will.retain && !config.retain_available {
                return reject(
                    self,
                    ReasonCode::RetainNotSupported,
                    "Will Retain set but retain is not available [MQTT-3.2.2-13]",
                );
            }
            if !config.topic_within_limits(&will.topic) {
                return reject(
                    self,
                    ReasonCode::TopicNameInvalid,
                    "Will Topic is longer or has more levels than the server allows",
                );
            }
        }
        self.authenticate(connect, now)
    }

    /// Attaches an authenticated CONNECT to its session and sends CONNACK
    /// (`user`: the authenticated user name; `enhanced`: the Authentication
    /// Method and final data of an enhanced authentication).
    fn finish_connect(
        &mut self,
        connect: Connect,
        user: Option<String>,
        enhanced: Option<(&'static str, Option<bytes::Bytes>)>,
        now: Instant,
    ) -> Status {
        self.pending = None;
        let config = self.broker.config().clone();
        let version = connect.protocol_version;
        let principal = Principal::shared(user);
        // Until the session exists, `%c` is the identifier of the CONNECT.
        if let Some(will) = &connect.will
            && !self.broker.auth.allows(
                &principal,
                connect.client_id.as_str(),
                Access::Write,
                &will.topic,
            )
        {
            return self.refuse_connect(
                version,
                connect.client_id.as_str(),
                ReasonCode::NotAuthorized,
                "the ACL does not allow publishing to the Will Topic",
            );
        }
        let requested_expiry = if version.is_v5() {
            connect.properties.session_expiry_interval.unwrap_or(0)
        } else if connect.clean_start {
            0
        } else {
            config.v3_persistent_session_expiry
        };
        let will = connect.will.map(|w| will_message(w, now));
        let req = ConnectRequest {
            client_id: connect.client_id.clone(),
            clean_start: connect.clean_start,
            expiry_interval: requested_expiry,
            version,
            will,
            principal: Some(principal.clone()),
        };
        let connected = self.broker.connect(req, self.wake.clone(), now);
        // From now on `%c` is the session's identifier (the one the server
        // assigned, if any).
        connected.session.lock().principal = Some(principal.clone());
        tracing::Span::current().record("client_id", connected.session.client_id.as_str());
        if let Some(c) = self
            .broker
            .metrics
            .clients_of(self.transport, crate::metrics::version_index(version))
        {
            c.inc();
        }
        let mut keep_alive = connect.keep_alive;
        let mut server_keep_alive = None;
        if let Some(max) = config.max_keep_alive
            && version.is_v5()
            && (keep_alive == 0 || keep_alive > max)
        {
            keep_alive = max;
            server_keep_alive = Some(max);
        }
        let client = self.broker.hooks.client_connected(crate::hooks::NewClient {
            conn_id: connected.conn_id,
            transport: self.transport,
            protocol: crate::metrics::VERSION_LABELS
                .get(crate::metrics::version_index(version))
                .copied()
                .unwrap_or("?"),
            address: self.peer,
            user: principal.user.clone(),
            session: connected.session.clone(),
            wake: self.wake.clone(),
        });
        let props = &connect.properties;
        let live = Live {
            version,
            decoder: Decoder::new(version).with_max_packet_size(config.max_packet_size),
            keep_alive,
            last_packet: now,
            client_receive_max: props.receive_maximum.unwrap_or(u16::MAX),
            client_max_packet: props
                .maximum_packet_size
                .unwrap_or(mqtt_proto::MAX_PACKET_SIZE),
            client_alias_max: props.topic_alias_maximum.unwrap_or(0),
            connect_expiry: requested_expiry,
            extras: enhanced.as_ref().map(|(m, _)| {
                Box::new(Extras {
                    auth: Some(EnhancedState {
                        method: m,
                        reauth: None,
                    }),
                    ..Extras::default()
                })
            }),
            departure: Departure::WithWill,
            disconnect_expiry: None,
            principal,
            client,
        };
        let mut ack = ConnAck::new(ReasonCode::Success);
        // MQTT-3.2.2-2/3: Session Present only when a session was resumed.
        ack.session_present = connected.session_present;
        if version.is_v5() {
            let p = &mut ack.properties;
            if connected.expiry_interval != requested_expiry {
                p.session_expiry_interval = Some(connected.expiry_interval);
            }
            if config.receive_maximum != u16::MAX {
                p.receive_maximum = Some(config.receive_maximum);
            }
            if config.max_qos < QoS::ExactlyOnce {
                p.maximum_qos = Some(config.max_qos);
            }
            if !config.retain_available {
                p.retain_available = Some(false);
            }
            p.maximum_packet_size = Some(config.max_packet_size);
            p.assigned_client_identifier = connected.assigned_client_id.clone();
            if config.topic_alias_maximum > 0 {
                p.topic_alias_maximum = Some(config.topic_alias_maximum);
            }
            p.server_keep_alive = server_keep_alive;
            if let Some((method, data)) = enhanced {
                p.authentication_method = Some(Utf8Bytes::from_static(method));
                p.authentication_data = data;
            }
            if props.request_response_information == Some(true) {
                p.response_information = Some(Utf8Bytes::from(format!(
                    "response/{}",
                    connected.session.client_id.as_str()
                )));
            }
        }
        let client_max = live.client_max_packet;
        self.live = Some(Box::new(live));
        if !self.send_connack(ack, version, client_max) {
            // Not even a CONNACK fits the client's Maximum Packet Size (MQTT-3.1.2-24).
            tracing::info!(peer = %self.peer, client_max, "CONNACK does not fit the client's Maximum Packet Size");
            return self.close(Departure::Normal, now);
        }
        tracing::debug!(peer = %self.peer, client_id = connected.session.client_id.as_str(), ?version, present = connected.session_present, "client connected");
        if connected.session_present {
            self.resend(now);
        }
        Status::Open
    }

    /// Sends the CONNACK within the client's Maximum Packet Size: if it does not fit,
    /// the properties whose absence only makes the client more conservative (Topic
    /// Alias Maximum: no aliases; Response Information) are left out, and if it
    /// still does not fit, a bare CONNACK 0x95 refuses the connection. Returns
    /// whether the connection was accepted.
    fn send_connack(&mut self, mut ack: ConnAck, version: ProtocolVersion, max: u32) -> bool {
        let mut buf = BytesMut::new();
        for attempt in 0..3 {
            match Packet::ConnAck(Box::new(ack.clone())).encode_within(version, max, &mut buf) {
                Ok(_) => {
                    self.broker.metrics.bytes_sent.add(buf.len() as u64);
                    self.out.put_slice(&buf);
                    return ack.reason_code == ReasonCode::Success;
                }
                Err(_) if attempt == 0 => {
                    ack.properties.topic_alias_maximum = None;
                    ack.properties.response_information = None;
                }
                Err(_) => ack = ConnAck::new(ReasonCode::PacketTooLarge),
            }
            buf.clear();
        }
        false
    }

    /// Resends what was in flight when the session's last connection ended, with
    /// the original packet identifiers (MQTT-4.4.0-1), DUP set on PUBLISH
    /// (MQTT-3.3.1-1).
    fn resend(&mut self, now: Instant) {
        let Some(live) = &self.live else { return };
        let resend = live.session().lock().outbox.resend();
        for r in resend {
            match r {
                Resend::Publish(id, d) => self.write_publish(d, Some(id), true, now),
                Resend::PubRel(id) => self.send(&Packet::PubRel(PubResponse::new(id))),
            }
        }
    }

    /// Moves deliveries from the session queue to the output while the client's
    /// Receive Maximum and the output's high-water mark allow. Notices a takeover.
    fn pull(&mut self, now: Instant) -> Status {
        let Some(live) = &self.live else {
            return Status::Open;
        };
        if self.closed {
            return Status::Close;
        }
        let window = usize::from(
            live.client_receive_max
                .min(self.broker.config().max_inflight),
        );
        if let Some(why) = live.client.kicked() {
            // Disconnected through the HTTP API.
            tracing::info!(peer = %self.peer, client_id = live.session().client_id.as_str(), "disconnected by the HTTP API: {why}");
            if live.version.is_v5() {
                let mut d = Disconnect::new(ReasonCode::AdministrativeAction);
                d.properties.reason_string = Some(Utf8Bytes::from(why.clone()));
                self.send(&Packet::Disconnect(d));
            }
            self.end_reason("administrative_action", Some(why));
            return self.close(Departure::WithWill, now);
        }
        let session = live.session().clone();
        let conn_id = live.conn_id();
        let version = live.version;
        loop {
            if self.out.len() >= OUTPUT_HIGH_WATER {
                return Status::Open;
            }
            match self.broker.next_delivery(&session, conn_id, window, now) {
                NextDelivery::Empty => return Status::Open,
                NextDelivery::Item(d, id) => self.write_publish(d, id, false, now),
                NextDelivery::Detached => {
                    self.end_reason("session_taken_over", None);
                    // MQTT-3.1.4-3: the session was taken over by a new connection.
                    tracing::info!(peer = %self.peer, client_id = session.client_id.as_str(), "session taken over");
                    if version.is_v5() {
                        self.send(&Packet::Disconnect(Disconnect::new(
                            ReasonCode::SessionTakenOver,
                        )));
                    }
                    self.closed = true;
                    return Status::Close;
                }
            }
        }
    }

    /// Queues the acknowledgement of a client's PUBLISH: sent at once, or when its
    /// batch is durable (`sync` store), always in the order the PUBLISH packets came.
    fn queue_ack(&mut self, commit: Commit, ack: Packet, now: Instant) -> Status {
        match commit {
            Commit::Failed => {
                return self.fail(
                    ReasonCode::UnspecifiedError,
                    "the message could not be stored; not acknowledged",
                    now,
                );
            }
            Commit::Done if self.acks_waiting() == 0 => self.send(&ack),
            commit => self
                .store
                .get_or_insert_default()
                .pending
                .push_back((commit, ack)),
        }
        Status::Open
    }

    /// How many acknowledgements wait for the store.
    fn acks_waiting(&self) -> usize {
        self.store.as_ref().map_or(0, |s| s.pending.len())
    }

    /// The oldest acknowledgement waiting for the store.
    fn pop_ack(&mut self) -> Option<(Commit, Packet)> {
        self.store.as_mut()?.pending.pop_front()
    }

    /// Sends the acknowledgements whose batches are durable; arranges a wake-up
    /// for the rest.
    fn release_acks(&mut self, now: Instant) -> Status {
        if self.acks_waiting() == 0 {
            return Status::Open;
        }
        if self
            .store
            .as_ref()
            .and_then(|s| s.waiter.as_ref())
            .is_some_and(|w| w.failed.load(Ordering::Acquire))
        {
            return self.fail(
                ReasonCode::UnspecifiedError,
                "the store failed; messages not acknowledged",
                now,
            );
        }
        let Some(store) = self.broker.store().cloned() else {
            while let Some((_, ack)) = self.pop_ack() {
                self.send(&ack);
            }
            return Status::Open;
        };
        while let Some((commit, _)) = self.store.as_ref().and_then(|s| s.pending.front()) {
            let ready = match commit {
                Commit::Pending(ticket) => store.is_durable(*ticket),
                _ => true,
            };
            if !ready {
                break;
            }
            if let Some((_, ack)) = self.pop_ack() {
                self.send(&ack);
            }
        }
        // Wait for the oldest ticket still pending: its group's commit releases
        // every acknowledgement that group covers, and the next wake-up waits for
        // the next group. (Waiting for the newest instead would hold the acks of
        // a committed group back until a later group is durable too, adding a
        // whole commit to the latency whenever publishes keep coming.)
        let first = self
            .store
            .iter()
            .flat_map(|s| s.pending.iter())
            .find_map(|(c, _)| match c {
                Commit::Pending(t) => Some(*t),
                _ => None,
            });
        if let Some(ticket) = first {
            let waiter = self
                .store
                .get_or_insert_default()
                .waiter
                .get_or_insert_default();
            if !waiter.active.swap(true, Ordering::AcqRel) {
                let waiter = waiter.clone();
                let wake = self.wake.clone();
                match tokio::runtime::Handle::try_current() {
                    Ok(rt) => {
                        rt.spawn(async move {
                            if store.wait_durable(ticket).await.is_err() {
                                waiter.failed.store(true, Ordering::Release);
                            }
                            waiter.active.store(false, Ordering::Release);
                            wake.notify_one();
                        });
                    }
                    Err(_) => waiter.active.store(false, Ordering::Release),
                }
            }
        }
        Status::Open
    }

    /// Encodes one PUBLISH to this client: per-subscriber header (topic alias,
    /// packet id, subscription identifiers, remaining expiry), shared payload.
    fn write_publish(&mut self, d: Delivery, packet_id: Option<PacketId>, dup: bool, now: Instant) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let m = &d.message;
        let mut properties = if live.version.is_v5() {
            m.properties.clone()
        } else {
            Default::default()
        };
        if live.version.is_v5() {
            properties.subscription_identifiers = d.subscription_ids.clone();
            properties.message_expiry_interval = m.remaining_expiry(now);
        }
        let mut publish = Publish {
            dup,
            qos: d.qos,
            retain: d.retain,
            topic: m.topic.clone(),
            packet_id,
            // Boxed only when not empty: no allocation for a plain message.
            properties: properties.into(),
            payload: m.payload.clone(),
        };
        // Topic aliases towards the client (MQTT-3.3.2-11, never above its maximum).
        let mut new_alias = None;
        if live.client_alias_max > 0 {
            let known = live.extras.as_deref().map(|e| &e.aliases_out);
            let used = known.map_or(0, HashMap::len);
            if let Some(&alias) = known.and_then(|a| a.get(&m.topic)) {
                publish.properties.to_mut().topic_alias = Some(alias);
                publish.topic = Utf8Bytes::default();
            } else if used < usize::from(live.client_alias_max) {
                let alias = (used + 1) as u16;
                publish.properties.to_mut().topic_alias = Some(alias);
                new_alias = Some(alias);
            }
        }
        let size = match publish.encoded_len(live.version) {
            Ok(size) if size <= live.client_max_packet as usize => size,
            other => {
                // MQTT-3.1.2-24/25: too large for the client: discarded, and the
                // delivery counts as complete.
                tracing::debug!(peer = %self.peer, client_id = live.session().client_id.as_str(), ?other, "message too large for client, dropped");
                self.broker
                    .metrics
                    .drop_of(DropCause::TooLargeForClient)
                    .inc();
                if let Some(id) = packet_id {
                    self.broker.abandon(live.session(), id);
                }
                return;
            }
        };
        if let Some(alias) = new_alias {
            live.extras
                .get_or_insert_default()
                .aliases_out
                .insert(owned_str(&m.topic), alias);
        }
        if publish
            .encode_header(live.version, self.out.tail_mut())
            .is_ok()
        {
            self.broker.metrics.count_sent(d.qos, publish.payload.len());
            self.out.put_bytes(publish.payload);
            self.broker.metrics.bytes_sent.add(size as u64);
        }
    }

    fn on_packet(&mut self, packet: Packet, now: Instant) -> Status {
        match packet {
            Packet::Publish(p) => self.on_publish(p, now),
            Packet::PubAck(r) => {
                if let Some(l) = &self.live {
                    self.broker.puback(l.session(), r.packet_id);
                }
                Status::Open
            }
            Packet::PubRec(r) => {
                let success = !r.reason_code.is_error();
                let result = match &self.live {
                    Some(l) => self.broker.pubrec(l.session(), r.packet_id, success),
                    None => AckResult::Unknown,
                };
                // MQTT-4.3.3: PUBREL follows a successful PUBREC; an error PUBREC
                // ends the flow (MQTT-4.8.2-6).
                if success {
                    let mut rel = PubResponse::new(r.packet_id);
                    if result == AckResult::Unknown {
                        rel.reason_code = ReasonCode::PacketIdentifierNotFound;
                    }
                    self.send(&Packet::PubRel(rel));
                }
                Status::Open
            }
            Packet::PubRel(r) => {
                // MQTT-4.3.3-11: PUBCOMP with the same id; the exactly-once state ends.
                let known = self
                    .live
                    .as_ref()
                    .is_some_and(|l| self.broker.release_incoming(l.session(), r.packet_id));
                let mut comp = PubResponse::new(r.packet_id);
                if !known {
                    comp.reason_code = ReasonCode::PacketIdentifierNotFound;
                }
                // In order behind any acknowledgement still waiting for the disk.
                self.queue_ack(Commit::Done, Packet::PubComp(comp), now)
            }
            Packet::PubComp(r) => {
                if let Some(l) = &self.live {
                    self.broker.pubcomp(l.session(), r.packet_id);
                }
                Status::Open
            }
            Packet::Subscribe(s) => self.on_subscribe(s, now),
            Packet::Unsubscribe(u) => self.on_unsubscribe(u),
            Packet::PingReq => {
                // MQTT-3.12.4-1.
                self.send(&Packet::PingResp);
                Status::Open
            }
            Packet::Disconnect(d) => self.on_disconnect(d, now),
            Packet::Connect(_) => self.fail(
                ReasonCode::ProtocolError,
                "second CONNECT [MQTT-3.1.0-2]",
                now,
            ),
            Packet::Auth(a) => self.on_reauth(a, now),
            Packet::ConnAck(_) | Packet::SubAck(_) | Packet::UnsubAck(_) | Packet::PingResp => {
                let why = format!(
                    "{} is sent by servers only [MQTT-4.13.1-1]",
                    packet.packet_type()
                );
                self.fail(ReasonCode::ProtocolError, &why, now)
            }
        }
    }

    fn on_publish(&mut self, mut p: Publish, now: Instant) -> Status {
        let config = self.broker.config();
        let Some(live) = self.live.as_mut() else {
            return Status::Close;
        };
        // Topic aliases from the client (MQTT 5.0 §3.3.2.3.4).
        if let Some(alias) = p.properties.topic_alias() {
            if alias == 0 || alias > config.topic_alias_maximum {
                let why = format!(
                    "Topic Alias {alias} exceeds Topic Alias Maximum {} [MQTT-3.3.2-9]",
                    config.topic_alias_maximum
                );
                return self.fail(ReasonCode::TopicAliasInvalid, &why, now);
            }
            let aliases = &mut live.extras.get_or_insert_default().aliases_in;
            if aliases.is_empty() {
                *aliases = vec![None; usize::from(config.topic_alias_maximum)];
            }
            let slot = aliases.get_mut(usize::from(alias) - 1);
            match slot {
                Some(slot) if !p.topic.is_empty() => *slot = Some(owned_str(&p.topic)),
                Some(Some(topic)) => p.topic = topic.clone(),
                _ => {
                    let why =
                        format!("Topic Alias {alias} used before it was set [MQTT-5.0 §3.3.2.3.4]");
                    return self.fail(ReasonCode::ProtocolError, &why, now);
                }
            }
            p.properties.to_mut().topic_alias = None;
        }
        if p.topic.is_empty() {
            return self.fail(
                ReasonCode::ProtocolError,
                "empty Topic Name without a Topic Alias [MQTT-3.3.2-1]",
                now,
            );
        }
        if p.properties.subscription_identifiers().next().is_some() {
            return self.fail(
                ReasonCode::ProtocolError,
                "Subscription Identifier in a PUBLISH from a client [MQTT-3.3.4-6]",
                now,
            );
        }
        if p.qos > config.max_qos {
            return self.fail(
                ReasonCode::QoSNotSupported,
                "PUBLISH QoS exceeds Maximum QoS [MQTT-3.2.2-11]",
                now,
            );
        }
        if p.retain && !config.retain_available {
            return self.fail(
                ReasonCode::RetainNotSupported,
                "RETAIN set but retain is not available [MQTT-3.2.2-14]",
                now,
            );
        }
        let session = live.session().clone();
        let version = live.version;
        if !self.broker.auth.allows(
            &live.principal,
            session.client_id.as_str(),
            Access::Write,
            &p.topic,
        ) {
            tracing::info!(peer = %self.peer, client_id = session.client_id.as_str(), user = live.principal.user_label(), topic = p.topic.as_str(), "PUBLISH denied by the ACL");
            // v5: PUBACK / PUBREC 0x87; 3.1.1 has no way to say it: the message
            // is acknowledged and dropped (as Mosquitto does).
            if version.is_v5() {
                self.ack_publish(&p, ReasonCode::NotAuthorized);
            } else {
                self.ack_publish(&p, ReasonCode::Success);
            }
            return Status::Open;
        }
        if !config.topic_within_limits(&p.topic) {
            if p.qos == QoS::AtMostOnce || !version.is_v5() {
                return self.fail(
                    ReasonCode::TopicNameInvalid,
                    "Topic Name is longer or has more levels than the server allows",
                    now,
                );
            }
            self.ack_publish(&p, ReasonCode::TopicNameInvalid);
            return Status::Open;
        }
        let qos = p.qos;
        let packet_id = p.packet_id;
        if qos != QoS::AtMostOnce {
            // MQTT-3.3.4-7: QoS 1/2 PUBLISH not yet acknowledged (waiting for the
            // disk, or QoS 2 waiting for PUBREL) count against Receive Maximum.
            let unacked = self.acks_waiting() + self.broker.incoming_qos2_pending(&session);
            if unacked >= usize::from(config.receive_maximum) {
                return self.fail(
                    ReasonCode::ReceiveMaximumExceeded,
                    "more QoS 1/2 PUBLISH unacknowledged than Receive Maximum [MQTT-3.3.4-7]",
                    now,
                );
            }
        }
        self.broker.metrics.count_received(qos, p.payload.len());
        let qos2_id = packet_id.filter(|_| qos == QoS::ExactlyOnce);
        let message = message_from_publish(p, session.key, now);
        let result = self
            .broker
            .publish_from(&session, message, qos2_id, Some(&self.wake), now);
        if result.congested {
            self.set_pushback(Some(now + crate::broker::pushback::GRACE));
            self.broker.metrics.publisher_pauses.inc();
        }
        let Some(id) = packet_id else {
            return Status::Open;
        };
        // A resent QoS 2 PUBLISH is only acknowledged again (MQTT-4.3.3-10).
        let code = if result.matched == 0 && !result.duplicate && version.is_v5() {
            ReasonCode::NoMatchingSubscribers
        } else {
            ReasonCode::Success
        };
        let mut ack = PubResponse::new(id);
        ack.reason_code = code;
        let ack = if qos == QoS::AtLeastOnce {
            Packet::PubAck(ack)
        } else {
            Packet::PubRec(ack)
        };
        self.queue_ack(result.commit, ack, now)
    }

    /// PUBACK or PUBREC for `p` with `code`.
    fn ack_publish(&mut self, p: &Publish, code: ReasonCode) {
        if let Some(id) = p.packet_id {
            let mut ack = PubResponse::new(id);
            ack.reason_code = code;
            let packet = if p.qos == QoS::AtLeastOnce {
                Packet::PubAck(ack)
            } else {
                Packet::PubRec(ack)
            };
            self.send(&packet);
        }
    }

    fn on_subscribe(&mut self, s: Subscribe, now: Instant) -> Status {
        let Some(live) = &self.live else {
            return Status::Close;
        };
        let session = live.session().clone();
        let id = s.properties.subscription_identifier;
        let mut codes = Vec::with_capacity(s.subscriptions.len());
        // MQTT-3.8.4-5: as if each filter came in its own SUBSCRIBE, one SUBACK.
        for sub in &s.subscriptions {
            let inner = match mqtt_proto::topic::parse_shared(&sub.filter) {
                Ok(Some(shared)) => shared.filter,
                _ => sub.filter.as_str(),
            };
            if !self.broker.auth.allows(
                &live.principal,
                session.client_id.as_str(),
                Access::Subscribe,
                inner,
            ) {
                tracing::info!(peer = %self.peer, client_id = session.client_id.as_str(), user = live.principal.user_label(), filter = sub.filter.as_str(), "SUBSCRIBE denied by the ACL");
                // v5 0x87; 3.1.1 encodes it as 0x80 Failure.
                codes.push(ReasonCode::NotAuthorized);
                continue;
            }
            let code = match self
                .broker
                .subscribe(&session, &sub.filter, sub.options, id, now)
            {
                Ok(granted) => {
                    self.broker.hooks.subscribed(
                        session.client_id.as_str(),
                        sub.filter.as_str(),
                        u8::from(granted),
                    );
                    match granted {
                        QoS::AtMostOnce => ReasonCode::Success,
                        QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
                        QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
                    }
                }
                Err(err) => {
                    tracing::info!(peer = %self.peer, client_id = session.client_id.as_str(), filter = sub.filter.as_str(), ?err, "subscription refused");
                    err.reason_code()
                }
            };
            codes.push(code);
        }
        // MQTT-3.8.4-1/6: a SUBACK with one code per filter, same packet id.
        let ack = SubAck {
            packet_id: s.packet_id,
            properties: Default::default(),
            reason_codes: codes,
        };
        self.send(&Packet::SubAck(ack));
        Status::Open
    }

    fn on_unsubscribe(&mut self, u: Unsubscribe) -> Status {
        let Some(live) = &self.live else {
            return Status::Close;
        };
        let session = live.session().clone();
        // MQTT-3.10.4-4/5/6: one UNSUBACK, even if nothing was subscribed.
        let codes = u
            .filters
            .iter()
            .map(|f| {
                if self.broker.unsubscribe(&session, f) {
                    self.broker
                        .hooks
                        .unsubscribed(session.client_id.as_str(), f.as_str());
                    ReasonCode::Success
                } else {
                    ReasonCode::NoSubscriptionExisted
                }
            })
            .collect();
        let ack = UnsubAck {
            packet_id: u.packet_id,
            properties: Default::default(),
            reason_codes: codes,
        };
        self.send(&Packet::UnsubAck(ack));
        Status::Open
    }

    fn on_disconnect(&mut self, d: Disconnect, now: Instant) -> Status {
        let Some(live) = self.live.as_mut() else {
            return Status::Close;
        };
        if let Some(expiry) = d.properties.session_expiry_interval {
            if live.connect_expiry == 0 && expiry != 0 {
                return self.fail(
                    ReasonCode::ProtocolError,
                    "non-zero Session Expiry Interval on DISCONNECT after zero on CONNECT [MQTT-5.0 §3.14.2.2.2]",
                    now,
                );
            }
            live.disconnect_expiry = Some(expiry);
        }
        // MQTT-3.14.4-3: 0x00 discards the Will; any other code (0x04 ...) keeps it.
        live.departure = if d.reason_code == ReasonCode::Success {
            Departure::Normal
        } else {
            Departure::WithWill
        };
        let departure = live.departure;
        self.end_reason("client_disconnect", Some(d.reason_code.name().to_string()));
        self.close(departure, now)
    }
}

impl Protocol for MqttConnection {
    fn log_names(&self) -> (&'static str, Option<&str>) {
        let client_id = self.live.as_ref().map(|l| l.session().client_id.as_str());
        (self.transport.label(), client_id)
    }

    /// Not while an exchange is open: an authentication or a store commit under
    /// way, a QoS 1/2 delivery waiting for its acknowledgement, a QoS 2 message
    /// from the client waiting for PUBREL, reading paused by back-pressure.
    fn parkable(&self) -> bool {
        !self.closed
            && self.pending.is_none()
            && self.acks_waiting() == 0
            && !self.pushed_back
            && self.live.as_ref().is_none_or(|live| {
                live.extras
                    .as_ref()
                    .and_then(|e| e.auth.as_ref())
                    .is_none_or(|a| a.reauth.is_none())
                    && {
                        let st = live.session().lock();
                        st.outbox.inflight_len() == 0 && st.incoming_qos2.is_empty()
                    }
            })
    }

    fn on_park(&mut self) {
        // Parkable means no acknowledgement waits: the queue's storage goes, and
        // the store waiter with it unless it still waits or saw the store fail (an
        // idle one is what a new one would be).
        if let Some(store) = &mut self.store {
            match &store.waiter {
                Some(w) if w.active.load(Ordering::Acquire) || w.failed.load(Ordering::Acquire) => {
                    store.pending = VecDeque::new();
                }
                _ => self.store = None,
            }
        }
        if let Some(live) = &self.live {
            live.session().lock().release_idle();
        }
    }

    fn on_read(&mut self, input: &mut BytesMut, now: Instant) -> Status {
        let before = input.len();
        let status = self.read_packets(input, now);
        self.broker
            .metrics
            .bytes_received
            .add((before - input.len()) as u64);
        if status == Status::Close || self.release_acks(now) == Status::Close {
            return Status::Close;
        }
        self.pull(now)
    }

    fn on_eof(&mut self, now: Instant) {
        if !self.closed {
            tracing::debug!(peer = %self.peer, client_id = self.client_id().unwrap_or("-"), "connection lost");
            self.end_reason("connection_lost", None);
        }
        self.close(Departure::WithWill, now);
    }

    fn on_wake(&mut self, now: Instant) -> Status {
        // A congested subscriber drained (or anything else happened: the next
        // PUBLISH finds out whether it is still congested).
        self.set_pushback(None);
        if self.release_acks(now) == Status::Close {
            return Status::Close;
        }
        if self.pending.is_some() && self.poll_verification(now) == Status::Close {
            return Status::Close;
        }
        self.pull(now)
    }

    fn on_timer(&mut self, now: Instant) -> Status {
        if self.pushback_until().is_some_and(|t| t <= now) {
            self.set_pushback(None);
        }
        match &self.live {
            None if now >= self.timer => {
                tracing::info!(peer = %self.peer, "no CONNECT within the connect timeout");
                self.closed = true;
                Status::Close
            }
            Some(live) if live.keep_alive_due().is_some_and(|due| now >= due) => {
                // MQTT-3.1.2-22: nothing received for 1.5 × Keep Alive.
                self.fail(
                    ReasonCode::KeepAliveTimeout,
                    "no packet within 1.5 times the Keep Alive [MQTT-3.1.2-22]",
                    now,
                )
            }
            _ => Status::Open,
        }
    }

    fn on_shutdown(&mut self, now: Instant) -> Status {
        self.end_reason("server_shutting_down", None);
        if let Some(live) = &self.live
            && live.version.is_v5()
            && !self.closed
        {
            self.send(&Packet::Disconnect(Disconnect::new(
                ReasonCode::ServerShuttingDown,
            )));
        }
        self.close(Departure::WithWill, now)
    }

    fn deadline(&self) -> Option<Instant> {
        if self.closed {
            return None;
        }
        let own = match &self.live {
            None => Some(self.timer),
            Some(l) => l.keep_alive_due(),
        };
        // While over the PUBLISH rate or pushed back, wake up when reading may resume.
        own.into_iter()
            .chain(self.publish_rate.resume_at_peek_now())
            .chain(self.pushback_until())
            .min()
    }

    fn output(&mut self) -> &mut OutQueue {
        &mut self.out
    }

    fn read_paused(&self) -> bool {
        // Back-pressure: the client does not read, the store cannot keep up,
        // or a password check is running.
        self.out.len() > OUTPUT_PAUSE_READ
            || self.broker.store_backlogged()
            || self.verifying()
            || self.pushed_back
            || self.publish_rate.resume_at_peek_now().is_some()
    }
}

impl MqttConnection {
    fn read_packets(&mut self, input: &mut BytesMut, now: Instant) -> Status {
        while !self.closed {
            if self.pending.is_some() {
                match self.read_during_auth(input, now) {
                    Some(status) => return status,
                    None => continue,
                }
            }
            let Some(live) = self.live.as_mut() else {
                let decoder = ConnectDecoder::new()
                    .with_max_packet_size(self.broker.config().max_packet_size);
                match decoder.decode(input) {
                    Ok(None) => return Status::Open,
                    Ok(Some(connect)) => {
                        if self.on_connect(connect, now) == Status::Close {
                            return Status::Close;
                        }
                        continue;
                    }
                    Err(err) => return self.connect_error(err),
                }
            };
            if self.publish_rate.resume_at(now).is_some() || self.pushed_back {
                // Over the PUBLISH rate, or a subscriber's queue is full: the rest
                // waits (reading is paused).
                return Status::Open;
            }
            match live.decoder.decode(input) {
                Ok(None) => return Status::Open,
                Ok(Some(packet)) => {
                    live.last_packet = now;
                    if matches!(packet, Packet::Publish(_)) {
                        self.publish_rate.take(1, now);
                    }
                    if self.on_packet(packet, now) == Status::Close {
                        return Status::Close;
                    }
                }
                Err(err) => return self.fail(err.reason_code(), &err.to_string(), now),
            }
        }
        Status::Close
    }

    /// A bad first packet: an unsupported protocol level gets CONNACK 0x01 in the
    /// 3.1.1 format (MQTT-3.1.2-2 of 3.1.1; a 5.0 client would have level 5); any
    /// other error closes the connection without an answer (MQTT-3.1.4-1).
    fn connect_error(&mut self, err: DecodeError) -> Status {
        tracing::info!(peer = %self.peer, "bad CONNECT: {err}");
        self.broker.metrics.protocol_errors.inc();
        self.failed = true;
        if err.reason_code() == ReasonCode::UnsupportedProtocolVersion {
            let mut buf = BytesMut::new();
            let ack = ConnAck::new(ReasonCode::UnsupportedProtocolVersion);
            if Packet::ConnAck(Box::new(ack))
                .encode(ProtocolVersion::V3_1_1, &mut buf)
                .is_ok()
            {
                self.out.put_slice(&buf);
            }
        }
        self.closed = true;
        Status::Close
    }
}

impl Drop for MqttConnection {
    fn drop(&mut self) {
        self.broker.metrics.connections_of(self.transport).dec();
        if let Some(live) = &self.live
            && let Some(c) = self
                .broker
                .metrics
                .clients_of(self.transport, crate::metrics::version_index(live.version))
        {
            c.dec();
        }
        if !self.closed {
            self.close(Departure::WithWill, Instant::now());
        }
    }
}

#[cfg(test)]
mod size_tests {
    use super::{Live, MqttConnection};

    /// glibc rounds an allocation plus its 8-byte header up to a 16-byte step, so
    /// these bounds are steps, not bytes (issue 8: idle memory per connection).
    /// `Box<Live>`: at most 88 bytes take 96, one more 112.
    #[test]
    fn live_fits_its_allocation_step() {
        assert!(std::mem::size_of::<Live>() <= 88);
    }

    /// A parked MQTT connection is one box: this, its wake handle and driver
    /// configuration (8 bytes each) and the listener's tail (its connection
    /// permit, 24): at most 216 bytes take 224, one more 240.
    #[test]
    fn a_parked_connection_fits_its_allocation_step() {
        assert!(std::mem::size_of::<MqttConnection>() <= 176);
    }
}
