//! `/ws`: the JSON protocol for browsers (docs/ws-json-protocol.md). A `/ws`
//! client is a bus client like any other: it has a connection-scoped session in
//! the broker, the same topic rules, retained messages and limits as MQTT.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use bytes::{BufMut, Bytes, BytesMut};
use mqtt_proto::{
    ProtocolVersion, PublishProperties, QoS, RetainHandling, SubscriptionOptions, UserProperty,
    Utf8Bytes, topic,
};
use serde_json::{Map, Value, json};

use ws_proto::{CloseCode, Message};

use super::{WsApp, WsOut};
use crate::auth::{Access, Principal};
use crate::broker::{Broker, ConnectRequest, Delivery, Departure, Message as BusMessage, Session};
use crate::conn::Status;
use crate::conn::rate::TokenBucket;

/// Subscription identifier marking a subscription delivered as JSON messages.
const JSON_SUB: u32 = 2;
/// Subscription identifier marking a subscription delivered as binary frames.
const BINARY_SUB: u32 = 1;
/// Above this many unsent bytes, deliveries wait in the session queue (which drops
/// QoS 0 messages for this client when it is full).
const HIGH_WATER: usize = 1024 * 1024;
/// A client whose output stays above the high-water mark this long is closed (1008).
const STALL_LIMIT: Duration = Duration::from_secs(30);
/// Largest JSON message accepted from a client.
const MAX_REQUEST: usize = 4 * 1024 * 1024;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// One `/ws` client.
pub struct JsonClient {
    broker: Arc<Broker>,
    publish_rate: TokenBucket,
    principal: Arc<Principal>,
    session: Arc<Session>,
    conn_id: u64,
    seq: u64,
    stalled_since: Option<Instant>,
    ended: bool,
    /// Closing because the HTTP API asked to.
    kicked: bool,
    /// The connection's wake-up (the registry's disconnect requests use it).
    wake: Arc<crate::conn::ConnWake>,
    /// The client's entry in the registry (HTTP API, webhooks), once
    /// [`JsonClient::registered`].
    client: Option<crate::hooks::ClientHandle>,
}

/// An error answer: `code` from the protocol's table and a reason for humans.
struct Refusal {
    code: &'static str,
    reason: String,
}

fn refuse(code: &'static str, reason: impl Into<String>) -> Refusal {
    Refusal {
        code,
        reason: reason.into(),
    }
}

impl JsonClient {
    /// Registers a new anonymous bus client with the broker; `wake` is its connection's.
    pub fn new(broker: Arc<Broker>, wake: Arc<crate::conn::ConnWake>, now: Instant) -> Self {
        Self::with_user(broker, wake, None, now)
    }

    /// Registers a new bus client authenticated as `user` (`None`: anonymous).
    pub fn with_user(
        broker: Arc<Broker>,
        wake: Arc<crate::conn::ConnWake>,
        user: Option<String>,
        now: Instant,
    ) -> Self {
        let req = ConnectRequest {
            client_id: Utf8Bytes::default(),
            clean_start: true,
            expiry_interval: 0,
            version: ProtocolVersion::V5,
            will: None,
            principal: None,
        };
        let wake_handle = wake.clone();
        let connected = broker.connect(req, wake, now);
        let principal = Principal::shared(user);
        connected.session.lock().principal = Some(principal.clone());
        tracing::Span::current().record("client_id", connected.session.client_id.as_str());
        broker
            .metrics
            .connections_of(crate::metrics::Transport::WsJson)
            .inc();
        if let Some(c) = broker.metrics.clients_of(
            crate::metrics::Transport::WsJson,
            crate::metrics::JSON_VERSION,
        ) {
            c.inc();
        }
        Self {
            broker,
            publish_rate: TokenBucket::new(0, now),
            principal,
            session: connected.session,
            conn_id: connected.conn_id,
            seq: 0,
            stalled_since: None,
            ended: false,
            kicked: false,
            wake: wake_handle,
            client: None,
        }
    }

