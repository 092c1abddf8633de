//! The broker: sessions, routing through the bus, retained messages, wills,
//! expiry. Transport-agnostic and synchronous (short critical sections, no
//! `.await` under a lock); MQTT connections and `/ws` clients both call it.
//!
//! Lock order: session registry → subscription trie / retained store → one
//! session's state. Wills are published after the registry lock is released.

mod flow;
pub mod message;
pub mod outbox;
mod persist;
pub mod pushback;
mod recover;
mod routing;
pub mod session;
mod timers;

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use mqtt_proto::topic;
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode, SubscriptionOptions, Utf8Bytes};
use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::auth::{Auth, Principal};
use crate::bus::{RetainedTrie, SubscriptionTrie};
use crate::metrics::Metrics;
use crate::store::{CommitTicket, Store, StoreError, StoreMode, StoreOp, SubmitError};

pub use flow::{NextDelivery, PublishResult};
pub use message::{Delivery, Message, SessionKey};
pub use outbox::{
    AckResult, DropCause, Inflight, InflightPhase, Outbox, QueueBudget, QueueLimits, Resend,
};
use persist::MessageRefs;
pub use recover::Recovered;
pub use session::{ConnLink, Session, SessionState, SubscriptionRecord, WillMessage};
use timers::{Timer, Timers};

/// How far a batch of state changes got towards the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Nothing to wait for: no store, nothing to write, or a mode whose commits
    /// count as durable at once.
    Done,
    /// Written to the store; durable once this ticket is (`sync` mode).
    Pending(CommitTicket),
    /// The store refused it (failed, closed): do not acknowledge.
    Failed,
}

/// A Session Expiry Interval meaning "never expires" (MQTT 5.0 §3.1.2.11.2).
pub const NEVER_EXPIRES: u32 = u32::MAX;

/// The broker's behaviour and limits. Defaults are documented in the README.
#[derive(Debug, Clone)]
pub struct BrokerConfig {
    /// Limits of each session's queue of undelivered messages.
    pub queue: QueueLimits,
    /// Queue QoS 0 messages for offline persistent sessions (Mosquitto's
    /// `queue_qos0_messages`; default off).
    pub queue_qos0_offline: bool,
    /// The most QoS 1/2 messages the server keeps in flight to one client, whatever
    /// larger Receive Maximum the client allows.
    pub max_inflight: u16,
    /// Receive Maximum announced to v5 clients: how many QoS 1/2 PUBLISH packets a
    /// client may have unacknowledged towards the server.
    pub receive_maximum: u16,
    /// Largest packet accepted from clients (announced as Maximum Packet Size).
    pub max_packet_size: u32,
    /// Topic Alias Maximum announced to v5 clients.
    pub topic_alias_maximum: u16,
    /// Highest QoS accepted and granted.
    pub max_qos: QoS,
    /// Whether retained messages are supported.
    pub retain_available: bool,
    /// Upper bound on a client's Session Expiry Interval, seconds.
    pub max_session_expiry: u32,
    /// Session Expiry Interval given to v3 sessions with Clean Session 0 (v3 has
    /// no expiry: the default is never).
    pub v3_persistent_session_expiry: u32,
    /// Upper bound on the keep-alive a client may ask for, seconds; a client
    /// asking for more (or for 0) gets this as Server Keep Alive (v5). `None`: no bound.
    pub max_keep_alive: Option<u16>,
    /// Most subscriptions per session.
    pub max_subscriptions_per_session: usize,
    /// Most topic levels in a topic name or filter.
    pub max_topic_levels: usize,
    /// Longest topic name or filter, bytes.
    pub max_topic_length: usize,
    /// Bytes all session queues together may hold: above 3/4 of it QoS 0
    /// deliveries are dropped, above it QoS 1/2 too (cause `memory_budget`).
    pub queue_memory_budget: usize,
    /// How long a new connection may take to send CONNECT.
    pub connect_timeout: Duration,
    /// Publish `$SYS/` topics this often (`None`: never).
    pub sys_interval: Option<Duration>,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        Self {
            queue: QueueLimits::default(),
            queue_qos0_offline: false,
            max_inflight: 256,
            receive_maximum: 1024,
            max_packet_size: 1024 * 1024,
            topic_alias_maximum: 64,
            max_qos: QoS::ExactlyOnce,
            retain_available: true,
            max_session_expiry: NEVER_EXPIRES,
            v3_persistent_session_expiry: NEVER_EXPIRES,
            max_keep_alive: None,
            max_subscriptions_per_session: 10_000,
            max_topic_levels: crate::bus::MAX_TOPIC_LEVELS,
            max_topic_length: 4096,
            queue_memory_budget: 1 << 30,
            connect_timeout: Duration::from_secs(10),
            sys_interval: Some(Duration::from_secs(10)),
        }
    }
}

