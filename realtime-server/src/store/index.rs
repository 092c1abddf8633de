//! The store's in-memory index: which keys exist and how often each message is
//! referenced. It turns a batch of [`StoreOp`]s into key-level mutations
//! ([`KvOp`]s) without reading the engine: cascades (a session's keys) and
//! reference counts (when a message body may go) are answered from here.
//!
//! It is rebuilt from the tables at open ([`Index::from_snapshot`]) and holds
//! per record only its key and, for outbound records, the 20-odd value bytes
//! (so that a state change rewrites the value without a read).

use super::codec::{self, KvOp, Table};
use super::error::StoreError;
use super::records::{OutboundState, Snapshot, StoreOp};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

/// Longest client id, topic or filter the store accepts: the MQTT UTF-8 string
/// limit (MQTT 5 §1.5.4), which also bounds every key.
pub(crate) const MAX_STRING: usize = 65_535;

#[derive(Debug, Default)]
struct ClientIndex {
    /// `Some(will message id)` while the session record exists.
    session: Option<Option<u64>>,
    subscriptions: BTreeSet<String>,
    /// seq -> (message id, encoded value).
    outbound: BTreeMap<u64, (u64, Vec<u8>)>,
    incoming: BTreeSet<u16>,
}

impl ClientIndex {
    fn is_empty(&self) -> bool {
        self.session.is_none()
            && self.subscriptions.is_empty()
            && self.outbound.is_empty()
            && self.incoming.is_empty()
    }
}

#[derive(Debug, Default, Clone, Copy)]
struct MessageRefs {
    refs: u64,
    stored: bool,
}

/// Keys present in the store and message reference counts.
#[derive(Debug, Default)]
pub(crate) struct Index {
    clients: HashMap<String, ClientIndex>,
    messages: HashMap<u64, MessageRefs>,
    retained: HashMap<String, u64>,
}

fn invalid(index: usize, reason: impl Into<String>) -> StoreError {
    StoreError::InvalidOp {
        index,
        reason: reason.into(),
    }
}

fn check_str(index: usize, what: &str, s: &str, allow_empty: bool) -> Result<(), StoreError> {
    if s.len() > MAX_STRING {
        return Err(invalid(
            index,
            format!(
                "{what} is {} bytes, longer than {MAX_STRING} (MQTT 5 §1.5.4)",
                s.len()
            ),
        ));
    }
    if s.is_empty() && !allow_empty {
        return Err(invalid(index, format!("{what} is empty")));
    }
    Ok(())
}

impl Index {
    fn message_stored(&self, id: u64) -> bool {
        self.messages.get(&id).is_some_and(|m| m.stored)
    }

    fn has_outbound(&self, client_id: &str, seq: u64) -> bool {
        self.clients
            .get(client_id)
            .is_some_and(|c| c.outbound.contains_key(&seq))
    }

    /// Checks the whole batch against the data model before any of it is
    /// applied, so that a refused batch leaves the store untouched.
    pub(crate) fn validate(&self, ops: &[StoreOp]) -> Result<(), StoreError> {
        let mut put_messages: HashSet<u64> = HashSet::new();
        // (client, seq) -> exists, for outbound records touched by this batch.
        let mut outbound: HashMap<(&str, u64), bool> = HashMap::new();
        let mut wiped: HashSet<&str> = HashSet::new();
        for (i, op) in ops.iter().enumerate() {
            let msg_exists = |id: u64| put_messages.contains(&id) || self.message_stored(id);
            match op {
                StoreOp::PutSession(s) => {
                    check_str(i, "client id", &s.client_id, false)?;
                    if let Some((m, _)) = &s.will {
                        check_str(i, "will topic", &m.topic, true)?;
                    }
                }
                StoreOp::DeleteSession { client_id } => {
                    check_str(i, "client id", client_id, false)?;
                    wiped.insert(client_id);
                    outbound.retain(|(c, _), _| *c != client_id.as_str());
                }
                StoreOp::PutSubscription(s) => {
                    check_str(i, "client id", &s.client_id, false)?;
                    check_str(i, "topic filter", &s.filter, false)?;
                }
                StoreOp::DeleteSubscription { client_id, filter } => {
                    check_str(i, "client id", client_id, false)?;
                    check_str(i, "topic filter", filter, false)?;
                }
                StoreOp::PutMessage(m) => {
                    check_str(i, "topic", &m.topic, true)?;
                    put_messages.insert(m.id);
                }
                StoreOp::PutOutbound(o) => {
                    check_str(i, "client id", &o.client_id, false)?;
                    if !msg_exists(o.message_id) {
                        return Err(invalid(
                            i,
                            format!(
                                "outbound record refers to message {} which is not stored",
                                o.message_id
                            ),
                        ));
                    }
                    outbound.insert((&o.client_id, o.seq), true);
                }
                StoreOp::SetOutboundState { client_id, seq, .. } => {
                    check_str(i, "client id", client_id, false)?;
                    let exists = match outbound.get(&(client_id.as_str(), *seq)) {
                        Some(e) => *e,
                        None => {
                            !wiped.contains(client_id.as_str())
                                && self.has_outbound(client_id, *seq)
                        }
                    };
                    if !exists {
                        return Err(invalid(
                            i,
                            format!(
                                "no outbound record ({client_id:?}, {seq}) to change the state of"
                            ),
                        ));
                    }
                }
                StoreOp::DeleteOutbound { client_id, seq } => {
                    check_str(i, "client id", client_id, false)?;
                    outbound.insert((client_id, *seq), false);
                }
                StoreOp::PutIncomingQos2 { client_id, .. }
                | StoreOp::DeleteIncomingQos2 { client_id, .. } => {
                    check_str(i, "client id", client_id, false)?;
                }
                StoreOp::PutRetained { topic, message_id } => {
                    check_str(i, "retained topic", topic, false)?;
                    if !msg_exists(*message_id) {
                        return Err(invalid(
                            i,
                            format!(
                                "retained entry refers to message {message_id} which is not stored"
                            ),
                        ));
                    }
                }
                StoreOp::DeleteRetained { topic } => {
                    check_str(i, "retained topic", topic, false)?;
                }
            }
        }
        Ok(())
    }