    /// Lists the client in the registry (HTTP API) and reports it connected
    /// (webhooks), from `peer` over `transport`.
    pub fn registered(mut self, peer: std::net::SocketAddr) -> Self {
        self.client = Some(self.broker.hooks.client_connected(crate::hooks::NewClient {
            conn_id: self.conn_id,
            transport: crate::metrics::Transport::WsJson,
            protocol: "json",
            address: peer,
            user: self.principal.user.clone(),
            session: self.session.clone(),
            wake: self.wake.clone(),
        }));
        self
    }

    /// Limits publishing to `per_second` messages (0: no limit); above it the
    /// connection stops reading until the rate allows (back-pressure).
    pub fn with_publish_rate(mut self, per_second: u32) -> Self {
        self.publish_rate = TokenBucket::new(u64::from(per_second), Instant::now());
        self
    }

    /// Refuses with `not_authorized` what the ACL does not allow (and logs it).
    fn check(&self, access: Access, topic: &str) -> Result<(), Refusal> {
        if self.broker.auth.allows(
            &self.principal,
            self.session.client_id.as_str(),
            access,
            topic,
        ) {
            return Ok(());
        }
        tracing::info!(
            client_id = self.client_id(),
            user = self.principal.user_label(),
            topic,
            access = access.label(),
            "/ws request denied by the ACL"
        );
        Err(refuse(
            "not_authorized",
            format!("the ACL does not allow {} on {topic:?}", access.label()),
        ))
    }

    /// The bus client id (`auto-…`).
    pub fn client_id(&self) -> &str {
        self.session.client_id.as_str()
    }

    fn send_json(ws: &mut WsOut<'_>, value: &Value) {
        let text = value.to_string();
        if let Err(err) = ws.send(Message::text(text)) {
            tracing::debug!(%err, "/ws: message after close dropped");
        }
    }

    fn handle_text(&mut self, text: &str, ws: &mut WsOut<'_>, now: Instant) {
        let request: Value = match serde_json::from_str(text) {
            Ok(v @ Value::Object(_)) => v,
            Ok(_) => {
                return Self::error(
                    ws,
                    None,
                    refuse("bad_json", "a request must be a JSON object"),
                );
            }
            Err(err) => {
                return Self::error(ws, None, refuse("bad_json", format!("not JSON: {err}")));
            }
        };
        let id = request.get("id").cloned();
        let answer = match request.get("type").and_then(Value::as_str) {
            Some("subscribe") => self.subscribe(&request, now),
            Some("unsubscribe") => self.unsubscribe(&request),
            Some("publish") => self.publish(&request, now),
            Some("ping") => Ok(Some(json!({"type": "pong"}))),
            Some(other) => Err(refuse("unknown_type", format!("unknown type {other:?}"))),
            None => Err(refuse("unknown_type", "missing \"type\"")),
        };
        match answer {
            Ok(Some(mut reply)) => {
                if let (Some(id), Some(obj)) = (id, reply.as_object_mut()) {
                    obj.insert("id".into(), id);
                }
                Self::send_json(ws, &reply);
            }
            Ok(None) => {}
            Err(refusal) => Self::error(ws, id, refusal),
        }
    }

    fn error(ws: &mut WsOut<'_>, id: Option<Value>, refusal: Refusal) {
        let mut reply = json!({"type": "error", "code": refusal.code, "reason": refusal.reason});
        if let (Some(id), Some(obj)) = (id, reply.as_object_mut()) {
            obj.insert("id".into(), id);
        }
        Self::send_json(ws, &reply);
    }

