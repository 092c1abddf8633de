//! [`Outbox`]: what a session still has to send — the queue of deliveries not yet
//! sent, and the QoS 1/2 messages in flight by packet identifier.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

use mqtt_proto::{PacketId, QoS};

use super::message::Delivery;

/// Bounds of one session's queue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueLimits {
    /// Most deliveries waiting (not in flight).
    pub max_messages: usize,
    /// Most bytes waiting (see [`super::Message::queue_cost`]).
    pub max_bytes: usize,
}

impl Default for QueueLimits {
    fn default() -> Self {
        Self {
            max_messages: 1000,
            max_bytes: 16 * 1024 * 1024,
        }
    }
}

/// Why a delivery was not queued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropCause {
    /// The session's queue is at its message or byte limit.
    QueueFull,
    /// The message expired before it could be sent (MQTT-3.3.2-5).
    Expired,
    /// The session is offline and QoS 0 messages are not queued for it.
    OfflineQos0,
    /// The encoded PUBLISH exceeds the client's Maximum Packet Size (MQTT-3.1.2-25).
    TooLargeForClient,
    /// The subscriber may not read the topic (ACL, checked at delivery).
    NotAuthorized,
    /// All session queues together are at the memory budget
    /// ([`super::BrokerConfig::queue_memory_budget`]).
    MemoryBudget,
}

/// Where an outgoing QoS > 0 message is in its flow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InflightPhase {
    /// PUBLISH sent (or to be resent), waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    Published(Delivery),
    /// QoS 2: PUBREC received and PUBREL sent, waiting for PUBCOMP. The message
    /// itself is no longer needed; `seq` is its durable outbound sequence number.
    Released {
        /// The delivery's [`Delivery::seq`].
        seq: u64,
    },
}

impl PartialEq for Delivery {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.message, &other.message)
            && self.qos == other.qos
            && self.retain == other.retain
            && self.subscription_ids == other.subscription_ids
            && self.shared == other.shared
    }
}

impl Eq for Delivery {}

/// One message in flight.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inflight {
    /// Its packet identifier.
    pub packet_id: PacketId,
    /// Its phase.
    pub phase: InflightPhase,
}

/// What to (re)send for a message in flight after a reconnect (MQTT-4.4.0-1).
#[derive(Debug, Clone)]
pub enum Resend {
    /// A PUBLISH with DUP set and its original packet identifier.
    Publish(PacketId, Delivery),
    /// A PUBREL.
    PubRel(PacketId),
}

/// The result of an acknowledgement from the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AckResult {
    /// The acknowledgement completed the message with this [`Delivery::seq`].
    Done(u64),
    /// PUBREC: the message moved to [`InflightPhase::Released`] (send PUBREL).
    Released(u64),
    /// A repeated PUBREC for a released message (send PUBREL again).
    Repeated,
    /// No message in flight has this packet identifier in this phase.
    Unknown,
}

/// The bytes all session queues hold together, against a budget
/// ([`super::BrokerConfig::queue_memory_budget`]): above 3/4 of it QoS 0
/// deliveries are refused, above it every delivery (cause
/// [`DropCause::MemoryBudget`]).
#[derive(Debug)]
pub struct QueueBudget {
    used: AtomicUsize,
    limit: usize,
}

impl QueueBudget {
    /// A budget of `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            used: AtomicUsize::new(0),
            limit,
        }
    }

    /// Bytes queued now, all sessions together.
    pub fn used(&self) -> usize {
        self.used.load(Ordering::Relaxed)
    }

    /// The budget.
    pub fn limit(&self) -> usize {
        self.limit
    }

    /// Whether `cost` more bytes of a `qos` delivery fit.
    fn admits(&self, cost: usize, qos: QoS) -> bool {
        let limit = if qos == QoS::AtMostOnce {
            self.limit / 4 * 3
        } else {
            self.limit
        };
        self.used().saturating_add(cost) <= limit
    }

    fn add(&self, n: usize) {
        self.used.fetch_add(n, Ordering::Relaxed);
    }

    fn sub(&self, n: usize) {
        let _ = self
            .used
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |u| {
                Some(u.saturating_sub(n))
            });
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if let Some(b) = &self.budget {
            b.sub(self.queued_bytes());
        }
    }
}

