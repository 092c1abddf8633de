//! Start-up: the broker's state rebuilt from the durable store's snapshot.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqtt_proto::{QoS, Utf8Bytes, topic};

use super::persist::{self, instant_of, unix_ms_now};
use super::{
    Broker, Delivery, NEVER_EXPIRES, Session, SubEntry, SubscriptionRecord, Timer, split_shared,
};
use crate::store::{OutboundState, Snapshot};

/// What recovery found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Recovered {
    /// Sessions restored (all offline).
    pub sessions: usize,
    /// Subscriptions restored.
    pub subscriptions: usize,
    /// Deliveries restored (queued and in flight).
    pub deliveries: usize,
    /// Retained messages restored.
    pub retained: usize,
}

impl Broker {
    /// Rebuilds sessions, subscriptions, queued and in-flight deliveries, the QoS 2
    /// exactly-once state and retained messages from `snapshot`. Sessions come back
    /// offline: a session whose connection was open when the server stopped has
    /// lost it now, so its Will (if any) is published after its delay, and its
    /// expiry starts now. Call once, before serving.
    pub fn recover(&self, snapshot: Snapshot, now: Instant) -> Recovered {
        let now_ms = unix_ms_now();
        let messages = persist::messages_by_id(&snapshot.messages, now, now_ms);
        let mut found = Recovered::default();
        {
            let mut retained = self.retained.write();
            for (topic, id) in &snapshot.retained {
                if let Some(m) = messages.get(id)
                    && retained.set(topic, m.clone()).is_ok()
                {
                    found.retained += 1;
                }
            }
        }
        let mut by_client: HashMap<String, Arc<Session>> = HashMap::new();
        {
            let mut sessions = self.sessions.lock();
            for record in &snapshot.sessions {
                let key = self
                    .next_key
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let version = persist::version_of(record.protocol_version);
                let session = Arc::new(Session::new(
                    key,
                    Utf8Bytes::from(record.client_id.clone()),
                    version,
                    record.expiry_interval_secs,
                ));
                let disconnected = record
                    .disconnected_at_unix_ms
                    .map_or(now, |ms| instant_of(ms, now, now_ms));
                let mut timers = Vec::new();
                {
                    let mut st = session.lock();
                    st.persistent = true;
                    st.set_disconnected_at(Some(disconnected));
                    if let Some(mut w) = persist::will_of(record, now, now_ms) {
                        let delay = Duration::from_secs(u64::from(
                            w.delay.min(record.expiry_interval_secs),
                        ));
                        let due = (disconnected + delay).max(now);
                        w.due = Some(due);
                        st.will = Some(Box::new(w));
                        timers.push((due, Timer::Will));
                    }
                    if record.expiry_interval_secs != NEVER_EXPIRES {
                        let at = disconnected
                            + Duration::from_secs(u64::from(record.expiry_interval_secs));
                        timers.push((at.max(now), Timer::Expiry));
                    }
                }
                self.schedule(&session, timers);
                sessions.insert(session.clone());
                by_client.insert(record.client_id.clone(), session);
                found.sessions += 1;
            }
        }
        {
            let mut trie = self.subs.write();
            for s in &snapshot.subscriptions {
                let Some(session) = by_client.get(&s.client_id) else {
                    continue;
                };
                let filter = Utf8Bytes::from(s.filter.clone());
                let (group, inner) = split_shared(&filter);
                if topic::validate_filter(inner).is_err() {
                    continue;
                }
                let options = persist::options_of(s.options);
                let entry = SubEntry {
                    session: session.clone(),
                    options,
                    id: s.subscription_id,
                    filter: filter.clone(),
                };
                if trie.insert(inner, group, session.key, entry).is_ok() {
                    session.lock().subscriptions.insert(
                        filter.clone(),
                        SubscriptionRecord {
                            options,
                            id: s.subscription_id,
                        },
                    );
                    found.subscriptions += 1;
                }
            }
        }
        // Outbound records come in (client, seq) order.
        for r in &snapshot.outbound {
            let (Some(session), Some(message)) =
                (by_client.get(&r.client_id), messages.get(&r.message_id))
            else {
                continue;
            };
            let delivery = Delivery {
                message: message.clone(),
                qos: QoS::from_u8(r.qos).unwrap_or(QoS::AtLeastOnce),
                retain: r.retain,
                subscription_ids: r.subscription_ids.clone(),
                shared: None,
                seq: r.seq,
            };
            let mut st = session.lock();
            st.next_seq = st.next_seq.max(r.seq);
            match r.state {
                OutboundState::Queued => st.outbox.restore_queued(delivery),
                state => {
                    if let Some((id, phase)) = persist::inflight_of(state, delivery) {
                        st.outbox.restore_inflight(id, phase);
                    }
                }
            }
            found.deliveries += 1;
        }
        for (client_id, packet_id) in &snapshot.incoming_qos2 {
            if let Some(session) = by_client.get(client_id) {
                session.lock().incoming_qos2.insert(*packet_id);
            }
        }
        tracing::info!(
            sessions = found.sessions,
            subscriptions = found.subscriptions,
            deliveries = found.deliveries,
            retained = found.retained,
            "state recovered from the store"
        );
        found
    }
}