impl BrokerConfig {
    /// Whether a topic name or filter is within the configured length and level
    /// limits ([`BrokerConfig::max_topic_length`], [`BrokerConfig::max_topic_levels`]).
    pub fn topic_within_limits(&self, topic: &str) -> bool {
        topic.len() <= self.max_topic_length
            && topic::levels(topic).count() <= self.max_topic_levels
    }
}

/// What a subscription carries in the trie.
#[derive(Debug, Clone)]
pub struct SubEntry {
    /// The subscribed session.
    pub session: Arc<Session>,
    /// Its options, QoS as granted.
    pub options: SubscriptionOptions,
    /// Its Subscription Identifier.
    pub id: Option<u32>,
    /// The full filter as subscribed (with any `$share/{group}/` prefix).
    pub filter: Utf8Bytes,
}

/// A request to attach a connection to a session.
#[derive(Debug, Clone)]
pub struct ConnectRequest {
    /// The Client Identifier; empty asks the server to assign one.
    pub client_id: Utf8Bytes,
    /// Clean Start (v5) / Clean Session (v3).
    pub clean_start: bool,
    /// Session Expiry Interval asked for, seconds (v3: see
    /// [`BrokerConfig::v3_persistent_session_expiry`]).
    pub expiry_interval: u32,
    /// The protocol version.
    pub version: ProtocolVersion,
    /// The Will, if any.
    pub will: Option<WillMessage>,
    /// Who connects (for ACL checks at delivery); `None` for the in-process
    /// clients of tests and tools.
    pub principal: Option<Arc<Principal>>,
}

/// A connection attached to a session.
#[derive(Debug, Clone)]
pub struct Connected {
    /// The session.
    pub session: Arc<Session>,
    /// The connection's id, for later calls.
    pub conn_id: u64,
    /// Whether an existing session was resumed (Session Present).
    pub session_present: bool,
    /// The identifier the server assigned, for an empty Client Identifier.
    pub assigned_client_id: Option<Utf8Bytes>,
    /// The Session Expiry Interval in force (capped by the server).
    pub expiry_interval: u32,
}

/// How a connection ended, for the Will (MQTT 5.0 §3.1.2.5, §3.14.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// DISCONNECT with reason 0x00: the Will is discarded (MQTT-3.14.4-3).
    Normal,
    /// DISCONNECT with 0x04 (Disconnect with Will Message), or any abnormal end
    /// (network error, keep-alive timeout, protocol error, server shutdown).
    WithWill,
}

/// Why a subscription was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscribeError {
    /// The filter breaks MQTT 5.0 §4.7 / §4.8.2 (0x8F).
    InvalidFilter,
    /// Too many subscriptions for this session (0x97).
    QuotaExceeded,
    /// The session ended meanwhile (0x80).
    SessionEnded,
}

impl SubscribeError {
    /// The SUBACK reason code.
    pub fn reason_code(self) -> ReasonCode {
        match self {
            Self::InvalidFilter => ReasonCode::TopicFilterInvalid,
            Self::QuotaExceeded => ReasonCode::QuotaExceeded,
            Self::SessionEnded => ReasonCode::UnspecifiedError,
        }
    }
}

