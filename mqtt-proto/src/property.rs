//! The 27 MQTT 5.0 properties (§2.2.2.2, Table 2-4): identifiers, data types and
//! the packets allowed to carry each.

use crate::PacketType;

/// A property identifier of Table 2-4.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum PropertyId {
    /// 0x01 Payload Format Indicator (Byte; PUBLISH, Will Properties).
    PayloadFormatIndicator = 0x01,
    /// 0x02 Message Expiry Interval (Four Byte Integer; PUBLISH, Will Properties).
    MessageExpiryInterval = 0x02,
    /// 0x03 Content Type (UTF-8 Encoded String; PUBLISH, Will Properties).
    ContentType = 0x03,
    /// 0x08 Response Topic (UTF-8 Encoded String; PUBLISH, Will Properties).
    ResponseTopic = 0x08,
    /// 0x09 Correlation Data (Binary Data; PUBLISH, Will Properties).
    CorrelationData = 0x09,
    /// 0x0B Subscription Identifier (Variable Byte Integer; PUBLISH, SUBSCRIBE).
    SubscriptionIdentifier = 0x0B,
    /// 0x11 Session Expiry Interval (Four Byte Integer; CONNECT, CONNACK, DISCONNECT).
    SessionExpiryInterval = 0x11,
    /// 0x12 Assigned Client Identifier (UTF-8 Encoded String; CONNACK).
    AssignedClientIdentifier = 0x12,
    /// 0x13 Server Keep Alive (Two Byte Integer; CONNACK).
    ServerKeepAlive = 0x13,
    /// 0x15 Authentication Method (UTF-8 Encoded String; CONNECT, CONNACK, AUTH).
    AuthenticationMethod = 0x15,
    /// 0x16 Authentication Data (Binary Data; CONNECT, CONNACK, AUTH).
    AuthenticationData = 0x16,
    /// 0x17 Request Problem Information (Byte; CONNECT).
    RequestProblemInformation = 0x17,
    /// 0x18 Will Delay Interval (Four Byte Integer; Will Properties).
    WillDelayInterval = 0x18,
    /// 0x19 Request Response Information (Byte; CONNECT).
    RequestResponseInformation = 0x19,
    /// 0x1A Response Information (UTF-8 Encoded String; CONNACK).
    ResponseInformation = 0x1A,
    /// 0x1C Server Reference (UTF-8 Encoded String; CONNACK, DISCONNECT).
    ServerReference = 0x1C,
    /// 0x1F Reason String (UTF-8 Encoded String; CONNACK, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT, AUTH).
    ReasonString = 0x1F,
    /// 0x21 Receive Maximum (Two Byte Integer; CONNECT, CONNACK).
    ReceiveMaximum = 0x21,
    /// 0x22 Topic Alias Maximum (Two Byte Integer; CONNECT, CONNACK).
    TopicAliasMaximum = 0x22,
    /// 0x23 Topic Alias (Two Byte Integer; PUBLISH).
    TopicAlias = 0x23,
    /// 0x24 Maximum QoS (Byte; CONNACK).
    MaximumQoS = 0x24,
    /// 0x25 Retain Available (Byte; CONNACK).
    RetainAvailable = 0x25,
    /// 0x26 User Property (UTF-8 String Pair; CONNECT, CONNACK, PUBLISH, Will Properties, PUBACK, PUBREC, PUBREL, PUBCOMP, SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK, DISCONNECT, AUTH).
    UserProperty = 0x26,
    /// 0x27 Maximum Packet Size (Four Byte Integer; CONNECT, CONNACK).
    MaximumPacketSize = 0x27,
    /// 0x28 Wildcard Subscription Available (Byte; CONNACK).
    WildcardSubscriptionAvailable = 0x28,
    /// 0x29 Subscription Identifier Available (Byte; CONNACK).
    SubscriptionIdentifierAvailable = 0x29,
    /// 0x2A Shared Subscription Available (Byte; CONNACK).
    SharedSubscriptionAvailable = 0x2A,
}

