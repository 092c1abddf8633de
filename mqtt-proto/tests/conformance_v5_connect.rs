//! MQTT 5.0 normative statements about CONNECT and CONNACK (§3.1, §3.2), one test
//! each (named after the id; see conformance/v5.tsv).

#[path = "common/v5.rs"]
mod v5;
#[path = "common/wire.rs"]
mod wire;

use bytes::{Bytes, BytesMut};
use mqtt_proto::{ProtocolVersion::V5 as V, *};
use v5::*;
use wire::*;

#[test]
fn v5_mqtt_3_1_0_1_first_packet_must_be_connect() {
    let e = ConnectDecoder::new()
        .decode(&mut BytesMut::from(&[0x30u8, 0x03, 0, 1, b't'][..]))
        .unwrap_err();
    assert_eq!((e.rule(), e.reason_code()), ("MQTT-3.1.0-1", PROTOCOL));
    let c = connect_v5(0x02, b"", b"c", b"");
    let connect = ConnectDecoder::new()
        .decode(&mut BytesMut::from(&c[..]))
        .unwrap()
        .unwrap();
    assert_eq!(connect.protocol_version, V);
}

#[test]
fn v5_mqtt_3_1_2_1_protocol_name_is_mqtt() {
    let c = frame(
        0x10,
        &cat(&[&s(b"mqtt"), &[5, 2, 0, 60], &props(b""), &s(b"c")]),
    );
    let e = err(V, &c);
    assert_eq!(
        (e.rule(), e.reason_code()),
        ("MQTT-3.1.2-1", ReasonCode::UnsupportedProtocolVersion)
    );
}

#[test]
fn v5_mqtt_3_1_2_2_unsupported_version_reported_as_0x84() {
    let c = frame(
        0x10,
        &cat(&[&s(b"MQTT"), &[7, 2, 0, 60], &props(b""), &s(b"c")]),
    );
    let e = err(V, &c);
    assert_eq!(
        (e.rule(), e.reason_code()),
        ("MQTT-3.1.2-2", ReasonCode::UnsupportedProtocolVersion)
    );
}