/// A session's outgoing messages.
#[derive(Debug, Default)]
pub struct Outbox {
    /// The queues, allocated with the first message and let go of when the
    /// session's connection parks with nothing queued or in flight
    /// ([`Outbox::release_idle`]): an idle session holds 8 bytes, not 104.
    q: Option<Box<Queues>>,
    /// The global queue budget this outbox counts against, once attached.
    budget: Option<Arc<QueueBudget>>,
    last_packet_id: u16,
}

#[derive(Debug, Default)]
struct Queues {
    queue: VecDeque<Delivery>,
    /// In the order they were first sent (MQTT-4.6.0: resent in that order).
    inflight: VecDeque<Inflight>,
    in_use: HashSet<u16, crate::keyed::Seeded>,
    /// Bytes waiting to be sent (the costs of `queue`; here, not in every idle
    /// session's [`Outbox`]: none without a queue).
    bytes: usize,
}

/// What an outbox without queues reads as.
static NO_QUEUES: Queues = Queues {
    queue: VecDeque::new(),
    inflight: VecDeque::new(),
    in_use: HashSet::with_hasher(crate::keyed::Seeded),
    bytes: 0,
};

impl Outbox {
    fn q(&self) -> &Queues {
        self.q.as_deref().unwrap_or(&NO_QUEUES)
    }

    fn q_mut(&mut self) -> &mut Queues {
        self.q.get_or_insert_default()
    }

    /// Lets go of the queues' storage if nothing is queued or in flight (a
    /// connection about to park calls this).
    pub fn release_idle(&mut self) {
        if self
            .q
            .as_ref()
            .is_some_and(|q| q.queue.is_empty() && q.inflight.is_empty() && q.bytes == 0)
        {
            self.q = None;
        }
    }

    /// Deliveries waiting to be sent.
    pub fn queued(&self) -> usize {
        self.q().queue.len()
    }

    /// Bytes waiting to be sent.
    pub fn queued_bytes(&self) -> usize {
        self.q().bytes
    }

    /// Messages in flight.
    pub fn inflight_len(&self) -> usize {
        self.q().inflight.len()
    }

    /// The messages in flight, oldest first.
    pub fn inflight(&self) -> impl Iterator<Item = &Inflight> {
        self.q().inflight.iter()
    }

    /// The deliveries waiting, oldest first.
    pub fn waiting(&self) -> impl Iterator<Item = &Delivery> {
        self.q().queue.iter()
    }

    /// Counts this outbox's queued bytes (now and from now on) against `budget`.
    pub fn attach_budget(&mut self, budget: &Arc<QueueBudget>) {
        if self.budget.is_none() {
            budget.add(self.queued_bytes());
            self.budget = Some(budget.clone());
        }
    }

    fn set_queued_bytes(&mut self, bytes: usize) {
        let before = self.queued_bytes();
        if let Some(b) = &self.budget {
            if bytes > before {
                b.add(bytes - before);
            } else {
                b.sub(before - bytes);
            }
        }
        if bytes != before {
            self.q_mut().bytes = bytes;
        }
    }

    /// Queues `delivery` unless that would pass `limits` or the global budget.
    pub fn push(&mut self, delivery: Delivery, limits: QueueLimits) -> Result<(), DropCause> {
        let cost = delivery.message.queue_cost();
        if self.q().queue.len() >= limits.max_messages
            || self.queued_bytes() + cost > limits.max_bytes
        {
            return Err(DropCause::QueueFull);
        }
        if let Some(b) = &self.budget
            && !b.admits(cost, delivery.qos)
        {
            return Err(DropCause::MemoryBudget);
        }
        self.set_queued_bytes(self.queued_bytes() + cost);
        self.q_mut().queue.push_back(delivery);
        Ok(())
    }

    /// Takes the next delivery to send, if one may be sent now: QoS 0 always, QoS > 0
    /// only while fewer than `window` messages are in flight (Receive Maximum,
    /// MQTT-3.3.4-9). Order is kept: a QoS 0 message behind a QoS 1 message that must
    /// wait waits too (MQTT-4.6.0-6). Expired deliveries are skipped and reported
    /// through `on_drop`.
    pub fn pop_ready(
        &mut self,
        now: Instant,
        window: usize,
        mut on_drop: impl FnMut(DropCause, &Delivery),
    ) -> Option<Delivery> {
        loop {
            let front = self.q().queue.front()?;
            if front.message.is_expired(now) {
                if let Some(d) = self.take_front() {
                    on_drop(DropCause::Expired, &d);
                }
                continue;
            }
            if front.qos != QoS::AtMostOnce && self.q().inflight.len() >= window {
                return None;
            }
            return self.take_front();
        }
    }

