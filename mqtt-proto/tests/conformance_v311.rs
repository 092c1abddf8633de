//! MQTT 3.1.1 normative statements about data representation and CONNECT (chapters
//! 1-2, §3.1), one test each (named after the id; see conformance/v3.1.1.tsv).
//! MQTT 3.1 (`MQIsdp`) shares these rules.

#[path = "common/wire.rs"]
mod wire;

use bytes::Bytes;
use mqtt_proto::{ProtocolVersion::V3_1_1 as V, *};
use wire::*;

fn publish(topic: &[u8], payload: &[u8]) -> Vec<u8> {
    frame(0x30, &cat(&[&s(topic), payload]))
}

#[test]
fn v311_mqtt_1_5_3_1_ill_formed_utf8_and_surrogates_are_malformed() {
    // An encoded surrogate U+D800 in a topic, then an overlong '/'.
    refused(
        V,
        &publish(b"a\xED\xA0\x80", b""),
        "MQTT-3.3.2-1",
        MALFORMED,
    );
    refused(V, &publish(b"\xC0\xAF", b""), "MQTT-3.3.2-1", MALFORMED);
    // In a User Name, a field without its own rule.
    let c = connect_v311(0x82, b"c", &s(b"\xFF"));
    assert!(err(V, &c).is_malformed());
}

