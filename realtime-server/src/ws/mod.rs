//! WebSocket routes over the lean driver: [`WsProtocol`] runs a `ws-proto`
//! connection (sans-IO) and hands complete messages to a [`WsApp`] — the echo
//! endpoint, MQTT over WebSocket, or the `/ws` JSON protocol.
//!
//! Keep-alive: a connection silent for `idle_ping` gets a Ping; one that does not
//! answer within `pong_timeout` is closed with 1011. A close the server starts
//! waits at most `close_timeout` for the peer's Close (RFC 6455 §7.1.1), then the
//! TCP connection is closed.

pub mod echo;
pub mod json;
pub mod mqtt;

use std::time::{Duration, Instant};

use bytes::{Buf, Bytes, BytesMut};
use ws_proto::frame::OutFrame;
use ws_proto::protocol::{Connection, State};
use ws_proto::{CloseCode, Message, MessageRef};

use crate::conn::out::SHARE_THRESHOLD;
use crate::conn::{OutQueue, Protocol, Status};

/// Above this many bytes of unsent output a WebSocket connection stops reading: a
/// peer that does not read cannot make the server buffer without bound.
const PAUSE_READ_ABOVE: usize = 4 * 1024 * 1024;

/// Timers of a WebSocket connection.
#[derive(Debug, Clone, Copy)]
pub struct WsTimers {
    /// Send a Ping after this long without any frame from the peer.
    pub idle_ping: Duration,
    /// Close (1011) if nothing arrives this long after the Ping.
    pub pong_timeout: Duration,
    /// How long a close the server started waits for the peer's Close.
    pub close_timeout: Duration,
}

impl Default for WsTimers {
    fn default() -> Self {
        Self {
            idle_ping: Duration::from_secs(30),
            pong_timeout: Duration::from_secs(20),
            close_timeout: Duration::from_secs(5),
        }
    }
}

/// Where an application's outgoing messages go.
pub struct WsOut<'a> {
    ws: &'a mut Connection,
    out: &'a mut OutQueue,
}

impl WsOut<'_> {
    /// Encodes and queues a message (compressed if negotiated). Fails once the
    /// connection is closing.
    pub fn send(&mut self, message: Message) -> Result<(), ws_proto::Error> {
        push_frame(self.out, self.ws.send_owned(message)?);
        Ok(())
    }

    /// [`WsOut::send`] for a borrowed message: the header and the payload are copied
    /// straight into the out queue (no `Bytes`, no frame) when the frame needs no
    /// compression; otherwise the message is copied and encoded.
    pub fn send_ref(&mut self, message: MessageRef<'_>) -> Result<(), ws_proto::Error> {
        let payload = message.as_bytes();
        match self
            .ws
            .sender()
            .data_header(message.opcode(), payload.len())?
        {
            Some(header) => {
                self.out.put_two(header.as_slice(), payload);
                Ok(())
            }
            None => self.send(message.to_message()),
        }
    }

    /// Queues a frame encoded once for many connections, when this connection can
    /// take it as is (no compression); otherwise encodes `message` for it.
    pub fn send_shared(
        &mut self,
        frame: &OutFrame,
        message: &Message,
    ) -> Result<(), ws_proto::Error> {
        if self.ws.sender().check_shared_frame().is_ok() {
            self.out.put_slice(frame.header());
            self.out.put_shared(frame.payload());
            Ok(())
        } else {
            self.send(message.clone())
        }
    }

    /// Starts the closing handshake.
    pub fn close(&mut self, code: CloseCode, reason: &str) {
        if let Ok(frame) = self.ws.close(code, reason) {
            push_frame(self.out, frame);
        }
    }

    /// Bytes queued and not yet written (for slow-consumer policies).
    pub fn pending(&self) -> usize {
        self.out.len()
    }
}

/// Queues a frame this connection encoded: its payload moves into the queue (copied
/// there when small, so the reference count is not touched twice).
fn push_frame(out: &mut OutQueue, frame: OutFrame) {
    out.put_slice(frame.header());
    out.put_bytes(frame.into_payload());
}

