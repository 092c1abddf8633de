//! DISCONNECT (MQTT 5.0 §3.14, MQTT 3.1.1 §3.14).

use super::{Body, checked_reason_tail_len, put_reason_tail, read_reason};
use crate::error::{DecodeError, EncodeError, Rule};
use crate::properties::{DisconnectProperties, Dropped};
use crate::property_box::PropertyBox;
use crate::reader::Reader;
use crate::writer::Out;
use crate::{PacketType, ProtocolVersion, ReasonCode};

/// A DISCONNECT packet. Servers use it in 5.0 to say why they close: for example
/// 0x8E Session taken over, 0x8B Server shutting down, 0x81 Malformed Packet,
/// 0x82 Protocol Error, 0x93 Receive Maximum exceeded, 0x94 Topic Alias invalid,
/// 0x95 Packet too large, 0x97 Quota exceeded, 0x9A Retain not supported, 0x9E
/// Shared Subscriptions not supported. In 3.1.1 only the client sends it, and it
/// carries nothing.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Disconnect {
    /// The Disconnect Reason Code (0x00 Normal disconnection in 3.1.1).
    pub reason_code: ReasonCode,
    /// DISCONNECT properties (5.0 only).
    pub properties: PropertyBox<DisconnectProperties>,
}

impl Disconnect {
    /// A DISCONNECT with `reason_code` and no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Self {
            reason_code,
            properties: PropertyBox::default(),
        }
    }
}

const DISCONNECT_REASON: Rule = Rule::v5("MQTT-3.14.2-1");

pub(super) fn decode(r: &mut Reader<'_>) -> Result<Disconnect, DecodeError> {
    let mut out = Disconnect::default();
    if r.version().is_v5() && r.remaining() > 0 {
        out.reason_code = read_reason(
            r,
            PacketType::Disconnect,
            DISCONNECT_REASON,
            "not a Disconnect Reason Code",
        )?;
        if r.remaining() > 0 {
            out.properties = DisconnectProperties::decode_boxed(r)?;
        }
    }
    Ok(out)
}

impl Body for Disconnect {
    const TYPE: PacketType = PacketType::Disconnect;

    fn body_len(&self, version: ProtocolVersion, dropped: Dropped) -> Result<usize, EncodeError> {
        if !version.is_v5() {
            return Ok(0);
        }
        checked_reason_tail_len::<Self>(
            self.reason_code,
            DISCONNECT_REASON.v5,
            "not a Disconnect Reason Code",
            self.properties.body_len(dropped),
        )
    }

    fn put_body(&self, version: ProtocolVersion, dropped: Dropped, buf: &mut Out<'_>) {
        if !version.is_v5() {
            return;
        }
        let props = self.properties.body_len(dropped).unwrap_or(0);
        put_reason_tail(buf, self.reason_code, props, |buf| {
            self.properties.put(dropped, props, buf)
        });
    }

    fn droppable(&self) -> Dropped {
        Dropped::ALL
    }
}
