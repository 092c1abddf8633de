//! PUBLISH (MQTT 5.0 §3.3, MQTT 3.1.1 §3.3), with a header-only encoding for
//! fan-out.

use bytes::{Buf, Bytes, BytesMut};

use super::FixedHeader;

use super::{
    Body, PacketId, encoded_len, invalid, invalid_property, qos_bits, read_packet_id,
    size_mismatch, total_len,
};
use crate::error::{DecodeError, EncodeError, Rule};
use crate::properties::{Dropped, with_length};
use crate::publish_properties::{self, PublishPropertySection};
use crate::reader::{REMAINING_LENGTH, Reader, UTF8_NO_NULL};
use crate::utf8::{TopicNameError, Utf8Bytes, Utf8Error};
use crate::writer::{Out, field_len, put_field, write_exact};
use crate::{PacketType, ProtocolVersion, QoS};

/// A PUBLISH packet.
///
/// For fan-out, encode the header once per distinct wire form with
/// [`Publish::encode_header`] and send [`Publish::payload`] after it as a separate
/// buffer (vectored write, or `Buf::chain`): the payload is never copied.
///
/// ```
/// use bytes::{Buf, Bytes, BytesMut};
/// use mqtt_proto::{ProtocolVersion, Publish};
///
/// let publish = Publish::new("news", Bytes::from_static(b"payload shared by all"));
/// let total = publish.encoded_len(ProtocolVersion::V5).unwrap();
/// let mut header = BytesMut::new();
/// publish.encode_header(ProtocolVersion::V5, &mut header).unwrap();
/// let wire = header.freeze().chain(publish.payload.clone());
/// assert_eq!(wire.remaining(), total);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Publish {
    /// DUP: this is a re-delivery (QoS > 0 only, MQTT-3.3.1-2).
    pub dup: bool,
    /// The QoS level.
    pub qos: QoS,
    /// RETAIN.
    pub retain: bool,
    /// The Topic Name (empty only in 5.0 with a Topic Alias).
    pub topic: Utf8Bytes,
    /// The Packet Identifier: present exactly when QoS > 0 (MQTT-2.2.1-2).
    pub packet_id: Option<PacketId>,
    /// PUBLISH properties (5.0 only): as received (one validated slice of the
    /// packet) or built; a PUBLISH without properties allocates nothing for them.
    pub properties: PublishPropertySection,
    /// The Application Message.
    pub payload: Bytes,
}

const TOPIC_UTF8: Rule = Rule::new("MQTT-3.3.2-1", "MQTT-3.3.2-1");
const TOPIC_WILDCARD: Rule = Rule::new("MQTT-3.3.2-2", "MQTT-3.3.2-2");
const TOPIC_EMPTY: Rule = Rule::new("MQTT-5.0 §3.3.2.3.4", "MQTT-4.7.3-1");

impl Publish {
    /// A QoS 0 PUBLISH of `payload` to `topic`.
    pub fn new(topic: impl Into<Utf8Bytes>, payload: Bytes) -> Self {
        Self {
            topic: topic.into(),
            payload,
            ..Self::default()
        }
    }

    /// The exact size of the whole packet (header and payload) encoded for
    /// `version`: what to compare with a subscriber's Maximum Packet Size.
    pub fn encoded_len(&self, version: ProtocolVersion) -> Result<usize, EncodeError> {
        encoded_len(self, version)
    }

    /// Appends the fixed header and the variable header (topic, packet id,
    /// properties) to `buf`, not the payload; returns the size of the whole packet,
    /// payload included. Send [`Publish::payload`] right after the header.
    pub fn encode_header(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        self.encode_with(version, buf, false)
    }

    /// Appends the whole packet, encoded for `version`, to `buf` (the payload is
    /// copied: for fan-out prefer [`Publish::encode_header`]); returns its size.
    /// The same bytes as [`crate::Packet::encode`] of this PUBLISH.
    #[inline]
    pub fn encode(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
    ) -> Result<usize, EncodeError> {
        self.encode_with(version, buf, true)
    }

