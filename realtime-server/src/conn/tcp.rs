//! The lean driver for plain TCP: no read buffer while idle, writes that never
//! wait for reads, reads that pause while output does not drain.

use std::io::{self, IoSlice};
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use bytes::BytesMut;
use tokio::net::TcpStream;
use tokio::sync::watch;

use super::ConnWake;
use tokio::time::Instant;

use super::park::{Parking, Resume};
use super::{OutQueue, Protocol, Status};

/// How the driver buffers and how long it lingers.
#[derive(Debug, Clone)]
pub struct DriverConfig {
    /// Bytes reserved for each read (the buffer grows further only while a
    /// protocol unit larger than this is arriving).
    pub read_chunk: usize,
    /// How long a closing connection may take to write what is queued.
    pub linger: Duration,
    /// Most bytes per second read from one connection; above it reading pauses
    /// (0: no limit).
    pub max_read_rate: u64,
    /// Where idle plain-TCP connections park ([`super::park`]); `None`: never.
    pub parking: Option<Parking>,
    /// How long a connection has nothing to do before it parks.
    pub park_after: Duration,
}

impl Default for DriverConfig {
    fn default() -> Self {
        Self {
            read_chunk: 4096,
            linger: Duration::from_secs(5),
            max_read_rate: 0,
            parking: None,
            park_after: Duration::from_secs(1),
        }
    }
}

/// Why a driven connection ended.
#[derive(Debug)]
pub enum Ended {
    /// The protocol asked to close and its output was written.
    Closed,
    /// The peer closed the connection.
    PeerClosed,
    /// A socket error.
    Io(io::Error),
    /// The output could not be written within the linger time.
    LingerExpired,
}

/// Runs `proto` over `stream` until either side closes.
///
/// `wake` is the handle others use to tell this connection that something is
/// ready for it (the protocol hands a clone to the broker). `shutdown` turning
/// true (or its sender going away) calls [`Protocol::on_shutdown`] once.
pub async fn drive<P: Protocol>(
    stream: TcpStream,
    proto: P,
    wake: Arc<crate::conn::ConnWake>,
    shutdown: watch::Receiver<bool>,
    config: &DriverConfig,
) -> Ended {
    drive_with_input(stream, proto, BytesMut::new(), wake, shutdown, config).await
}

/// Like [`drive`], with bytes already read from the stream (e.g. frames that
/// arrived with an HTTP upgrade request) handed to the protocol first. Never parks.
pub fn drive_with_input<'c, P: Protocol>(
    stream: TcpStream,
    proto: P,
    input: BytesMut,
    wake: Arc<crate::conn::ConnWake>,
    shutdown: watch::Receiver<bool>,
    config: &'c DriverConfig,
) -> impl Future<Output = Ended> + use<'c, P> {
    drive_loop(stream, proto, input, wake, shutdown, config, NoPark)
}

/// Like [`drive_with_input`], and the connection parks ([`super::park`]) while it
/// is idle, if `config` has parking: its task ends and a new one picks it up when
/// something happens. `tail` runs once with how the connection ended, on whichever
/// task that is.
pub fn drive_parkable<P, T>(
    stream: TcpStream,
    proto: P,
    input: BytesMut,
    wake: Arc<crate::conn::ConnWake>,
    shutdown: watch::Receiver<bool>,
    config: Arc<DriverConfig>,
    tail: T,
) -> impl Future<Output = ()> + Send
where
    P: Protocol + Send + 'static,
    T: FnOnce(Ended) + Send + 'static,
{
    let handoff = ParkOrEnd { tail, fresh: true };
    drive_loop(stream, proto, input, wake, shutdown, config, handoff)
}

/// What the driver loop does with a connection that ends or turns idle.
trait Handoff<P, C>: Sized {
    /// What the driver's future gives.
    type Output;
    /// Whether idle connections park (the loop then watches for idleness).
    fn parks(&self, config: &DriverConfig) -> bool;
    /// How long the connection must have been idle to park.
    fn park_after(&self, config: &DriverConfig) -> Duration {
        config.park_after
    }
    /// The connection ended.
    fn ended(self, ended: Ended) -> Self::Output;
    /// The connection is idle: park it, or hand everything back to go on driving.
    #[allow(clippy::too_many_arguments)]
    fn idle(
        self,
        stream: TcpStream,
        proto: P,
        deadline: Option<std::time::Instant>,
        wake: Arc<crate::conn::ConnWake>,
        shutdown: watch::Receiver<bool>,
        config: C,
    ) -> Result<Self::Output, Handback<Self, P, C>>;
}

/// What [`Handoff::idle`] gives back when the connection does not park.
type Handback<H, P, C> = (
    H,
    TcpStream,
    P,
    Arc<crate::conn::ConnWake>,
    watch::Receiver<bool>,
    C,
);

/// Never parks; the driver's future gives how the connection ended.
struct NoPark;

