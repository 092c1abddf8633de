//! The reader and writer halves and their buffers.

use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use ::tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadHalf, WriteHalf};
use ::tokio::sync::Mutex;
use bytes::{Buf, BufMut, BytesMut};

use crate::close::{CloseCode, CloseFrame};
use crate::deflate::DeflateParams;
use crate::frame::{FrameHeader, OpCode, OutFrame};
use crate::protocol::{Config, Message, Receiver, Role, Sender};

use super::WsError;

/// The read buffer of an idle connection: it starts empty, grows on demand while data
/// flows (doubling, up to [`MAX_READ`] per read, or to the size of a large frame), and
/// shrinks back to this when it drains.
pub(super) const IDLE_READ: usize = 1024;
const MAX_READ: usize = 64 * 1024;
/// How long a closing connection waits for the peer's Close frame or for EOF.
pub const CLOSE_TIMEOUT: Duration = Duration::from_secs(5);

struct WriteInner<S> {
    io: WriteHalf<S>,
    sender: Sender,
    shut: bool,
}

/// The receiving half: yields messages, answers Pings and Closes through the writer.
pub struct WsReader<S> {
    io: ReadHalf<S>,
    receiver: Receiver,
    buf: BytesMut,
    read_size: usize,
    writer: Arc<Mutex<WriteInner<S>>>,
    role: Role,
    auto_pong: bool,
    finished: bool,
    subprotocol: Option<String>,
}

/// The sending half; cheap to clone (clones share the stream and the compressor, and
/// each send holds the lock for one frame).
pub struct WsWriter<S> {
    inner: Arc<Mutex<WriteInner<S>>>,
}

impl<S> Clone for WsWriter<S> {
    fn clone(&self) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
        }
    }
}

pub(super) fn pair<S: AsyncRead + AsyncWrite>(
    stream: S,
    role: Role,
    config: Config,
    deflate: Option<&DeflateParams>,
    leftover: BytesMut,
) -> (WsReader<S>, WsWriter<S>) {
    let (read, write) = ::tokio::io::split(stream);
    let inner = Arc::new(Mutex::new(WriteInner {
        io: write,
        sender: Sender::new(role, deflate),
        shut: false,
    }));
    let reader = WsReader {
        io: read,
        receiver: Receiver::new(role, config, deflate),
        buf: leftover,
        read_size: IDLE_READ,
        writer: Arc::clone(&inner),
        role,
        auto_pong: config.auto_pong,
        finished: false,
        subprotocol: None,
    };
    (reader, WsWriter { inner })
}

async fn write_frame<S: AsyncWrite>(
    io: &mut WriteHalf<S>,
    frame: &OutFrame,
) -> std::io::Result<()> {
    // Header and payload go out together: one vectored write on streams that support it
    // (TCP), without copying the (possibly shared) payload.
    let mut chain = Buf::chain(frame.header(), frame.payload().clone());
    io.write_all_buf(&mut chain).await?;
    io.flush().await
}

impl<S: AsyncWrite> WriteInner<S> {
    async fn send(&mut self, message: &Message) -> Result<(), WsError> {
        let frame = self.sender.encode(message)?;
        write_frame(&mut self.io, &frame).await?;
        Ok(())
    }

    async fn shutdown(&mut self) {
        if !self.shut {
            self.shut = true;
            let _ = self.io.shutdown().await;
        }
    }
}

impl<S: AsyncRead + AsyncWrite> WsWriter<S> {
    /// Sends a message (compressed if permessage-deflate was negotiated); returns once it
    /// is written to the stream.
    pub async fn send(&self, message: Message) -> Result<(), WsError> {
        self.inner.lock().await.send(&message).await
    }

    /// Writes a pre-encoded frame shared between connections (broadcast).
    ///
    /// Encode the message once with [`OutFrame::unmasked`] and pass a reference to each
    /// connection's writer: only the 2–10 header bytes are per connection, the payload
    /// is the same `Bytes`. Valid only for server connections that did not negotiate
    /// permessage-deflate ([`WsWriter::compresses`] is `false`); for the others call
    /// [`WsWriter::send`], which compresses with that connection's context.
    pub async fn send_frame(&self, frame: &OutFrame) -> Result<(), WsError> {
        let mut inner = self.inner.lock().await;
        inner.sender.check_shared_frame()?;
        if inner.sender.compresses() {
            return Err(crate::Error::new(
                crate::ErrorKind::Closed,
                "RFC 7692 §6",
                "connection compresses: shared frames would skip its compressor",
            )
            .into());
        }
        write_frame(&mut inner.io, frame).await?;
        Ok(())
    }

