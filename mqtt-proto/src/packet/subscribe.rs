//! SUBSCRIBE and SUBACK (MQTT 5.0 §3.8-3.9, MQTT 3.1.1 §3.8-3.9).

use super::{Body, PacketId, invalid, invalid_property, read_packet_id};
use crate::error::{DecodeError, EncodeError, Rule};
use crate::properties::{AckProperties, Dropped, SubscribeProperties, with_length};
use crate::property_box::{PropertyBox, PropertySet};
use crate::reader::Reader;
use crate::utf8::Utf8Bytes;
use crate::writer::{Out, field_len, put_field};
use crate::{PacketType, ProtocolVersion, QoS, ReasonCode, topic};

/// When the Server sends retained messages for a new subscription (MQTT 5.0
/// §3.8.3.1); the value 3 is a Protocol Error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum RetainHandling {
    /// 0: at the time of the subscribe.
    #[default]
    SendAtSubscribe = 0,
    /// 1: at subscribe only if the subscription did not exist.
    SendIfNew = 1,
    /// 2: never at subscribe.
    DoNotSend = 2,
}

/// The Subscription Options byte (MQTT 5.0 §3.8.3.1). In 3.1.1 only the QoS
/// exists; the other options are decoded as defaults and not encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct SubscriptionOptions {
    /// Maximum QoS.
    pub qos: QoS,
    /// No Local (not allowed on a shared subscription, MQTT-3.8.3-4).
    pub no_local: bool,
    /// Retain As Published.
    pub retain_as_published: bool,
    /// Retain Handling.
    pub retain_handling: RetainHandling,
}

/// One Topic Filter and its options in a SUBSCRIBE.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Subscription {
    /// The Topic Filter (possibly `$share/{group}/{filter}` in 5.0).
    pub filter: Utf8Bytes,
    /// The options.
    pub options: SubscriptionOptions,
}

impl Subscription {
    /// A subscription to `filter` at `qos` with default options.
    pub fn new(filter: impl Into<Utf8Bytes>, qos: QoS) -> Self {
        Self {
            filter: filter.into(),
            options: SubscriptionOptions {
                qos,
                ..SubscriptionOptions::default()
            },
        }
    }
}

/// A SUBSCRIBE packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscribe {
    /// The Packet Identifier.
    pub packet_id: PacketId,
    /// SUBSCRIBE properties (5.0 only).
    pub properties: PropertyBox<SubscribeProperties>,
    /// The subscriptions, at least one (MQTT-3.8.3-2).
    pub subscriptions: Vec<Subscription>,
}

/// A SUBACK packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubAck {
    /// The Packet Identifier of the SUBSCRIBE.
    pub packet_id: PacketId,
    /// Reason String and User Properties (5.0 only).
    pub properties: PropertyBox<AckProperties>,
    /// One Subscribe Reason Code per subscription, in order (MQTT-3.9.3-1). In
    /// 3.1.1: Granted QoS 0/1/2 or a failure, encoded as 0x80.
    pub reason_codes: Vec<ReasonCode>,
}

const NO_SUBSCRIPTION: Rule = Rule::new("MQTT-3.8.3-2", "MQTT-3.8.3-3");
const FILTER_UTF8: Rule = Rule::new("MQTT-3.8.3-1", "MQTT-3.8.3-1");
const OPTIONS_RESERVED: Rule = Rule::new("MQTT-3.8.3-5", "MQTT-3.8.3-4");
const QOS_3: Rule = Rule::new("MQTT-5.0 §3.8.3.1", "MQTT-3.8.3-4");
const RETAIN_HANDLING_3: Rule = Rule::v5("MQTT-5.0 §3.8.3.1");
const NO_LOCAL_SHARED: Rule = Rule::v5("MQTT-3.8.3-4");
const SUBACK_CODE: Rule = Rule::new("MQTT-3.9.3-2", "MQTT-3.9.3-2");
const SUBACK_EMPTY: Rule = Rule::new("MQTT-3.8.4-6", "MQTT-3.8.4-5");

