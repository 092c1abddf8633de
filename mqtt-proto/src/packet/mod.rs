//! The packet model: one type per MQTT Control Packet, the MQTT 5.0 superset that
//! also carries MQTT 3.1 and 3.1.1.
//!
//! # Versions
//!
//! Decoding and encoding take a [`ProtocolVersion`]. Decoding a 3.1/3.1.1 packet
//! leaves the 5.0-only parts at their defaults: empty properties, reason code
//! [`ReasonCode::Success`] in PUBACK/PUBREC/PUBREL/PUBCOMP/DISCONNECT, no UNSUBACK
//! reason codes, subscription options with only the QoS set.
//!
//! Encoding for 3.1/3.1.1 **silently omits** what the older protocol cannot say:
//! every property set, the reason code of PUBACK/PUBREC/PUBREL/PUBCOMP/DISCONNECT,
//! UNSUBACK reason codes, and the No Local / Retain As Published / Retain Handling
//! subscription options. Reason codes that 3.1.1 does have are mapped: CONNACK
//! return codes by [`ConnAck::v3_return_code`], SUBACK codes to 0x00/0x01/0x02 or
//! 0x80. What cannot be omitted without changing the meaning is an
//! [`EncodeError`]: AUTH ([`EncodeError::Unsupported`]), a PUBLISH with an empty
//! topic (topic aliases do not exist before 5.0) and a CONNECT with a password but
//! no user name (MQTT-3.1.2-22).

mod ack;
mod auth;
mod connack;
pub(crate) mod connect;
mod disconnect;
pub(crate) mod publish;
mod subscribe;
mod unsubscribe;

use core::num::NonZeroU16;

use bytes::{Buf, Bytes, BytesMut};

pub use ack::PubResponse;
pub use auth::Auth;
pub use connack::ConnAck;
pub use connect::{Connect, Will};
pub use disconnect::Disconnect;
pub use publish::Publish;
pub use subscribe::{RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions};
pub use unsubscribe::{UnsubAck, Unsubscribe};

use crate::error::{DecodeError, EncodeError, Rule};
use crate::properties::Dropped;
use crate::reader::Reader;
use crate::writer::{Out, write_exact};
use crate::{PacketType, ProtocolVersion, QoS, ReasonCode, varint};

/// A Packet Identifier: non-zero by construction (MQTT-2.2.1-3, MQTT-2.3.1-1).
pub type PacketId = NonZeroU16;

/// The largest packet the wire format can carry: a one-byte header, a four-byte
/// Remaining Length and 268,435,455 bytes.
pub const MAX_PACKET_SIZE: u32 = 1 + 4 + varint::MAX;

/// Fixed header flags other than those listed for the packet type.
const FLAGS: Rule = Rule::new("MQTT-2.1.3-1", "MQTT-2.2.2-1");
/// The reserved packet type 0 (and AUTH before 5.0).
const PACKET_TYPE: Rule = Rule::new("MQTT-5.0 §2.1.2", "MQTT-3.1.1 §2.2.1");
/// PUBLISH with both QoS bits set.
pub(crate) const QOS_3: Rule = Rule::new("MQTT-3.3.1-4", "MQTT-3.3.1-4");
/// A Packet Identifier of 0.
pub(crate) const PACKET_ID_ZERO: Rule = Rule::new("MQTT-2.2.1-3", "MQTT-2.3.1-1");

