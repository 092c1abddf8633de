//! Tests of [`super`]: the received form read back and re-encoded, `to_mut`,
//! validation at decode, and the built form's sizing.

use bytes::BytesMut;

use super::*;
use crate::{Decoder, Packet, ProtocolVersion, Publish, ReasonCode};

fn all_set() -> PublishProperties {
    PublishProperties {
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(3600),
        topic_alias: Some(4),
        response_topic: Some("r/é".into()),
        correlation_data: Some(Bytes::from_static(b"\x00\x01")),
        content_type: Some("text/plain".into()),
        subscription_identifiers: vec![3, 268_435_455],
        user_properties: vec![UserProperty::new("k", "v"), UserProperty::new("k", "")],
    }
}

fn wire(props: &[u8]) -> BytesMut {
    let mut b = vec![0x30, (2 + 1 + 1 + props.len()) as u8, 0, 1, b't'];
    b.push(props.len() as u8);
    b.extend_from_slice(props);
    BytesMut::from(&b[..])
}

fn decode(props: &[u8]) -> Result<Publish, crate::DecodeError> {
    match Decoder::new(ProtocolVersion::V5).decode(&mut wire(props))? {
        Some(Packet::Publish(p)) => Ok(p),
        other => panic!("{other:?}"),
    }
}

/// MQTT 5.0 §3.3.2.3: every PUBLISH property reads back through the
/// accessors of the received form, and the received form re-encodes to the
/// same bytes (copied).
#[test]
fn received_properties_read_back_and_reencode_identically() {
    let mut p = Publish::new("t", Bytes::from_static(b"x"));
    p.properties = all_set().into();
    let mut buf = BytesMut::new();
    p.encode(ProtocolVersion::V5, &mut buf).unwrap();
    let sent = buf.clone().freeze();
    let Some(Packet::Publish(got)) = Decoder::new(ProtocolVersion::V5).decode(&mut buf).unwrap()
    else {
        panic!()
    };
    let r = &got.properties;
    assert!(r.is_received() && !r.is_empty());
    assert_eq!(r.payload_format_indicator(), Some(true));
    assert_eq!(r.message_expiry_interval(), Some(3600));
    assert_eq!(r.topic_alias(), Some(4));
    assert_eq!(r.response_topic(), Some("r/é"));
    assert_eq!(r.correlation_data(), Some(&b"\x00\x01"[..]));
    assert_eq!(r.content_type(), Some("text/plain"));
    assert!(r.subscription_identifiers().eq([3, 268_435_455]));
    assert!(r.user_properties().eq([("k", "v"), ("k", "")]));
    assert_eq!(r.to_properties(), all_set());
    assert_eq!(got, p);
    let mut again = BytesMut::new();
    got.encode(ProtocolVersion::V5, &mut again).unwrap();
    assert_eq!(again, sent);
}

/// A change goes through `to_mut`, which parses the received form once; the
/// encoder then writes the changed set.
#[test]
fn to_mut_turns_the_received_form_into_a_built_one() {
    let mut p = decode(&[0x02, 0, 0, 0, 9, 0x26, 0, 1, b'a', 0, 1, b'b']).unwrap();
    assert!(p.properties.is_received());
    p.properties.to_mut().message_expiry_interval = Some(7);
    assert!(!p.properties.is_received());
    assert_eq!(p.properties.message_expiry_interval(), Some(7));
    assert!(p.properties.user_properties().eq([("a", "b")]));
    let mut buf = BytesMut::new();
    p.encode(ProtocolVersion::V5, &mut buf).unwrap();
    let Some(Packet::Publish(q)) = Decoder::new(ProtocolVersion::V5).decode(&mut buf).unwrap()
    else {
        panic!()
    };
    assert_eq!(q.properties.message_expiry_interval(), Some(7));
    let mut q = q;
    assert_eq!(q.properties.take(), p.properties.to_properties());
    assert!(q.properties.is_empty());
}

