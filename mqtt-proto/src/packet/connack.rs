//! CONNACK (MQTT 5.0 §3.2, MQTT 3.1.1 §3.2).

use super::{Body, invalid, invalid_property, put_reason};
use crate::error::{DecodeError, EncodeError, Rule};
use crate::properties::{ConnAckProperties, Dropped, with_length};
use crate::reader::Reader;
use crate::writer::Out;
use crate::{PacketType, ProtocolVersion, ReasonCode};

/// A CONNACK packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConnAck {
    /// Session Present.
    pub session_present: bool,
    /// The Connect Reason Code (5.0) or the return code mapped to one (3.1.1, see
    /// [`ConnAck::v3_return_code`]).
    pub reason_code: ReasonCode,
    /// CONNACK properties (5.0 only).
    pub properties: ConnAckProperties,
}

const FLAGS_RESERVED: Rule = Rule::new("MQTT-3.2.2-1", "MQTT-3.1.1 §3.2.2.1");
const SESSION_PRESENT_ON_ERROR: Rule = Rule::new("MQTT-3.2.2-6", "MQTT-3.2.2-4");
const CONNECT_REASON: Rule = Rule::new("MQTT-3.2.2-8", "MQTT-3.1.1 §3.2.2.3");
const AUTH_DATA_WITHOUT_METHOD: Rule = Rule::v5("MQTT-5.0 §3.2.2.3.17");

impl ConnAck {
    /// A CONNACK with `reason_code`, no session, no properties.
    pub fn new(reason_code: ReasonCode) -> Self {
        Self {
            session_present: false,
            reason_code,
            properties: ConnAckProperties::default(),
        }
    }

    /// The MQTT 3.1.1 Connect Return code (Table 3.1) sent for `code`: 0x00
    /// accepted; 0x01 for 0x84 Unsupported Protocol Version; 0x02 for 0x85 Client
    /// Identifier not valid; 0x04 for 0x86 Bad User Name or Password and 0x8C Bad
    /// authentication method; 0x05 for 0x87 Not authorized and 0x8A Banned; 0x03
    /// Server unavailable for every other code.
    pub fn v3_return_code(code: ReasonCode) -> u8 {
        match code {
            ReasonCode::Success => 0,
            ReasonCode::UnsupportedProtocolVersion => 1,
            ReasonCode::ClientIdentifierNotValid => 2,
            ReasonCode::BadUserNameOrPassword | ReasonCode::BadAuthenticationMethod => 4,
            ReasonCode::NotAuthorized | ReasonCode::Banned => 5,
            _ => 3,
        }
    }

    /// The reason code for an MQTT 3.1.1 Connect Return code (Table 3.1).
    pub fn from_v3_return_code(code: u8) -> Option<ReasonCode> {
        Some(match code {
            0 => ReasonCode::Success,
            1 => ReasonCode::UnsupportedProtocolVersion,
            2 => ReasonCode::ClientIdentifierNotValid,
            3 => ReasonCode::ServerUnavailable,
            4 => ReasonCode::BadUserNameOrPassword,
            5 => ReasonCode::NotAuthorized,
            _ => return None,
        })
    }
}

pub(super) fn decode(r: &mut Reader<'_>) -> Result<ConnAck, DecodeError> {
    let version = r.version();
    let flags = r.u8()?;
    // MQTT 3.1 has no Session Present flag: the byte is unused.
    let session_present = version != ProtocolVersion::V3_1 && flags & 0x01 != 0;
    if version != ProtocolVersion::V3_1 && flags & 0xFE != 0 {
        return Err(r.malformed(FLAGS_RESERVED, "reserved Connect Acknowledge flags set"));
    }
    let raw = r.u8()?;
    let reason_code = if version.is_v5() {
        ReasonCode::from_u8(raw).filter(|c| c.is_valid_for(PacketType::ConnAck))
    } else {
        ConnAck::from_v3_return_code(raw)
    }
    .ok_or_else(|| r.malformed(CONNECT_REASON, "not a Connect Reason Code"))?;
    if session_present && reason_code != ReasonCode::Success {
        return Err(r.protocol(
            SESSION_PRESENT_ON_ERROR,
            "Session Present with a failure code",
        ));
    }
    let properties = if version.is_v5() {
        let p = ConnAckProperties::decode(r)?;
        if p.authentication_data.is_some() && p.authentication_method.is_none() {
            return Err(r.protocol(
                AUTH_DATA_WITHOUT_METHOD,
                "Authentication Data without Authentication Method",
            ));
        }
        p
    } else {
        ConnAckProperties::default()
    };
    Ok(ConnAck {
        session_present,
        reason_code,
        properties,
    })
}

impl Body for ConnAck {
    const TYPE: PacketType = PacketType::ConnAck;

    fn body_len(&self, version: ProtocolVersion, dropped: Dropped) -> Result<usize, EncodeError> {
        if version.is_v5() {
            if !self.reason_code.is_valid_for(PacketType::ConnAck) {
                return Err(invalid::<Self>("MQTT-3.2.2-8", "not a Connect Reason Code"));
            }
            let props = self
                .properties
                .body_len(dropped)
                .map_err(invalid_property::<Self>)?;
            Ok(2 + with_length(props))
        } else {
            Ok(2)
        }
    }

    fn put_body(&self, version: ProtocolVersion, dropped: Dropped, buf: &mut Out<'_>) {
        let present = self.session_present && version != ProtocolVersion::V3_1;
        buf.put_u8(u8::from(present));
        if version.is_v5() {
            put_reason(buf, self.reason_code);
            let n = self.properties.body_len(dropped).unwrap_or(0);
            self.properties.put(dropped, n, buf);
        } else {
            buf.put_u8(ConnAck::v3_return_code(self.reason_code));
        }
    }

    fn droppable(&self) -> Dropped {
        Dropped::ALL
    }
}
