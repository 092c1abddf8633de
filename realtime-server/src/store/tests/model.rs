//! Model-based property test: random op sequences applied to the store and to
//! a plain in-memory model of the documented semantics; after reopening,
//! `load()` must equal the model (and the memory store must too).

use super::*;
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet};

/// The documented semantics, written as directly as possible.
#[derive(Debug, Default, Clone)]
struct Model {
    sessions: BTreeMap<String, SessionRecord>,
    subscriptions: BTreeMap<(String, String), SubscriptionRecord>,
    messages: BTreeMap<u64, StoredMessage>,
    outbound: BTreeMap<(String, u64), OutboundRecord>,
    incoming: BTreeSet<(String, u16)>,
    retained: BTreeMap<String, u64>,
}

impl Model {
    /// The model after `ops`, or `None` if the batch must be refused.
    fn apply(&self, ops: &[StoreOp]) -> Option<Model> {
        let mut m = self.clone();
        for op in ops {
            match op.clone() {
                StoreOp::PutSession(s) => {
                    m.sessions.insert(s.client_id.clone(), s);
                }
                StoreOp::DeleteSession { client_id: c } => {
                    m.sessions.remove(&c);
                    m.subscriptions.retain(|k, _| k.0 != c);
                    m.outbound.retain(|k, _| k.0 != c);
                    m.incoming.retain(|k| k.0 != c);
                }
                StoreOp::PutSubscription(s) => {
                    m.subscriptions
                        .insert((s.client_id.clone(), s.filter.clone()), s);
                }
                StoreOp::DeleteSubscription { client_id, filter } => {
                    m.subscriptions.remove(&(client_id, filter));
                }
                StoreOp::PutMessage(msg) => {
                    m.messages.insert(msg.id, msg);
                }
                StoreOp::PutOutbound(o) => {
                    if !m.messages.contains_key(&o.message_id) {
                        return None;
                    }
                    m.outbound.insert((o.client_id.clone(), o.seq), o);
                }
                StoreOp::SetOutboundState {
                    client_id,
                    seq,
                    state,
                } => {
                    m.outbound.get_mut(&(client_id, seq))?.state = state;
                }
                StoreOp::DeleteOutbound { client_id, seq } => {
                    m.outbound.remove(&(client_id, seq));
                }
                StoreOp::PutIncomingQos2 {
                    client_id,
                    packet_id,
                } => {
                    m.incoming.insert((client_id, packet_id));
                }
                StoreOp::DeleteIncomingQos2 {
                    client_id,
                    packet_id,
                } => {
                    m.incoming.remove(&(client_id, packet_id));
                }
                StoreOp::PutRetained { topic, message_id } => {
                    if !m.messages.contains_key(&message_id) {
                        return None;
                    }
                    m.retained.insert(topic, message_id);
                }
                StoreOp::DeleteRetained { topic } => {
                    m.retained.remove(&topic);
                }
            }
        }
        let referenced: BTreeSet<u64> = m.references().collect();
        m.messages.retain(|id, _| referenced.contains(id));
        Some(m)
    }

    /// Ids of messages referenced by outbound records, retained entries, wills.
    fn references(&self) -> impl Iterator<Item = u64> + '_ {
        let wills = self
            .sessions
            .values()
            .filter_map(|s| s.will.as_ref().map(|w| w.0.id));
        let outbound = self.outbound.values().map(|o| o.message_id);
        outbound.chain(self.retained.values().copied()).chain(wills)
    }

    fn snapshot(&self) -> Snapshot {
        let max = self.messages.keys().copied().chain(self.references()).max();
        Snapshot {
            sessions: self.sessions.values().cloned().collect(),
            subscriptions: self.subscriptions.values().cloned().collect(),
            messages: self.messages.clone(),
            outbound: self.outbound.values().cloned().collect(),
            incoming_qos2: self.incoming.iter().cloned().collect(),
            retained: self
                .retained
                .iter()
                .map(|(t, id)| (t.clone(), *id))
                .collect(),
            next_message_id: max.map_or(0, |m| m + 1),
        }
    }
}