/// Queue depths summed over sessions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct QueueDepths {
    /// Deliveries waiting in queues.
    pub queued: usize,
    /// Messages in flight.
    pub inflight: usize,
    /// The longest queue.
    pub longest: usize,
}

/// The broker. Share it as `Arc<Broker>`.
#[derive(Debug)]
pub struct Broker {
    config: BrokerConfig,
    sessions: Mutex<crate::keyed::KeyedSet<Session>>,
    subs: RwLock<SubscriptionTrie<SessionKey, SubEntry>>,
    retained: RwLock<RetainedTrie<Arc<Message>>>,
    timers: Mutex<Timers>,
    /// Wakes the timer task when an earlier deadline appears.
    pub timer_wake: Notify,
    next_key: AtomicU64,
    next_conn: AtomicU64,
    id_salt: std::collections::hash_map::RandomState,
    started: Instant,
    store: Option<Store>,
    /// Counters.
    pub metrics: Metrics,
    /// Password file and ACL in force (reloaded on SIGHUP).
    pub auth: Arc<Auth>,
    /// Client registry, webhooks and the authentication webhook (issue 9).
    pub hooks: Arc<crate::hooks::Hooks>,
    /// Bytes queued across every session, against `queue_memory_budget`.
    pub queue_budget: Arc<QueueBudget>,
}

impl Broker {
    /// A broker with `config` and no persistence.
    pub fn new(config: BrokerConfig) -> Self {
        Self::build(config, None)
    }

    /// A broker that persists its durable state in `store` (call
    /// [`Broker::recover`] with the store's snapshot before serving).
    pub fn with_store(config: BrokerConfig, store: Store) -> Self {
        Self::build(config, Some(store))
    }

    fn build(config: BrokerConfig, store: Option<Store>) -> Self {
        Self {
            sessions: Mutex::new(crate::keyed::KeyedSet::new()),
            subs: RwLock::new(SubscriptionTrie::new()),
            retained: RwLock::new(RetainedTrie::new()),
            timers: Mutex::new(Timers::default()),
            timer_wake: Notify::new(),
            next_key: AtomicU64::new(1),
            next_conn: AtomicU64::new(1),
            id_salt: std::collections::hash_map::RandomState::new(),
            started: Instant::now(),
            store,
            metrics: Metrics::default(),
            auth: Arc::new(Auth::default()),
            hooks: Arc::default(),
            queue_budget: Arc::new(QueueBudget::new(config.queue_memory_budget)),
            config,
        }
    }

    /// The durable store, if any.
    pub fn store(&self) -> Option<&Store> {
        self.store.as_ref()
    }

    /// Whether sessions outliving their connection are written to a store.
    fn persists(&self) -> bool {
        self.store.is_some()
    }