/// An MQTT Control Packet of any version.
///
/// ```
/// use bytes::{Bytes, BytesMut};
/// use mqtt_proto::{Decoder, Packet, ProtocolVersion, Publish, QoS};
///
/// let mut publish = Publish::new("a/b", Bytes::from_static(b"hello"));
/// publish.qos = QoS::AtLeastOnce;
/// publish.packet_id = core::num::NonZeroU16::new(7);
/// let packet = Packet::Publish(publish);
///
/// let mut wire = BytesMut::new();
/// let len = packet.encode(ProtocolVersion::V3_1_1, &mut wire).unwrap();
/// assert_eq!(len, wire.len());
/// let decoded = Decoder::new(ProtocolVersion::V3_1_1).decode(&mut wire).unwrap();
/// assert_eq!(decoded, Some(packet));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet {
    /// CONNECT (boxed: rare and large).
    Connect(Box<Connect>),
    /// CONNACK (boxed: rare and large).
    ConnAck(Box<ConnAck>),
    /// PUBLISH.
    Publish(Publish),
    /// PUBACK.
    PubAck(PubResponse),
    /// PUBREC.
    PubRec(PubResponse),
    /// PUBREL.
    PubRel(PubResponse),
    /// PUBCOMP.
    PubComp(PubResponse),
    /// SUBSCRIBE.
    Subscribe(Subscribe),
    /// SUBACK.
    SubAck(SubAck),
    /// UNSUBSCRIBE.
    Unsubscribe(Unsubscribe),
    /// UNSUBACK.
    UnsubAck(UnsubAck),
    /// PINGREQ.
    PingReq,
    /// PINGRESP.
    PingResp,
    /// DISCONNECT.
    Disconnect(Disconnect),
    /// AUTH (MQTT 5.0 only).
    Auth(Auth),
}

/// A parsed fixed header (MQTT 5.0 §2.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FixedHeader {
    pub(crate) packet_type: PacketType,
    pub(crate) flags: u8,
    /// Bytes taken by the first byte and the Remaining Length.
    pub(crate) header_len: usize,
    /// The Remaining Length.
    pub(crate) remaining: usize,
}

impl FixedHeader {
    /// The whole packet's size.
    pub(crate) fn packet_len(&self) -> usize {
        self.header_len + self.remaining
    }
}

/// Parses and checks a fixed header at the start of `buf`: `Ok(None)` if more
/// bytes are needed. The type and flags are checked as soon as the first byte is
/// there.
#[inline]
pub(crate) fn parse_fixed_header(
    buf: &[u8],
    version: ProtocolVersion,
) -> Result<Option<FixedHeader>, DecodeError> {
    let Some((&byte1, rest)) = buf.split_first() else {
        return Ok(None);
    };
    let packet_type = check_first_byte(byte1, version)?;
    // Fast path: a one-byte Remaining Length.
    let (remaining, len) = match rest.first() {
        None => return Ok(None),
        Some(&b) if b < 0x80 => (u32::from(b), 1),
        Some(_) => match varint::decode(rest) {
            Ok(Some(v)) => v,
            Ok(None) => return Ok(None),
            Err(_) => {
                return Err(DecodeError::malformed(
                    crate::reader::VARINT_MINIMAL,
                    version,
                    "malformed Remaining Length",
                )
                .in_packet(packet_type));
            }
        },
    };
    Ok(Some(FixedHeader {
        packet_type,
        flags: byte1 & 0x0f,
        header_len: 1 + len,
        remaining: remaining as usize,
    }))
}

