//! CONNECT (MQTT 5.0 §3.1, MQTT 3.1.1 §3.1), including protocol version detection.

use bytes::Bytes;

use super::{Body, invalid, invalid_property};
use crate::error::{DecodeError, EncodeError, Rule};
use crate::properties::{ConnectProperties, Dropped, WillProperties, with_length};
use crate::reader::{REMAINING_LENGTH, Reader};
use crate::utf8::Utf8Bytes;
use crate::writer::{Out, field_len, put_field};
use crate::{PacketType, ProtocolVersion, QoS, ReasonCode, topic};

/// A CONNECT packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Connect {
    /// The protocol version the client asked for (protocol name and level). When
    /// encoding it must equal the version passed to the encoder.
    pub protocol_version: ProtocolVersion,
    /// Clean Start (5.0) / CleanSession (3.1.1).
    pub clean_start: bool,
    /// Keep Alive, seconds (0 = none).
    pub keep_alive: u16,
    /// The Client Identifier (may be empty).
    pub client_id: Utf8Bytes,
    /// The Will Message, if the Will Flag is set.
    pub will: Option<Will>,
    /// The User Name.
    pub username: Option<Utf8Bytes>,
    /// The Password (Binary Data).
    pub password: Option<Bytes>,
    /// CONNECT properties (5.0 only).
    pub properties: ConnectProperties,
}

/// The Will Message of a CONNECT (MQTT 5.0 §3.1.2.5, §3.1.3.2-4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Will {
    /// The Will Topic (a Topic Name).
    pub topic: Utf8Bytes,
    /// The Will Payload.
    pub payload: Bytes,
    /// The Will QoS.
    pub qos: QoS,
    /// The Will Retain flag.
    pub retain: bool,
    /// Will Properties (5.0 only).
    pub properties: WillProperties,
}

impl Connect {
    /// A CONNECT for `version` with Clean Start, no keep-alive, will or
    /// credentials.
    pub fn new(version: ProtocolVersion, client_id: impl Into<Utf8Bytes>) -> Self {
        Self {
            protocol_version: version,
            clean_start: true,
            keep_alive: 0,
            client_id: client_id.into(),
            will: None,
            username: None,
            password: None,
            properties: ConnectProperties::default(),
        }
    }
}

const RESERVED_FLAG: Rule = Rule::new("MQTT-3.1.2-3", "MQTT-3.1.2-3");
const WILL_QOS_WITHOUT_WILL: Rule = Rule::new("MQTT-3.1.2-11", "MQTT-3.1.2-13");
const WILL_QOS_3: Rule = Rule::new("MQTT-3.1.2-12", "MQTT-3.1.2-14");
const WILL_RETAIN_WITHOUT_WILL: Rule = Rule::new("MQTT-3.1.2-13", "MQTT-3.1.2-15");
const PASSWORD_WITHOUT_USER: Rule = Rule::new("MQTT-3.1.2-22", "MQTT-3.1.2-22");
const WILL_FIELDS_PRESENT: Rule = Rule::new("MQTT-3.1.2-9", "MQTT-3.1.2-9");
const USER_ABSENT: Rule = Rule::new("MQTT-3.1.2-16", "MQTT-3.1.2-18");
const USER_PRESENT: Rule = Rule::new("MQTT-3.1.2-17", "MQTT-3.1.2-19");
const PASSWORD_ABSENT: Rule = Rule::new("MQTT-3.1.2-18", "MQTT-3.1.2-20");
const PASSWORD_PRESENT: Rule = Rule::new("MQTT-3.1.2-19", "MQTT-3.1.2-21");
const CLIENT_ID_UTF8: Rule = Rule::new("MQTT-3.1.3-4", "MQTT-3.1.3-4");
const WILL_TOPIC_UTF8: Rule = Rule::new("MQTT-3.1.3-11", "MQTT-3.1.3-10");
const USER_UTF8: Rule = Rule::new("MQTT-3.1.3-12", "MQTT-3.1.3-11");
const PROTOCOL_NAME: Rule = Rule::new("MQTT-3.1.2-1", "MQTT-3.1.2-1");
const PROTOCOL_LEVEL: Rule = Rule::new("MQTT-3.1.2-2", "MQTT-3.1.2-2");
const RESPONSE_TOPIC: Rule = Rule::v5("MQTT-3.3.2-14");
const AUTH_DATA_WITHOUT_METHOD: Rule = Rule::v5("MQTT-5.0 §3.1.2.11.10");

