//! MQTT 3.1.1 normative statements about PUBLISH to DISCONNECT, topics and
//! streaming (§3.3-§3.14, chapters 4 and 6), one test each (named after the id;
//! see conformance/v3.1.1.tsv).

#[path = "common/wire.rs"]
mod wire;

use bytes::Bytes;
use mqtt_proto::{ProtocolVersion::V3_1_1 as V, *};
use wire::*;

fn publish(topic: &[u8], payload: &[u8]) -> Vec<u8> {
    frame(0x30, &cat(&[&s(topic), payload]))
}

#[test]
fn v311_mqtt_3_3_1_2_dup_must_be_zero_for_qos_0() {
    refused(V, &frame(0x38, &s(b"a")), "MQTT-3.3.1-2", MALFORMED);
    let mut p = Publish::new("a", Bytes::new());
    p.dup = true;
    assert!(matches!(
        enc_err(V, &Packet::Publish(p)),
        EncodeError::Invalid {
            rule: "MQTT-3.3.1-2",
            ..
        }
    ));
}

#[test]
fn v311_mqtt_3_3_1_4_qos_3_is_malformed() {
    refused(
        V,
        &frame(0x36, &cat(&[&s(b"a"), &[0, 1]])),
        "MQTT-3.3.1-4",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_3_2_1_topic_name_first_and_utf8() {
    let Packet::Publish(p) = ok(V, &frame(0x32, &cat(&[&s(b"a/b"), &[0, 7], b"hi"]))) else {
        panic!()
    };
    assert_eq!(
        (p.topic.as_str(), p.packet_id, &p.payload[..]),
        ("a/b", Some(id(7)), &b"hi"[..])
    );
    refused(V, &publish(b"\x80", b""), "MQTT-3.3.2-1", MALFORMED);
    // A PUBLISH too short to hold its topic.
    assert!(err(V, &frame(0x30, &[0, 5, b'a'])).is_malformed());
}

#[test]
fn v311_mqtt_3_3_2_2_topic_name_has_no_wildcards() {
    refused(V, &publish(b"a/+", b""), "MQTT-3.3.2-2", PROTOCOL);
    refused(V, &publish(b"#", b""), "MQTT-3.3.2-2", PROTOCOL);
}

#[test]
fn v311_mqtt_3_6_1_1_pubrel_flags_are_0010() {
    refused(V, &[0x60, 0x02, 0x00, 0x01], "MQTT-3.6.1-1", MALFORMED);
    assert!(matches!(
        ok(V, &[0x62, 0x02, 0x00, 0x01]),
        Packet::PubRel(_)
    ));
    assert_eq!(enc(V, &Packet::PubRel(PubResponse::new(id(1))))[0], 0x62);
}

#[test]
fn v311_mqtt_3_8_1_1_subscribe_flags_are_0010() {
    refused(
        V,
        &frame(0x80, &cat(&[&[0, 1], &s(b"a"), &[0]])),
        "MQTT-3.8.1-1",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_8_3_1_topic_filters_are_utf8() {
    refused(
        V,
        &frame(0x82, &cat(&[&[0, 1], &s(b"a\xFF"), &[0]])),
        "MQTT-3.8.3-1",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_8_3_3_subscribe_needs_a_filter() {
    refused(V, &frame(0x82, &[0, 1]), "MQTT-3.8.3-3", PROTOCOL);
}

#[test]
fn v311_mqtt_3_8_3_4_reserved_bits_and_qos_3_are_malformed() {
    refused(
        V,
        &frame(0x82, &cat(&[&[0, 1], &s(b"a"), &[0x04]])),
        "MQTT-3.8.3-4",
        MALFORMED,
    );
    refused(
        V,
        &frame(0x82, &cat(&[&[0, 1], &s(b"a"), &[0x03]])),
        "MQTT-3.8.3-4",
        MALFORMED,
    );
    // 3.1.1 has no subscription options beyond the QoS: they are not encoded.
    let mut sub = Subscription::new("a", QoS::AtLeastOnce);
    sub.options.no_local = true;
    sub.options.retain_handling = RetainHandling::DoNotSend;
    let p = Packet::Subscribe(Subscribe {
        packet_id: id(1),
        properties: SubscribeProperties::default().into(),
        subscriptions: vec![sub],
    });
    assert_eq!(enc(V, &p).last(), Some(&0x01));
}

#[test]
fn v311_mqtt_3_9_3_2_reserved_suback_codes_not_used() {
    refused(V, &frame(0x90, &[0, 1, 0x03]), "MQTT-3.9.3-2", MALFORMED);
    let Packet::SubAck(a) = ok(V, &frame(0x90, &[0, 1, 0x00, 0x01, 0x02, 0x80])) else {
        panic!()
    };
    assert_eq!(a.reason_codes[3], ReasonCode::UnspecifiedError);
    // 5.0 failure codes go out as 0x80.
    let a = SubAck {
        packet_id: id(1),
        properties: AckProperties::default().into(),
        reason_codes: vec![ReasonCode::NotAuthorized, ReasonCode::GrantedQoS2],
    };
    assert_eq!(enc(V, &Packet::SubAck(a)), frame(0x90, &[0, 1, 0x80, 0x02]));
}

#[test]
fn v311_mqtt_3_10_1_1_unsubscribe_flags_are_0010() {
    refused(
        V,
        &frame(0xA0, &cat(&[&[0, 1], &s(b"a")])),
        "MQTT-3.10.1-1",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_10_3_1_unsubscribe_filters_are_utf8() {
    refused(
        V,
        &frame(0xA2, &cat(&[&[0, 1], &s(b"\xC0\x80")])),
        "MQTT-3.10.3-1",
        MALFORMED,
    );
    let Packet::Unsubscribe(u) = ok(V, &frame(0xA2, &cat(&[&[0, 1], &s(b"a/#"), &s(b"+/b")])))
    else {
        panic!()
    };
    assert_eq!(
        u.filters,
        vec![Utf8Bytes::from("a/#"), Utf8Bytes::from("+/b")]
    );
}

#[test]
fn v311_mqtt_3_10_3_2_unsubscribe_needs_a_filter() {
    refused(V, &frame(0xA2, &[0, 1]), "MQTT-3.10.3-2", PROTOCOL);
}

#[test]
fn v311_mqtt_3_14_1_1_disconnect_reserved_bits_zero() {
    refused(V, &[0xE1, 0x00], "MQTT-3.14.1-1", MALFORMED);
    assert!(matches!(ok(V, &[0xE0, 0x00]), Packet::Disconnect(_)));
    // A 3.1.1 DISCONNECT has no body.
    assert!(err(V, &[0xE0, 0x01, 0x00]).is_malformed());
}

#[test]
fn v311_mqtt_4_7_1_1_wildcards_not_in_topic_names() {
    assert_eq!(
        topic::validate_name("a/+/b").unwrap_err().rule(V),
        "MQTT-4.7.1-1"
    );
    assert_eq!(
        topic::validate_name("#").unwrap_err().rule(V),
        "MQTT-4.7.1-1"
    );
    assert!(topic::validate_filter("a/+/#").is_ok());
}

#[test]
fn v311_mqtt_4_7_1_2_multi_level_wildcard_last_and_alone() {
    for bad in ["a/#/b", "a#", "#/", "a/b#"] {
        assert_eq!(
            topic::validate_filter(bad).unwrap_err().rule(V),
            "MQTT-4.7.1-2",
            "{bad}"
        );
    }
    refused(
        V,
        &frame(0x82, &cat(&[&[0, 1], &s(b"a/#/b"), &[0]])),
        "MQTT-4.7.1-2",
        PROTOCOL,
    );
}

#[test]
fn v311_mqtt_4_7_1_3_single_level_wildcard_whole_level() {
    for bad in ["a+", "+a/b", "a/b+/c"] {
        assert_eq!(
            topic::validate_filter(bad).unwrap_err().rule(V),
            "MQTT-4.7.1-3",
            "{bad}"
        );
    }
    for good in ["+", "+/+", "a/+/c", "/+"] {
        assert!(topic::validate_filter(good).is_ok(), "{good}");
    }
}

#[test]
fn v311_mqtt_4_7_2_1_leading_wildcards_do_not_match_dollar_topics() {
    assert!(!topic::matches("#", "$SYS/x"));
    assert!(!topic::matches("+/x", "$SYS/x"));
    assert!(topic::matches("$SYS/#", "$SYS/x"));
    assert!(topic::matches("a/#", "a/$x"));
}

#[test]
fn v311_mqtt_4_7_3_1_topics_at_least_one_character() {
    assert_eq!(
        topic::validate_name("").unwrap_err().rule(V),
        "MQTT-4.7.3-1"
    );
    assert_eq!(
        topic::validate_filter("").unwrap_err().rule(V),
        "MQTT-4.7.3-1"
    );
    refused(V, &publish(b"", b"x"), "MQTT-4.7.3-1", PROTOCOL);
    assert!(matches!(
        enc_err(V, &Packet::Publish(Publish::new("", Bytes::new()))),
        EncodeError::Invalid {
            rule: "MQTT-4.7.3-1",
            ..
        }
    ));
}

#[test]
fn v311_mqtt_4_7_3_2_topics_without_null() {
    assert_eq!(
        topic::validate_name("a\0").unwrap_err().rule(V),
        "MQTT-4.7.3-2"
    );
    assert_eq!(
        topic::validate_filter("\0/#").unwrap_err().rule(V),
        "MQTT-4.7.3-2"
    );
}

#[test]
fn v311_mqtt_4_7_3_3_topics_at_most_65535_bytes() {
    let long = "a".repeat(65_536);
    assert_eq!(
        topic::validate_name(&long).unwrap_err().rule(V),
        "MQTT-4.7.3-3"
    );
    let p = Publish::new(Utf8Bytes::from(long), Bytes::new());
    assert!(matches!(
        enc_err(V, &Packet::Publish(p)),
        EncodeError::Invalid {
            rule: "MQTT-4.7.3-3",
            ..
        }
    ));
    assert!(topic::validate_name(&"a".repeat(65_535)).is_ok());
}

#[test]
fn v311_mqtt_4_7_3_4_matching_does_not_normalise() {
    // Precomposed é (U+00E9) vs e + combining acute (U+0065 U+0301); case too.
    assert!(!topic::matches("caf\u{e9}", "cafe\u{301}"));
    assert!(!topic::matches("A/b", "a/b"));
    assert!(!topic::matches("a/b ", "a/b"));
    assert!(topic::matches("caf\u{e9}/+", "caf\u{e9}/x"));
}

#[test]
fn v311_mqtt_6_0_0_2_packets_not_aligned_with_frames() {
    // Two packets split across three "frames" at arbitrary points.
    let mut stream = publish(b"a/b", b"one");
    stream.extend(publish(b"c", b"two"));
    let decoder = Decoder::new(V);
    let mut buf = bytes::BytesMut::new();
    let mut got = Vec::new();
    for part in [&stream[..3], &stream[3..9], &stream[9..]] {
        buf.extend_from_slice(part);
        while let Some(p) = decoder.decode(&mut buf).unwrap() {
            got.push(p);
        }
    }
    assert_eq!(got.len(), 2);
}