    fn take_front(&mut self) -> Option<Delivery> {
        let q = self.q.as_deref_mut()?;
        let d = q.queue.pop_front()?;
        if q.queue.is_empty() {
            // Idle sessions hold no queue memory.
            q.queue = VecDeque::new();
        }
        self.set_queued_bytes(self.queued_bytes().saturating_sub(d.message.queue_cost()));
        Some(d)
    }

    /// Puts a QoS > 0 delivery in flight under a fresh packet identifier, unused by
    /// any other message in flight (MQTT-2.2.1-4).
    pub fn start(&mut self, delivery: Delivery) -> PacketId {
        let packet_id = self.fresh_packet_id();
        let q = self.q_mut();
        q.in_use.insert(packet_id.get());
        q.inflight.push_back(Inflight {
            packet_id,
            phase: InflightPhase::Published(delivery),
        });
        packet_id
    }

    fn fresh_packet_id(&mut self) -> PacketId {
        loop {
            self.last_packet_id = self.last_packet_id.wrapping_add(1);
            if let Some(id) = PacketId::new(self.last_packet_id)
                && !self.q().in_use.contains(&id.get())
            {
                return id;
            }
        }
    }

    fn position(&self, packet_id: PacketId) -> Option<usize> {
        self.q()
            .inflight
            .iter()
            .position(|m| m.packet_id == packet_id)
    }

    fn remove_at(&mut self, pos: usize) -> Option<Inflight> {
        let q = self.q.as_deref_mut()?;
        let m = q.inflight.remove(pos)?;
        q.in_use.remove(&m.packet_id.get());
        if q.inflight.is_empty() {
            q.inflight = VecDeque::new();
            q.in_use = HashSet::default();
        }
        Some(m)
    }

    /// PUBACK for a QoS 1 message: it is done.
    pub fn puback(&mut self, packet_id: PacketId) -> AckResult {
        let Some(pos) = self.position(packet_id) else {
            return AckResult::Unknown;
        };
        match self.q().inflight.get(pos) {
            Some(Inflight {
                phase: InflightPhase::Published(d),
                ..
            }) if d.qos == QoS::AtLeastOnce => {
                let seq = d.seq;
                self.remove_at(pos);
                AckResult::Done(seq)
            }
            _ => AckResult::Unknown,
        }
    }

    /// PUBREC for a QoS 2 message: with a success code it moves to
    /// [`InflightPhase::Released`] (send PUBREL); with an error code (≥ 0x80) the
    /// message is discarded (MQTT-4.8.2-6) and no PUBREL follows.
    pub fn pubrec(&mut self, packet_id: PacketId, success: bool) -> AckResult {
        let Some(pos) = self.position(packet_id) else {
            return AckResult::Unknown;
        };
        let Some(m) = self.q_mut().inflight.get_mut(pos) else {
            return AckResult::Unknown;
        };
        match &m.phase {
            InflightPhase::Published(d) if d.qos == QoS::ExactlyOnce => {
                let seq = d.seq;
                if success {
                    m.phase = InflightPhase::Released { seq };
                    AckResult::Released(seq)
                } else {
                    self.remove_at(pos);
                    AckResult::Done(seq)
                }
            }
            // A repeated PUBREC: answer with PUBREL again.
            InflightPhase::Released { .. } => AckResult::Repeated,
            InflightPhase::Published(_) => AckResult::Unknown,
        }
    }

    /// PUBCOMP for a released QoS 2 message: it is done.
    pub fn pubcomp(&mut self, packet_id: PacketId) -> AckResult {
        let found = self
            .position(packet_id)
            .and_then(|pos| self.q().inflight.get(pos).map(|m| (pos, m.phase.clone())));
        match found {
            Some((pos, InflightPhase::Released { seq })) => {
                self.remove_at(pos);
                AckResult::Done(seq)
            }
            _ => AckResult::Unknown,
        }
    }