impl<P, C> Handoff<P, C> for NoPark {
    type Output = Ended;
    fn parks(&self, _: &DriverConfig) -> bool {
        false
    }
    fn ended(self, ended: Ended) -> Ended {
        ended
    }
    fn idle(
        self,
        stream: TcpStream,
        proto: P,
        _: Option<std::time::Instant>,
        wake: Arc<crate::conn::ConnWake>,
        shutdown: watch::Receiver<bool>,
        config: C,
    ) -> Result<Ended, Handback<Self, P, C>> {
        Err((self, stream, proto, wake, shutdown, config))
    }
}

/// Parks idle connections; hands how the connection ended to `tail`.
struct ParkOrEnd<T> {
    tail: T,
    /// Not yet parked since it was accepted: it parks after [`FIRST_PARK_AFTER`]
    /// if that is sooner than `park_after`.
    fresh: bool,
}

/// How long a new connection that has gone quiet after its handshake (the usual
/// subscriber or device) waits before it parks the first time. A storm of
/// connections then never holds thousands of tasks at once, whose freed memory
/// would stay in the heap between the sessions that remain. One that turns out
/// busy resumes once and then parks only after `park_after`. 2 ms, not 10: at
/// ~15,000 connections a second a storm then holds ~30 tasks, not ~150, and
/// an idle MQTT connection costs ~45 bytes less RSS (storm median 926 -> 881 B);
/// a client that is slower than that between CONNACK and its next packet pays
/// one resume.
const FIRST_PARK_AFTER: Duration = Duration::from_millis(2);

impl<P, T> Handoff<P, Arc<DriverConfig>> for ParkOrEnd<T>
where
    P: Protocol + Send + 'static,
    T: FnOnce(Ended) + Send + 'static,
{
    type Output = ();
    fn parks(&self, config: &DriverConfig) -> bool {
        // A resumed connection starts a new read-rate bucket (one second's worth):
        // parking sooner than that would let a client exceed the rate.
        config.parking.is_some()
            && !config.park_after.is_zero()
            && (config.max_read_rate == 0 || config.park_after >= Duration::from_secs(1))
    }
    fn park_after(&self, config: &DriverConfig) -> Duration {
        if self.fresh && config.max_read_rate == 0 {
            config.park_after.min(FIRST_PARK_AFTER)
        } else {
            config.park_after
        }
    }
    fn ended(self, ended: Ended) {
        (self.tail)(ended)
    }
    fn idle(
        self,
        stream: TcpStream,
        proto: P,
        deadline: Option<std::time::Instant>,
        wake: Arc<crate::conn::ConnWake>,
        shutdown: watch::Receiver<bool>,
        config: Arc<DriverConfig>,
    ) -> Result<(), Handback<Self, P, Arc<DriverConfig>>> {
        let Some(parking) = config.parking.clone().filter(Parking::is_open) else {
            // Nobody watches parked connections (not yet, or no more): drive on.
            return Err((self, stream, proto, wake, shutdown, config));
        };
        let mut proto = proto;
        proto.on_park();
        let parked = Box::new(Parked {
            proto,
            wake,
            config,
            tail: self.tail,
        });
        parking.park(stream, parked, deadline, shutdown);
        Ok(())
    }
}

/// A parked connection: what its task held, minus the socket, the buffers and
/// the log span (a span costs ~270 bytes in the subscriber's registry for as long
/// as it lives; [`conn_span`] makes a new one at resume).
struct Parked<P, T> {
    proto: P,
    wake: Arc<crate::conn::ConnWake>,
    config: Arc<DriverConfig>,
    tail: T,
}

/// The log span of a resumed connection: like the one the listener opens (peer,
/// transport, client id), with the names the protocol gives.
fn conn_span<P: Protocol>(proto: &P, stream: &TcpStream) -> tracing::Span {
    let (transport, client_id) = proto.log_names();
    let span = match stream.peer_addr() {
        Ok(peer) => {
            tracing::info_span!("conn", %peer, transport, client_id = tracing::field::Empty)
        }
        Err(_) => tracing::info_span!("conn", transport, client_id = tracing::field::Empty),
    };
    if let Some(id) = client_id {
        span.record("client_id", id);
    }
    span
}

impl<P, T> Resume for Parked<P, T>
where
    P: Protocol + Send + 'static,
    T: FnOnce(Ended) + Send + 'static,
{
    fn resume(self: Box<Self>, stream: TcpStream, shutdown: watch::Receiver<bool>) {
        let Parked {
            proto,
            wake,
            config,
            tail,
        } = *self;
        let span = conn_span(&proto, &stream);
        let handoff = ParkOrEnd { tail, fresh: false };
        let run = drive_loop(
            stream,
            proto,
            BytesMut::new(),
            wake,
            shutdown,
            config,
            handoff,
        );
        tokio::spawn(tracing::Instrument::instrument(run, span));
    }

    fn wake(&self) -> &crate::conn::ConnWake {
        &self.wake
    }

    fn end(self: Box<Self>, ended: Ended) {
        let mut parked = *self;
        parked.proto.on_eof(now());
        drop(parked.proto);
        (parked.tail)(ended)
    }
}

