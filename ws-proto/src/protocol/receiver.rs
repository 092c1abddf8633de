//! The receiving half: frames to messages, with every RFC 6455 receive rule.

use bytes::{Buf, BytesMut};

use crate::close::CloseFrame;
use crate::deflate::{Decompressor, DeflateParams};
use crate::error::Error;
use crate::frame::{FrameHeader, OpCode};
use crate::mask::apply_mask;
use crate::utf8::Utf8Validator;

use super::config::{Config, Role};
use super::message::{Message, MessageRef};
use super::text::Utf8Bytes;

/// The most a single incomplete frame makes the receiver reserve at once; larger frames
/// grow the buffer as their bytes arrive.
const RESERVE_STEP: usize = 256 * 1024;

/// How many more frames of the size of one still arriving the receiver makes room for
/// behind it (within [`RESERVE_STEP`]): see [`reserve_for`].
const READ_AHEAD_FRAMES: usize = 3;

/// What to reserve for a frame of `wire` bytes (header and payload) of which `missing`
/// have not arrived: the rest of it and room for up to [`READ_AHEAD_FRAMES`] more whole
/// frames of the same size, within [`RESERVE_STEP`] (a frame that needs more than that
/// gets [`RESERVE_STEP`] now and grows as its bytes arrive).
///
/// A reader that fills the spare room then takes several frames of a stream of large
/// messages with one read instead of one read per frame (a read stopped at the frame's
/// end), and since the room ends on a frame boundary when the frames are the same size,
/// a read that fills it ends on one too: the buffer then drains completely and no partial
/// frame has to be moved to a new allocation. The room ahead is only ever a few frames
/// of the size the peer is already sending, and a peer that sends a header alone still
/// makes the receiver reserve at most [`RESERVE_STEP`].
fn reserve_for(missing: usize, wire: usize) -> usize {
    if missing >= RESERVE_STEP {
        return RESERVE_STEP;
    }
    let frames = ((RESERVE_STEP - missing) / wire.max(1)).min(READ_AHEAD_FRAMES);
    missing + frames * wire
}

/// A frame whose header is decoded but whose payload has not fully arrived.
#[derive(Debug, Clone, Copy)]
struct PendingFrame {
    header: FrameHeader,
    header_len: usize,
    len: usize,
    /// Payload bytes already unmasked and validated in place (uncompressed text only).
    processed: usize,
    validate: bool,
}

/// A fragmented or compressed message being assembled.
#[derive(Debug)]
struct PartialMessage {
    text: bool,
    compressed: bool,
    data: Vec<u8>,
}

/// Decodes frames from a read buffer into [`Message`]s (RFC 6455 §5, RFC 7692 §6).
///
/// Single-frame uncompressed messages are zero-copy: their payload is a `Bytes` slice of
/// the read buffer. Text is validated as it arrives, so invalid UTF-8 fails the
/// connection at the first bad byte even inside a frame that is still arriving.
#[derive(Debug)]
pub struct Receiver {
    role: Role,
    config: Config,
    inflater: Option<Box<Decompressor>>,
    frame: Option<PendingFrame>,
    message: Option<PartialMessage>,
    utf8: Utf8Validator,
    /// [`Receiver::read_borrowed`] found a Text message invalid after unmasking it in the
    /// caller's buffer: the next [`Receiver::read`] reports the violation (RFC 6455 §8.1)
    /// without decoding that buffer again, and nothing more is borrowed.
    invalid_borrowed_text: bool,
    done: bool,
    peer_closed: bool,
}

impl Receiver {
    /// A receiver for `role` with `config` limits and, if negotiated, permessage-deflate.
    pub fn new(role: Role, config: Config, deflate: Option<&DeflateParams>) -> Self {
        let inflater = deflate.map(|p| {
            Box::new(match role {
                Role::Server => {
                    Decompressor::new(p.client_max_window_bits, p.client_no_context_takeover)
                }
                Role::Client => {
                    Decompressor::new(p.server_max_window_bits, p.server_no_context_takeover)
                }
            })
        });
        Self {
            role,
            config,
            inflater,
            frame: None,
            message: None,
            utf8: Utf8Validator::new(),
            invalid_borrowed_text: false,
            done: false,
            peer_closed: false,
        }
    }

    /// Whether reading is over: a Close was received or the connection failed.
    pub fn is_done(&self) -> bool {
        self.done
    }

    /// Whether the peer sent a Close frame (valid or not): no reply to wait for.
    pub fn peer_sent_close(&self) -> bool {
        self.peer_closed
    }

