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
use std::sync::Weak;
use std::sync::atomic::{AtomicBool, Ordering, fence};
use std::task::{Context, Waker};

use parking_lot::Mutex;
use tokio::sync::Notify;
use tokio::sync::futures::Notified;

use super::park::Shared;

/// A connection's wake handle (share it as `Arc<ConnWake>`).
#[derive(Default)]
pub struct ConnWake {
    notify: Notify,
    /// Whether `parked` may be set: what a wake-up of a running connection (the
    /// common case, once per delivery batch) reads instead of taking the lock.
    is_parked: AtomicBool,
    /// The parking lot and slot while the connection is parked.
    parked: Mutex<Option<(Weak<Shared>, usize)>>,
}

impl fmt::Debug for ConnWake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnWake")
            .field("parked", &self.parked.lock().as_ref().map(|(_, slot)| slot))
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
        // Pairs with the fence in `park`: either this sees the flag or `park`
        // sees the permit just stored (or both).
        fence(Ordering::SeqCst);
        if !self.is_parked.load(Ordering::Relaxed) {
            return;
        }
        // Taken, then released before the watcher's lock (the lock order in
        // `Parking::park` is watcher, then handle).
        let parked = {
            let mut parked = self.parked.lock();
            self.is_parked.store(false, Ordering::Relaxed);
            parked.take()
        };
        if let Some((lot, slot)) = parked
            && let Some(lot) = lot.upgrade()
        {
            lot.woken(slot);
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
    pub(super) fn park(&self, lot: Weak<Shared>, slot: usize) -> bool {
        {
            let mut parked = self.parked.lock();
            *parked = Some((lot, slot));
            self.is_parked.store(true, Ordering::Relaxed);
        }
        fence(Ordering::SeqCst);
        let pending = pin!(self.notify.notified());
        pending
            .poll(&mut Context::from_waker(Waker::noop()))
            .is_ready()
    }

    /// The connection is no longer parked (resumed by something else than a
    /// wake-up): later wake-ups only store a permit.
    pub(super) fn unpark(&self) {
        let mut parked = self.parked.lock();
        self.is_parked.store(false, Ordering::Relaxed);
        *parked = None;
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