    fn subscribe(&mut self, req: &Value, now: Instant) -> Result<Option<Value>, Refusal> {
        let filter =
            str_field(req, "filter")?.ok_or_else(|| refuse("bad_json", "missing \"filter\""))?;
        let inner = match topic::parse_shared(filter) {
            Ok(Some(s)) => s.filter,
            Ok(None) => filter,
            Err(e) => {
                return Err(refuse(
                    "invalid_topic",
                    format!("{} [{}]", e.message(), e.rule(ProtocolVersion::V5)),
                ));
            }
        };
        topic::validate_filter(inner).map_err(|e| {
            refuse(
                "invalid_topic",
                format!("{} [{}]", e.message(), e.rule(ProtocolVersion::V5)),
            )
        })?;
        let qos = match u64_field(req, "qos")?.unwrap_or(0) {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            q => return Err(refuse("bad_json", format!("qos must be 0 or 1, not {q}"))),
        };
        let retain_handling = match u64_field(req, "retain_handling")?.unwrap_or(0) {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            r => {
                return Err(refuse(
                    "bad_json",
                    format!("retain_handling must be 0, 1 or 2, not {r}"),
                ));
            }
        };
        let options = SubscriptionOptions {
            qos,
            no_local: false,
            retain_as_published: bool_field(req, "rap")?.unwrap_or(false),
            retain_handling,
        };
        self.check(Access::Subscribe, inner)?;
        let marker = if bool_field(req, "binary")?.unwrap_or(false) {
            BINARY_SUB
        } else {
            JSON_SUB
        };
        let filter = Utf8Bytes::from(filter.to_string());
        match self
            .broker
            .subscribe(&self.session, &filter, options, Some(marker), now)
        {
            Ok(granted) => {
                self.broker.hooks.subscribed(
                    self.session.client_id.as_str(),
                    filter.as_str(),
                    u8::from(granted),
                );
                Ok(Some(
                    json!({"type": "subscribed", "filter": filter.as_str(), "qos": u8::from(granted)}),
                ))
            }
            Err(err) => {
                let code = match err {
                    crate::broker::SubscribeError::InvalidFilter => "invalid_topic",
                    crate::broker::SubscribeError::QuotaExceeded => "quota_exceeded",
                    crate::broker::SubscribeError::SessionEnded => "unavailable",
                };
                Err(refuse(code, format!("subscription refused: {err:?}")))
            }
        }
    }

    fn unsubscribe(&mut self, req: &Value) -> Result<Option<Value>, Refusal> {
        let filter =
            str_field(req, "filter")?.ok_or_else(|| refuse("bad_json", "missing \"filter\""))?;
        let existed = self.broker.unsubscribe(&self.session, filter);
        if existed {
            self.broker
                .hooks
                .unsubscribed(self.session.client_id.as_str(), filter);
        }
        Ok(Some(
            json!({"type": "unsubscribed", "filter": filter, "existed": existed}),
        ))
    }

