//! MQTT 5.0 normative statements about data representation, topics and the
//! streaming of packets (chapters 1, 2, 4, 6), one test each (named after the id;
//! see conformance/v5.tsv), plus the unnumbered property rules of §2.2.2.

#[path = "common/v5.rs"]
mod v5;
#[path = "common/wire.rs"]
mod wire;

use bytes::{Bytes, BytesMut};
use mqtt_proto::{ProtocolVersion::V5 as V, *};
use v5::*;
use wire::*;

#[test]
fn v5_mqtt_1_5_4_1_ill_formed_utf8_is_malformed() {
    // Content Type (a property string without a rule of its own) with a surrogate.
    let p = publish(b"t", &cat(&[&[0x03], &s(b"\xED\xB2\x80")]), b"");
    refused(V, &p, "MQTT-1.5.4-1", MALFORMED);
    refused(
        V,
        &publish(b"t", &cat(&[&[0x03], &s(b"\xF8\x88\x80\x80\x80")]), b""),
        "MQTT-1.5.4-1",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_1_5_4_2_null_character_is_malformed() {
    refused(
        V,
        &publish(b"t", &cat(&[&[0x03], &s(b"a\0")]), b""),
        "MQTT-1.5.4-2",
        MALFORMED,
    );
    refused(V, &publish(b"t\0", b"", b""), "MQTT-1.5.4-2", MALFORMED);
}

#[test]
fn v5_mqtt_1_5_4_3_bom_is_not_stripped() {
    let bytes = publish(
        b"\xEF\xBB\xBF",
        &cat(&[&[0x03], &s(b"\xEF\xBB\xBFtext")]),
        b"",
    );
    let Packet::Publish(p) = ok(V, &bytes) else {
        panic!()
    };
    assert_eq!(p.topic.as_str(), "\u{FEFF}");
    assert_eq!(p.properties.content_type(), Some("\u{FEFF}text"));
    assert_eq!(enc(V, &Packet::Publish(p)), bytes);
}

#[test]
fn v5_mqtt_1_5_5_1_variable_byte_integers_are_minimal() {
    // Remaining Length 0x80 0x00 encodes 0 in two bytes.
    refused(V, &[0xC0, 0x80, 0x00], "MQTT-1.5.5-1", MALFORMED);
    // Five bytes.
    refused(
        V,
        &[0x30, 0xFF, 0xFF, 0xFF, 0xFF, 0x01],
        "MQTT-1.5.5-1",
        MALFORMED,
    );
    // A whole PUBLISH whose Remaining Length 5 takes two bytes (0x85 0x00): the
    // decoder's PUBLISH fast path must not accept it.
    refused(
        V,
        &[0x30, 0x85, 0x00, 0x00, 0x01, b't', 0x00, b'x'],
        "MQTT-1.5.5-1",
        MALFORMED,
    );
    // A Property Length in two bytes.
    let p = frame(0x30, &cat(&[&s(b"t"), &[0x80, 0x00]]));
    refused(V, &p, "MQTT-1.5.5-1", MALFORMED);
    // A Subscription Identifier, non-minimal.
    refused(
        V,
        &publish(b"t", &[0x0B, 0x81, 0x00], b""),
        "MQTT-1.5.5-1",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_1_5_7_1_string_pair_strings_are_utf8() {
    refused(
        V,
        &publish(b"t", &user(b"k", b"\xC3"), b""),
        "MQTT-1.5.7-1",
        MALFORMED,
    );
    refused(
        V,
        &publish(b"t", &user(b"\xFF", b"v"), b""),
        "MQTT-1.5.7-1",
        MALFORMED,
    );
    refused(
        V,
        &publish(b"t", &user(b"k\0", b"v"), b""),
        "MQTT-1.5.4-2",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_2_1_3_1_reserved_flags_have_listed_values() {
    for bytes in [
        &[0x11u8, 0x00][..],
        &[0x21, 0x00],
        &[0x41, 0x02, 0, 1],
        &[0x58, 0x02, 0, 1],
        &[0x74, 0x02, 0, 1],
        &[0x98, 0x03, 0, 1, 0],
        &[0xB1, 0x03, 0, 1, 0],
        &[0xC2, 0x00],
        &[0xD1, 0x00],
    ] {
        let e = err(V, bytes);
        assert_eq!(
            (e.rule(), e.reason_code()),
            ("MQTT-2.1.3-1", MALFORMED),
            "{bytes:02X?}"
        );
    }
    // Reserved packet type 0.
    assert!(err(V, &[0x00, 0x00]).is_malformed());
}

#[test]
fn v5_mqtt_2_2_1_2_qos_0_publish_has_no_packet_identifier() {
    let Packet::Publish(p) = ok(V, &frame(0x30, &cat(&[&s(b"t"), &[0], &[0, 1]]))) else {
        panic!()
    };
    assert_eq!((p.packet_id, &p.payload[..]), (None, &[0u8, 1][..]));
    let mut p = Publish::new("t", Bytes::new());
    p.packet_id = Some(id(3));
    assert!(matches!(
        enc_err(V, &Packet::Publish(p)),
        EncodeError::Invalid {
            rule: "MQTT-2.2.1-2",
            ..
        }
    ));
}

#[test]
fn v5_mqtt_2_2_1_3_packet_identifier_is_non_zero() {
    refused(
        V,
        &frame(0x32, &cat(&[&s(b"t"), &[0, 0], &[0]])),
        "MQTT-2.2.1-3",
        PROTOCOL,
    );
    refused(
        V,
        &frame(0x82, &cat(&[&[0, 0], &[0], &s(b"a"), &[0]])),
        "MQTT-2.2.1-3",
        PROTOCOL,
    );
    refused(V, &[0x40, 0x02, 0, 0], "MQTT-2.2.1-3", PROTOCOL);
    // The type cannot hold 0; a QoS 1 PUBLISH without one does not encode.
    assert!(PacketId::new(0).is_none());
    let mut p = Publish::new("t", Bytes::new());
    p.qos = QoS::ExactlyOnce;
    assert!(matches!(
        enc_err(V, &Packet::Publish(p)),
        EncodeError::Invalid {
            rule: "MQTT-2.2.1-3",
            ..
        }
    ));
}

#[test]
fn v5_mqtt_2_2_2_1_no_properties_is_property_length_zero() {
    let bytes = enc(
        V,
        &Packet::Publish(Publish::new("t", Bytes::from_static(b"x"))),
    );
    assert_eq!(bytes, [0x30, 0x05, 0, 1, b't', 0x00, b'x']);
    let sub = Subscribe {
        packet_id: id(1),
        properties: SubscribeProperties::default().into(),
        subscriptions: vec![Subscription::new("a", QoS::AtMostOnce)],
    };
    assert_eq!(
        enc(V, &Packet::Subscribe(sub)),
        [0x82, 0x07, 0, 1, 0x00, 0, 1, b'a', 0]
    );
    // A CONNACK without its Property Length is incomplete.
    assert!(err(V, &[0x20, 0x02, 0x00, 0x00]).is_malformed());
}

#[test]
fn v5_mqtt_4_7_0_1_wildcards_not_in_topic_names() {
    assert_eq!(
        topic::validate_name("a/+").unwrap_err().rule(V),
        "MQTT-4.7.0-1"
    );
    assert_eq!(
        topic::validate_name("a/#").unwrap_err().rule(V),
        "MQTT-4.7.0-1"
    );
}

#[test]
fn v5_mqtt_4_7_1_1_multi_level_wildcard_last_and_alone() {
    for bad in ["#/a", "a/#/", "a/b#", "##"] {
        assert_eq!(
            topic::validate_filter(bad).unwrap_err().rule(V),
            "MQTT-4.7.1-1",
            "{bad}"
        );
    }
    refused(V, &subscribe(0, b"a/#/b"), "MQTT-4.7.1-1", PROTOCOL);
    assert!(topic::matches("sport/#", "sport"));
}

#[test]
fn v5_mqtt_4_7_1_2_single_level_wildcard_whole_level() {
    assert_eq!(
        topic::validate_filter("sport+").unwrap_err().rule(V),
        "MQTT-4.7.1-2"
    );
    refused(V, &subscribe(0, b"a/b+"), "MQTT-4.7.1-2", PROTOCOL);
    assert!(topic::matches("+/+", "/finance"));
    assert!(!topic::matches("sport/+", "sport"));
}

#[test]
fn v5_mqtt_4_7_2_1_leading_wildcards_do_not_match_dollar_topics() {
    assert!(!topic::matches("#", "$SYS/monitor/Clients"));
    assert!(!topic::matches("+/monitor/Clients", "$SYS/monitor/Clients"));
    assert!(topic::matches("$SYS/monitor/+", "$SYS/monitor/Clients"));
}

#[test]
fn v5_mqtt_4_7_3_1_topics_at_least_one_character() {
    assert_eq!(
        topic::validate_filter("").unwrap_err().rule(V),
        "MQTT-4.7.3-1"
    );
    refused(V, &subscribe(0, b""), "MQTT-4.7.3-1", PROTOCOL);
}

#[test]
fn v5_mqtt_4_7_3_2_topics_without_null() {
    assert_eq!(
        topic::validate_filter("a/\0").unwrap_err().rule(V),
        "MQTT-4.7.3-2"
    );
    refused(V, &subscribe(0, b"a\0"), "MQTT-1.5.4-2", MALFORMED);
}

#[test]
fn v5_mqtt_4_7_3_3_topics_at_most_65535_bytes() {
    assert_eq!(
        topic::validate_filter(&"+/".repeat(40_000))
            .unwrap_err()
            .rule(V),
        "MQTT-4.7.3-3"
    );
    let sub = Subscribe {
        packet_id: id(1),
        properties: SubscribeProperties::default().into(),
        subscriptions: vec![Subscription::new(
            Utf8Bytes::from("a".repeat(70_000)),
            QoS::AtMostOnce,
        )],
    };
    assert!(matches!(
        enc_err(V, &Packet::Subscribe(sub)),
        EncodeError::Invalid {
            rule: "MQTT-4.7.3-3",
            ..
        }
    ));
}

#[test]
fn v5_mqtt_4_7_3_4_matching_does_not_normalise() {
    assert!(!topic::matches("\u{212B}", "\u{C5}"));
    assert!(!topic::matches("a//b", "a/b"));
    assert!(topic::matches("a/+/b", "a//b"));
}

#[test]
fn v5_mqtt_4_8_2_1_shared_filter_has_a_share_name() {
    assert_eq!(
        topic::parse_shared("$share//a").unwrap_err().rule(V),
        "MQTT-4.8.2-1"
    );
    assert_eq!(
        topic::parse_shared("$share").unwrap_err().rule(V),
        "MQTT-4.8.2-1"
    );
    refused(V, &subscribe(0, b"$share//a"), "MQTT-4.8.2-1", PROTOCOL);
    let s = topic::parse_shared("$share/group/a/+").unwrap().unwrap();
    assert_eq!((s.group, s.filter), ("group", "a/+"));
    assert_eq!(topic::parse_shared("$sharex/a").unwrap(), None);
}

#[test]
fn v5_mqtt_4_8_2_2_share_name_then_slash_then_filter() {
    for bad in [
        "$share/g",
        "$share/g+/a",
        "$share/#/a",
        "$share/g/",
        "$share/g/a/#/b",
    ] {
        assert!(topic::parse_shared(bad).is_err(), "{bad}");
    }
    assert_eq!(
        topic::parse_shared("$share/g").unwrap_err().rule(V),
        "MQTT-4.8.2-2"
    );
    refused(V, &subscribe(0, b"$share/g"), "MQTT-4.8.2-2", PROTOCOL);
}

#[test]
fn v5_mqtt_6_0_0_2_packets_not_aligned_with_frames() {
    let mut stream = publish(b"a", b"", b"1");
    stream.extend(enc(V, &Packet::PingReq));
    stream.extend(publish(b"b", &[0x02, 0, 0, 0, 5], b"22"));
    let decoder = Decoder::new(V);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for byte in &stream {
        buf.extend_from_slice(&[*byte]);
        while let Some(p) = decoder.decode(&mut buf).unwrap() {
            got.push(p);
        }
    }
    assert_eq!(got.len(), 3);
    assert_eq!(got[1], Packet::PingReq);
}

// ---- Unnumbered property rules (MQTT 5.0 §2.2.2) ----

#[test]
fn v5_property_not_allowed_in_packet_is_malformed() {
    // Session Expiry Interval (0x11) in PUBLISH; an unknown identifier 0x7F.
    refused(
        V,
        &publish(b"t", &[0x11, 0, 0, 0, 1], b""),
        "MQTT-5.0 §2.2.2.2",
        MALFORMED,
    );
    refused(
        V,
        &publish(b"t", &[0x7F, 0], b""),
        "MQTT-5.0 §2.2.2.2",
        MALFORMED,
    );
    // Will Delay Interval is a Will property, not a CONNECT property.
    assert!(err(V, &connect_v5(0x02, &[0x18, 0, 0, 0, 1], b"c", b"")).is_malformed());
    for id in PropertyId::ALL {
        for t in [PacketType::Connect, PacketType::Publish, PacketType::Auth] {
            let _ = id.is_allowed_in(PropertyContext::Packet(t));
        }
    }
    assert!(PropertyId::WillDelayInterval.is_allowed_in(PropertyContext::Will));
    assert!(
        !PropertyId::WillDelayInterval.is_allowed_in(PropertyContext::Packet(PacketType::Connect))
    );
}

#[test]
fn v5_property_duplicates_are_protocol_errors() {
    let twice = cat(&[&[0x02, 0, 0, 0, 1], &[0x02, 0, 0, 0, 2]]);
    assert!(err(V, &publish(b"t", &twice, b"")).is_protocol_error());
    // User Property and (in PUBLISH) Subscription Identifier may repeat.
    let ok_bytes = publish(
        b"t",
        &cat(&[&user(b"a", b"1"), &user(b"a", b"2"), &[0x0B, 1], &[0x0B, 2]]),
        b"",
    );
    let Packet::Publish(p) = ok(V, &ok_bytes) else {
        panic!()
    };
    assert!(p.properties.subscription_identifiers().eq([1, 2]));
    assert_eq!(
        p.properties.to_properties().user_properties,
        vec![UserProperty::new("a", "1"), UserProperty::new("a", "2")]
    );
    let p = Packet::Publish(p);
    assert_eq!(ok(V, &enc(V, &p)), p);
    // ... but not in SUBSCRIBE.
    let sub = frame(
        0x82,
        &cat(&[&[0, 1], &props(&[0x0B, 1, 0x0B, 2]), &s(b"a"), &[0]]),
    );
    assert!(err(V, &sub).is_protocol_error());
}

#[test]
fn v5_property_length_is_bounded_by_the_packet() {
    // Property Length 10 in a packet with 2 bytes left.
    let p = frame(0x30, &cat(&[&s(b"t"), &[10, 0x01, 0x01]]));
    refused(V, &p, "MQTT-5.0 §2.2.2.1", MALFORMED);
    // A property value running past the Property Length.
    let p = frame(0x30, &cat(&[&s(b"t"), &[2, 0x02, 0, 0, 0], b"payload"]));
    assert!(err(V, &p).is_malformed());
}

#[test]
fn v5_property_value_ranges() {
    assert!(err(V, &connect_v5(0x02, &[0x21, 0, 0], b"c", b"")).is_protocol_error()); // Receive Maximum 0
    assert!(err(V, &connect_v5(0x02, &[0x27, 0, 0, 0, 0], b"c", b"")).is_protocol_error()); // Maximum Packet Size 0
    assert!(err(V, &connect_v5(0x02, &[0x17, 2], b"c", b"")).is_protocol_error()); // Request Problem Information 2
    assert!(err(V, &[0x20, 0x05, 0, 0, 2, 0x24, 2]).is_protocol_error()); // Maximum QoS 2
    assert!(err(V, &publish(b"t", &[0x0B, 0], b"")).is_protocol_error()); // Subscription Identifier 0
}

#[test]
fn v5_every_property_round_trips_in_its_packets() {
    // One packet per context holding every property allowed there.
    let mut c = Connect::new(V, "c");
    c.properties = ConnectProperties {
        session_expiry_interval: Some(1),
        receive_maximum: Some(2),
        maximum_packet_size: Some(3),
        topic_alias_maximum: Some(4),
        request_response_information: Some(true),
        request_problem_information: Some(false),
        authentication_method: Some("m".into()),
        authentication_data: Some(Bytes::from_static(b"d")),
        user_properties: vec![UserProperty::new("a", "b")],
    };
    c.will = Some(Will {
        topic: "w".into(),
        payload: Bytes::from_static(b"p"),
        qos: QoS::ExactlyOnce,
        retain: true,
        properties: WillProperties {
            will_delay_interval: Some(5),
            payload_format_indicator: Some(true),
            message_expiry_interval: Some(6),
            content_type: Some("ct".into()),
            response_topic: Some("rt".into()),
            correlation_data: Some(Bytes::from_static(b"cd")),
            user_properties: vec![UserProperty::new("x", "y")],
        },
    });
    let c = Packet::Connect(Box::new(c));
    assert_eq!(ok(V, &enc(V, &c)), c);
    let mut a = ConnAck::new(ReasonCode::Success);
    a.properties = ConnAckProperties {
        session_expiry_interval: Some(1),
        receive_maximum: Some(2),
        maximum_qos: Some(QoS::AtLeastOnce),
        retain_available: Some(false),
        maximum_packet_size: Some(9),
        assigned_client_identifier: Some("id".into()),
        topic_alias_maximum: Some(3),
        reason_string: Some("r".into()),
        wildcard_subscription_available: Some(true),
        subscription_identifier_available: Some(false),
        shared_subscription_available: Some(true),
        server_keep_alive: Some(30),
        response_information: Some("ri".into()),
        server_reference: Some("sr".into()),
        authentication_method: Some("m".into()),
        authentication_data: Some(Bytes::from_static(b"d")),
        user_properties: vec![UserProperty::new("a", "b")],
    };
    let a = Packet::ConnAck(Box::new(a));
    assert_eq!(ok(V, &enc(V, &a)), a);
    let mut d = Disconnect::new(ReasonCode::ServerMoved);
    d.properties = DisconnectProperties {
        session_expiry_interval: Some(0),
        reason_string: Some("r".into()),
        server_reference: Some("s".into()),
        user_properties: vec![],
    }
    .into();
    let d = Packet::Disconnect(d);
    assert_eq!(ok(V, &enc(V, &d)), d);
}

#[test]
fn v5_encoding_for_v311_omits_v5_only_fields() {
    // The documented rule: properties and 5.0-only reason codes are left out.
    let mut p = Publish::new("t", Bytes::from_static(b"x"));
    p.properties.to_mut().content_type = Some("ct".into());
    assert_eq!(
        enc(ProtocolVersion::V3_1_1, &Packet::Publish(p)),
        [0x30, 0x04, 0, 1, b't', b'x']
    );
    let ack = Packet::PubAck(pub_response(ReasonCode::QuotaExceeded));
    assert_eq!(enc(ProtocolVersion::V3_1_1, &ack), [0x40, 0x02, 0, 1]);
    assert_eq!(enc(ProtocolVersion::V3_1_1, &disconnect()), [0xE0, 0x00]);
    let u = Packet::UnsubAck(unsuback(vec![ReasonCode::Success]));
    assert_eq!(enc(ProtocolVersion::V3_1_1, &u), [0xB0, 0x02, 0, 1]);
    let a = Packet::ConnAck(Box::new(ConnAck::new(ReasonCode::Banned)));
    assert_eq!(enc(ProtocolVersion::V3_1_1, &a), [0x20, 0x02, 0x00, 0x05]);
}
