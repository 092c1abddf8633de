//! The three durability modes, group commit under concurrency, and recovery.

use super::super::codec::{KvOp, Table};
use super::super::engine::{Engine, MemoryEngine, Visit};
use super::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A memory engine the test can look into while the store owns it.
#[derive(Clone, Default)]
struct SharedEngine(Arc<Mutex<MemoryEngine>>);

impl SharedEngine {
    fn rows(&self, table: Table) -> usize {
        let mut n = 0;
        self.0
            .lock()
            .unwrap()
            .scan(table, &mut |_, _| {
                n += 1;
                Ok(())
            })
            .unwrap();
        n
    }
}

impl Engine for SharedEngine {
    fn commit(&mut self, ops: &[KvOp], fsync: bool) -> Result<(), StoreError> {
        self.0.lock().unwrap().commit(ops, fsync)
    }
    fn scan(&self, table: Table, visit: &mut Visit<'_>) -> Result<(), StoreError> {
        self.0.lock().unwrap().scan(table, visit)
    }
}

fn periodic(interval_ms: u64) -> StoreOptions {
    StoreOptions {
        mode: StoreMode::Periodic { interval_ms },
        ..Default::default()
    }
}

fn publish(id: u64, client: &str) -> Vec<StoreOp> {
    vec![
        StoreOp::PutMessage(msg(id)),
        StoreOp::PutOutbound(out(client, id, id)),
    ]
}

/// Periodic mode: tickets are durable at once, the writer commits only at the
/// interval, and `flush` commits without waiting for it.
#[tokio::test]
async fn periodic_tickets_resolve_at_once_and_flush_commits() {
    let engine = SharedEngine::default();
    let st = Store::open_engine(Box::new(engine.clone()), periodic(3_600_000)).unwrap();
    let t = st.submit(publish(1, "a")).unwrap();
    assert!(st.is_durable(t));
    st.wait_durable(t).await.unwrap();
    assert_eq!(
        engine.rows(Table::Outbound),
        0,
        "not committed before the interval"
    );
    st.flush().await.unwrap();
    assert_eq!(engine.rows(Table::Outbound), 1);
}

