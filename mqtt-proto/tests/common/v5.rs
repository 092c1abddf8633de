//! MQTT 5.0 packet builders and checks shared by the v5 conformance tests.
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    unreachable_pub
)]

use bytes::BytesMut;
use mqtt_proto::{ProtocolVersion::V5 as V, *};

use crate::wire::*;

/// A 5.0 PUBLISH QoS 0 with properties.
pub fn publish(topic: &[u8], properties: &[u8], payload: &[u8]) -> Vec<u8> {
    frame(0x30, &cat(&[&s(topic), &props(properties), payload]))
}

/// A user property on the wire.
pub fn user(name: &[u8], value: &[u8]) -> Vec<u8> {
    cat(&[&[0x26], &s(name), &s(value)])
}

/// Checks the Maximum Packet Size fitting of a packet carrying a Reason String
/// and a User Property: the Reason String goes first, then User Properties, and
/// when that is not enough the packet is refused.
pub fn fits_by_dropping(p: Packet) {
    let full = p.encoded_len(V).unwrap();
    let mut buf = BytesMut::new();
    let d = p.encode_within(V, full as u32, &mut buf).unwrap();
    assert_eq!((d, buf.len()), (Dropped::NONE, full));
    // The reason string is "why" (1 + 2 + 3 = 6 bytes).
    let mut buf = BytesMut::new();
    let d = p.encode_within(V, full as u32 - 1, &mut buf).unwrap();
    assert_eq!(
        d,
        Dropped {
            reason_string: true,
            user_properties: false
        }
    );
    assert_eq!(buf.len(), full - 6);
    let Ok(decoded) = decode_packet(V, &buf) else {
        panic!()
    };
    assert_ne!(decoded, p);
    let mut buf = BytesMut::new();
    let d = p.encode_within(V, full as u32 - 7, &mut buf).unwrap();
    assert_eq!(
        d,
        Dropped {
            reason_string: true,
            user_properties: true
        }
    );
    let mut buf = BytesMut::new();
    let e = p.encode_within(V, 1, &mut buf).unwrap_err();
    assert!(matches!(e, EncodeError::TooLarge { .. }));
    assert!(buf.is_empty());
}

pub fn ack_props() -> AckProperties {
    AckProperties {
        reason_string: Some("why".into()),
        user_properties: vec![UserProperty::new("k", "v")],
    }
}

pub fn pub_response(code: ReasonCode) -> PubResponse {
    PubResponse {
        packet_id: id(1),
        reason_code: code,
        properties: ack_props().into(),
    }
}

/// A PUBACK-family packet with a reason code not of its family is malformed, the
/// encoder refuses it, and every code of the family round-trips.
pub fn ack_reason_codes(t: PacketType, byte1: u8, rule: &str, foreign: ReasonCode) {
    refused(V, &[byte1, 0x03, 0, 1, u8::from(foreign)], rule, MALFORMED);
    let wrap = |r: PubResponse| match t {
        PacketType::PubAck => Packet::PubAck(r),
        PacketType::PubRec => Packet::PubRec(r),
        PacketType::PubRel => Packet::PubRel(r),
        _ => Packet::PubComp(r),
    };
    assert!(matches!(
        enc_err(
            V,
            &wrap(PubResponse {
                reason_code: foreign,
                ..PubResponse::new(id(1))
            })
        ),
        EncodeError::Invalid { .. }
    ));
    for code in ReasonCode::ALL.into_iter().filter(|c| c.is_valid_for(t)) {
        let p = wrap(PubResponse {
            reason_code: code,
            ..PubResponse::new(id(1))
        });
        assert_eq!(ok(V, &enc(V, &p)), p);
    }
    // The short forms: no reason code means Success.
    assert_eq!(ok(V, &[byte1, 0x02, 0, 1]), wrap(PubResponse::new(id(1))));
}

pub fn subscribe(options: u8, filter: &[u8]) -> Vec<u8> {
    frame(0x82, &cat(&[&[0, 1], &props(b""), &s(filter), &[options]]))
}

pub fn suback(codes: Vec<ReasonCode>) -> SubAck {
    SubAck {
        packet_id: id(1),
        properties: ack_props().into(),
        reason_codes: codes,
    }
}

pub fn unsuback(codes: Vec<ReasonCode>) -> UnsubAck {
    UnsubAck {
        packet_id: id(1),
        properties: ack_props().into(),
        reason_codes: codes,
    }
}

pub fn disconnect() -> Packet {
    let mut d = Disconnect::new(ReasonCode::ServerShuttingDown);
    d.properties.reason_string = Some("why".into());
    d.properties.user_properties = vec![UserProperty::new("k", "v")];
    Packet::Disconnect(d)
}

pub fn auth() -> Packet {
    Packet::Auth(Auth {
        reason_code: ReasonCode::ReAuthenticate,
        properties: AuthProperties {
            authentication_method: Some("m".into()),
            reason_string: Some("why".into()),
            user_properties: vec![UserProperty::new("k", "v")],
            ..AuthProperties::default()
        }
        .into(),
    })
}
