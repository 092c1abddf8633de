//! Durable store: persistent sessions, their subscriptions, in-flight QoS 1/2
//! state in both directions, offline queues and retained messages.
//!
//! The broker translates its state into data-level records ([`StoreOp`]) and
//! hands batches of them to [`Store::submit`], which never waits for the disk:
//! it updates an in-memory index, queues the key-level writes for a writer
//! thread and returns a [`CommitTicket`]. A connection that must not
//! acknowledge before its message is on disk (PUBACK, PUBREC) awaits
//! [`Store::wait_durable`] while it goes on with other packets. At start-up
//! [`Store::load`] returns everything as a [`Snapshot`].
//!
//! # Modes ([`StoreMode`])
//! - **`Sync`** (the default): group commit. The writer takes every batch
//!   pending, writes them in one transaction, fsyncs it, then advances the
//!   durable watermark and wakes the waiters of every ticket up to it. Many
//!   publishes share one fsync, so throughput grows with load while nothing
//!   acknowledged can be lost.
//! - **`Periodic { interval_ms }`**: the writer commits (with fsync) every
//!   `interval_ms`, or sooner when half the pending bound is reached. Tickets
//!   count as durable at once, so a crash may lose what was submitted in the
//!   last interval. Faster for small batches, weaker.
//! - **`Memory`**: no disk, no writer thread; ops are applied to in-memory
//!   tables during `submit` and tickets are durable at once. For tests and
//!   benchmarks; [`Store::load`] returns the current state.
//!
//! # Messages and reference counts
//! A [`StoredMessage`] is stored once ([`StoreOp::PutMessage`]) and referenced
//! by id from outbound records, retained entries and session wills. The store
//! counts references: at the end of each submitted batch, a message that
//! nothing references is deleted in the same commit. So a message must be
//! referenced in the batch that stores it. Counts are rebuilt when the store is
//! opened.
//!
//! # Errors and bounds
//! No error panics. A failed commit is sticky ([`StoreError::Failed`]): tickets
//! not yet durable and every later submit report it, so the broker stops
//! acknowledging; nothing is dropped silently. A batch that breaks the data
//! model (a reference to a message that is not stored, a state change of a
//! missing outbound record, an oversized key) is refused whole
//! ([`StoreError::InvalidOp`]).
//!
//! The queue between submitters and the writer is bounded by
//! [`StoreOptions::max_pending_bytes`]: once it holds that much, `submit`
//! refuses batches with [`StoreError::Backlogged`] and hands them back
//! ([`SubmitError::ops`]); [`Store::ready`] / [`Store::submit_async`] wait for
//! room instead (back-pressure: the connection stops reading meanwhile).
//!
//! # Example
//! ```
//! use bytes::Bytes;
//! use realtime_server::store::{OutboundRecord, OutboundState, Store, StoreOp, StoredMessage};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = std::env::temp_dir().join(format!("store-doc-{}", std::process::id()));
//! let store = Store::open(&dir, Default::default())?; // sync mode
//! let id = store.allocate_message_id();
//! let ticket = store.submit(vec![
//!     StoreOp::PutMessage(StoredMessage {
//!         id, topic: "a/b".into(), payload: Bytes::from_static(b"hi"), qos: 1,
//!         retain: false, properties: Bytes::new(), expiry_at_unix_ms: None,
//!     }),
//!     StoreOp::PutOutbound(OutboundRecord {
//!         client_id: "sub".into(), seq: 0, message_id: id, qos: 1, retain: false,
//!         subscription_ids: vec![], state: OutboundState::Queued,
//!     }),
//! ])?;
//! store.wait_durable(ticket).await?; // now PUBACK may be sent
//! drop(store);
//!
//! let snapshot = Store::open(&dir, Default::default())?.load()?;
//! assert_eq!(snapshot.outbound.len(), 1);
//! # std::fs::remove_dir_all(&dir)?;
//! # Ok(()) }
//! ```

mod codec;
mod disk_engine;
mod engine;
mod error;
mod index;
mod load;
mod records;
mod writer;

