//! The whole endpoint: a [`Receiver`], a [`Sender`] and the replies they owe each other.

use std::collections::VecDeque;

use bytes::BytesMut;

use crate::close::{CloseCode, CloseFrame};
use crate::deflate::DeflateParams;
use crate::error::Error;
use crate::frame::OutFrame;

use super::config::{Config, Role};
use super::message::{Message, MessageRef};
use super::receiver::Receiver;
use super::sender::Sender;

/// Where the closing handshake stands (RFC 6455 §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Both directions open.
    Open,
    /// We sent a Close and wait for the peer's (data may still arrive).
    Closing,
    /// A Close was received (and answered), or the connection failed: the server closes
    /// the TCP connection now, a client waits for the server to close it (§7.1.1).
    Closed,
}

/// A sans-IO WebSocket endpoint: feed it the bytes read from the peer, take the frames
/// it wants written.
///
/// It answers Pings (if `auto_pong`) and Closes by itself, and fails the connection with
/// the right close code on any violation (RFC 6455 §7.1.7): after [`Connection::read`]
/// returns an error, [`Connection::poll_transmit`] yields the Close frame to send.
///
/// ```
/// use bytes::BytesMut;
/// use ws_proto::protocol::{Config, Connection, Message, Role, State};
///
/// let mut server = Connection::new(Role::Server, Config::default(), None);
/// let mut client = Connection::new(Role::Client, Config::default(), None);
///
/// // The client sends a text message; its bytes reach the server.
/// let frame = client.send(&Message::text("hello")).unwrap();
/// let mut wire = BytesMut::new();
/// frame.write_to(&mut wire);
/// assert_eq!(server.read(&mut wire).unwrap(), Some(Message::text("hello")));
///
/// // The client closes; the server answers on its own and is closed.
/// client.send(&Message::Close(None)).unwrap().write_to(&mut wire);
/// assert!(matches!(server.read(&mut wire).unwrap(), Some(Message::Close(None))));
/// assert!(server.poll_transmit().is_some());
/// assert_eq!(server.state(), State::Closed);
/// ```
#[derive(Debug)]
pub struct Connection {
    receiver: Receiver,
    sender: Sender,
    queue: VecDeque<OutFrame>,
    auto_pong: bool,
}

impl Connection {
    /// An open connection for `role`, with the parameters the handshake agreed.
    pub fn new(role: Role, config: Config, deflate: Option<DeflateParams>) -> Self {
        Self {
            receiver: Receiver::new(role, config, deflate.as_ref()),
            sender: Sender::new(role, deflate.as_ref()),
            queue: VecDeque::new(),
            auto_pong: config.auto_pong,
        }
    }

    /// The closing state.
    pub fn state(&self) -> State {
        if self.receiver.is_done() {
            State::Closed
        } else if self.sender.close_sent() {
            State::Closing
        } else {
            State::Open
        }
    }

    /// Decodes the next message from `buf` (see [`Receiver::read`]) and queues the
    /// frames it calls for: a Pong for a Ping, the Close reply to a Close, the Close that
    /// fails the connection on an error.
    pub fn read(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, Error> {
        let result = self.receiver.read(buf);
        match &result {
            Ok(Some(Message::Ping(payload))) if self.auto_pong && !self.sender.close_sent() => {
                // Only the latest Ping needs an answer (RFC 6455 §5.5.3): replace a queued Pong.
                self.queue.retain(|f| f.header().first() != Some(&0x8A));
                if let Ok(pong) = self.sender.encode(&Message::Pong(payload.clone())) {
                    self.queue.push_back(pong);
                }
            }
            Ok(Some(Message::Close(frame))) => {
                let reply = frame.as_ref().map(|f| CloseFrame::new(f.code, ""));
                self.queue_close(reply);
            }
            Err(e) => {
                if let Some(code) = e.close_code() {
                    self.queue_close(Some(CloseFrame::new(code, e.message())));
                }
            }
            _ => {}
        }
        result
    }

    /// The fast path for small whole data messages, borrowed from `buf` (see
    /// [`Receiver::read_borrowed`]): `None` leaves `buf` for [`Connection::read`].
    pub fn read_borrowed<'a>(
        &mut self,
        buf: &'a mut [u8],
        max_len: usize,
    ) -> Option<(MessageRef<'a>, usize)> {
        self.receiver.read_borrowed(buf, max_len)
    }

    /// Bytes still missing from the frame in progress, once its header is decoded.
    ///
    /// A reader that fills `buf`'s spare capacity can stop its next read at the frame's
    /// end (when that is at least a full read away): once the message is split off,
    /// `buf` is then empty instead of holding the start of the next frame, which
    /// `BytesMut` would have to move (up to a whole large frame) to make room for the
    /// rest of it. The tokio adapter does so.
    pub fn frame_remaining(&self, buf: &BytesMut) -> Option<usize> {
        self.receiver.frame_remaining(buf)
    }

    fn queue_close(&mut self, frame: Option<CloseFrame>) {
        if !self.sender.close_sent() {
            if let Ok(close) = self.sender.encode(&Message::Close(frame)) {
                self.queue.push_back(close);
            }
        }
    }

    /// Encodes a message to send (a Close starts the closing handshake).
    pub fn send(&mut self, message: &Message) -> Result<OutFrame, Error> {
        self.sender.encode(message)
    }

    /// [`Connection::send`] taking the message: its payload moves into the frame (an
    /// echo or relay sends what it received without sharing the buffer again).
    pub fn send_owned(&mut self, message: Message) -> Result<OutFrame, Error> {
        self.sender.encode_owned(message)
    }

    /// Starts the closing handshake with `code` and `reason`.
    pub fn close(&mut self, code: CloseCode, reason: &str) -> Result<OutFrame, Error> {
        self.sender
            .encode(&Message::Close(Some(CloseFrame::new(code, reason))))
    }

    /// The next frame the connection itself wants written (Pong, Close reply).
    pub fn poll_transmit(&mut self) -> Option<OutFrame> {
        self.queue.pop_front()
    }

    /// The sender, e.g. to check [`Sender::compresses`] before writing a shared frame.
    pub fn sender(&self) -> &Sender {
        &self.sender
    }

    /// Splits into the receiving and sending halves (queued frames are returned too).
    pub fn into_parts(self) -> (Receiver, Sender, Vec<OutFrame>) {
        (self.receiver, self.sender, self.queue.into())
    }
}
