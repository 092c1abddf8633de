//! [`ConnLimiter`]: counts open connections, total and per IP address, refuses
//! those over the limits before any protocol work, and lets shutdown wait until
//! every connection has said goodbye.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;

use crate::metrics::Counter;

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// [`ConnLimiter::max_total`] connections are open.
    MaxConnections,
    /// [`ConnLimiter::max_per_ip`] connections from this address are open.
    MaxConnectionsPerIp,
}

impl Refused {
    /// `max_connections` or `max_connections_per_ip`.
    pub fn label(self) -> &'static str {
        match self {
            Self::MaxConnections => "max_connections",
            Self::MaxConnectionsPerIp => "max_connections_per_ip",
        }
    }
}

#[derive(Debug, Default)]
struct Counts {
    total: usize,
    /// Keyed by the address as IPv6 (IPv4 mapped): one host, one count, and a
    /// permit holds 16 bytes of address, not an `IpAddr`'s 17 padded to 24.
    per_ip: HashMap<Ipv6Addr, usize>,
}

/// Connection limits shared by every listener.
///
/// ```
/// use realtime_server::conn::limit::{ConnLimiter, Refused};
///
/// let limiter = ConnLimiter::new(2, 1);
/// let ip = "127.0.0.1".parse().unwrap();
/// let first = limiter.try_acquire(ip).unwrap();
/// assert_eq!(limiter.try_acquire(ip).unwrap_err(), Refused::MaxConnectionsPerIp);
/// drop(first);
/// assert!(limiter.try_acquire(ip).is_ok());
/// ```
#[derive(Debug)]
pub struct ConnLimiter {
    /// Most connections at once (0: no limit).
    pub max_total: usize,
    /// Most connections at once per IP address (0: no limit).
    pub max_per_ip: usize,
    counts: Mutex<Counts>,
    idle: Notify,
    /// Connections refused because of `max_total`.
    pub refused_total: Counter,
    /// Connections refused because of `max_per_ip`.
    pub refused_per_ip: Counter,
}

/// One open connection; dropping it releases its place.
#[derive(Debug)]
pub struct ConnPermit {
    limiter: Arc<ConnLimiter>,
    /// Counted in `per_ip` only when the limiter has a per-address limit.
    ip: Ipv6Addr,
}

impl ConnLimiter {
    /// A limiter (0 means no limit).
    pub fn new(max_total: usize, max_per_ip: usize) -> Arc<Self> {
        Arc::new(Self {
            max_total,
            max_per_ip,
            counts: Mutex::new(Counts::default()),
            idle: Notify::new(),
            refused_total: Counter::default(),
            refused_per_ip: Counter::default(),
        })
    }

    /// Takes a place for a connection from `ip`, or says which limit refuses it.
    pub fn try_acquire(self: &Arc<Self>, ip: IpAddr) -> Result<ConnPermit, Refused> {
        let mut c = self.counts.lock();
        if self.max_total > 0 && c.total >= self.max_total {
            self.refused_total.inc();
            return Err(Refused::MaxConnections);
        }
        let key = match ip {
            IpAddr::V4(v4) => v4.to_ipv6_mapped(),
            IpAddr::V6(v6) => v6,
        };
        if self.max_per_ip > 0 {
            let n = c.per_ip.entry(key).or_insert(0);
            if *n >= self.max_per_ip {
                self.refused_per_ip.inc();
                if *n == 0 {
                    c.per_ip.remove(&key);
                }
                return Err(Refused::MaxConnectionsPerIp);
            }
            *n += 1;
        }
        c.total += 1;
        Ok(ConnPermit {
            limiter: self.clone(),
            ip: key,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.counts.lock().total
    }

    /// Waits until no connection is open, at most `limit`; returns whether none is.
    pub async fn wait_idle(&self, limit: Duration) -> bool {
        let wait = async {
            loop {
                let notified = self.idle.notified();
                if self.open() == 0 {
                    return;
                }
                notified.await;
            }
        };
        tokio::time::timeout(limit, wait).await.is_ok()
    }
}

impl Drop for ConnPermit {
    fn drop(&mut self) {
        let mut c = self.limiter.counts.lock();
        c.total = c.total.saturating_sub(1);
        if self.limiter.max_per_ip > 0
            && let Some(n) = c.per_ip.get_mut(&self.ip)
        {
            *n -= 1;
            if *n == 0 {
                c.per_ip.remove(&self.ip);
            }
        }
        if c.total == 0 {
            self.limiter.idle.notify_waiters();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn total_and_per_ip_limits_release_on_drop() {
        let l = ConnLimiter::new(3, 2);
        let a: IpAddr = "10.0.0.1".parse().unwrap();
        let b: IpAddr = "10.0.0.2".parse().unwrap();
        let p1 = l.try_acquire(a).unwrap();
        let _p2 = l.try_acquire(a).unwrap();
        assert_eq!(l.try_acquire(a).unwrap_err(), Refused::MaxConnectionsPerIp);
        let _p3 = l.try_acquire(b).unwrap();
        assert_eq!(l.try_acquire(b).unwrap_err(), Refused::MaxConnections);
        drop(p1);
        assert!(l.try_acquire(b).is_ok());
        assert_eq!(l.refused_total.get(), 1);
        assert_eq!(l.refused_per_ip.get(), 1);
    }

    /// An IPv4 client and the same address IPv4-mapped over IPv6 are one host; the
    /// count goes when the last permit does; without a per-address limit nothing
    /// is counted per address.
    #[test]
    fn per_ip_counts_one_host_once_and_only_with_a_limit() {
        let l = ConnLimiter::new(0, 2);
        let v4: IpAddr = "10.0.0.1".parse().unwrap();
        let mapped: IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        let p1 = l.try_acquire(v4).unwrap();
        let p2 = l.try_acquire(mapped).unwrap();
        assert_eq!(l.try_acquire(v4).unwrap_err(), Refused::MaxConnectionsPerIp);
        drop((p1, p2));
        assert!(l.counts.lock().per_ip.is_empty());
        let free = ConnLimiter::new(0, 0);
        let _p = free.try_acquire(v4).unwrap();
        assert!(free.counts.lock().per_ip.is_empty() && free.open() == 1);
        assert_eq!(std::mem::size_of::<ConnPermit>(), 24);
    }

    #[tokio::test]
    async fn wait_idle_returns_when_the_last_connection_ends() {
        let l = ConnLimiter::new(0, 0);
        let p = l.try_acquire("127.0.0.1".parse().unwrap()).unwrap();
        assert!(!l.wait_idle(Duration::from_millis(20)).await);
        let waiter = {
            let l = l.clone();
            tokio::spawn(async move { l.wait_idle(Duration::from_secs(30)).await })
        };
        tokio::task::yield_now().await;
        drop(p);
        assert!(waiter.await.unwrap());
    }
}
