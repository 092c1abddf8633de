//! The records the broker persists and the operations that change them.
//!
//! These are data-level: the broker translates its session and QoS state into
//! them; the store neither interprets MQTT nor validates topics, it keeps what it
//! is given and gives it back at start-up ([`Snapshot`]).

use bytes::Bytes;
use std::collections::BTreeMap;

/// A PUBLISH the broker must be able to deliver after a restart. Stored once and
/// referenced by id from outbound records, retained entries and wills.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// Store-wide message id (see [`crate::store::Store::next_message_id`]).
    pub id: u64,
    /// Topic name the message was published to.
    pub topic: String,
    /// Application payload.
    pub payload: Bytes,
    /// QoS the message was published with (0, 1 or 2).
    pub qos: u8,
    /// RETAIN flag as published.
    pub retain: bool,
    /// MQTT 5 PUBLISH properties, encoded as on the wire; opaque to the store.
    pub properties: Bytes,
    /// When the message expires (MQTT 5 Message Expiry Interval), Unix ms.
    pub expiry_at_unix_ms: Option<u64>,
}

/// A persistent session (one whose session expiry interval is not 0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    /// Client identifier; the key of everything belonging to the session.
    pub client_id: String,
    /// Session Expiry Interval in seconds (MQTT 5 §3.1.2.11.2; v3.1.1 clean
    /// session 0 maps to `u32::MAX`, "never").
    pub expiry_interval_secs: u32,
    /// Protocol level of the last connection (4 = 3.1.1, 5 = 5.0).
    pub protocol_version: u8,
    /// When the client disconnected, Unix ms; `None` while connected.
    pub disconnected_at_unix_ms: Option<u64>,
    /// Will message and its Will Delay Interval in seconds. The message is kept
    /// inline here; while the session exists it also counts as a reference to
    /// `will.0.id` for the message reference counts.
    pub will: Option<(StoredMessage, u32)>,
}

/// One subscription of a persistent session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// Owning session.
    pub client_id: String,
    /// Full topic filter as subscribed, including a `$share/{group}/` prefix.
    pub filter: String,
    /// Raw MQTT 5 subscription options byte (QoS, NL, RAP, retain handling).
    pub options: u8,
    /// MQTT 5 Subscription Identifier, if one was given.
    pub subscription_id: Option<u32>,
}

/// Where an outbound (broker to client) message is in its QoS flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboundState {
    /// Not sent yet (offline queue, or beyond the receive maximum).
    Queued,
    /// PUBLISH sent with this packet id, no PUBACK / PUBREC yet.
    Sent {
        /// Packet identifier used for the PUBLISH.
        packet_id: u16,
    },
    /// QoS 2 after PUBREC: only PUBREL / PUBCOMP are left; the message body is
    /// no longer needed by the flow (it stays referenced until the record is deleted).
    Released {
        /// Packet identifier of the flow.
        packet_id: u16,
    },
}

/// One message in a session's outbound queue or in flight to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundRecord {
    /// Receiving session.
    pub client_id: String,
    /// Order within the session; [`Snapshot::outbound`] returns records by it.
    pub seq: u64,
    /// The [`StoredMessage`] to deliver.
    pub message_id: u64,
    /// Delivery QoS (minimum of publish and subscription QoS).
    pub qos: u8,
    /// RETAIN flag to send (retain-as-published / retained delivery).
    pub retain: bool,
    /// Subscription identifiers of the matching subscriptions (MQTT 5).
    pub subscription_ids: Vec<u32>,
    /// Where the flow is.
    pub state: OutboundState,
}

/// One change to the store. A batch of them passed to
/// [`Store::submit`](crate::store::Store::submit) is applied atomically.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreOp {
    /// Creates or replaces a session record.
    PutSession(SessionRecord),
    /// Deletes a session and, with it, its subscriptions, outbound records and
    /// incoming QoS 2 packet ids.
    DeleteSession {
        /// Session to delete.
        client_id: String,
    },
    /// Creates or replaces the subscription (`client_id`, `filter`).
    PutSubscription(SubscriptionRecord),
    /// Deletes a subscription (no-op when absent).
    DeleteSubscription {
        /// Owning session.
        client_id: String,
        /// Filter as given in [`SubscriptionRecord::filter`].
        filter: String,
    },
    /// Stores a message body. It must be referenced (outbound record, retained
    /// entry or will) by the end of the same batch, or it is dropped again.
    PutMessage(StoredMessage),
    /// Creates or replaces the outbound record (`client_id`, `seq`). Its message
    /// must be stored (earlier, or earlier in the same batch).
    PutOutbound(OutboundRecord),
    /// Changes the state of an existing outbound record.
    SetOutboundState {
        /// Receiving session.
        client_id: String,
        /// The record's sequence number.
        seq: u64,
        /// New state.
        state: OutboundState,
    },
    /// Deletes an outbound record (no-op when absent); its message goes when no
    /// longer referenced.
    DeleteOutbound {
        /// Receiving session.
        client_id: String,
        /// The record's sequence number.
        seq: u64,
    },
    /// Records that a QoS 2 PUBLISH with this packet id was received from the
    /// client and PUBREC sent (until PUBREL arrives, MQTT-4.3.3-9).
    PutIncomingQos2 {
        /// Sending session.
        client_id: String,
        /// Packet identifier.
        packet_id: u16,
    },
    /// Forgets an incoming QoS 2 packet id (PUBREL received).
    DeleteIncomingQos2 {
        /// Sending session.
        client_id: String,
        /// Packet identifier.
        packet_id: u16,
    },
    /// Sets the retained message of a topic (replacing the previous one).
    PutRetained {
        /// Topic name.
        topic: String,
        /// A stored message id.
        message_id: u64,
    },
    /// Clears the retained message of a topic (no-op when absent).
    DeleteRetained {
        /// Topic name.
        topic: String,
    },
}

/// Everything the store holds, as read back at start-up by
/// [`Store::load`](crate::store::Store::load).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Sessions, by client id.
    pub sessions: Vec<SessionRecord>,
    /// Subscriptions, by (client id, filter).
    pub subscriptions: Vec<SubscriptionRecord>,
    /// Message bodies referenced by outbound records, retained entries and wills.
    pub messages: BTreeMap<u64, StoredMessage>,
    /// Outbound records, grouped by client id, each session's in `seq` order.
    pub outbound: Vec<OutboundRecord>,
    /// Incoming QoS 2 packet ids awaiting PUBREL, by (client id, packet id).
    pub incoming_qos2: Vec<(String, u16)>,
    /// Retained messages: (topic, message id), by topic.
    pub retained: Vec<(String, u64)>,
    /// Smallest message id greater than every stored one (and than every id
    /// handed out by this store instance).
    pub next_message_id: u64,
}