    fn publish(&mut self, req: &Value, now: Instant) -> Result<Option<Value>, Refusal> {
        let name =
            str_field(req, "topic")?.ok_or_else(|| refuse("bad_json", "missing \"topic\""))?;
        check_topic_name(name, self.broker.config())?;
        self.check(Access::Write, name)?;
        let text = str_field(req, "payload")?.unwrap_or("");
        let payload =
            match str_field(req, "encoding")?.unwrap_or("text") {
                "text" => Bytes::copy_from_slice(text.as_bytes()),
                "base64" => Bytes::from(B64.decode(text).map_err(|e| {
                    refuse("invalid_payload", format!("payload is not base64: {e}"))
                })?),
                other => {
                    return Err(refuse(
                        "bad_json",
                        format!("encoding must be \"text\" or \"base64\", not {other:?}"),
                    ));
                }
            };
        if payload.len() > self.broker.config().max_packet_size as usize {
            return Err(refuse(
                "too_large",
                format!(
                    "payload of {} bytes exceeds {}",
                    payload.len(),
                    self.broker.config().max_packet_size
                ),
            ));
        }
        let qos = match u64_field(req, "qos")?.unwrap_or(0) {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            q => return Err(refuse("bad_json", format!("qos must be 0 or 1, not {q}"))),
        };
        let retain = bool_field(req, "retain")?.unwrap_or(false);
        let mut properties = PublishProperties {
            content_type: str_field(req, "content_type")?.map(|s| Utf8Bytes::from(s.to_string())),
            message_expiry_interval: u64_field(req, "message_expiry")?
                .map(|s| u32::try_from(s).unwrap_or(u32::MAX)),
            ..Default::default()
        };
        if let Some(rt) = str_field(req, "response_topic")? {
            check_topic_name(rt, self.broker.config())?;
            properties.response_topic = Some(Utf8Bytes::from(rt.to_string()));
        }
        if let Some(cd) = str_field(req, "correlation_data")? {
            let data = B64.decode(cd).map_err(|e| {
                refuse(
                    "invalid_payload",
                    format!("correlation_data is not base64: {e}"),
                )
            })?;
            properties.correlation_data = Some(Bytes::from(data));
        }
        match req.get("user_properties") {
            None | Some(Value::Null) => {}
            Some(Value::Object(map)) => {
                for (k, v) in map {
                    let v = v.as_str().ok_or_else(|| {
                        refuse("bad_json", "user_properties values must be strings")
                    })?;
                    properties
                        .user_properties
                        .push(UserProperty::new(k.clone(), v.to_string()));
                }
            }
            Some(_) => {
                return Err(refuse(
                    "bad_json",
                    "user_properties must be an object of strings",
                ));
            }
        }
        self.broker.metrics.count_received(qos, payload.len());
        self.publish_rate.take(1, now);
        let message = BusMessage::new(
            Utf8Bytes::from(name.to_string()),
            payload,
            qos,
            retain,
            properties,
            Some(self.session.key),
            now,
        );
        self.broker.publish(message, now);
        Ok((qos == QoS::AtLeastOnce).then(|| json!({"type": "puback"})))
    }

    /// A binary frame from the client: `[flags][topic length u16][topic][payload]`.
    fn handle_binary(&mut self, data: &Bytes, ws: &mut WsOut<'_>, now: Instant) {
        let parsed = (|| {
            let (&flags, rest) = data
                .split_first()
                .ok_or_else(|| refuse("bad_json", "empty binary frame"))?;
            if flags & !0x01 != 0 {
                return Err(refuse(
                    "bad_json",
                    "binary publish: only the retain bit may be set (QoS 0 only)",
                ));
            }
            let (len, rest) = rest
                .split_first_chunk::<2>()
                .ok_or_else(|| refuse("bad_json", "binary frame too short"))?;
            let len = usize::from(u16::from_be_bytes(*len));
            let topic_bytes = rest
                .get(..len)
                .ok_or_else(|| refuse("bad_json", "topic length past the end of the frame"))?;
            let name = std::str::from_utf8(topic_bytes)
                .map_err(|_| refuse("invalid_topic", "topic is not UTF-8 [MQTT-1.5.4-1]"))?;
            check_topic_name(name, self.broker.config())?;
            self.check(Access::Write, name)?;
            let payload = data.slice(3 + len..);
            Ok((flags & 1 == 1, name.to_string(), payload))
        })();
        match parsed {
            Ok((retain, name, payload)) => {
                self.broker
                    .metrics
                    .count_received(QoS::AtMostOnce, payload.len());
                self.publish_rate.take(1, now);
                let message = BusMessage::new(
                    Utf8Bytes::from(name),
                    payload,
                    QoS::AtMostOnce,
                    retain,
                    PublishProperties::default(),
                    Some(self.session.key),
                    now,
                );
                self.broker.publish(message, now);
            }
            Err(refusal) => Self::error(ws, None, refusal),
        }
    }

