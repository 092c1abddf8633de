//! Reason codes (MQTT 5.0 §2.4, Table 2-6) and the packets each may appear in.

use crate::PacketType;

/// An MQTT 5.0 reason code: the result of an operation, carried by CONNACK, PUBACK,
/// PUBREC, PUBREL, PUBCOMP, SUBACK, UNSUBACK, DISCONNECT and AUTH. Values below
/// 0x80 mean success, 0x80 and above failure.
///
/// Value 0x00 has three names in the standard (Success, Normal disconnection,
/// Granted QoS 0); it is [`ReasonCode::Success`] here, with the other two names as
/// associated constants.
///
/// ```
/// use mqtt_proto::{PacketType, ReasonCode};
/// let code = ReasonCode::try_from(0x8E).unwrap();
/// assert_eq!(code, ReasonCode::SessionTakenOver);
/// assert!(code.is_valid_for(PacketType::Disconnect));
/// assert!(!code.is_valid_for(PacketType::ConnAck));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
#[repr(u8)]
pub enum ReasonCode {
    /// 0x00 Success, Normal disconnection, Granted QoS 0.
    #[default]
    Success = 0x00,
    /// 0x01 Granted QoS 1.
    GrantedQoS1 = 0x01,
    /// 0x02 Granted QoS 2.
    GrantedQoS2 = 0x02,
    /// 0x04 Disconnect with Will Message.
    DisconnectWithWillMessage = 0x04,
    /// 0x10 No matching subscribers.
    NoMatchingSubscribers = 0x10,
    /// 0x11 No subscription existed.
    NoSubscriptionExisted = 0x11,
    /// 0x18 Continue authentication.
    ContinueAuthentication = 0x18,
    /// 0x19 Re-authenticate.
    ReAuthenticate = 0x19,
    /// 0x80 Unspecified error.
    UnspecifiedError = 0x80,
    /// 0x81 Malformed Packet.
    MalformedPacket = 0x81,
    /// 0x82 Protocol Error.
    ProtocolError = 0x82,
    /// 0x83 Implementation specific error.
    ImplementationSpecificError = 0x83,
    /// 0x84 Unsupported Protocol Version.
    UnsupportedProtocolVersion = 0x84,
    /// 0x85 Client Identifier not valid.
    ClientIdentifierNotValid = 0x85,
    /// 0x86 Bad User Name or Password.
    BadUserNameOrPassword = 0x86,
    /// 0x87 Not authorized.
    NotAuthorized = 0x87,
    /// 0x88 Server unavailable.
    ServerUnavailable = 0x88,
    /// 0x89 Server busy.
    ServerBusy = 0x89,
    /// 0x8A Banned.
    Banned = 0x8A,
    /// 0x8B Server shutting down.
    ServerShuttingDown = 0x8B,
    /// 0x8C Bad authentication method.
    BadAuthenticationMethod = 0x8C,
    /// 0x8D Keep Alive timeout.
    KeepAliveTimeout = 0x8D,
    /// 0x8E Session taken over.
    SessionTakenOver = 0x8E,
    /// 0x8F Topic Filter invalid.
    TopicFilterInvalid = 0x8F,
    /// 0x90 Topic Name invalid.
    TopicNameInvalid = 0x90,
    /// 0x91 Packet Identifier in use.
    PacketIdentifierInUse = 0x91,
    /// 0x92 Packet Identifier not found.
    PacketIdentifierNotFound = 0x92,
    /// 0x93 Receive Maximum exceeded.
    ReceiveMaximumExceeded = 0x93,
    /// 0x94 Topic Alias invalid.
    TopicAliasInvalid = 0x94,
    /// 0x95 Packet too large.
    PacketTooLarge = 0x95,
    /// 0x96 Message rate too high.
    MessageRateTooHigh = 0x96,
    /// 0x97 Quota exceeded.
    QuotaExceeded = 0x97,
    /// 0x98 Administrative action.
    AdministrativeAction = 0x98,
    /// 0x99 Payload format invalid.
    PayloadFormatInvalid = 0x99,
    /// 0x9A Retain not supported.
    RetainNotSupported = 0x9A,
    /// 0x9B QoS not supported.
    QoSNotSupported = 0x9B,
    /// 0x9C Use another server.
    UseAnotherServer = 0x9C,
    /// 0x9D Server moved.
    ServerMoved = 0x9D,
    /// 0x9E Shared Subscriptions not supported.
    SharedSubscriptionsNotSupported = 0x9E,
    /// 0x9F Connection rate exceeded.
    ConnectionRateExceeded = 0x9F,
    /// 0xA0 Maximum connect time.
    MaximumConnectTime = 0xA0,
    /// 0xA1 Subscription Identifiers not supported.
    SubscriptionIdentifiersNotSupported = 0xA1,
    /// 0xA2 Wildcard Subscriptions not supported.
    WildcardSubscriptionsNotSupported = 0xA2,
}

