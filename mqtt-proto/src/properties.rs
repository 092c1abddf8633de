//! The property sets of each packet (MQTT 5.0 §2.2.2): decoded with every rule of
//! Table 2-4 (allowed packets, data types, duplicates, bounded length), encoded with
//! their exact size.

use bytes::Bytes;

use crate::error::{DecodeError, Rule};
use crate::property::{PropertyContext, PropertyId, PropertyType};
use crate::property_box::{PropertyBox, PropertySet};
use crate::reader::Reader;
use crate::utf8::Utf8Bytes;
use crate::writer::{Out, field_len, put_field, put_id_field};
use crate::{PacketType, QoS, ReasonCode, varint};

/// The Property Length runs past the end of the packet.
const PROPERTY_LENGTH: Rule = Rule::v5("MQTT-5.0 §2.2.2.1");
/// An identifier not valid for the packet, or a value of the wrong type.
const PROPERTY_ALLOWED: Rule = Rule::v5("MQTT-5.0 §2.2.2.2");
/// A property other than User Property (and, in PUBLISH, Subscription
/// Identifier) included twice; each property's section of chapter 3 says so.
const PROPERTY_ONCE: Rule =
    Rule::v5("MQTT-5.0 §3 (\"It is a Protocol Error to include ... more than once\")");
/// A value outside the range the property's section allows.
const PROPERTY_VALUE: Rule = Rule::v5("MQTT-5.0 §3 (property value range)");
/// A Topic Alias of 0.
const TOPIC_ALIAS_ZERO: Rule = Rule::v5("MQTT-3.3.2-8");

/// A User Property (0x26): a name/value UTF-8 String Pair. Order and duplicates
/// are kept (MQTT-3.3.2-18).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserProperty {
    /// The name.
    pub name: Utf8Bytes,
    /// The value.
    pub value: Utf8Bytes,
}

impl UserProperty {
    /// A user property from two strings.
    pub fn new(name: impl Into<Utf8Bytes>, value: impl Into<Utf8Bytes>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// What the encoder left out of a packet to fit the receiver's Maximum Packet
/// Size: the Reason String first, then the User Properties, as MQTT 5.0 allows for
/// CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT and AUTH
/// (MQTT-3.2.2-19/20, MQTT-3.4.2-2/3, ... MQTT-3.15.2-2/3).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dropped {
    /// The Reason String was left out.
    pub reason_string: bool,
    /// The User Properties were left out.
    pub user_properties: bool,
}

impl Dropped {
    /// Nothing left out.
    pub const NONE: Self = Self {
        reason_string: false,
        user_properties: false,
    };