/// What runs on top of a WebSocket connection.
pub trait WsApp {
    /// The connection is open: say hello if the protocol wants to.
    fn on_open(&mut self, _ws: &mut WsOut<'_>, _now: Instant) {}
    /// A complete Text or Binary message arrived.
    fn on_message(&mut self, message: Message, ws: &mut WsOut<'_>, now: Instant) -> Status;
    /// Whether small whole messages go to [`WsApp::on_message_ref`], borrowed from the
    /// read buffer, instead of [`WsApp::on_message`] (for applications that only copy
    /// the payload: no shared `Bytes` is made for them).
    const BORROWS_MESSAGES: bool = false;
    /// A small whole Text or Binary message, borrowed (only if
    /// [`WsApp::BORROWS_MESSAGES`]).
    fn on_message_ref(
        &mut self,
        message: MessageRef<'_>,
        ws: &mut WsOut<'_>,
        now: Instant,
    ) -> Status {
        self.on_message(message.to_message(), ws, now)
    }
    /// Something outside woke the connection.
    fn on_wake(&mut self, ws: &mut WsOut<'_>, now: Instant) -> Status;
    /// The application's own deadline passed.
    fn on_timer(&mut self, ws: &mut WsOut<'_>, now: Instant) -> Status;
    /// The application's own deadline, if any.
    fn deadline(&self) -> Option<Instant>;
    /// The connection is ending (peer Close, error, EOF, shutdown): release state.
    fn on_end(&mut self, now: Instant);
    /// The server is shutting down; the transport then closes with 1001.
    fn on_shutdown(&mut self, _ws: &mut WsOut<'_>, _now: Instant) {}
    /// Whether reading should pause (back-pressure).
    fn read_paused(&self) -> bool {
        false
    }
    /// Whether the connection may park (see [`crate::conn::Protocol::parkable`]).
    fn parkable(&self) -> bool {
        true
    }
    /// The connection parks now (see [`crate::conn::Protocol::on_park`]).
    fn on_park(&mut self) {}
    /// The transport label and client id for the connection's log span (see
    /// [`crate::conn::Protocol::log_names`]).
    fn log_names(&self) -> (&'static str, Option<&str>) {
        ("http", None)
    }
}

/// A WebSocket connection running `A`.
pub struct WsProtocol<A> {
    ws: Connection,
    app: A,
    out: OutQueue,
    timers: WsTimers,
    last_read: Instant,
    ping_sent: bool,
    /// Set once a close was started by this side: when to give up waiting.
    closing_deadline: Option<Instant>,
    ended: bool,
    label: &'static str,
}

impl<A: WsApp> WsProtocol<A> {
    /// Wraps a negotiated connection (`label` names the route in logs).
    pub fn new(
        ws: Connection,
        app: A,
        timers: WsTimers,
        label: &'static str,
        now: Instant,
    ) -> Self {
        let mut this = Self {
            ws,
            app,
            out: OutQueue::default(),
            timers,
            last_read: now,
            ping_sent: false,
            closing_deadline: None,
            ended: false,
            label,
        };
        let mut out = WsOut {
            ws: &mut this.ws,
            out: &mut this.out,
        };
        this.app.on_open(&mut out, now);
        this
    }

    /// The application.
    pub fn app(&self) -> &A {
        &self.app
    }

    fn flush_transmit(&mut self) {
        while let Some(frame) = self.ws.poll_transmit() {
            push_frame(&mut self.out, frame);
        }
    }

    fn end(&mut self, now: Instant) {
        if !self.ended {
            self.ended = true;
            self.app.on_end(now);
        }
    }

    /// After the application asked to close (or an error): send Close if not yet
    /// sent and wait for the peer's.
    fn start_close(&mut self, code: CloseCode, reason: &str, now: Instant) -> Status {
        self.end(now);
        if let Ok(frame) = self.ws.close(code, reason) {
            push_frame(&mut self.out, frame);
        }
        self.flush_transmit();
        if self.ws.state() == State::Closed {
            return Status::Close;
        }
        self.closing_deadline
            .get_or_insert(now + self.timers.close_timeout);
        Status::Open
    }

    /// The fast path: the small whole data messages at the front of `input`, handed to
    /// the application borrowed, then dropped from `input` at once. Stops at the first
    /// frame it does not take (control, fragment, large, incomplete, invalid), which
    /// [`Protocol::on_read`]'s loop then reads as always.
    fn on_read_borrowed(&mut self, input: &mut BytesMut, now: Instant) -> Status {
        let mut used = 0;
        let mut status = Status::Open;
        while !self.app.read_paused() {
            let Some(rest) = input.get_mut(used..) else {
                break;
            };
            let Some((message, len)) = self.ws.read_borrowed(rest, SHARE_THRESHOLD) else {
                break;
            };
            used += len;
            let Some((app, mut out)) = self.app_out() else {
                continue;
            };
            let app_status = app.on_message_ref(message, &mut out, now);
            if self.app_status(app_status, now) == Status::Close {
                status = Status::Close;
                break;
            }
        }
        input.advance(used);
        status
    }

    /// The application and where its output goes, for a message or a wake-up; `None`
    /// once the application has ended (this side sent Close, or the connection
    /// failed): data that still arrives is read and dropped (RFC 6455 §7.1.4).
    ///
    /// Not a `deliver(message)` that calls the application itself: a `MessageRef`
    /// (24 bytes, passed by address) handed on through a helper's parameter is
    /// copied once more before the call, 4 instructions a message in a 16-byte echo.
    fn app_out(&mut self) -> Option<(&mut A, WsOut<'_>)> {
        if self.ended {
            return None;
        }
        let out = WsOut {
            ws: &mut self.ws,
            out: &mut self.out,
        };
        Some((&mut self.app, out))
    }

    fn app_status(&mut self, status: Status, now: Instant) -> Status {
        match status {
            Status::Open => Status::Open,
            Status::Close => self.start_close(CloseCode::NORMAL, "", now),
        }
    }
}

impl<A: WsApp> Protocol for WsProtocol<A> {
    fn on_read(&mut self, input: &mut BytesMut, now: Instant) -> Status {
        self.last_read = now;
        self.ping_sent = false;
        if A::BORROWS_MESSAGES && self.on_read_borrowed(input, now) == Status::Close {
            return Status::Close;
        }
        loop {
            if self.app.read_paused() {
                // The application asked for back-pressure (rate limit): the rest
                // of the input waits in the driver until it lifts.
                break;
            }
            let read = self.ws.read(input);
            // Pongs and Close replies go out in the order the frames came in
            // (a Pong before the messages that followed its Ping, §5.5.2).
            self.flush_transmit();
            match read {
                Ok(Some(message @ (Message::Text(_) | Message::Binary(_)))) => {
                    let Some((app, mut out)) = self.app_out() else {
                        continue;
                    };
                    let status = app.on_message(message, &mut out, now);
                    if self.app_status(status, now) == Status::Close {
                        return Status::Close;
                    }
                }
                Ok(Some(Message::Ping(_) | Message::Pong(_))) => {}
                Ok(Some(Message::Close(_))) => {
                    // The reply is queued by the connection (§5.5.1); the server
                    // closes TCP first (§7.1.1).
                    self.end(now);
                    self.flush_transmit();
                    return Status::Close;
                }
                Ok(None) => break,
                Err(err) => {
                    tracing::info!(route = self.label, rule = err.rule(), close = ?err.close_code(), "websocket failed: {}", err.message());
                    self.end(now);
                    self.flush_transmit();
                    return Status::Close;
                }
            }
        }
        self.flush_transmit();
        if self.ws.state() == State::Closed {
            return Status::Close;
        }
        Status::Open
    }

    fn on_eof(&mut self, now: Instant) {
        self.end(now);
    }

    fn on_wake(&mut self, now: Instant) -> Status {
        let Some((app, mut out)) = self.app_out() else {
            return Status::Open;
        };
        let status = app.on_wake(&mut out, now);
        self.app_status(status, now)
    }

    fn on_timer(&mut self, now: Instant) -> Status {
        if let Some(deadline) = self.closing_deadline {
            if now >= deadline {
                return Status::Close;
            }
            return Status::Open;
        }
        if self.app.deadline().is_some_and(|d| now >= d) {
            let mut out = WsOut {
                ws: &mut self.ws,
                out: &mut self.out,
            };
            let status = self.app.on_timer(&mut out, now);
            if self.app_status(status, now) == Status::Close {
                return Status::Close;
            }
        }
        if self.ping_sent
            && now >= self.last_read + self.timers.idle_ping + self.timers.pong_timeout
        {
            tracing::info!(route = self.label, "websocket peer did not answer a ping");
            return self.start_close(CloseCode::INTERNAL_ERROR, "keepalive ping timeout", now);
        }
        if !self.ping_sent && now >= self.last_read + self.timers.idle_ping {
            self.ping_sent = true;
            if let Ok(frame) = self.ws.send(&Message::Ping(Bytes::new())) {
                push_frame(&mut self.out, frame);
            }
        }
        Status::Open
    }

    fn on_shutdown(&mut self, now: Instant) -> Status {
        if !self.ended {
            let mut out = WsOut {
                ws: &mut self.ws,
                out: &mut self.out,
            };
            self.app.on_shutdown(&mut out, now);
        }
        self.start_close(CloseCode::GOING_AWAY, "server shutting down", now)
    }

    fn deadline(&self) -> Option<Instant> {
        if let Some(d) = self.closing_deadline {
            return Some(d);
        }
        let keepalive = if self.ping_sent {
            self.last_read + self.timers.idle_ping + self.timers.pong_timeout
        } else {
            self.last_read + self.timers.idle_ping
        };
        Some(match self.app.deadline() {
            Some(d) => d.min(keepalive),
            None => keepalive,
        })
    }

    fn output(&mut self) -> &mut OutQueue {
        &mut self.out
    }

    fn read_paused(&self) -> bool {
        self.out.len() > PAUSE_READ_ABOVE || self.app.read_paused()
    }

    fn log_names(&self) -> (&'static str, Option<&str>) {
        self.app.log_names()
    }

    fn parkable(&self) -> bool {
        !self.ended && self.closing_deadline.is_none() && self.app.parkable()
    }

    fn on_park(&mut self) {
        self.app.on_park();
    }
}