/// Checks the packet type and its flags (MQTT-2.1.3-1, MQTT-3.3.1-4, ...).
#[inline]
fn check_first_byte(byte1: u8, version: ProtocolVersion) -> Result<PacketType, DecodeError> {
    let flags = byte1 & 0x0f;
    let packet_type = match PacketType::from_u8(byte1 >> 4) {
        Some(PacketType::Auth) if !version.is_v5() => None,
        other => other,
    };
    let Some(packet_type) = packet_type else {
        return Err(DecodeError::malformed(
            PACKET_TYPE,
            version,
            "reserved packet type",
        ));
    };
    match packet_type.fixed_flags() {
        Some(expected) if flags != expected => {
            let rule = match packet_type {
                PacketType::PubRel => Rule::new("MQTT-3.6.1-1", "MQTT-3.6.1-1"),
                PacketType::Subscribe => Rule::new("MQTT-3.8.1-1", "MQTT-3.8.1-1"),
                PacketType::Unsubscribe => Rule::new("MQTT-3.10.1-1", "MQTT-3.10.1-1"),
                PacketType::Disconnect => Rule::new("MQTT-3.14.1-1", "MQTT-3.14.1-1"),
                PacketType::Auth => Rule::v5("MQTT-3.15.1-1"),
                _ => FLAGS,
            };
            Err(
                DecodeError::malformed(rule, version, "invalid fixed header flags")
                    .in_packet(packet_type),
            )
        }
        Some(_) => Ok(packet_type),
        None => {
            let qos = (flags >> 1) & 0b11;
            if qos == 3 {
                return Err(DecodeError::malformed(QOS_3, version, "QoS 3").in_packet(packet_type));
            }
            if qos == 0 && flags & 0b1000 != 0 {
                return Err(DecodeError::malformed(
                    Rule::new("MQTT-3.3.1-2", "MQTT-3.3.1-2"),
                    version,
                    "DUP set on a QoS 0 PUBLISH",
                )
                .in_packet(packet_type));
            }
            Ok(packet_type)
        }
    }
}

/// Decodes the body of one packet whose fixed header is `header`; `frame` is the
/// whole packet, fixed header included.
#[inline]
pub(crate) fn decode_frame(
    header: FixedHeader,
    mut frame: Bytes,
    version: ProtocolVersion,
) -> Result<Packet, DecodeError> {
    frame.advance(header.header_len);
    let t = header.packet_type;
    let result = match t {
        PacketType::Publish => publish::decode(header.flags, frame, version).map(Packet::Publish),
        _ => {
            let mut r = Reader::new(&frame, version);
            let packet = match t {
                PacketType::Connect => {
                    connect::decode(&mut r).map(|c| Packet::Connect(Box::new(c)))
                }
                PacketType::ConnAck => {
                    connack::decode(&mut r).map(|c| Packet::ConnAck(Box::new(c)))
                }
                PacketType::PubAck => ack::decode(&mut r, t).map(Packet::PubAck),
                PacketType::PubRec => ack::decode(&mut r, t).map(Packet::PubRec),
                PacketType::PubRel => ack::decode(&mut r, t).map(Packet::PubRel),
                PacketType::PubComp => ack::decode(&mut r, t).map(Packet::PubComp),
                PacketType::Subscribe => subscribe::decode(&mut r).map(Packet::Subscribe),
                PacketType::SubAck => subscribe::decode_suback(&mut r).map(Packet::SubAck),
                PacketType::Unsubscribe => unsubscribe::decode(&mut r).map(Packet::Unsubscribe),
                PacketType::UnsubAck => unsubscribe::decode_unsuback(&mut r).map(Packet::UnsubAck),
                PacketType::PingReq => Ok(Packet::PingReq),
                PacketType::PingResp => Ok(Packet::PingResp),
                PacketType::Disconnect => disconnect::decode(&mut r).map(Packet::Disconnect),
                PacketType::Auth => auth::decode(&mut r).map(Packet::Auth),
                PacketType::Publish => Err(r.truncated()),
            };
            packet.and_then(|p| r.finish().map(|()| p))
        }
    };
    result.map_err(|e| e.in_packet(t))
}

/// Decodes a whole CONNECT packet (fixed header included) into a `Connect`,
/// unboxed: the CONNECT phase's path.
#[inline]
pub(crate) fn decode_connect(
    header: FixedHeader,
    mut frame: Bytes,
    version: ProtocolVersion,
) -> Result<Connect, DecodeError> {
    frame.advance(header.header_len);
    let mut r = Reader::new(&frame, version);
    connect::decode(&mut r)
        .and_then(|c| r.finish().map(|()| c))
        .map_err(|e| e.in_packet(PacketType::Connect))
}