pub use error::{StoreError, SubmitError};
pub use records::{
    OutboundRecord, OutboundState, SessionRecord, Snapshot, StoreOp, StoredMessage,
    SubscriptionRecord,
};

use crate::metrics::Histogram;
use codec::KvOp;
use engine::{Engine, MemoryEngine};
use index::Index;
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;
use tokio::sync::{Notify, oneshot};

/// How durable a commit is before its ticket resolves. See the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreMode {
    /// No disk; tickets are durable at once.
    Memory,
    /// Group commit with fsync before a ticket resolves (the default).
    #[default]
    Sync,
    /// Commit with fsync every `interval_ms`; tickets resolve at once, a crash
    /// may lose the last interval.
    Periodic {
        /// Milliseconds between commits (at least 1).
        interval_ms: u64,
    },
}

/// Options of [`Store::open`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Durability mode.
    pub mode: StoreMode,
    /// Bound of the queue between submitters and the writer, in bytes of
    /// key-level writes (keys, values and ~48 B per write). A batch is refused
    /// while the queue holds at least this much, so the queue exceeds it by at
    /// most one batch. Default 64 MiB.
    pub max_pending_bytes: usize,
}

impl Default for StoreOptions {
    fn default() -> Self {
        Self {
            mode: StoreMode::Sync,
            max_pending_bytes: 64 << 20,
        }
    }
}

/// Identifies a submitted batch; tickets are ordered like the batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CommitTicket(u64);

impl CommitTicket {
    /// The batch's sequence number (1 for the first batch of a store instance).
    pub fn seq(self) -> u64 {
        self.0
    }
}

/// State shared by the handles and the writer, under one mutex.
struct State {
    index: Index,
    /// Key-level writes not yet taken by the writer.
    pending: Vec<KvOp>,
    pending_bytes: usize,
    /// Last ticket handed out.
    submitted: u64,
    /// Last ticket whose writes the writer has taken.
    taken: u64,
    /// Every batch with a ticket up to this is on disk (the durable watermark).
    durable: u64,
    /// Async waiters by the ticket they wait for; the writer wakes exactly those
    /// its commit made durable (no thundering herd with thousands in flight).
    waiters: BTreeMap<u64, Vec<oneshot::Sender<()>>>,
    failed: Option<StoreError>,
    shutdown: bool,
    flush_requested: bool,
    /// When the oldest batch in `pending` was submitted (the group's start, for
    /// the commit latency histogram).
    oldest_pending: Option<Instant>,
    /// The snapshot read at open, handed out by the first `load` if nothing was
    /// submitted before it.
    cached: Option<Snapshot>,
}

struct Shared {
    mode: StoreMode,
    max_pending_bytes: usize,
    state: Mutex<State>,
    /// Wakes the writer (work, flush, shutdown).
    work: Condvar,
    /// Wakes blocking flushers when the durable watermark moves.
    durable_cv: Condvar,
    /// Wakes async submitters waiting for room.
    room: Notify,
    engine: Mutex<Box<dyn Engine>>,
    next_message_id: AtomicU64,
    /// Submit-to-durable latency of each committed group (its oldest batch).
    commit_seconds: Histogram,
}

impl Shared {
    /// Poisoning only follows a panic elsewhere; the data is still consistent
    /// (every mutation under the lock is completed or not started), so go on.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn lock_engine(&self) -> MutexGuard<'_, Box<dyn Engine>> {
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }
}

struct Inner {
    shared: Arc<Shared>,
    writer: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Inner {
    /// The last handle gone: the writer commits what is pending and stops.
    fn drop(&mut self) {
        self.shared.lock().shutdown = true;
        self.shared.work.notify_all();
        if let Some(w) = self.writer.take() {
            // A panicked writer has nothing left to report.
            let _ = w.join();
        }
    }
}

/// Handle to the durable store: cheap to clone, `Send + Sync`. The writer stops
/// (after committing what is pending) when the last handle is dropped; call
/// [`Store::flush`] first to learn whether that final commit worked.
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("mode", &self.inner.shared.mode)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// A store in `memory` mode: nothing touches the disk.
    pub fn in_memory() -> Store {
        let shared = Self::shared(
            StoreMode::Memory,
            usize::MAX,
            Box::new(MemoryEngine::default()),
            Index::default(),
            Snapshot::default(),
        );
        Store {
            inner: Arc::new(Inner {
                shared,
                writer: None,
            }),
        }
    }

