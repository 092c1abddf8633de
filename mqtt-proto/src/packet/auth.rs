//! AUTH (MQTT 5.0 §3.15; not part of 3.1.1).

use super::{Body, checked_reason_tail_len, put_reason_tail, read_reason};
use crate::error::{DecodeError, EncodeError, Rule};
use crate::properties::{AuthProperties, Dropped};
use crate::property_box::PropertyBox;
use crate::reader::Reader;
use crate::writer::Out;
use crate::{PacketType, ProtocolVersion, ReasonCode};

/// An AUTH packet (5.0 only): 0x00 Success, 0x18 Continue authentication or 0x19
/// Re-authenticate.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Auth {
    /// The Authenticate Reason Code.
    pub reason_code: ReasonCode,
    /// AUTH properties.
    pub properties: PropertyBox<AuthProperties>,
}

const AUTH_REASON: Rule = Rule::v5("MQTT-3.15.2-1");
const AUTH_DATA_WITHOUT_METHOD: Rule = Rule::v5("MQTT-5.0 §3.15.2.2.3");

pub(super) fn decode(r: &mut Reader<'_>) -> Result<Auth, DecodeError> {
    let mut out = Auth::default();
    if r.remaining() > 0 {
        out.reason_code = read_reason(
            r,
            PacketType::Auth,
            AUTH_REASON,
            "not an Authenticate Reason Code",
        )?;
        if r.remaining() > 0 {
            out.properties = AuthProperties::decode_boxed(r)?;
            if out.properties.authentication_data.is_some()
                && out.properties.authentication_method.is_none()
            {
                return Err(r.protocol(
                    AUTH_DATA_WITHOUT_METHOD,
                    "Authentication Data without Authentication Method",
                ));
            }
        }
    }
    Ok(out)
}

impl Body for Auth {
    const TYPE: PacketType = PacketType::Auth;

    fn body_len(&self, _: ProtocolVersion, dropped: Dropped) -> Result<usize, EncodeError> {
        checked_reason_tail_len::<Self>(
            self.reason_code,
            AUTH_REASON.v5,
            "not an Authenticate Reason Code",
            self.properties.body_len(dropped),
        )
    }

    fn put_body(&self, _: ProtocolVersion, dropped: Dropped, buf: &mut Out<'_>) {
        let props = self.properties.body_len(dropped).unwrap_or(0);
        put_reason_tail(buf, self.reason_code, props, |buf| {
            self.properties.put(dropped, props, buf)
        });
    }

    fn droppable(&self) -> Dropped {
        Dropped::ALL
    }
}
