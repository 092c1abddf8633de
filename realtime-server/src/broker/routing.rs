//! Publishing and subscribing: the retained store, routing through the
//! subscription trie, and queueing deliveries (with their durable records).

use std::sync::Arc;
use std::time::Instant;

use mqtt_proto::{QoS, RetainHandling, SubscriptionOptions, Utf8Bytes, topic};

use super::Session;
use super::message::owned_str;
use super::persist::{self, MessageRefs};
use super::{
    Broker, Delivery, DropCause, Message, SessionKey, SubEntry, SubscribeError, SubscriptionRecord,
    split_shared,
};
use crate::bus::TrieMatch;
use crate::store::{OutboundState, StoreOp};

impl Broker {
    /// Accepts an Application Message: updates the retained store
    /// (MQTT-3.3.1-5..8) and queues it for every matching subscription; returns
    /// how many sessions it was queued for. Durable effects are committed; use
    /// [`Broker::publish_from`] when the publisher must wait for them.
    pub fn publish(&self, message: Message, now: Instant) -> usize {
        let mut ops = Vec::new();
        let mut refs = self.message_refs(now);
        let n = self.publish_inner(Arc::new(message), now, &mut refs, &mut ops);
        let _ = self.commit(ops);
        n
    }

    /// [`Broker::publish`] collecting the store operations in `ops`.
    pub(super) fn publish_inner(
        &self,
        message: Arc<Message>,
        now: Instant,
        refs: &mut MessageRefs<'_>,
        ops: &mut Vec<StoreOp>,
    ) -> usize {
        self.hooks.published(&message);
        if message.retain && self.config.retain_available {
            let mut retained = self.retained.write();
            let durable = self.persists() && persist::persists_retained(&message.topic);
            if message.payload.is_empty() {
                // MQTT-3.3.1-6/7: an empty retained message deletes and is not stored.
                if retained.remove(&message.topic).is_some() && durable {
                    ops.push(StoreOp::DeleteRetained {
                        topic: message.topic.to_string(),
                    });
                }
            } else {
                // Kept for long: its own allocation, not a slice of a read buffer.
                let kept = Arc::new(message.compacted());
                match retained.set(&message.topic, kept.clone()) {
                    Ok(_) if durable => {
                        let id = refs.id(&kept, ops);
                        ops.push(StoreOp::PutRetained {
                            topic: message.topic.to_string(),
                            message_id: id,
                        });
                    }
                    Ok(_) => {}
                    Err(err) => {
                        tracing::debug!(%err, topic = %message.topic.as_str(), "retained message not stored")
                    }
                }
            }
        }
        let n = self.route(&message, now, refs, ops);
        if n == 0 {
            self.metrics.unrouted.inc();
        }
        n
    }

    /// Queues `message` for every matching subscription (MQTT-4.5.0-1): one
    /// delivery per session with the highest matching QoS and every Subscription
    /// Identifier (MQTT-3.3.4-2..4), No Local honoured (MQTT-3.8.3-3), one member
    /// per shared group (MQTT 5.0 §4.8.2).
    fn route(
        &self,
        message: &Arc<Message>,
        now: Instant,
        refs: &mut MessageRefs<'_>,
        ops: &mut Vec<StoreOp>,
    ) -> usize {
        let trie = self.subs.read();
        let mut plain: Vec<(SessionKey, &SubEntry)> = Vec::new();
        let mut shared = Vec::new();
        trie.for_each_match(&message.topic, |m| match m {
            TrieMatch::Plain(key, entry) => {
                if !(entry.options.no_local && message.publisher == Some(*key)) {
                    plain.push((*key, entry));
                }
            }
            TrieMatch::Shared(group) => shared.push(group),
        });
        let mut count = 0;
        if plain.len() > 1 {
            plain.sort_unstable_by_key(|(k, _)| *k);
        }
        for same in plain.chunk_by(|a, b| a.0 == b.0) {
            let Some((_, first)) = same.first() else {
                continue;
            };
            let mut qos = QoS::AtMostOnce;
            let mut retain = false;
            let mut ids = Vec::new();
            for (_, e) in same {
                qos = qos.max(e.options.qos.min(message.qos));
                retain |= e.options.retain_as_published && message.retain;
                ids.extend(e.id);
            }
            let delivery = Delivery {
                message: message.clone(),
                qos,
                retain,
                subscription_ids: ids,
                shared: None,
                seq: 0,
            };
            if self.deliver(&first.session, delivery, refs, ops) {
                count += 1;
            }
        }
        for group in shared {
            // Prefer a member that is online; an offline persistent member queues.
            let pick = group
                .rotation()
                .find(|(_, e)| e.session.is_online())
                .or_else(|| group.members().first());
            if let Some((_, e)) = pick {
                let delivery = Delivery {
                    message: message.clone(),
                    qos: e.options.qos.min(message.qos),
                    retain: e.options.retain_as_published && message.retain,
                    subscription_ids: e.id.into_iter().collect(),
                    shared: Some(e.filter.clone()),
                    seq: 0,
                };
                if self.deliver(&e.session, delivery, refs, ops) {
                    count += 1;
                }
            }
        }
        let _ = now;
        count
    }