    fn reference(&mut self, id: u64) {
        let m = self.messages.entry(id).or_default();
        m.refs = m.refs.saturating_add(1);
    }

    fn release(&mut self, id: u64, touched: &mut Vec<u64>) {
        if let Some(m) = self.messages.get_mut(&id) {
            m.refs = m.refs.saturating_sub(1);
        }
        touched.push(id);
    }

    /// The client's entry, created if needed. Takes the op's own `String` so
    /// that the hot path (a known client) allocates nothing.
    fn client(&mut self, client_id: String) -> &mut ClientIndex {
        self.clients.entry(client_id).or_default()
    }

    fn tidy(&mut self, client_id: &str) {
        if self
            .clients
            .get(client_id)
            .is_some_and(ClientIndex::is_empty)
        {
            self.clients.remove(client_id);
        }
    }

    /// Applies a batch that [`Index::validate`] accepted, appending the key-level
    /// mutations to `out`, then deletes every message this batch left unreferenced.
    pub(crate) fn apply(&mut self, ops: Vec<StoreOp>, out: &mut Vec<KvOp>) {
        let mut touched: Vec<u64> = Vec::new();
        let put = |table, key, value| KvOp {
            table,
            key,
            value: Some(value),
        };
        let del = |table, key| KvOp {
            table,
            key,
            value: None,
        };
        for op in ops {
            match op {
                StoreOp::PutSession(s) => {
                    let will = s.will.as_ref().map(|(m, _)| m.id);
                    if let Some(w) = will {
                        self.reference(w);
                    }
                    out.push(put(
                        Table::Sessions,
                        codec::session_key(&s.client_id),
                        codec::encode_session(&s),
                    ));
                    let old = self.client(s.client_id).session.replace(will);
                    if let Some(Some(old)) = old {
                        self.release(old, &mut touched);
                    }
                }
                StoreOp::DeleteSession { client_id } => {
                    out.push(del(Table::Sessions, codec::session_key(&client_id)));
                    let Some(c) = self.clients.remove(&client_id) else {
                        continue;
                    };
                    if let Some(Some(will)) = c.session {
                        self.release(will, &mut touched);
                    }
                    for filter in c.subscriptions {
                        out.push(del(
                            Table::Subscriptions,
                            codec::subscription_key(&client_id, &filter),
                        ));
                    }
                    for (seq, (msg, _)) in c.outbound {
                        self.release(msg, &mut touched);
                        out.push(del(Table::Outbound, codec::outbound_key(&client_id, seq)));
                    }
                    for pid in c.incoming {
                        out.push(del(Table::Incoming, codec::incoming_key(&client_id, pid)));
                    }
                }
                StoreOp::PutSubscription(s) => {
                    out.push(put(
                        Table::Subscriptions,
                        codec::subscription_key(&s.client_id, &s.filter),
                        codec::encode_subscription(&s),
                    ));
                    self.client(s.client_id).subscriptions.insert(s.filter);
                }
                StoreOp::DeleteSubscription { client_id, filter } => {
                    let removed = self
                        .clients
                        .get_mut(&client_id)
                        .is_some_and(|c| c.subscriptions.remove(&filter));
                    if removed {
                        out.push(del(
                            Table::Subscriptions,
                            codec::subscription_key(&client_id, &filter),
                        ));
                        self.tidy(&client_id);
                    }
                }
                StoreOp::PutMessage(m) => {
                    self.messages.entry(m.id).or_default().stored = true;
                    touched.push(m.id);
                    out.push(put(
                        Table::Messages,
                        codec::message_key(m.id),
                        codec::encode_message(&m),
                    ));
                }
                StoreOp::PutOutbound(o) => {
                    let value = codec::encode_outbound(&o);
                    let key = codec::outbound_key(&o.client_id, o.seq);
                    self.reference(o.message_id);
                    let old = self
                        .client(o.client_id)
                        .outbound
                        .insert(o.seq, (o.message_id, value.clone()));
                    if let Some((old, _)) = old {
                        self.release(old, &mut touched);
                    }
                    out.push(put(Table::Outbound, key, value));
                }
                StoreOp::SetOutboundState {
                    client_id,
                    seq,
                    state,
                } => self.set_state(&client_id, seq, state, out),
                StoreOp::DeleteOutbound { client_id, seq } => {
                    let removed = self
                        .clients
                        .get_mut(&client_id)
                        .and_then(|c| c.outbound.remove(&seq));
                    if let Some((msg, _)) = removed {
                        self.release(msg, &mut touched);
                        out.push(del(Table::Outbound, codec::outbound_key(&client_id, seq)));
                        self.tidy(&client_id);
                    }
                }
                StoreOp::PutIncomingQos2 {
                    client_id,
                    packet_id,
                } => {
                    out.push(put(
                        Table::Incoming,
                        codec::incoming_key(&client_id, packet_id),
                        vec![codec::FORMAT],
                    ));
                    self.client(client_id).incoming.insert(packet_id);
                }
                StoreOp::DeleteIncomingQos2 {
                    client_id,
                    packet_id,
                } => {
                    let removed = self
                        .clients
                        .get_mut(&client_id)
                        .is_some_and(|c| c.incoming.remove(&packet_id));
                    if removed {
                        out.push(del(
                            Table::Incoming,
                            codec::incoming_key(&client_id, packet_id),
                        ));
                        self.tidy(&client_id);
                    }
                }
                StoreOp::PutRetained { topic, message_id } => {
                    self.reference(message_id);
                    out.push(put(
                        Table::Retained,
                        codec::retained_key(&topic),
                        codec::encode_retained(message_id),
                    ));
                    if let Some(old) = self.retained.insert(topic, message_id) {
                        self.release(old, &mut touched);
                    }
                }
                StoreOp::DeleteRetained { topic } => {
                    if let Some(old) = self.retained.remove(&topic) {
                        self.release(old, &mut touched);
                        out.push(del(Table::Retained, codec::retained_key(&topic)));
                    }
                }
            }
        }
        self.collect(touched, out);
    }

