//! Parking: idle plain-TCP connections without a task.
//!
//! A connection that has had nothing to do for [`DriverConfig::park_after`]
//! (nothing buffered in or out, no timer due soon) hands its socket and its
//! protocol state to [`Parking`] and its task ends. What an idle connection then
//! costs is its protocol state and a slot here, not a task, a driver future and a
//! reactor registration (about 2 KiB of the 3.2 KiB an idle MQTT connection took).
//!
//! One task watches every parked connection: their sockets sit in a private epoll
//! instance (readable, peer closed, error), their wake handles
//! ([`super::ConnWake`]) know the slot and report a wake-up to the watcher, and
//! their protocol deadlines are scanned once per
//! [`TICK`]. Any of those, or the server's shutdown, resumes the connection: its
//! socket goes back to the runtime and a new task drives it from where it stopped.
//!
//! [`DriverConfig::park_after`]: super::tcp::DriverConfig::park_after

#![allow(unsafe_code)] // registering the epoll descriptor with tokio; malloc_trim

use std::fmt;
use std::io;
use std::os::fd::AsRawFd;
use std::sync::Arc;

use std::time::{Duration, Instant};

use mio::unix::SourceFd;
use mio::{Events, Interest, Token};
use parking_lot::Mutex;
use tokio::io::unix::AsyncFd;
use tokio::net::TcpStream;
use tokio::sync::{Notify, watch};

use super::tcp::Ended;
use super::wake::ConnWake;
use crate::metrics::Counter;

/// How often parked connections' deadlines are checked; a connection whose deadline
/// falls within the next tick is resumed (and keeps its exact timer itself).
pub const TICK: Duration = Duration::from_secs(1);

/// Once this many connections have parked since the last time, the watcher hands
/// the memory their tasks freed back to the system: after the first [`TICK`]
/// without a new one (a storm of connections is over), or at once past
/// [`TRIM_ANYWAY_AFTER`].
const TRIM_AFTER_PARKS: usize = 256;
/// See [`TRIM_AFTER_PARKS`].
const TRIM_ANYWAY_AFTER: usize = 16 * 1024;

/// A parked connection's way back: what its task held, minus the socket.
pub trait Resume: Send {
    /// Drives the connection again over `stream` (on a new task).
    fn resume(self: Box<Self>, stream: TcpStream, shutdown: watch::Receiver<bool>);
    /// The connection cannot go on (its socket could not be moved back).
    fn end(self: Box<Self>, ended: Ended);
    /// The connection's wake handle, which names its slot while it is parked (the
    /// connection keeps it: the slot does not hold a second pointer to it).
    fn wake(&self) -> &ConnWake;
}

/// The parked connections of one server; cheap to clone.
#[derive(Clone)]
pub struct Parking {
    shared: Arc<Shared>,
}

impl fmt::Debug for Parking {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Parking")
            .field("parked", &self.parked())
            .finish()
    }
}

pub(super) struct Shared {
    /// This lot's id, which a parked connection's wake handle names it by.
    id: u32,
    /// Parked connections now, for `/metrics`.
    gauge: Arc<Counter>,
    registry: mio::Registry,
    /// Taken by [`Parking::run`].
    poll: Mutex<Option<mio::Poll>>,
    state: Mutex<State>,
    /// Wakes the watching task when `State::woken` grew.
    kick: Notify,
    /// What slots' deadlines count from.
    epoch: Instant,
}

#[derive(Default)]
struct State {
    slots: Vec<Option<Entry>>,
    free: Vec<usize>,
    woken: Vec<usize>,
    parked: usize,
    /// Connections parked since the last tick.
    parks_this_tick: usize,
    /// The watching task runs (parking is refused before and after).
    open: bool,
}

struct Entry {
    stream: std::net::TcpStream,
    conn: Box<dyn Resume>,
    /// When to resume at the latest: whole seconds since [`Shared::epoch`],
    /// rounded down (resumed up to a second early, the connection keeps its exact
    /// timer itself); `u32::MAX` for none. (Not an `Option<Instant>`: 16 bytes
    /// fewer in every slot.)
    deadline: u32,
}

impl Shared {
    /// `deadline` as a slot holds it.
    fn seconds(&self, deadline: Option<Instant>) -> u32 {
        deadline.map_or(u32::MAX, |d| {
            let secs = d.saturating_duration_since(self.epoch).as_secs();
            u32::try_from(secs).map_or(u32::MAX - 1, |s| s.min(u32::MAX - 1))
        })
    }

