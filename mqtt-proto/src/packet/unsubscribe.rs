//! UNSUBSCRIBE and UNSUBACK (MQTT 5.0 §3.10-3.11, MQTT 3.1.1 §3.10-3.11).

use super::subscribe::{check_filter, id_and_properties_len, read_id_and_properties};
use super::{Body, PacketId, invalid, invalid_property, read_packet_id, read_reason};
use crate::error::{DecodeError, EncodeError, Rule};
use crate::properties::{AckProperties, Dropped, UnsubscribeProperties, with_length};
use crate::property_box::PropertyBox;
use crate::reader::Reader;
use crate::utf8::Utf8Bytes;
use crate::writer::{Out, field_len, put_field};
use crate::{PacketType, ProtocolVersion, ReasonCode};

/// An UNSUBSCRIBE packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsubscribe {
    /// The Packet Identifier.
    pub packet_id: PacketId,
    /// UNSUBSCRIBE properties (5.0 only).
    pub properties: PropertyBox<UnsubscribeProperties>,
    /// The Topic Filters, at least one (MQTT-3.10.3-2).
    pub filters: Vec<Utf8Bytes>,
}

/// An UNSUBACK packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsubAck {
    /// The Packet Identifier of the UNSUBSCRIBE.
    pub packet_id: PacketId,
    /// Reason String and User Properties (5.0 only).
    pub properties: PropertyBox<AckProperties>,
    /// One Unsubscribe Reason Code per filter (5.0 only; empty in 3.1.1).
    pub reason_codes: Vec<ReasonCode>,
}

const NO_FILTER: Rule = Rule::new("MQTT-3.10.3-2", "MQTT-3.10.3-2");
const FILTER_UTF8: Rule = Rule::new("MQTT-3.10.3-1", "MQTT-3.10.3-1");
const UNSUBACK_CODE: Rule = Rule::v5("MQTT-3.11.3-2");

pub(super) fn decode(r: &mut Reader<'_>) -> Result<Unsubscribe, DecodeError> {
    let (packet_id, properties) = read_id_and_properties(r, UnsubscribeProperties::decode_boxed)?;
    if r.remaining() == 0 {
        return Err(r.protocol(NO_FILTER, "UNSUBSCRIBE without a Topic Filter"));
    }
    let mut filters = Vec::new();
    while r.remaining() > 0 {
        let filter = r.string_for(Some(FILTER_UTF8))?;
        check_filter(r, &filter)?;
        filters.push(filter);
    }
    Ok(Unsubscribe {
        packet_id,
        properties,
        filters,
    })
}

pub(super) fn decode_unsuback(r: &mut Reader<'_>) -> Result<UnsubAck, DecodeError> {
    let packet_id = read_packet_id(r)?;
    let mut out = UnsubAck {
        packet_id,
        properties: PropertyBox::default(),
        reason_codes: Vec::new(),
    };
    if r.version().is_v5() {
        out.properties = AckProperties::decode_boxed(r)?;
        out.reason_codes.reserve(r.remaining());
        while r.remaining() > 0 {
            let code = read_reason(
                r,
                PacketType::UnsubAck,
                UNSUBACK_CODE,
                "not an Unsubscribe Reason Code",
            )?;
            out.reason_codes.push(code);
        }
    }
    Ok(out)
}

impl Body for Unsubscribe {
    const TYPE: PacketType = PacketType::Unsubscribe;

    fn body_len(&self, version: ProtocolVersion, _: Dropped) -> Result<usize, EncodeError> {
        if self.filters.is_empty() {
            return Err(invalid::<Self>(NO_FILTER.v5, "no Topic Filter"));
        }
        let mut len =
            id_and_properties_len::<Self>(version, || self.properties.body_len(Dropped::NONE))?;
        for f in &self.filters {
            len += field_len(f.as_bytes()).ok_or_else(|| {
                invalid::<Self>("MQTT-4.7.3-3", "filter longer than 65,535 bytes")
            })?;
        }
        Ok(len)
    }

    fn put_body(&self, version: ProtocolVersion, _: Dropped, buf: &mut Out<'_>) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            let n = self.properties.body_len(Dropped::NONE).unwrap_or(0);
            self.properties.put(Dropped::NONE, n, buf);
        }
        for f in &self.filters {
            put_field(buf, f.as_bytes());
        }
    }
}

impl Body for UnsubAck {
    const TYPE: PacketType = PacketType::UnsubAck;

    fn body_len(&self, version: ProtocolVersion, dropped: Dropped) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Ok(2);
        }
        if self
            .reason_codes
            .iter()
            .any(|c| !c.is_valid_for(PacketType::UnsubAck))
        {
            return Err(invalid::<Self>(
                UNSUBACK_CODE.v5,
                "not an Unsubscribe Reason Code",
            ));
        }
        let props = self
            .properties
            .body_len(dropped)
            .map_err(invalid_property::<Self>)?;
        Ok(2 + with_length(props) + self.reason_codes.len())
    }

    fn put_body(&self, version: ProtocolVersion, dropped: Dropped, buf: &mut Out<'_>) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            let n = self.properties.body_len(dropped).unwrap_or(0);
            self.properties.put(dropped, n, buf);
            for c in &self.reason_codes {
                buf.put_u8(u8::from(*c));
            }
        }
    }

    fn droppable(&self) -> Dropped {
        Dropped::ALL
    }
}