/// Reads a non-zero Packet Identifier.
#[inline]
pub(crate) fn read_packet_id(r: &mut Reader<'_>) -> Result<PacketId, DecodeError> {
    let id = r.u16()?;
    PacketId::new(id).ok_or_else(|| r.protocol(PACKET_ID_ZERO, "Packet Identifier 0"))
}

/// Reads a reason code that must be one packet type `t` may carry: otherwise a
/// Malformed Packet citing `rule`.
#[inline]
pub(crate) fn read_reason(
    r: &mut Reader<'_>,
    t: PacketType,
    rule: Rule,
    message: &'static str,
) -> Result<ReasonCode, DecodeError> {
    ReasonCode::from_u8(r.u8()?)
        .filter(|c| c.is_valid_for(t))
        .ok_or_else(|| r.malformed(rule, message))
}

/// The encoding of one packet body: what each packet type implements.
pub(crate) trait Body {
    /// The packet type.
    const TYPE: PacketType;
    /// The four flag bits of the fixed header.
    fn flags(&self) -> u8 {
        Self::TYPE.fixed_flags().unwrap_or(0)
    }
    /// The Remaining Length when encoded for `version` leaving out `dropped`.
    fn body_len(&self, version: ProtocolVersion, dropped: Dropped) -> Result<usize, EncodeError>;
    /// Writes the body (everything after the fixed header).
    fn put_body(&self, version: ProtocolVersion, dropped: Dropped, buf: &mut Out<'_>);
    /// Whether the packet has a Reason String or User Properties the encoder may drop.
    fn droppable(&self) -> Dropped {
        Dropped::NONE
    }
}

/// An invalid field error for packet `T`.
pub(crate) fn invalid<T: Body>(rule: &'static str, message: &'static str) -> EncodeError {
    EncodeError::Invalid {
        packet: T::TYPE,
        rule,
        message,
    }
}

/// Maps a property encoding failure.
pub(crate) fn invalid_property<T: Body>(message: &'static str) -> EncodeError {
    invalid::<T>("MQTT-5.0 §2.2.2.2", message)
}

/// The total size of a packet with Remaining Length `body_len`.
pub(crate) fn total_len<T: Body>(body_len: usize) -> Result<usize, EncodeError> {
    if body_len > varint::MAX as usize {
        return Err(EncodeError::TooLarge {
            packet: T::TYPE,
            size: body_len + 5,
            max: MAX_PACKET_SIZE,
        });
    }
    Ok(1 + varint::encoded_len(body_len as u32) + body_len)
}

/// The exact encoded size of `body` for `version`.
pub(crate) fn encoded_len<T: Body>(
    body: &T,
    version: ProtocolVersion,
) -> Result<usize, EncodeError> {
    total_len::<T>(body.body_len(version, Dropped::NONE)?)
}

/// The error for a size computation that disagrees with what was written (a bug,
/// reported rather than panicking).
pub(crate) fn size_mismatch<T: Body>() -> EncodeError {
    invalid::<T>(
        "mqtt-proto",
        "internal error: encoded size differs from the computed size",
    )
}

/// Encodes `body` into `buf`: computes the size, reserves it once, writes.
pub(crate) fn encode<T: Body>(
    body: &T,
    version: ProtocolVersion,
    dropped: Dropped,
    buf: &mut BytesMut,
) -> Result<usize, EncodeError> {
    let body_len = body.body_len(version, dropped)?;
    let total = total_len::<T>(body_len)?;
    let written = write_exact(buf, total, |out| {
        out.put_u8(((T::TYPE as u8) << 4) | body.flags());
        out.put_varint(body_len as u32);
        body.put_body(version, dropped, out);
    });
    if written {
        Ok(total)
    } else {
        Err(size_mismatch::<T>())
    }
}

/// Encodes `body` so that it fits in `max` bytes, dropping the Reason String and
/// then the User Properties if needed and allowed.
pub(crate) fn encode_within<T: Body>(
    body: &T,
    version: ProtocolVersion,
    max: u32,
    buf: &mut BytesMut,
) -> Result<Dropped, EncodeError> {
    let can = body.droppable();
    let steps = [
        Dropped::NONE,
        Dropped {
            reason_string: can.reason_string,
            user_properties: false,
        },
        Dropped {
            reason_string: can.reason_string,
            user_properties: can.user_properties,
        },
    ];
    let mut smallest = usize::MAX;
    let mut previous = None;
    for dropped in steps {
        if previous == Some(dropped) {
            continue;
        }
        previous = Some(dropped);
        let size = total_len::<T>(body.body_len(version, dropped)?)?;
        smallest = smallest.min(size);
        if size <= max as usize {
            encode(body, version, dropped, buf)?;
            return Ok(dropped);
        }
    }
    Err(EncodeError::TooLarge {
        packet: T::TYPE,
        size: smallest,
        max,
    })
}

/// The bodiless packets.
struct Empty<const T: u8>;

impl Body for Empty<12> {
    const TYPE: PacketType = PacketType::PingReq;
    fn body_len(&self, _: ProtocolVersion, _: Dropped) -> Result<usize, EncodeError> {
        Ok(0)
    }
    fn put_body(&self, _: ProtocolVersion, _: Dropped, _: &mut Out<'_>) {}
}

impl Body for Empty<13> {
    const TYPE: PacketType = PacketType::PingResp;
    fn body_len(&self, _: ProtocolVersion, _: Dropped) -> Result<usize, EncodeError> {
        Ok(0)
    }
    fn put_body(&self, _: ProtocolVersion, _: Dropped, _: &mut Out<'_>) {}
}

/// Runs `$body` with `$b` bound to the packet's [`Body`].
macro_rules! with_body {
    ($packet:expr, $b:ident => $body:expr) => {
        match $packet {
            Packet::Connect(p) => {
                let $b = &**p;
                $body
            }
            Packet::ConnAck(p) => {
                let $b = &**p;
                $body
            }
            Packet::Publish(p) => {
                let $b = p;
                $body
            }
            Packet::PubAck(p) => {
                let $b = &ack::As::<4>(p);
                $body
            }
            Packet::PubRec(p) => {
                let $b = &ack::As::<5>(p);
                $body
            }
            Packet::PubRel(p) => {
                let $b = &ack::As::<6>(p);
                $body
            }
            Packet::PubComp(p) => {
                let $b = &ack::As::<7>(p);
                $body
            }
            Packet::Subscribe(p) => {
                let $b = p;
                $body
            }
            Packet::SubAck(p) => {
                let $b = p;
                $body
            }
            Packet::Unsubscribe(p) => {
                let $b = p;
                $body
            }
            Packet::UnsubAck(p) => {
                let $b = p;
                $body
            }
            Packet::PingReq => {
                let $b = &Empty::<12>;
                $body
            }
            Packet::PingResp => {
                let $b = &Empty::<13>;
                $body
            }
            Packet::Disconnect(p) => {
                let $b = p;
                $body
            }
            Packet::Auth(p) => {
                let $b = p;
                $body
            }
        }
    };
}

/// Fails for AUTH before MQTT 5.0.
fn check_version(packet: &Packet, version: ProtocolVersion) -> Result<(), EncodeError> {
    if matches!(packet, Packet::Auth(_)) && !version.is_v5() {
        return Err(EncodeError::Unsupported {
            packet: PacketType::Auth,
            version,
        });
    }
    Ok(())
}

impl Packet {
    /// The packet's type.
    pub fn packet_type(&self) -> PacketType {
        match self {
            Self::Connect(_) => PacketType::Connect,
            Self::ConnAck(_) => PacketType::ConnAck,
            Self::Publish(_) => PacketType::Publish,
            Self::PubAck(_) => PacketType::PubAck,
            Self::PubRec(_) => PacketType::PubRec,
            Self::PubRel(_) => PacketType::PubRel,
            Self::PubComp(_) => PacketType::PubComp,
            Self::Subscribe(_) => PacketType::Subscribe,
            Self::SubAck(_) => PacketType::SubAck,
            Self::Unsubscribe(_) => PacketType::Unsubscribe,
            Self::UnsubAck(_) => PacketType::UnsubAck,
            Self::PingReq => PacketType::PingReq,
            Self::PingResp => PacketType::PingResp,
            Self::Disconnect(_) => PacketType::Disconnect,
            Self::Auth(_) => PacketType::Auth,
        }
    }