    /// Both may be left out: what every packet with a Reason String and User
    /// Properties allows (the packets listed above).
    pub(crate) const ALL: Self = Self {
        reason_string: true,
        user_properties: true,
    };
}

/// A property value type: how it is read, sized and written.
pub(crate) trait PropertyValue: Sized {
    fn read(r: &mut Reader<'_>, id: PropertyId) -> Result<Self, DecodeError>;
    /// The encoded size of the value, or why it cannot be encoded.
    fn len(&self, id: PropertyId) -> Result<usize, &'static str>;
    /// Writes the identifier and the value.
    fn put(&self, id: PropertyId, buf: &mut Out<'_>);
}

fn out_of_range(r: &Reader<'_>) -> DecodeError {
    r.protocol(PROPERTY_VALUE, "property value out of range")
}

impl PropertyValue for bool {
    #[inline]
    fn read(r: &mut Reader<'_>, _: PropertyId) -> Result<Self, DecodeError> {
        match r.u8()? {
            0 => Ok(false),
            1 => Ok(true),
            _ => Err(out_of_range(r)),
        }
    }
    #[inline]
    fn len(&self, _: PropertyId) -> Result<usize, &'static str> {
        Ok(1)
    }
    #[inline]
    fn put(&self, id: PropertyId, buf: &mut Out<'_>) {
        buf.put_array([id as u8, u8::from(*self)]);
    }
}

impl PropertyValue for QoS {
    #[inline]
    fn read(r: &mut Reader<'_>, _: PropertyId) -> Result<Self, DecodeError> {
        // Maximum QoS is 0 or 1 (MQTT 5.0 §3.2.2.3.4).
        match r.u8()? {
            0 => Ok(QoS::AtMostOnce),
            1 => Ok(QoS::AtLeastOnce),
            _ => Err(out_of_range(r)),
        }
    }
    #[inline]
    fn len(&self, _: PropertyId) -> Result<usize, &'static str> {
        match self {
            QoS::ExactlyOnce => Err("Maximum QoS is 0 or 1"),
            _ => Ok(1),
        }
    }
    #[inline]
    fn put(&self, id: PropertyId, buf: &mut Out<'_>) {
        buf.put_array([id as u8, u8::from(*self)]);
    }
}

impl PropertyValue for u16 {
    #[inline]
    fn read(r: &mut Reader<'_>, id: PropertyId) -> Result<Self, DecodeError> {
        let v = r.u16()?;
        if v == 0 {
            match id {
                PropertyId::ReceiveMaximum => return Err(out_of_range(r)),
                PropertyId::TopicAlias => {
                    return Err(DecodeError::new(
                        ReasonCode::TopicAliasInvalid,
                        TOPIC_ALIAS_ZERO,
                        r.version(),
                        "Topic Alias 0",
                    ));
                }
                _ => {}
            }
        }
        Ok(v)
    }
    #[inline]
    fn len(&self, id: PropertyId) -> Result<usize, &'static str> {
        match (id, *self) {
            (PropertyId::ReceiveMaximum, 0) => Err("Receive Maximum 0"),
            (PropertyId::TopicAlias, 0) => Err("Topic Alias 0 (MQTT-3.3.2-8)"),
            _ => Ok(2),
        }
    }
    #[inline]
    fn put(&self, id: PropertyId, buf: &mut Out<'_>) {
        let [a, b] = self.to_be_bytes();
        buf.put_array([id as u8, a, b]);
    }
}

impl PropertyValue for u32 {
    #[inline]
    fn read(r: &mut Reader<'_>, id: PropertyId) -> Result<Self, DecodeError> {
        let v = if id.property_type() == PropertyType::VariableByteInteger {
            r.varint()?
        } else {
            r.u32()?
        };
        if v == 0
            && matches!(
                id,
                PropertyId::SubscriptionIdentifier | PropertyId::MaximumPacketSize
            )
        {
            return Err(out_of_range(r));
        }
        Ok(v)
    }
    #[inline]
    fn len(&self, id: PropertyId) -> Result<usize, &'static str> {
        match id {
            PropertyId::SubscriptionIdentifier if *self == 0 || *self > varint::MAX => {
                Err("Subscription Identifier outside 1..=268,435,455")
            }
            PropertyId::MaximumPacketSize if *self == 0 => Err("Maximum Packet Size 0"),
            PropertyId::SubscriptionIdentifier => Ok(varint::encoded_len(*self)),
            _ => Ok(4),
        }
    }
    #[inline]
    fn put(&self, id: PropertyId, buf: &mut Out<'_>) {
        if id.property_type() == PropertyType::VariableByteInteger {
            buf.put_u8(id as u8);
            buf.put_varint(*self);
        } else {
            let [a, b, c, d] = self.to_be_bytes();
            buf.put_array([id as u8, a, b, c, d]);
        }
    }
}

impl PropertyValue for Utf8Bytes {
    #[inline]
    fn read(r: &mut Reader<'_>, _: PropertyId) -> Result<Self, DecodeError> {
        r.string()
    }
    #[inline]
    fn len(&self, _: PropertyId) -> Result<usize, &'static str> {
        field_len(self.as_bytes()).ok_or("string longer than 65,535 bytes")
    }
    #[inline]
    fn put(&self, id: PropertyId, buf: &mut Out<'_>) {
        put_id_field(buf, id as u8, self.as_bytes());
    }
}

impl PropertyValue for Bytes {
    #[inline]
    fn read(r: &mut Reader<'_>, _: PropertyId) -> Result<Self, DecodeError> {
        r.binary()
    }
    #[inline]
    fn len(&self, _: PropertyId) -> Result<usize, &'static str> {
        field_len(self).ok_or("binary data longer than 65,535 bytes")
    }
    #[inline]
    fn put(&self, id: PropertyId, buf: &mut Out<'_>) {
        put_id_field(buf, id as u8, self);
    }
}

