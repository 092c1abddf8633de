//! Frame headers (RFC 6455 §5.2): decode from bytes, encode into a small inline buffer.
//!
//! The header decoder checks only what the header alone can tell: reserved opcodes, the
//! most significant bit of a 64-bit length, minimal length encoding, and the control
//! frame rules of §5.5 (never fragmented, at most 125 bytes). Rules that depend on the
//! connection (masking per role, negotiated RSV bits, limits) are the
//! [`protocol`](crate::protocol) layer's.

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::Error;

/// The largest possible frame header: 2 + 8 (64-bit length) + 4 (masking key).
pub const MAX_HEADER_LEN: usize = 14;

/// A frame opcode (RFC 6455 §5.2, §11.8).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum OpCode {
    /// 0x0: continuation of a fragmented message.
    Continuation,
    /// 0x1: text (UTF-8) data.
    Text,
    /// 0x2: binary data.
    Binary,
    /// 0x8: connection close.
    Close,
    /// 0x9: ping.
    Ping,
    /// 0xA: pong.
    Pong,
}

impl OpCode {
    /// Decodes the 4-bit opcode; the reserved values 0x3–0x7 and 0xB–0xF are a protocol
    /// error (RFC 6455 §5.2: "MUST _Fail the WebSocket Connection_").
    pub fn from_u8(value: u8) -> Result<Self, Error> {
        Ok(match value {
            0x0 => Self::Continuation,
            0x1 => Self::Text,
            0x2 => Self::Binary,
            0x8 => Self::Close,
            0x9 => Self::Ping,
            0xA => Self::Pong,
            other => {
                return Err(Error::protocol(
                    "RFC 6455 §5.2",
                    format!("reserved opcode 0x{other:X}"),
                ));
            }
        })
    }

    /// The 4-bit wire value.
    pub const fn as_u8(self) -> u8 {
        match self {
            Self::Continuation => 0x0,
            Self::Text => 0x1,
            Self::Binary => 0x2,
            Self::Close => 0x8,
            Self::Ping => 0x9,
            Self::Pong => 0xA,
        }
    }

    /// Close, Ping and Pong are control frames (RFC 6455 §5.5).
    pub const fn is_control(self) -> bool {
        matches!(self, Self::Close | Self::Ping | Self::Pong)
    }
}

/// A decoded frame header (RFC 6455 §5.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// FIN: the final fragment of a message.
    pub fin: bool,
    /// RSV1 (permessage-deflate's "compressed" bit, RFC 7692 §6).
    pub rsv1: bool,
    /// RSV2 (no extension of ours uses it).
    pub rsv2: bool,
    /// RSV3 (no extension of ours uses it).
    pub rsv3: bool,
    /// The opcode.
    pub opcode: OpCode,
    /// The masking key, present on every client-to-server frame (RFC 6455 §5.3).
    pub mask: Option<[u8; 4]>,
    /// The payload length.
    pub payload_len: u64,
}

impl FrameHeader {
    /// A final, unmasked frame header with no RSV bits.
    pub const fn new(opcode: OpCode, payload_len: u64) -> Self {
        Self {
            fin: true,
            rsv1: false,
            rsv2: false,
            rsv3: false,
            opcode,
            mask: None,
            payload_len,
        }
    }

