//! Decode and encode errors: each names the rule broken and the wire reaction.

use core::fmt;

use crate::{PacketType, ProtocolVersion, ReasonCode};

/// A rule of the specifications, as cited in both versions: the MQTT 5.0 id and the
/// MQTT 3.1.1 id of the same requirement (or a section reference where the
/// standard gives the rule no number).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Rule {
    pub(crate) v5: &'static str,
    pub(crate) v3: &'static str,
}

impl Rule {
    /// A rule with an id in each version.
    pub(crate) const fn new(v5: &'static str, v3: &'static str) -> Self {
        Self { v5, v3 }
    }

    /// A rule of MQTT 5.0 only (cited the same way whatever the version).
    pub(crate) const fn v5(id: &'static str) -> Self {
        Self { v5: id, v3: id }
    }

    /// The citation for `version`.
    pub(crate) const fn id(self, version: ProtocolVersion) -> &'static str {
        match version {
            ProtocolVersion::V5 => self.v5,
            ProtocolVersion::V3_1 | ProtocolVersion::V3_1_1 => self.v3,
        }
    }
}

/// Why a packet could not be decoded.
///
/// Every error is fatal to the connection: the caller closes it, after sending (in
/// MQTT 5.0) a DISCONNECT, or a CONNACK during the CONNECT phase, with
/// [`DecodeError::reason_code`] (MQTT-4.13.1-1).
///
/// ```
/// use bytes::BytesMut;
/// use mqtt_proto::{Decoder, ProtocolVersion, ReasonCode};
///
/// // PUBLISH with both QoS bits set.
/// let mut buf = BytesMut::from(&[0x36, 0x03, 0x00, 0x01, b'a'][..]);
/// let err = Decoder::new(ProtocolVersion::V5).decode(&mut buf).unwrap_err();
/// assert_eq!(err.rule(), "MQTT-3.3.1-4");
/// assert_eq!(err.reason_code(), ReasonCode::MalformedPacket);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError {
    rule: &'static str,
    reason: ReasonCode,
    packet: Option<PacketType>,
    message: &'static str,
}

impl DecodeError {
    pub(crate) const fn new(
        reason: ReasonCode,
        rule: Rule,
        version: ProtocolVersion,
        message: &'static str,
    ) -> Self {
        Self {
            rule: rule.id(version),
            reason,
            packet: None,
            message,
        }
    }

    /// A Malformed Packet (0x81).
    pub(crate) const fn malformed(
        rule: Rule,
        version: ProtocolVersion,
        message: &'static str,
    ) -> Self {
        Self::new(ReasonCode::MalformedPacket, rule, version, message)
    }

    /// A Protocol Error (0x82).
    pub(crate) const fn protocol(
        rule: Rule,
        version: ProtocolVersion,
        message: &'static str,
    ) -> Self {
        Self::new(ReasonCode::ProtocolError, rule, version, message)
    }

    /// Records the packet type the error was found in (kept if already set).
    pub(crate) fn in_packet(mut self, packet: PacketType) -> Self {
        if self.packet.is_none() {
            self.packet = Some(packet);
        }
        self
    }

    /// The normative statement broken (`MQTT-3.3.1-4`), or the section of the
    /// standard that defines the rule when it has no number (`MQTT-5.0 §2.2.2.2`).
    /// The id is the one of the version the decoder was speaking.
    pub fn rule(&self) -> &'static str {
        self.rule
    }

    /// The reason code of the DISCONNECT (or CONNACK) that reports the error:
    /// 0x81 Malformed Packet, 0x82 Protocol Error, or a more specific code such as
    /// 0x95 Packet too large, 0x94 Topic Alias invalid or 0x84 Unsupported Protocol
    /// Version.
    pub fn reason_code(&self) -> ReasonCode {
        self.reason
    }

    /// The type of the packet in which the error was found, when known.
    pub fn packet_type(&self) -> Option<PacketType> {
        self.packet
    }

    /// What was wrong, in words.
    pub fn message(&self) -> &'static str {
        self.message
    }

    /// `true` for a Malformed Packet (0x81).
    pub fn is_malformed(&self) -> bool {
        self.reason == ReasonCode::MalformedPacket
    }

    /// `true` for a Protocol Error (0x82).
    pub fn is_protocol_error(&self) -> bool {
        self.reason == ReasonCode::ProtocolError
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (0x{:02X})",
            self.reason.name(),
            u8::from(self.reason)
        )?;
        if let Some(packet) = self.packet {
            write!(f, " in {packet}")?;
        }
        write!(f, ": {} [{}]", self.message, self.rule)
    }
}

impl std::error::Error for DecodeError {}

/// Why a packet could not be encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EncodeError {
    /// The packet is larger than the receiver's Maximum Packet Size even after
    /// dropping what may be dropped (MQTT-3.1.2-24, MQTT-3.2.2-15); the sender
    /// discards it (MQTT-3.1.2-25).
    TooLarge {
        /// The packet type.
        packet: PacketType,
        /// The smallest size the packet could be encoded in, in bytes.
        size: usize,
        /// The limit it had to fit.
        max: u32,
    },
    /// A field holds a value the wire format cannot carry or the rules forbid.
    Invalid {
        /// The packet type.
        packet: PacketType,
        /// The rule the value breaks.
        rule: &'static str,
        /// What is wrong.
        message: &'static str,
    },
    /// The packet type does not exist in the protocol version (AUTH before 5.0).
    Unsupported {
        /// The packet type.
        packet: PacketType,
        /// The version asked for.
        version: ProtocolVersion,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { packet, size, max } => write!(
                f,
                "{packet} of {size} bytes exceeds the Maximum Packet Size {max} [MQTT-3.1.2-24]"
            ),
            Self::Invalid {
                packet,
                rule,
                message,
            } => write!(f, "cannot encode {packet}: {message} [{rule}]"),
            Self::Unsupported { packet, version } => {
                write!(f, "{packet} does not exist in {version}")
            }
        }
    }
}

impl std::error::Error for EncodeError {}