    /// Moves deliveries from the session queue to the socket while the output is
    /// below the high-water mark.
    fn pull(&mut self, ws: &mut WsOut<'_>, now: Instant) -> Status {
        if self.ended {
            return Status::Open;
        }
        loop {
            if ws.pending() >= HIGH_WATER {
                let since = *self.stalled_since.get_or_insert(now);
                if now.duration_since(since) >= STALL_LIMIT {
                    tracing::info!(
                        client_id = self.client_id(),
                        "/ws client does not read: closing (1008)"
                    );
                    ws.close(
                        CloseCode::POLICY_VIOLATION,
                        "not reading: outbound queue full",
                    );
                    return Status::Close;
                }
                return Status::Open;
            }
            self.stalled_since = None;
            let delivery = {
                let mut st = self.session.lock();
                if !st.is_attached(self.conn_id) {
                    return Status::Close;
                }
                let metrics = &self.broker.metrics;
                // `/ws` deliveries are never put in flight: they are done once written.
                st.outbox
                    .pop_ready(now, usize::MAX, |cause, _| metrics.drop_of(cause).inc())
            };
            let Some(d) = delivery else {
                return Status::Open;
            };
            self.deliver(d, ws, now);
        }
    }

    fn deliver(&mut self, d: Delivery, ws: &mut WsOut<'_>, now: Instant) {
        self.seq += 1;
        self.broker
            .metrics
            .count_sent(d.qos, d.message.payload.len());
        let m = &d.message;
        let binary_only =
            d.subscription_ids.contains(&BINARY_SUB) && !d.subscription_ids.contains(&JSON_SUB);
        if binary_only {
            let mut frame = BytesMut::with_capacity(3 + m.topic.len() + m.payload.len());
            frame.put_u8(u8::from(d.retain) | (u8::from(d.qos) << 1));
            frame.put_u16(m.topic.len() as u16);
            frame.put_slice(m.topic.as_bytes());
            frame.put_slice(&m.payload);
            self.broker.metrics.bytes_sent.add(frame.len() as u64);
            if ws.send(Message::Binary(frame.freeze())).is_err() {
                tracing::debug!("/ws: delivery after close dropped");
            }
            return;
        }
        let mut obj = Map::new();
        obj.insert("type".into(), "message".into());
        obj.insert("seq".into(), self.seq.into());
        obj.insert("topic".into(), m.topic.as_str().into());
        match std::str::from_utf8(&m.payload) {
            Ok(text) => {
                obj.insert("payload".into(), text.into());
                obj.insert("encoding".into(), "text".into());
            }
            Err(_) => {
                obj.insert("payload".into(), B64.encode(&m.payload).into());
                obj.insert("encoding".into(), "base64".into());
            }
        }
        obj.insert("qos".into(), u8::from(d.qos).into());
        obj.insert("retain".into(), d.retain.into());
        let p = &m.properties;
        if let Some(ct) = &p.content_type {
            obj.insert("content_type".into(), ct.as_str().into());
        }
        if let Some(rt) = &p.response_topic {
            obj.insert("response_topic".into(), rt.as_str().into());
        }
        if let Some(cd) = &p.correlation_data {
            obj.insert("correlation_data".into(), B64.encode(cd).into());
        }
        if let Some(pf) = p.payload_format_indicator {
            obj.insert("payload_format".into(), u8::from(pf).into());
        }
        if let Some(left) = m.remaining_expiry(now) {
            obj.insert("message_expiry".into(), left.into());
        }
        if !p.user_properties.is_empty() {
            // In their order; a repeated name keeps its last value (JSON objects have
            // unique keys).
            let mut props = Map::new();
            for up in &p.user_properties {
                props.insert(up.name.as_str().to_string(), up.value.as_str().into());
            }
            obj.insert("user_properties".into(), Value::Object(props));
        }
        let text = Value::Object(obj).to_string();
        self.broker.metrics.bytes_sent.add(text.len() as u64);
        if ws.send(Message::text(text)).is_err() {
            tracing::debug!("/ws: delivery after close dropped");
        }
    }
}

fn check_topic_name(name: &str, config: &crate::broker::BrokerConfig) -> Result<(), Refusal> {
    topic::validate_name(name).map_err(|e| {
        refuse(
            "invalid_topic",
            format!("{} [{}]", e.message(), e.rule(ProtocolVersion::V5)),
        )
    })?;
    if !config.topic_within_limits(name) {
        return Err(refuse(
            "invalid_topic",
            format!(
                "topic longer than {} bytes or with more than {} levels",
                config.max_topic_length, config.max_topic_levels
            ),
        ));
    }
    Ok(())
}

