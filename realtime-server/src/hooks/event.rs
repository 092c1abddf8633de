//! Webhook events and their JSON bodies (documented in docs/api/webhooks.md).

use base64::Engine as _;
use serde_json::{Map, Value, json};

use super::clients::ClientEntry;
use crate::broker::Message;

/// The events a webhook endpoint can subscribe to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    /// A client connected (after CONNACK 0x00 / the `/ws` upgrade).
    ClientConnected,
    /// A client's connection ended, with the reason.
    ClientDisconnected,
    /// A subscription was granted.
    ClientSubscribed,
    /// A subscription was removed.
    ClientUnsubscribed,
    /// A message was published on a topic matching the endpoint's filters.
    MessagePublished,
}

impl EventKind {
    /// Every event.
    pub const ALL: [EventKind; 5] = [
        Self::ClientConnected,
        Self::ClientDisconnected,
        Self::ClientSubscribed,
        Self::ClientUnsubscribed,
        Self::MessagePublished,
    ];

    /// The name in configuration and in the `event` field.
    pub fn label(self) -> &'static str {
        match self {
            Self::ClientConnected => "client.connected",
            Self::ClientDisconnected => "client.disconnected",
            Self::ClientSubscribed => "client.subscribed",
            Self::ClientUnsubscribed => "client.unsubscribed",
            Self::MessagePublished => "message.published",
        }
    }

    /// The event named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.label() == name)
    }

    /// Its bit in an endpoint's event mask.
    pub fn bit(self) -> u8 {
        match self {
            Self::ClientConnected => 1,
            Self::ClientDisconnected => 2,
            Self::ClientSubscribed => 4,
            Self::ClientUnsubscribed => 8,
            Self::MessagePublished => 16,
        }
    }
}

/// Milliseconds since the Unix epoch of a wall-clock time.
pub fn unix_ms(t: std::time::SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A connected client as JSON (the API's client object, and the webhook's).
pub fn client_json(c: &ClientEntry) -> Value {
    json!({
        "client_id": c.client_id().as_str(),
        "transport": c.transport.label(),
        "protocol": c.protocol(),
        "address": c.address.to_string(),
        "user": c.user,
        "connected_at_ms": c.connected_at_ms,
    })
}

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A message as JSON: the payload as text when it is UTF-8 (`payload`), always
/// as base64 (`payload_base64`), and its MQTT 5 properties.
pub fn message_json(m: &Message) -> Value {
    let text = std::str::from_utf8(&m.payload).ok();
    let p = &m.properties;
    let mut props = Map::new();
    if let Some(v) = &p.content_type {
        props.insert("content_type".into(), json!(v.as_str()));
    }
    if let Some(v) = &p.response_topic {
        props.insert("response_topic".into(), json!(v.as_str()));
    }
    if let Some(v) = &p.correlation_data {
        props.insert("correlation_data".into(), json!(B64.encode(v)));
    }
    if let Some(v) = p.message_expiry_interval {
        props.insert("message_expiry".into(), json!(v));
    }
    if let Some(v) = p.payload_format_indicator {
        props.insert("payload_format_utf8".into(), json!(v));
    }
    if !p.user_properties.is_empty() {
        let up: Vec<Value> = p
            .user_properties
            .iter()
            .map(|u| json!([u.name.as_str(), u.value.as_str()]))
            .collect();
        props.insert("user_properties".into(), Value::Array(up));
    }
    json!({
        "event": EventKind::MessagePublished.label(),
        "topic": m.topic.as_str(),
        "payload": text,
        "payload_base64": B64.encode(&m.payload),
        "qos": u8::from(m.qos),
        "retain": m.retain,
        "properties": props,
    })
}
