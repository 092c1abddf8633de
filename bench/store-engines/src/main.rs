//! Storage-engine benchmark for the broker's durable store (see docs/store-engine.md).
//!
//! Workload: QoS 1 fan-in. Each publish writes one message record (64 B payload +
//! 40 B metadata) and one outbound-queue record per persistent subscriber (K = 1 or
//! 10); acknowledgements arrive `ACK_LAG` publishes later and delete the outbound
//! records and then the message. Publishes are grouped `batch` per transaction
//! (group commit). `sync`: every commit fsynced. `periodic`: commits not fsynced,
//! one fsync every 100 ms.
//!
//!   cargo run --release -- [seconds-per-cell [rounds [engine]]]   the throughput table + recovery
//!   cargo run --release -- fill ENGINE DIR N K       (internal) child that fills and "crashes"

mod engines;
// realtime-bench's /proc reader (CPU seconds and RSS), shared rather than copied.
#[allow(dead_code)]
#[path = "../../realtime-bench/src/procstat.rs"]
mod procstat;

use engines::{ENGINES, Op, Res};
use std::path::Path;
use std::time::{Duration, Instant};

const ACK_LAG: u64 = 1024;
const PERIODIC: Duration = Duration::from_millis(100);
const RECOVERY_RECORDS: u64 = 100_000;

fn msg_body(id: u64) -> Vec<u8> {
    // ~40 B metadata: topic, qos, retain, expiry, properties length; 64 B payload.
    let mut v = Vec::with_capacity(104);
    v.extend_from_slice(b"sensors/0042/temperature"); // 24
    v.push(1); // qos
    v.push(0); // retain
    v.extend_from_slice(&id.to_be_bytes()); // expiry / id
    v.extend_from_slice(&[0u8; 6]); // properties length + padding
    v.extend((0..64u64).map(|i| (id.wrapping_mul(31).wrapping_add(i) & 0xff) as u8));
    v
}

fn out_key(sub: u32, seq: u64) -> Vec<u8> {
    let mut k = format!("subscriber-{sub:04}").into_bytes();
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

fn out_body(msg: u64) -> Vec<u8> {
    let mut v = msg.to_be_bytes().to_vec();
    v.extend_from_slice(&[1, 0, 0, 0]); // qos, retain, state, no subscription ids
    v
}

fn publish_ops(ops: &mut Vec<Op>, id: u64, k: u32) {
    ops.push(Op::PutMsg(id, msg_body(id)));
    for s in 0..k {
        ops.push(Op::PutOut(out_key(s, id), out_body(id)));
    }
}

fn ack_ops(ops: &mut Vec<Op>, id: u64, k: u32) {
    for s in 0..k {
        ops.push(Op::DelOut(out_key(s, id)));
    }
    ops.push(Op::DelMsg(id));
}

/// Bytes this process caused to be written to storage (/proc/self/io).
fn write_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| {
                    l.strip_prefix("write_bytes: ")
                        .map(|n| n.trim().parse().ok())
                })
                .flatten()
        })
        .unwrap_or(0)
}

/// CPU time (user + system, all threads) this process has used so far, in seconds.
fn cpu_secs() -> f64 {
    procstat::own().map_or(0.0, |s| s.cpu_s)
}

