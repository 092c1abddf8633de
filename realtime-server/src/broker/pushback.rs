//! Back-pressure from subscribers to publishers: a publisher whose message filled
//! a subscriber's queue past its high-water mark stops reading until that queue
//! drains, instead of the queue growing to seconds of latency and then dropping.
//!
//! A subscriber that does not drain within [`GRACE`] is a slow consumer: it no
//! longer holds publishers back (its queue fills and the documented drop policy
//! applies), so one stuck client cannot stall every publisher of its topics.

use std::sync::Arc;
use std::time::{Duration, Instant};

/// The longest a subscriber may hold publishers back before it counts as a slow
/// consumer; also the longest a publisher pauses for one congested subscriber.
pub const GRACE: Duration = Duration::from_millis(100);

/// Most publishers remembered as waiting on one subscriber; more still pause, and
/// resume at the end of their [`GRACE`].
const MAX_WAITERS: usize = 64;

/// The queue length at which a subscriber holds publishers back.
pub fn high_water(max_messages: usize) -> usize {
    (max_messages / 4).max(1)
}

/// The queue length at which waiting publishers are released.
pub fn low_water(max_messages: usize) -> usize {
    high_water(max_messages) / 2
}

/// The congestion state of one subscriber's queue: nothing (8 bytes, no
/// allocation) unless the queue is above its high-water mark.
#[derive(Debug, Default)]
pub struct Congestion(Option<Box<Congested>>);

#[derive(Debug)]
struct Congested {
    /// Since when the queue has been above its high-water mark.
    since: Instant,
    /// The wakers of the publishers paused on this queue.
    waiters: Vec<Arc<crate::conn::ConnWake>>,
}

impl Congestion {
    /// After a message was queued, `queued` long: whether the publisher (whose
    /// connection `waker` wakes) should pause reading until this queue drains.
    pub fn on_push(
        &mut self,
        queued: usize,
        max_messages: usize,
        waker: &Arc<crate::conn::ConnWake>,
        now: Instant,
    ) -> bool {
        if queued < high_water(max_messages) {
            return false;
        }
        let c = self.0.get_or_insert_with(|| {
            Box::new(Congested {
                since: now,
                waiters: Vec::new(),
            })
        });
        if now.duration_since(c.since) > GRACE {
            // A slow consumer: it keeps its own queue limits, not the publishers.
            return false;
        }
        if c.waiters.len() < MAX_WAITERS && !c.waiters.iter().any(|w| Arc::ptr_eq(w, waker)) {
            c.waiters.push(waker.clone());
        }
        true
    }

    /// After a message left the queue, `queued` long: releases the waiting
    /// publishers once it is down to its low-water mark.
    pub fn on_pop(&mut self, queued: usize, max_messages: usize) {
        if self.0.is_some() && queued <= low_water(max_messages) {
            self.release();
        }
    }

    /// Releases every waiting publisher (the queue drained, or its connection
    /// went away).
    pub fn release(&mut self) {
        if let Some(c) = self.0.take() {
            for w in c.waiters {
                w.notify_one();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pauses_above_high_water_and_releases_at_low_water() {
        let mut c = Congestion::default();
        assert!(c.0.is_none());
        let waker = Arc::new(crate::conn::ConnWake::new());
        let now = Instant::now();
        assert!(!c.on_push(249, 1000, &waker, now));
        assert!(c.on_push(250, 1000, &waker, now));
        assert!(c.on_push(251, 1000, &waker, now));
        let waiters = |c: &Congestion| c.0.as_ref().map(|c| c.waiters.len());
        assert_eq!(waiters(&c), Some(1), "one entry per publisher");
        c.on_pop(200, 1000);
        assert_eq!(waiters(&c), Some(1), "still above low water");
        c.on_pop(125, 1000);
        assert!(c.0.is_none(), "released, nothing held");
    }

    #[test]
    fn a_subscriber_congested_past_the_grace_no_longer_holds_publishers() {
        let mut c = Congestion::default();
        let waker = Arc::new(crate::conn::ConnWake::new());
        let now = Instant::now();
        assert!(c.on_push(300, 1000, &waker, now));
        assert!(!c.on_push(300, 1000, &waker, now + GRACE * 2));
        c.on_pop(0, 1000);
        assert!(
            c.on_push(300, 1000, &waker, now + GRACE * 3),
            "drained: a new episode"
        );
    }

    #[test]
    fn release_wakes_waiting_publishers() {
        let mut c = Congestion::default();
        let waker = Arc::new(crate::conn::ConnWake::new());
        assert!(c.on_push(1, 1, &waker, Instant::now()));
        c.release();
        // A permit was stored: the next `notified()` completes at once.
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            tokio::time::timeout(Duration::from_secs(1), waker.notified())
                .await
                .unwrap();
        });
    }
}