/// The driver loop: runs `proto` over `stream` until it ends (then
/// [`Handoff::ended`]) or, if `handoff` parks, until it has been idle for
/// `park_after` (then [`Handoff::idle`]).
///
/// Not an `async fn`: an `async fn` keeps its arguments in the future twice (as
/// captured arguments and as the locals they are moved into), which for the
/// protocol state costs its size again in every idle connection. The `async move`
/// block uses the captured values in place.
#[allow(clippy::manual_async_fn)] // see above: not an `async fn` on purpose
fn drive_loop<P, C, H>(
    mut stream: TcpStream,
    mut proto: P,
    mut input: BytesMut,
    mut wake: Arc<crate::conn::ConnWake>,
    mut shutdown: watch::Receiver<bool>,
    mut config: C,
    mut handoff: H,
) -> impl Future<Output = H::Output>
where
    P: Protocol,
    C: std::ops::Deref<Target = DriverConfig>,
    H: Handoff<P, C>,
{
    async move {
        if !input.is_empty() && proto.on_read(&mut input, now()) == Status::Close {
            let ended = linger(&mut stream, proto, config.linger, Ended::Closed).await;
            return handoff.ended(ended);
        }
        let mut shutting_down = *shutdown.borrow();
        if shutting_down {
            let _ = proto.on_shutdown(now());
            let ended = linger(&mut stream, proto, config.linger, Ended::Closed).await;
            return handoff.ended(ended);
        }
        let parks = handoff.parks(&config);
        let park_after = handoff.park_after(&config);
        // When the idle check runs next (moved on lazily: only when it runs).
        let mut park_check = parks.then(|| Instant::now() + park_after);
        let mut last_active = Instant::now();
        let mut rate = super::rate::ReadRate::new(config.max_read_rate);
        let sleep = tokio::time::sleep_until(Instant::now() + FAR);
        tokio::pin!(sleep);
        // Registered with the shutdown watch once (at the first wait), not every
        // turn: a watch's `changed()` future locks the watch's waiter list (one
        // lock for every connection of the server) to register and again to
        // leave. Later turns only compare the watch's version with an atomic
        // load; the registration stays until the shutdown wakes this task.
        let changed = shutdown_changed(shutdown.clone());
        tokio::pin!(changed);
        let mut shutdown_watch = ShutdownWatch::new(changed);
        let mut was_paused = false;
        loop {
            // A socket that is always readable must not keep its task (and the tasks
            // it wakes, queued on the same worker) from yielding: tokio's `readable()`
            // does not count against the cooperative budget, so count here.
            tokio::task::consume_budget().await;
            if let Err(err) = write_ready(&stream, proto.output()) {
                proto.on_eof(now());
                return handoff.ended(Ended::Io(err));
            }
            let paused = proto.read_paused();
            if was_paused && !paused && !input.is_empty() {
                // Reading resumes: what arrived while paused is handed over first.
                was_paused = false;
                if proto.on_read(&mut input, now()) == Status::Close {
                    let ended = linger(&mut stream, proto, config.linger, Ended::Closed).await;
                    return handoff.ended(ended);
                }
                continue;
            }
            was_paused = paused;
            let rate_resume = rate.resume_at();
            let deadline = proto
                .deadline()
                .map(Instant::from_std)
                .into_iter()
                .chain(rate_resume)
                .chain(park_check)
                .min();
            if let Some(d) = deadline
                && sleep.deadline() != d
            {
                sleep.as_mut().reset(d);
            }
            let want_write = !proto.output().is_empty();
            let can_read = !paused && rate_resume.is_none();
            let event = next_event(
                &stream,
                &shutdown,
                &mut shutdown_watch,
                &wake,
                sleep.as_mut(),
                Wanted {
                    shutdown: !shutting_down,
                    read: can_read,
                    write: want_write,
                    timer: deadline.is_some(),
                },
            )
            .await;
            let status = match event {
                Event::Shutdown => {
                    shutting_down = true;
                    proto.on_shutdown(now())
                }
                Event::Readable(ready) => {
                    if let Err(err) = ready {
                        proto.on_eof(now());
                        return handoff.ended(Ended::Io(err));
                    }
                    if input.capacity() - input.len() < config.read_chunk {
                        input.reserve(config.read_chunk);
                    }
                    match read_some(&stream, &mut input) {
                        Ok(0) => {
                            proto.on_eof(now());
                            let ended =
                                linger(&mut stream, proto, config.linger, Ended::PeerClosed).await;
                            return handoff.ended(ended);
                        }
                        Ok(n) => {
                            rate.consumed(n);
                            // One clock read serves the protocol and the idle watch.
                            last_active = Instant::now();
                            let status = proto.on_read(&mut input, last_active.into_std());
                            if input.is_empty() {
                                // Idle connections hold no read buffer.
                                input = BytesMut::new();
                            }
                            status
                        }
                        Err(err) if err.kind() == io::ErrorKind::WouldBlock => {
                            // Spurious readiness: do not keep an empty buffer while idle.
                            if input.is_empty() {
                                input = BytesMut::new();
                            }
                            Status::Open
                        }
                        Err(err) => {
                            proto.on_eof(now());
                            return handoff.ended(Ended::Io(err));
                        }
                    }
                }
                Event::Writable(ready) => {
                    if let Err(err) = ready {
                        proto.on_eof(now());
                        return handoff.ended(Ended::Io(err));
                    }
                    Status::Open
                }
                Event::Wake => {
                    last_active = Instant::now();
                    proto.on_wake(last_active.into_std())
                }
                Event::Timer => {
                    let t = Instant::now();
                    // Not a stored far instant: the future of every
                    // connection's task would carry it (16 bytes).
                    sleep.as_mut().reset(t + FAR);
                    if let Some(check) = park_check
                        && check <= t
                    {
                        let soon = t.into_std() + 2 * super::park::TICK;
                        if t >= last_active + park_after
                            && input.is_empty()
                            && !shutting_down
                            && rate_resume.is_none()
                            && !proto.read_paused()
                            && proto.output().is_empty()
                            && proto.deadline().is_none_or(|d| d > soon)
                            && proto.parkable()
                        {
                            // Idle long enough: park, or go on driving.
                            let deadline = proto.deadline();
                            match handoff.idle(stream, proto, deadline, wake, shutdown, config) {
                                Ok(out) => return out,
                                Err(back) => {
                                    (handoff, stream, proto, wake, shutdown, config) = back;
                                }
                            }
                            // Registered anew, as at the first turn.
                            shutdown_watch.renew(shutdown_changed(shutdown.clone()));
                            park_check = Some(t.max(last_active) + park_after);
                            continue;
                        }
                        park_check = Some(t.max(last_active) + park_after);
                    }
                    if proto.deadline().is_some_and(|d| d <= now()) {
                        proto.on_timer(now())
                    } else {
                        Status::Open
                    }
                }
            };
            if status == Status::Close {
                let ended = linger(&mut stream, proto, config.linger, Ended::Closed).await;
                return handoff.ended(ended);
            }
        }
    }
}