#[test]
fn v5_mqtt_3_1_2_3_reserved_connect_flag_is_zero() {
    refused(
        V,
        &connect_v5(0x01, b"", b"c", b""),
        "MQTT-3.1.2-3",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_3_1_2_9_will_flag_requires_will_properties_topic_payload() {
    refused(
        V,
        &connect_v5(0x06, b"", b"c", b""),
        "MQTT-3.1.2-9",
        MALFORMED,
    );
    assert!(
        err(
            V,
            &connect_v5(0x06, b"", b"c", &cat(&[&props(b""), &s(b"w")]))
        )
        .is_malformed()
    );
    let ok_bytes = connect_v5(
        0x06,
        b"",
        b"c",
        &cat(&[&props(&[0x18, 0, 0, 0, 9]), &s(b"w"), &s(b"m")]),
    );
    let Packet::Connect(c) = ok(V, &ok_bytes) else {
        panic!()
    };
    assert_eq!(c.will.unwrap().properties.will_delay_interval, Some(9));
}

#[test]
fn v5_mqtt_3_1_2_11_will_qos_zero_without_will() {
    refused(
        V,
        &connect_v5(0x12, b"", b"c", b""),
        "MQTT-3.1.2-11",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_3_1_2_12_will_qos_is_0_1_or_2() {
    refused(
        V,
        &connect_v5(0x1E, b"", b"c", &cat(&[&props(b""), &s(b"w"), &s(b"m")])),
        "MQTT-3.1.2-12",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_3_1_2_13_will_retain_zero_without_will() {
    refused(
        V,
        &connect_v5(0x22, b"", b"c", b""),
        "MQTT-3.1.2-13",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_3_1_2_16_no_user_name_flag_no_user_name() {
    refused(
        V,
        &connect_v5(0x02, b"", b"c", &s(b"u")),
        "MQTT-3.1.2-16",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_3_1_2_17_user_name_flag_requires_user_name() {
    refused(
        V,
        &connect_v5(0x82, b"", b"c", b""),
        "MQTT-3.1.2-17",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_3_1_2_18_no_password_flag_no_password() {
    refused(
        V,
        &connect_v5(0x82, b"", b"c", &cat(&[&s(b"u"), &s(b"p")])),
        "MQTT-3.1.2-18",
        MALFORMED,
    );
    // 5.0 allows a password without a user name.
    let Packet::Connect(c) = ok(V, &connect_v5(0x42, b"", b"c", &s(b"token"))) else {
        panic!()
    };
    assert_eq!(
        (c.username, c.password.as_deref()),
        (None, Some(&b"token"[..]))
    );
}

#[test]
fn v5_mqtt_3_1_2_19_password_flag_requires_password() {
    refused(
        V,
        &connect_v5(0x42, b"", b"c", b""),
        "MQTT-3.1.2-19",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_3_1_2_24_packets_over_the_client_maximum_are_not_sent() {
    let p = Packet::Publish(Publish::new("t", Bytes::from(vec![0; 100])));
    let e = p.encode_within(V, 50, &mut BytesMut::new()).unwrap_err();
    // 1 + 1 (Remaining Length) + 3 (topic) + 1 (Property Length) + 100.
    assert!(
        matches!(
            e,
            EncodeError::TooLarge {
                size: 106,
                max: 50,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(p.encoded_len(V).unwrap(), 106);
    let mut buf = BytesMut::new();
    assert_eq!(p.encode_within(V, 106, &mut buf).unwrap(), Dropped::NONE);
    assert_eq!(buf.len(), 106);
}

#[test]
fn v5_mqtt_3_1_3_1_payload_fields_in_order() {
    let bytes = connect_v5(
        0xEE,
        &[0x11, 0, 0, 0, 30],
        b"cid",
        &cat(&[
            &props(&[0x01, 1]),
            &s(b"w/t"),
            &s(b"bye"),
            &s(b"user"),
            &s(b"pass"),
        ]),
    );
    let Packet::Connect(c) = ok(V, &bytes) else {
        panic!()
    };
    let w = c.will.as_ref().unwrap();
    assert_eq!(
        (
            c.client_id.as_str(),
            w.properties.payload_format_indicator,
            w.topic.as_str(),
            &w.payload[..],
            c.username.as_deref(),
            c.password.as_deref()
        ),
        (
            "cid",
            Some(true),
            "w/t",
            &b"bye"[..],
            Some("user"),
            Some(&b"pass"[..])
        )
    );
    assert_eq!(c.properties.session_expiry_interval, Some(30));
    assert_eq!(enc(V, &Packet::Connect(c)), bytes);
}

#[test]
fn v5_mqtt_3_1_3_3_client_id_present_and_first() {
    let c = frame(0x10, &cat(&[&s(b"MQTT"), &[5, 2, 0, 60], &props(b"")]));
    assert!(err(V, &c).is_malformed());
}

#[test]
fn v5_mqtt_3_1_3_4_client_id_is_utf8() {
    refused(
        V,
        &connect_v5(0x02, b"", b"\xE0\x80\x80", b""),
        "MQTT-3.1.3-4",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_3_1_3_5_short_alphanumeric_client_ids_accepted() {
    let Packet::Connect(c) = ok(V, &connect_v5(0x02, b"", b"ABCxyz0123456789abcdefg", b"")) else {
        panic!()
    };
    assert_eq!(c.client_id.len(), 23);
}

#[test]
fn v5_mqtt_3_1_3_11_will_topic_is_utf8() {
    refused(
        V,
        &connect_v5(
            0x06,
            b"",
            b"c",
            &cat(&[&props(b""), &s(b"\xC1\xBF"), &s(b"m")]),
        ),
        "MQTT-3.1.3-11",
        MALFORMED,
    );
    // A Will Topic is a Topic Name: no wildcards.
    refused(
        V,
        &connect_v5(0x06, b"", b"c", &cat(&[&props(b""), &s(b"w/#"), &s(b"m")])),
        "MQTT-4.7.0-1",
        PROTOCOL,
    );
}

#[test]
fn v5_mqtt_3_1_3_12_user_name_is_utf8() {
    refused(
        V,
        &connect_v5(0x82, b"", b"c", &s(b"\xED\xA0\x80")),
        "MQTT-3.1.3-12",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_3_1_4_1_nonconforming_connect_is_refused() {
    // A CONNACK-only property in CONNECT, a truncated property, trailing bytes.
    assert!(err(V, &connect_v5(0x02, &[0x24, 0x01], b"c", b"")).is_malformed());
    assert!(err(V, &connect_v5(0x02, &[0x11, 0, 0], b"c", b"")).is_malformed());
    assert!(err(V, &connect_v5(0x02, b"", b"c", &[0])).is_malformed());
}

#[test]
fn v5_mqtt_3_2_2_1_connack_reserved_flags_zero() {
    refused(
        V,
        &[0x20, 0x03, 0x02, 0x00, 0x00],
        "MQTT-3.2.2-1",
        MALFORMED,
    );
    let Packet::ConnAck(a) = ok(V, &[0x20, 0x03, 0x01, 0x00, 0x00]) else {
        panic!()
    };
    assert!(a.session_present);
}

#[test]
fn v5_mqtt_3_2_2_8_connack_uses_connect_reason_codes() {
    // 0x8E Session taken over is a DISCONNECT code only.
    refused(
        V,
        &[0x20, 0x03, 0x00, 0x8E, 0x00],
        "MQTT-3.2.2-8",
        MALFORMED,
    );
    let a = ConnAck::new(ReasonCode::SessionTakenOver);
    assert!(matches!(
        enc_err(V, &Packet::ConnAck(Box::new(a))),
        EncodeError::Invalid {
            rule: "MQTT-3.2.2-8",
            ..
        }
    ));
    for code in ReasonCode::ALL
        .into_iter()
        .filter(|c| c.is_valid_for(PacketType::ConnAck))
    {
        let bytes = enc(V, &Packet::ConnAck(Box::new(ConnAck::new(code))));
        assert!(matches!(ok(V, &bytes), Packet::ConnAck(a) if a.reason_code == code));
    }
}

#[test]
fn v5_mqtt_3_2_2_15_packet_over_maximum_is_refused_before_buffering() {
    let decoder = Decoder::new(V).with_max_packet_size(100);
    // Only the fixed header of a 1 MiB PUBLISH has arrived.
    let mut buf = BytesMut::from(&[0x30u8, 0x80, 0x80, 0x40][..]);
    let e = decoder.decode(&mut buf).unwrap_err();
    assert_eq!(
        (e.reason_code(), e.packet_type()),
        (ReasonCode::PacketTooLarge, Some(PacketType::Publish))
    );
    assert!(buf.capacity() < 1024, "the body was not reserved");
    // Exactly at the limit is fine.
    let mut buf = BytesMut::from(&publish(b"t", b"", &[0; 94])[..]);
    assert_eq!(buf.len(), 100);
    assert!(decoder.decode(&mut buf).unwrap().is_some());
    // One byte over, whole in the buffer (the PUBLISH fast path checks the limit too).
    let mut buf = BytesMut::from(&publish(b"t", b"", &[0; 95])[..]);
    let e = decoder.decode(&mut buf).unwrap_err();
    assert_eq!(e.reason_code(), ReasonCode::PacketTooLarge);
    // With a two-byte Remaining Length.
    let decoder = Decoder::new(V).with_max_packet_size(200);
    let mut buf = BytesMut::from(&publish(b"t", b"", &[0; 200])[..]);
    let e = decoder.decode(&mut buf).unwrap_err();
    assert_eq!(e.reason_code(), ReasonCode::PacketTooLarge);
}

#[test]
fn v5_mqtt_3_2_2_19_connack_reason_string_dropped_to_fit() {
    let mut a = ConnAck::new(ReasonCode::NotAuthorized);
    a.properties.reason_string = Some("why".into());
    a.properties.user_properties = vec![UserProperty::new("k", "v")];
    fits_by_dropping(Packet::ConnAck(Box::new(a)));
}

#[test]
fn v5_mqtt_3_2_2_20_connack_user_properties_dropped_to_fit() {
    let mut a = ConnAck::new(ReasonCode::Success);
    a.properties.reason_string = Some("why".into());
    a.properties.user_properties = vec![UserProperty::new("k", "v")];
    fits_by_dropping(Packet::ConnAck(Box::new(a)));
}