impl ReasonCode {
    /// 0x00 as a DISCONNECT reason.
    pub const NORMAL_DISCONNECTION: Self = Self::Success;
    /// 0x00 as a SUBACK reason.
    pub const GRANTED_QOS_0: Self = Self::Success;

    /// Every reason code, in increasing value.
    pub const ALL: [Self; 43] = [
        Self::Success,
        Self::GrantedQoS1,
        Self::GrantedQoS2,
        Self::DisconnectWithWillMessage,
        Self::NoMatchingSubscribers,
        Self::NoSubscriptionExisted,
        Self::ContinueAuthentication,
        Self::ReAuthenticate,
        Self::UnspecifiedError,
        Self::MalformedPacket,
        Self::ProtocolError,
        Self::ImplementationSpecificError,
        Self::UnsupportedProtocolVersion,
        Self::ClientIdentifierNotValid,
        Self::BadUserNameOrPassword,
        Self::NotAuthorized,
        Self::ServerUnavailable,
        Self::ServerBusy,
        Self::Banned,
        Self::ServerShuttingDown,
        Self::BadAuthenticationMethod,
        Self::KeepAliveTimeout,
        Self::SessionTakenOver,
        Self::TopicFilterInvalid,
        Self::TopicNameInvalid,
        Self::PacketIdentifierInUse,
        Self::PacketIdentifierNotFound,
        Self::ReceiveMaximumExceeded,
        Self::TopicAliasInvalid,
        Self::PacketTooLarge,
        Self::MessageRateTooHigh,
        Self::QuotaExceeded,
        Self::AdministrativeAction,
        Self::PayloadFormatInvalid,
        Self::RetainNotSupported,
        Self::QoSNotSupported,
        Self::UseAnotherServer,
        Self::ServerMoved,
        Self::SharedSubscriptionsNotSupported,
        Self::ConnectionRateExceeded,
        Self::MaximumConnectTime,
        Self::SubscriptionIdentifiersNotSupported,
        Self::WildcardSubscriptionsNotSupported,
    ];