/// MQTT 5.0 §2.2.2.2 / §1.5: the one-pass sizing of a built set agrees with
/// the per-property one, on valid sets and on each value the wire cannot
/// carry (Topic Alias 0, MQTT-3.3.2-8; Subscription Identifier 0 or above
/// 268,435,455; strings and binary data above 65,535 bytes, MQTT-1.5.4-1),
/// which `Publish::encode` refuses without writing anything.
#[test]
fn one_pass_sizing_agrees_with_each_property_sizing() {
    let long = "x".repeat(65_536);
    let mut sets = vec![PublishProperties::default(), all_set()];
    let mut bad = Vec::new();
    let mut change = |f: &dyn Fn(&mut PublishProperties)| {
        let mut p = all_set();
        f(&mut p);
        bad.push(p);
    };
    change(&|p| p.topic_alias = Some(0));
    change(&|p| p.subscription_identifiers.push(0));
    change(&|p| p.subscription_identifiers.push(varint::MAX + 1));
    change(&|p| p.response_topic = Some(long.clone().into()));
    change(&|p| p.content_type = Some(long.clone().into()));
    change(&|p| p.correlation_data = Some(Bytes::from(long.clone())));
    change(&|p| p.user_properties.push(UserProperty::new(long.clone(), "v")));
    change(&|p| p.user_properties.push(UserProperty::new("k", long.clone())));
    for p in &bad {
        assert!(p.body_len(Dropped::NONE).is_err());
    }
    sets.extend(bad);
    for p in &sets {
        assert_eq!(built_body_len(p), p.body_len(Dropped::NONE).ok(), "{p:?}");
        let section = PublishPropertySection::from(p.clone());
        assert_eq!(section.body_len(), p.body_len(Dropped::NONE), "{p:?}");
        let mut publish = Publish::new("t", Bytes::from_static(b"x"));
        publish.properties = p.clone().into();
        let mut buf = BytesMut::new();
        match (
            publish.encode(ProtocolVersion::V5, &mut buf),
            p.body_len(Dropped::NONE),
        ) {
            (Ok(n), Ok(_)) => assert_eq!(n, buf.len()),
            (Err(crate::EncodeError::Invalid { message, .. }), Err(e)) => {
                assert_eq!(message, e);
                assert!(buf.is_empty());
            }
            (got, want) => panic!("{got:?} / {want:?}"),
        }
    }
}

/// No properties: nothing allocated, nothing held.
#[test]
fn empty_section_holds_nothing() {
    let p = decode(&[]).unwrap();
    assert!(p.properties.is_empty());
    assert_eq!(p.properties, PublishProperties::default());
    assert!(!p.properties.is_received());
    assert!(PublishPropertySection::from(PublishProperties::default()).is_empty());
}

/// Chapter 3: each PUBLISH property but User Property and Subscription
/// Identifier is a Protocol Error when repeated; those two may repeat.
#[test]
fn duplicates_are_protocol_errors_except_repeatable_ones() {
    let once: [&[u8]; 6] = [
        &[0x01, 1],
        &[0x02, 0, 0, 0, 1],
        &[0x23, 0, 1],
        &[0x08, 0, 1, b'r'],
        &[0x09, 0, 0],
        &[0x03, 0, 0],
    ];
    for one in once {
        assert!(decode(one).is_ok(), "{one:?}");
        let e = decode(&[one, one].concat()).unwrap_err();
        assert!(
            e.is_protocol_error() && e.rule().contains("more than once"),
            "{e}"
        );
    }
    let p = decode(&[0x0B, 1, 0x0B, 2, 0x26, 0, 0, 0, 0, 0x26, 0, 0, 0, 0]).unwrap();
    assert!(p.properties.subscription_identifiers().eq([1, 2]));
    assert_eq!(p.properties.user_properties().count(), 2);
}

/// Values are validated at decode: Payload Format Indicator 0/1, Topic Alias
/// non-zero (MQTT-3.3.2-8), Subscription Identifier non-zero and minimal
/// (MQTT-1.5.5-1), strings UTF-8 without U+0000 (MQTT-1.5.4-1/2, MQTT-1.5.7-1),
/// Response Topic without wildcards (MQTT-3.3.2-14), identifiers of Table 2-4
/// for PUBLISH only (§2.2.2.2), lengths within the section (§2.2.2.1).
#[test]
fn every_value_is_validated_at_decode() {
    let cases: [(&[u8], &str); 11] = [
        (&[0x01, 2], "property value range"),
        (&[0x23, 0, 0], "MQTT-3.3.2-8"),
        (&[0x0B, 0], "property value range"),
        (&[0x0B, 0x80, 0], "MQTT-1.5.5-1"),
        (&[0x03, 0, 1, 0xFF], "MQTT-1.5.4-1"),
        (&[0x03, 0, 1, 0], "MQTT-1.5.4-2"),
        (&[0x26, 0, 1, b'a', 0, 1, 0xC0], "MQTT-1.5.7-1"),
        (&[0x08, 0, 1, b'#'], "MQTT-3.3.2-14"),
        (&[0x11, 0, 0, 0, 1], "§2.2.2.2"),
        (&[0x09, 0, 5, 1], "§2.1.4"),
        (&[0x02, 0, 0], "§2.1.4"),
    ];
    for (props, rule) in cases {
        let e = decode(props).unwrap_err();
        assert!(e.rule().contains(rule), "{props:?}: {e}");
    }
    let e = decode(&[0x23, 0, 0]).unwrap_err();
    assert_eq!(e.reason_code(), ReasonCode::TopicAliasInvalid);
}
