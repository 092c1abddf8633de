//! Shared counters and the once-a-second progress line on stderr.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::procstat;

/// Counters every task of a run updates.
#[derive(Debug, Default)]
pub struct Counters {
    /// Messages sent (published, or echo requests).
    pub sent: AtomicU64,
    /// Messages received (delivered to subscribers, or echoes).
    pub received: AtomicU64,
    /// QoS 1/2 publishes acknowledged by the server.
    pub acked: AtomicU64,
    /// Times a publisher found its in-flight window full and had to wait.
    pub window_full: AtomicU64,
    /// Nanoseconds publishers spent waiting for a window slot or a blocked write.
    pub blocked_ns: AtomicU64,
    /// Connections the server closed or reset during the run.
    pub disconnects: AtomicU64,
    /// Connections opened.
    pub connected: AtomicU64,
    /// Connection attempts that failed.
    pub failed: AtomicU64,
}

impl Counters {
    /// Fresh counters.
    pub fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }

    /// Adds `n` to `counter`.
    pub fn add(counter: &AtomicU64, n: u64) {
        counter.fetch_add(n, Ordering::Relaxed);
    }

    /// Reads `counter`.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The progress task; stops when dropped.
#[derive(Debug)]
pub struct Progress {
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Progress {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Prints `label`, the send/receive rates, connections and the server's CPU use and
/// RSS to stderr every second.
pub fn start(label: String, counters: Arc<Counters>, server_pid: Option<u32>) -> Progress {
    let task = tokio::spawn(async move {
        let start = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let (mut sent, mut recv) = (0u64, 0u64);
        let mut cpu = server_pid.and_then(|p| procstat::sample(p).ok());
        loop {
            tick.tick().await;
            let s = Counters::get(&counters.sent);
            let r = Counters::get(&counters.received);
            let server = match (server_pid.and_then(|p| procstat::sample(p).ok()), cpu) {
                (Some(now), Some(before)) => {
                    cpu = Some(now);
                    format!(
                        " | server cpu {:>3.0}% rss {:.1} MiB",
                        (now.cpu_s - before.cpu_s) * 100.0,
                        now.rss as f64 / 1048576.0
                    )
                }
                _ => String::new(),
            };
            eprintln!(
                "[{label}] {:>4}s sent {:>9}/s recv {:>9}/s conns {}{}{server}",
                start.elapsed().as_secs(),
                s - sent,
                r - recv,
                Counters::get(&counters.connected),
                match Counters::get(&counters.disconnects) {
                    0 => String::new(),
                    d => format!(" disconnects {d}"),
                },
            );
            (sent, recv) = (s, r);
        }
    });
    Progress { task }
}