fn str_field<'a>(req: &'a Value, name: &str) -> Result<Option<&'a str>, Refusal> {
    match req.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(refuse("bad_json", format!("\"{name}\" must be a string"))),
    }
}

fn u64_field(req: &Value, name: &str) -> Result<Option<u64>, Refusal> {
    match req.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => v.as_u64().map(Some).ok_or_else(|| {
            refuse(
                "bad_json",
                format!("\"{name}\" must be a non-negative integer"),
            )
        }),
    }
}

fn bool_field(req: &Value, name: &str) -> Result<Option<bool>, Refusal> {
    match req.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(_) => Err(refuse(
            "bad_json",
            format!("\"{name}\" must be true or false"),
        )),
    }
}

impl WsApp for JsonClient {
    fn on_park(&mut self) {
        self.session.lock().release_idle();
    }

    fn log_names(&self) -> (&'static str, Option<&str>) {
        (
            crate::metrics::Transport::WsJson.label(),
            Some(self.session.client_id.as_str()),
        )
    }

    fn on_open(&mut self, ws: &mut WsOut<'_>, _now: Instant) {
        let welcome = json!({
            "type": "welcome",
            "client_id": self.client_id(),
            "server": format!("realtime-server/{}", env!("CARGO_PKG_VERSION")),
            "max_message_size": MAX_REQUEST,
        });
        Self::send_json(ws, &welcome);
    }

    fn on_message(&mut self, message: Message, ws: &mut WsOut<'_>, now: Instant) -> Status {
        match &message {
            Message::Text(text) if text.as_str().len() > MAX_REQUEST => {
                Self::error(
                    ws,
                    None,
                    refuse(
                        "too_large",
                        format!("requests are limited to {MAX_REQUEST} bytes"),
                    ),
                );
            }
            Message::Text(text) => self.handle_text(text.as_str(), ws, now),
            Message::Binary(data) => self.handle_binary(data, ws, now),
            _ => {}
        }
        self.pull(ws, now)
    }

    fn on_wake(&mut self, ws: &mut WsOut<'_>, now: Instant) -> Status {
        if let Some(client) = self.client.as_mut()
            && let Some(why) = client.kicked()
        {
            if !self.kicked {
                self.kicked = true;
                tracing::info!(
                    client_id = self.session.client_id.as_str(),
                    "disconnected by the HTTP API: {why}"
                );
                let reason: String = why.chars().take(100).collect();
                ws.close(CloseCode::POLICY_VIOLATION, &reason);
                client.set_reason("administrative_action", Some(why));
            }
            return Status::Open;
        }
        self.pull(ws, now)
    }

    fn on_timer(&mut self, ws: &mut WsOut<'_>, now: Instant) -> Status {
        self.pull(ws, now)
    }

    fn deadline(&self) -> Option<Instant> {
        let stall = self.stalled_since.map(|since| since + STALL_LIMIT);
        stall
            .into_iter()
            .chain(self.publish_rate.resume_at_peek_now())
            .min()
    }

    fn read_paused(&self) -> bool {
        self.publish_rate.resume_at_peek_now().is_some()
    }

    fn on_end(&mut self, now: Instant) {
        if !self.ended {
            self.ended = true;
            self.broker
                .metrics
                .connections_of(crate::metrics::Transport::WsJson)
                .dec();
            if let Some(c) = self.broker.metrics.clients_of(
                crate::metrics::Transport::WsJson,
                crate::metrics::JSON_VERSION,
            ) {
                c.dec();
            }
            self.broker
                .disconnect(&self.session, self.conn_id, Departure::Normal, None, now);
            // Reports `client.disconnected`.
            self.client = None;
        }
    }
}

impl Drop for JsonClient {
    fn drop(&mut self) {
        self.on_end(Instant::now());
    }
}