/// Reads the protocol name and level and returns the version they name
/// (MQTT-3.1.2-1, MQTT-3.1.2-2).
#[inline]
fn detect(r: &mut Reader<'_>) -> Result<ProtocolVersion, DecodeError> {
    let name = r.string()?;
    let level = r.u8()?;
    let unsupported = |rule, message| {
        DecodeError::new(
            ReasonCode::UnsupportedProtocolVersion,
            rule,
            r.version(),
            message,
        )
    };
    match (name.as_str(), level) {
        ("MQTT", 4) => Ok(ProtocolVersion::V3_1_1),
        ("MQTT", 5) => Ok(ProtocolVersion::V5),
        ("MQIsdp", 3) => Ok(ProtocolVersion::V3_1),
        ("MQTT" | "MQIsdp", _) => Err(unsupported(PROTOCOL_LEVEL, "unsupported protocol level")),
        _ => Err(unsupported(PROTOCOL_NAME, "unknown protocol name")),
    }
}

/// Checks a Will Topic or Response Topic as a Topic Name.
#[inline]
pub(crate) fn check_topic_name(
    r: &Reader<'_>,
    name: &str,
    rule: Option<Rule>,
) -> Result<(), DecodeError> {
    topic::validate_name(name).map_err(|e| r.protocol(rule.unwrap_or(e.rule_pair()), e.message()))
}

#[inline]
pub(super) fn decode(r: &mut Reader<'_>) -> Result<Connect, DecodeError> {
    let version = detect(r)?;
    r.set_version(version);
    let flags = r.u8()?;
    if flags & 0x01 != 0 {
        return Err(r.malformed(RESERVED_FLAG, "reserved Connect flag set"));
    }
    let clean_start = flags & 0x02 != 0;
    let will_flag = flags & 0x04 != 0;
    let will_qos = (flags >> 3) & 0b11;
    let will_retain = flags & 0x20 != 0;
    let has_password = flags & 0x40 != 0;
    let has_username = flags & 0x80 != 0;
    if !will_flag && will_qos != 0 {
        return Err(r.malformed(WILL_QOS_WITHOUT_WILL, "Will QoS set without a Will"));
    }
    if !will_flag && will_retain {
        return Err(r.malformed(WILL_RETAIN_WITHOUT_WILL, "Will Retain set without a Will"));
    }
    let Some(will_qos) = QoS::from_u8(will_qos) else {
        return Err(r.malformed(WILL_QOS_3, "Will QoS 3"));
    };
    if !version.is_v5() && has_password && !has_username {
        return Err(r.malformed(
            PASSWORD_WITHOUT_USER,
            "Password Flag without User Name Flag",
        ));
    }
    let keep_alive = r.u16()?;
    let properties = if version.is_v5() {
        let p = ConnectProperties::decode(r)?;
        if p.authentication_data.is_some() && p.authentication_method.is_none() {
            return Err(r.protocol(
                AUTH_DATA_WITHOUT_METHOD,
                "Authentication Data without Authentication Method",
            ));
        }
        p
    } else {
        ConnectProperties::default()
    };
    let client_id = r.string_for(Some(CLIENT_ID_UTF8))?;
    let will = if will_flag {
        if r.remaining() == 0 {
            return Err(r.malformed(WILL_FIELDS_PRESENT, "Will Flag set but no Will fields"));
        }
        let properties = if version.is_v5() {
            let p = WillProperties::decode(r)?;
            if let Some(t) = &p.response_topic {
                check_topic_name(r, t, Some(RESPONSE_TOPIC))?;
            }
            p
        } else {
            WillProperties::default()
        };
        let topic = r.string_for(Some(WILL_TOPIC_UTF8))?;
        check_topic_name(r, &topic, None)?;
        let payload = r.binary()?;
        Some(Will {
            topic,
            payload,
            qos: will_qos,
            retain: will_retain,
            properties,
        })
    } else {
        None
    };
    let username = if has_username {
        if r.remaining() == 0 {
            return Err(r.malformed(USER_PRESENT, "User Name Flag set but no User Name"));
        }
        Some(r.string_for(Some(USER_UTF8))?)
    } else {
        None
    };
    let password = if has_password {
        if r.remaining() == 0 {
            return Err(r.malformed(PASSWORD_PRESENT, "Password Flag set but no Password"));
        }
        Some(r.binary()?)
    } else {
        None
    };
    if r.remaining() > 0 {
        let rule = if !has_username {
            USER_ABSENT
        } else if !has_password {
            PASSWORD_ABSENT
        } else {
            REMAINING_LENGTH
        };
        return Err(r.malformed(rule, "bytes after the last field the flags announce"));
    }
    Ok(Connect {
        protocol_version: version,
        clean_start,
        keep_alive,
        client_id,
        will,
        username,
        password,
        properties,
    })
}