    /// Decodes a header from the start of `buf`: `Ok(None)` if more bytes are needed,
    /// else the header and its length in bytes.
    ///
    /// ```
    /// use ws_proto::frame::{FrameHeader, OpCode};
    /// let (h, len) = FrameHeader::decode(&[0x81, 0x05, b'h']).unwrap().unwrap();
    /// assert_eq!((h.opcode, h.fin, h.payload_len, len), (OpCode::Text, true, 5, 2));
    /// assert_eq!(FrameHeader::decode(&[0x81, 0x7E, 0x01]).unwrap(), None); // partial
    /// ```
    pub fn decode(buf: &[u8]) -> Result<Option<(Self, usize)>, Error> {
        let [b0, b1, rest @ ..] = buf else {
            return Ok(None);
        };
        let (b0, b1) = (*b0, *b1);
        let opcode = OpCode::from_u8(b0 & 0x0F)?;
        let fin = b0 & 0x80 != 0;
        let masked = b1 & 0x80 != 0;
        let len7 = b1 & 0x7F;
        let (payload_len, len_bytes) = match len7 {
            126 => {
                let Some(bytes) = rest.first_chunk::<2>() else {
                    return Ok(None);
                };
                let len = u64::from(u16::from_be_bytes(*bytes));
                if len < 126 {
                    return Err(Error::protocol(
                        "RFC 6455 §5.2",
                        "payload length not in the minimal number of bytes",
                    ));
                }
                (len, 2)
            }
            127 => {
                let Some(bytes) = rest.first_chunk::<8>() else {
                    return Ok(None);
                };
                let len = u64::from_be_bytes(*bytes);
                if len >> 63 != 0 {
                    return Err(Error::protocol(
                        "RFC 6455 §5.2",
                        "the most significant bit of a 64-bit payload length must be 0",
                    ));
                }
                if len <= 0xFFFF {
                    return Err(Error::protocol(
                        "RFC 6455 §5.2",
                        "payload length not in the minimal number of bytes",
                    ));
                }
                (len, 8)
            }
            n => (u64::from(n), 0),
        };
        if opcode.is_control() {
            if !fin {
                return Err(Error::protocol(
                    "RFC 6455 §5.5",
                    "control frames must not be fragmented",
                ));
            }
            if payload_len > 125 {
                return Err(Error::protocol(
                    "RFC 6455 §5.5",
                    "control frame payload longer than 125 bytes",
                ));
            }
        }
        let mask = if masked {
            let Some(key) = rest.get(len_bytes..).and_then(|r| r.first_chunk::<4>()) else {
                return Ok(None);
            };
            Some(*key)
        } else {
            None
        };
        let header_len = 2 + len_bytes + if masked { 4 } else { 0 };
        Ok(Some((
            Self {
                fin,
                rsv1: b0 & 0x40 != 0,
                rsv2: b0 & 0x20 != 0,
                rsv3: b0 & 0x10 != 0,
                opcode,
                mask,
                payload_len,
            },
            header_len,
        )))
    }

    /// The encoded length of this header.
    pub const fn encoded_len(&self) -> usize {
        let len = if self.payload_len < 126 {
            2
        } else if self.payload_len <= 0xFFFF {
            4
        } else {
            10
        };
        if self.mask.is_some() { len + 4 } else { len }
    }

    /// Encodes the header (minimal length encoding) into an inline buffer.
    pub fn encode(&self) -> HeaderBytes {
        let mut bytes = [0u8; MAX_HEADER_LEN];
        let mut b0 = self.opcode.as_u8();
        for (flag, bit) in [
            (self.fin, 0x80),
            (self.rsv1, 0x40),
            (self.rsv2, 0x20),
            (self.rsv3, 0x10),
        ] {
            if flag {
                b0 |= bit;
            }
        }
        let mask_bit = if self.mask.is_some() { 0x80 } else { 0 };
        let mut out: &mut [u8] = &mut bytes;
        out.put_u8(b0);
        if self.payload_len < 126 {
            out.put_u8(mask_bit | self.payload_len as u8);
        } else if self.payload_len <= 0xFFFF {
            out.put_u8(mask_bit | 126);
            out.put_u16(self.payload_len as u16);
        } else {
            out.put_u8(mask_bit | 127);
            out.put_u64(self.payload_len);
        }
        if let Some(key) = self.mask {
            out.put_slice(&key);
        }
        HeaderBytes {
            bytes,
            len: self.encoded_len() as u8,
        }
    }
}

/// An encoded frame header held inline (at most 14 bytes, no allocation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderBytes {
    bytes: [u8; MAX_HEADER_LEN],
    len: u8,
}

impl HeaderBytes {
    /// The encoded header.
    pub fn as_slice(&self) -> &[u8] {
        self.bytes.get(..usize::from(self.len)).unwrap_or_default()
    }
}

/// An outgoing frame: a small inline header plus a shared payload.
///
/// The payload is a [`Bytes`]: cloning an `OutFrame` copies 14 header bytes and bumps a
/// reference count, never the payload. This is what makes broadcast cheap: a server
/// encodes a message **once** with [`OutFrame::unmasked`] (server-to-client frames are
/// not masked, RFC 6455 §5.1) and writes clones of it to every connection that did not
/// negotiate permessage-deflate, with a vectored write (`header`, `payload`) or
/// header-then-payload. Connections with permessage-deflate compress per connection
/// (their compressor state is their own), through their own `Sender`.
///
/// ```
/// use bytes::Bytes;
/// use ws_proto::frame::{OpCode, OutFrame};
/// let frame = OutFrame::unmasked(OpCode::Text, Bytes::from_static(b"hi all"));
/// let copy = frame.clone(); // no payload copy
/// assert_eq!(copy.header(), &[0x81, 6]);
/// assert_eq!(copy.payload().as_ptr(), frame.payload().as_ptr());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutFrame {
    header: HeaderBytes,
    payload: Bytes,
}

