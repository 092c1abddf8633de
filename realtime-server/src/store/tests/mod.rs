//! Store tests: every op and the reference-count GC (`ops`), codec robustness
//! (`codec`), bounded queue and engine failures (`faults`), durability modes and
//! recovery (`modes`), and a model-based property test (`model`). The SIGKILL
//! crash test is `realtime-server/tests/store_crash.rs`.

mod codec;
mod faults;
mod model;
mod modes;
mod ops;

use super::*;
use bytes::Bytes;

pub(super) fn msg(id: u64) -> StoredMessage {
    StoredMessage {
        id,
        topic: format!("t/{id}"),
        payload: Bytes::from(format!("payload {id}")),
        qos: 1,
        retain: false,
        properties: Bytes::new(),
        expiry_at_unix_ms: None,
    }
}

pub(super) fn out(client: &str, seq: u64, message_id: u64) -> OutboundRecord {
    OutboundRecord {
        client_id: client.into(),
        seq,
        message_id,
        qos: 1,
        retain: false,
        subscription_ids: vec![],
        state: OutboundState::Queued,
    }
}

pub(super) fn session(client: &str) -> SessionRecord {
    SessionRecord {
        client_id: client.into(),
        expiry_interval_secs: 3600,
        protocol_version: 5,
        disconnected_at_unix_ms: None,
        will: None,
    }
}

pub(super) fn sub(client: &str, filter: &str) -> SubscriptionRecord {
    SubscriptionRecord {
        client_id: client.into(),
        filter: filter.into(),
        options: 1,
        subscription_id: None,
    }
}

/// Submits a batch that must be accepted.
pub(super) fn ok(store: &Store, ops: Vec<StoreOp>) -> CommitTicket {
    match store.submit(ops) {
        Ok(t) => t,
        Err(e) => panic!("batch refused: {e}"),
    }
}

/// Runs `f` against a memory store and a `sync` store on disk; for the disk
/// store also checks that reopening loads exactly what was loaded before.
pub(super) fn each_store(f: impl Fn(&Store)) {
    f(&Store::in_memory());
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(dir.path(), StoreOptions::default()).unwrap();
    f(&store);
    let mut before = store.load().unwrap();
    drop(store);
    let mut after = Store::open(dir.path(), StoreOptions::default())
        .unwrap()
        .load()
        .unwrap();
    // Ids handed out but not stored are not remembered across a restart.
    assert!(after.next_message_id <= before.next_message_id);
    before.next_message_id = 0;
    after.next_message_id = 0;
    assert_eq!(before, after, "reopened store differs");
}