    /// Whether this connection compresses (then broadcast with [`WsWriter::send`]).
    pub async fn compresses(&self) -> bool {
        self.inner.lock().await.sender.compresses()
    }

    /// Sends a Close frame (RFC 6455 §7.1.2); the reader then waits for the peer's.
    pub async fn close(&self, code: CloseCode, reason: &str) -> Result<(), WsError> {
        let message = Message::Close(Some(CloseFrame::new(code, reason)));
        self.inner.lock().await.send(&message).await
    }
}

impl<S: AsyncRead + AsyncWrite> WsReader<S> {
    pub(super) fn set_subprotocol(&mut self, subprotocol: Option<String>) {
        self.subprotocol = subprotocol;
    }

    /// The negotiated subprotocol.
    pub fn subprotocol(&self) -> Option<&str> {
        self.subprotocol.as_deref()
    }

    /// The next message; `None` once closed. See [`super::WebSocket::recv`].
    pub async fn recv(&mut self) -> Option<Result<Message, WsError>> {
        if self.finished {
            return None;
        }
        loop {
            match self.receiver.read(&mut self.buf) {
                Ok(Some(message @ (Message::Text(_) | Message::Binary(_) | Message::Pong(_)))) => {
                    return Some(Ok(message));
                }
                // Pings and Closes need a write: boxed, to keep the idle future small.
                Ok(Some(message)) => return Some(Box::pin(self.on_message(message)).await),
                Ok(None) if self.receiver.is_done() => {
                    // Cold paths are boxed: they hold timers, which would otherwise
                    // enlarge every idle connection's future.
                    Box::pin(self.finish()).await;
                    return None;
                }
                Ok(None) => {}
                Err(e) => {
                    Box::pin(self.fail(&e)).await;
                    return Some(Err(e.into()));
                }
            }
            match self.fill().await {
                Ok(0) => {
                    // EOF without a Close (RFC 6455 §7.1.5: abnormal closure, 1006).
                    self.finished = true;
                    self.writer.lock().await.shutdown().await;
                    return None;
                }
                Ok(_) => {}
                Err(e) => {
                    self.finished = true;
                    return Some(Err(e.into()));
                }
            }
        }
    }

    async fn on_message(&mut self, message: Message) -> Result<Message, WsError> {
        match &message {
            Message::Ping(payload) if self.auto_pong => {
                let mut w = self.writer.lock().await;
                if !w.sender.close_sent() {
                    w.send(&Message::Pong(payload.clone())).await?;
                }
            }
            Message::Close(frame) => {
                {
                    let mut w = self.writer.lock().await;
                    if !w.sender.close_sent() {
                        // Echo the code (RFC 6455 §5.5.1); a Close without code gets one without.
                        let reply = frame.as_ref().map(|f| CloseFrame::new(f.code, ""));
                        w.send(&Message::Close(reply)).await?;
                    }
                }
                Box::pin(self.finish()).await;
            }
            _ => {}
        }
        Ok(message)
    }

    /// After a Close was received (and answered): a server closes the TCP connection
    /// first (RFC 6455 §7.1.1); a client waits for the server to do so.
    async fn finish(&mut self) {
        self.finished = true;
        if self.role == Role::Client {
            let _ = ::tokio::time::timeout(CLOSE_TIMEOUT, self.drain(false)).await;
        }
        self.writer.lock().await.shutdown().await;
        self.release_buffer();
    }