/// Disk space actually allocated under `p` (st_blocks, so sparse or preallocated
/// files count for what they occupy).
fn dir_size(p: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(rd) = std::fs::read_dir(p) else {
        return 0;
    };
    rd.flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => dir_size(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

struct Cell {
    publishes_per_s: f64,
    bytes_per_publish: f64,
    cpu_us_per_publish: f64,
    disk: u64,
}

fn run_cell(engine: &str, k: u32, batch: u64, fsync: bool, secs: f64) -> Res<Cell> {
    let dir = tempfile::tempdir_in(".")?;
    let mut db = engines::open(engine, dir.path())?;
    let mut ops = Vec::new();
    let (mut next, mut acked) = (0u64, 0u64);
    let w0 = write_bytes();
    let c0 = cpu_secs();
    let t0 = Instant::now();
    let mut last_sync = t0;
    let limit = Duration::from_secs_f64(secs);
    while t0.elapsed() < limit {
        ops.clear();
        for _ in 0..batch {
            publish_ops(&mut ops, next, k);
            next += 1;
        }
        while acked + ACK_LAG < next {
            ack_ops(&mut ops, acked, k);
            acked += 1;
        }
        db.apply(&ops, fsync)?;
        if !fsync && last_sync.elapsed() >= PERIODIC {
            db.sync_now()?;
            last_sync = Instant::now();
        }
    }
    if !fsync {
        db.sync_now()?;
    }
    let el = t0.elapsed().as_secs_f64();
    let written = write_bytes().saturating_sub(w0);
    let cpu = cpu_secs() - c0;
    let disk = dir_size(dir.path());
    drop(db);
    Ok(Cell {
        publishes_per_s: next as f64 / el,
        bytes_per_publish: written as f64 / next as f64,
        cpu_us_per_publish: cpu * 1e6 / next as f64,
        disk,
    })
}

/// Child process: writes RECOVERY_RECORDS outbound records (K per message), makes
/// them durable, then exits without closing the engine (as a crash would).
fn fill(engine: &str, dir: &Path, n: u64, k: u32) -> Res<()> {
    let mut db = engines::open(engine, dir)?;
    let msgs = n / u64::from(k);
    let mut ops = Vec::new();
    for chunk in (0..msgs).collect::<Vec<_>>().chunks(256) {
        ops.clear();
        for &id in chunk {
            publish_ops(&mut ops, id, k);
        }
        db.apply(&ops, false)?;
    }
    db.sync_now()?;
    db.apply(&[], true)?;
    std::process::exit(0);
}

fn recovery(engine: &str, k: u32) -> Res<(f64, f64, u64, usize)> {
    let dir = tempfile::tempdir_in(".")?;
    let exe = std::env::current_exe()?;
    let st = std::process::Command::new(exe)
        .args(["fill", engine])
        .arg(dir.path())
        .args([RECOVERY_RECORDS.to_string(), k.to_string()])
        .status()?;
    if !st.success() {
        return Err(format!("fill child failed: {st}").into());
    }
    let disk = dir_size(dir.path());
    // After the simulated crash: open (engine recovery) + read everything.
    let t0 = Instant::now();
    let db = engines::open(engine, dir.path())?;
    let (m, o, _) = db.load_all()?;
    let crash = t0.elapsed().as_secs_f64();
    drop(db);
    // After a clean close.
    let t0 = Instant::now();
    let db = engines::open(engine, dir.path())?;
    let (m2, o2, _) = db.load_all()?;
    let clean = t0.elapsed().as_secs_f64();
    if (m, o) != (m2, o2) || o as u64 != RECOVERY_RECORDS {
        return Err(format!("{engine}: loaded {m}/{o} then {m2}/{o2} records").into());
    }
    Ok((crash, clean, disk, m + o))
}

fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("fill") {
        let engine = &args[2];
        let n: u64 = args[4].parse()?;
        let k: u32 = args[5].parse()?;
        return fill(engine, Path::new(&args[3]), n, k);
    }
    let secs: f64 = args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(2.0);
    let rounds: usize = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(3);
    let only: Option<&str> = args.get(3).map(String::as_str);
    println!(
        "# store engines: QoS 1 fan-in, {secs} s per cell, {rounds} rounds, ack lag {ACK_LAG} publishes"
    );
    println!(
        "# publishes/s (records/s = publishes/s x (1+K)); CPU = user+system time of all threads per publish;"
    );
    println!(
        "# B written/pub = bytes sent to storage per publish (/proc/self/io); disk = space allocated at the end"
    );
    println!();
    println!(
        "| engine | mode | K | batch | publishes/s (median) | min-max | records/s | CPU µs/pub | B written/pub | disk |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|");
    let mut cells = Vec::new();
    for engine in ENGINES.into_iter().filter(|e| only.is_none_or(|o| o == *e)) {
        for fsync in [true, false] {
            for k in [1u32, 10] {
                for batch in [1u64, 16, 256] {
                    cells.push((engine, fsync, k, batch, Vec::new()));
                }
            }
        }
    }
    // Rounds interleave the cells so that a burst of load from other processes on
    // the shared machine hits one sample of many cells, not every sample of one.
    for _ in 0..rounds {
        for (engine, fsync, k, batch, runs) in &mut cells {
            runs.push(run_cell(engine, *k, *batch, *fsync, secs)?);
        }
    }
    for (engine, fsync, k, batch, mut runs) in cells {
        runs.sort_by(|a, b| a.publishes_per_s.total_cmp(&b.publishes_per_s));
        let c = &runs[runs.len() / 2];
        println!(
            "| {engine} | {} | {k} | {batch} | {:.0} | {:.0}-{:.0} | {:.0} | {:.1} | {:.0} | {:.1} MiB |",
            if fsync { "sync" } else { "periodic" },
            c.publishes_per_s,
            runs[0].publishes_per_s,
            runs[runs.len() - 1].publishes_per_s,
            c.publishes_per_s * f64::from(1 + k),
            c.cpu_us_per_publish,
            c.bytes_per_publish,
            c.disk as f64 / 1048576.0
        );
    }
    println!();
    println!(
        "# recovery: {RECOVERY_RECORDS} queued outbound records (K=10, so 10,000 messages), open + read all; median of {rounds}"
    );
    println!();
    println!("| engine | after crash (ms) | after clean close (ms) | disk |");
    println!("|---|---:|---:|---:|");
    for engine in ENGINES.into_iter().filter(|e| only.is_none_or(|o| o == *e)) {
        let mut runs = (0..rounds)
            .map(|_| recovery(engine, 10))
            .collect::<Res<Vec<_>>>()?;
        runs.sort_by(|a, b| a.0.total_cmp(&b.0));
        let crash = runs[runs.len() / 2].0;
        runs.sort_by(|a, b| a.1.total_cmp(&b.1));
        let (clean, disk) = (runs[runs.len() / 2].1, runs[0].2);
        println!(
            "| {engine} | {:.0} | {:.0} | {:.1} MiB |",
            crash * 1e3,
            clean * 1e3,
            disk as f64 / 1048576.0
        );
    }
    Ok(())
}
