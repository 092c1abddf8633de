//! [`Session`]: the state the server keeps for one Client Identifier, which can
//! outlive its connections (MQTT 5.0 §4.1).

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Instant;

use mqtt_proto::{ProtocolVersion, SubscriptionOptions, Utf8Bytes};
use parking_lot::Mutex;

use super::message::{Message, SessionKey};
use super::outbox::Outbox;
use crate::keyed::Seeded;

/// The connection currently attached to a session.
#[derive(Debug, Clone)]
pub struct ConnLink {
    /// The connection's id (unique per process).
    pub id: u64,
    /// Wakes the connection's driver when something is ready for it.
    pub wake: Arc<crate::conn::ConnWake>,
}

/// One subscription as the session remembers it (for UNSUBSCRIBE, persistence and
/// Retain Handling 1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubscriptionRecord {
    /// The options as granted (QoS already capped to the server's maximum).
    pub options: SubscriptionOptions,
    /// The Subscription Identifier, if the SUBSCRIBE carried one.
    pub id: Option<u32>,
}

/// A set of packet identifiers, allocated while not empty (most sessions never
/// receive a QoS 2 message: 8 bytes each instead of an empty 32-byte set).
#[derive(Debug, Default)]
#[allow(clippy::box_collection)] // the box is the point: 8 bytes when empty
pub struct PacketIds(Option<Box<HashSet<u16, Seeded>>>);

impl PacketIds {
    /// Adds `id`; `false` if it was there.
    pub fn insert(&mut self, id: u16) -> bool {
        self.0.get_or_insert_default().insert(id)
    }

    /// Removes `id`; whether it was there.
    pub fn remove(&mut self, id: &u16) -> bool {
        let Some(set) = &mut self.0 else {
            return false;
        };
        let removed = set.remove(id);
        if set.is_empty() {
            self.0 = None;
        }
        removed
    }

    /// Whether `id` is in the set.
    pub fn contains(&self, id: &u16) -> bool {
        self.0.as_ref().is_some_and(|s| s.contains(id))
    }

    /// How many there are.
    pub fn len(&self) -> usize {
        self.0.as_ref().map_or(0, |s| s.len())
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes them all.
    pub fn clear(&mut self) {
        self.0 = None;
    }

    /// The identifiers, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = &u16> {
        self.0.iter().flat_map(|s| s.iter())
    }
}

/// A Will Message waiting for its connection to end (MQTT 5.0 §3.1.2.5).
#[derive(Debug, Clone)]
pub struct WillMessage {
    /// The message to publish.
    pub message: Message,
    /// The Will Delay Interval, seconds.
    pub delay: u32,
}

/// Everything mutable about a session, behind one lock.
#[derive(Debug)]
pub struct SessionState {
    /// The attached connection, if online.
    pub link: Option<ConnLink>,
    /// Set once the session is discarded (clean start, expiry): connections that
    /// still hold it must close.
    pub ended: bool,
    /// The protocol version of the latest connection.
    pub version: ProtocolVersion,
    /// Session Expiry Interval, seconds (`u32::MAX`: never).
    pub expiry_interval: u32,
    /// Subscriptions by their full filter (including any `$share/{group}/`).
    pub subscriptions: HashMap<Utf8Bytes, SubscriptionRecord, Seeded>,
    /// Messages to send and in flight.
    pub outbox: Outbox,
    /// Packet identifiers of QoS 2 messages received, PUBREC sent, PUBREL awaited
    /// (the exactly-once state, MQTT-4.3.3-10).
    pub incoming_qos2: PacketIds,
    /// The Will Message of the current (or last) connection (boxed: most clients
    /// have none, and every session would carry its 288 bytes).
    pub will: Option<Box<WillMessage>>,
    /// When the Will is due, after an abnormal disconnect with a Will Delay.
    pub will_due: Option<Instant>,
    /// When the last connection ended, while offline.
    pub disconnected_at: Option<Instant>,
    /// Whether the durable store holds a record of this session (it outlives its
    /// connection and the broker has a store).
    pub persistent: bool,
    /// The last sequence number given to a persisted delivery.
    pub next_seq: u64,
    /// Who the latest connection authenticated as (ACL checks at delivery).
    pub principal: Option<Arc<crate::auth::Principal>>,
    /// Publishers held back by this session's full queue.
    pub congestion: super::pushback::Congestion,
}

/// A session: its identity and its state.
#[derive(Debug)]
pub struct Session {
    /// The process-unique key of this session incarnation.
    pub key: SessionKey,
    /// The Client Identifier.
    pub client_id: Utf8Bytes,
    state: Mutex<SessionState>,
}

impl crate::keyed::Keyed for Session {
    fn key(&self) -> &str {
        self.client_id.as_str()
    }
}

impl Session {
    /// A new, empty, offline session.
    pub fn new(
        key: SessionKey,
        client_id: Utf8Bytes,
        version: ProtocolVersion,
        expiry_interval: u32,
    ) -> Self {
        Self {
            key,
            client_id,
            state: Mutex::new(SessionState {
                link: None,
                ended: false,
                version,
                expiry_interval,
                subscriptions: HashMap::default(),
                outbox: Outbox::default(),
                incoming_qos2: PacketIds::default(),
                will: None,
                will_due: None,
                disconnected_at: None,
                persistent: false,
                next_seq: 0,
                principal: None,
                congestion: Default::default(),
            }),
        }
    }

    /// Locks the state. Never hold this lock while taking the broker's trie or
    /// registry locks (lock order: registry → trie → session).
    pub fn lock(&self) -> parking_lot::MutexGuard<'_, SessionState> {
        self.state.lock()
    }

    /// Whether a connection is attached.
    pub fn is_online(&self) -> bool {
        self.state.lock().link.is_some()
    }
}

impl SessionState {
    /// Wakes the attached connection, if any.
    pub fn wake(&self) {
        if let Some(link) = &self.link {
            link.wake.notify_one();
        }
    }

    /// Whether connection `conn_id` is (still) the one attached.
    pub fn is_attached(&self, conn_id: u64) -> bool {
        self.link.as_ref().is_some_and(|l| l.id == conn_id)
    }
}

#[cfg(test)]
mod packet_id_tests {
    use super::PacketIds;

    /// The QoS 2 exactly-once state (MQTT-4.3.3-10): a packet id is known from its
    /// PUBLISH to its PUBREL; the set holds memory only while one is.
    #[test]
    fn packet_ids_hold_memory_only_while_not_empty() {
        let mut ids = PacketIds::default();
        assert!(ids.is_empty() && ids.0.is_none());
        assert!(!ids.remove(&1));
        assert!(ids.insert(1));
        assert!(!ids.insert(1), "a duplicate PUBLISH");
        assert!(ids.insert(65535));
        assert!(ids.contains(&65535) && ids.len() == 2);
        let mut all: Vec<u16> = ids.iter().copied().collect();
        all.sort_unstable();
        assert_eq!(all, [1, 65535]);
        assert!(ids.remove(&1) && ids.remove(&65535));
        assert!(ids.0.is_none(), "emptied: let go of");
        ids.insert(7);
        ids.clear();
        assert!(ids.is_empty() && ids.iter().next().is_none());
    }
}
