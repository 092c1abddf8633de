//! A Criterion measurement of the calling thread's CPU time
//! (`CLOCK_THREAD_CPUTIME_ID`), not wall time: the machine is shared, and time spent
//! descheduled would otherwise land on whichever side of a comparison happened to be
//! running.
//!
//! Shared by the codec benchmarks of mqtt-proto and ws-proto, which include it with
//! `#[path = "../../bench/shared/thread_cpu.rs"] mod thread_cpu;` (each needs `libc`
//! and `criterion` as dev-dependencies).

use std::time::Duration;

use criterion::measurement::{Measurement, ValueFormatter, WallTime};

/// Criterion measurement: CPU time of the calling thread.
pub(crate) struct ThreadCpuTime;

/// The calling thread's CPU time so far.
#[allow(unsafe_code)]
pub(crate) fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec and CLOCK_THREAD_CPUTIME_ID is
    // supported on Linux; the call writes nothing else.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime(CLOCK_THREAD_CPUTIME_ID)");
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// Formats values as durations, like wall time.
static WALL: WallTime = WallTime;

impl Measurement for ThreadCpuTime {
    type Intermediate = Duration;
    type Value = Duration;
    fn start(&self) -> Self::Intermediate {
        thread_cpu_time()
    }
    fn end(&self, start: Self::Intermediate) -> Self::Value {
        thread_cpu_time().saturating_sub(start)
    }
    fn add(&self, a: &Self::Value, b: &Self::Value) -> Self::Value {
        *a + *b
    }
    fn zero(&self) -> Self::Value {
        Duration::ZERO
    }
    fn to_f64(&self, v: &Self::Value) -> f64 {
        v.as_nanos() as f64
    }
    fn formatter(&self) -> &dyn ValueFormatter {
        WALL.formatter()
    }
}
