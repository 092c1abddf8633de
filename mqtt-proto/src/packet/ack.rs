//! PUBACK, PUBREC, PUBREL and PUBCOMP (MQTT 5.0 §3.4-3.7, MQTT 3.1.1 §3.4-3.7).

use super::{
    Body, PacketId, checked_reason_tail_len, put_reason_tail, read_packet_id, read_reason,
};
use crate::error::{DecodeError, EncodeError, Rule};
use crate::properties::{AckProperties, Dropped};
use crate::property_box::PropertyBox;
use crate::reader::Reader;
use crate::writer::Out;
use crate::{PacketType, ProtocolVersion, ReasonCode};

/// The body of PUBACK, PUBREC, PUBREL and PUBCOMP: a Packet Identifier, a reason
/// code and properties (the last two 5.0 only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PubResponse {
    /// The Packet Identifier of the PUBLISH (or PUBREL) answered.
    pub packet_id: PacketId,
    /// The reason code ([`ReasonCode::Success`] in 3.1.1).
    pub reason_code: ReasonCode,
    /// Reason String and User Properties (5.0 only).
    pub properties: PropertyBox<AckProperties>,
}

impl PubResponse {
    /// A successful response for `packet_id`.
    pub fn new(packet_id: PacketId) -> Self {
        Self {
            packet_id,
            reason_code: ReasonCode::Success,
            properties: PropertyBox::default(),
        }
    }
}

fn reason_rule(t: PacketType) -> Rule {
    match t {
        PacketType::PubAck => Rule::v5("MQTT-3.4.2-1"),
        PacketType::PubRec => Rule::v5("MQTT-3.5.2-1"),
        PacketType::PubRel => Rule::v5("MQTT-3.6.2-1"),
        _ => Rule::v5("MQTT-3.7.2-1"),
    }
}

pub(super) fn decode(r: &mut Reader<'_>, t: PacketType) -> Result<PubResponse, DecodeError> {
    let packet_id = read_packet_id(r)?;
    let mut out = PubResponse::new(packet_id);
    if r.version().is_v5() && r.remaining() > 0 {
        out.reason_code = read_reason(
            r,
            t,
            reason_rule(t),
            "reason code not valid for this packet",
        )?;
        if r.remaining() > 0 {
            out.properties = AckProperties::decode_boxed(r)?;
        }
    }
    Ok(out)
}

/// A [`PubResponse`] seen as the packet of type `T` (4 to 7).
pub(super) struct As<'a, const T: u8>(pub(super) &'a PubResponse);

macro_rules! ack_body {
    ($n:literal, $t:ident) => {
        impl Body for As<'_, $n> {
            const TYPE: PacketType = PacketType::$t;

            fn body_len(
                &self,
                version: ProtocolVersion,
                dropped: Dropped,
            ) -> Result<usize, EncodeError> {
                let p = self.0;
                if !version.is_v5() {
                    return Ok(2);
                }
                let tail = checked_reason_tail_len::<Self>(
                    p.reason_code,
                    reason_rule(Self::TYPE).v5,
                    "reason code not valid for this packet",
                    p.properties.body_len(dropped),
                )?;
                Ok(2 + tail)
            }

            fn put_body(&self, version: ProtocolVersion, dropped: Dropped, buf: &mut Out<'_>) {
                let p = self.0;
                buf.put_u16(p.packet_id.get());
                if !version.is_v5() {
                    return;
                }
                let props = p.properties.body_len(dropped).unwrap_or(0);
                put_reason_tail(buf, p.reason_code, props, |buf| {
                    p.properties.put(dropped, props, buf)
                });
            }

            fn droppable(&self) -> Dropped {
                Dropped::ALL
            }
        }
    };
}

ack_body!(4, PubAck);
ack_body!(5, PubRec);
ack_body!(6, PubRel);
ack_body!(7, PubComp);