    /// Bytes still missing from the frame in progress: `Some` once a frame's header is
    /// decoded and its payload has not fully arrived in `buf` (see
    /// [`Connection::frame_remaining`](super::Connection::frame_remaining)).
    pub fn frame_remaining(&self, buf: &BytesMut) -> Option<usize> {
        let pending = self.frame.as_ref()?;
        let missing = (pending.header_len + pending.len).saturating_sub(buf.len());
        (missing > 0).then_some(missing)
    }

    /// The fast path for small messages: if `buf` starts with a whole Text or Binary
    /// message in one uncompressed frame of at most `max_len` payload bytes, and no
    /// frame or fragmented message is in progress, unmasks it in place, validates it
    /// (UTF-8 for Text) and returns it with the number of bytes of `buf` it took (header
    /// and payload); the caller drops those bytes before its next read.
    ///
    /// Anything else (a control frame, a fragment, a compressed or incomplete frame, a
    /// frame over the limits, any violation) returns `None` and leaves `buf` as it was:
    /// [`Receiver::read`] then decodes it, and reports the violation, as always. The one
    /// exception is a Text message that is not valid UTF-8: it is found only once
    /// unmasked, and stays so; the receiver remembers it, declines everything after it
    /// and its next [`Receiver::read`] fails the connection (RFC 6455 §8.1, close code
    /// 1007) without decoding `buf`, exactly as if it had decoded the frame.
    ///
    /// ```
    /// use ws_proto::protocol::{Config, MessageRef, Receiver, Role};
    /// let mut rx = Receiver::new(Role::Server, Config::default(), None);
    /// // "Hi" masked with key 1, 2, 3, 4.
    /// let mut wire = [0x81, 0x82, 1, 2, 3, 4, b'H' ^ 1, b'i' ^ 2];
    /// assert_eq!(rx.read_borrowed(&mut wire, 1024), Some((MessageRef::Text("Hi"), 8)));
    /// ```
    pub fn read_borrowed<'a>(
        &mut self,
        buf: &'a mut [u8],
        max_len: usize,
    ) -> Option<(MessageRef<'a>, usize)> {
        if self.done || self.invalid_borrowed_text || self.frame.is_some() || self.message.is_some()
        {
            return None;
        }
        let (header, header_len) = FrameHeader::decode(buf).ok()??;
        let text = match header.opcode {
            OpCode::Text => true,
            OpCode::Binary => false,
            _ => return None,
        };
        if !header.fin || header.rsv1 || header.rsv2 || header.rsv3 {
            return None;
        }
        // RFC 6455 §5.1: client frames are masked, server frames are not.
        let mask = match (self.role, header.mask) {
            (Role::Server, Some(key)) => Some(key),
            (Role::Client, None) => None,
            _ => return None,
        };
        let len = usize::try_from(header.payload_len).ok()?;
        if len > max_len || len > self.config.max_frame_size || len > self.config.max_message_size {
            return None;
        }
        let end = header_len.checked_add(len)?;
        let payload = buf.get_mut(header_len..end)?;
        if let Some(key) = mask {
            apply_mask(payload, key, 0);
        }
        if !text {
            return Some((MessageRef::Binary(payload), end));
        }
        // Validated once, on the borrow that is returned. Once lent for `'a`, the payload
        // cannot be masked again on the error branch (the borrow checker keeps a borrow
        // that one branch returns alive on the others), so the failure is recorded
        // instead, for `read` to report.
        match std::str::from_utf8(payload) {
            Ok(text) => Some((MessageRef::Text(text), end)),
            Err(_) => {
                self.invalid_borrowed_text = true;
                None
            }
        }
    }

    /// Decodes the next message from `buf`, consuming its bytes.
    ///
    /// `Ok(None)` means more bytes are needed (append them to `buf` and call again) or,
    /// once [`Receiver::is_done`], that nothing more will be read. An error fails the
    /// connection: send a Close with [`Error::close_code`] and close.
    pub fn read(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, Error> {
        if self.done {
            return Ok(None);
        }
        let result = if self.invalid_borrowed_text {
            // `buf` starts with the Text frame `read_borrowed` unmasked and rejected.
            self.invalid_borrowed_text = false;
            Err(invalid_utf8())
        } else {
            self.read_inner(buf)
        };
        if result.is_err() || matches!(result, Ok(Some(Message::Close(_)))) {
            self.done = true;
            self.frame = None;
            self.message = None;
        }
        result
    }

    fn read_inner(&mut self, buf: &mut BytesMut) -> Result<Option<Message>, Error> {
        loop {
            let mut pending = match self.frame.take() {
                Some(p) => p,
                None => {
                    let Some((header, header_len)) = FrameHeader::decode(buf)? else {
                        return Ok(None);
                    };
                    self.start_frame(header, header_len)?
                }
            };
            let end = pending.header_len + pending.len;
            if pending.validate {
                self.process_available(&mut pending, buf)?;
            }
            if buf.len() < end {
                let missing = end - buf.len();
                if buf.capacity() - buf.len() < missing {
                    buf.reserve(reserve_for(missing, end));
                }
                self.frame = Some(pending);
                return Ok(None);
            }
            buf.advance(pending.header_len);
            let mut payload = buf.split_to(pending.len);
            if !pending.validate {
                if let Some(key) = pending.header.mask {
                    apply_mask(&mut payload, key, 0);
                }
            }
            if let Some(message) = self.finish_frame(pending.header, payload)? {
                return Ok(Some(message));
            }
        }
    }

    /// Checks a new frame header against the connection's rules.
    fn start_frame(
        &mut self,
        header: FrameHeader,
        header_len: usize,
    ) -> Result<PendingFrame, Error> {
        if header.rsv2 || header.rsv3 {
            return Err(Error::protocol(
                "RFC 6455 §5.2",
                "RSV2/RSV3 set without a negotiated extension",
            ));
        }
        if header.rsv1 {
            if self.inflater.is_none() {
                return Err(Error::protocol(
                    "RFC 6455 §5.2",
                    "RSV1 set without a negotiated extension",
                ));
            }
            if header.opcode.is_control() {
                return Err(Error::protocol(
                    "RFC 7692 §6.1",
                    "RSV1 set on a control frame",
                ));
            }
            if header.opcode == OpCode::Continuation {
                return Err(Error::protocol(
                    "RFC 7692 §6.1",
                    "RSV1 set on a continuation frame",
                ));
            }
        }
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => {
                return Err(Error::protocol(
                    "RFC 6455 §5.1",
                    "client frames must be masked",
                ));
            }
            (Role::Client, true) => {
                return Err(Error::protocol(
                    "RFC 6455 §5.1",
                    "server frames must not be masked",
                ));
            }
            _ => {}
        }
        let in_message = self.message.is_some();
        match header.opcode {
            OpCode::Continuation if !in_message => {
                return Err(Error::protocol(
                    "RFC 6455 §5.4",
                    "continuation frame without a message to continue",
                ));
            }
            OpCode::Text | OpCode::Binary if in_message => {
                return Err(Error::protocol(
                    "RFC 6455 §5.4",
                    "new data frame inside a fragmented message",
                ));
            }
            _ => {}
        }
        let len = usize::try_from(header.payload_len).unwrap_or(usize::MAX);
        if len > self.config.max_frame_size {
            return Err(Error::too_big(
                "RFC 6455 §10.4",
                format!("frame of {len} bytes over the limit"),
            ));
        }
        let (text, compressed, so_far) = match (&self.message, header.opcode) {
            (Some(m), OpCode::Continuation) => (m.text, m.compressed, m.data.len()),
            (_, opcode) => (opcode == OpCode::Text, header.rsv1, 0),
        };
        if !header.opcode.is_control()
            && !compressed
            && so_far.saturating_add(len) > self.config.max_message_size
        {
            return Err(Error::too_big(
                "RFC 6455 §10.4",
                "message over the size limit",
            ));
        }
        if matches!(header.opcode, OpCode::Text | OpCode::Binary) {
            self.utf8.reset();
        }
        Ok(PendingFrame {
            header,
            header_len,
            len,
            processed: 0,
            validate: !header.opcode.is_control() && text && !compressed,
        })
    }

    /// Unmasks and validates the part of an uncompressed text frame that has arrived.
    fn process_available(
        &mut self,
        pending: &mut PendingFrame,
        buf: &mut BytesMut,
    ) -> Result<(), Error> {
        let available = buf
            .len()
            .saturating_sub(pending.header_len)
            .min(pending.len);
        if available <= pending.processed {
            return Ok(());
        }
        let start = pending.header_len + pending.processed;
        let chunk = buf
            .get_mut(start..pending.header_len + available)
            .unwrap_or_default();
        if let Some(key) = pending.header.mask {
            apply_mask(chunk, key, pending.processed);
        }
        self.utf8.feed(chunk).map_err(|_| invalid_utf8())?;
        pending.processed = available;
        Ok(())
    }

    fn finish_frame(
        &mut self,
        header: FrameHeader,
        payload: BytesMut,
    ) -> Result<Option<Message>, Error> {
        match header.opcode {
            OpCode::Ping => Ok(Some(Message::Ping(payload.freeze()))),
            OpCode::Pong => Ok(Some(Message::Pong(payload.freeze()))),
            OpCode::Close => {
                self.peer_closed = true;
                Ok(Some(Message::Close(CloseFrame::parse(&payload)?)))
            }
            OpCode::Text | OpCode::Binary if header.fin && !header.rsv1 => {
                if header.opcode == OpCode::Binary {
                    return Ok(Some(Message::Binary(payload.freeze())));
                }
                self.utf8.finish().map_err(|_| invalid_utf8())?;
                Ok(Some(Message::Text(Utf8Bytes::from_validated(
                    payload.freeze(),
                ))))
            }
            OpCode::Text | OpCode::Binary => {
                let mut message = PartialMessage {
                    text: header.opcode == OpCode::Text,
                    compressed: header.rsv1,
                    data: Vec::new(),
                };
                self.append(&mut message, &payload)?;
                self.end_or_store(message, header.fin)
            }
            OpCode::Continuation => {
                let Some(mut message) = self.message.take() else {
                    return Err(Error::protocol(
                        "RFC 6455 §5.4",
                        "continuation frame without a message",
                    ));
                };
                self.append(&mut message, &payload)?;
                self.end_or_store(message, header.fin)
            }
        }
    }

    fn append(&mut self, message: &mut PartialMessage, payload: &[u8]) -> Result<(), Error> {
        if !message.compressed {
            message.data.extend_from_slice(payload);
            return Ok(());
        }
        let before = message.data.len();
        if let Some(inflater) = &mut self.inflater {
            inflater.decompress(payload, &mut message.data, self.config.max_message_size)?;
        }
        if message.text {
            let fresh = message.data.get(before..).unwrap_or_default();
            self.utf8.feed(fresh).map_err(|_| invalid_utf8())?;
        }
        Ok(())
    }

    fn end_or_store(
        &mut self,
        mut message: PartialMessage,
        fin: bool,
    ) -> Result<Option<Message>, Error> {
        if !fin {
            self.message = Some(message);
            return Ok(None);
        }
        if message.compressed {
            let before = message.data.len();
            if let Some(inflater) = &mut self.inflater {
                inflater.finish_message(&mut message.data, self.config.max_message_size)?;
            }
            if message.text {
                let fresh = message.data.get(before..).unwrap_or_default();
                self.utf8.feed(fresh).map_err(|_| invalid_utf8())?;
            }
        }
        let data = bytes::Bytes::from(message.data);
        if message.text {
            self.utf8.finish().map_err(|_| invalid_utf8())?;
            Ok(Some(Message::Text(Utf8Bytes::from_validated(data))))
        } else {
            Ok(Some(Message::Binary(data)))
        }
    }
}

