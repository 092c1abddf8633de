//! Token buckets for per-connection rate limits. Over the rate, a connection's
//! reading pauses until the bucket refills (back-pressure): nothing is dropped.

use std::time::{Duration, Instant};

/// A token bucket of `rate` tokens per second holding at most one second's worth.
///
/// ```
/// use std::time::{Duration, Instant};
/// use realtime_server::conn::rate::TokenBucket;
///
/// let t0 = Instant::now();
/// let mut b = TokenBucket::new(10, t0);
/// b.take(15, t0);
/// // 5 tokens short at 10 per second: half a second until it is even again.
/// assert_eq!(b.resume_at(t0), Some(t0 + Duration::from_millis(500)));
/// assert_eq!(b.resume_at(t0 + Duration::from_secs(1)), None);
/// ```
///
/// Unlimited (rate 0) is the default everywhere and holds no bucket: the value is
/// one null pointer in each connection, not 32 bytes.
#[derive(Debug, Clone)]
pub struct TokenBucket(Option<Box<Bucket>>);

#[derive(Debug, Clone)]
struct Bucket {
    rate: u64,
    /// Tokens available; negative: owed.
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A full bucket of `rate` per second (0: unlimited).
    pub fn new(rate: u64, now: Instant) -> Self {
        Self((rate > 0).then(|| {
            Box::new(Bucket {
                rate,
                tokens: rate as f64,
                last: now,
            })
        }))
    }

    /// Whether the bucket limits anything.
    pub fn is_limited(&self) -> bool {
        self.0.is_some()
    }

    /// Takes `n` tokens (possibly going into debt).
    pub fn take(&mut self, n: u64, now: Instant) {
        if let Some(b) = &mut self.0 {
            b.refill(now);
            b.tokens -= n as f64;
        }
    }

    /// Like [`TokenBucket::resume_at`], without refilling (for `&self` checks).
    pub fn resume_at_peek(&self, now: Instant) -> Option<Instant> {
        let b = self.0.as_ref()?;
        let elapsed = now.saturating_duration_since(b.last).as_secs_f64();
        let tokens = b.tokens + elapsed * b.rate as f64;
        (tokens < 0.0).then(|| now + Duration::from_secs_f64((-tokens / b.rate as f64).max(0.001)))
    }

    /// [`TokenBucket::resume_at_peek`] now; reads the clock only when limited.
    pub fn resume_at_peek_now(&self) -> Option<Instant> {
        self.0.as_ref()?;
        self.resume_at_peek(Instant::now())
    }

    /// When the debt is paid, if there is one: until then, stop.
    pub fn resume_at(&mut self, now: Instant) -> Option<Instant> {
        let b = self.0.as_mut()?;
        b.refill(now);
        if b.tokens >= 0.0 {
            return None;
        }
        let wait = (-b.tokens / b.rate as f64).max(0.001);
        Some(now + Duration::from_secs_f64(wait))
    }
}

impl Bucket {
    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.last = now;
        self.tokens = (self.tokens + elapsed * self.rate as f64).min(self.rate as f64);
    }
}

/// The driver's byte rate limit on reading.
#[derive(Debug, Clone)]
pub(crate) struct ReadRate(TokenBucket);

impl ReadRate {
    /// `bytes_per_sec` (0: unlimited).
    pub(crate) fn new(bytes_per_sec: u64) -> Self {
        Self(TokenBucket::new(bytes_per_sec, Instant::now()))
    }

    /// `n` bytes were read.
    pub(crate) fn consumed(&mut self, n: usize) {
        // Unlimited (the default): no clock read on every read.
        if self.0.is_limited() {
            self.0.take(n as u64, Instant::now());
        }
    }

    /// While over the rate: when reading may resume.
    pub(crate) fn resume_at(&mut self) -> Option<tokio::time::Instant> {
        if !self.0.is_limited() {
            return None;
        }
        self.0
            .resume_at(Instant::now())
            .map(tokio::time::Instant::from_std)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_pauses_and_limited_refills() {
        let t0 = Instant::now();
        let mut free = TokenBucket::new(0, t0);
        assert!(!free.is_limited());
        free.take(1 << 40, t0);
        assert_eq!(free.resume_at(t0), None);
        assert_eq!(free.resume_at_peek(t0), None);
        assert_eq!(
            std::mem::size_of::<TokenBucket>(),
            8,
            "unlimited costs a pointer"
        );
        let mut b = TokenBucket::new(100, t0);
        b.take(100, t0);
        assert_eq!(b.resume_at(t0), None, "a full second's burst is allowed");
        b.take(50, t0);
        assert_eq!(b.resume_at(t0), Some(t0 + Duration::from_millis(500)));
        // Refilling never exceeds one second's worth.
        assert_eq!(b.resume_at(t0 + Duration::from_secs(100)), None);
        b.take(150, t0 + Duration::from_secs(100));
        assert!(b.resume_at(t0 + Duration::from_secs(100)).is_some());
    }
}
