//! Connection plumbing shared by every transport: the [`Protocol`] a connection
//! speaks (sans-IO) and the drivers that move its bytes over a socket.
//!
//! A protocol state (MQTT, WebSocket carrying MQTT, WebSocket carrying JSON, echo)
//! implements [`Protocol`]; a driver ([`tcp::drive`]) owns the socket, the timers and
//! the wake-ups, and never blocks reading on writing or the other way round.

pub mod io;
pub mod limit;
pub mod out;
pub mod park;
pub mod rate;
pub mod tcp;
pub mod wake;

pub use wake::ConnWake;

use std::time::Instant;

use bytes::BytesMut;

pub use out::OutQueue;

/// What a protocol state wants from its driver after an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Keep the connection open.
    Open,
    /// Write what is queued (bounded by the driver's linger time), then close.
    Close,
}

/// The sans-IO side of a connection. Every method takes the current time; none
/// blocks, none does I/O.
pub trait Protocol {
    /// Bytes arrived in `input`; consume whole units from its front and leave any
    /// partial unit in place.
    fn on_read(&mut self, input: &mut BytesMut, now: Instant) -> Status;

    /// The peer closed its sending side (EOF) or the connection failed.
    fn on_eof(&mut self, now: Instant);

    /// Something outside the connection woke it (deliveries queued, session taken
    /// over, ...); move what is ready to the output.
    fn on_wake(&mut self, now: Instant) -> Status;

    /// The deadline from [`Protocol::deadline`] has passed.
    fn on_timer(&mut self, now: Instant) -> Status;

    /// The server is shutting down: say goodbye (DISCONNECT 0x8B, close 1001).
    fn on_shutdown(&mut self, now: Instant) -> Status;

    /// The earliest time at which [`Protocol::on_timer`] must run, if any.
    fn deadline(&self) -> Option<Instant>;

    /// Bytes to send.
    fn output(&mut self) -> &mut OutQueue;

    /// Whether the driver should stop reading for now (back-pressure: e.g. the
    /// output is not draining). Reading resumes when this turns false after a write.
    fn read_paused(&self) -> bool {
        false
    }

    /// Whether the connection may park now that it is idle (see [`park`]): not
    /// while it waits for the peer to finish an exchange (an acknowledgement in
    /// flight), which it should then answer as soon as a resting connection would.
    fn parkable(&self) -> bool {
        true
    }

    /// The connection parks now: let go of storage an idle connection does not
    /// need (emptied queues).
    fn on_park(&mut self) {}

    /// What the connection's log span names besides the peer: the transport label
    /// and the client id, once known. A parked connection keeps no span; it gets a
    /// new one with these when it resumes.
    fn log_names(&self) -> (&'static str, Option<&str>) {
        ("tcp", None)
    }
}

/// A stream a connection can be driven over: plain TCP uses the lean readiness
/// driver ([`tcp`]); anything else (TLS) the generic one ([`io`]).
pub trait Driven:
    tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + Sized + 'static
{
    /// Runs `proto` over this stream until either side closes; `input` holds
    /// bytes already read (e.g. after an HTTP upgrade request).
    fn drive<P: Protocol + Send>(
        self,
        proto: P,
        input: BytesMut,
        wake: std::sync::Arc<ConnWake>,
        shutdown: tokio::sync::watch::Receiver<bool>,
        config: &tcp::DriverConfig,
    ) -> impl std::future::Future<Output = tcp::Ended> + Send;

    /// Like [`Driven::drive`], handing how the connection ended to `tail`; over
    /// plain TCP the connection parks while idle ([`park`]) if `config` has
    /// parking, and `tail` then runs on the task that drives it last.
    fn drive_parkable<P, T>(
        self,
        proto: P,
        input: BytesMut,
        wake: std::sync::Arc<ConnWake>,
        shutdown: tokio::sync::watch::Receiver<bool>,
        config: std::sync::Arc<tcp::DriverConfig>,
        tail: T,
    ) -> impl std::future::Future<Output = ()> + Send
    where
        P: Protocol + Send + 'static,
        T: FnOnce(tcp::Ended) + Send + 'static,
    {
        async move { tail(self.drive(proto, input, wake, shutdown, &config).await) }
    }
}

impl Driven for tokio::net::TcpStream {
    fn drive<P: Protocol + Send>(
        self,
        proto: P,
        input: BytesMut,
        wake: std::sync::Arc<ConnWake>,
        shutdown: tokio::sync::watch::Receiver<bool>,
        config: &tcp::DriverConfig,
    ) -> impl std::future::Future<Output = tcp::Ended> + Send {
        tcp::drive_with_input(self, proto, input, wake, shutdown, config)
    }

    fn drive_parkable<P, T>(
        self,
        proto: P,
        input: BytesMut,
        wake: std::sync::Arc<ConnWake>,
        shutdown: tokio::sync::watch::Receiver<bool>,
        config: std::sync::Arc<tcp::DriverConfig>,
        tail: T,
    ) -> impl std::future::Future<Output = ()> + Send
    where
        P: Protocol + Send + 'static,
        T: FnOnce(tcp::Ended) + Send + 'static,
    {
        tcp::drive_parkable(self, proto, input, wake, shutdown, config, tail)
    }
}