    /// Opens (or creates) the store in directory `dir` and recovers it: reads
    /// every table, rebuilds the index and reference counts, deletes messages
    /// nothing references, and starts the writer thread.
    /// [`StoreMode::Memory`] ignores `dir`.
    pub fn open(dir: impl AsRef<Path>, options: StoreOptions) -> Result<Store, StoreError> {
        if options.mode == StoreMode::Memory {
            return Ok(Self::in_memory());
        }
        let engine = disk_engine::DiskEngine::open(dir.as_ref())?;
        Self::open_engine(Box::new(engine), options)
    }

    /// Recovers from `engine` and starts the writer thread (disk modes).
    fn open_engine(
        mut engine: Box<dyn Engine>,
        options: StoreOptions,
    ) -> Result<Store, StoreError> {
        let mut snapshot = load::read_snapshot(&*engine)?;
        let (index, orphans) = Index::from_snapshot(&snapshot);
        if !orphans.is_empty() {
            tracing::warn!(
                count = orphans.len(),
                "store: deleting unreferenced messages"
            );
            let ops: Vec<KvOp> = orphans
                .iter()
                .map(|id| KvOp {
                    table: codec::Table::Messages,
                    key: codec::message_key(*id),
                    value: None,
                })
                .collect();
            engine.commit(&ops, true)?;
            for id in &orphans {
                snapshot.messages.remove(id);
            }
        }
        let shared = Self::shared(
            options.mode,
            options.max_pending_bytes.max(1),
            engine,
            index,
            snapshot,
        );
        let for_writer = Arc::clone(&shared);
        let writer = std::thread::Builder::new()
            .name("store-writer".into())
            .spawn(move || writer::run_guarded(&for_writer))
            .map_err(|e| StoreError::engine("starting the writer thread", e))?;
        Ok(Store {
            inner: Arc::new(Inner {
                shared,
                writer: Some(writer),
            }),
        })
    }

    fn shared(
        mode: StoreMode,
        max_pending_bytes: usize,
        engine: Box<dyn Engine>,
        index: Index,
        snapshot: Snapshot,
    ) -> Arc<Shared> {
        let next = snapshot.next_message_id;
        let state = State {
            index,
            pending: Vec::new(),
            pending_bytes: 0,
            submitted: 0,
            taken: 0,
            durable: 0,
            waiters: BTreeMap::new(),
            failed: None,
            shutdown: false,
            flush_requested: false,
            oldest_pending: None,
            cached: Some(snapshot),
        };
        Arc::new(Shared {
            mode,
            max_pending_bytes,
            state: Mutex::new(state),
            work: Condvar::new(),
            durable_cv: Condvar::new(),
            room: Notify::new(),
            engine: Mutex::new(engine),
            next_message_id: AtomicU64::new(next),
            commit_seconds: Histogram::default(),
        })
    }

    /// The store's durability mode.
    pub fn mode(&self) -> StoreMode {
        self.inner.shared.mode
    }

    /// Hands out a fresh message id for [`StoredMessage::id`]: above every id
    /// stored when the store was opened and every id submitted since.
    pub fn allocate_message_id(&self) -> u64 {
        self.inner
            .shared
            .next_message_id
            .fetch_add(1, Ordering::Relaxed)
    }