impl OutFrame {
    /// A frame with `header` (its `payload_len` is set from `payload`); the payload must
    /// already be masked if the header carries a key.
    pub fn new(mut header: FrameHeader, payload: Bytes) -> Self {
        header.payload_len = payload.len() as u64;
        Self {
            header: header.encode(),
            payload,
        }
    }

    /// A final, unmasked, uncompressed frame (server role), e.g. for broadcast.
    pub fn unmasked(opcode: OpCode, payload: Bytes) -> Self {
        Self::new(FrameHeader::new(opcode, 0), payload)
    }

    /// The encoded header bytes.
    pub fn header(&self) -> &[u8] {
        self.header.as_slice()
    }

    /// The payload bytes (shared).
    pub fn payload(&self) -> &Bytes {
        &self.payload
    }

    /// The payload bytes, taken out of the frame (after its header has been written).
    pub fn into_payload(self) -> Bytes {
        self.payload
    }

    /// Header plus payload length.
    pub fn len(&self) -> usize {
        self.header().len() + self.payload.len()
    }

    /// Whether the frame is empty (never: a header has at least 2 bytes).
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Appends header and payload to `out` (copies the payload).
    pub fn write_to(&self, out: &mut BytesMut) {
        out.reserve(self.len());
        out.put_slice(self.header());
        out.put_slice(&self.payload);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn lengths() -> impl Strategy<Value = u64> {
        prop_oneof![
            0u64..=130,
            Just(125u64),
            Just(126u64),
            Just(127u64),
            65530u64..=65540,
            Just(65535u64),
            Just(65536u64),
            any::<u64>().prop_map(|l| l >> 1),
        ]
    }

    fn opcodes() -> impl Strategy<Value = OpCode> {
        prop_oneof![
            Just(OpCode::Continuation),
            Just(OpCode::Text),
            Just(OpCode::Binary),
            Just(OpCode::Close),
            Just(OpCode::Ping),
            Just(OpCode::Pong),
        ]
    }

    proptest! {
        /// RFC 6455 §5.2: encode then decode is the identity for every valid header,
        /// including lengths around the 7/16/64-bit boundaries (125/126/65535/65536).
        #[test]
        fn rfc6455_5_2_header_round_trip(
            fin in any::<bool>(), rsv in any::<[bool; 3]>(), opcode in opcodes(),
            mask in any::<Option<[u8; 4]>>(), len in lengths(),
        ) {
            let control = opcode.is_control();
            let header = FrameHeader {
                fin: fin || control, rsv1: rsv[0], rsv2: rsv[1], rsv3: rsv[2], opcode, mask,
                payload_len: if control { len % 126 } else { len },
            };
            let bytes = header.encode();
            prop_assert_eq!(bytes.as_slice().len(), header.encoded_len());
            let (decoded, used) = FrameHeader::decode(bytes.as_slice()).unwrap().unwrap();
            prop_assert_eq!(decoded, header);
            prop_assert_eq!(used, header.encoded_len());
            // Every strict prefix is "need more bytes", never an error or a wrong header.
            for cut in 0..used {
                prop_assert_eq!(FrameHeader::decode(&bytes.as_slice()[..cut]).unwrap(), None);
            }
        }
    }

    /// RFC 6455 §5.2: reserved opcodes, a 64-bit length with the MSB set, and non-minimal
    /// lengths are protocol errors; §5.5: fragmented or long control frames too.
    #[test]
    fn rfc6455_5_2_and_5_5_bad_headers() {
        let bad: &[&[u8]] = &[
            &[0x83, 0x00],
            &[0x8B, 0x00],
            &[0x82, 0x7F, 0x80, 0, 0, 0, 0, 0, 0, 0],
            &[0x82, 0x7E, 0x00, 0x7D],
            &[0x82, 0x7F, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF],
            &[0x09, 0x00],
            &[0x89, 0x7E, 0x00, 0x7E],
        ];
        for bytes in bad {
            let err = FrameHeader::decode(bytes).unwrap_err();
            assert_eq!(err.close_code().unwrap().as_u16(), 1002, "{bytes:?}");
        }
    }
}
