//! The writer thread: group commit.
//!
//! It sleeps until there is work (`sync`), or until the interval ends or a flush
//! is asked for (`periodic`); then it takes every pending write at once, commits
//! them in one fsynced transaction, advances the durable watermark and wakes the
//! waiters of exactly the tickets it covers. The batches submitted while it was
//! committing form the next group, so one fsync serves as many publishes as
//! arrived during the previous one.

use super::codec::{KvOp, Table};
use super::error::StoreError;
use super::{Shared, State, StoreMode};
use std::collections::HashMap;
use std::sync::MutexGuard;
use std::time::{Duration, Instant};

/// Keeps only the last write of each key: one transaction applies the group,
/// so its outcome is each key's last write, and writes to different keys are
/// independent. Under QoS 1/2 load most of a group is a message and its
/// delivery record written and, the subscriber having acknowledged it while the
/// previous group was committing, deleted again; the engine then only looks up
/// two absent keys instead of inserting and deleting them.
pub(super) fn coalesce(ops: Vec<KvOp>) -> Vec<KvOp> {
    if ops.len() < 2 {
        return ops;
    }
    let mut last: HashMap<(Table, &[u8]), usize> = HashMap::with_capacity(ops.len());
    for (i, op) in ops.iter().enumerate() {
        last.insert((op.table, op.key.as_slice()), i);
    }
    if last.len() == ops.len() {
        return ops;
    }
    let keep: Vec<bool> = ops
        .iter()
        .enumerate()
        .map(|(i, op)| last.get(&(op.table, op.key.as_slice())) == Some(&i))
        .collect();
    drop(last);
    ops.into_iter()
        .zip(keep)
        .filter_map(|(op, keep)| keep.then_some(op))
        .collect()
}

/// Waits until the writer should commit; `None` when it should stop.
fn next_group<'a>(
    shared: &'a Shared,
    mut st: MutexGuard<'a, State>,
    deadline: &mut Instant,
) -> Option<MutexGuard<'a, State>> {
    loop {
        if st.failed.is_some() || (st.shutdown && st.taken == st.submitted) {
            return None;
        }
        let due = match shared.mode {
            StoreMode::Periodic { .. } => {
                st.shutdown
                    || st.flush_requested
                    || st.pending_bytes >= shared.max_pending_bytes / 2
                    || Instant::now() >= *deadline
            }
            _ => st.taken < st.submitted,
        };
        if due {
            return Some(st);
        }
        st = match shared.mode {
            StoreMode::Periodic { .. } => {
                let wait = deadline.saturating_duration_since(Instant::now());
                shared
                    .work
                    .wait_timeout(st, wait)
                    .map(|(g, _)| g)
                    .unwrap_or_else(|e| e.into_inner().0)
            }
            _ => shared.work.wait(st).unwrap_or_else(|e| e.into_inner()),
        };
    }
}

/// The writer thread's entry: [`run`], and should the engine panic, the store
/// turns failed (like a commit error) so that no waiter hangs on a dead writer.
pub(super) fn run_guarded(shared: &Shared) {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(shared)));
    if outcome.is_err() {
        let e = StoreError::engine("committing", "the writer thread panicked");
        tracing::error!(error = %e, "store writer died; no further acknowledgements");
        let mut st = shared.lock();
        st.failed.get_or_insert(e);
        let waiters = std::mem::take(&mut st.waiters);
        drop(st);
        drop(waiters);
        shared.durable_cv.notify_all();
        shared.room.notify_waiters();
    }
}

/// The writer thread's body; returns at shutdown (after committing everything
/// submitted) or after a failed commit.
pub(super) fn run(shared: &Shared) {
    let interval = match shared.mode {
        StoreMode::Periodic { interval_ms } => Duration::from_millis(interval_ms.max(1)),
        _ => Duration::ZERO,
    };
    let mut deadline = Instant::now() + interval;
    loop {
        let Some(mut st) = next_group(shared, shared.lock(), &mut deadline) else {
            return;
        };
        let ops = std::mem::take(&mut st.pending);
        st.pending_bytes = 0;
        st.flush_requested = false;
        let started = st.oldest_pending.take();
        let upto = st.submitted;
        st.taken = upto;
        drop(st);
        shared.room.notify_waiters();
        deadline = Instant::now() + interval;

        let ops = coalesce(ops);
        let result = if ops.is_empty() {
            Ok(())
        } else {
            shared.lock_engine().commit(&ops, true)
        };
        drop(ops);

        let mut st = shared.lock();
        match result {
            Ok(()) => {
                st.durable = upto;
                if let Some(t) = started {
                    shared.commit_seconds.observe(t.elapsed());
                }
                let later = st.waiters.split_off(&upto.saturating_add(1));
                let done = std::mem::replace(&mut st.waiters, later);
                drop(st);
                for tx in done.into_values().flatten() {
                    // A waiter that gave up (dropped its future) is fine.
                    let _ = tx.send(());
                }
                shared.durable_cv.notify_all();
            }
            Err(e) => {
                tracing::error!(error = %e, "store commit failed; no further acknowledgements");
                st.failed = Some(e);
                // Dropping the senders wakes every waiter, which then sees `failed`.
                let waiters = std::mem::take(&mut st.waiters);
                drop(st);
                drop(waiters);
                shared.durable_cv.notify_all();
                shared.room.notify_waiters();
                return;
            }
        }
    }
}