    /// The header, and the payload if `with_payload`; returns the whole packet's size.
    #[inline(always)]
    fn encode_with(
        &self,
        version: ProtocolVersion,
        buf: &mut BytesMut,
        with_payload: bool,
    ) -> Result<usize, EncodeError> {
        let (header, props) = self.variable_header_len(version)?;
        let body_len = header + self.payload.len();
        let total = total_len::<Self>(body_len)?;
        let written_len = if with_payload {
            total
        } else {
            total - self.payload.len()
        };
        // Inline whatever the number of callers: out of line (as it became when
        // the benchmark gained a third caller of `encode`), a 64 B PUBLISH encode
        // takes 11 ns instead of 6.
        let written = write_exact(
            buf,
            written_len,
            #[inline(always)]
            |out| {
                out.put_u8(((PacketType::Publish as u8) << 4) | self.flags());
                out.put_varint(body_len as u32);
                self.put_variable_header(version, props, out);
                if with_payload {
                    out.extend_from_slice(&self.payload);
                }
            },
        );
        if written {
            Ok(total)
        } else {
            Err(size_mismatch::<Self>())
        }
    }

    /// The size of the variable header and of the properties' body.
    #[inline(always)]
    fn variable_header_len(&self, version: ProtocolVersion) -> Result<(usize, usize), EncodeError> {
        match (self.qos, self.packet_id) {
            (QoS::AtMostOnce, Some(_)) => {
                return Err(invalid::<Self>(
                    "MQTT-2.2.1-2",
                    "packet id on a QoS 0 PUBLISH",
                ));
            }
            (QoS::AtLeastOnce | QoS::ExactlyOnce, None) => {
                return Err(invalid::<Self>(
                    "MQTT-2.2.1-3",
                    "no packet id on a QoS > 0 PUBLISH",
                ));
            }
            (QoS::AtMostOnce, None) if self.dup => {
                return Err(invalid::<Self>("MQTT-3.3.1-2", "DUP on a QoS 0 PUBLISH"));
            }
            _ => {}
        }
        let mut len = field_len(self.topic.as_bytes())
            .ok_or_else(|| invalid::<Self>("MQTT-4.7.3-3", "topic longer than 65,535 bytes"))?;
        if self.packet_id.is_some() {
            len += 2;
        }
        let mut props = 0;
        if version.is_v5() {
            if self.topic.is_empty() && self.properties.topic_alias().is_none() {
                return Err(invalid::<Self>(
                    "MQTT-4.7.3-1",
                    "empty topic without a Topic Alias",
                ));
            }
            // No call when there are none (most PUBLISHes).
            props = self
                .properties
                .body_len()
                .map_err(invalid_property::<Self>)?;
            len += with_length(props);
        } else if self.topic.is_empty() {
            return Err(invalid::<Self>(
                "MQTT-4.7.3-1",
                "empty topic (no Topic Alias before 5.0)",
            ));
        }
        Ok((len, props))
    }

    #[inline(always)]
    fn put_variable_header(&self, version: ProtocolVersion, props: usize, buf: &mut Out<'_>) {
        put_field(buf, self.topic.as_bytes());
        if let Some(id) = self.packet_id {
            buf.put_u16(id.get());
        }
        if version.is_v5() {
            if props == 0 {
                // Property Length 0, without a call.
                buf.put_u8(0);
            } else {
                buf.by_value(|out| self.properties.put(props, out));
            }
        }
    }
}

#[inline]
fn topic_name(r: &mut Reader<'_>) -> Result<Utf8Bytes, DecodeError> {
    let len = usize::from(r.u16()?);
    let raw = r.bytes(len)?;
    Utf8Bytes::from_topic_name(raw).map_err(|e| topic_error(e, r.version()))
}

#[inline]
pub(super) fn decode(
    flags: u8,
    body: Bytes,
    version: ProtocolVersion,
) -> Result<Publish, DecodeError> {
    // The fixed header check already refused QoS 3 and DUP on QoS 0.
    let qos = match (flags >> 1) & 0b11 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    };
    let mut r = Reader::new(&body, version);
    let topic = topic_name(&mut r)?;
    let packet_id = match qos {
        QoS::AtMostOnce => None,
        _ => Some(read_packet_id(&mut r)?),
    };
    let (properties, has_alias) = if version.is_v5() {
        publish_properties::decode(&mut r)?
    } else {
        (PublishPropertySection::default(), false)
    };
    if topic.is_empty() && !has_alias {
        return Err(r.protocol(TOPIC_EMPTY, "empty Topic Name without a Topic Alias"));
    }
    let consumed = r.position();
    let mut payload = body;
    payload.advance(consumed);
    Ok(Publish {
        dup: flags & 0b1000 != 0,
        qos,
        retain: flags & 0b0001 != 0,
        topic,
        packet_id,
        properties,
        payload,
    })
}

