//! Latency percentiles: an HdrHistogram shared by every connection task, fed in batches
//! so that thousands of tasks do not contend on its lock per message.

use std::sync::{Arc, Mutex};

use hdrhistogram::Histogram;

/// Samples a task keeps before merging them into the shared histogram.
const BATCH: usize = 256;

/// The shared histogram, in nanoseconds (1 µs to 10 minutes, 3 significant digits).
#[derive(Debug)]
pub struct Latencies {
    hist: Mutex<Histogram<u64>>,
}

impl Latencies {
    /// An empty histogram.
    pub fn new() -> crate::Result<Arc<Self>> {
        let hist = Histogram::new_with_bounds(1_000, 600_000_000_000, 3)
            .map_err(|e| crate::error(format!("histogram: {e}")))?;
        Ok(Arc::new(Self {
            hist: Mutex::new(hist),
        }))
    }

    /// A per-task recorder feeding this histogram.
    pub fn recorder(self: &Arc<Self>) -> Recorder {
        Recorder {
            shared: self.clone(),
            batch: Vec::with_capacity(BATCH),
        }
    }

    /// The percentiles of everything recorded so far.
    pub fn summary(&self) -> Summary {
        let hist = match self.hist.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        let ms = |q: f64| hist.value_at_quantile(q) as f64 / 1e6;
        Summary {
            count: hist.len(),
            p50_ms: ms(0.50),
            p90_ms: ms(0.90),
            p99_ms: ms(0.99),
            p999_ms: ms(0.999),
            max_ms: hist.max() as f64 / 1e6,
        }
    }

    fn merge(&self, samples: &[u64]) {
        let mut hist = match self.hist.lock() {
            Ok(h) => h,
            Err(poisoned) => poisoned.into_inner(),
        };
        for &s in samples {
            hist.saturating_record(s);
        }
    }
}

/// Latency percentiles in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Summary {
    /// Samples recorded.
    pub count: u64,
    /// Median.
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
    /// 99.9th percentile.
    pub p999_ms: f64,
    /// Largest sample.
    pub max_ms: f64,
}

/// One task's buffer of samples; merged into the shared histogram every [`BATCH`]
/// samples and when dropped.
#[derive(Debug)]
pub struct Recorder {
    shared: Arc<Latencies>,
    batch: Vec<u64>,
}

impl Recorder {
    /// Records one latency in nanoseconds.
    pub fn record(&mut self, ns: u64) {
        self.batch.push(ns);
        if self.batch.len() >= BATCH {
            self.flush();
        }
    }

    /// Merges the buffered samples now.
    pub fn flush(&mut self) {
        if !self.batch.is_empty() {
            self.shared.merge(&self.batch);
            self.batch.clear();
        }
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorders_merge_into_one_histogram_on_drop() {
        let lat = Latencies::new().unwrap();
        {
            let mut a = lat.recorder();
            let mut b = lat.recorder();
            for i in 1..=100u64 {
                a.record(i * 1_000_000);
                b.record(i * 1_000_000);
            }
        }
        let s = lat.summary();
        assert_eq!(s.count, 200);
        assert!((s.p50_ms - 50.0).abs() < 0.1, "{s:?}");
        assert!((s.max_ms - 100.0).abs() < 0.1, "{s:?}");
    }
}