/// The data type of a property value (MQTT 5.0 §1.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyType {
    /// One byte.
    Byte,
    /// Two Byte Integer (§1.5.2).
    TwoByteInteger,
    /// Four Byte Integer (§1.5.3).
    FourByteInteger,
    /// Variable Byte Integer (§1.5.5).
    VariableByteInteger,
    /// UTF-8 Encoded String (§1.5.4).
    Utf8String,
    /// Binary Data (§1.5.6).
    BinaryData,
    /// UTF-8 String Pair (§1.5.7).
    Utf8StringPair,
}

/// Where a property appears: in a packet's properties, or in the Will Properties
/// of a CONNECT payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PropertyContext {
    /// The properties of a packet of this type.
    Packet(PacketType),
    /// The Will Properties (MQTT 5.0 §3.1.3.2).
    Will,
}

impl PropertyId {
    /// All 27 properties, in increasing identifier.
    pub const ALL: [Self; 27] = [
        Self::PayloadFormatIndicator,
        Self::MessageExpiryInterval,
        Self::ContentType,
        Self::ResponseTopic,
        Self::CorrelationData,
        Self::SubscriptionIdentifier,
        Self::SessionExpiryInterval,
        Self::AssignedClientIdentifier,
        Self::ServerKeepAlive,
        Self::AuthenticationMethod,
        Self::AuthenticationData,
        Self::RequestProblemInformation,
        Self::WillDelayInterval,
        Self::RequestResponseInformation,
        Self::ResponseInformation,
        Self::ServerReference,
        Self::ReasonString,
        Self::ReceiveMaximum,
        Self::TopicAliasMaximum,
        Self::TopicAlias,
        Self::MaximumQoS,
        Self::RetainAvailable,
        Self::UserProperty,
        Self::MaximumPacketSize,
        Self::WildcardSubscriptionAvailable,
        Self::SubscriptionIdentifierAvailable,
        Self::SharedSubscriptionAvailable,
    ];

