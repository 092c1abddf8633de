//! The fifteen MQTT Control Packet types (MQTT 5.0 §2.1.2, MQTT 3.1.1 §2.2.1).

use core::fmt;

/// An MQTT Control Packet type: the high nibble of the fixed header's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum PacketType {
    /// 1: Client request to connect.
    Connect = 1,
    /// 2: Connect acknowledgment.
    ConnAck = 2,
    /// 3: Publish message.
    Publish = 3,
    /// 4: Publish acknowledgment (QoS 1).
    PubAck = 4,
    /// 5: Publish received (QoS 2 part 1).
    PubRec = 5,
    /// 6: Publish release (QoS 2 part 2).
    PubRel = 6,
    /// 7: Publish complete (QoS 2 part 3).
    PubComp = 7,
    /// 8: Subscribe request.
    Subscribe = 8,
    /// 9: Subscribe acknowledgment.
    SubAck = 9,
    /// 10: Unsubscribe request.
    Unsubscribe = 10,
    /// 11: Unsubscribe acknowledgment.
    UnsubAck = 11,
    /// 12: PING request.
    PingReq = 12,
    /// 13: PING response.
    PingResp = 13,
    /// 14: Disconnect notification.
    Disconnect = 14,
    /// 15: Authentication exchange (MQTT 5.0 only).
    Auth = 15,
}

impl PacketType {
    /// The type for a fixed header nibble; `None` for the reserved value 0 (and
    /// anything above 15).
    pub const fn from_u8(value: u8) -> Option<Self> {
        Some(match value {
            1 => Self::Connect,
            2 => Self::ConnAck,
            3 => Self::Publish,
            4 => Self::PubAck,
            5 => Self::PubRec,
            6 => Self::PubRel,
            7 => Self::PubComp,
            8 => Self::Subscribe,
            9 => Self::SubAck,
            10 => Self::Unsubscribe,
            11 => Self::UnsubAck,
            12 => Self::PingReq,
            13 => Self::PingResp,
            14 => Self::Disconnect,
            15 => Self::Auth,
            _ => return None,
        })
    }

    /// The value of the four flag bits this type must carry (MQTT-2.1.3-1,
    /// MQTT-2.2.2-1); `None` for PUBLISH, whose flags are DUP, QoS and RETAIN.
    pub const fn fixed_flags(self) -> Option<u8> {
        match self {
            Self::Publish => None,
            Self::PubRel | Self::Subscribe | Self::Unsubscribe => Some(0b0010),
            _ => Some(0),
        }
    }

    /// The packet name as the standards write it (`PUBLISH`, `CONNACK`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Self::Connect => "CONNECT",
            Self::ConnAck => "CONNACK",
            Self::Publish => "PUBLISH",
            Self::PubAck => "PUBACK",
            Self::PubRec => "PUBREC",
            Self::PubRel => "PUBREL",
            Self::PubComp => "PUBCOMP",
            Self::Subscribe => "SUBSCRIBE",
            Self::SubAck => "SUBACK",
            Self::Unsubscribe => "UNSUBSCRIBE",
            Self::UnsubAck => "UNSUBACK",
            Self::PingReq => "PINGREQ",
            Self::PingResp => "PINGRESP",
            Self::Disconnect => "DISCONNECT",
            Self::Auth => "AUTH",
        }
    }
}

impl fmt::Display for PacketType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