    /// Forgets a message just put in flight that turned out not to be sendable
    /// (too large for the client: "behave as if it had completed", MQTT-3.1.2-25);
    /// returns its [`Delivery::seq`].
    pub fn abandon(&mut self, packet_id: PacketId) -> Option<u64> {
        let pos = self.position(packet_id)?;
        match self.remove_at(pos)?.phase {
            InflightPhase::Published(d) => Some(d.seq),
            InflightPhase::Released { seq } => Some(seq),
        }
    }

    /// Gives every QoS > 0 delivery without a durable sequence number one (through
    /// `assign`) and returns copies of what is in flight (published, not released)
    /// and queued at QoS > 0: what a session that becomes persistent must write.
    pub fn snapshot_for_store(
        &mut self,
        mut assign: impl FnMut(&mut Delivery),
    ) -> (Vec<(PacketId, Delivery)>, Vec<Delivery>) {
        let mut inflight = Vec::new();
        let mut queued = Vec::new();
        let Some(q) = self.q.as_deref_mut() else {
            return (inflight, queued);
        };
        for m in &mut q.inflight {
            if let InflightPhase::Published(d) = &mut m.phase {
                assign(d);
                inflight.push((m.packet_id, d.clone()));
            }
        }
        for d in &mut q.queue {
            if d.qos != QoS::AtMostOnce {
                assign(d);
                queued.push(d.clone());
            }
        }
        (inflight, queued)
    }

    /// Restores a queued delivery at start-up (no limits: it was accepted before).
    pub fn restore_queued(&mut self, delivery: Delivery) {
        self.set_queued_bytes(self.queued_bytes() + delivery.message.queue_cost());
        self.q_mut().queue.push_back(delivery);
    }

    /// Restores a message in flight at start-up, with its packet identifier.
    pub fn restore_inflight(&mut self, packet_id: PacketId, phase: InflightPhase) {
        let q = self.q_mut();
        if q.in_use.insert(packet_id.get()) {
            q.inflight.push_back(Inflight { packet_id, phase });
            self.last_packet_id = self.last_packet_id.max(packet_id.get());
        }
    }

    /// What to resend on a new connection to this session, in the original order
    /// (MQTT-4.4.0-1).
    pub fn resend(&self) -> Vec<Resend> {
        self.q()
            .inflight
            .iter()
            .map(|m| match &m.phase {
                InflightPhase::Published(d) => Resend::Publish(m.packet_id, d.clone()),
                InflightPhase::Released { .. } => Resend::PubRel(m.packet_id),
            })
            .collect()
    }