    /// The exact number of bytes [`Packet::encode`] writes for `version`.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        check_version(self, version)?;
        with_body!(self, b => encoded_len(b, version))
    }

    /// Appends the packet, encoded for `version`, to `buf`, reserving the exact
    /// size once; returns the number of bytes written. On error nothing is written.
    #[inline]
    pub fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        if let Self::Publish(p) = self {
            // The hot path: sized once, properties included, without the
            // register and stack setup of the other packets' code.
            return p.encode(version, buf);
        }
        self.encode_other(version, buf)
    }

    /// [`Packet::encode`] of every packet but PUBLISH.
    #[inline(never)]
    fn encode_other(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        check_version(self, version)?;
        with_body!(self, b => encode(b, version, Dropped::NONE, buf))
    }

    /// Encodes the packet so that it is at most `max_packet_size` bytes (the
    /// receiver's Maximum Packet Size): if it is too large, the Reason String and
    /// then the User Properties are left out where the standard allows it
    /// (MQTT-3.2.2-19, MQTT-3.4.2-2, ...). Returns what was left out, or
    /// [`EncodeError::TooLarge`] if the packet still does not fit (a PUBLISH is
    /// never trimmed: it is to be discarded, MQTT-3.1.2-25).
    pub fn encode_within(
        &self,
        version: ProtocolVersion,
        max_packet_size: u32,
        buf: &mut BytesMut,
    ) -> Result<Dropped, EncodeError> {
        check_version(self, version)?;
        with_body!(self, b => encode_within(b, version, max_packet_size, buf))
    }
}

/// The QoS bits of a PUBLISH first byte.
pub(crate) fn qos_bits(qos: QoS) -> u8 {
    u8::from(qos) << 1
}

/// The size of the optional tail of PUBACK/PUBREC/PUBREL/PUBCOMP, DISCONNECT and
/// AUTH in 5.0: a reason code and properties, the reason code left out when it is
/// 0x00 without properties, the Property Length left out when there are none.
pub(crate) fn reason_tail_len(code: ReasonCode, props: usize) -> usize {
    if props > 0 {
        1 + crate::properties::with_length(props)
    } else {
        usize::from(code != ReasonCode::Success)
    }
}

/// [`reason_tail_len`] for packet `T` once `code` is known to be one `T` may carry
/// (otherwise the error `rule`, `message`) and its properties to encode (`props`:
/// their size without the Property Length).
pub(crate) fn checked_reason_tail_len<T: Body>(
    code: ReasonCode,
    rule: &'static str,
    message: &'static str,
    props: Result<usize, &'static str>,
) -> Result<usize, EncodeError> {
    if !code.is_valid_for(T::TYPE) {
        return Err(invalid::<T>(rule, message));
    }
    Ok(reason_tail_len(code, props.map_err(invalid_property::<T>)?))
}

/// Writes the tail sized by [`reason_tail_len`]; `put_props` writes the Property
/// Length and the properties.
pub(crate) fn put_reason_tail(
    buf: &mut Out<'_>,
    code: ReasonCode,
    props: usize,
    put_props: impl FnOnce(&mut Out<'_>),
) {
    if props > 0 || code != ReasonCode::Success {
        put_reason(buf, code);
    }
    if props > 0 {
        put_props(buf);
    }
}

/// Writes a reason code byte.
pub(crate) fn put_reason(buf: &mut Out<'_>, code: ReasonCode) {
    buf.put_u8(u8::from(code));
}