fn field<T: Body>(bytes: &[u8]) -> Result<usize, EncodeError> {
    field_len(bytes).ok_or_else(|| invalid::<T>("MQTT-1.5.4", "field longer than 65,535 bytes"))
}

impl Body for Connect {
    const TYPE: PacketType = PacketType::Connect;

    fn body_len(&self, version: ProtocolVersion, _: Dropped) -> Result<usize, EncodeError> {
        if self.protocol_version != version {
            return Err(invalid::<Self>(
                "MQTT-3.1.2-2",
                "protocol_version differs from the version encoded",
            ));
        }
        let v5 = version.is_v5();
        if !v5 && self.password.is_some() && self.username.is_none() {
            return Err(invalid::<Self>(
                "MQTT-3.1.2-22",
                "password without user name",
            ));
        }
        let mut len = 2 + version.protocol_name().len() + 1 + 1 + 2;
        if v5 {
            len += with_length(
                self.properties
                    .body_len(Dropped::NONE)
                    .map_err(invalid_property::<Self>)?,
            );
        }
        len += field::<Self>(self.client_id.as_bytes())?;
        if let Some(will) = &self.will {
            if v5 {
                len += with_length(
                    will.properties
                        .body_len(Dropped::NONE)
                        .map_err(invalid_property::<Self>)?,
                );
            }
            len += field::<Self>(will.topic.as_bytes())? + field::<Self>(&will.payload)?;
        }
        if let Some(u) = &self.username {
            len += field::<Self>(u.as_bytes())?;
        }
        if let Some(p) = &self.password {
            len += field::<Self>(p)?;
        }
        Ok(len)
    }

    fn put_body(&self, version: ProtocolVersion, _: Dropped, buf: &mut Out<'_>) {
        let v5 = version.is_v5();
        put_field(buf, version.protocol_name().as_bytes());
        buf.put_u8(version.level());
        let mut flags = 0u8;
        if self.clean_start {
            flags |= 0x02;
        }
        if let Some(will) = &self.will {
            flags |= 0x04 | (u8::from(will.qos) << 3);
            if will.retain {
                flags |= 0x20;
            }
        }
        if self.password.is_some() {
            flags |= 0x40;
        }
        if self.username.is_some() {
            flags |= 0x80;
        }
        buf.put_u8(flags);
        buf.put_u16(self.keep_alive);
        if v5 {
            let n = self.properties.body_len(Dropped::NONE).unwrap_or(0);
            self.properties.put(Dropped::NONE, n, buf);
        }
        put_field(buf, self.client_id.as_bytes());
        if let Some(will) = &self.will {
            if v5 {
                let n = will.properties.body_len(Dropped::NONE).unwrap_or(0);
                will.properties.put(Dropped::NONE, n, buf);
            }
            put_field(buf, will.topic.as_bytes());
            put_field(buf, &will.payload);
        }
        if let Some(u) = &self.username {
            put_field(buf, u.as_bytes());
        }
        if let Some(p) = &self.password {
            put_field(buf, p);
        }
    }
}
