//! Persistence: how the broker's state maps to the durable store's records, and
//! how it is rebuilt from them at start-up.
//!
//! Only what must survive is written: sessions that outlive their connection
//! (Session Expiry Interval > 0, or v3 Clean Session 0) with their subscriptions,
//! QoS 1/2 deliveries queued or in flight to them, the QoS 2 packet ids they sent
//! and have not released, their wills, and retained messages (except `$SYS/`).
//! QoS 0 deliveries are never written.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    Packet, PacketId, ProtocolVersion, Publish, PublishProperties, QoS, RetainHandling,
    SubscriptionOptions, Utf8Bytes,
};

use super::message::{Delivery, Message};
use super::outbox::InflightPhase;
use super::session::{SessionState, SubscriptionRecord, WillMessage};
use crate::store::{
    OutboundRecord, OutboundState, SessionRecord, Store, StoreOp, StoredMessage,
    SubscriptionRecord as StoredSubscription,
};

/// Milliseconds since the Unix epoch, now.
pub(super) fn unix_ms_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// A wall-clock time (`unix_ms`) as an `Instant`, given the pair (`now`, `now_ms`).
pub(super) fn instant_of(unix_ms: u64, now: Instant, now_ms: u64) -> Instant {
    if unix_ms >= now_ms {
        now + Duration::from_millis(unix_ms - now_ms)
    } else {
        now.checked_sub(Duration::from_millis(now_ms - unix_ms))
            .unwrap_or(now)
    }
}

/// An `Instant` as wall-clock milliseconds, given the pair (`now`, `now_ms`).
pub(super) fn unix_ms_of(at: Instant, now: Instant, now_ms: u64) -> u64 {
    if at >= now {
        now_ms.saturating_add(u64::try_from(at.duration_since(now).as_millis()).unwrap_or(u64::MAX))
    } else {
        now_ms.saturating_sub(u64::try_from(now.duration_since(at).as_millis()).unwrap_or(u64::MAX))
    }
}

/// Whether a retained message on `topic` is persisted (`$SYS/` is republished by
/// the server itself every few seconds).
pub(super) fn persists_retained(topic: &str) -> bool {
    !topic.starts_with("$SYS/")
}

/// The PUBLISH properties as opaque bytes: an MQTT 5 PUBLISH header with an empty
/// topic-less body, decoded again by [`decode_properties`].
fn encode_properties(props: &PublishProperties) -> Bytes {
    if props.is_empty() {
        return Bytes::new();
    }
    let publish = Publish {
        topic: Utf8Bytes::from_static("p"),
        properties: props.clone().into(),
        ..Publish::default()
    };
    let mut buf = BytesMut::new();
    match publish.encode_header(ProtocolVersion::V5, &mut buf) {
        Ok(_) => buf.freeze(),
        Err(err) => {
            tracing::warn!(%err, "message properties not persisted");
            Bytes::new()
        }
    }
}

fn decode_properties(bytes: &[u8]) -> PublishProperties {
    if bytes.is_empty() {
        return PublishProperties::default();
    }
    match mqtt_proto::decode_packet(ProtocolVersion::V5, bytes) {
        Ok(Packet::Publish(p)) => p.properties.into_properties(),
        _ => {
            tracing::warn!("stored message properties do not decode; dropped");
            PublishProperties::default()
        }
    }
}

/// The stored form of `message` under `id`.
pub(super) fn stored_message(
    message: &Message,
    id: u64,
    now: Instant,
    now_ms: u64,
) -> StoredMessage {
    StoredMessage {
        id,
        topic: message.topic.as_str().to_string(),
        payload: message.payload.clone(),
        qos: u8::from(message.qos),
        retain: message.retain,
        properties: encode_properties(&message.properties),
        expiry_at_unix_ms: message.expires_at.map(|t| unix_ms_of(t, now, now_ms)),
    }
}

/// The broker message of a stored one.
pub(super) fn message_from_stored(stored: &StoredMessage, now: Instant, now_ms: u64) -> Message {
    let properties = decode_properties(&stored.properties);
    let mut m = Message::new(
        Utf8Bytes::from(stored.topic.clone()),
        stored.payload.clone(),
        QoS::from_u8(stored.qos).unwrap_or(QoS::AtLeastOnce),
        stored.retain,
        properties,
        None,
        now,
    );
    m.expires_at = stored
        .expiry_at_unix_ms
        .map(|ms| instant_of(ms, now, now_ms));
    let _ = m.store_id.set(stored.id);
    m
}

