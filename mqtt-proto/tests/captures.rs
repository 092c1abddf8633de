//! The committed Mosquitto captures decode to the packets Mosquitto's clients sent
//! (real-peer bytes, recorded once; see examples/captures/README.md).
#![allow(clippy::unwrap_used, clippy::panic, clippy::indexing_slicing)]

use bytes::BytesMut;
use mqtt_proto::*;

fn all(decoder: &Decoder, bytes: &[u8]) -> Vec<Packet> {
    let mut buf = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(p) = decoder.decode(&mut buf).unwrap() {
        out.push(p);
    }
    assert!(buf.is_empty());
    out
}

fn capture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/examples/captures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

#[test]
fn mosquitto_v5_subscriber_session_decodes() {
    let c2s = capture("v5-subscriber.c2s.bin");
    let mut buf = BytesMut::from(&c2s[..]);
    let connect = ConnectDecoder::new().decode(&mut buf).unwrap().unwrap();
    assert_eq!(connect.protocol_version, ProtocolVersion::V5);
    assert_eq!(connect.client_id, "sub-v5");
    let decoder = Decoder::new(ProtocolVersion::V5);
    let rest = all(&decoder, &buf);
    let Packet::Subscribe(sub) = &rest[0] else {
        panic!("{rest:?}")
    };
    assert_eq!(sub.properties.subscription_identifier, Some(7));
    assert_eq!(sub.subscriptions[1].filter, "$share/g1/alerts/#");
    assert!(matches!(rest.last(), Some(Packet::Disconnect(_))));

    let s2c = all(&decoder, &capture("v5-subscriber.s2c.bin"));
    let Packet::Publish(p) = &s2c[3] else {
        panic!("{s2c:?}")
    };
    assert_eq!(p.topic, "sensors/hall/temp");
    assert_eq!(p.properties.content_type(), Some("application/json"));
    assert!(p.properties.subscription_identifiers().eq([7]));
    assert!(p.properties.user_properties().eq([("unit", "celsius")]));
    assert_eq!(
        p.properties.to_properties().user_properties,
        vec![UserProperty::new("unit", "celsius")]
    );
}

#[test]
fn mosquitto_v311_publisher_session_decodes() {
    let c2s = capture("v311-publisher.c2s.bin");
    let mut buf = BytesMut::from(&c2s[..]);
    let connect = ConnectDecoder::new().decode(&mut buf).unwrap().unwrap();
    assert_eq!(connect.protocol_version, ProtocolVersion::V3_1_1);
    assert_eq!(connect.username.as_deref(), Some("alice"));
    assert_eq!(connect.password.as_deref(), Some(&b"secret"[..]));
    assert_eq!(connect.will.as_ref().unwrap().payload, &b"offline"[..]);
    let decoder = Decoder::new(ProtocolVersion::V3_1_1);
    let rest = all(&decoder, &buf);
    assert!(matches!(&rest[0], Packet::Publish(p) if p.payload == b"21.5"[..]));
    let s2c = all(&decoder, &capture("v311-publisher.s2c.bin"));
    assert!(matches!(&s2c[0], Packet::ConnAck(c) if c.reason_code == ReasonCode::Success));
}