/// How far away the timer is set when there is nothing to wait for.
const FAR: Duration = Duration::from_secs(86_400 * 365);

/// The driver's registration with the shutdown watch: `changed()` of a clone of
/// the receiver (see [`shutdown_changed`]), pinned in the driver's future and
/// polled once, at the first wait, to put this task among the watch's waiters.
/// Later waits compare the receiver's version (an atomic load) instead of
/// registering again.
struct ShutdownWatch<'a, F> {
    changed: std::pin::Pin<&'a mut F>,
    registered: bool,
}

impl<'a, F: Future> ShutdownWatch<'a, F> {
    fn new(changed: std::pin::Pin<&'a mut F>) -> Self {
        Self {
            changed,
            registered: false,
        }
    }

    /// A fresh registration (from [`shutdown_changed`]), made at the next wait.
    fn renew(&mut self, changed: F) {
        self.changed.set(changed);
        self.registered = false;
    }

    /// Whether `shutdown` (the receiver the registration was cloned from) has
    /// changed; the first call registers this task with the watch (or finds it
    /// changed). A dropped sender means the server is going away too: either
    /// result counts.
    #[inline]
    fn changed(
        &mut self,
        shutdown: &watch::Receiver<bool>,
        cx: &mut std::task::Context<'_>,
    ) -> bool {
        if self.registered {
            return shutdown.has_changed().unwrap_or(true);
        }
        if self.changed.as_mut().poll(cx).is_ready() {
            return true;
        }
        self.registered = true;
        false
    }
}

/// `changed()` of `probe`, owning it: what a [`ShutdownWatch`] polls to register.
///
/// Not an `async fn`, for the reason [`drive_loop`] is not: the receiver would be
/// kept twice in every connection's future.
#[allow(clippy::manual_async_fn)] // see above
fn shutdown_changed(
    mut probe: watch::Receiver<bool>,
) -> impl Future<Output = Result<(), watch::error::RecvError>> {
    async move { probe.changed().await }
}

/// What the driver waits for in one turn.
#[derive(Debug, Clone, Copy)]
struct Wanted {
    shutdown: bool,
    read: bool,
    write: bool,
    timer: bool,
}

/// What ended a turn's wait.
#[derive(Debug)]
enum Event {
    Shutdown,
    Readable(io::Result<()>),
    Writable(io::Result<()>),
    Wake,
    Timer,
}