/// The options byte of MQTT 5.0 §3.8.3.1.
pub(super) fn options_byte(o: &SubscriptionOptions) -> u8 {
    u8::from(o.qos)
        | u8::from(o.no_local) << 2
        | u8::from(o.retain_as_published) << 3
        | (o.retain_handling as u8) << 4
}

pub(super) fn options_of(byte: u8) -> SubscriptionOptions {
    SubscriptionOptions {
        qos: QoS::from_u8(byte & 0x03).unwrap_or(QoS::AtMostOnce),
        no_local: byte & 0x04 != 0,
        retain_as_published: byte & 0x08 != 0,
        retain_handling: match (byte >> 4) & 0x03 {
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            _ => RetainHandling::SendAtSubscribe,
        },
    }
}

pub(super) fn version_of(level: u8) -> ProtocolVersion {
    match level {
        3 => ProtocolVersion::V3_1,
        4 => ProtocolVersion::V3_1_1,
        _ => ProtocolVersion::V5,
    }
}

/// The message's store id, allocating one (and storing the message in `ops`) the
/// first time it is referenced in this batch.
pub(super) struct MessageRefs<'a> {
    stored_in_batch: Vec<u64>,
    store: Option<&'a Store>,
    now: Instant,
    now_ms: u64,
    /// The publishing connection's waker, when it can be held back
    /// ([`super::pushback`]).
    pub(super) publisher_wake: Option<&'a Arc<crate::conn::ConnWake>>,
    /// Set when a subscriber's queue asked the publisher to pause.
    pub(super) congested: bool,
}

impl<'a> MessageRefs<'a> {
    pub(super) fn new(store: Option<&'a Store>, now: Instant) -> Self {
        Self {
            stored_in_batch: Vec::new(),
            store,
            now,
            now_ms: unix_ms_now(),
            publisher_wake: None,
            congested: false,
        }
    }

    /// The time of this batch.
    pub(super) fn now(&self) -> Instant {
        self.now
    }

    fn allocate(&self) -> u64 {
        self.store.map_or(0, Store::allocate_message_id)
    }

    /// The id of `message`; a `PutMessage` is added to `ops` once per batch (the
    /// store counts references at the end of each batch, so every batch that adds
    /// a reference carries the message).
    pub(super) fn id(&mut self, message: &Message, ops: &mut Vec<StoreOp>) -> u64 {
        let id = *message.store_id.get_or_init(|| self.allocate());
        if !self.stored_in_batch.contains(&id) {
            self.stored_in_batch.push(id);
            ops.push(StoreOp::PutMessage(stored_message(
                message,
                id,
                self.now,
                self.now_ms,
            )));
        }
        id
    }
}

/// The session record of `st` (wall-clock times from `now`/`now_ms`); the will is
/// stored under a fresh id from `refs`.
pub(super) fn session_record(
    client_id: &str,
    st: &SessionState,
    refs: &mut MessageRefs<'_>,
    now: Instant,
) -> SessionRecord {
    let will = st.will.as_ref().map(|w| {
        let id = *w.message.store_id.get_or_init(|| refs.allocate());
        (stored_message(&w.message, id, now, refs.now_ms), w.delay)
    });
    SessionRecord {
        client_id: client_id.to_string(),
        expiry_interval_secs: st.expiry_interval,
        protocol_version: st.version.level(),
        disconnected_at_unix_ms: st
            .disconnected_at()
            .map(|t| unix_ms_of(t, now, refs.now_ms)),
        will,
    }
}

/// The outbound record of a queued delivery.
pub(super) fn outbound_record(
    client_id: &str,
    d: &Delivery,
    message_id: u64,
    state: OutboundState,
) -> OutboundRecord {
    OutboundRecord {
        client_id: client_id.to_string(),
        seq: d.seq,
        message_id,
        qos: u8::from(d.qos),
        retain: d.retain,
        subscription_ids: d.subscription_ids.clone(),
        state,
    }
}

/// The stored subscription of `filter`.
pub(super) fn subscription_record(
    client_id: &str,
    filter: &str,
    r: &SubscriptionRecord,
) -> StoredSubscription {
    StoredSubscription {
        client_id: client_id.to_string(),
        filter: filter.to_string(),
        options: options_byte(&r.options),
        subscription_id: r.id,
    }
}