/// Periodic mode commits by itself once the interval has passed.
#[tokio::test]
async fn periodic_commits_after_interval() {
    let engine = SharedEngine::default();
    let st = Store::open_engine(Box::new(engine.clone()), periodic(5)).unwrap();
    st.submit(publish(1, "a")).unwrap();
    // Bounded poll: the commit is due after 5 ms; allow a very slow machine.
    for _ in 0..2000 {
        if engine.rows(Table::Outbound) == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    panic!("periodic writer never committed");
}

/// Dropping the last handle commits what is pending (graceful shutdown), in
/// periodic mode without waiting for the interval.
#[test]
fn drop_commits_pending() {
    let engine = SharedEngine::default();
    let st = Store::open_engine(Box::new(engine.clone()), periodic(3_600_000)).unwrap();
    let clone = st.clone();
    st.submit(publish(1, "a")).unwrap();
    drop(st);
    assert_eq!(
        engine.rows(Table::Outbound),
        0,
        "a clone still holds the store"
    );
    drop(clone);
    assert_eq!(engine.rows(Table::Outbound), 1);
}

/// Sync mode: a ticket resolves only once its batch is committed.
#[tokio::test]
async fn sync_ticket_means_committed() {
    let engine = SharedEngine::default();
    let st = Store::open_engine(Box::new(engine.clone()), StoreOptions::default()).unwrap();
    for i in 0..20 {
        let t = st.submit(publish(i, "a")).unwrap();
        st.wait_durable(t).await.unwrap();
        assert_eq!(engine.rows(Table::Outbound), i as usize + 1);
        assert!(st.is_durable(t));
    }
}

/// Sync mode: every group commit is observed by the commit latency histogram
/// (`realtime_store_commit_seconds`); memory mode commits nothing to observe.
#[tokio::test]
async fn commit_latency_observed_per_group() {
    let st =
        Store::open_engine(Box::new(SharedEngine::default()), StoreOptions::default()).unwrap();
    assert_eq!(st.commit_latency().count(), 0);
    for i in 0..3 {
        let t = st.submit(publish(i, "a")).unwrap();
        st.wait_durable(t).await.unwrap();
    }
    let groups = st.commit_latency().count();
    assert!(
        (1..=3).contains(&groups),
        "{groups} groups for 3 awaited batches"
    );
    let mem = Store::in_memory();
    let t = mem.submit(publish(1, "a")).unwrap();
    mem.wait_durable(t).await.unwrap();
    assert_eq!(mem.commit_latency().count(), 0);
}

fn kv(table: Table, key: u8, value: Option<u8>) -> KvOp {
    KvOp {
        table,
        key: vec![key],
        value: value.map(|v| vec![v]),
    }
}

fn engine_rows(e: &MemoryEngine) -> Vec<(Table, Vec<u8>, Vec<u8>)> {
    let mut rows = Vec::new();
    for t in Table::ALL {
        e.scan(t, &mut |k, v| {
            rows.push((t, k.to_vec(), v.to_vec()));
            Ok(())
        })
        .unwrap();
    }
    rows
}

/// Group coalescing keeps each key's last write only, in submission order.
#[test]
fn coalesce_keeps_each_keys_last_write() {
    let ops = vec![
        kv(Table::Messages, 1, Some(1)),
        kv(Table::Outbound, 1, Some(1)),
        kv(Table::Outbound, 1, None),
        kv(Table::Messages, 1, None),
        kv(Table::Messages, 2, Some(2)),
        kv(Table::Outbound, 2, Some(2)),
        kv(Table::Outbound, 2, Some(3)),
    ];
    assert_eq!(
        super::super::writer::coalesce(ops),
        vec![
            kv(Table::Outbound, 1, None),
            kv(Table::Messages, 1, None),
            kv(Table::Messages, 2, Some(2)),
            kv(Table::Outbound, 2, Some(3)),
        ]
    );
}

proptest::proptest! {
    /// A coalesced group leaves an engine in the same state as the whole group,
    /// whatever the engine held before.
    #[test]
    fn coalesce_preserves_the_outcome(
        before in proptest::collection::vec((0u8..3, 0u8..6, proptest::option::of(0u8..4)), 0..12),
        group in proptest::collection::vec((0u8..3, 0u8..6, proptest::option::of(0u8..4)), 0..40),
    ) {
        let table = |t: u8| [Table::Messages, Table::Outbound, Table::Sessions][usize::from(t % 3)];
        let to_ops = |v: &[(u8, u8, Option<u8>)]| -> Vec<KvOp> {
            v.iter().map(|&(t, k, val)| kv(table(t), k, val)).collect()
        };
        let mut whole = MemoryEngine::default();
        whole.commit(&to_ops(&before), false).unwrap();
        let mut coalesced = MemoryEngine::default();
        coalesced.commit(&to_ops(&before), false).unwrap();
        whole.commit(&to_ops(&group), false).unwrap();
        let reduced = super::super::writer::coalesce(to_ops(&group));
        proptest::prop_assert!(reduced.len() <= group.len());
        coalesced.commit(&reduced, false).unwrap();
        proptest::prop_assert_eq!(engine_rows(&whole), engine_rows(&coalesced));
    }
}

/// Memory mode: tickets durable at once, `load` shows the current state.
#[tokio::test]
async fn memory_mode() {
    let st = Store::in_memory();
    assert_eq!(st.mode(), StoreMode::Memory);
    let t = st.submit(publish(1, "a")).unwrap();
    assert!(st.is_durable(t));
    st.wait_durable(t).await.unwrap();
    st.flush().await.unwrap();
    assert_eq!(st.load().unwrap().outbound, vec![out("a", 1, 1)]);
    let st2 = Store::open(
        "/nonexistent/ignored",
        StoreOptions {
            mode: StoreMode::Memory,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(st2.load().unwrap().outbound.is_empty());
}

/// Group commit under concurrency: 16 tasks on a multi-threaded runtime each
/// submit and await 40 publishes (with deletes of acknowledged ones); every
/// ticket resolves and the disk holds exactly the expected records.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_submitters_all_durable() {
    let dir = tempfile::tempdir().unwrap();
    let st = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let mut tasks = Vec::new();
    for task in 0..16u64 {
        let st = st.clone();
        tasks.push(tokio::spawn(async move {
            let client = format!("c{task}");
            for i in 0..40u64 {
                let id = task * 1000 + i;
                let mut ops = publish(id, &client);
                if i >= 10 {
                    ops.push(StoreOp::DeleteOutbound {
                        client_id: client.clone(),
                        seq: id - 10,
                    });
                }
                let t = st.submit_async(ops).await.unwrap();
                st.wait_durable(t).await.unwrap();
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    drop(st);
    let s = Store::open(dir.path(), StoreOptions::default())
        .unwrap()
        .load()
        .unwrap();
    assert_eq!(s.outbound.len(), 16 * 10);
    assert_eq!(s.messages.len(), 16 * 10);
    for o in &s.outbound {
        assert!(o.seq % 1000 >= 30, "{o:?} should have been deleted");
    }
}

/// Recovery round trip on disk: every kind of record, dropped and reopened,
/// loads as expected (message ids, order, cascades applied).
#[test]
fn recovery_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let st = Store::open(dir.path(), StoreOptions::default()).unwrap();
    let mut s = session("dev-1");
    s.will = Some((msg(3), 5));
    let mut o2 = out("dev-1", 2, 2);
    o2.state = OutboundState::Released { packet_id: 7 };
    ok(
        &st,
        vec![
            StoreOp::PutSession(s.clone()),
            StoreOp::PutSession(session("gone")),
            StoreOp::PutSubscription(sub("dev-1", "a/#")),
            StoreOp::PutSubscription(sub("gone", "a/#")),
            StoreOp::PutMessage(msg(1)),
            StoreOp::PutMessage(msg(2)),
            StoreOp::PutMessage(msg(3)),
            StoreOp::PutOutbound(out("dev-1", 1, 1)),
            StoreOp::PutOutbound(out("dev-1", 2, 2)),
            StoreOp::PutOutbound(out("gone", 1, 1)),
            StoreOp::PutIncomingQos2 {
                client_id: "dev-1".into(),
                packet_id: 12,
            },
            StoreOp::PutRetained {
                topic: "a/b".into(),
                message_id: 2,
            },
        ],
    );
    ok(
        &st,
        vec![
            StoreOp::SetOutboundState {
                client_id: "dev-1".into(),
                seq: 2,
                state: o2.state,
            },
            StoreOp::DeleteSession {
                client_id: "gone".into(),
            },
        ],
    );
    st.flush_blocking().unwrap();
    drop(st);
    let got = Store::open(dir.path(), StoreOptions::default())
        .unwrap()
        .load()
        .unwrap();
    let want = Snapshot {
        sessions: vec![s],
        subscriptions: vec![sub("dev-1", "a/#")],
        messages: [(1, msg(1)), (2, msg(2)), (3, msg(3))]
            .into_iter()
            .collect(),
        outbound: vec![out("dev-1", 1, 1), o2],
        incoming_qos2: vec![("dev-1".into(), 12)],
        retained: vec![("a/b".into(), 2)],
        next_message_id: 4,
    };
    assert_eq!(got, want);
}
