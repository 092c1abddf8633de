//! [`ConnWake`]: a connection's wake handle.
//!
//! The broker, the client registry, the store and the authentication hooks wake a
//! connection's driver through it when something is ready for it (a delivery, a
//! take-over, a commit, an API disconnect). It is a [`Notify`] (one stored permit
//! when nobody waits) that also knows whether its connection is parked: then
//! [`ConnWake::notify_one`] tells the parking watcher which slot to resume, and the
//! permit waits for the resumed driver. A parked connection so costs no waiter
//! registration (a pinned future and a waker, ~130 bytes each) on top of its slot.

use std::fmt;
use std::future::Future;
use std::pin::pin;
use std::sync::OnceLock;
use std::sync::Weak;
use std::sync::atomic::{AtomicU32, Ordering, fence};
use std::task::{Context, Waker};

use tokio::sync::Notify;
use tokio::sync::futures::Notified;

use super::park::Shared;

/// [`ConnWake::slot`] when the connection is not parked.
const NOT_PARKED: u32 = u32::MAX;

/// A connection's wake handle (share it as `Arc<ConnWake>`).
pub struct ConnWake {
    notify: Notify,
    /// The parking slot while the connection is parked, [`NOT_PARKED`] otherwise:
    /// what a wake-up of a running connection (the common case, once per
    /// delivery batch) reads, without a lock.
    slot: AtomicU32,
    /// The parking lot the connection parks in (set when it first parks).
    lot: OnceLock<Weak<Shared>>,
}

impl Default for ConnWake {
    fn default() -> Self {
        Self {
            notify: Notify::new(),
            slot: AtomicU32::new(NOT_PARKED),
            lot: OnceLock::new(),
        }
    }
}

impl fmt::Debug for ConnWake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let slot = self.slot.load(Ordering::Relaxed);
        f.debug_struct("ConnWake")
            .field("parked", &(slot != NOT_PARKED).then_some(slot))
            .finish()
    }
}

impl ConnWake {
    /// A handle nobody has notified yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Wakes the connection: its driver's next (or current) [`ConnWake::notified`]
    /// completes, and a parked connection resumes first.
    pub fn notify_one(&self) {
        self.notify.notify_one();
        // Pairs with the fence in `park`: either this sees the slot or `park`
        // sees the permit just stored (or both).
        fence(Ordering::SeqCst);
        if self.slot.load(Ordering::Relaxed) == NOT_PARKED {
            return;
        }
        let slot = self.slot.swap(NOT_PARKED, Ordering::Relaxed);
        if slot != NOT_PARKED
            && let Some(lot) = self.lot.get().and_then(Weak::upgrade)
        {
            // Waits for the watcher's lock, which `Parking::park` holds until the
            // slot is filled.
            lot.woken(slot as usize);
        }
    }

    /// Completes at the next [`ConnWake::notify_one`], or at once if one came
    /// since the last wait.
    pub fn notified(&self) -> Notified<'_> {
        self.notify.notified()
    }

    /// Marks the connection parked in `slot` of `lot`, then returns whether a
    /// wake-up was already pending (taking it: the caller resumes the connection
    /// and gives it back with [`ConnWake::unpark`] and [`ConnWake::notify_one`]).
    /// Marked first, so that a wake-up in between is seen by one or the other.
    /// A handle is meant for one lot, and slots are numbered below
    /// [`NOT_PARKED`] (open files bound them far lower); otherwise it reports a
    /// (spurious) pending wake-up, so that the connection goes on instead.
    pub(super) fn park(&self, lot: Weak<Shared>, slot: usize) -> bool {
        let Some(slot) = u32::try_from(slot).ok().filter(|s| *s != NOT_PARKED) else {
            return true;
        };
        if !self.lot.get_or_init(|| lot.clone()).ptr_eq(&lot) {
            return true;
        }
        self.slot.store(slot, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        let pending = pin!(self.notify.notified());
        pending
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_ready()
    }

    /// The connection is no longer parked (resumed by something else than a
    /// wake-up): later wake-ups only store a permit.
    pub(super) fn unpark(&self) {
        self.slot.store(NOT_PARKED, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A wake-up is kept for the next wait, as with a plain `Notify`.
    #[tokio::test]
    async fn a_wake_up_without_a_waiter_is_kept_for_the_next_wait() {
        let wake = ConnWake::new();
        wake.notify_one();
        tokio::time::timeout(Duration::from_secs(5), wake.notified())
            .await
            .expect("the wake-up was lost");
    }

    /// Parking reports (and takes) a wake-up that came before it; none otherwise.
    #[test]
    fn parking_takes_a_pending_wake_up() {
        let wake = ConnWake::new();
        assert!(!wake.park(Weak::new(), 3));
        wake.unpark();
        wake.notify_one();
        assert!(wake.park(Weak::new(), 3));
        assert!(!wake.park(Weak::new(), 3));
    }
}
