//! Quality of Service levels (MQTT 5.0 §4.3, MQTT 3.1.1 §4.3).

/// A Quality of Service level. The value 3 is not representable: on the wire it is
/// a Malformed Packet (MQTT-3.3.1-4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum QoS {
    /// QoS 0: at most once.
    #[default]
    AtMostOnce = 0,
    /// QoS 1: at least once.
    AtLeastOnce = 1,
    /// QoS 2: exactly once.
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for a two-bit value; `None` for 3.
    pub const fn from_u8(value: u8) -> Option<Self> {
        match value {
            0 => Some(Self::AtMostOnce),
            1 => Some(Self::AtLeastOnce),
            2 => Some(Self::ExactlyOnce),
            _ => None,
        }
    }
}

impl From<QoS> for u8 {
    fn from(qos: QoS) -> u8 {
        qos as u8
    }
}

impl TryFrom<u8> for QoS {
    type Error = u8;
    /// Fails with the value itself when it is not 0, 1 or 2.
    fn try_from(value: u8) -> Result<Self, u8> {
        Self::from_u8(value).ok_or(value)
    }
}
