//! The sending half: messages to frames.

use bytes::{Bytes, BytesMut};

use crate::deflate::{Compressor, DeflateParams};
use crate::error::{Error, ErrorKind};
use crate::frame::{FrameHeader, HeaderBytes, OpCode, OutFrame};
use crate::mask::apply_mask;

use super::config::Role;
use super::message::Message;

/// Encodes messages into frames (RFC 6455 §5, RFC 7692 §7.2.1).
///
/// A server's frames are unmasked and share the message's `Bytes` (no copy). A client's
/// frames are masked with a fresh random key (RFC 6455 §5.3), which copies the payload.
/// With permessage-deflate, data messages are compressed with this connection's
/// compressor and carry RSV1.
#[derive(Debug)]
pub struct Sender {
    role: Role,
    deflater: Option<Box<Compressor>>,
    close_sent: bool,
    fragmenting: bool,
}

impl Sender {
    /// A sender for `role` that compresses if permessage-deflate was negotiated.
    pub fn new(role: Role, deflate: Option<&DeflateParams>) -> Self {
        let deflater = deflate.map(|p| {
            Box::new(match role {
                Role::Server => Compressor::new(
                    p.level,
                    p.server_max_window_bits,
                    p.server_no_context_takeover,
                ),
                Role::Client => Compressor::new(
                    p.level,
                    p.client_max_window_bits,
                    p.client_no_context_takeover,
                ),
            })
        });
        Self {
            role,
            deflater,
            close_sent: false,
            fragmenting: false,
        }
    }

    /// Whether a Close was sent: no frame may follow (RFC 6455 §5.5.1).
    pub fn close_sent(&self) -> bool {
        self.close_sent
    }

    /// Whether data messages are compressed per connection (permessage-deflate). When
    /// not, and in the server role, a broadcaster may write a shared
    /// [`OutFrame::unmasked`] instead of calling [`Sender::encode`].
    pub fn compresses(&self) -> bool {
        self.deflater.is_some()
    }

    /// The role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Checks that a shared, pre-encoded frame may be written now: the connection is
    /// open, not compressing, in the server role, and not inside a fragmented message.
    pub fn check_shared_frame(&self) -> Result<(), Error> {
        self.check_open()?;
        if self.role == Role::Client || self.fragmenting {
            return Err(Error::new(
                ErrorKind::Closed,
                "RFC 6455 §5.1",
                "shared frames are for unfragmented server sends",
            ));
        }
        Ok(())
    }

    fn check_open(&self) -> Result<(), Error> {
        if self.close_sent {
            return Err(Error::new(
                ErrorKind::Closed,
                "RFC 6455 §5.5.1",
                "a Close was already sent",
            ));
        }
        Ok(())
    }

    /// Encodes a whole message as one frame. A Close marks the sender closed.
    ///
    /// ```
    /// use ws_proto::protocol::{Message, Role, Sender};
    /// let mut tx = Sender::new(Role::Server, None);
    /// let frame = tx.encode(&Message::text("hi")).unwrap();
    /// assert_eq!((frame.header(), &frame.payload()[..]), (&[0x81, 2][..], &b"hi"[..]));
    /// ```
    pub fn encode(&mut self, message: &Message) -> Result<OutFrame, Error> {
        self.encode_payload(message.opcode(), message.payload())
    }

    /// [`Sender::encode`] for a message the caller no longer needs: its payload moves
    /// into the frame instead of being shared with it (an echo, a relay).
    pub fn encode_owned(&mut self, message: Message) -> Result<OutFrame, Error> {
        self.encode_payload(message.opcode(), message.into_payload())
    }

    fn encode_payload(&mut self, opcode: OpCode, payload: Bytes) -> Result<OutFrame, Error> {
        self.check_open()?;
        if opcode.is_control() {
            if payload.len() > 125 {
                return Err(Error::protocol(
                    "RFC 6455 §5.5",
                    "control frame payload longer than 125 bytes",
                ));
            }
            if opcode == OpCode::Close {
                self.close_sent = true;
            }
            return Ok(self.frame(FrameHeader::new(opcode, 0), payload));
        }
        if self.fragmenting {
            return Err(Error::protocol(
                "RFC 6455 §5.4",
                "a fragmented message is in progress",
            ));
        }
        let mut header = FrameHeader::new(opcode, 0);
        let payload = match &mut self.deflater {
            Some(deflater) => {
                header.rsv1 = true;
                deflater.compress(&payload)?
            }
            None => payload,
        };
        Ok(self.frame(header, payload))
    }

    /// The header for a whole Text or Binary message of `len` payload bytes whose
    /// payload goes on the wire as it is (server role, no compression): the caller
    /// writes the header and then the payload, from wherever it is (a borrowed
    /// [`MessageRef`](super::MessageRef) needs no `Bytes`). `Ok(None)` when the frame
    /// needs this connection's masking or compression: use [`Sender::encode`].
    ///
    /// ```
    /// use ws_proto::frame::OpCode;
    /// use ws_proto::protocol::{Role, Sender};
    /// let tx = Sender::new(Role::Server, None);
    /// let header = tx.data_header(OpCode::Binary, 3).unwrap().unwrap();
    /// assert_eq!(header.as_slice(), &[0x82, 3]);
    /// ```
    pub fn data_header(&self, opcode: OpCode, len: usize) -> Result<Option<HeaderBytes>, Error> {
        self.check_open()?;
        if !matches!(opcode, OpCode::Text | OpCode::Binary) {
            return Err(Error::protocol(
                "RFC 6455 §5.6",
                "a data header is for Text or Binary messages",
            ));
        }
        if self.fragmenting {
            return Err(Error::protocol(
                "RFC 6455 §5.4",
                "a fragmented message is in progress",
            ));
        }
        if self.role == Role::Client || self.deflater.is_some() {
            return Ok(None);
        }
        Ok(Some(FrameHeader::new(opcode, len as u64).encode()))
    }

    /// Encodes one fragment of a message sent in pieces (uncompressed): the first with
    /// `OpCode::Text` or `OpCode::Binary`, the rest with `OpCode::Continuation`, the last
    /// with `fin` (RFC 6455 §5.4).
    pub fn encode_fragment(
        &mut self,
        opcode: OpCode,
        payload: Bytes,
        fin: bool,
    ) -> Result<OutFrame, Error> {
        self.check_open()?;
        let ok = match opcode {
            OpCode::Text | OpCode::Binary => !self.fragmenting,
            OpCode::Continuation => self.fragmenting,
            _ => false,
        };
        if !ok {
            return Err(Error::protocol("RFC 6455 §5.4", "fragment out of sequence"));
        }
        self.fragmenting = !fin;
        let mut header = FrameHeader::new(opcode, 0);
        header.fin = fin;
        Ok(self.frame(header, payload))
    }

    fn frame(&self, mut header: FrameHeader, payload: Bytes) -> OutFrame {
        match self.role {
            Role::Server => OutFrame::new(header, payload),
            Role::Client => {
                let key: [u8; 4] = rand::random();
                let mut masked = BytesMut::from(&payload[..]);
                apply_mask(&mut masked, key, 0);
                header.mask = Some(key);
                OutFrame::new(header, masked.freeze())
            }
        }
    }
}
