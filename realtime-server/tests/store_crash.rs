//! Crash test of the durable store in `sync` mode: a child process (this test
//! binary re-executed, running the ignored `crash_child`) submits publishes from
//! 8 concurrent tasks and prints each one after `wait_durable` resolved; the
//! parent SIGKILLs it at a random moment, reopens the store and checks that
//! every publish reported durable before the kill is there (the issue's "nothing
//! acknowledged is lost"), that batches were applied atomically and in order,
//! and that reference counting left no dangling or orphan message.

// Helpers outside `#[test]` functions may unwrap too: they are test code.
#[cfg(test)]
mod crash {
    use bytes::Bytes;
    use realtime_server::store::{OutboundRecord, OutboundState, Store, StoreOp, StoredMessage};
    use std::collections::{BTreeMap, BTreeSet};
    use std::io::{BufRead, BufReader, Write};
    use std::path::Path;
    use std::process::{Child, Command, Stdio};
    use std::time::{Duration, Instant};

    /// Concurrent submitters in the child; publish `n` belongs to task `n % TASKS`.
    const TASKS: u64 = 8;
    /// Each task keeps its last `KEEP` publishes queued: publish `n` deletes the
    /// outbound record of `n - KEEP * TASKS` (an acknowledgement).
    const KEEP: u64 = 20;
    const ROUNDS: usize = 5;

    fn message(n: u64) -> StoredMessage {
        StoredMessage {
            id: n,
            topic: format!("sensors/{}", n % TASKS),
            payload: Bytes::from(format!("reading {n} {}", "x".repeat((n % 64) as usize))),
            qos: 1,
            retain: n % 5 == 0,
            properties: Bytes::new(),
            expiry_at_unix_ms: None,
        }
    }

    fn client(task: u64) -> String {
        format!("sub-{task}")
    }

    /// The batch of publish `n`: the message, its outbound record, every fifth one
    /// retained, and the acknowledgement of an older publish.
    fn publish_ops(n: u64) -> Vec<StoreOp> {
        let task = n % TASKS;
        let mut ops = vec![
            StoreOp::PutMessage(message(n)),
            StoreOp::PutOutbound(OutboundRecord {
                client_id: client(task),
                seq: n,
                message_id: n,
                qos: 1,
                retain: false,
                subscription_ids: vec![],
                state: OutboundState::Queued,
            }),
        ];
        if n % 5 == 0 {
            ops.push(StoreOp::PutRetained {
                topic: format!("r/{task}"),
                message_id: n,
            });
        }
        if n >= KEEP * TASKS {
            ops.push(StoreOp::DeleteOutbound {
                client_id: client(task),
                seq: n - KEEP * TASKS,
            });
        }
        ops
    }