    /// Submits a batch, applied atomically and in order after every earlier
    /// batch. Never waits for the disk: returns a ticket for
    /// [`Store::wait_durable`]. Refuses the batch, handing it back, when it
    /// breaks the data model ([`StoreError::InvalidOp`]), when the pending queue
    /// is full ([`StoreError::Backlogged`]) or after a failed commit
    /// ([`StoreError::Failed`]).
    pub fn submit(&self, ops: Vec<StoreOp>) -> Result<CommitTicket, SubmitError> {
        let shared = &self.inner.shared;
        let mut st = shared.lock();
        if let Some(e) = &st.failed {
            let error = StoreError::Failed(Box::new(e.clone()));
            return Err(SubmitError { error, ops });
        }
        if st.shutdown {
            return Err(SubmitError {
                error: StoreError::Closed,
                ops,
            });
        }
        if st.pending_bytes >= shared.max_pending_bytes {
            let error = StoreError::Backlogged {
                pending_bytes: st.pending_bytes,
                limit: shared.max_pending_bytes,
            };
            return Err(SubmitError { error, ops });
        }
        if let Err(error) = st.index.validate(&ops) {
            return Err(SubmitError { error, ops });
        }
        for op in &ops {
            if let StoreOp::PutMessage(m) = op {
                shared
                    .next_message_id
                    .fetch_max(m.id.saturating_add(1), Ordering::Relaxed);
            }
        }
        let st = &mut *st;
        let start = st.pending.len();
        st.index.apply(ops, &mut st.pending);
        st.submitted += 1;
        st.cached = None;
        let ticket = CommitTicket(st.submitted);
        if shared.mode == StoreMode::Memory {
            // Cannot fail: the memory engine has no I/O.
            let _ = shared.lock_engine().commit(&st.pending, false);
            st.pending.clear();
            st.taken = st.submitted;
            st.durable = st.submitted;
            return Ok(ticket);
        }
        st.pending_bytes += st
            .pending
            .get(start..)
            .unwrap_or_default()
            .iter()
            .map(KvOp::weight)
            .sum::<usize>();
        st.oldest_pending.get_or_insert_with(Instant::now);
        let wake = match shared.mode {
            StoreMode::Periodic { .. } => st.pending_bytes >= shared.max_pending_bytes / 2,
            _ => true,
        };
        if wake {
            shared.work.notify_one();
        }
        Ok(ticket)
    }

    /// Like [`Store::submit`], but waits (asynchronously) for room in the pending
    /// queue instead of refusing the batch with [`StoreError::Backlogged`].
    pub async fn submit_async(&self, mut ops: Vec<StoreOp>) -> Result<CommitTicket, StoreError> {
        loop {
            self.ready().await?;
            match self.submit(ops) {
                Ok(t) => return Ok(t),
                Err(SubmitError {
                    error: StoreError::Backlogged { .. },
                    ops: back,
                }) => ops = back,
                Err(e) => return Err(e.error),
            }
        }
    }

    /// Waits until the pending queue has room for a batch (or the store failed).
    pub async fn ready(&self) -> Result<(), StoreError> {
        let shared = &self.inner.shared;
        loop {
            let notified = shared.room.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            {
                let st = shared.lock();
                if let Some(e) = &st.failed {
                    return Err(StoreError::Failed(Box::new(e.clone())));
                }
                if st.shutdown {
                    return Err(StoreError::Closed);
                }
                if st.pending_bytes < shared.max_pending_bytes {
                    return Ok(());
                }
            }
            notified.await;
        }
    }

    /// Resolves when the batch of `ticket` may be acknowledged: in `sync` mode
    /// once it is on disk (group commit), in `periodic` and `memory` modes at
    /// once. Fails if a commit failed before the batch was durable. Tickets are
    /// ordered: once one is durable, so is every earlier one, so a connection
    /// with several publishes in flight can wait for its last ticket only.
    pub async fn wait_durable(&self, ticket: CommitTicket) -> Result<(), StoreError> {
        let shared = &self.inner.shared;
        if shared.mode != StoreMode::Sync {
            return match &shared.lock().failed {
                Some(e) => Err(StoreError::Failed(Box::new(e.clone()))),
                None => Ok(()),
            };
        }
        self.wait_committed(ticket.0).await
    }

