//! The streaming decoder over `BytesMut`: a CONNECT-phase decoder that detects the
//! protocol version, then a version-specific decoder for the rest of the
//! connection.

use bytes::{Bytes, BytesMut};

use crate::error::{DecodeError, Rule};
use crate::packet::publish::take_plain;
use crate::packet::{
    Connect, FixedHeader, MAX_PACKET_SIZE, Packet, decode_connect, decode_frame, parse_fixed_header,
};
use crate::{PacketType, ProtocolVersion, ReasonCode};

/// A packet larger than the receiver's Maximum Packet Size.
const TOO_LARGE: Rule = Rule::new("MQTT-5.0 §3.1.2.11.4", "MQTT-3.1.1 §2.2.3");
/// The first packet of a connection is not CONNECT.
const FIRST_PACKET: Rule = Rule::new("MQTT-3.1.0-1", "MQTT-3.1.0-1");

/// The fixed header of the next packet in `buf` if the whole packet is there,
/// checking its size against `max` as soon as the fixed header is complete,
/// before the body is buffered.
#[inline]
fn whole_packet(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max: u32,
) -> Result<Option<FixedHeader>, DecodeError> {
    let Some(header) = parse_fixed_header(buf, version)? else {
        return Ok(None);
    };
    let len = header.packet_len();
    if len > max as usize {
        return Err(DecodeError::new(
            ReasonCode::PacketTooLarge,
            TOO_LARGE,
            version,
            "packet larger than the Maximum Packet Size",
        )
        .in_packet(header.packet_type));
    }
    if buf.len() < len {
        // Make room for the rest once, now that its size is known and bounded.
        buf.reserve(len - buf.len());
        return Ok(None);
    }
    Ok(Some(header))
}

/// The fixed header at the front of `buf` if it is a PUBLISH that needs no
/// report: flags valid (no QoS 3, MQTT-3.3.1-4; no DUP on QoS 0, MQTT-3.3.1-2), a
/// minimal one- or two-byte Remaining Length (MQTT-1.5.5-1), within `max` and
/// all in `buf`. `None` sends everything else, errors included, to the general
/// path ([`whole_packet`]), which checks and reports it.
#[inline(always)]
fn publish_header(buf: &[u8], max: u32) -> Option<FixedHeader> {
    let (&byte1, rest) = buf.split_first()?;
    if byte1 >> 4 != PacketType::Publish as u8 {
        return None;
    }
    let flags = byte1 & 0x0f;
    match (flags >> 1) & 0b11 {
        3 => return None,
        0 if flags & 0b1000 != 0 => return None,
        _ => {}
    }
    let (remaining, header_len) = match *rest {
        [b, ..] if b < 0x80 => (usize::from(b), 2),
        // A second byte 0 would be a longer encoding than needed: general path.
        [b, c, ..] if (1..0x80).contains(&c) => (usize::from(b & 0x7f) | usize::from(c) << 7, 3),
        _ => return None,
    };
    let len = header_len + remaining;
    if len > max as usize || buf.len() < len {
        return None;
    }
    Some(FixedHeader {
        packet_type: PacketType::Publish,
        flags,
        header_len,
        remaining,
    })
}

/// The next whole packet in `buf`, split off (see [`whole_packet`]).
#[inline]
fn next_frame(
    buf: &mut BytesMut,
    version: ProtocolVersion,
    max: u32,
) -> Result<Option<(FixedHeader, Bytes)>, DecodeError> {
    Ok(whole_packet(buf, version, max)?
        .map(|header| (header, buf.split_to(header.packet_len()).freeze())))
}

/// The decoder of an established connection whose protocol version is known.
///
/// It takes packets off the front of a `BytesMut` the transport appends to, and
/// returns `Ok(None)` until a whole packet is there. Decoded strings and payloads
/// share the buffer's memory. After an error the connection must be closed.
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_proto::{Decoder, Packet, ProtocolVersion};
///
/// let decoder = Decoder::new(ProtocolVersion::V5).with_max_packet_size(1024);
/// let mut buf = BytesMut::from(&[0x30, 0x06, 0x00, 0x01][..]);
/// assert_eq!(decoder.decode(&mut buf).unwrap(), None); // incomplete
/// buf.extend_from_slice(&[b'a', 0x00, b'h', b'i']);
/// let Some(Packet::Publish(p)) = decoder.decode(&mut buf).unwrap() else { panic!() };
/// assert_eq!((p.topic.as_str(), &p.payload[..]), ("a", &b"hi"[..]));
/// assert!(buf.is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decoder {
    version: ProtocolVersion,
    max_packet_size: u32,
}