    fn message_refs(&self, now: Instant) -> MessageRefs<'_> {
        MessageRefs::new(self.store.as_ref(), now)
    }

    /// Submits a batch of state changes to the store. A store that is full waits
    /// briefly (connections pause reading long before this: `store_backlogged`).
    pub(crate) fn commit(&self, mut ops: Vec<StoreOp>) -> Commit {
        let Some(store) = &self.store else {
            return Commit::Done;
        };
        if ops.is_empty() {
            return Commit::Done;
        }
        let mut waited = Duration::ZERO;
        loop {
            match store.submit(ops) {
                Ok(ticket) if store.mode() == StoreMode::Sync => return Commit::Pending(ticket),
                Ok(_) => return Commit::Done,
                Err(SubmitError {
                    error: StoreError::Backlogged { .. },
                    ops: back,
                }) if waited < Duration::from_secs(30) => {
                    ops = back;
                    std::thread::sleep(Duration::from_millis(1));
                    waited += Duration::from_millis(1);
                }
                Err(SubmitError { error, .. }) => {
                    tracing::error!(%error, "store refused a batch: acknowledgements stop");
                    return Commit::Failed;
                }
            }
        }
    }

    /// Whether the store's queue is full: connections stop reading until it drains.
    pub fn store_backlogged(&self) -> bool {
        self.store.as_ref().is_some_and(Store::is_backlogged)
    }

    /// The configuration.
    pub fn config(&self) -> &BrokerConfig {
        &self.config
    }

    /// When the broker started.
    pub fn started(&self) -> Instant {
        self.started
    }

    /// Number of sessions (online and offline).
    pub fn session_count(&self) -> usize {
        self.sessions.lock().len()
    }

    /// Number of subscriptions.
    pub fn subscription_count(&self) -> usize {
        self.subs.read().len()
    }

    /// Number of retained messages.
    pub fn retained_count(&self) -> usize {
        self.retained.read().len()
    }

    /// The session of `client_id`, if any.
    pub fn session(&self, client_id: &str) -> Option<Arc<Session>> {
        self.sessions.lock().get(client_id).cloned()
    }

    /// A new process-unique connection id (for transports that are bus clients
    /// without MQTT sessions, too).
    pub fn next_conn_id(&self) -> u64 {
        self.next_conn.fetch_add(1, Ordering::Relaxed)
    }

    fn assign_client_id(&self, sessions: &crate::keyed::KeyedSet<Session>) -> Utf8Bytes {
        loop {
            let mut h = self.id_salt.build_hasher();
            h.write_u64(self.next_key.load(Ordering::Relaxed));
            h.write_u128(self.started.elapsed().as_nanos());
            let id = format!("auto-{:016x}", h.finish());
            if !sessions.contains_key(id.as_str()) {
                return Utf8Bytes::from(id);
            }
        }
    }

    /// Attaches a new connection to the session of `req.client_id`: resumes it
    /// (MQTT-3.1.2-5), or discards it and starts a new one on Clean Start
    /// (MQTT-3.1.2-4), or creates it (MQTT-3.1.2-6). A connection already attached
    /// is taken over: it is woken and sees that it no longer owns the session
    /// (MQTT-3.1.4-3). An empty Client Identifier gets a unique assigned one
    /// (MQTT-3.1.3-6, MQTT-3.2.2-16). A session that outlives its connection is
    /// written to the store (MQTT-3.1.2-23).
    pub fn connect(
        &self,
        req: ConnectRequest,
        wake: Arc<crate::conn::ConnWake>,
        now: Instant,
    ) -> Connected {
        let conn_id = self.next_conn_id();
        let expiry_interval = req.expiry_interval.min(self.config.max_session_expiry);
        let link = ConnLink { id: conn_id, wake };
        let mut wills = Vec::new();
        let mut ended = None;
        let mut ops = Vec::new();
        let mut refs = self.message_refs(now);
        let mut sessions = self.sessions.lock();
        let (client_id, assigned) = if req.client_id.is_empty() {
            let id = self.assign_client_id(&sessions);
            (id.clone(), Some(id))
        } else {
            (message::owned_str(&req.client_id), None)
        };
        let existing = sessions.get(&client_id).cloned();
        let resumed = match existing {
            // A session is resumed only by its own user: another user's CONNECT with
            // the same Client Identifier starts a clean session instead.
            Some(session) if !req.clean_start && same_owner(&session, &req) => {
                let mut st = session.lock();
                if let Some(old) = st.link.take() {
                    // Taken over: the old connection's Will goes out now unless it
                    // has a delay, which the new connection cancels (MQTT-3.1.3-9).
                    old.wake.notify_one();
                    st.congestion.release();
                    if let Some(w) = st.will.take()
                        && w.delay == 0
                    {
                        wills.push(w.message);
                    }
                } else {
                    // Reconnected within the Will Delay: no Will (MQTT-3.1.3-9).
                    st.will = None;
                }
                st.set_disconnected_at(None);
                st.link = Some(link.clone());
                st.version = req.version;
                st.expiry_interval = expiry_interval;
                st.will = req.will.clone().map(Box::new);
                let persist = self.persists() && expiry_interval > 0;
                if persist && !st.persistent {
                    persist::full_session(&client_id, &mut st, &mut refs, now, &mut ops);
                } else if persist {
                    ops.push(StoreOp::PutSession(persist::session_record(
                        &client_id, &st, &mut refs, now,
                    )));
                } else if st.persistent {
                    // Resumed with expiry 0: it ends with this connection.
                    ops.push(StoreOp::DeleteSession {
                        client_id: client_id.to_string(),
                    });
                }
                st.persistent = persist;
                st.principal = req.principal.clone();
                drop(st);
                Some(session)
            }
            Some(old) => {
                sessions.remove(&client_id);
                ended = Some(old);
                None
            }
            None => None,
        };
        let (session, session_present) = match resumed {
            Some(s) => (s, true),
            None => {
                let key = self.next_key.fetch_add(1, Ordering::Relaxed);
                // Moved, not cloned: a clone of the freshly copied identifier would
                // allocate a shared header for it (24 bytes a session).
                let s = Arc::new(Session::new(key, client_id, req.version, expiry_interval));
                {
                    let mut st = s.lock();
                    st.link = Some(link);
                    st.will = req.will.clone().map(Box::new);
                    st.persistent = self.persists() && expiry_interval > 0;
                    st.principal = req.principal.clone();
                }
                sessions.insert(s.clone());
                (s, false)
            }
        };
        drop(sessions);
        if let Some(old) = ended {
            // Clean Start discards the old session (MQTT-3.1.2-4); its Will goes out
            // because the session ends (MQTT-3.1.2-8).
            let mut st = old.lock();
            if let Some(prev) = st.link.take() {
                prev.wake.notify_one();
                st.congestion.release();
            }
            let will = st.will.take();
            drop(st);
            wills.extend(self.end_session(&old, will, now, &mut ops));
        }
        if !session_present {
            let st = session.lock();
            if st.persistent {
                ops.push(StoreOp::PutSession(persist::session_record(
                    &session.client_id,
                    &st,
                    &mut refs,
                    now,
                )));
            }
        }
        for w in wills {
            self.publish_inner(Arc::new(w.restamped(now)), now, &mut refs, &mut ops);
        }
        let _ = self.commit(ops);
        Connected {
            session,
            conn_id,
            session_present,
            assigned_client_id: assigned,
            expiry_interval,
        }
    }

    /// The connection `conn_id` of `session` ended. Unless it had been taken over,
    /// the session goes offline: with expiry 0 it ends now, otherwise its expiry
    /// starts (MQTT-3.1.2-23, MQTT-4.1.0-2); the Will is published now, or after
    /// its delay, or dropped on a normal DISCONNECT (MQTT-3.1.2-8/10, MQTT-3.14.4-3).
    ///
    /// `expiry_override` is a Session Expiry Interval sent on DISCONNECT (v5).
    pub fn disconnect(
        &self,
        session: &Arc<Session>,
        conn_id: u64,
        departure: Departure,
        expiry_override: Option<u32>,
        now: Instant,
    ) {
        let mut st = session.lock();
        if !st.is_attached(conn_id) {
            return;
        }
        let mut ops = Vec::new();
        let mut refs = self.message_refs(now);
        st.link = None;
        st.congestion.release();
        st.set_disconnected_at(Some(now));
        if let Some(e) = expiry_override {
            st.expiry_interval = e.min(self.config.max_session_expiry);
        }
        let will = match departure {
            Departure::Normal => {
                st.will = None;
                None
            }
            Departure::WithWill => st.will.take(),
        };
        let expiry = st.expiry_interval;
        if expiry == 0 {
            drop(st);
            for w in self.end_session(session, will, now, &mut ops) {
                self.publish_inner(Arc::new(w.restamped(now)), now, &mut refs, &mut ops);
            }
            let _ = self.commit(ops);
            return;
        }
        let mut publish_now = None;
        let mut timers = Vec::new();
        if let Some(mut w) = will {
            if w.delay == 0 {
                publish_now = Some(w.message);
            } else {
                let due = now + Duration::from_secs(u64::from(w.delay.min(expiry)));
                w.due = Some(due);
                st.will = Some(w);
                timers.push((due, Timer::Will));
            }
        }
        if expiry != NEVER_EXPIRES {
            timers.push((now + Duration::from_secs(u64::from(expiry)), Timer::Expiry));
        }
        if st.persistent {
            ops.push(StoreOp::PutSession(persist::session_record(
                &session.client_id,
                &st,
                &mut refs,
                now,
            )));
        }
        // Messages queued for shared subscriptions go to another member now
        // (MQTT 5.0 §4.8.2 allows it as soon as the connection is lost).
        let moved = st.outbox.take_shared(false);
        forget_outbound(&session.client_id, &st, &moved, &mut ops);
        // An offline session with nothing left pending holds no queue storage.
        st.release_idle();
        drop(st);
        self.redistribute(session.key, moved, now, &mut refs, &mut ops);
        self.schedule(session, timers);
        if let Some(m) = publish_now {
            self.publish_inner(Arc::new(m.restamped(now)), now, &mut refs, &mut ops);
        }
        let _ = self.commit(ops);
    }

    fn schedule(&self, session: &Arc<Session>, timers: Vec<(Instant, Timer)>) {
        if timers.is_empty() {
            return;
        }
        let mut t = self.timers.lock();
        let before = t.next_deadline();
        for (due, kind) in timers {
            t.add(due, kind, session.clone());
        }
        if t.next_deadline() < before || before.is_none() {
            self.timer_wake.notify_one();
        }
    }

    /// Ends a session: unregisters it, removes its subscriptions and its record,
    /// hands its shared subscription messages to other members; returns Wills to
    /// publish (the given one and any pending delayed Will: the session ending
    /// makes it due).
    fn end_session(
        &self,
        session: &Arc<Session>,
        will: Option<Box<WillMessage>>,
        now: Instant,
        ops: &mut Vec<StoreOp>,
    ) -> Vec<Message> {
        {
            self.sessions
                .lock()
                .remove_if(&session.client_id, |s| Arc::ptr_eq(s, session));
        }
        let mut st = session.lock();
        st.ended = true;
        let subs: Vec<Utf8Bytes> = st.subscriptions.drain().map(|(f, _)| f).collect();
        let mut wills: Vec<Message> = will.into_iter().map(|w| w.message).collect();
        if let Some(w) = st.will.take()
            && w.due.is_some()
        {
            wills.push(w.message);
        }
        let moved = st.outbox.take_shared(true);
        st.outbox = Outbox::default();
        st.incoming_qos2.clear();
        if st.persistent {
            // Cascades to subscriptions, queued and in-flight records.
            ops.push(StoreOp::DeleteSession {
                client_id: session.client_id.to_string(),
            });
            st.persistent = false;
        }
        drop(st);
        {
            let mut trie = self.subs.write();
            for filter in &subs {
                let (group, inner) = split_shared(filter);
                trie.remove(inner, group, session.key);
            }
        }
        let mut refs = self.message_refs(now);
        self.redistribute(session.key, moved, now, &mut refs, ops);
        wills
    }

    /// Runs due timers (delayed Wills, session expiry); returns the next deadline.
    pub fn tick(&self, now: Instant) -> Option<Instant> {
        let due = self.timers.lock().take_due(now);
        let mut ops = Vec::new();
        let mut refs = self.message_refs(now);
        for (kind, session) in due {
            let mut st = session.lock();
            if st.ended || st.link.is_some() {
                continue;
            }
            match kind {
                Timer::Will => {
                    if st
                        .will
                        .as_ref()
                        .is_some_and(|w| w.due.is_some_and(|d| d <= now))
                    {
                        if let Some(w) = st.will.take() {
                            if st.persistent {
                                ops.push(StoreOp::PutSession(persist::session_record(
                                    &session.client_id,
                                    &st,
                                    &mut refs,
                                    now,
                                )));
                            }
                            drop(st);
                            self.publish_inner(
                                Arc::new(w.message.restamped(now)),
                                now,
                                &mut refs,
                                &mut ops,
                            );
                        }
                    }
                }
                Timer::Expiry => {
                    let expired = st.disconnected_at().is_some_and(|at| {
                        st.expiry_interval != NEVER_EXPIRES
                            && now >= at + Duration::from_secs(u64::from(st.expiry_interval))
                    });
                    if expired {
                        drop(st);
                        // MQTT-4.1.0-2: the session state is discarded.
                        for w in self.end_session(&session, None, now, &mut ops) {
                            self.publish_inner(
                                Arc::new(w.restamped(now)),
                                now,
                                &mut refs,
                                &mut ops,
                            );
                        }
                    }
                }
            }
        }
        let _ = self.commit(ops);
        self.timers.lock().next_deadline()
    }

    /// Discards the offline session of `client_id` (the HTTP API's session
    /// removal): its subscriptions, queue and durable record; a pending delayed
    /// Will is published, as when a session ends (MQTT-3.1.2-8). `None`: no such
    /// session; `Some(false)`: a client is connected to it (disconnect it first).
    pub fn remove_session(&self, client_id: &str, now: Instant) -> Option<bool> {
        let session = self.session(client_id)?;
        if session.is_online() {
            return Some(false);
        }
        let mut ops = Vec::new();
        let mut refs = self.message_refs(now);
        for w in self.end_session(&session, None, now, &mut ops) {
            self.publish_inner(Arc::new(w.restamped(now)), now, &mut refs, &mut ops);
        }
        let _ = self.commit(ops);
        Some(true)
    }

    /// Deletes the retained message of `topic` (the HTTP API), as an empty
    /// retained PUBLISH would (MQTT-3.3.1-6) but without routing anything;
    /// returns whether there was one.
    pub fn delete_retained(&self, topic: &str) -> bool {
        let existed = self.retained.write().remove(topic).is_some();
        if existed && self.persists() && persist::persists_retained(topic) {
            let _ = self.commit(vec![StoreOp::DeleteRetained {
                topic: topic.to_string(),
            }]);
        }
        existed
    }

    /// Every retained message matching `filter` (for the HTTP API and tests).
    pub fn retained_matching(&self, filter: &str) -> Vec<Arc<Message>> {
        let mut out = Vec::new();
        self.retained
            .read()
            .for_each_match(filter, |_, m| out.push(m.clone()));
        out
    }

    /// Queue depths across every session (for `/metrics`; locks each session
    /// briefly).
    pub fn queue_depths(&self) -> QueueDepths {
        let mut d = QueueDepths::default();
        for session in self.sessions() {
            let st = session.lock();
            d.queued += st.outbox.queued();
            d.inflight += st.outbox.inflight_len();
            d.longest = d.longest.max(st.outbox.queued());
        }
        d
    }

    /// Every session, online and offline.
    pub fn sessions(&self) -> Vec<Arc<Session>> {
        self.sessions.lock().values().cloned().collect()
    }
}

/// Deletes the durable records of deliveries taken out of a persistent session.
fn forget_outbound(client_id: &str, st: &SessionState, taken: &[Delivery], ops: &mut Vec<StoreOp>) {
    if st.persistent {
        for d in taken.iter().filter(|d| d.seq != 0) {
            ops.push(StoreOp::DeleteOutbound {
                client_id: client_id.to_string(),
                seq: d.seq,
            });
        }
    }
}

/// Whether `req` comes from the user the session belongs to (sessions restored
/// without a known owner are resumed by anyone who may use the Client Identifier).
fn same_owner(session: &Session, req: &ConnectRequest) -> bool {
    let st = session.lock();
    match (&st.principal, &req.principal) {
        (Some(old), Some(new)) => old.user == new.user,
        _ => true,
    }
}

/// Splits `$share/{group}/{filter}` into its parts; other filters have no group.
fn split_shared(filter: &str) -> (Option<&str>, &str) {
    match topic::parse_shared(filter) {
        Ok(Some(s)) => (Some(s.group), s.filter),
        _ => (None, filter),
    }
}
