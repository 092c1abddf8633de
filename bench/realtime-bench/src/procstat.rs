//! The server's cost, read from `/proc/<pid>`: CPU seconds (user + system, all threads)
//! and resident memory.
//!
//! Also included by `#[path]` into realtime-server's `store_throughput` example and
//! bench/store-engines: it must stay std-only, without `crate::` paths.

use std::io;

/// Linux reports `utime`/`stime` in USER_HZ ticks, which is 100 on every architecture
/// the kernel's ABI exposes (`sysconf(_SC_CLK_TCK)`).
const TICKS_PER_SECOND: f64 = 100.0;

/// One reading of a process's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProcSample {
    /// User + system CPU time of every thread, seconds (10 ms resolution).
    pub cpu_s: f64,
    /// Resident set size, bytes.
    pub rss: u64,
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status`.
pub fn sample(pid: u32) -> io::Result<ProcSample> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    Ok(ProcSample {
        cpu_s: parse_cpu(&stat)?,
        rss: parse_rss(&status)?,
    })
}

/// Reads this process's own counters.
pub fn own() -> io::Result<ProcSample> {
    sample(std::process::id())
}

fn bad(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("/proc: cannot parse {what}"),
    )
}

/// `utime` and `stime` are fields 14 and 15 of `stat`; the command name (field 2) may
/// hold spaces and parentheses, so fields are counted after its last `)`.
fn parse_cpu(stat: &str) -> io::Result<f64> {
    let after = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or_else(|| bad("stat"))?;
    let mut fields = after.split_whitespace().skip(11);
    let mut next = || -> io::Result<f64> {
        fields
            .next()
            .and_then(|f| f.parse::<u64>().ok())
            .map(|ticks| ticks as f64 / TICKS_PER_SECOND)
            .ok_or_else(|| bad("stat utime/stime"))
    };
    Ok(next()? + next()?)
}

fn parse_rss(status: &str) -> io::Result<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .ok_or_else(|| bad("status VmRSS"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_command_name_with_spaces_and_parentheses() {
        let stat = "42 (my (odd) name) S 1 42 42 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 3 0";
        assert!((parse_cpu(stat).unwrap() - 3.25).abs() < 1e-9);
        assert_eq!(
            parse_rss("Name:\tx\nVmRSS:\t   1234 kB\n").unwrap(),
            1234 * 1024
        );
    }

    #[test]
    fn reads_this_process() {
        let s = own().unwrap();
        assert!(s.rss > 0);
    }
}