    /// A parked connection's wake handle was notified.
    pub(super) fn woken(&self, slot: usize) {
        self.state.lock().woken.push(slot);
        self.kick.notify_one();
    }
}

impl Parking {
    /// A parking lot whose watcher is not running yet (see [`Parking::run`]).
    pub fn new() -> io::Result<Self> {
        Self::with_gauge(Arc::default())
    }

    /// Like [`Parking::new`]; `gauge` follows how many connections are parked.
    pub fn with_gauge(gauge: Arc<Counter>) -> io::Result<Self> {
        let poll = mio::Poll::new()?;
        let registry = poll.registry().try_clone()?;
        Ok(Self {
            shared: Arc::new_cyclic(|me| Shared {
                id: super::wake::register_lot(me.clone()),
                gauge,
                registry,
                poll: Mutex::new(Some(poll)),
                state: Mutex::new(State::default()),
                kick: Notify::new(),
                epoch: Instant::now(),
            }),
        })
    }

    /// Whether the watcher runs (connections park only then).
    pub fn is_open(&self) -> bool {
        self.shared.state.lock().open
    }

    /// Connections parked now.
    pub fn parked(&self) -> usize {
        self.shared.state.lock().parked
    }

    /// Parks `stream` with `conn`: it resumes when the socket turns readable (data,
    /// end of stream, error), when its wake handle ([`Resume::wake`]) is notified
    /// (or already was), when
    /// `deadline` comes within a [`TICK`], or at shutdown. Resumes at once (with
    /// `shutdown`, the connection's own view of it) if the watcher does not run.
    pub fn park(
        &self,
        stream: TcpStream,
        conn: Box<dyn Resume>,
        deadline: Option<Instant>,
        shutdown: watch::Receiver<bool>,
    ) {
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(err) => return conn.end(Ended::Io(err)),
        };
        let mut state = self.shared.state.lock();
        if !state.open {
            drop(state);
            return resume_now(stream, conn, shutdown);
        }
        let slot = state.free.pop().unwrap_or(state.slots.len());
        let already = conn.wake().park(self.shared.id, slot);
        let registered = !already
            && self
                .shared
                .registry
                .register(
                    &mut SourceFd(&stream.as_raw_fd()),
                    Token(slot),
                    Interest::READABLE,
                )
                .is_ok();
        if !registered {
            if slot < state.slots.len() {
                state.free.push(slot);
            }
            drop(state);
            let wake = conn.wake();
            wake.unpark();
            if already {
                // The check took the wake-up that came while the connection was on
                // its way here: give it back, for the resumed driver to see.
                wake.notify_one();
            }
            return resume_now(stream, conn, shutdown);
        }
        let entry = Entry {
            stream,
            conn,
            deadline: self.shared.seconds(deadline),
        };
        match state.slots.get_mut(slot) {
            Some(place) => *place = Some(entry),
            None => {
                // Grown by an eighth, not doubled: at 10,000 parked connections a
                // doubled table leaves ~20 bytes per connection unused on average,
                // this ~2 (the reallocation of a table this large is a remap).
                if state.slots.len() == state.slots.capacity() {
                    let more = (state.slots.len() / 8).max(64);
                    state.slots.reserve_exact(more);
                }
                state.slots.push(Some(entry));
            }
        }
        state.parked += 1;
        state.parks_this_tick += 1;
        self.shared.gauge.inc();
    }

    /// Watches the parked connections until `shutdown`, then resumes them all (they
    /// see the shutdown and say goodbye). Parking is refused before this runs and
    /// after it returns.
    pub async fn run(&self, shutdown: watch::Receiver<bool>) -> io::Result<()> {
        let Some(poll) = self.shared.poll.lock().take() else {
            return Err(io::Error::other("parking already runs"));
        };
        // SAFETY: `mio::Poll` owns its epoll descriptor, keeps it open until it is
        // dropped (after the `AsyncFd` that wraps it) and always returns that one
        // from `as_raw_fd`.
        let mut poll =
            unsafe { AsyncFd::register_with_interest(poll, tokio::io::Interest::READABLE) }
                .map_err(io::Error::from)?;
        let mut stop = shutdown.clone();
        {
            let mut state = self.shared.state.lock();
            state.open = !*stop.borrow();
        }
        let mut events = Events::with_capacity(256);
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut due = Vec::new();
        let mut parks_since_trim = 0;
        let result = loop {
            if *stop.borrow() {
                break Ok(());
            }
            tokio::select! {
                ready = poll.readable_mut() => {
                    let mut guard = match ready {
                        Ok(guard) => guard,
                        Err(err) => break Err(err),
                    };
                    loop {
                        if let Err(err) = guard.get_inner_mut().poll(&mut events, Some(Duration::ZERO)) {
                            if err.kind() == io::ErrorKind::Interrupted {
                                continue;
                            }
                            tracing::warn!(%err, "parked connections: epoll_wait failed");
                            break;
                        }
                        due.extend(events.iter().map(|e| e.token().0));
                        let full = due.len() >= events.capacity();
                        self.resume_slots(&mut due, &shutdown);
                        if !full {
                            guard.clear_ready();
                            break;
                        }
                    }
                }
                () = self.shared.kick.notified() => {
                    std::mem::swap(&mut due, &mut self.shared.state.lock().woken);
                    self.resume_slots(&mut due, &shutdown);
                }
                _ = tick.tick() => {
                    let soon = self.shared.seconds(Some(Instant::now() + TICK));
                    let trim = {
                        let mut state = self.shared.state.lock();
                        due.extend(state.slots.iter().enumerate().filter_map(|(i, e)| {
                            e.as_ref().is_some_and(|e| e.deadline <= soon).then_some(i)
                        }));
                        let new = std::mem::take(&mut state.parks_this_tick);
                        parks_since_trim += new;
                        (new == 0 && parks_since_trim >= TRIM_AFTER_PARKS)
                            || parks_since_trim >= TRIM_ANYWAY_AFTER
                    };
                    self.resume_slots(&mut due, &shutdown);
                    if trim {
                        parks_since_trim = 0;
                        // Off the runtime's workers: on a large heap it takes a while.
                        tokio::task::spawn_blocking(release_free_memory);
                    }
                }
                changed = stop.changed() => {
                    // A dropped sender means the server is going away too.
                    if changed.is_err() {
                        break Ok(());
                    }
                }
            }
        };
        // Shutdown (or a failed watcher): nothing parks any more, everyone resumes.
        let everyone: Vec<Entry> = {
            let mut state = self.shared.state.lock();
            state.open = false;
            for _ in 0..state.parked {
                self.shared.gauge.dec();
            }
            state.parked = 0;
            state.free.clear();
            state.woken.clear();
            std::mem::take(&mut state.slots)
                .into_iter()
                .flatten()
                .collect()
        };
        for entry in everyone {
            self.resume_entry(entry, shutdown.clone());
        }
        result
    }

    /// Resumes the connections parked in `slots` (those still there), and empties it.
    fn resume_slots(&self, slots: &mut Vec<usize>, shutdown: &watch::Receiver<bool>) {
        if slots.is_empty() {
            return;
        }
        let taken = {
            let mut state = self.shared.state.lock();
            let mut taken = Vec::with_capacity(slots.len());
            for slot in slots.drain(..) {
                if let Some(entry) = state.slots.get_mut(slot).and_then(Option::take) {
                    state.free.push(slot);
                    state.parked -= 1;
                    self.shared.gauge.dec();
                    taken.push(entry);
                }
            }
            taken
        };
        for entry in taken {
            self.resume_entry(entry, shutdown.clone());
        }
    }

    fn resume_entry(&self, entry: Entry, shutdown: watch::Receiver<bool>) {
        let Entry { stream, conn, .. } = entry;
        // A wake-up from now on (or one that came, as a stored permit) is for the
        // resumed driver.
        conn.wake().unpark();
        let _ = self
            .shared
            .registry
            .deregister(&mut SourceFd(&stream.as_raw_fd()));
        resume_now(stream, conn, shutdown);
    }
}