    /// The reason code with this value, if the standard defines one.
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            0x00 => Self::Success,
            0x01 => Self::GrantedQoS1,
            0x02 => Self::GrantedQoS2,
            0x04 => Self::DisconnectWithWillMessage,
            0x10 => Self::NoMatchingSubscribers,
            0x11 => Self::NoSubscriptionExisted,
            0x18 => Self::ContinueAuthentication,
            0x19 => Self::ReAuthenticate,
            0x80 => Self::UnspecifiedError,
            0x81 => Self::MalformedPacket,
            0x82 => Self::ProtocolError,
            0x83 => Self::ImplementationSpecificError,
            0x84 => Self::UnsupportedProtocolVersion,
            0x85 => Self::ClientIdentifierNotValid,
            0x86 => Self::BadUserNameOrPassword,
            0x87 => Self::NotAuthorized,
            0x88 => Self::ServerUnavailable,
            0x89 => Self::ServerBusy,
            0x8A => Self::Banned,
            0x8B => Self::ServerShuttingDown,
            0x8C => Self::BadAuthenticationMethod,
            0x8D => Self::KeepAliveTimeout,
            0x8E => Self::SessionTakenOver,
            0x8F => Self::TopicFilterInvalid,
            0x90 => Self::TopicNameInvalid,
            0x91 => Self::PacketIdentifierInUse,
            0x92 => Self::PacketIdentifierNotFound,
            0x93 => Self::ReceiveMaximumExceeded,
            0x94 => Self::TopicAliasInvalid,
            0x95 => Self::PacketTooLarge,
            0x96 => Self::MessageRateTooHigh,
            0x97 => Self::QuotaExceeded,
            0x98 => Self::AdministrativeAction,
            0x99 => Self::PayloadFormatInvalid,
            0x9A => Self::RetainNotSupported,
            0x9B => Self::QoSNotSupported,
            0x9C => Self::UseAnotherServer,
            0x9D => Self::ServerMoved,
            0x9E => Self::SharedSubscriptionsNotSupported,
            0x9F => Self::ConnectionRateExceeded,
            0xA0 => Self::MaximumConnectTime,
            0xA1 => Self::SubscriptionIdentifiersNotSupported,
            0xA2 => Self::WildcardSubscriptionsNotSupported,
            _ => return None,
        })
    }

    /// `true` for 0x80 and above: the operation failed.
    pub const fn is_error(self) -> bool {
        self as u8 >= 0x80
    }

    /// The name of the code in Table 2-6 (the first of its names for 0x00).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Success => "Success",
            Self::GrantedQoS1 => "Granted QoS 1",
            Self::GrantedQoS2 => "Granted QoS 2",
            Self::DisconnectWithWillMessage => "Disconnect with Will Message",
            Self::NoMatchingSubscribers => "No matching subscribers",
            Self::NoSubscriptionExisted => "No subscription existed",
            Self::ContinueAuthentication => "Continue authentication",
            Self::ReAuthenticate => "Re-authenticate",
            Self::UnspecifiedError => "Unspecified error",
            Self::MalformedPacket => "Malformed Packet",
            Self::ProtocolError => "Protocol Error",
            Self::ImplementationSpecificError => "Implementation specific error",
            Self::UnsupportedProtocolVersion => "Unsupported Protocol Version",
            Self::ClientIdentifierNotValid => "Client Identifier not valid",
            Self::BadUserNameOrPassword => "Bad User Name or Password",
            Self::NotAuthorized => "Not authorized",
            Self::ServerUnavailable => "Server unavailable",
            Self::ServerBusy => "Server busy",
            Self::Banned => "Banned",
            Self::ServerShuttingDown => "Server shutting down",
            Self::BadAuthenticationMethod => "Bad authentication method",
            Self::KeepAliveTimeout => "Keep Alive timeout",
            Self::SessionTakenOver => "Session taken over",
            Self::TopicFilterInvalid => "Topic Filter invalid",
            Self::TopicNameInvalid => "Topic Name invalid",
            Self::PacketIdentifierInUse => "Packet Identifier in use",
            Self::PacketIdentifierNotFound => "Packet Identifier not found",
            Self::ReceiveMaximumExceeded => "Receive Maximum exceeded",
            Self::TopicAliasInvalid => "Topic Alias invalid",
            Self::PacketTooLarge => "Packet too large",
            Self::MessageRateTooHigh => "Message rate too high",
            Self::QuotaExceeded => "Quota exceeded",
            Self::AdministrativeAction => "Administrative action",
            Self::PayloadFormatInvalid => "Payload format invalid",
            Self::RetainNotSupported => "Retain not supported",
            Self::QoSNotSupported => "QoS not supported",
            Self::UseAnotherServer => "Use another server",
            Self::ServerMoved => "Server moved",
            Self::SharedSubscriptionsNotSupported => "Shared Subscriptions not supported",
            Self::ConnectionRateExceeded => "Connection rate exceeded",
            Self::MaximumConnectTime => "Maximum connect time",
            Self::SubscriptionIdentifiersNotSupported => "Subscription Identifiers not supported",
            Self::WildcardSubscriptionsNotSupported => "Wildcard Subscriptions not supported",
        }
    }

    /// Whether this code may appear in a packet of type `packet` (Table 2-6).
    /// PUBLISH, SUBSCRIBE, UNSUBSCRIBE, PINGREQ, PINGRESP and CONNECT carry no
    /// reason code.
    pub const fn is_valid_for(self, packet: PacketType) -> bool {
        use PacketType as P;
        match self {
            Self::Success => matches!(
                packet,
                P::ConnAck
                    | P::PubAck
                    | P::PubRec
                    | P::PubRel
                    | P::PubComp
                    | P::UnsubAck
                    | P::Auth
                    | P::Disconnect
                    | P::SubAck
            ),
            Self::GrantedQoS1 => matches!(packet, P::SubAck),
            Self::GrantedQoS2 => matches!(packet, P::SubAck),
            Self::DisconnectWithWillMessage => matches!(packet, P::Disconnect),
            Self::NoMatchingSubscribers => matches!(packet, P::PubAck | P::PubRec),
            Self::NoSubscriptionExisted => matches!(packet, P::UnsubAck),
            Self::ContinueAuthentication => matches!(packet, P::Auth),
            Self::ReAuthenticate => matches!(packet, P::Auth),
            Self::UnspecifiedError => matches!(
                packet,
                P::ConnAck | P::PubAck | P::PubRec | P::SubAck | P::UnsubAck | P::Disconnect
            ),
            Self::MalformedPacket => matches!(packet, P::ConnAck | P::Disconnect),
            Self::ProtocolError => matches!(packet, P::ConnAck | P::Disconnect),
            Self::ImplementationSpecificError => matches!(
                packet,
                P::ConnAck | P::PubAck | P::PubRec | P::SubAck | P::UnsubAck | P::Disconnect
            ),
            Self::UnsupportedProtocolVersion => matches!(packet, P::ConnAck),
            Self::ClientIdentifierNotValid => matches!(packet, P::ConnAck),
            Self::BadUserNameOrPassword => matches!(packet, P::ConnAck),
            Self::NotAuthorized => matches!(
                packet,
                P::ConnAck | P::PubAck | P::PubRec | P::SubAck | P::UnsubAck | P::Disconnect
            ),
            Self::ServerUnavailable => matches!(packet, P::ConnAck),
            Self::ServerBusy => matches!(packet, P::ConnAck | P::Disconnect),
            Self::Banned => matches!(packet, P::ConnAck),
            Self::ServerShuttingDown => matches!(packet, P::Disconnect),
            Self::BadAuthenticationMethod => matches!(packet, P::ConnAck | P::Disconnect),
            Self::KeepAliveTimeout => matches!(packet, P::Disconnect),
            Self::SessionTakenOver => matches!(packet, P::Disconnect),
            Self::TopicFilterInvalid => matches!(packet, P::SubAck | P::UnsubAck | P::Disconnect),
            Self::TopicNameInvalid => {
                matches!(packet, P::ConnAck | P::PubAck | P::PubRec | P::Disconnect)
            }
            Self::PacketIdentifierInUse => {
                matches!(packet, P::PubAck | P::PubRec | P::SubAck | P::UnsubAck)
            }
            Self::PacketIdentifierNotFound => matches!(packet, P::PubRel | P::PubComp),
            Self::ReceiveMaximumExceeded => matches!(packet, P::Disconnect),
            Self::TopicAliasInvalid => matches!(packet, P::Disconnect),
            Self::PacketTooLarge => matches!(packet, P::ConnAck | P::Disconnect),
            Self::MessageRateTooHigh => matches!(packet, P::Disconnect),
            Self::QuotaExceeded => matches!(
                packet,
                P::ConnAck | P::PubAck | P::PubRec | P::SubAck | P::Disconnect
            ),
            Self::AdministrativeAction => matches!(packet, P::Disconnect),
            Self::PayloadFormatInvalid => {
                matches!(packet, P::ConnAck | P::PubAck | P::PubRec | P::Disconnect)
            }
            Self::RetainNotSupported => matches!(packet, P::ConnAck | P::Disconnect),
            Self::QoSNotSupported => matches!(packet, P::ConnAck | P::Disconnect),
            Self::UseAnotherServer => matches!(packet, P::ConnAck | P::Disconnect),
            Self::ServerMoved => matches!(packet, P::ConnAck | P::Disconnect),
            Self::SharedSubscriptionsNotSupported => matches!(packet, P::SubAck | P::Disconnect),
            Self::ConnectionRateExceeded => matches!(packet, P::ConnAck | P::Disconnect),
            Self::MaximumConnectTime => matches!(packet, P::Disconnect),
            Self::SubscriptionIdentifiersNotSupported => {
                matches!(packet, P::SubAck | P::Disconnect)
            }
            Self::WildcardSubscriptionsNotSupported => matches!(packet, P::SubAck | P::Disconnect),
        }
    }
}

impl From<ReasonCode> for u8 {
    fn from(code: ReasonCode) -> u8 {
        code as u8
    }
}

impl TryFrom<u8> for ReasonCode {
    type Error = u8;
    /// Fails with the value itself when the standard defines no such code.
    fn try_from(value: u8) -> Result<Self, u8> {
        Self::from_u8(value).ok_or(value)
    }
}

impl core::fmt::Display for ReasonCode {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "0x{:02X} {}", *self as u8, self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Table 2-6 has 43 distinct values; every one converts both ways.
    #[test]
    fn table_2_6_round_trips_through_u8() {
        assert_eq!(ReasonCode::ALL.len(), 43);
        for code in ReasonCode::ALL {
            assert_eq!(ReasonCode::from_u8(u8::from(code)), Some(code));
        }
        let defined = (0..=255u8)
            .filter(|v| ReasonCode::from_u8(*v).is_some())
            .count();
        assert_eq!(defined, 43);
    }
}