    /// Waits until the writer has committed every batch up to ticket `t`.
    async fn wait_committed(&self, t: u64) -> Result<(), StoreError> {
        let shared = &self.inner.shared;
        let check = |st: &State| -> Option<Result<(), StoreError>> {
            if st.durable >= t {
                Some(Ok(()))
            } else {
                st.failed
                    .as_ref()
                    .map(|e| Err(StoreError::Failed(Box::new(e.clone()))))
            }
        };
        let rx = {
            let mut st = shared.lock();
            if let Some(r) = check(&st) {
                return r;
            }
            let (tx, rx) = oneshot::channel();
            st.waiters.entry(t).or_default().push(tx);
            rx
        };
        // A dropped sender means the writer stopped on an error (or is gone).
        let _ = rx.await;
        check(&shared.lock()).unwrap_or(Err(StoreError::Closed))
    }

    /// Whether the queue to the writer is at its bound, so that [`Store::submit`]
    /// would refuse a batch: a connection stops reading meanwhile (back-pressure).
    pub fn is_backlogged(&self) -> bool {
        let shared = &self.inner.shared;
        shared.lock().pending_bytes >= shared.max_pending_bytes
    }

    /// Latency of the writer's commits: for each group commit, from the
    /// submission of its oldest batch until it is durable (`/metrics` serves it
    /// as `realtime_store_commit_seconds`). Empty in `memory` mode.
    pub fn commit_latency(&self) -> &Histogram {
        &self.inner.shared.commit_seconds
    }

    /// Whether the store has failed for good (see [`StoreError::Failed`]).
    pub fn has_failed(&self) -> bool {
        self.inner.shared.lock().failed.is_some()
    }

    /// Whether the batch of `ticket` may be acknowledged now (see [`Store::wait_durable`]).
    pub fn is_durable(&self, ticket: CommitTicket) -> bool {
        let shared = &self.inner.shared;
        let st = shared.lock();
        match shared.mode {
            StoreMode::Sync => st.durable >= ticket.0,
            _ => st.failed.is_none(),
        }
    }

    /// Commits everything submitted so far (in `periodic` mode too, without
    /// waiting for the interval) and waits until it is on disk. For graceful
    /// shutdown.
    pub async fn flush(&self) -> Result<(), StoreError> {
        match self.request_flush()? {
            Some(target) => self.wait_committed(target).await,
            None => Ok(()),
        }
    }

    /// [`Store::flush`] for code outside an async runtime: blocks the thread.
    pub fn flush_blocking(&self) -> Result<(), StoreError> {
        let Some(target) = self.request_flush()? else {
            return Ok(());
        };
        let shared = &self.inner.shared;
        let mut st = shared.lock();
        while st.durable < target {
            if let Some(e) = &st.failed {
                return Err(StoreError::Failed(Box::new(e.clone())));
            }
            st = shared
                .durable_cv
                .wait(st)
                .unwrap_or_else(|e| e.into_inner());
        }
        Ok(())
    }

    /// Asks the writer to commit now; returns the ticket to wait for, `None` in
    /// memory mode.
    fn request_flush(&self) -> Result<Option<u64>, StoreError> {
        let shared = &self.inner.shared;
        if shared.mode == StoreMode::Memory {
            return Ok(None);
        }
        let mut st = shared.lock();
        if let Some(e) = &st.failed {
            return Err(StoreError::Failed(Box::new(e.clone())));
        }
        st.flush_requested = true;
        let target = st.submitted;
        drop(st);
        shared.work.notify_all();
        Ok(Some(target))
    }

    /// Everything the store holds: call at start-up, before the broker submits
    /// anything. Commits what is pending first, then reads every table (the
    /// first call after [`Store::open`] returns what open read). Blocks the
    /// thread on the disk: from async code use `spawn_blocking` or call it
    /// before the runtime starts serving.
    pub fn load(&self) -> Result<Snapshot, StoreError> {
        self.flush_blocking()?;
        let shared = &self.inner.shared;
        let mut st = shared.lock();
        let next = shared.next_message_id.load(Ordering::Relaxed);
        let mut snapshot = match st.cached.take() {
            Some(s) => s,
            None => load::read_snapshot(&**shared.lock_engine())?,
        };
        snapshot.next_message_id = snapshot.next_message_id.max(next);
        Ok(snapshot)
    }
}

#[cfg(test)]
mod tests;