/// Reads the Property Length and returns a reader bounded by it.
#[inline]
pub(crate) fn section<'a>(r: &mut Reader<'a>) -> Result<Reader<'a>, DecodeError> {
    let len = r.varint()? as usize;
    if len > r.remaining() {
        return Err(r.malformed(PROPERTY_LENGTH, "Property Length exceeds the packet"));
    }
    r.section(len)
}

/// Reads a property identifier. Whether it is allowed where it is found (Table
/// 2-4) is the property set's `match`: the identifiers of its fields are exactly
/// the allowed ones (checked by `fields_are_table_2_4` below), and any other falls
/// into the same Malformed Packet error as an unknown identifier.
#[inline(always)]
pub(crate) fn identifier(r: &mut Reader<'_>) -> Result<PropertyId, DecodeError> {
    let raw = r.varint()?;
    u8::try_from(raw)
        .ok()
        .and_then(PropertyId::from_u8)
        .ok_or_else(|| r.malformed(PROPERTY_ALLOWED, "property not valid in this packet"))
}

/// A property other than User Property (and Subscription Identifier in
/// PUBLISH) included twice.
#[cold]
pub(crate) fn duplicate(r: &Reader<'_>) -> DecodeError {
    r.protocol(PROPERTY_ONCE, "property included more than once")
}

/// A property not allowed in the packet (MQTT 5.0 §2.2.2.2).
#[cold]
pub(crate) fn not_allowed(r: &Reader<'_>) -> DecodeError {
    r.malformed(PROPERTY_ALLOWED, "property not valid in this packet")
}

fn user_property_len(p: &UserProperty) -> Result<usize, &'static str> {
    match (field_len(p.name.as_bytes()), field_len(p.value.as_bytes())) {
        (Some(a), Some(b)) => Ok(1 + a + b),
        _ => Err("User Property longer than 65,535 bytes"),
    }
}