/// Waits for the first of what `wanted` asks for, in priority order: shutdown,
/// readable, writable, wake-up, timer.
///
/// Readiness is polled on the stream itself (`poll_read_ready`/`poll_write_ready`,
/// whose wakers live in the socket's registration) rather than through
/// `readable()`/`writable()` futures: those are 152 bytes each, and an idle
/// connection's task holds this wait for as long as it is idle.
async fn next_event(
    stream: &TcpStream,
    shutdown: &watch::Receiver<bool>,
    shutdown_watch: &mut ShutdownWatch<'_, impl Future>,
    wake: &ConnWake,
    mut sleep: std::pin::Pin<&mut tokio::time::Sleep>,
    wanted: Wanted,
) -> Event {
    let notified = wake.notified();
    tokio::pin!(notified);
    std::future::poll_fn(|cx| {
        if wanted.shutdown && shutdown_watch.changed(shutdown, cx) {
            return Poll::Ready(Event::Shutdown);
        }
        if wanted.read
            && let Poll::Ready(ready) = stream.poll_read_ready(cx)
        {
            return Poll::Ready(Event::Readable(ready));
        }
        if wanted.write
            && let Poll::Ready(ready) = stream.poll_write_ready(cx)
        {
            return Poll::Ready(Event::Writable(ready));
        }
        if notified.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Event::Wake);
        }
        if wanted.timer && sleep.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Event::Timer);
        }
        Poll::Pending
    })
    .await
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// Reads what the socket holds into `input`'s spare room, without waiting.
///
/// A read that returns less than the room it was given has drained the socket, and the
/// readiness can be cleared at once, as tokio's own `poll_read` does: without that the
/// driver's next turn finds the socket still marked readable and pays a second `recv`
/// only to learn `EAGAIN`: one wasted system call for every batch read. Clearing is safe with epoll's edge-triggered readiness:
/// data that arrives after this read raises a new event, whose newer tick tokio does not
/// let this clear undo, and a peer's FIN or reset stays marked (tokio never clears the
/// closed states), so the end of the stream is still seen.
fn read_some(stream: &TcpStream, input: &mut BytesMut) -> io::Result<usize> {
    let room = input.capacity() - input.len();
    let mut got = 0;
    let result = stream.try_io(tokio::io::Interest::READABLE, || {
        got = stream.try_read_buf(input)?;
        if 0 < got && got < room {
            // Not an error: the signal that makes `try_io` clear the readiness.
            Err(io::ErrorKind::WouldBlock.into())
        } else {
            Ok(got)
        }
    });
    match result {
        Err(err) if err.kind() == io::ErrorKind::WouldBlock && got > 0 => Ok(got),
        other => other,
    }
}

/// Writes as much of `out` as the socket takes without waiting.
fn write_ready(stream: &TcpStream, out: &mut OutQueue) -> io::Result<()> {
    while !out.is_empty() {
        let result = {
            let mut slices = [IoSlice::new(&[]); 64];
            let n = out.fill_slices(&mut slices);
            stream.try_write_vectored(slices.get(..n).unwrap_or_default())
        };
        let written = match result {
            Ok(n) => n,
            Err(err) if err.kind() == io::ErrorKind::WouldBlock => return Ok(()),
            Err(err) => return Err(err),
        };
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        out.advance(written);
    }
    Ok(())
}

/// Writes what is queued, then closes gracefully, all within `limit`; ends with
/// `ended`.
///
/// Closing a socket while the peer's data is still unread resets the connection
/// (RFC 9293 §3.6), and a reset can destroy what was just written before the peer
/// reads it: the Close frame of a WebSocket whose client is still sending a message
/// over the limit, the DISCONNECT telling an MQTT client why. So the driver sends
/// FIN after the last byte and reads (and drops) whatever still comes until the
/// peer closes too or `limit` runs out: a lingering close.
///
/// The protocol state is dropped once its output is written, before the wait for
/// the peer: what it holds (the client's registry entry, its session) goes when
/// the connection is over, not when the peer gets round to closing.
///
/// Boxed: only a closing connection pays for the lingering state (its timers, drain
/// buffer and the protocol moved into it), not every idle connection's task, whose
/// future would otherwise be sized for it (6 KiB instead of 1.5).
fn linger<'a, P: Protocol + 'a>(
    stream: &'a mut TcpStream,
    proto: P,
    limit: Duration,
    ended: Ended,
) -> std::pin::Pin<Box<impl Future<Output = Ended> + 'a>> {
    Box::pin(linger_inner(stream, proto, limit, ended))
}