/// The PUBLISH fast path for a whole packet at the front of `buf` whose header is
/// `header`, returned as a [`super::Packet`]: a packet without properties (every 3.1.1 PUBLISH, and 5.0 ones with
/// an empty property set) is taken off `buf` as two slices, topic and payload,
/// without a handle on the whole frame. Returns `Ok(None)`, `buf` untouched, for
/// a packet with properties (the general path decodes it).
#[inline]
pub(crate) fn take_plain(
    buf: &mut BytesMut,
    header: FixedHeader,
    version: ProtocolVersion,
) -> Result<Option<super::Packet>, DecodeError> {
    let flags = header.flags;
    let qos = match (flags >> 1) & 0b11 {
        0 => QoS::AtMostOnce,
        1 => QoS::AtLeastOnce,
        _ => QoS::ExactlyOnce,
    };
    let truncated =
        || DecodeError::malformed(REMAINING_LENGTH, version, "packet ends inside a field");
    let body = buf
        .get(header.header_len..header.packet_len())
        .ok_or_else(truncated)?;
    let Some((len, rest)) = body.split_first_chunk::<2>() else {
        return Err(truncated());
    };
    let topic_len = usize::from(u16::from_be_bytes(*len));
    let mut rest = rest.get(topic_len..).ok_or_else(truncated)?;
    let mut packet_id = None;
    if qos != QoS::AtMostOnce {
        let Some((id, after)) = rest.split_first_chunk::<2>() else {
            return Err(truncated());
        };
        packet_id = Some(PacketId::new(u16::from_be_bytes(*id)).ok_or_else(|| {
            DecodeError::protocol(super::PACKET_ID_ZERO, version, "Packet Identifier 0")
        })?);
        rest = after;
    }
    if version.is_v5() {
        match rest.split_first() {
            Some((0, after)) => rest = after,
            Some(_) => return Ok(None),
            None => return Err(truncated()),
        }
    }
    if topic_len == 0 {
        return Err(DecodeError::protocol(
            TOPIC_EMPTY,
            version,
            "empty Topic Name without a Topic Alias",
        ));
    }
    let payload_len = rest.len();
    let skip = header.packet_len() - header.header_len - 2 - topic_len - payload_len;
    // Checked: commit. The topic is validated before anything is taken off `buf`.
    let topic = Utf8Bytes::split_topic_name(buf, header.header_len + 2, topic_len)
        .map_err(|e| topic_error(e, version))?;
    let mut payload = buf.split_to(skip + payload_len).freeze();
    payload.advance(skip);
    // Built in place as the `Packet` the decoder returns: no move of the large
    // value from a `Publish` into a `Packet`.
    Ok(Some(super::Packet::Publish(Publish {
        dup: flags & 0b1000 != 0,
        qos,
        retain: flags & 0b0001 != 0,
        topic,
        packet_id,
        properties: PublishPropertySection::default(),
        payload,
    })))
}

fn topic_error(e: TopicNameError, version: ProtocolVersion) -> DecodeError {
    match e {
        TopicNameError::Wildcard => {
            DecodeError::protocol(TOPIC_WILDCARD, version, "wildcard in the Topic Name")
        }
        TopicNameError::Utf8(Utf8Error::Null) => {
            DecodeError::malformed(UTF8_NO_NULL, version, "Topic Name contains U+0000")
        }
        TopicNameError::Utf8(Utf8Error::IllFormed) => {
            DecodeError::malformed(TOPIC_UTF8, version, "Topic Name is not well-formed UTF-8")
        }
    }
}

impl Body for Publish {
    const TYPE: PacketType = PacketType::Publish;

    fn flags(&self) -> u8 {
        (u8::from(self.dup) << 3) | qos_bits(self.qos) | u8::from(self.retain)
    }

    #[inline]
    fn body_len(&self, version: ProtocolVersion, _: Dropped) -> Result<usize, EncodeError> {
        Ok(self.variable_header_len(version)?.0 + self.payload.len())
    }

    #[inline]
    fn put_body(&self, version: ProtocolVersion, _: Dropped, buf: &mut Out<'_>) {
        let props = if version.is_v5() {
            self.properties.body_len().unwrap_or(0)
        } else {
            0
        };
        self.put_variable_header(version, props, buf);
        buf.extend_from_slice(&self.payload);
    }
}
