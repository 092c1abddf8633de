//! [`ConnWake`]: a connection's wake handle.
//!
//! The broker, the client registry, the store and the authentication hooks wake a
//! connection's driver through it when something is ready for it (a delivery, a
//! take-over, a commit, an API disconnect). It is a permit (one stored wake-up
//! when nobody waits) and a single waiter's waker, like a `Notify` that only the
//! connection's own task waits on, and it knows whether its connection is parked:
//! then [`ConnWake::notify_one`] tells the parking watcher which slot to resume,
//! and the permit waits for the resumed driver. A parked connection so costs no
//! waiter registration (a pinned future and a waker, ~130 bytes each) on top of
//! its slot.
//!
//! One waiter, not a `Notify`'s list of them: a driver waits once per turn (one
//! read batch), and a `Notify` locks its waiter list to register and again to
//! unregister every time (~1.2% of the server's CPU in a 16-byte echo). The
//! single waker slot registers and leaves with a few atomic operations.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Weak;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering, fence};
use std::task::{Context, Poll};

use futures_util::task::AtomicWaker;

use super::park::Shared;

/// [`ConnWake::parked`] when the connection is not parked.
const NOT_PARKED: u64 = u64::MAX;

/// Every parking lot of the process, by id: a parked handle names its lot by
/// this index (4 bytes in the handle's one atomic word) instead of holding a
/// pointer to it (16 bytes in every connection's handle). Ids are not reused: a
/// handle left naming a lot that is gone finds nothing.
static LOTS: parking_lot::RwLock<Vec<Weak<Shared>>> = parking_lot::const_rwlock(Vec::new());

/// Registers a parking lot; its id (`u32::MAX`, which no handle parks under,
/// if there were ever that many).
pub(super) fn register_lot(lot: Weak<Shared>) -> u32 {
    let mut lots = LOTS.write();
    match u32::try_from(lots.len()) {
        Ok(id) if id != u32::MAX => {
            lots.push(lot);
            id
        }
        _ => u32::MAX,
    }
}

/// A connection's wake handle (share it as `Arc<ConnWake>`).
pub struct ConnWake {
    /// The waiting driver's waker (one waiter: the connection's own task).
    waiter: AtomicWaker,
    /// A wake-up nobody has taken yet.
    permit: AtomicBool,
    /// While the connection is parked: its lot's id (high half) and slot (low
    /// half); [`NOT_PARKED`] otherwise. What a wake-up of a running connection
    /// (the common case, once per delivery batch) reads, without a lock.
    parked: AtomicU64,
}

impl Default for ConnWake {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for ConnWake {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parked = self.parked.load(Ordering::Relaxed);
        f.debug_struct("ConnWake")
            .field("parked", &(parked != NOT_PARKED).then_some(parked as u32))
            .finish()
    }
}

impl ConnWake {
    /// A handle nobody has notified yet.
    pub fn new() -> Self {
        Self {
            waiter: AtomicWaker::new(),
            permit: AtomicBool::new(false),
            parked: AtomicU64::new(NOT_PARKED),
        }
    }

    /// Wakes the connection: its driver's next (or current) [`ConnWake::notified`]
    /// completes, and a parked connection resumes first.
    pub fn notify_one(&self) {
        self.permit.store(true, Ordering::SeqCst);
        self.waiter.wake();
        // Pairs with the fence in `park`: either this sees the slot or `park`
        // sees the permit just stored (or both).
        fence(Ordering::SeqCst);
        if self.parked.load(Ordering::Relaxed) == NOT_PARKED {
            return;
        }
        let parked = self.parked.swap(NOT_PARKED, Ordering::Relaxed);
        if parked == NOT_PARKED {
            return;
        }
        let (id, slot) = ((parked >> 32) as usize, parked as u32);
        let lot = LOTS.read().get(id).and_then(Weak::upgrade);
        if let Some(lot) = lot {
            // Waits for the watcher's lock, which `Parking::park` holds until the
            // slot is filled.
            lot.woken(slot as usize);
        }
    }

    /// Completes at the next [`ConnWake::notify_one`], or at once if one came
    /// since the last wait. One waiter at a time: only the connection's own task
    /// waits (a second concurrent waiter could take the first one's waker away).
    pub fn notified(&self) -> Notified<'_> {
        Notified {
            wake: self,
            registered: false,
        }
    }

    /// Takes the stored wake-up, if there is one.
    fn take_permit(&self) -> bool {
        // A load first: the common miss costs no read-modify-write.
        self.permit.load(Ordering::Relaxed) && self.permit.swap(false, Ordering::AcqRel)
    }

    /// Marks the connection parked in `slot` of lot `lot` (its
    /// [`register_lot`] id), then returns whether a wake-up was already pending
    /// (taking it: the caller resumes the connection and gives it back with
    /// [`ConnWake::unpark`] and [`ConnWake::notify_one`]). Marked first, so that a
    /// wake-up in between is seen by one or the other. Slots are numbered below
    /// `u32::MAX` (open files bound them far lower), and lot `u32::MAX` is none;
    /// otherwise it reports a (spurious) pending wake-up, so that the connection
    /// goes on instead.
    pub(super) fn park(&self, lot: u32, slot: usize) -> bool {
        let Some(slot) = u32::try_from(slot).ok().filter(|s| *s != u32::MAX) else {
            return true;
        };
        if lot == u32::MAX {
            return true;
        }
        self.parked
            .store(u64::from(lot) << 32 | u64::from(slot), Ordering::Relaxed);
        fence(Ordering::SeqCst);
        // The task that parks ends: it keeps no waker here (a waker holds the
        // ended task's memory until it is dropped).
        drop(self.waiter.take());
        self.permit.swap(false, Ordering::AcqRel)
    }

    /// The connection is no longer parked (resumed by something else than a
    /// wake-up): later wake-ups only store a permit.
    pub(super) fn unpark(&self) {
        self.parked.store(NOT_PARKED, Ordering::Relaxed);
    }
}

/// The future of [`ConnWake::notified`].
#[derive(Debug)]
#[must_use = "futures do nothing unless polled"]
pub struct Notified<'a> {
    wake: &'a ConnWake,
    /// Whether this wait left its waker in the handle (taken back when it ends).
    registered: bool,
}

impl Future for Notified<'_> {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let wake = self.wake;
        if wake.take_permit() {
            return Poll::Ready(());
        }
        wake.waiter.register(cx.waker());
        self.registered = true;
        // Checked again after registering: a wake-up in between either finds the
        // waker or leaves the permit seen here.
        if wake.take_permit() {
            return Poll::Ready(());
        }
        Poll::Pending
    }
}

impl Drop for Notified<'_> {
    fn drop(&mut self) {
        if self.registered {
            // No stale waker stays behind (it would keep an ended task's memory).
            drop(self.wake.waiter.take());
        }
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
        // A lot id no lot has: a wake-up of the parked handle finds nothing.
        let nowhere = u32::MAX - 1;
        assert!(!wake.park(nowhere, 3));
        wake.unpark();
        wake.notify_one();
        assert!(wake.park(nowhere, 3));
        assert!(!wake.park(nowhere, 3));
        wake.notify_one();
        assert!(
            wake.park(nowhere, 3),
            "a wake-up of a parked handle is kept too"
        );
        assert!(wake.park(u32::MAX, 3) && wake.park(nowhere, u32::MAX as usize));
        assert_eq!(std::mem::size_of::<ConnWake>(), 40);
    }
}
