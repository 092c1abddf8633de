//! Application messages as the broker holds them, and deliveries to sessions.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use bytes::Bytes;
use mqtt_proto::{PublishProperties, QoS, Utf8Bytes};

/// Identifies a session for the lifetime of the process (a new one for every
/// clean start): the key of the subscription trie and of No Local checks.
pub type SessionKey = u64;

/// An Application Message accepted by the broker. Shared (`Arc`) by every queue it
/// sits in; its payload is a slice of the publisher's read buffer, never copied.
#[derive(Debug, Clone)]
pub struct Message {
    /// The Topic Name (topic aliases already resolved).
    pub topic: Utf8Bytes,
    /// The payload.
    pub payload: Bytes,
    /// The QoS it was published with.
    pub qos: QoS,
    /// The RETAIN flag it was published with.
    pub retain: bool,
    /// MQTT 5 properties passed through to subscribers (MQTT-3.3.2-4, -15..-20),
    /// without Topic Alias and Subscription Identifiers (those are per hop).
    pub properties: PublishProperties,
    /// When the Message Expiry Interval runs out, if it was set.
    pub expires_at: Option<Instant>,
    /// The publishing session, for No Local (MQTT-3.8.3-3); `None` for messages the
    /// server makes itself (`$SYS`, the HTTP API).
    pub publisher: Option<SessionKey>,
    /// Its id in the durable store, once it has been stored.
    pub store_id: OnceLock<u64>,
}

/// A copy of `s` in an allocation of its own: a string kept for long (client id,
/// subscription filter, retained topic) must not keep alive the whole read
/// buffer it was sliced from.
pub fn owned_str(s: &Utf8Bytes) -> Utf8Bytes {
    Utf8Bytes::from(s.as_str().to_owned())
}

/// Like [`owned_str`], for binary data.
pub fn owned_bytes(b: &Bytes) -> Bytes {
    Bytes::copy_from_slice(b)
}

impl Message {
    /// A message from `publisher` received at `now`: the Message Expiry Interval
    /// becomes an absolute deadline, and hop-by-hop properties are removed.
    pub fn new(
        topic: Utf8Bytes,
        payload: Bytes,
        qos: QoS,
        retain: bool,
        mut properties: PublishProperties,
        publisher: Option<SessionKey>,
        now: Instant,
    ) -> Self {
        properties.topic_alias = None;
        properties.subscription_identifiers = Vec::new();
        let expires_at = properties
            .message_expiry_interval
            .map(|secs| now + Duration::from_secs(u64::from(secs)));
        Self {
            topic,
            payload,
            qos,
            retain,
            properties,
            expires_at,
            publisher,
            store_id: OnceLock::new(),
        }
    }

    /// The same message with its expiry counted from `now` (a Will is published
    /// long after its CONNECT).
    pub fn restamped(mut self, now: Instant) -> Self {
        self.expires_at = self
            .properties
            .message_expiry_interval
            .map(|secs| now + Duration::from_secs(u64::from(secs)));
        self
    }

    /// A copy that owns its topic, payload and property strings (for messages kept
    /// long: retained messages and wills), sharing nothing with a read buffer.
    pub fn compacted(&self) -> Self {
        let p = &self.properties;
        let properties = PublishProperties {
            payload_format_indicator: p.payload_format_indicator,
            message_expiry_interval: p.message_expiry_interval,
            topic_alias: None,
            response_topic: p.response_topic.as_ref().map(owned_str),
            correlation_data: p.correlation_data.as_ref().map(owned_bytes),
            content_type: p.content_type.as_ref().map(owned_str),
            subscription_identifiers: Vec::new(),
            user_properties: p
                .user_properties
                .iter()
                .map(|u| mqtt_proto::UserProperty {
                    name: owned_str(&u.name),
                    value: owned_str(&u.value),
                })
                .collect(),
        };
        Self {
            topic: owned_str(&self.topic),
            payload: owned_bytes(&self.payload),
            properties,
            store_id: self.store_id.clone(),
            ..self.clone()
        }
    }

    /// Whether the message expired (MQTT-3.3.2-5).
    pub fn is_expired(&self, now: Instant) -> bool {
        self.expires_at.is_some_and(|t| now >= t)
    }

    /// The Message Expiry Interval to send at `now`: the received value minus the
    /// time the message waited in the server (MQTT-3.3.2-6), at least 1 while it
    /// has not expired.
    pub fn remaining_expiry(&self, now: Instant) -> Option<u32> {
        self.expires_at.map(|t| {
            let left = t.saturating_duration_since(now);
            u32::try_from(left.as_secs() + u64::from(left.subsec_nanos() > 0))
                .unwrap_or(u32::MAX)
                .max(1)
        })
    }

    /// Bytes this message costs a queue (payload, topic and a fixed overhead).
    pub fn queue_cost(&self) -> usize {
        self.payload.len() + self.topic.len() + 64
    }
}

/// One message on its way to one session: the shared message plus what this
/// subscriber's subscriptions made of it.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The message.
    pub message: Arc<Message>,
    /// The QoS to deliver at: the minimum of the published QoS and the granted
    /// QoS of the best matching subscription (MQTT-3.8.4-8, MQTT-3.3.4-2).
    pub qos: QoS,
    /// The RETAIN flag to send (MQTT-3.3.1-12/13, or 1 for a retained message sent
    /// because of a new subscription, MQTT-3.3.1-9).
    pub retain: bool,
    /// Subscription Identifiers of every matching subscription that has one
    /// (MQTT-3.3.4-3/4).
    pub subscription_ids: Vec<u32>,
    /// The full `$share/{group}/{filter}` when it came through a shared
    /// subscription (it may move to another member of the group).
    pub shared: Option<Utf8Bytes>,
    /// Its sequence number in the session's durable outbound queue (`0`: not
    /// persisted — QoS 0, or a session that does not outlive its connection).
    pub seq: u64,
}
