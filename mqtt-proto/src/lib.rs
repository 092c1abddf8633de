//! `mqtt-proto`: a sans-IO, zero-copy MQTT 3.1, 3.1.1 and 5.0 codec.
//!
//! * One packet model for every version ([`Packet`], the MQTT 5.0 superset),
//!   decoded and encoded for a [`ProtocolVersion`]: see the [`packet`] module for
//!   what 3.1.1 leaves out.
//! * [`ConnectDecoder`] reads a connection's CONNECT and detects the version;
//!   [`Decoder`] then takes packets off a `BytesMut` as they arrive, refusing
//!   oversized ones before buffering them. Topics, client ids, property strings
//!   ([`Utf8Bytes`]) and payloads (`Bytes`) share the read buffer.
//! * [`Packet::encode`] computes the exact size, reserves it once and writes;
//!   [`Packet::encode_within`] fits a Maximum Packet Size by dropping the Reason
//!   String and User Properties; [`Publish::encode_header`] writes a PUBLISH
//!   without its payload, for fan-out.
//! * Errors ([`DecodeError`]) name the normative statement broken (`MQTT-3.3.1-4`)
//!   and the reason code to report (0x81 Malformed Packet, 0x82 Protocol Error,
//!   ...).
//! * [`topic`]: Topic Name / Filter validation, matching, shared subscriptions.
//!
//! ```
//! use bytes::{Bytes, BytesMut};
//! use mqtt_proto::{Decoder, Packet, ProtocolVersion, Publish};
//!
//! let mut wire = BytesMut::new();
//! Packet::Publish(Publish::new("t", Bytes::from_static(b"x")))
//!     .encode(ProtocolVersion::V5, &mut wire)
//!     .unwrap();
//! let packet = Decoder::new(ProtocolVersion::V5).decode(&mut wire).unwrap();
//! assert!(matches!(packet, Some(Packet::Publish(p)) if p.topic == "t"));
//! ```
//!
//! See `docs/DESIGN.md` for the architecture.

mod codec;
mod error;
pub mod packet;
mod packet_type;
mod properties;
pub mod property;
mod property_box;
mod publish_properties;
mod qos;
mod reader;
mod reason;
pub mod topic;
mod utf8;
pub mod varint;
mod version;
mod writer;

pub use codec::{ConnectDecoder, Decoder, decode_packet};
pub use error::{DecodeError, EncodeError};
pub use packet::{
    Auth, ConnAck, Connect, Disconnect, MAX_PACKET_SIZE, Packet, PacketId, PubResponse, Publish,
    RetainHandling, SubAck, Subscribe, Subscription, SubscriptionOptions, UnsubAck, Unsubscribe,
    Will,
};
pub use packet_type::PacketType;
pub use properties::{
    AckProperties, AuthProperties, ConnAckProperties, ConnectProperties, DisconnectProperties,
    Dropped, PublishProperties, SubscribeProperties, UnsubscribeProperties, UserProperty,
    WillProperties,
};
pub use property::{PropertyContext, PropertyId, PropertyType};
pub use property_box::{PropertyBox, PropertySet};
pub use publish_properties::{PublishPropertySection, SubscriptionIdentifiers, UserProperties};
pub use qos::QoS;
pub use reason::ReasonCode;
pub use utf8::{Utf8Bytes, Utf8Error, validate_mqtt_str};
pub use version::ProtocolVersion;