#[test]
fn v311_mqtt_1_5_3_2_null_character_is_malformed() {
    refused(V, &publish(b"a\0b", b""), "MQTT-1.5.3-2", MALFORMED);
    refused(
        V,
        &connect_v311(0x02, b"c\0", b""),
        "MQTT-1.5.3-2",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_1_5_3_3_bom_is_not_stripped() {
    let Packet::Publish(p) = ok(V, &publish(b"\xEF\xBB\xBFt", b"x")) else {
        panic!()
    };
    assert_eq!(p.topic.as_bytes().as_ref(), b"\xEF\xBB\xBFt");
    assert_eq!(enc(V, &Packet::Publish(p)), publish(b"\xEF\xBB\xBFt", b"x"));
}

#[test]
fn v311_mqtt_2_2_2_1_reserved_flags_must_have_listed_values() {
    for byte1 in [0x11, 0x21, 0x48, 0x54, 0x71, 0x91, 0xB2, 0xC1, 0xD8] {
        let e = err(V, &[byte1, 0x02, 0x00, 0x01]);
        assert_eq!(e.rule(), "MQTT-2.2.2-1", "{byte1:#04X}");
        assert!(e.is_malformed());
    }
}

#[test]
fn v311_mqtt_2_2_2_2_invalid_flags_close_the_connection() {
    // The decoder refuses the packet as soon as its first byte is seen: the caller closes.
    let mut buf = bytes::BytesMut::from(&[0x41u8][..]);
    assert!(Decoder::new(V).decode(&mut buf).is_err());
}

#[test]
fn v311_mqtt_2_3_1_1_packet_identifier_must_be_non_zero() {
    refused(
        V,
        &frame(0x82, &cat(&[&[0, 0], &s(b"a"), &[0]])),
        "MQTT-2.3.1-1",
        PROTOCOL,
    );
    refused(
        V,
        &frame(0xA2, &cat(&[&[0, 0], &s(b"a")])),
        "MQTT-2.3.1-1",
        PROTOCOL,
    );
    refused(
        V,
        &frame(0x32, &cat(&[&s(b"a"), &[0, 0]])),
        "MQTT-2.3.1-1",
        PROTOCOL,
    );
    let mut p = Publish::new("a", Bytes::new());
    p.qos = QoS::AtLeastOnce;
    assert!(matches!(
        enc_err(V, &Packet::Publish(p)),
        EncodeError::Invalid { .. }
    ));
}

#[test]
fn v311_mqtt_2_3_1_5_qos_0_publish_has_no_packet_identifier() {
    // The two bytes after the topic are payload, not a packet id.
    let Packet::Publish(p) = ok(V, &publish(b"a", &[0, 1])) else {
        panic!()
    };
    assert_eq!((p.packet_id, &p.payload[..]), (None, &[0u8, 1][..]));
    let mut p = Publish::new("a", Bytes::new());
    p.packet_id = Some(id(1));
    assert!(matches!(
        enc_err(V, &Packet::Publish(p)),
        EncodeError::Invalid {
            rule: "MQTT-2.2.1-2",
            ..
        }
    ));
}

#[test]
fn v311_mqtt_3_1_0_1_first_packet_must_be_connect() {
    let mut buf = bytes::BytesMut::from(&[0xC0u8, 0x00][..]);
    let e = ConnectDecoder::new().decode(&mut buf).unwrap_err();
    assert_eq!((e.rule(), e.reason_code()), ("MQTT-3.1.0-1", PROTOCOL));
}

#[test]
fn v311_mqtt_3_1_2_1_wrong_protocol_name_is_refused() {
    let c = frame(0x10, &cat(&[&s(b"MQTX"), &[4, 2, 0, 60], &s(b"c")]));
    let e = err(V, &c);
    assert_eq!(
        (e.rule(), e.reason_code()),
        ("MQTT-3.1.2-1", ReasonCode::UnsupportedProtocolVersion)
    );
}

#[test]
fn v311_mqtt_3_1_2_2_unsupported_protocol_level_is_reported() {
    let c = frame(0x10, &cat(&[&s(b"MQTT"), &[6, 2, 0, 60], &s(b"c")]));
    let e = err(V, &c);
    // The broker answers CONNACK return code 0x01 (ConnAck::v3_return_code).
    assert_eq!(
        (e.rule(), e.reason_code()),
        ("MQTT-3.1.2-2", ReasonCode::UnsupportedProtocolVersion)
    );
    assert_eq!(ConnAck::v3_return_code(e.reason_code()), 1);
    // MQTT 3.1 (MQIsdp, 3) is supported.
    let c = frame(0x10, &cat(&[&s(b"MQIsdp"), &[3, 2, 0, 60], &s(b"c")]));
    let Packet::Connect(c) = ok(V, &c) else {
        panic!()
    };
    assert_eq!(c.protocol_version, ProtocolVersion::V3_1);
}

#[test]
fn v311_mqtt_3_1_2_3_reserved_connect_flag_must_be_zero() {
    refused(V, &connect_v311(0x03, b"c", b""), "MQTT-3.1.2-3", MALFORMED);
}

#[test]
fn v311_mqtt_3_1_2_9_will_flag_requires_will_topic_and_message() {
    refused(V, &connect_v311(0x06, b"c", b""), "MQTT-3.1.2-9", MALFORMED);
    // Topic without message.
    assert!(err(V, &connect_v311(0x06, b"c", &s(b"w"))).is_malformed());
    let Packet::Connect(c) = ok(V, &connect_v311(0x06, b"c", &cat(&[&s(b"w"), &s(b"bye")]))) else {
        panic!()
    };
    assert_eq!(c.will.unwrap().payload, &b"bye"[..]);
}

#[test]
fn v311_mqtt_3_1_2_11_no_will_flag_means_no_will_fields() {
    // Will fields present although the Will Flag is 0: bytes after the client id.
    let e = err(V, &connect_v311(0x02, b"c", &cat(&[&s(b"w"), &s(b"m")])));
    assert!(e.is_malformed());
    refused(
        V,
        &connect_v311(0x22, b"c", b""),
        "MQTT-3.1.2-15",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_1_2_13_will_qos_zero_without_will() {
    refused(
        V,
        &connect_v311(0x0A, b"c", b""),
        "MQTT-3.1.2-13",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_1_2_14_will_qos_3_is_malformed() {
    refused(
        V,
        &connect_v311(0x1E, b"c", &cat(&[&s(b"w"), &s(b"m")])),
        "MQTT-3.1.2-14",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_1_2_15_will_retain_zero_without_will() {
    refused(
        V,
        &connect_v311(0x22, b"c", b""),
        "MQTT-3.1.2-15",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_1_2_18_no_user_name_flag_no_user_name() {
    refused(
        V,
        &connect_v311(0x02, b"c", &s(b"alice")),
        "MQTT-3.1.2-18",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_1_2_19_user_name_flag_requires_user_name() {
    refused(
        V,
        &connect_v311(0x82, b"c", b""),
        "MQTT-3.1.2-19",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_1_2_20_no_password_flag_no_password() {
    refused(
        V,
        &connect_v311(0x82, b"c", &cat(&[&s(b"u"), &s(b"pw")])),
        "MQTT-3.1.2-20",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_1_2_21_password_flag_requires_password() {
    refused(
        V,
        &connect_v311(0xC2, b"c", &s(b"u")),
        "MQTT-3.1.2-21",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_1_2_22_password_flag_requires_user_name_flag() {
    refused(
        V,
        &connect_v311(0x42, b"c", &s(b"pw")),
        "MQTT-3.1.2-22",
        MALFORMED,
    );
    let mut c = Connect::new(V, "c");
    c.password = Some(Bytes::from_static(b"pw"));
    assert!(matches!(
        enc_err(V, &Packet::Connect(Box::new(c))),
        EncodeError::Invalid {
            rule: "MQTT-3.1.2-22",
            ..
        }
    ));
}

#[test]
fn v311_mqtt_3_1_3_1_payload_fields_in_order() {
    let bytes = connect_v311(
        0xEE,
        b"cid",
        &cat(&[&s(b"will/t"), &s(b"will-msg"), &s(b"user"), &s(b"pass")]),
    );
    let Packet::Connect(c) = ok(V, &bytes) else {
        panic!()
    };
    let w = c.will.as_ref().unwrap();
    assert_eq!(
        (
            c.client_id.as_str(),
            w.topic.as_str(),
            &w.payload[..],
            c.username.as_deref(),
            c.password.as_deref()
        ),
        (
            "cid",
            "will/t",
            &b"will-msg"[..],
            Some("user"),
            Some(&b"pass"[..])
        )
    );
    assert_eq!((w.qos, w.retain), (QoS::AtLeastOnce, true));
    assert_eq!(enc(V, &Packet::Connect(c)), bytes);
}

#[test]
fn v311_mqtt_3_1_3_3_client_id_must_be_present() {
    let c = frame(0x10, &cat(&[&s(b"MQTT"), &[4, 2, 0, 60]]));
    assert!(err(V, &c).is_malformed());
}

#[test]
fn v311_mqtt_3_1_3_4_client_id_must_be_utf8() {
    refused(
        V,
        &connect_v311(0x02, b"\xC3\x28", b""),
        "MQTT-3.1.3-4",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_1_3_5_short_alphanumeric_client_ids_accepted() {
    let id = b"0123456789abcdefghijXYZ";
    let Packet::Connect(c) = ok(V, &connect_v311(0x02, id, b"")) else {
        panic!()
    };
    assert_eq!(c.client_id.as_bytes().as_ref(), id);
    // A zero-byte client id is decoded too: accepting it is the server's choice.
    assert!(matches!(
        ok(V, &connect_v311(0x02, b"", b"")),
        Packet::Connect(_)
    ));
}

#[test]
fn v311_mqtt_3_1_3_10_will_topic_must_be_utf8() {
    refused(
        V,
        &connect_v311(0x06, b"c", &cat(&[&s(b"\xFE"), &s(b"m")])),
        "MQTT-3.1.3-10",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_1_3_11_user_name_must_be_utf8() {
    refused(
        V,
        &connect_v311(0x82, b"c", &s(b"\xED\xBF\xBF")),
        "MQTT-3.1.3-11",
        MALFORMED,
    );
}

#[test]
fn v311_mqtt_3_1_4_1_nonconforming_connect_is_refused() {
    // Truncated variable header, and bytes after the last field.
    assert!(err(V, &frame(0x10, &cat(&[&s(b"MQTT"), &[4, 2]]))).is_malformed());
    let mut c = connect_v311(0x02, b"c", b"");
    c[1] += 1;
    c.push(0);
    assert!(err(V, &c).is_malformed());
}