    /// Queues one delivery for one session (recording it if the session is
    /// persistent and the QoS > 0) and wakes its connection.
    pub(super) fn deliver(
        &self,
        session: &Session,
        mut delivery: Delivery,
        refs: &mut MessageRefs<'_>,
        ops: &mut Vec<StoreOp>,
    ) -> bool {
        let mut st = session.lock();
        if st.ended {
            return false;
        }
        // Read rights are checked here, at delivery: a subscription to `#` does not
        // receive what its client may not read.
        if let Some(p) = &st.principal
            && !self.auth.allows(
                p,
                session.client_id.as_str(),
                crate::auth::Access::Read,
                &delivery.message.topic,
            )
        {
            self.metrics.drop_of(DropCause::NotAuthorized).inc();
            tracing::debug!(client_id = %session.client_id.as_str(), user = p.user_label(), topic = %delivery.message.topic.as_str(), "not delivered: no read right");
            return false;
        }
        if st.link.is_none() && delivery.qos == QoS::AtMostOnce && !self.config.queue_qos0_offline {
            self.metrics.drop_of(DropCause::OfflineQos0).inc();
            return false;
        }
        let durable = st.persistent && delivery.qos != QoS::AtMostOnce;
        if durable {
            st.next_seq += 1;
            delivery.seq = st.next_seq;
        }
        let record = durable.then(|| (delivery.clone(), delivery.message.clone()));
        st.outbox.attach_budget(&self.queue_budget);
        match st.outbox.push(delivery, self.config.queue) {
            Ok(()) => {
                if let Some((d, m)) = record {
                    let id = refs.id(&m, ops);
                    ops.push(StoreOp::PutOutbound(persist::outbound_record(
                        &session.client_id,
                        &d,
                        id,
                        OutboundState::Queued,
                    )));
                }
                st.wake();
                // Back-pressure on the publisher (not on itself: it drains its own
                // queue whatever it reads).
                if let Some(waker) = refs.publisher_wake
                    && st
                        .link
                        .as_ref()
                        .is_some_and(|l| !Arc::ptr_eq(&l.wake, waker))
                {
                    let queued = st.outbox.queued();
                    let max = self.config.queue.max_messages;
                    if st.congestion.on_push(queued, max, waker, refs.now()) {
                        refs.congested = true;
                    }
                }
                true
            }
            Err(cause) => {
                self.metrics.drop_of(cause).inc();
                tracing::debug!(client_id = %session.client_id.as_str(), ?cause, "message dropped for subscriber");
                false
            }
        }
    }

    /// Hands deliveries of shared subscriptions taken from a departing member to
    /// other members of their groups.
    pub(super) fn redistribute(
        &self,
        from: SessionKey,
        moved: Vec<Delivery>,
        now: Instant,
        refs: &mut MessageRefs<'_>,
        ops: &mut Vec<StoreOp>,
    ) {
        if moved.is_empty() {
            return;
        }
        let trie = self.subs.read();
        for d in moved {
            let Some(full_filter) = d.shared.clone() else {
                continue;
            };
            let (Some(group), inner) = split_shared(&full_filter) else {
                continue;
            };
            let Some(g) = trie.shared_group(inner, group) else {
                continue;
            };
            let pick = g
                .rotation()
                .filter(|(k, _)| *k != from)
                .find(|(_, e)| e.session.is_online())
                .or_else(|| g.members().iter().find(|(k, _)| *k != from));
            if let Some((_, e)) = pick {
                if d.message.is_expired(now) {
                    continue;
                }
                let delivery = Delivery {
                    qos: e.options.qos.min(d.message.qos),
                    subscription_ids: e.id.into_iter().collect(),
                    shared: Some(e.filter.clone()),
                    seq: 0,
                    ..d
                };
                self.deliver(&e.session, delivery, refs, ops);
            }
        }
    }