async fn linger_inner<P: Protocol>(
    stream: &mut TcpStream,
    mut proto: P,
    limit: Duration,
    ended: Ended,
) -> Ended {
    let deadline = Instant::now() + limit;
    let out = proto.output();
    let flush = async {
        loop {
            write_ready(stream, out)?;
            if out.is_empty() {
                return Ok::<(), io::Error>(());
            }
            stream.writable().await?;
        }
    };
    match tokio::time::timeout_at(deadline, flush).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) => return Ended::Io(err),
        Err(_) => return Ended::LingerExpired,
    }
    drop(proto);
    if tokio::io::AsyncWriteExt::shutdown(stream).await.is_err() {
        return ended;
    }
    let drain = async {
        let mut scratch = [0u8; 4096];
        loop {
            if stream.readable().await.is_err() {
                return;
            }
            match stream.try_read(&mut scratch) {
                Ok(0) => return,
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => {}
                Err(_) => return,
            }
        }
    };
    let _ = tokio::time::timeout_at(deadline, drain).await;
    ended
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// Echoes lines; `quit` closes; a timer fires `deadline_after` after the last input
    /// and writes `timeout\n`; shutdown writes `bye\n`; wake-ups write `wake\n`.
    struct LineEcho {
        out: OutQueue,
        deadline: Option<std::time::Instant>,
        pause_above: usize,
    }

    impl Protocol for LineEcho {
        fn on_read(&mut self, input: &mut BytesMut, now: std::time::Instant) -> Status {
            self.deadline = Some(now + Duration::from_millis(200));
            while let Some(pos) = input.iter().position(|b| *b == b'\n') {
                let line = input.split_to(pos + 1);
                if &line[..] == b"quit\n" {
                    self.out.put_slice(b"closing\n");
                    return Status::Close;
                }
                self.out.put_bytes(line.freeze());
            }
            Status::Open
        }
        fn on_eof(&mut self, _: std::time::Instant) {}
        fn on_wake(&mut self, _: std::time::Instant) -> Status {
            self.out.put_slice(b"wake\n");
            Status::Open
        }
        fn on_timer(&mut self, _: std::time::Instant) -> Status {
            self.deadline = None;
            self.out.put_slice(b"timeout\n");
            Status::Open
        }
        fn on_shutdown(&mut self, _: std::time::Instant) -> Status {
            self.out.put_slice(b"bye\n");
            Status::Close
        }
        fn deadline(&self) -> Option<std::time::Instant> {
            self.deadline
        }
        fn output(&mut self) -> &mut OutQueue {
            &mut self.out
        }
        fn read_paused(&self) -> bool {
            self.out.len() > self.pause_above
        }
    }

    /// A connected pair over loopback: (client, server side).
    async fn sockets() -> (TcpStream, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        (client, server)
    }

    /// A short read clears the readiness (no `recv` for `EAGAIN`), yet data that comes
    /// later makes the socket readable again, and a FIN that came with the data is still
    /// seen as the end of the stream.
    #[tokio::test]
    async fn short_read_clears_readiness_but_misses_neither_data_nor_eof() {
        let (mut client, server) = sockets().await;
        let mut input = BytesMut::with_capacity(4096);
        client.write_all(b"one").await.unwrap();
        server.readable().await.unwrap();
        assert_eq!(read_some(&server, &mut input).unwrap(), 3);
        // Cleared: polling readiness now is pending, not a spurious wake-up.
        let ready = std::future::poll_fn(|cx| Poll::Ready(server.poll_read_ready(cx))).await;
        assert!(
            ready.is_pending(),
            "readiness not cleared after a short read"
        );
        client.write_all(b"two").await.unwrap();
        tokio::time::timeout(Duration::from_secs(5), server.readable())
            .await
            .expect("new data must raise readiness again")
            .unwrap();
        assert_eq!(read_some(&server, &mut input).unwrap(), 3);
        assert_eq!(&input[..], b"onetwo");
        // Data and FIN together: the short read takes the data, the FIN stays marked.
        client.write_all(b"three").await.unwrap();
        client.shutdown().await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        server.readable().await.unwrap();
        assert_eq!(read_some(&server, &mut input).unwrap(), 5);
        tokio::time::timeout(Duration::from_secs(5), server.readable())
            .await
            .expect("the FIN must stay readable after the short read")
            .unwrap();
        assert_eq!(read_some(&server, &mut input).unwrap(), 0);
    }

    /// A read that fills the room it was given leaves the readiness set: more may wait.
    #[tokio::test]
    async fn full_read_keeps_readiness() {
        let (mut client, server) = sockets().await;
        client.write_all(&[7u8; 100]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(50)).await;
        server.readable().await.unwrap();
        let mut input = BytesMut::with_capacity(64);
        let room = input.capacity();
        assert_eq!(read_some(&server, &mut input).unwrap(), room);
        let ready = std::future::poll_fn(|cx| Poll::Ready(server.poll_read_ready(cx))).await;
        assert!(ready.is_ready());
        input.reserve(4096);
        assert_eq!(read_some(&server, &mut input).unwrap(), 100 - room);
        // Nothing left: a read now is `WouldBlock`, not an empty success.
        let err = read_some(&server, &mut input).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
    }

    async fn pair(
        pause_above: usize,
    ) -> (
        TcpStream,
        Arc<crate::conn::ConnWake>,
        watch::Sender<bool>,
        tokio::task::JoinHandle<Ended>,
    ) {
        pair_on(pause_above, false).await
    }

    /// Like [`pair`]; `generic` runs the connection on the driver for any stream
    /// ([`super::super::io`], the one TLS uses) instead of the readiness one.
    async fn pair_on(
        pause_above: usize,
        generic: bool,
    ) -> (
        TcpStream,
        Arc<crate::conn::ConnWake>,
        watch::Sender<bool>,
        tokio::task::JoinHandle<Ended>,
    ) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let wake = Arc::new(ConnWake::new());
        let (stop, stopped) = watch::channel(false);
        let proto = LineEcho {
            out: OutQueue::default(),
            deadline: None,
            pause_above,
        };
        let w = wake.clone();
        let task = tokio::spawn(async move {
            let config = DriverConfig::default();
            if generic {
                let input = BytesMut::new();
                super::super::io::drive_with_input(server, proto, input, w, stopped, &config).await
            } else {
                drive(server, proto, w, stopped, &config).await
            }
        });
        (client, wake, stop, task)
    }

    async fn read_until(client: &mut TcpStream, want: &[u8]) -> Vec<u8> {
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        while !got.ends_with(want) {
            let n = tokio::time::timeout(Duration::from_secs(10), client.read(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(
                n > 0,
                "closed early; got {:?}",
                String::from_utf8_lossy(&got)
            );
            got.extend_from_slice(&buf[..n]);
        }
        got
    }

    #[tokio::test]
    async fn echoes_wakes_times_out_and_closes() {
        let (mut client, wake, _stop, task) = pair(1 << 20).await;
        client.write_all(b"hello\nwor").await.unwrap();
        assert_eq!(read_until(&mut client, b"hello\n").await, b"hello\n");
        client.write_all(b"ld\n").await.unwrap();
        assert_eq!(read_until(&mut client, b"world\n").await, b"world\n");
        assert_eq!(read_until(&mut client, b"timeout\n").await, b"timeout\n");
        wake.notify_one();
        assert_eq!(read_until(&mut client, b"wake\n").await, b"wake\n");
        client.write_all(b"quit\n").await.unwrap();
        assert_eq!(read_until(&mut client, b"closing\n").await, b"closing\n");
        // The driver half-closes after its last words; it ends once the peer closes.
        let mut rest = Vec::new();
        client.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"");
        drop(client);
        assert!(matches!(task.await.unwrap(), Ended::Closed));
    }

    /// A peer still sending when the protocol closes (a WebSocket message over the
    /// size limit, answered with close 1009 mid-frame) reads the last words and
    /// an orderly end of stream, not a reset that destroys them (RFC 6455 §7.1.1:
    /// the peer must be able to read the Close; RFC 9293 §3.6: closing a socket
    /// with unread data resets the connection). Both drivers: the readiness one and
    /// the generic one (TLS).
    #[tokio::test]
    async fn closing_while_the_peer_still_sends_ends_without_reset() {
        for generic in [false, false, false, true, true, true] {
            let (client, _wake, _stop, task) = pair_on(1 << 20, generic).await;
            let (mut rd, mut wr) = client.into_split();
            let writer = tokio::spawn(async move {
                let _ = wr.write_all(b"quit\n").await;
                // Keeps sending after the server decided to close: the lingering
                // server reads it all, so no write meets a reset.
                let mut written = 0;
                for _ in 0..64 {
                    if wr.write_all(&[b'x'; 16 * 1024]).await.is_err() {
                        break;
                    }
                    written += 1;
                    tokio::time::sleep(Duration::from_millis(2)).await;
                }
                (wr, written)
            });
            let mut got = Vec::new();
            let read = tokio::time::timeout(Duration::from_secs(10), rd.read_to_end(&mut got))
                .await
                .unwrap();
            assert!(
                read.is_ok(),
                "generic driver: {generic}: {read:?} after {:?}",
                String::from_utf8_lossy(&got)
            );
            assert_eq!(got, b"closing\n");
            let (wr, written) = writer.await.unwrap();
            assert_eq!(
                written, 64,
                "generic driver: {generic}: writes after the close"
            );
            drop(wr);
            assert!(matches!(task.await.unwrap(), Ended::Closed));
        }
    }

    /// A connection driven by [`drive_parkable`] over loopback, parking after 30 ms.
    struct Parkable {
        client: TcpStream,
        parking: super::super::park::Parking,
        gauge: Arc<crate::metrics::Counter>,
        wake: Arc<crate::conn::ConnWake>,
        stop: watch::Sender<bool>,
        watcher: tokio::task::JoinHandle<io::Result<()>>,
        ended: tokio::sync::mpsc::UnboundedReceiver<Ended>,
    }

    async fn parkable() -> Parkable {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap())
            .await
            .unwrap();
        let (server, _) = listener.accept().await.unwrap();
        let gauge = Arc::new(crate::metrics::Counter::default());
        let parking = super::super::park::Parking::with_gauge(gauge.clone()).unwrap();
        let (stop, stopped) = watch::channel(false);
        let watcher = {
            let (parking, stopped) = (parking.clone(), stopped.clone());
            tokio::spawn(async move { parking.run(stopped).await })
        };
        let config = Arc::new(DriverConfig {
            parking: Some(parking.clone()),
            park_after: Duration::from_millis(30),
            ..DriverConfig::default()
        });
        let wake = Arc::new(ConnWake::new());
        let (ended_tx, ended) = tokio::sync::mpsc::unbounded_channel();
        let proto = LineEcho {
            out: OutQueue::default(),
            deadline: None,
            pause_above: 1 << 20,
        };
        tokio::spawn(drive_parkable(
            server,
            proto,
            BytesMut::new(),
            wake.clone(),
            stopped,
            config,
            move |ended| ended_tx.send(ended).unwrap(),
        ));
        Parkable {
            client,
            parking,
            gauge,
            wake,
            stop,
            watcher,
            ended,
        }
    }

    async fn until_parked(parking: &super::super::park::Parking, n: usize) {
        for _ in 0..500 {
            if parking.parked() == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        panic!("parked {} instead of {n}", parking.parked());
    }

    /// An idle connection parks (its task ends) and resumes, with its state, on
    /// each thing that can happen to it: data from the peer, a wake-up, its timer,
    /// the server's shutdown; the tail runs once, when it really ends.
    #[tokio::test]
    async fn idle_connection_parks_and_resumes_on_every_event() {
        let Parkable {
            mut client,
            parking,
            gauge,
            wake,
            stop,
            watcher,
            mut ended,
        } = parkable().await;
        until_parked(&parking, 1).await;
        assert_eq!(gauge.get(), 1, "realtime_connections_parked");
        // Data from the peer.
        client.write_all(b"one\n").await.unwrap();
        assert_eq!(read_until(&mut client, b"one\n").await, b"one\n");
        // The echo set a timer 200 ms away: no parking until it has fired.
        assert_eq!(read_until(&mut client, b"timeout\n").await, b"timeout\n");
        until_parked(&parking, 1).await;
        // A wake-up.
        wake.notify_one();
        assert_eq!(read_until(&mut client, b"wake\n").await, b"wake\n");
        until_parked(&parking, 1).await;
        // Data and a wake-up at once: the wake-up lands while the connection
        // resumes (or before it parks again) and is not lost.
        client.write_all(b"two\n").await.unwrap();
        wake.notify_one();
        let got = read_until(&mut client, b"timeout\n").await;
        let text = String::from_utf8(got).unwrap();
        let mut lines: Vec<&str> = text.lines().collect();
        lines.sort_unstable();
        assert_eq!(lines, ["timeout", "two", "wake"], "{text:?}");
        until_parked(&parking, 1).await;
        assert!(ended.try_recv().is_err(), "ended while only idle");
        // Shutdown resumes it, and it says goodbye.
        stop.send(true).unwrap();
        assert_eq!(read_until(&mut client, b"bye\n").await, b"bye\n");
        drop(client);
        let ended = tokio::time::timeout(Duration::from_secs(10), ended.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(ended, Ended::Closed), "{ended:?}");
        watcher.await.unwrap().unwrap();
        assert_eq!((parking.parked(), gauge.get()), (0, 0));
    }

    /// A parked connection whose peer goes away resumes, sees the end of stream
    /// and ends (its tail runs: the connection's place is released).
    #[tokio::test]
    async fn parked_connection_ends_when_the_peer_closes() {
        let Parkable {
            client,
            parking,
            gauge,
            mut ended,
            stop: _stop,
            ..
        } = parkable().await;
        until_parked(&parking, 1).await;
        drop(client);
        let ended = tokio::time::timeout(Duration::from_secs(10), ended.recv())
            .await
            .unwrap()
            .unwrap();
        assert!(matches!(ended, Ended::PeerClosed), "{ended:?}");
        assert_eq!((parking.parked(), gauge.get()), (0, 0));
    }

    #[tokio::test]
    async fn shutdown_says_bye() {
        let (mut client, _wake, stop, task) = pair(1 << 20).await;
        stop.send(true).unwrap();
        assert_eq!(read_until(&mut client, b"bye\n").await, b"bye\n");
        drop(client);
        assert!(matches!(task.await.unwrap(), Ended::Closed));
    }

    /// A peer that writes but never reads: the driver stops reading once its
    /// output passes the protocol's limit, so its memory stays bounded, and it
    /// catches up when the peer reads again.
    #[tokio::test]
    async fn non_reading_peer_is_paused_not_buffered() {
        let (client, _wake, _stop, task) = pair(64 * 1024).await;
        let (mut rd, mut wr) = client.into_split();
        let line = vec![b'x'; 1023]
            .into_iter()
            .chain([b'\n'])
            .collect::<Vec<u8>>();
        let total = 48 * 1024; // 48 MiB: more than loopback socket buffers hold in both directions
        let writer = tokio::spawn(async move {
            for _ in 0..total {
                wr.write_all(&line).await.unwrap();
            }
            wr
        });
        // The writer cannot finish while nobody reads: the echo path is paused.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert!(!writer.is_finished());
        let mut got = 0usize;
        let mut buf = vec![0u8; 65536];
        while got < total * 1024 {
            let n = rd.read(&mut buf).await.unwrap();
            assert!(n > 0);
            got += n;
        }
        let wr = writer.await.unwrap();
        drop(wr);
        assert!(matches!(task.await.unwrap(), Ended::PeerClosed));
    }
}
