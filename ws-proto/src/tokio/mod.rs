//! A thin tokio adapter (feature `tokio`): the sans-IO [`Connection`](crate::Connection)
//! driven over any `AsyncRead + AsyncWrite`.
//!
//! - Server: [`WebSocket::accept`] reads and answers the request itself;
//!   [`WebSocket::accept_with_request`] takes over a stream whose request head the
//!   server already parsed (routing), with the bytes read past the head.
//! - Client: [`WebSocket::connect`].
//! - [`WebSocket::recv`] / [`WebSocket::send`]; [`WebSocket::split`] gives a
//!   [`WsReader`] and a [`WsWriter`] for two tasks. `send` returns once the frame is
//!   written to the stream: a slow peer slows the sender (back-pressure), nothing queues.
//! - Broadcast: [`WsWriter::send_frame`] writes a shared [`OutFrame`] (one encoding,
//!   many connections; see `docs/ws-proto.md`).
//!
//! ```no_run
//! use ws_proto::{Message, handshake::server::ServerConfig, tokio::WebSocket};
//! # async fn run() -> Result<(), ws_proto::tokio::WsError> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! let (tcp, _) = listener.accept().await?;
//! let mut ws = WebSocket::accept(tcp, &ServerConfig::default()).await?;
//! while let Some(msg) = ws.recv().await {
//!     match msg? {
//!         m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await?,
//!         _ => {}
//!     }
//! }
//! # Ok(()) }
//! ```

mod io;

use std::fmt;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use bytes::BytesMut;

use crate::close::CloseCode;
use crate::deflate::DeflateParams;
use crate::error::Error;
use crate::frame::OutFrame;
use crate::handshake::client::{ClientConfig, ClientHandshake, Negotiated};
use crate::handshake::server::{self, ServerConfig, reject_response};
use crate::http::{Parsed, RequestHead, parse_request};
use crate::protocol::{Config, Message, Role};

pub use io::{CLOSE_TIMEOUT, WsReader, WsWriter};

/// An adapter error: the protocol's (with its close code or HTTP status) or the stream's.
#[derive(Debug)]
pub enum WsError {
    /// A protocol or handshake error; the Close frame / HTTP rejection was already sent.
    Protocol(Error),
    /// The underlying stream failed.
    Io(std::io::Error),
}

impl fmt::Display for WsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Protocol(e) => write!(f, "{e}"),
            Self::Io(e) => write!(f, "i/o error: {e}"),
        }
    }
}

impl std::error::Error for WsError {}

impl From<Error> for WsError {
    fn from(e: Error) -> Self {
        Self::Protocol(e)
    }
}

impl From<std::io::Error> for WsError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// A WebSocket over a tokio stream.
pub struct WebSocket<S> {
    reader: WsReader<S>,
    writer: WsWriter<S>,
}

impl<S> fmt::Debug for WebSocket<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocket").finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> WebSocket<S> {
    /// Wraps a stream whose opening handshake is done: `leftover` holds the bytes read
    /// past the handshake (frames the peer sent right after it).
    pub fn from_raw(
        stream: S,
        role: Role,
        config: Config,
        deflate: Option<DeflateParams>,
        leftover: BytesMut,
    ) -> Self {
        let (reader, writer) = io::pair(stream, role, config, deflate.as_ref(), leftover);
        Self { reader, writer }
    }

    /// Server: reads the request head (within `config.limits`), answers it and returns
    /// the connection. A rejected request gets its HTTP error response (400, 403, 426,
    /// 431, ...) before the error is returned.
    pub async fn accept(mut stream: S, config: &ServerConfig) -> Result<Self, WsError> {
        let mut buf = BytesMut::with_capacity(1024);
        loop {
            match parse_request(&buf, &config.limits) {
                Ok(Parsed::Complete(head, used)) => {
                    let leftover = buf.split_off(used);
                    return Self::accept_with_request(stream, &head, leftover, config).await;
                }
                Ok(Parsed::Partial) => {
                    buf.reserve(1024);
                    if stream.read_buf(&mut buf).await? == 0 {
                        return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
                    }
                }
                Err(e) => {
                    stream.write_all(&reject_response(&e)).await?;
                    stream.shutdown().await?;
                    return Err(e.into());
                }
            }
        }
    }

    /// Server: answers a request head the caller already parsed (e.g. after routing on
    /// its path) and takes over the stream. `leftover` is what the caller read past the
    /// head. On rejection the HTTP error response is written and the error returned.
    pub async fn accept_with_request(
        mut stream: S,
        head: &RequestHead,
        leftover: BytesMut,
        config: &ServerConfig,
    ) -> Result<Self, WsError> {
        match server::accept(head, config) {
            Ok(accepted) => {
                stream.write_all(&accepted.response).await?;
                stream.flush().await?;
                let mut ws = Self::from_raw(
                    stream,
                    Role::Server,
                    config.connection,
                    accepted.deflate,
                    leftover,
                );
                ws.reader.set_subprotocol(accepted.subprotocol);
                Ok(ws)
            }
            Err(rejection) => {
                stream.write_all(&rejection.response).await?;
                stream.shutdown().await?;
                Err(rejection.error.into())
            }
        }
    }

    /// Client: sends the opening handshake for `host` (the `Host` value) and `target`
    /// (path and query) and validates the answer.
    pub async fn connect(
        mut stream: S,
        host: &str,
        target: &str,
        config: &ClientConfig,
    ) -> Result<(Self, Negotiated), WsError> {
        let (handshake, request) = ClientHandshake::new(host, target, config);
        stream.write_all(&request).await?;
        stream.flush().await?;
        let mut buf = BytesMut::with_capacity(1024);
        loop {
            if let Parsed::Complete(negotiated, used) = handshake.parse_response(&buf)? {
                let leftover = buf.split_off(used);
                let ws = Self::from_raw(
                    stream,
                    Role::Client,
                    config.connection,
                    negotiated.deflate,
                    leftover,
                );
                return Ok((ws, negotiated));
            }
            buf.reserve(1024);
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(std::io::Error::from(std::io::ErrorKind::UnexpectedEof).into());
            }
        }
    }

    /// The next message (Pings, Pongs and the peer's Close included; Pongs and Close
    /// replies are sent automatically). `None` once the connection is closed. A protocol
    /// error is returned after the Close frame with its code was sent.
    pub async fn recv(&mut self) -> Option<Result<Message, WsError>> {
        self.reader.recv().await
    }

    /// Sends a message; returns once it is written (back-pressure).
    pub async fn send(&mut self, message: Message) -> Result<(), WsError> {
        self.writer.send(message).await
    }

    /// Writes a pre-encoded shared frame (broadcast), see [`WsWriter::send_frame`].
    pub async fn send_frame(&mut self, frame: &OutFrame) -> Result<(), WsError> {
        self.writer.send_frame(frame).await
    }

    /// Starts the closing handshake; keep calling [`WebSocket::recv`] until `None`.
    pub async fn close(&mut self, code: CloseCode, reason: &str) -> Result<(), WsError> {
        self.writer.close(code, reason).await
    }

    /// The negotiated subprotocol, if any.
    pub fn subprotocol(&self) -> Option<&str> {
        self.reader.subprotocol()
    }

    /// Splits into a reader and a writer that can live in two tasks.
    pub fn split(self) -> (WsReader<S>, WsWriter<S>) {
        (self.reader, self.writer)
    }
}