fn resume_now(stream: std::net::TcpStream, conn: Box<dyn Resume>, shutdown: watch::Receiver<bool>) {
    match TcpStream::from_std(stream) {
        Ok(stream) => conn.resume(stream, shutdown),
        Err(err) => conn.end(Ended::Io(err)),
    }
}

/// Hands the heap's free pages back to the system.
///
/// A connection's task (its future, buffers, reactor registration: ~2 KiB) is
/// freed when it parks; after a storm of connections that memory stays in the
/// allocator's free lists, counted in the server's RSS, unless it is returned.
/// glibc keeps it (its automatic trim only returns the top of the heap); other
/// allocators return it themselves.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let started = Instant::now();
        // SAFETY: `malloc_trim` takes no pointers and may be called at any time
        // from any thread (glibc locks each arena while it trims it).
        unsafe { libc::malloc_trim(0) };
        tracing::debug!(took = ?started.elapsed(), "returned free heap pages after parking");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::net::TcpListener;
    use tokio::sync::mpsc;

    /// Records how a parked connection came back.
    struct Probe(mpsc::UnboundedSender<&'static str>, Arc<ConnWake>);

    impl Resume for Probe {
        fn resume(self: Box<Self>, _: TcpStream, _: watch::Receiver<bool>) {
            let _ = self.0.send("resumed");
        }
        fn end(self: Box<Self>, _: Ended) {
            let _ = self.0.send("ended");
        }
        fn wake(&self) -> &ConnWake {
            &self.1
        }
    }

    /// A slot is the socket, the connection and its deadline (the wake handle is
    /// the connection's): 24 bytes, ~26 per parked connection with the table's
    /// spare room, paid by every idle connection.
    #[test]
    fn a_slot_stays_small() {
        assert!(std::mem::size_of::<Option<Entry>>() <= 24);
    }

    async fn socket() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        (listener.accept().await.unwrap().0, client)
    }

    async fn running() -> (
        Parking,
        watch::Sender<bool>,
        tokio::task::JoinHandle<io::Result<()>>,
    ) {
        let parking = Parking::new().unwrap();
        let (stop, stopped) = watch::channel(false);
        let watcher = {
            let parking = parking.clone();
            tokio::spawn(async move { parking.run(stopped).await })
        };
        while !parking.is_open() {
            tokio::task::yield_now().await;
        }
        (parking, stop, watcher)
    }

    /// A wake-up that came while the connection was on its way to park resumes it
    /// at once, and stays there for the resumed driver to see (not consumed by the
    /// check that found it).
    #[tokio::test]
    async fn a_wake_up_before_parking_resumes_and_is_kept() {
        let (parking, _stop, _watcher) = running().await;
        let (server, _client) = socket().await;
        let wake = Arc::new(ConnWake::new());
        wake.notify_one();
        let (tx, mut rx) = mpsc::unbounded_channel();
        let (_, shutdown) = watch::channel(false);
        parking.park(server, Box::new(Probe(tx, wake.clone())), None, shutdown);
        assert_eq!(rx.recv().await, Some("resumed"));
        assert_eq!(parking.parked(), 0);
        tokio::time::timeout(Duration::from_secs(5), wake.notified())
            .await
            .expect("the wake-up was lost");
    }

    /// A wake-up racing the connection's parking (from another thread, at
    /// staggered moments before, during and after `park`) is never lost: every
    /// round the connection resumes, and the wake-up is there for its driver.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_wake_up_racing_parking_is_never_lost() {
        let (parking, _stop, _watcher) = running().await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        for round in 0..400u32 {
            let (server, _client) = socket().await;
            let wake = Arc::new(ConnWake::new());
            let waker = {
                let wake = wake.clone();
                std::thread::spawn(move || {
                    for _ in 0..(round % 40) * 50 {
                        std::hint::spin_loop();
                    }
                    wake.notify_one();
                })
            };
            let (_, shutdown) = watch::channel(false);
            parking.park(
                server,
                Box::new(Probe(tx.clone(), wake.clone())),
                None,
                shutdown,
            );
            waker.join().unwrap();
            let how = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .unwrap_or_else(|_| panic!("round {round}: the parked connection never resumed"));
            assert_eq!(how, Some("resumed"));
            tokio::time::timeout(Duration::from_secs(5), wake.notified())
                .await
                .unwrap_or_else(|_| panic!("round {round}: the wake-up was lost"));
        }
        assert_eq!(parking.parked(), 0);
    }

    /// The watcher ends when its shutdown sender goes away (as the server's other
    /// loops do), resuming every parked connection, instead of spinning.
    #[tokio::test]
    async fn a_dropped_shutdown_sender_resumes_everyone() {
        let (parking, stop, watcher) = running().await;
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut clients = Vec::new();
        for _ in 0..3 {
            let (server, client) = socket().await;
            clients.push(client);
            let (_, shutdown) = watch::channel(false);
            let wake = Arc::new(ConnWake::new());
            parking.park(server, Box::new(Probe(tx.clone(), wake)), None, shutdown);
        }
        assert_eq!(parking.parked(), 3);
        drop(stop);
        tokio::time::timeout(Duration::from_secs(5), watcher)
            .await
            .expect("the watcher did not end")
            .unwrap()
            .unwrap();
        for _ in 0..3 {
            assert_eq!(rx.recv().await, Some("resumed"));
        }
        assert!(!parking.is_open());
    }
}