    /// Subscribes `session` to `filter` with `options` (QoS capped to the server's
    /// maximum, MQTT-3.2.2-9); replaces an identical subscription (MQTT-3.8.4-3).
    /// Matching retained messages are queued according to Retain Handling
    /// (MQTT-3.3.1-9..11; none for shared subscriptions, MQTT 5.0 §4.8.2). Returns
    /// the granted QoS.
    pub fn subscribe(
        &self,
        session: &Arc<Session>,
        filter: &Utf8Bytes,
        mut options: SubscriptionOptions,
        id: Option<u32>,
        now: Instant,
    ) -> Result<QoS, SubscribeError> {
        let (group, inner) = match topic::parse_shared(filter) {
            Ok(Some(s)) => (Some(s.group), s.filter),
            Ok(None) => (None, filter.as_str()),
            Err(_) => return Err(SubscribeError::InvalidFilter),
        };
        // `max_topic_length` bounds filters as it bounds names (SUBACK 0x8F).
        if topic::validate_filter(inner).is_err() || !self.config.topic_within_limits(inner) {
            return Err(SubscribeError::InvalidFilter);
        }
        options.qos = options.qos.min(self.config.max_qos);
        let filter = &owned_str(filter);
        let mut ops = Vec::new();
        let record = SubscriptionRecord { options, id };
        let existed = {
            let mut st = session.lock();
            if st.ended {
                return Err(SubscribeError::SessionEnded);
            }
            let existed = st.subscriptions.contains_key(filter);
            if !existed && st.subscriptions.len() >= self.config.max_subscriptions_per_session {
                return Err(SubscribeError::QuotaExceeded);
            }
            if st.persistent {
                ops.push(StoreOp::PutSubscription(persist::subscription_record(
                    &session.client_id,
                    filter,
                    &record,
                )));
            }
            st.subscriptions.insert(filter.clone(), record);
            existed
        };
        let entry = SubEntry {
            session: session.clone(),
            options,
            id,
            filter: filter.clone(),
        };
        if self
            .subs
            .write()
            .insert(inner, group, session.key, entry)
            .is_err()
        {
            session.lock().subscriptions.remove(filter);
            return Err(SubscribeError::InvalidFilter);
        }
        let send_retained = group.is_none()
            && match options.retain_handling {
                RetainHandling::SendAtSubscribe => true,
                RetainHandling::SendIfNew => !existed,
                RetainHandling::DoNotSend => false,
            };
        let mut refs = self.message_refs(now);
        if send_retained {
            let mut found = Vec::new();
            self.retained.read().for_each_match(inner, |_, m| {
                if !m.is_expired(now) {
                    found.push(m.clone());
                }
            });
            for m in found {
                let delivery = Delivery {
                    qos: options.qos.min(m.qos),
                    message: m,
                    // MQTT-3.3.1-9: retained messages sent on subscribe carry RETAIN 1.
                    retain: true,
                    subscription_ids: id.into_iter().collect(),
                    shared: None,
                    seq: 0,
                };
                self.deliver(session, delivery, &mut refs, &mut ops);
            }
        }
        let _ = self.commit(ops);
        Ok(options.qos)
    }

    /// Removes the subscription of `session` to exactly `filter`
    /// (MQTT-3.10.4-1/2); returns whether it existed.
    pub fn unsubscribe(&self, session: &Arc<Session>, filter: &str) -> bool {
        let mut ops = Vec::new();
        let existed = {
            let mut st = session.lock();
            let existed = st.subscriptions.remove(filter).is_some();
            if existed && st.persistent {
                ops.push(StoreOp::DeleteSubscription {
                    client_id: session.client_id.to_string(),
                    filter: filter.to_string(),
                });
            }
            existed
        };
        if existed {
            let (group, inner) = split_shared(filter);
            self.subs.write().remove(inner, group, session.key);
            let _ = self.commit(ops);
        }
        existed
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use mqtt_proto::{ProtocolVersion, SubscriptionOptions, Utf8Bytes};

    use crate::broker::{Broker, BrokerConfig, ConnectRequest, SubscribeError};

    /// `broker.max_topic_length` and `max_topic_levels` bound Topic Filters as
    /// they bound Topic Names (docs/security.md: v5 SUBACK 0x8F); a shared
    /// subscription is measured without its `$share/{group}/` prefix.
    #[test]
    fn filters_over_the_topic_limits_are_refused() {
        let broker = Broker::new(BrokerConfig {
            max_topic_length: 8,
            max_topic_levels: 3,
            ..BrokerConfig::default()
        });
        let now = Instant::now();
        let req = ConnectRequest {
            client_id: Utf8Bytes::from_static("c"),
            clean_start: true,
            expiry_interval: 0,
            version: ProtocolVersion::V5,
            will: None,
            principal: None,
        };
        let session = broker
            .connect(req, Arc::new(crate::conn::ConnWake::new()), now)
            .session;
        let sub = |filter: &'static str| {
            broker.subscribe(
                &session,
                &Utf8Bytes::from_static(filter),
                SubscriptionOptions::default(),
                None,
                now,
            )
        };
        assert!(sub("abcd/+/x").is_ok(), "8 bytes, 3 levels");
        assert!(
            sub("$share/group/abcd/efg").is_ok(),
            "the prefix does not count"
        );
        assert_eq!(
            sub("abcd/efgh"),
            Err(SubscribeError::InvalidFilter),
            "9 bytes"
        );
        assert_eq!(
            sub("a/b/c/d"),
            Err(SubscribeError::InvalidFilter),
            "4 levels"
        );
        assert_eq!(
            sub("$share/g/abcdefghi"),
            Err(SubscribeError::InvalidFilter),
            "9 bytes after the prefix"
        );
    }
}
