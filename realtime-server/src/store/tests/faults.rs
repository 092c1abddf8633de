//! The bounded pending queue and engine failures, with engines that block or fail.

use super::super::codec::{KvOp, Table};
use super::super::engine::{Engine, MemoryEngine, Visit};
use super::*;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// Blocks every commit until the gate opens; counts commits that reached it.
#[derive(Default)]
struct Gate {
    open: Mutex<bool>,
    cv: Condvar,
    entered: Mutex<usize>,
    entered_cv: Condvar,
}

impl Gate {
    /// Waits until `n` commits have reached the gate.
    fn wait_entered(&self, n: usize) {
        let mut e = self.entered.lock().unwrap();
        while *e < n {
            e = self.entered_cv.wait(e).unwrap();
        }
    }

    fn open(&self) {
        *self.open.lock().unwrap() = true;
        self.cv.notify_all();
    }
}

/// Opens the gate when the test ends, even by a failed assertion, so that
/// dropping the store (which joins the writer) cannot hang.
struct OpenOnDrop(Arc<Gate>);

impl Drop for OpenOnDrop {
    fn drop(&mut self) {
        self.0.open();
    }
}

struct GatedEngine {
    inner: MemoryEngine,
    gate: Arc<Gate>,
}

impl Engine for GatedEngine {
    fn commit(&mut self, ops: &[KvOp], fsync: bool) -> Result<(), StoreError> {
        *self.gate.entered.lock().unwrap() += 1;
        self.gate.entered_cv.notify_all();
        let mut open = self.gate.open.lock().unwrap();
        while !*open {
            open = self.gate.cv.wait(open).unwrap();
        }
        self.inner.commit(ops, fsync)
    }
    fn scan(&self, table: Table, visit: &mut Visit<'_>) -> Result<(), StoreError> {
        self.inner.scan(table, visit)
    }
}

/// Fails every commit after the first `ok_commits`, and scans if asked to.
struct FailingEngine {
    ok_commits: usize,
    fail_scan: bool,
}

impl Engine for FailingEngine {
    fn commit(&mut self, _ops: &[KvOp], _fsync: bool) -> Result<(), StoreError> {
        if self.ok_commits == 0 {
            return Err(StoreError::engine(
                "committing",
                "injected: No space left on device",
            ));
        }
        self.ok_commits -= 1;
        Ok(())
    }
    fn scan(&self, _table: Table, _visit: &mut Visit<'_>) -> Result<(), StoreError> {
        if self.fail_scan {
            return Err(StoreError::engine(
                "scanning",
                "injected: Input/output error",
            ));
        }
        Ok(())
    }
}

/// An engine whose commit panics (a bug in an engine, not an I/O error).
struct PanickingEngine;

impl Engine for PanickingEngine {
    fn commit(&mut self, _ops: &[KvOp], _fsync: bool) -> Result<(), StoreError> {
        panic!("engine bug");
    }
    fn scan(&self, _table: Table, _visit: &mut Visit<'_>) -> Result<(), StoreError> {
        Ok(())
    }
}

impl Store {
    /// A `sync` store whose every commit fails as a full disk would (the failure
    /// is sticky, as for a real engine): for tests of how the store's callers
    /// meet a transient error (`mqtt::tests`).
    pub(crate) fn failing_for_tests() -> Store {
        let engine = FailingEngine {
            ok_commits: 0,
            fail_scan: false,
        };
        Store::open_engine(Box::new(engine), sync_options(1 << 20)).unwrap()
    }
}

fn sync_options(max_pending_bytes: usize) -> StoreOptions {
    StoreOptions {
        mode: StoreMode::Sync,
        max_pending_bytes,
    }
}

fn incoming(i: u16) -> Vec<StoreOp> {
    vec![StoreOp::PutIncomingQos2 {
        client_id: "a".into(),
        packet_id: i,
    }]
}

/// The pending queue is bounded: with the writer stuck, `submit` refuses a
/// batch once the bound is reached and hands the ops back; `ready` waits until
/// there is room; `submit_async` then gets it in; nothing is lost.
#[tokio::test]
async fn full_queue_refuses_then_admits() {
    let gate = Arc::new(Gate::default());
    let engine = GatedEngine {
        inner: MemoryEngine::default(),
        gate: Arc::clone(&gate),
    };
    let _guard = OpenOnDrop(Arc::clone(&gate));
    let st = Store::open_engine(Box::new(engine), sync_options(1)).unwrap();
    // The writer takes the first batch and blocks in its commit; the second
    // fills the queue past its bound of 1 byte; the third is refused.
    let t0 = st.submit(incoming(0)).unwrap();
    gate.wait_entered(1);
    let t1 = st.submit(incoming(1)).unwrap();
    let accepted = [(0, t0), (1, t1)];
    let refused = st.submit(incoming(2)).err().map(|e| (2, e));
    let (i, e) = refused.expect("a batch is refused while the writer is stuck");
    assert!(
        matches!(e.error, StoreError::Backlogged { limit: 1, .. }),
        "{e}"
    );
    assert_eq!(e.ops, incoming(i));
    assert!(
        tokio::time::timeout(Duration::from_millis(50), st.ready())
            .await
            .is_err(),
        "no room yet"
    );
    for (_, t) in &accepted {
        assert!(!st.is_durable(*t));
    }

    gate.open();
    let t = st.submit_async(e.ops).await.unwrap();
    st.wait_durable(t).await.unwrap();
    for (_, t) in &accepted {
        st.wait_durable(*t).await.unwrap();
    }
    let want: Vec<(String, u16)> = accepted
        .iter()
        .map(|(i, _)| *i)
        .chain([i])
        .map(|i| ("a".to_string(), i))
        .collect();
    assert_eq!(st.load().unwrap().incoming_qos2, want);
}