fn invalid_utf8() -> Error {
    Error::invalid_payload("RFC 6455 §8.1", "text message is not valid UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The rest of the frame plus up to three more of its size, whole frames only,
    /// never more than `RESERVE_STEP` (the bound on what a peer's header alone makes
    /// the receiver allocate).
    #[test]
    fn reserve_for_makes_room_for_whole_frames_within_the_step() {
        // 64 KiB messages from a client: 14-byte header.
        let wire = 65_536 + 14;
        assert_eq!(reserve_for(61_454, wire), 61_454 + 3 * wire);
        // Small frames: three more of them, no more.
        assert_eq!(reserve_for(10, 22), 10 + 3 * 22);
        // Only as many whole frames as fit in the step.
        assert_eq!(reserve_for(100_000, 100_014), 100_000 + 100_014);
        assert_eq!(reserve_for(200_000, 200_014), 200_000);
        // At or past the step: the step, growing as the bytes arrive.
        assert_eq!(reserve_for(RESERVE_STEP, RESERVE_STEP + 14), RESERVE_STEP);
        assert_eq!(reserve_for(16 << 20, (16 << 20) + 14), RESERVE_STEP);
        for missing in [0, 1, 1000, RESERVE_STEP - 1] {
            for wire in [2, 14, 1000, 65_550, RESERVE_STEP] {
                let reserve = reserve_for(missing, wire.max(missing));
                assert!(
                    reserve >= missing && reserve <= RESERVE_STEP,
                    "{missing} {wire}"
                );
            }
        }
    }
}
