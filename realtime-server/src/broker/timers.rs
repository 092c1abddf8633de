//! Broker-wide deadlines: delayed Wills and session expiry. Entries are hints:
//! when one comes due, the broker checks the session still needs it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use super::session::Session;

/// What a deadline is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Timer {
    /// A Will Delay Interval ends.
    Will,
    /// A Session Expiry Interval ends.
    Expiry,
}

/// Deadlines in time order.
#[derive(Debug, Default)]
pub(super) struct Timers {
    entries: BTreeMap<(Instant, u64), (Timer, Arc<Session>)>,
    seq: u64,
}

impl Timers {
    pub(super) fn add(&mut self, due: Instant, kind: Timer, session: Arc<Session>) {
        self.seq += 1;
        self.entries.insert((due, self.seq), (kind, session));
    }

    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.entries.keys().next().map(|(t, _)| *t)
    }

    /// Removes and returns the entries due at `now`.
    pub(super) fn take_due(&mut self, now: Instant) -> Vec<(Timer, Arc<Session>)> {
        let later = self.entries.split_off(&(now, u64::MAX));
        let due = std::mem::replace(&mut self.entries, later);
        due.into_values().collect()
    }
}