/// A failed commit is reported, never a panic: the waiting ticket fails, the
/// store refuses further batches (handing them back), flush and ready fail.
#[tokio::test]
async fn failed_commit_is_sticky_and_reported() {
    let engine = FailingEngine {
        ok_commits: 1,
        fail_scan: false,
    };
    let st = Store::open_engine(Box::new(engine), sync_options(1 << 20)).unwrap();
    let t1 = st.submit(incoming(1)).unwrap();
    st.wait_durable(t1).await.unwrap();
    let t2 = st.submit(incoming(2)).unwrap();
    let e = st.wait_durable(t2).await.unwrap_err();
    assert!(e.to_string().contains("No space left on device"), "{e}");
    assert!(!st.is_durable(t2));
    assert!(st.is_durable(t1), "what was durable stays durable");
    let e = st.submit(incoming(3)).unwrap_err();
    assert!(matches!(e.error, StoreError::Failed(_)), "{e}");
    assert_eq!(e.ops, incoming(3));
    assert!(st.flush().await.is_err());
    assert!(st.flush_blocking().is_err());
    assert!(st.ready().await.is_err());
}

/// In periodic mode tickets resolve at once, but after a failed commit they
/// (and the submit) report the failure.
#[tokio::test]
async fn failed_periodic_commit_is_reported() {
    let engine = FailingEngine {
        ok_commits: 0,
        fail_scan: false,
    };
    let opts = StoreOptions {
        mode: StoreMode::Periodic { interval_ms: 1 },
        ..Default::default()
    };
    let st = Store::open_engine(Box::new(engine), opts).unwrap();
    let t = st.submit(incoming(1)).unwrap();
    assert!(st.flush().await.is_err());
    assert!(st.wait_durable(t).await.is_err());
    assert!(!st.is_durable(t));
    assert!(st.submit(incoming(2)).is_err());
}

/// A read error at open is returned, not a panic.
#[test]
fn failed_scan_fails_open() {
    let engine = FailingEngine {
        ok_commits: 0,
        fail_scan: true,
    };
    let e = Store::open_engine(Box::new(engine), sync_options(1)).unwrap_err();
    assert!(e.to_string().contains("Input/output error"), "{e}");
}

/// A damaged record fails open with Corrupt naming its table.
#[test]
fn corrupt_record_fails_open() {
    let mut engine = MemoryEngine::default();
    let op = KvOp {
        table: Table::Outbound,
        key: vec![0, 1, b'a', 0, 0],
        value: Some(vec![1]),
    };
    engine.commit(&[op], true).unwrap();
    let e = Store::open_engine(Box::new(engine), sync_options(1)).unwrap_err();
    assert!(
        matches!(
            e,
            StoreError::Corrupt {
                table: "outbound",
                ..
            }
        ),
        "{e}"
    );
}

fn message_ids(st: &Store) -> Vec<u64> {
    st.load().unwrap().messages.keys().copied().collect()
}

/// Messages nothing references (e.g. written by an older release) are deleted
/// at open and not returned.
#[test]
fn orphan_messages_are_collected_at_open() {
    let mut engine = MemoryEngine::default();
    let put = |m: &StoredMessage| KvOp {
        table: Table::Messages,
        key: super::super::codec::message_key(m.id),
        value: Some(super::super::codec::encode_message(m)),
    };
    let retained = KvOp {
        table: Table::Retained,
        key: b"r".to_vec(),
        value: Some(super::super::codec::encode_retained(2)),
    };
    engine
        .commit(&[put(&msg(1)), put(&msg(2)), retained], true)
        .unwrap();
    let st = Store::open_engine(Box::new(engine), sync_options(1 << 20)).unwrap();
    assert_eq!(message_ids(&st), vec![2]);
    // A rescan (after a submit) shows the orphan deleted from the engine too.
    ok(&st, vec![StoreOp::PutSession(session("a"))]);
    assert_eq!(message_ids(&st), vec![2]);
}

/// A panic in the engine does not leave waiters hanging: the store turns
/// failed, the ticket reports it, later submits are refused.
#[tokio::test]
async fn panicking_engine_fails_the_store() {
    let st = Store::open_engine(Box::new(PanickingEngine), sync_options(1 << 20)).unwrap();
    let t = st.submit(incoming(1)).unwrap();
    let e = st.wait_durable(t).await.unwrap_err();
    assert!(e.to_string().contains("panicked"), "{e}");
    assert!(st.submit(incoming(2)).is_err());
    assert!(st.flush_blocking().is_err());
}