    fn set_state(&mut self, client_id: &str, seq: u64, state: OutboundState, out: &mut Vec<KvOp>) {
        // Validation guarantees the record exists.
        if let Some((_, value)) = self
            .clients
            .get_mut(client_id)
            .and_then(|c| c.outbound.get_mut(&seq))
        {
            codec::set_outbound_state(value, state);
            out.push(KvOp {
                table: Table::Outbound,
                key: codec::outbound_key(client_id, seq),
                value: Some(value.clone()),
            });
        }
    }

    /// Deletes the messages among `touched` that nothing references any more.
    fn collect(&mut self, mut touched: Vec<u64>, out: &mut Vec<KvOp>) {
        touched.sort_unstable();
        touched.dedup();
        for id in touched {
            let Some(m) = self.messages.get(&id).copied() else {
                continue;
            };
            if m.refs == 0 {
                self.messages.remove(&id);
                if m.stored {
                    out.push(KvOp {
                        table: Table::Messages,
                        key: codec::message_key(id),
                        value: None,
                    });
                }
            }
        }
    }

    /// Rebuilds the index from what was loaded (reference counts included).
    /// Returns it and the ids of stored messages that nothing references: a
    /// commit always holds a message's last release together with its deletion,
    /// so there are none unless the file was edited by hand or by an older
    /// release; the caller deletes them and drops them from the snapshot.
    pub(crate) fn from_snapshot(s: &Snapshot) -> (Index, Vec<u64>) {
        let mut ix = Index::default();
        for id in s.messages.keys() {
            ix.messages.entry(*id).or_default().stored = true;
        }
        for sess in &s.sessions {
            let will = sess.will.as_ref().map(|(m, _)| m.id);
            if let Some(w) = will {
                ix.reference(w);
            }
            ix.client(sess.client_id.clone()).session = Some(will);
        }
        for sub in &s.subscriptions {
            ix.client(sub.client_id.clone())
                .subscriptions
                .insert(sub.filter.clone());
        }
        for o in &s.outbound {
            ix.reference(o.message_id);
            let value = codec::encode_outbound(o);
            ix.client(o.client_id.clone())
                .outbound
                .insert(o.seq, (o.message_id, value));
        }
        for (client_id, pid) in &s.incoming_qos2 {
            ix.client(client_id.clone()).incoming.insert(*pid);
        }
        for (topic, id) in &s.retained {
            ix.reference(*id);
            ix.retained.insert(topic.clone(), *id);
        }
        let mut orphans: Vec<u64> = ix
            .messages
            .iter()
            .filter(|(_, m)| m.stored && m.refs == 0)
            .map(|(id, _)| *id)
            .collect();
        orphans.sort_unstable();
        for id in &orphans {
            ix.messages.remove(id);
        }
        (ix, orphans)
    }
}