/// Checks a Topic Filter of SUBSCRIBE or UNSUBSCRIBE; in 5.0 a `$share/` filter
/// must be a valid shared subscription. Returns whether it is shared.
pub(super) fn check_filter(r: &Reader<'_>, filter: &str) -> Result<bool, DecodeError> {
    let err = |e: topic::TopicError| r.protocol(e.rule_pair(), e.message());
    if r.version().is_v5() {
        if let Some(_shared) = topic::parse_shared(filter).map_err(err)? {
            return Ok(true);
        }
    }
    topic::validate_filter(filter).map_err(err)?;
    Ok(false)
}

/// Reads the Packet Identifier and, in 5.0, the properties (with `decode`) that
/// open SUBSCRIBE, SUBACK and UNSUBSCRIBE.
#[inline]
pub(super) fn read_id_and_properties<P: PropertySet>(
    r: &mut Reader<'_>,
    decode: fn(&mut Reader<'_>) -> Result<PropertyBox<P>, DecodeError>,
) -> Result<(PacketId, PropertyBox<P>), DecodeError> {
    let packet_id = read_packet_id(r)?;
    let properties = if r.version().is_v5() {
        decode(r)?
    } else {
        PropertyBox::default()
    };
    Ok((packet_id, properties))
}

/// The size of the Packet Identifier and, in 5.0, of the properties (`props`: their
/// size without the Property Length) that open SUBSCRIBE, SUBACK and UNSUBSCRIBE.
#[inline]
pub(super) fn id_and_properties_len<T: Body>(
    version: ProtocolVersion,
    props: impl FnOnce() -> Result<usize, &'static str>,
) -> Result<usize, EncodeError> {
    if !version.is_v5() {
        return Ok(2);
    }
    Ok(2 + with_length(props().map_err(invalid_property::<T>)?))
}

pub(super) fn decode(r: &mut Reader<'_>) -> Result<Subscribe, DecodeError> {
    let (packet_id, properties) = read_id_and_properties(r, SubscribeProperties::decode_boxed)?;
    let v5 = r.version().is_v5();
    if r.remaining() == 0 {
        return Err(r.protocol(NO_SUBSCRIPTION, "SUBSCRIBE without a Topic Filter"));
    }
    let mut subscriptions = Vec::new();
    while r.remaining() > 0 {
        let filter = r.string_for(Some(FILTER_UTF8))?;
        let byte = r.u8()?;
        let reserved = if v5 { 0xC0 } else { 0xFC };
        if byte & reserved != 0 {
            return Err(r.malformed(OPTIONS_RESERVED, "reserved Subscription Options bits set"));
        }
        let Some(qos) = QoS::from_u8(byte & 0b11) else {
            return Err(if v5 {
                r.protocol(QOS_3, "Maximum QoS 3")
            } else {
                r.malformed(QOS_3, "Requested QoS 3")
            });
        };
        let retain_handling = match (byte >> 4) & 0b11 {
            0 => RetainHandling::SendAtSubscribe,
            1 => RetainHandling::SendIfNew,
            2 => RetainHandling::DoNotSend,
            _ => return Err(r.protocol(RETAIN_HANDLING_3, "Retain Handling 3")),
        };
        let options = SubscriptionOptions {
            qos,
            no_local: byte & 0b0100 != 0,
            retain_as_published: byte & 0b1000 != 0,
            retain_handling,
        };
        let shared = check_filter(r, &filter)?;
        if shared && options.no_local {
            return Err(r.protocol(NO_LOCAL_SHARED, "No Local on a Shared Subscription"));
        }
        subscriptions.push(Subscription { filter, options });
    }
    Ok(Subscribe {
        packet_id,
        properties,
        subscriptions,
    })
}

pub(super) fn decode_suback(r: &mut Reader<'_>) -> Result<SubAck, DecodeError> {
    let (packet_id, properties) = read_id_and_properties(r, AckProperties::decode_boxed)?;
    let v5 = r.version().is_v5();
    if r.remaining() == 0 {
        return Err(r.protocol(SUBACK_EMPTY, "SUBACK without a reason code"));
    }
    let mut reason_codes = Vec::with_capacity(r.remaining());
    while r.remaining() > 0 {
        let raw = r.u8()?;
        let code = if v5 {
            ReasonCode::from_u8(raw).filter(|c| c.is_valid_for(PacketType::SubAck))
        } else {
            match raw {
                0 => Some(ReasonCode::GRANTED_QOS_0),
                1 => Some(ReasonCode::GrantedQoS1),
                2 => Some(ReasonCode::GrantedQoS2),
                0x80 => Some(ReasonCode::UnspecifiedError),
                _ => None,
            }
        }
        .ok_or_else(|| r.malformed(SUBACK_CODE, "not a Subscribe Reason Code"))?;
        reason_codes.push(code);
    }
    Ok(SubAck {
        packet_id,
        properties,
        reason_codes,
    })
}

fn options_byte(o: &SubscriptionOptions, v5: bool) -> u8 {
    let mut b = u8::from(o.qos);
    if v5 {
        b |= (u8::from(o.no_local) << 2)
            | (u8::from(o.retain_as_published) << 3)
            | ((o.retain_handling as u8) << 4);
    }
    b
}

impl Body for Subscribe {
    const TYPE: PacketType = PacketType::Subscribe;

    fn body_len(&self, version: ProtocolVersion, _: Dropped) -> Result<usize, EncodeError> {
        if self.subscriptions.is_empty() {
            return Err(invalid::<Self>(
                NO_SUBSCRIPTION.id(version),
                "no subscription",
            ));
        }
        let mut len =
            id_and_properties_len::<Self>(version, || self.properties.body_len(Dropped::NONE))?;
        for s in &self.subscriptions {
            len += 1 + field_len(s.filter.as_bytes()).ok_or_else(|| {
                invalid::<Self>("MQTT-4.7.3-3", "filter longer than 65,535 bytes")
            })?;
        }
        Ok(len)
    }

    fn put_body(&self, version: ProtocolVersion, _: Dropped, buf: &mut Out<'_>) {
        buf.put_u16(self.packet_id.get());
        let v5 = version.is_v5();
        if v5 {
            let n = self.properties.body_len(Dropped::NONE).unwrap_or(0);
            self.properties.put(Dropped::NONE, n, buf);
        }
        for s in &self.subscriptions {
            put_field(buf, s.filter.as_bytes());
            buf.put_u8(options_byte(&s.options, v5));
        }
    }
}

/// The 3.1.1 SUBACK return code for `code`.
fn v3_suback_code(code: ReasonCode) -> u8 {
    match code {
        ReasonCode::Success | ReasonCode::GrantedQoS1 | ReasonCode::GrantedQoS2 => u8::from(code),
        _ => 0x80,
    }
}

impl Body for SubAck {
    const TYPE: PacketType = PacketType::SubAck;

    fn body_len(&self, version: ProtocolVersion, dropped: Dropped) -> Result<usize, EncodeError> {
        if version.is_v5()
            && self
                .reason_codes
                .iter()
                .any(|c| !c.is_valid_for(PacketType::SubAck))
        {
            return Err(invalid::<Self>(
                SUBACK_CODE.v5,
                "not a Subscribe Reason Code",
            ));
        }
        let head = id_and_properties_len::<Self>(version, || self.properties.body_len(dropped))?;
        Ok(head + self.reason_codes.len())
    }

    fn put_body(&self, version: ProtocolVersion, dropped: Dropped, buf: &mut Out<'_>) {
        buf.put_u16(self.packet_id.get());
        if version.is_v5() {
            let n = self.properties.body_len(dropped).unwrap_or(0);
            self.properties.put(dropped, n, buf);
            for c in &self.reason_codes {
                buf.put_u8(u8::from(*c));
            }
        } else {
            for c in &self.reason_codes {
                buf.put_u8(v3_suback_code(*c));
            }
        }
    }

    fn droppable(&self) -> Dropped {
        Dropped::ALL
    }
}