    /// The property with this identifier, if any.
    #[inline]
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0x01 => Self::PayloadFormatIndicator,
            0x02 => Self::MessageExpiryInterval,
            0x03 => Self::ContentType,
            0x08 => Self::ResponseTopic,
            0x09 => Self::CorrelationData,
            0x0B => Self::SubscriptionIdentifier,
            0x11 => Self::SessionExpiryInterval,
            0x12 => Self::AssignedClientIdentifier,
            0x13 => Self::ServerKeepAlive,
            0x15 => Self::AuthenticationMethod,
            0x16 => Self::AuthenticationData,
            0x17 => Self::RequestProblemInformation,
            0x18 => Self::WillDelayInterval,
            0x19 => Self::RequestResponseInformation,
            0x1A => Self::ResponseInformation,
            0x1C => Self::ServerReference,
            0x1F => Self::ReasonString,
            0x21 => Self::ReceiveMaximum,
            0x22 => Self::TopicAliasMaximum,
            0x23 => Self::TopicAlias,
            0x24 => Self::MaximumQoS,
            0x25 => Self::RetainAvailable,
            0x26 => Self::UserProperty,
            0x27 => Self::MaximumPacketSize,
            0x28 => Self::WildcardSubscriptionAvailable,
            0x29 => Self::SubscriptionIdentifierAvailable,
            0x2A => Self::SharedSubscriptionAvailable,
            _ => return None,
        })
    }

    /// The data type of the value.
    pub const fn property_type(self) -> PropertyType {
        match self {
            Self::PayloadFormatIndicator => PropertyType::Byte,
            Self::MessageExpiryInterval => PropertyType::FourByteInteger,
            Self::ContentType => PropertyType::Utf8String,
            Self::ResponseTopic => PropertyType::Utf8String,
            Self::CorrelationData => PropertyType::BinaryData,
            Self::SubscriptionIdentifier => PropertyType::VariableByteInteger,
            Self::SessionExpiryInterval => PropertyType::FourByteInteger,
            Self::AssignedClientIdentifier => PropertyType::Utf8String,
            Self::ServerKeepAlive => PropertyType::TwoByteInteger,
            Self::AuthenticationMethod => PropertyType::Utf8String,
            Self::AuthenticationData => PropertyType::BinaryData,
            Self::RequestProblemInformation => PropertyType::Byte,
            Self::WillDelayInterval => PropertyType::FourByteInteger,
            Self::RequestResponseInformation => PropertyType::Byte,
            Self::ResponseInformation => PropertyType::Utf8String,
            Self::ServerReference => PropertyType::Utf8String,
            Self::ReasonString => PropertyType::Utf8String,
            Self::ReceiveMaximum => PropertyType::TwoByteInteger,
            Self::TopicAliasMaximum => PropertyType::TwoByteInteger,
            Self::TopicAlias => PropertyType::TwoByteInteger,
            Self::MaximumQoS => PropertyType::Byte,
            Self::RetainAvailable => PropertyType::Byte,
            Self::UserProperty => PropertyType::Utf8StringPair,
            Self::MaximumPacketSize => PropertyType::FourByteInteger,
            Self::WildcardSubscriptionAvailable => PropertyType::Byte,
            Self::SubscriptionIdentifierAvailable => PropertyType::Byte,
            Self::SharedSubscriptionAvailable => PropertyType::Byte,
        }
    }

    /// The name in Table 2-4.
    pub const fn name(self) -> &'static str {
        match self {
            Self::PayloadFormatIndicator => "Payload Format Indicator",
            Self::MessageExpiryInterval => "Message Expiry Interval",
            Self::ContentType => "Content Type",
            Self::ResponseTopic => "Response Topic",
            Self::CorrelationData => "Correlation Data",
            Self::SubscriptionIdentifier => "Subscription Identifier",
            Self::SessionExpiryInterval => "Session Expiry Interval",
            Self::AssignedClientIdentifier => "Assigned Client Identifier",
            Self::ServerKeepAlive => "Server Keep Alive",
            Self::AuthenticationMethod => "Authentication Method",
            Self::AuthenticationData => "Authentication Data",
            Self::RequestProblemInformation => "Request Problem Information",
            Self::WillDelayInterval => "Will Delay Interval",
            Self::RequestResponseInformation => "Request Response Information",
            Self::ResponseInformation => "Response Information",
            Self::ServerReference => "Server Reference",
            Self::ReasonString => "Reason String",
            Self::ReceiveMaximum => "Receive Maximum",
            Self::TopicAliasMaximum => "Topic Alias Maximum",
            Self::TopicAlias => "Topic Alias",
            Self::MaximumQoS => "Maximum QoS",
            Self::RetainAvailable => "Retain Available",
            Self::UserProperty => "User Property",
            Self::MaximumPacketSize => "Maximum Packet Size",
            Self::WildcardSubscriptionAvailable => "Wildcard Subscription Available",
            Self::SubscriptionIdentifierAvailable => "Subscription Identifier Available",
            Self::SharedSubscriptionAvailable => "Shared Subscription Available",
        }
    }

    /// Whether the property may appear in `context` (Table 2-4). Any other place is
    /// a Malformed Packet (MQTT 5.0 §2.2.2.2).
    #[inline]
    pub const fn is_allowed_in(self, context: PropertyContext) -> bool {
        use PacketType as P;
        use PropertyContext::{Packet, Will};
        match self {
            Self::PayloadFormatIndicator => matches!(context, Packet(P::Publish) | Will),
            Self::MessageExpiryInterval => matches!(context, Packet(P::Publish) | Will),
            Self::ContentType => matches!(context, Packet(P::Publish) | Will),
            Self::ResponseTopic => matches!(context, Packet(P::Publish) | Will),
            Self::CorrelationData => matches!(context, Packet(P::Publish) | Will),
            Self::SubscriptionIdentifier => {
                matches!(context, Packet(P::Publish) | Packet(P::Subscribe))
            }
            Self::SessionExpiryInterval => matches!(
                context,
                Packet(P::Connect) | Packet(P::ConnAck) | Packet(P::Disconnect)
            ),
            Self::AssignedClientIdentifier => matches!(context, Packet(P::ConnAck)),
            Self::ServerKeepAlive => matches!(context, Packet(P::ConnAck)),
            Self::AuthenticationMethod => matches!(
                context,
                Packet(P::Connect) | Packet(P::ConnAck) | Packet(P::Auth)
            ),
            Self::AuthenticationData => matches!(
                context,
                Packet(P::Connect) | Packet(P::ConnAck) | Packet(P::Auth)
            ),
            Self::RequestProblemInformation => matches!(context, Packet(P::Connect)),
            Self::WillDelayInterval => matches!(context, Will),
            Self::RequestResponseInformation => matches!(context, Packet(P::Connect)),
            Self::ResponseInformation => matches!(context, Packet(P::ConnAck)),
            Self::ServerReference => matches!(context, Packet(P::ConnAck) | Packet(P::Disconnect)),
            Self::ReasonString => matches!(
                context,
                Packet(P::ConnAck)
                    | Packet(P::PubAck)
                    | Packet(P::PubRec)
                    | Packet(P::PubRel)
                    | Packet(P::PubComp)
                    | Packet(P::SubAck)
                    | Packet(P::UnsubAck)
                    | Packet(P::Disconnect)
                    | Packet(P::Auth)
            ),
            Self::ReceiveMaximum => matches!(context, Packet(P::Connect) | Packet(P::ConnAck)),
            Self::TopicAliasMaximum => matches!(context, Packet(P::Connect) | Packet(P::ConnAck)),
            Self::TopicAlias => matches!(context, Packet(P::Publish)),
            Self::MaximumQoS => matches!(context, Packet(P::ConnAck)),
            Self::RetainAvailable => matches!(context, Packet(P::ConnAck)),
            Self::UserProperty => matches!(
                context,
                Packet(P::Connect)
                    | Packet(P::ConnAck)
                    | Packet(P::Publish)
                    | Will
                    | Packet(P::PubAck)
                    | Packet(P::PubRec)
                    | Packet(P::PubRel)
                    | Packet(P::PubComp)
                    | Packet(P::Subscribe)
                    | Packet(P::SubAck)
                    | Packet(P::Unsubscribe)
                    | Packet(P::UnsubAck)
                    | Packet(P::Disconnect)
                    | Packet(P::Auth)
            ),
            Self::MaximumPacketSize => matches!(context, Packet(P::Connect) | Packet(P::ConnAck)),
            Self::WildcardSubscriptionAvailable => matches!(context, Packet(P::ConnAck)),
            Self::SubscriptionIdentifierAvailable => matches!(context, Packet(P::ConnAck)),
            Self::SharedSubscriptionAvailable => matches!(context, Packet(P::ConnAck)),
        }
    }

    /// Whether the property may appear more than once in one packet: User Property
    /// always, Subscription Identifier in PUBLISH only (MQTT 5.0 §3.3.2.3.8). Any
    /// other repetition is a Protocol Error.
    pub const fn is_repeatable_in(self, context: PropertyContext) -> bool {
        match self {
            Self::UserProperty => true,
            Self::SubscriptionIdentifier => {
                matches!(context, PropertyContext::Packet(PacketType::Publish))
            }
            _ => false,
        }
    }
}

impl From<PropertyId> for u8 {
    fn from(id: PropertyId) -> u8 {
        id as u8
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table 2-4 lists 27 properties; identifiers convert both ways.
    #[test]
    fn table_2_4_has_27_properties() {
        for id in PropertyId::ALL {
            assert_eq!(PropertyId::from_u8(id as u8), Some(id));
        }
        let defined = (0..=255u8)
            .filter(|v| PropertyId::from_u8(*v).is_some())
            .count();
        assert_eq!(defined, 27);
    }
}
