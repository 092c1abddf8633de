//! Messages: what a connection delivers and sends.

use bytes::Bytes;

use crate::close::CloseFrame;
use crate::frame::OpCode;

use super::text::Utf8Bytes;

/// A complete message or control frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Message {
    /// A text message (valid UTF-8).
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A Ping (payload ≤ 125 bytes).
    Ping(Bytes),
    /// A Pong (payload ≤ 125 bytes).
    Pong(Bytes),
    /// A Close, with its code and reason if it had any.
    Close(Option<CloseFrame>),
}

impl Message {
    /// A text message.
    pub fn text(s: impl Into<Utf8Bytes>) -> Self {
        Self::Text(s.into())
    }

    /// A binary message.
    pub fn binary(b: impl Into<Bytes>) -> Self {
        Self::Binary(b.into())
    }

    /// The frame opcode of this message.
    pub fn opcode(&self) -> OpCode {
        match self {
            Self::Text(_) => OpCode::Text,
            Self::Binary(_) => OpCode::Binary,
            Self::Ping(_) => OpCode::Ping,
            Self::Pong(_) => OpCode::Pong,
            Self::Close(_) => OpCode::Close,
        }
    }

    /// The payload as sent on the wire (a Close's code and reason encoded).
    pub fn payload(&self) -> Bytes {
        match self {
            Self::Text(t) => t.as_bytes().clone(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b.clone(),
            Self::Close(None) => Bytes::new(),
            Self::Close(Some(frame)) => frame.to_payload(),
        }
    }

    /// The payload as sent on the wire, taken out of the message (no reference count
    /// is touched for Text, Binary, Ping and Pong).
    pub fn into_payload(self) -> Bytes {
        match self {
            Self::Text(t) => t.into_bytes(),
            Self::Binary(b) | Self::Ping(b) | Self::Pong(b) => b,
            Self::Close(None) => Bytes::new(),
            Self::Close(Some(frame)) => frame.to_payload(),
        }
    }
}

/// A whole single-frame, uncompressed Text or Binary message borrowed from the read
/// buffer (see [`Receiver::read_borrowed`](super::Receiver::read_borrowed)): an
/// application that only copies the payload (an echo) never makes it a shared `Bytes`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageRef<'a> {
    /// A text message (valid UTF-8).
    Text(&'a str),
    /// A binary message.
    Binary(&'a [u8]),
}

impl MessageRef<'_> {
    /// The frame opcode of this message.
    pub fn opcode(&self) -> OpCode {
        match self {
            Self::Text(_) => OpCode::Text,
            Self::Binary(_) => OpCode::Binary,
        }
    }

    /// The payload.
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Text(t) => t.as_bytes(),
            Self::Binary(b) => b,
        }
    }

    /// An owned copy.
    pub fn to_message(&self) -> Message {
        match self {
            Self::Text(t) => Message::text(*t),
            Self::Binary(b) => Message::Binary(Bytes::copy_from_slice(b)),
        }
    }
}
