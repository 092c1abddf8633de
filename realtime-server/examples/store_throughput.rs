//! Throughput of the durable store through its own API, in each mode:
//! QoS 1 fan-in from 64 connections (tokio tasks) with 16 publishes in flight
//! each (a receive maximum of 16). A connection submits each publish (its
//! message and one outbound record per persistent subscriber, K = 1 or 10),
//! then waits for `wait_durable` of its last ticket before counting the 16
//! PUBACKs; the subscribers' acknowledgements of the previous window delete
//! its outbound records (submitted without waiting). Prints publishes/s (median
//! of the rounds), the ratio to `memory`, and CPU time per publish.
//!
//! ```sh
//! cargo run --release -p realtime-server --example store_throughput -- [seconds] [rounds]
//! ```

use bytes::Bytes;
use realtime_server::store::{
    OutboundRecord, OutboundState, Store, StoreMode, StoreOp, StoreOptions, StoredMessage,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

// The load generator's /proc reader (CPU seconds and RSS), shared rather than copied.
#[allow(dead_code, unreachable_pub)]
#[path = "../../bench/realtime-bench/src/procstat.rs"]
mod procstat;

const CONNECTIONS: u64 = 64;
/// Publishes in flight per connection (awaiting their PUBACK).
const IN_FLIGHT: u64 = 16;

fn publish(id: u64, k: u64) -> Vec<StoreOp> {
    let mut ops = vec![StoreOp::PutMessage(StoredMessage {
        id,
        topic: "sensors/0042/temperature".into(),
        payload: Bytes::from(vec![0x5a; 64]),
        qos: 1,
        retain: false,
        properties: Bytes::new(),
        expiry_at_unix_ms: None,
    })];
    for s in 0..k {
        ops.push(StoreOp::PutOutbound(OutboundRecord {
            client_id: format!("subscriber-{s:04}"),
            seq: id,
            message_id: id,
            qos: 1,
            retain: false,
            subscription_ids: vec![],
            state: OutboundState::Queued,
        }));
    }
    ops
}

fn acknowledge(id: u64, k: u64) -> Vec<StoreOp> {
    (0..k)
        .map(|s| StoreOp::DeleteOutbound {
            client_id: format!("subscriber-{s:04}"),
            seq: id,
        })
        .collect()
}

/// One connection: reads up to `IN_FLIGHT` publishes, submitting each, then
/// waits for the last ticket (tickets are ordered, so all of them are durable)
/// and "sends" their PUBACKs; meanwhile the subscribers acknowledge the previous
/// window, deleting its outbound records (no need to wait for that).
async fn connection(
    store: Store,
    k: u64,
    until: Instant,
    done: Arc<AtomicU64>,
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut previous: Vec<u64> = Vec::new();
    while Instant::now() < until {
        let mut window = Vec::with_capacity(IN_FLIGHT as usize);
        let mut last = None;
        for _ in 0..IN_FLIGHT {
            let id = store.allocate_message_id();
            last = Some(store.submit_async(publish(id, k)).await?);
            window.push(id);
        }
        if let Some(ticket) = last {
            store.wait_durable(ticket).await?;
        }
        done.fetch_add(IN_FLIGHT, Ordering::Relaxed);
        for p in std::mem::replace(&mut previous, window) {
            store.submit_async(acknowledge(p, k)).await?;
        }
    }
    Ok(())
}

/// CPU time (user + system, all threads) of this process so far, in seconds
/// (Linux `/proc/self/stat`; 0 elsewhere).
fn cpu_secs() -> f64 {
    procstat::own().map_or(0.0, |s| s.cpu_s)
}

/// One run: (publishes/s, CPU µs per publish).
fn run(
    mode: StoreMode,
    k: u64,
    secs: f64,
) -> Result<(f64, f64), Box<dyn std::error::Error + Send + Sync>> {
    let dir = std::env::temp_dir().join(format!("store-throughput-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let store = Store::open(
        &dir,
        StoreOptions {
            mode,
            ..Default::default()
        },
    )?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let done = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu_secs();
    let start = Instant::now();
    let until = start + Duration::from_secs_f64(secs);
    rt.block_on(async {
        let tasks: Vec<_> = (0..CONNECTIONS)
            .map(|_| tokio::spawn(connection(store.clone(), k, until, Arc::clone(&done))))
            .collect();
        for t in tasks {
            t.await??;
        }
        store.flush().await?;
        Ok::<_, Box<dyn std::error::Error + Send + Sync>>(())
    })?;
    drop(store); // the writer commits what is left and stops
    let n = done.load(Ordering::Relaxed) as f64;
    let rate = n / start.elapsed().as_secs_f64();
    let cpu_us = (cpu_secs() - cpu0) * 1e6 / n.max(1.0);
    let _ = std::fs::remove_dir_all(&dir);
    Ok((rate, cpu_us))
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let secs: f64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(2.0);
    let rounds: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(3);
    let modes = [
        ("memory", StoreMode::Memory),
        ("sync", StoreMode::Sync),
        ("periodic 10 ms", StoreMode::Periodic { interval_ms: 10 }),
    ];
    println!(
        "# store throughput: QoS 1 fan-in, {CONNECTIONS} connections x {IN_FLIGHT} in flight, {secs} s x {rounds} rounds (median)"
    );
    println!();
    println!("| K | mode | publishes/s | min-max | vs memory | CPU µs/publish |");
    println!("|---:|---|---:|---:|---:|---:|");
    for k in [1u64, 10] {
        let mut samples: Vec<Vec<(f64, f64)>> = vec![Vec::new(); modes.len()];
        // Rounds interleave the modes so that load from other processes spreads.
        for _ in 0..rounds {
            for (i, (_, mode)) in modes.iter().enumerate() {
                if let Some(s) = samples.get_mut(i) {
                    s.push(run(*mode, k, secs)?);
                }
            }
        }
        let median = |s: &mut Vec<(f64, f64)>| {
            s.sort_by(|a, b| a.0.total_cmp(&b.0));
            s.get(s.len() / 2).copied().unwrap_or((0.0, 0.0))
        };
        let memory = samples.first_mut().map(median).unwrap_or((0.0, 0.0)).0;
        for ((name, _), s) in modes.iter().zip(samples.iter_mut()) {
            let (m, cpu) = median(s);
            let (lo, hi) = (
                s.first().map_or(0.0, |x| x.0),
                s.last().map_or(0.0, |x| x.0),
            );
            println!(
                "| {k} | {name} | {m:.0} | {lo:.0}-{hi:.0} | {:.0} % | {cpu:.1} |",
                100.0 * m / memory.max(1.0)
            );
        }
    }
    Ok(())
}