    /// The child: submits until killed (bounded to 60 s and 10^6 publishes per
    /// task in case the parent died), printing `ACK n` once `n` is durable.
    #[test]
    #[ignore = "run by sigkill_loses_no_acknowledged_publish in a child process"]
    fn crash_child() {
        let dir =
            std::env::var("STORE_CRASH_DIR").expect("STORE_CRASH_DIR: run by the crash test only");
        let store = Store::open(&dir, Default::default()).unwrap();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let start = Instant::now();
            let mut tasks = Vec::new();
            for task in 0..TASKS {
                let store = store.clone();
                tasks.push(tokio::spawn(async move {
                    for k in 0..1_000_000u64 {
                        if start.elapsed() > Duration::from_secs(60) {
                            break;
                        }
                        let n = task + k * TASKS;
                        let ticket = store.submit_async(publish_ops(n)).await.unwrap();
                        store.wait_durable(ticket).await.unwrap();
                        let mut out = std::io::stdout().lock();
                        writeln!(out, "ACK {n}").unwrap();
                        out.flush().unwrap();
                    }
                }));
            }
            for t in tasks {
                t.await.unwrap();
            }
        });
    }

    /// Kills the child if the parent fails half-way, so nothing is left running.
    struct Killer(Child);

    impl Drop for Killer {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    /// Checks the reopened store against the acknowledged publishes.
    fn verify(dir: &Path, acked: &BTreeSet<u64>) {
        let snap = Store::open(dir, Default::default())
            .unwrap()
            .load()
            .unwrap();
        // Reference integrity: everything referenced is stored, nothing else is.
        let referenced: BTreeSet<u64> = snap
            .outbound
            .iter()
            .map(|o| o.message_id)
            .chain(snap.retained.iter().map(|r| r.1))
            .collect();
        assert_eq!(
            snap.messages.keys().copied().collect::<BTreeSet<_>>(),
            referenced
        );
        for (id, m) in &snap.messages {
            assert_eq!(m, &message(*id), "message {id} intact");
        }
        let mut present: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for o in &snap.outbound {
            let task = o.seq % TASKS;
            assert_eq!(o.client_id, client(task));
            present.entry(task).or_default().push(o.seq);
        }
        for task in 0..TASKS {
            let acked_max = acked.iter().rev().find(|n| *n % TASKS == task).copied();
            let seqs = present.remove(&task).unwrap_or_default();
            let Some(hi) = seqs.last().copied() else {
                assert_eq!(acked_max, None, "task {task}: acknowledged publishes lost");
                continue;
            };
            // Every acknowledged publish applied; at most the one in flight beyond it.
            if let Some(a) = acked_max {
                assert!(
                    hi >= a,
                    "task {task}: acknowledged publish {a} lost (last applied {hi})"
                );
                assert!(
                    hi <= a + TASKS,
                    "task {task}: {hi} applied but only {a} acknowledged and one in flight"
                );
            } else {
                assert_eq!(
                    hi, task,
                    "task {task}: only its first publish can be in flight"
                );
            }
            // Batches applied whole and in order: exactly the last KEEP publishes up to hi.
            let lo = hi.saturating_sub((KEEP - 1) * TASKS).max(task);
            let want: Vec<u64> = (lo..=hi).step_by(TASKS as usize).collect();
            assert_eq!(
                seqs, want,
                "task {task}: queue is not the last {KEEP} publishes up to {hi}"
            );
            let retained = (task..=hi)
                .step_by(TASKS as usize)
                .filter(|n| n % 5 == 0)
                .last();
            let got = snap
                .retained
                .iter()
                .find(|r| r.0 == format!("r/{task}"))
                .map(|r| r.1);
            assert_eq!(got, retained, "task {task}: retained message");
        }
    }

    /// SIGKILL at several random moments while 8 tasks submit and wait in `sync`
    /// mode: every publish acknowledged (ticket durable) before the kill survives.
    #[test]
    fn sigkill_loses_no_acknowledged_publish() {
        let exe = std::env::current_exe().unwrap();
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        println!("seed {seed}");
        let mut rng = seed | 1;
        let mut next = move || {
            // xorshift64: enough to spread the kill moments.
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for round in 0..ROUNDS {
            let dir = tempfile::tempdir().unwrap();
            let mut child = Command::new(&exe)
                .args([
                    "crash::crash_child",
                    "--exact",
                    "--ignored",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("STORE_CRASH_DIR", dir.path())
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            let stdout = child.stdout.take().unwrap();
            let mut child = Killer(child);
            let (tx, rx) = std::sync::mpsc::channel::<u64>();
            let reader = std::thread::spawn(move || {
                for line in BufReader::new(stdout).lines() {
                    let Ok(line) = line else { break };
                    // libtest prints `test crash::crash_child ... ` without a
                    // newline before the test runs: the first ACK shares its line.
                    if let Some((_, n)) = line.rsplit_once("ACK ") {
                        tx.send(n.parse().unwrap()).unwrap();
                    }
                }
            });
            let first = rx
                .recv_timeout(Duration::from_secs(60))
                .expect("child acknowledged nothing");
            let delay = Duration::from_millis(next() % 300);
            std::thread::sleep(delay);
            child.0.kill().unwrap(); // SIGKILL
            child.0.wait().unwrap();
            reader.join().unwrap();
            // Everything the child wrote before it died is in the pipe: acknowledged.
            let acked: BTreeSet<u64> = std::iter::once(first).chain(rx.try_iter()).collect();
            println!(
                "round {round}: killed after {delay:?}, {} publishes acknowledged",
                acked.len()
            );
            verify(dir.path(), &acked);
        }
    }
}