    /// Takes out the deliveries that came through shared subscriptions, to hand
    /// them to another member of their group: the queued ones, and with `inflight`
    /// also QoS 1 messages in flight. QoS 2 messages in flight stay with this
    /// session (MQTT-4.8.2-4/5).
    pub fn take_shared(&mut self, inflight: bool) -> Vec<Delivery> {
        let mut out = Vec::new();
        if inflight {
            let mut i = 0;
            while let Some(m) = self.q().inflight.get(i) {
                match &m.phase {
                    InflightPhase::Published(d)
                        if d.shared.is_some() && d.qos == QoS::AtLeastOnce =>
                    {
                        if let Some(Inflight {
                            phase: InflightPhase::Published(d),
                            ..
                        }) = self.remove_at(i)
                        {
                            out.push(d);
                        }
                    }
                    _ => i += 1,
                }
            }
        }
        if self.q().queue.iter().any(|d| d.shared.is_some()) {
            let (shared, rest): (VecDeque<Delivery>, VecDeque<Delivery>) =
                std::mem::take(&mut self.q_mut().queue)
                    .into_iter()
                    .partition(|d| d.shared.is_some());
            self.q_mut().queue = rest;
            let bytes = self.q().queue.iter().map(|d| d.message.queue_cost()).sum();
            self.set_queued_bytes(bytes);
            out.extend(shared);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::broker::message::Message;
    use bytes::Bytes;
    use mqtt_proto::PublishProperties;
    use std::sync::Arc;
    use std::time::Duration;

    fn delivery(qos: QoS, now: Instant) -> Delivery {
        let m = Message::new(
            "t".into(),
            Bytes::from_static(b"x"),
            qos,
            false,
            PublishProperties::default(),
            None,
            now,
        );
        Delivery {
            message: Arc::new(m),
            qos,
            retain: false,
            subscription_ids: Vec::new(),
            shared: None,
            seq: 0,
        }
    }

    /// An outbox holds its queues only while something is queued or in flight
    /// (or until its connection parks): idle sessions cost 8 bytes for them.
    #[test]
    fn queues_are_let_go_of_when_idle_and_not_before() {
        let now = Instant::now();
        let mut o = Outbox::default();
        assert!(o.q.is_none());
        assert!(o.pop_ready(now, 10, |_, _| {}).is_none());
        assert_eq!(o.puback(PacketId::new(1).unwrap()), AckResult::Unknown);
        assert!(o.q.is_none(), "reading an empty outbox allocates nothing");
        o.push(delivery(QoS::AtLeastOnce, now), QueueLimits::default())
            .unwrap();
        o.push(delivery(QoS::AtMostOnce, now), QueueLimits::default())
            .unwrap();
        let first = o.pop_ready(now, 10, |_, _| {}).unwrap();
        let id = o.start(first);
        o.release_idle();
        assert!(o.q.is_some(), "kept: one queued, one in flight");
        assert!(o.pop_ready(now, 10, |_, _| {}).is_some());
        o.release_idle();
        assert!(o.q.is_some(), "kept: one in flight");
        assert_eq!(o.puback(id), AckResult::Done(0));
        o.release_idle();
        assert!(o.q.is_none());
        assert_eq!((o.queued(), o.inflight_len(), o.queued_bytes()), (0, 0, 0));
    }

    /// MQTT-3.3.4-9: no more than Receive Maximum QoS > 0 messages in flight; QoS 0
    /// messages queued behind a waiting one keep their order (MQTT-4.6.0-6).
    #[test]
    fn mqtt_3_3_4_9_window_and_order() {
        let now = Instant::now();
        let mut o = Outbox::default();
        for qos in [QoS::AtLeastOnce, QoS::AtLeastOnce, QoS::AtMostOnce] {
            o.push(delivery(qos, now), QueueLimits::default()).unwrap();
        }
        let first = o.pop_ready(now, 1, |_, _| {}).unwrap();
        let id = o.start(first);
        // The window of 1 is full: the QoS 1 message waits, and the QoS 0 message
        // behind it waits too.
        assert!(o.pop_ready(now, 1, |_, _| {}).is_none());
        assert_eq!(o.queued(), 2);
        assert_eq!(o.puback(id), AckResult::Done(0));
        assert_eq!(o.puback(id), AckResult::Unknown);
        let second = o.pop_ready(now, 1, |_, _| {}).unwrap();
        assert_eq!(second.qos, QoS::AtLeastOnce);
        o.start(second);
        // Nothing in front of it: QoS 0 goes whatever the window.
        assert_eq!(o.pop_ready(now, 1, |_, _| {}).unwrap().qos, QoS::AtMostOnce);
    }

    /// MQTT-2.2.1-4: packet identifiers in flight are distinct and non-zero, also
    /// across wrap-around.
    #[test]
    fn mqtt_2_2_1_4_fresh_packet_ids_skip_those_in_use() {
        let now = Instant::now();
        let mut o = Outbox::default();
        let stuck = o.start(delivery(QoS::AtLeastOnce, now));
        for _ in 0..70_000 {
            let id = o.start(delivery(QoS::AtLeastOnce, now));
            assert_ne!(id, stuck);
            assert_eq!(o.puback(id), AckResult::Done(0));
        }
        assert_eq!(o.inflight_len(), 1);
    }

    /// MQTT-4.3.3: PUBREC releases, PUBCOMP completes; an error PUBREC discards
    /// (MQTT-4.8.2-6); acks for the wrong QoS are unknown.
    #[test]
    fn qos2_flow() {
        let now = Instant::now();
        let mut o = Outbox::default();
        let a = o.start(delivery(QoS::ExactlyOnce, now));
        let b = o.start(delivery(QoS::ExactlyOnce, now));
        assert_eq!(
            o.puback(a),
            AckResult::Unknown,
            "PUBACK does not complete QoS 2"
        );
        assert_eq!(o.pubcomp(a), AckResult::Unknown, "PUBCOMP before PUBREC");
        assert_eq!(o.pubrec(a, true), AckResult::Released(0));
        assert_eq!(
            o.pubrec(a, true),
            AckResult::Repeated,
            "repeated PUBREC gets PUBREL again"
        );
        assert!(
            matches!(o.resend().as_slice(), [Resend::PubRel(x), Resend::Publish(y, _)] if *x == a && *y == b)
        );
        assert_eq!(o.pubcomp(a), AckResult::Done(0));
        assert_eq!(o.pubrec(b, false), AckResult::Done(0));
        assert_eq!(o.inflight_len(), 0);
    }

    #[test]
    fn limits_and_expiry() {
        let now = Instant::now();
        let mut o = Outbox::default();
        let limits = QueueLimits {
            max_messages: 2,
            max_bytes: 1 << 20,
        };
        o.push(delivery(QoS::AtMostOnce, now), limits).unwrap();
        o.push(delivery(QoS::AtMostOnce, now), limits).unwrap();
        assert_eq!(
            o.push(delivery(QoS::AtMostOnce, now), limits),
            Err(DropCause::QueueFull)
        );
        let tiny = QueueLimits {
            max_messages: 10,
            max_bytes: 10,
        };
        assert_eq!(
            Outbox::default().push(delivery(QoS::AtMostOnce, now), tiny),
            Err(DropCause::QueueFull)
        );

        let mut o = Outbox::default();
        let props = PublishProperties {
            message_expiry_interval: Some(1),
            ..Default::default()
        };
        let m = Message::new(
            "t".into(),
            Bytes::new(),
            QoS::AtMostOnce,
            false,
            props,
            None,
            now,
        );
        o.push(
            Delivery {
                message: Arc::new(m),
                qos: QoS::AtMostOnce,
                retain: false,
                subscription_ids: vec![],
                shared: None,
                seq: 0,
            },
            limits,
        )
        .unwrap();
        let mut dropped = Vec::new();
        assert!(
            o.pop_ready(now + Duration::from_secs(2), 10, |c, _| dropped.push(c))
                .is_none()
        );
        assert_eq!(dropped, [DropCause::Expired]);
        assert_eq!(o.queued_bytes(), 0);
    }
}

#[cfg(test)]
mod shared_tests {
    use super::*;
    use crate::broker::message::Message;
    use bytes::Bytes;
    use mqtt_proto::PublishProperties;
    use std::sync::Arc;

    fn delivery(qos: QoS, shared: bool) -> Delivery {
        let m = Message::new(
            "t".into(),
            Bytes::from_static(b"x"),
            qos,
            false,
            PublishProperties::default(),
            None,
            Instant::now(),
        );
        Delivery {
            message: Arc::new(m),
            qos,
            retain: false,
            subscription_ids: Vec::new(),
            shared: shared.then(|| "$share/g/t".into()),
            seq: 0,
        }
    }

    /// Queued shared deliveries move; in flight, QoS 1 moves and QoS 2 stays
    /// (MQTT-4.8.2-4/5).
    #[test]
    fn take_shared_moves_queued_and_inflight_qos1_only() {
        let mut o = Outbox::default();
        o.start(delivery(QoS::AtLeastOnce, true));
        o.start(delivery(QoS::ExactlyOnce, true));
        o.start(delivery(QoS::AtLeastOnce, false));
        for (qos, shared) in [
            (QoS::AtMostOnce, true),
            (QoS::AtLeastOnce, false),
            (QoS::ExactlyOnce, true),
        ] {
            o.push(delivery(qos, shared), QueueLimits::default())
                .unwrap();
        }
        assert_eq!(o.take_shared(false).len(), 2);
        assert_eq!(o.queued(), 1);
        assert_eq!(o.inflight_len(), 3);
        let moved = o.take_shared(true);
        assert_eq!(moved.len(), 1);
        assert_eq!(moved[0].qos, QoS::AtLeastOnce);
        assert_eq!(o.inflight_len(), 2);
        assert_eq!(
            o.queued_bytes(),
            o.waiting().map(|d| d.message.queue_cost()).sum::<usize>()
        );
    }
}

#[cfg(test)]
mod size_tests {
    /// Every session holds an [`super::Outbox`], idle or not: the queues and their
    /// byte count are allocated only while used (see `a_session_fits_its_allocation_step`).
    #[test]
    fn an_idle_outbox_is_three_words() {
        assert!(std::mem::size_of::<super::Outbox>() <= 24);
    }
}
