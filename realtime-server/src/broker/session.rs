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

/// A session's subscriptions by their full filter, allocated while not empty (a
/// client that only publishes, the usual sensor, holds 8 bytes instead of an empty
/// 32-byte map). Reads see an empty map; the first change allocates one.
#[derive(Debug, Default)]
#[allow(clippy::box_collection)] // the box is the point: 8 bytes when empty
pub struct Subscriptions(Option<Box<HashMap<Utf8Bytes, SubscriptionRecord, Seeded>>>);

/// What a session without subscriptions reads as.
static NO_SUBSCRIPTIONS: HashMap<Utf8Bytes, SubscriptionRecord, Seeded> =
    HashMap::with_hasher(Seeded);

impl Subscriptions {
    /// Lets go of the map's storage if it is empty (a connection about to park
    /// calls this, as a session whose last subscription went keeps an empty map).
    pub fn release_idle(&mut self) {
        if self.0.as_ref().is_some_and(|m| m.is_empty()) {
            self.0 = None;
        }
    }
}

impl std::ops::Deref for Subscriptions {
    type Target = HashMap<Utf8Bytes, SubscriptionRecord, Seeded>;
    fn deref(&self) -> &Self::Target {
        self.0.as_deref().unwrap_or(&NO_SUBSCRIPTIONS)
    }
}

impl std::ops::DerefMut for Subscriptions {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.0.get_or_insert_default()
    }
}

/// A Will Message waiting for its connection to end (MQTT 5.0 §3.1.2.5).
#[derive(Debug, Clone)]
pub struct WillMessage {
    /// The message to publish.
    pub message: Message,
    /// The Will Delay Interval, seconds.
    pub delay: u32,
    /// When it is due, once its connection has ended abnormally and the delay
    /// runs (here rather than in every session: most sessions have no Will).
    pub due: Option<Instant>,
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
    pub subscriptions: Subscriptions,
    /// Messages to send and in flight.
    pub outbox: Outbox,
    /// Packet identifiers of QoS 2 messages received, PUBREC sent, PUBREL awaited
    /// (the exactly-once state, MQTT-4.3.3-10).
    pub incoming_qos2: PacketIds,
    /// The Will Message of the current (or last) connection (boxed: most clients
    /// have none, and every session would carry its 288 bytes).
    pub will: Option<Box<WillMessage>>,
    /// When the last connection ended, while offline (see
    /// [`SessionState::disconnected_at`]).
    disconnected_at: OptionalInstant,
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

/// An `Option<Instant>` in 8 bytes instead of 16: nanoseconds from a
/// process-wide origin (either side of it), `i64::MIN` for none. Exact for
/// instants within ±292 years of the origin (farther ones saturate). What keeps a
/// [`SessionState`] at 104 bytes and an `Arc<Session>` in glibc's 176-byte step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct OptionalInstant(i64);

impl OptionalInstant {
    const NONE: Self = Self(i64::MIN);

    fn origin() -> Instant {
        static ORIGIN: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
        *ORIGIN.get_or_init(Instant::now)
    }

    fn new(at: Option<Instant>) -> Self {
        let Some(at) = at else {
            return Self::NONE;
        };
        let origin = Self::origin();
        let nanos = |d: std::time::Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        match at.checked_duration_since(origin) {
            Some(after) => Self(nanos(after)),
            None => Self(-nanos(origin.duration_since(at))),
        }
    }

    fn get(self) -> Option<Instant> {
        if self == Self::NONE {
            return None;
        }
        let origin = Self::origin();
        let offset = std::time::Duration::from_nanos(self.0.unsigned_abs());
        Some(if self.0 >= 0 {
            origin.checked_add(offset).unwrap_or(origin)
        } else {
            origin.checked_sub(offset).unwrap_or(origin)
        })
    }
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
                subscriptions: Subscriptions::default(),
                outbox: Outbox::default(),
                incoming_qos2: PacketIds::default(),
                will: None,
                disconnected_at: OptionalInstant::NONE,
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
    /// When the last connection ended, while offline.
    pub fn disconnected_at(&self) -> Option<Instant> {
        self.disconnected_at.get()
    }

    /// Sets (or clears) when the last connection ended.
    pub fn set_disconnected_at(&mut self, at: Option<Instant>) {
        self.disconnected_at = OptionalInstant::new(at);
    }

    /// Wakes the attached connection, if any.
    pub fn wake(&self) {
        if let Some(link) = &self.link {
            link.wake.notify_one();
        }
    }

    /// Lets go of the storage of empty queues and an empty subscription map (a
    /// connection about to park, or a session going offline, calls this).
    pub fn release_idle(&mut self) {
        self.outbox.release_idle();
        self.subscriptions.release_idle();
    }

    /// Whether connection `conn_id` is (still) the one attached.
    pub fn is_attached(&self, conn_id: u64) -> bool {
        self.link.as_ref().is_some_and(|l| l.id == conn_id)
    }
}

#[cfg(test)]
mod size_tests {
    use super::{OptionalInstant, Session, SessionState};
    use std::time::{Duration, Instant};

    /// glibc rounds an allocation plus its 8-byte header up to a 16-byte step: an
    /// `Arc<Session>` (16 bytes of counts + the session) of at most 168 bytes takes
    /// 176, one more byte 192. Every session, online or not, pays it (issue 8:
    /// idle memory per connection).
    #[test]
    fn a_session_fits_its_allocation_step() {
        assert!(std::mem::size_of::<SessionState>() <= 104);
        assert!(std::mem::size_of::<Session>() <= 152);
        assert_eq!(std::mem::size_of::<OptionalInstant>(), 8);
    }

    /// The compact `Option<Instant>` gives back exactly what it was given, before
    /// and after its origin.
    #[test]
    fn optional_instant_round_trips() {
        let now = Instant::now();
        assert_eq!(OptionalInstant::new(None).get(), None);
        for at in [
            now,
            now + Duration::from_nanos(1),
            now + Duration::from_secs(86_400 * 365),
            now.checked_sub(Duration::from_secs(3600)).unwrap_or(now),
            now.checked_sub(Duration::from_nanos(7)).unwrap_or(now),
        ] {
            assert_eq!(OptionalInstant::new(Some(at)).get(), Some(at));
        }
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

#[cfg(test)]
mod subscription_tests {
    use super::{SubscriptionRecord, Subscriptions};
    use mqtt_proto::{SubscriptionOptions, Utf8Bytes};

    /// A session without subscriptions holds no map; reads see an empty one, the
    /// first change allocates, and an emptied map goes at the next release.
    #[test]
    fn subscriptions_hold_memory_only_while_there_are_some() {
        let mut subs = Subscriptions::default();
        assert!(subs.0.is_none() && subs.is_empty() && subs.get("a/b").is_none());
        subs.release_idle();
        assert!(subs.0.is_none());
        let record = SubscriptionRecord {
            options: SubscriptionOptions::default(),
            id: None,
        };
        subs.insert(Utf8Bytes::from_static("a/b"), record.clone());
        assert_eq!(subs.get("a/b"), Some(&record));
        subs.release_idle();
        assert_eq!(subs.len(), 1, "a map in use is kept");
        subs.remove("a/b");
        assert!(subs.0.is_some());
        subs.release_idle();
        assert!(subs.0.is_none() && subs.is_empty());
        assert_eq!(std::mem::size_of::<Subscriptions>(), 8);
    }
}