macro_rules! properties {
    (
        $(#[$meta:meta])*
        pub struct $name:ident in ($ctx:expr) {
            $( $(#[$fmeta:meta])* $field:ident : $ty:ty = $id:ident, )*
        }
        $( repeated { $(#[$rmeta:meta])* $rfield:ident = $rid:ident } )?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fmeta])* pub $field: Option<$ty>, )*
            $( $(#[$rmeta])* pub $rfield: Vec<u32>, )?
            /// User Properties (0x26), in their order on the wire.
            pub user_properties: Vec<UserProperty>,
        }

        impl crate::property_box::sealed::Sealed for $name {}

        impl PropertySet for $name {
            fn empty() -> &'static Self {
                static EMPTY: $name = $name {
                    $( $field: None, )*
                    $( $rfield: Vec::new(), )?
                    user_properties: Vec::new(),
                };
                &EMPTY
            }

            #[inline]
            fn is_empty(&self) -> bool {
                $name::is_empty(self)
            }
        }

        impl $name {
            /// Where these properties appear.
            pub const CONTEXT: PropertyContext = $ctx;

            /// `true` when no property is set.
            #[inline]
            pub fn is_empty(&self) -> bool {
                true $( && self.$field.is_none() )* $( && self.$rfield.is_empty() )?
                    && self.user_properties.is_empty()
            }

            /// Decodes a Property Length and the properties it covers.
            #[inline]
            #[allow(dead_code)]
            pub(crate) fn decode(r: &mut Reader<'_>) -> Result<Self, DecodeError> {
                if r.take_zero_byte() {
                    return Ok(Self::default());
                }
                let mut props = Self::default();
                props.decode_into(r)?;
                Ok(props)
            }

            /// Decodes a Property Length and the properties it covers into a
            /// [`PropertyBox`]: nothing allocated when there are none, the set
            /// built in its box otherwise (no move of it afterwards).
            #[inline]
            #[allow(dead_code)]
            pub(crate) fn decode_boxed(r: &mut Reader<'_>) -> Result<PropertyBox<Self>, DecodeError> {
                if r.take_zero_byte() {
                    return Ok(PropertyBox::default());
                }
                let mut props = Box::<Self>::default();
                props.decode_into(r)?;
                Ok(PropertyBox::from_box(props))
            }

            /// Decodes a Property Length and the properties it covers into `props`
            /// (empty).
            #[inline]
            fn decode_into(&mut self, r: &mut Reader<'_>) -> Result<(), DecodeError> {
                let props = self;
                let mut s = section(r)?;
                while s.remaining() > 0 {
                    match identifier(&mut s)? {
                        $( PropertyId::$id => {
                            if props.$field.is_some() {
                                return Err(duplicate(&s));
                            }
                            props.$field = Some(<$ty as PropertyValue>::read(&mut s, PropertyId::$id)?);
                        } )*
                        $( PropertyId::$rid => {
                            let v = <u32 as PropertyValue>::read(&mut s, PropertyId::$rid)?;
                            props.$rfield.push(v);
                        } )?
                        PropertyId::UserProperty => {
                            let (name, value) = s.string_pair()?;
                            props.user_properties.push(UserProperty { name, value });
                        }
                        _ => return Err(not_allowed(&s)),
                    }
                }
                Ok(())
            }

            /// The size of the properties without their Property Length.
            #[inline]
            pub(crate) fn body_len(&self, dropped: Dropped) -> Result<usize, &'static str> {
                let mut len = 0usize;
                $(
                    if let Some(v) = &self.$field {
                        if !(dropped.reason_string && PropertyId::$id == PropertyId::ReasonString) {
                            len += 1 + PropertyValue::len(v, PropertyId::$id)?;
                        }
                    }
                )*
                $(
                    for v in &self.$rfield {
                        len += 1 + PropertyValue::len(v, PropertyId::$rid)?;
                    }
                )?
                if !dropped.user_properties {
                    for p in &self.user_properties {
                        len += user_property_len(p)?;
                    }
                }
                if len > varint::MAX as usize {
                    return Err("properties longer than a Variable Byte Integer can say");
                }
                Ok(len)
            }

            /// Writes the Property Length `body_len` and the properties.
            #[inline]
            pub(crate) fn put(&self, dropped: Dropped, body_len: usize, buf: &mut Out<'_>) {
                buf.put_varint(body_len as u32);
                if body_len == 0 {
                    return;
                }
                $(
                    if let Some(v) = &self.$field {
                        if !(dropped.reason_string && PropertyId::$id == PropertyId::ReasonString) {
                            PropertyValue::put(v, PropertyId::$id, buf);
                        }
                    }
                )*
                $(
                    for v in &self.$rfield {
                        PropertyValue::put(v, PropertyId::$rid, buf);
                    }
                )?
                if !dropped.user_properties {
                    for p in &self.user_properties {
                        put_id_field(buf, PropertyId::UserProperty as u8, p.name.as_bytes());
                        put_field(buf, p.value.as_bytes());
                    }
                }
            }

            /// Whether dropping `dropped` would change anything.
            #[allow(dead_code)]
            pub(crate) fn can_drop(&self, dropped: Dropped) -> bool {
                let _ = &dropped;
                false $( || (dropped.reason_string && PropertyId::$id == PropertyId::ReasonString && self.$field.is_some()) )*
                    || (dropped.user_properties && !self.user_properties.is_empty())
            }
        }
    };
}

/// The size of a property set with its Property Length.
pub(crate) fn with_length(body_len: usize) -> usize {
    varint::encoded_len(body_len as u32) + body_len
}

properties! {
    /// CONNECT properties (MQTT 5.0 §3.1.2.11).
    pub struct ConnectProperties in (PropertyContext::Packet(PacketType::Connect)) {
        /// 0x11 Session Expiry Interval, seconds.
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// 0x21 Receive Maximum (non-zero).
        receive_maximum: u16 = ReceiveMaximum,
        /// 0x27 Maximum Packet Size the Client accepts (non-zero).
        maximum_packet_size: u32 = MaximumPacketSize,
        /// 0x22 Topic Alias Maximum the Client accepts.
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// 0x19 Request Response Information.
        request_response_information: bool = RequestResponseInformation,
        /// 0x17 Request Problem Information.
        request_problem_information: bool = RequestProblemInformation,
        /// 0x15 Authentication Method.
        authentication_method: Utf8Bytes = AuthenticationMethod,
        /// 0x16 Authentication Data.
        authentication_data: Bytes = AuthenticationData,
    }
}

properties! {
    /// Will Properties in the CONNECT payload (MQTT 5.0 §3.1.3.2).
    pub struct WillProperties in (PropertyContext::Will) {
        /// 0x18 Will Delay Interval, seconds.
        will_delay_interval: u32 = WillDelayInterval,
        /// 0x01 Payload Format Indicator: `true` for UTF-8 character data.
        payload_format_indicator: bool = PayloadFormatIndicator,
        /// 0x02 Message Expiry Interval, seconds.
        message_expiry_interval: u32 = MessageExpiryInterval,
        /// 0x03 Content Type.
        content_type: Utf8Bytes = ContentType,
        /// 0x08 Response Topic (a Topic Name, no wildcards).
        response_topic: Utf8Bytes = ResponseTopic,
        /// 0x09 Correlation Data.
        correlation_data: Bytes = CorrelationData,
    }
}

properties! {
    /// CONNACK properties (MQTT 5.0 §3.2.2.3).
    pub struct ConnAckProperties in (PropertyContext::Packet(PacketType::ConnAck)) {
        /// 0x11 Session Expiry Interval, seconds.
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// 0x21 Receive Maximum (non-zero).
        receive_maximum: u16 = ReceiveMaximum,
        /// 0x24 Maximum QoS (0 or 1; absent means 2).
        maximum_qos: QoS = MaximumQoS,
        /// 0x25 Retain Available.
        retain_available: bool = RetainAvailable,
        /// 0x27 Maximum Packet Size the Server accepts (non-zero).
        maximum_packet_size: u32 = MaximumPacketSize,
        /// 0x12 Assigned Client Identifier.
        assigned_client_identifier: Utf8Bytes = AssignedClientIdentifier,
        /// 0x22 Topic Alias Maximum the Server accepts.
        topic_alias_maximum: u16 = TopicAliasMaximum,
        /// 0x1F Reason String.
        reason_string: Utf8Bytes = ReasonString,
        /// 0x28 Wildcard Subscription Available.
        wildcard_subscription_available: bool = WildcardSubscriptionAvailable,
        /// 0x29 Subscription Identifier Available.
        subscription_identifier_available: bool = SubscriptionIdentifierAvailable,
        /// 0x2A Shared Subscription Available.
        shared_subscription_available: bool = SharedSubscriptionAvailable,
        /// 0x13 Server Keep Alive, seconds.
        server_keep_alive: u16 = ServerKeepAlive,
        /// 0x1A Response Information.
        response_information: Utf8Bytes = ResponseInformation,
        /// 0x1C Server Reference.
        server_reference: Utf8Bytes = ServerReference,
        /// 0x15 Authentication Method.
        authentication_method: Utf8Bytes = AuthenticationMethod,
        /// 0x16 Authentication Data.
        authentication_data: Bytes = AuthenticationData,
    }
}

properties! {
    /// PUBLISH properties (MQTT 5.0 §3.3.2.3).
    pub struct PublishProperties in (PropertyContext::Packet(PacketType::Publish)) {
        /// 0x01 Payload Format Indicator: `true` for UTF-8 character data.
        payload_format_indicator: bool = PayloadFormatIndicator,
        /// 0x02 Message Expiry Interval, seconds.
        message_expiry_interval: u32 = MessageExpiryInterval,
        /// 0x23 Topic Alias (non-zero, MQTT-3.3.2-8).
        topic_alias: u16 = TopicAlias,
        /// 0x08 Response Topic (a Topic Name, no wildcards, MQTT-3.3.2-14).
        response_topic: Utf8Bytes = ResponseTopic,
        /// 0x09 Correlation Data.
        correlation_data: Bytes = CorrelationData,
        /// 0x03 Content Type.
        content_type: Utf8Bytes = ContentType,
    }
    repeated {
        /// 0x0B Subscription Identifiers (1..=268,435,455), one per matching
        /// subscription; sent by the Server only (MQTT-3.3.4-6).
        subscription_identifiers = SubscriptionIdentifier
    }
}

properties! {
    /// Properties of PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK and UNSUBACK: a Reason
    /// String and User Properties (MQTT 5.0 §3.4.2.2 ... §3.11.2.1).
    pub struct AckProperties in (PropertyContext::Packet(PacketType::PubAck)) {
        /// 0x1F Reason String.
        reason_string: Utf8Bytes = ReasonString,
    }
}

properties! {
    /// SUBSCRIBE properties (MQTT 5.0 §3.8.2.1).
    pub struct SubscribeProperties in (PropertyContext::Packet(PacketType::Subscribe)) {
        /// 0x0B Subscription Identifier (1..=268,435,455).
        subscription_identifier: u32 = SubscriptionIdentifier,
    }
}

properties! {
    /// UNSUBSCRIBE properties (MQTT 5.0 §3.10.2.1): User Properties only.
    pub struct UnsubscribeProperties in (PropertyContext::Packet(PacketType::Unsubscribe)) {
    }
}

properties! {
    /// DISCONNECT properties (MQTT 5.0 §3.14.2.2).
    pub struct DisconnectProperties in (PropertyContext::Packet(PacketType::Disconnect)) {
        /// 0x11 Session Expiry Interval, seconds (never sent by a Server,
        /// MQTT-3.14.2-2).
        session_expiry_interval: u32 = SessionExpiryInterval,
        /// 0x1F Reason String.
        reason_string: Utf8Bytes = ReasonString,
        /// 0x1C Server Reference.
        server_reference: Utf8Bytes = ServerReference,
    }
}

properties! {
    /// AUTH properties (MQTT 5.0 §3.15.2.2).
    pub struct AuthProperties in (PropertyContext::Packet(PacketType::Auth)) {
        /// 0x15 Authentication Method.
        authentication_method: Utf8Bytes = AuthenticationMethod,
        /// 0x16 Authentication Data.
        authentication_data: Bytes = AuthenticationData,
        /// 0x1F Reason String.
        reason_string: Utf8Bytes = ReasonString,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProtocolVersion;

    /// One property with a valid value of its type.
    fn one(id: PropertyId) -> Bytes {
        let value: &[u8] = match id.property_type() {
            PropertyType::Byte | PropertyType::VariableByteInteger => &[1],
            PropertyType::TwoByteInteger => &[0, 1],
            PropertyType::FourByteInteger => &[0, 0, 0, 1],
            PropertyType::Utf8String | PropertyType::BinaryData => &[0, 1, b'a'],
            PropertyType::Utf8StringPair => &[0, 1, b'a', 0, 1, b'a'],
        };
        let mut b = vec![1 + value.len() as u8, id as u8];
        b.extend_from_slice(value);
        Bytes::from(b)
    }

    /// MQTT 5.0 §2.2.2.2 (Table 2-4): each property set decodes exactly the
    /// properties allowed in its packet and refuses the others as a Malformed
    /// Packet; the decoder relies on this instead of a separate check.
    #[test]
    fn fields_are_table_2_4() {
        fn check<T>(
            decode: fn(&mut Reader<'_>) -> Result<T, DecodeError>,
            contexts: &[PropertyContext],
        ) {
            for id in PropertyId::ALL {
                let allowed = id.is_allowed_in(contexts[0]);
                for c in contexts {
                    assert_eq!(id.is_allowed_in(*c), allowed, "{id:?} in {c:?}");
                }
                let bytes = one(id);
                let mut r = Reader::new(&bytes, ProtocolVersion::V5);
                match decode(&mut r) {
                    Ok(_) => assert!(allowed && r.remaining() == 0, "{id:?} in {:?}", contexts[0]),
                    Err(e) => {
                        assert!(!allowed, "{id:?} in {:?}: {e}", contexts[0]);
                        assert!(e.is_malformed());
                    }
                }
            }
        }
        use PacketType as P;
        use PropertyContext::{Packet, Will};
        check(ConnectProperties::decode, &[Packet(P::Connect)]);
        check(WillProperties::decode, &[Will]);
        check(ConnAckProperties::decode, &[Packet(P::ConnAck)]);
        check(PublishProperties::decode, &[Packet(P::Publish)]);
        check(
            AckProperties::decode,
            &[
                Packet(P::PubAck),
                Packet(P::PubRec),
                Packet(P::PubRel),
                Packet(P::PubComp),
                Packet(P::SubAck),
                Packet(P::UnsubAck),
            ],
        );
        check(SubscribeProperties::decode, &[Packet(P::Subscribe)]);
        check(UnsubscribeProperties::decode, &[Packet(P::Unsubscribe)]);
        check(DisconnectProperties::decode, &[Packet(P::Disconnect)]);
        check(AuthProperties::decode, &[Packet(P::Auth)]);
    }
}