/// Writes everything a session holds, for a session that becomes persistent while
/// it already has state (resumed by a connection with a longer expiry).
pub(super) fn full_session(
    client_id: &str,
    st: &mut SessionState,
    refs: &mut MessageRefs<'_>,
    now: Instant,
    ops: &mut Vec<StoreOp>,
) {
    ops.push(StoreOp::PutSession(session_record(
        client_id, st, refs, now,
    )));
    for (filter, r) in st.subscriptions.iter() {
        ops.push(StoreOp::PutSubscription(subscription_record(
            client_id, filter, r,
        )));
    }
    let mut next_seq = st.next_seq;
    let (inflight, queued) = st.outbox.snapshot_for_store(|d| {
        if d.seq == 0 {
            next_seq += 1;
            d.seq = next_seq;
        }
    });
    st.next_seq = next_seq;
    for (packet_id, d) in inflight {
        let id = refs.id(&d.message, ops);
        ops.push(StoreOp::PutOutbound(outbound_record(
            client_id,
            &d,
            id,
            OutboundState::Sent {
                packet_id: packet_id.get(),
            },
        )));
    }
    for d in queued {
        let id = refs.id(&d.message, ops);
        ops.push(StoreOp::PutOutbound(outbound_record(
            client_id,
            &d,
            id,
            OutboundState::Queued,
        )));
    }
    for pid in st.incoming_qos2.iter() {
        ops.push(StoreOp::PutIncomingQos2 {
            client_id: client_id.to_string(),
            packet_id: *pid,
        });
    }
}

/// A recovered message in flight, by its stored state.
pub(super) fn inflight_of(state: OutboundState, d: Delivery) -> Option<(PacketId, InflightPhase)> {
    match state {
        OutboundState::Queued => None,
        OutboundState::Sent { packet_id } => {
            PacketId::new(packet_id).map(|id| (id, InflightPhase::Published(d)))
        }
        OutboundState::Released { packet_id } => {
            PacketId::new(packet_id).map(|id| (id, InflightPhase::Released { seq: d.seq }))
        }
    }
}

/// Recovered messages shared by reference, by id.
pub(super) fn messages_by_id(
    stored: &std::collections::BTreeMap<u64, StoredMessage>,
    now: Instant,
    now_ms: u64,
) -> HashMap<u64, Arc<Message>> {
    stored
        .iter()
        .map(|(id, m)| (*id, Arc::new(message_from_stored(m, now, now_ms))))
        .collect()
}

/// The will of a recovered session record.
pub(super) fn will_of(record: &SessionRecord, now: Instant, now_ms: u64) -> Option<WillMessage> {
    record.will.as_ref().map(|(m, delay)| WillMessage {
        message: message_from_stored(m, now, now_ms),
        delay: *delay,
        due: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use mqtt_proto::UserProperty;

    #[test]
    fn options_byte_round_trips() {
        for byte in 0u8..0x30 {
            if byte & 0x03 == 3 || (byte >> 4) == 3 {
                continue;
            }
            assert_eq!(options_byte(&options_of(byte)), byte);
        }
    }

    #[test]
    fn message_round_trips_with_properties_and_expiry() {
        let now = Instant::now();
        let now_ms = unix_ms_now();
        let props = PublishProperties {
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(100),
            response_topic: Some("r/t".into()),
            correlation_data: Some(Bytes::from_static(b"\x00c")),
            content_type: Some("text/plain".into()),
            user_properties: vec![UserProperty::new("a", "1"), UserProperty::new("a", "2")],
            ..Default::default()
        };
        let m = Message::new(
            "x/y".into(),
            Bytes::from_static(b"payload"),
            QoS::ExactlyOnce,
            true,
            props.clone(),
            None,
            now,
        );
        let stored = stored_message(&m, 7, now, now_ms);
        let back = message_from_stored(&stored, now, now_ms);
        assert_eq!(
            (
                back.topic.as_str(),
                &back.payload[..],
                back.qos,
                back.retain
            ),
            ("x/y", &b"payload"[..], QoS::ExactlyOnce, true)
        );
        assert_eq!(back.properties, props);
        assert_eq!(back.store_id.get(), Some(&7));
        let left = back.remaining_expiry(now).unwrap();
        assert!((99..=100).contains(&left), "{left}");
    }
}