    /// Fails the connection (RFC 6455 §7.1.7): sends the Close with the error's code,
    /// waits for the peer's Close (and, as a client, for EOF), then closes.
    async fn fail(&mut self, error: &crate::Error) {
        self.finished = true;
        if let Some(code) = error.close_code() {
            let mut w = self.writer.lock().await;
            if !w.sender.close_sent() {
                let reason = if error.message().len() <= 123 {
                    error.message()
                } else {
                    ""
                };
                let _ = w
                    .send(&Message::Close(Some(CloseFrame::new(code, reason))))
                    .await;
            }
        }
        if !self.receiver.peer_sent_close() {
            let _ = ::tokio::time::timeout(CLOSE_TIMEOUT, self.drain(true)).await;
        }
        if self.role == Role::Client {
            let _ = ::tokio::time::timeout(CLOSE_TIMEOUT, self.drain(false)).await;
        }
        self.writer.lock().await.shutdown().await;
        self.release_buffer();
    }

    /// Reads and discards input: until a Close frame if `until_close` (frames are skipped
    /// by their headers, nothing else is checked), else until EOF.
    async fn drain(&mut self, until_close: bool) {
        loop {
            if until_close {
                while let Ok(Some((header, header_len))) = FrameHeader::decode(&self.buf) {
                    let total = header_len
                        .saturating_add(usize::try_from(header.payload_len).unwrap_or(usize::MAX));
                    if header.opcode == OpCode::Close {
                        return;
                    }
                    if self.buf.len() < total {
                        break;
                    }
                    self.buf.advance(total);
                }
                if FrameHeader::decode(&self.buf).is_err() {
                    return;
                }
                if self.buf.len() > MAX_READ {
                    // A huge frame is in the way: keep only what is needed to skip it.
                    return;
                }
            } else {
                self.buf.clear();
            }
            match self.fill().await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    }

    fn release_buffer(&mut self) {
        self.buf = BytesMut::new();
    }

    /// Reads more bytes into the buffer, growing it while data flows and shrinking it
    /// back to [`IDLE_READ`] once it drained (an idle connection holds ≤ 1 KiB).
    ///
    /// A read takes at most [`MAX_READ`] bytes, or the rest of a large frame in progress
    /// (the receiver has reserved room for it), and never reads past such a frame's end:
    /// the buffer then drains completely when the message is split off, and an empty
    /// buffer starts again at the front of its allocation (free when no message handed
    /// out still holds it). Otherwise a read that ended inside the next frame leaves its
    /// start at the end of the buffer, to be moved (up to a whole large frame) when the
    /// rest needs room. An empty grown buffer is kept only if more bytes are ready at
    /// once; a connection that goes idle waits with an empty one.
    async fn fill(&mut self) -> std::io::Result<usize> {
        if self.buf.is_empty() {
            if self.buf.capacity() > IDLE_READ && self.read_size == IDLE_READ {
                self.buf = BytesMut::new();
            } else {
                let _ = self.buf.try_reclaim(self.buf.capacity().saturating_add(1));
            }
        }
        if self.buf.is_empty() && self.buf.capacity() > IDLE_READ {
            if let Some(ready) = self.fill_if_ready().await {
                return ready;
            }
            self.buf = BytesMut::new();
            self.read_size = IDLE_READ;
        }
        self.fill_once().await
    }

    /// [`Self::fill_once`] if it completes without waiting (dropping a pending read
    /// loses no bytes: `read_buf` is cancel safe).
    async fn fill_if_ready(&mut self) -> Option<std::io::Result<usize>> {
        let mut read = std::pin::pin!(self.fill_once());
        let polled = std::future::poll_fn(|cx| Poll::Ready(read.as_mut().poll(cx))).await;
        match polled {
            Poll::Ready(result) => Some(result),
            Poll::Pending => None,
        }
    }

    async fn fill_once(&mut self) -> std::io::Result<usize> {
        let limit = match self.receiver.frame_remaining(&self.buf) {
            Some(rest) if rest >= self.read_size => rest,
            _ => MAX_READ,
        };
        if self.buf.capacity() - self.buf.len() < (self.read_size / 2).max(1) {
            self.buf.reserve(self.read_size);
        }
        let asked = (self.buf.capacity() - self.buf.len()).min(limit);
        let n = self.io.read_buf(&mut (&mut self.buf).limit(limit)).await?;
        self.read_size = if n >= asked {
            (self.read_size * 2).min(MAX_READ)
        } else {
            IDLE_READ
        };
        Ok(n)
    }
}