impl Decoder {
    /// A decoder for `version` that accepts packets up to the protocol maximum.
    pub fn new(version: ProtocolVersion) -> Self {
        Self {
            version,
            max_packet_size: MAX_PACKET_SIZE,
        }
    }

    /// Refuses packets larger than `max` bytes (fixed header included) with 0x95
    /// Packet too large, before buffering their body. In 5.0 this is the Maximum
    /// Packet Size announced in CONNECT / CONNACK.
    pub fn with_max_packet_size(mut self, max: u32) -> Self {
        self.max_packet_size = max;
        self
    }

    /// The protocol version.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// The largest packet accepted, in bytes.
    pub fn max_packet_size(&self) -> u32 {
        self.max_packet_size
    }

    /// Takes the next whole packet off the front of `buf`; `Ok(None)` if it is not
    /// all there yet (the buffer is then reserved for the rest of it).
    #[inline]
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Packet>, DecodeError> {
        let header = match publish_header(buf, self.max_packet_size) {
            // The common case, a whole PUBLISH with valid flags, up to 16 KiB, within
            // the size limit: no generic fixed-header parse.
            Some(header) => header,
            // Anything else, or anything to report: the general path.
            None => match whole_packet(buf, self.version, self.max_packet_size)? {
                Some(header) => header,
                None => return Ok(None),
            },
        };
        if header.packet_type == PacketType::Publish {
            if let Some(p) = take_plain(buf, header, self.version)
                .map_err(|e| e.in_packet(PacketType::Publish))?
            {
                return Ok(Some(p));
            }
        }
        let frame = buf.split_to(header.packet_len()).freeze();
        decode_frame(header, frame, self.version).map(Some)
    }
}

/// The decoder of a connection's first packet: a CONNECT, whose protocol name and
/// level tell the version (3.1 `MQIsdp`/3, 3.1.1 `MQTT`/4, 5.0 `MQTT`/5).
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_proto::{ConnectDecoder, Decoder, ProtocolVersion};
///
/// let mut buf = BytesMut::from(
///     &[0x10, 0x0D, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 1, b'c'][..],
/// );
/// let connect = ConnectDecoder::new().decode(&mut buf).unwrap().unwrap();
/// assert_eq!(connect.protocol_version, ProtocolVersion::V3_1_1);
/// let decoder = Decoder::new(connect.protocol_version);
/// # let _ = decoder;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectDecoder {
    max_packet_size: u32,
}

impl Default for ConnectDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ConnectDecoder {
    /// A CONNECT decoder accepting packets up to the protocol maximum.
    pub fn new() -> Self {
        Self {
            max_packet_size: MAX_PACKET_SIZE,
        }
    }

    /// Refuses a CONNECT larger than `max` bytes.
    pub fn with_max_packet_size(mut self, max: u32) -> Self {
        self.max_packet_size = max;
        self
    }

    /// Decodes the CONNECT at the front of `buf`: `Ok(None)` until it is whole, an
    /// error if the first packet is anything else (MQTT-3.1.0-1), if the protocol
    /// name or level is not supported (0x84) or if the CONNECT is invalid.
    #[inline]
    pub fn decode(&self, buf: &mut BytesMut) -> Result<Option<Connect>, DecodeError> {
        // Errors before the version is known cite MQTT 5.0 ids.
        let version = ProtocolVersion::V5;
        if let Some(&first) = buf.first() {
            if first >> 4 != PacketType::Connect as u8 {
                return Err(DecodeError::protocol(
                    FIRST_PACKET,
                    version,
                    "first packet is not CONNECT",
                ));
            }
        }
        match next_frame(buf, version, self.max_packet_size)? {
            // Straight to the CONNECT decoder (the first byte was checked above): no
            // Box, no copy out of one.
            Some((header, frame)) => decode_connect(header, frame, version).map(Some),
            None => Ok(None),
        }
    }
}

/// Decodes exactly one whole packet, fixed header included (for tests, fuzzing and
/// captured packets); bytes after the packet are an error.
pub fn decode_packet(version: ProtocolVersion, packet: &[u8]) -> Result<Packet, DecodeError> {
    let mut buf = BytesMut::from(packet);
    let decoder = Decoder::new(version);
    match decoder.decode(&mut buf)? {
        Some(p) if buf.is_empty() => Ok(p),
        Some(p) => Err(DecodeError::malformed(
            crate::reader::REMAINING_LENGTH,
            version,
            "bytes after the packet",
        )
        .in_packet(p.packet_type())),
        None => Err(DecodeError::malformed(
            crate::reader::REMAINING_LENGTH,
            version,
            "incomplete packet",
        )),
    }
}