// Small domains so that ops collide: same clients, seqs, ids, topics.
// Client ids have equal lengths, so the store's key order equals the model's.
fn client() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["a", "b", "c"]).prop_map(String::from)
}
fn message_id() -> impl Strategy<Value = u64> {
    0u64..6
}
fn message() -> impl Strategy<Value = StoredMessage> {
    (
        message_id(),
        any::<bool>(),
        prop::option::of(any::<u64>()),
        0u8..3,
        prop::collection::vec(any::<u8>(), 0..8),
    )
        .prop_map(|(id, retain, expiry, qos, payload)| StoredMessage {
            payload: Bytes::from(payload),
            retain,
            qos,
            expiry_at_unix_ms: expiry,
            ..msg(id)
        })
}
fn state() -> impl Strategy<Value = OutboundState> {
    prop_oneof![
        Just(OutboundState::Queued),
        any::<u16>().prop_map(|packet_id| OutboundState::Sent { packet_id }),
        any::<u16>().prop_map(|packet_id| OutboundState::Released { packet_id }),
    ]
}

fn op() -> impl Strategy<Value = StoreOp> {
    let filter = prop::sample::select(vec!["f/#", "$share/g/f", "f/+"]).prop_map(String::from);
    let topic = prop::sample::select(vec!["r0", "r1"]).prop_map(String::from);
    prop_oneof![
        1 => (client(), any::<u32>(), prop::option::of((message(), any::<u32>()))).prop_map(|(c, e, will)| {
            StoreOp::PutSession(SessionRecord { expiry_interval_secs: e, will, ..session(&c) })
        }),
        1 => client().prop_map(|client_id| StoreOp::DeleteSession { client_id }),
        1 => (client(), filter.clone(), any::<u8>(), prop::option::of(any::<u32>())).prop_map(|(c, f, options, subscription_id)| {
            StoreOp::PutSubscription(SubscriptionRecord { options, subscription_id, ..sub(&c, &f) })
        }),
        1 => (client(), filter).prop_map(|(client_id, filter)| StoreOp::DeleteSubscription { client_id, filter }),
        3 => message().prop_map(StoreOp::PutMessage),
        3 => (client(), 0u64..4, message_id(), prop::collection::vec(any::<u32>(), 0..3), state()).prop_map(
            |(c, seq, m, subscription_ids, state)| StoreOp::PutOutbound(OutboundRecord { subscription_ids, state, ..out(&c, seq, m) })
        ),
        1 => (client(), 0u64..4, state()).prop_map(|(client_id, seq, state)| StoreOp::SetOutboundState { client_id, seq, state }),
        2 => (client(), 0u64..4).prop_map(|(client_id, seq)| StoreOp::DeleteOutbound { client_id, seq }),
        1 => (client(), 1u16..4).prop_map(|(client_id, packet_id)| StoreOp::PutIncomingQos2 { client_id, packet_id }),
        1 => (client(), 1u16..4).prop_map(|(client_id, packet_id)| StoreOp::DeleteIncomingQos2 { client_id, packet_id }),
        1 => (topic.clone(), message_id()).prop_map(|(topic, message_id)| StoreOp::PutRetained { topic, message_id }),
        1 => topic.prop_map(|topic| StoreOp::DeleteRetained { topic }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    /// load() after reopen equals the model, in sync and periodic modes; the
    /// memory store agrees; refused batches are exactly the model's refusals.
    #[test]
    fn store_matches_model(
        batches in prop::collection::vec(prop::collection::vec(op(), 1..6), 1..14),
        periodic in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let opts = StoreOptions {
            mode: if periodic { StoreMode::Periodic { interval_ms: 2 } } else { StoreMode::Sync },
            ..Default::default()
        };
        let disk = Store::open(dir.path(), opts.clone()).unwrap();
        let mem = Store::in_memory();
        let mut model = Model::default();
        for batch in batches {
            let want = model.apply(&batch);
            let got_disk = disk.submit(batch.clone());
            let got_mem = mem.submit(batch);
            prop_assert_eq!(got_disk.is_ok(), want.is_some(), "disk store vs model on refusal");
            prop_assert_eq!(got_mem.is_ok(), want.is_some(), "memory store vs model on refusal");
            if let Some(m) = want {
                model = m;
            }
        }
        let want = model.snapshot();
        let mut from_mem = mem.load().unwrap();
        // The running counter also counts ids of messages already dropped.
        prop_assert!(from_mem.next_message_id >= want.next_message_id);
        from_mem.next_message_id = want.next_message_id;
        prop_assert_eq!(&from_mem, &want);
        drop(disk);
        let reopened = Store::open(dir.path(), opts).unwrap().load().unwrap();
        prop_assert_eq!(&reopened, &want);
    }
}
