//! MQTT 5.0 normative statements about PUBLISH to AUTH (§3.3-§3.15), one test each
//! (named after the id; see conformance/v5.tsv).

#[path = "common/v5.rs"]
mod v5;
#[path = "common/wire.rs"]
mod wire;

use bytes::{Bytes, BytesMut};
use mqtt_proto::{ProtocolVersion::V5 as V, *};
use v5::*;
use wire::*;

#[test]
fn v5_mqtt_3_3_1_2_dup_zero_for_qos_0() {
    refused(
        V,
        &frame(0x38, &cat(&[&s(b"t"), &[0]])),
        "MQTT-3.3.1-2",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_3_3_1_4_qos_3_is_malformed() {
    refused(
        V,
        &frame(0x36, &cat(&[&s(b"t"), &[0, 1], &[0]])),
        "MQTT-3.3.1-4",
        MALFORMED,
    );
    // Refused from the first byte, before the rest arrives.
    let e = Decoder::new(V)
        .decode(&mut BytesMut::from(&[0x37u8][..]))
        .unwrap_err();
    assert_eq!(e.rule(), "MQTT-3.3.1-4");
}

#[test]
fn v5_mqtt_3_3_2_1_topic_name_first_and_utf8() {
    refused(V, &publish(b"\xF5", b"", b""), "MQTT-3.3.2-1", MALFORMED);
    let Packet::Publish(p) = ok(
        V,
        &frame(0x32, &cat(&[&s(b"a/b"), &[0, 9], &props(b""), b"x"])),
    ) else {
        panic!()
    };
    assert_eq!((p.topic.as_str(), p.packet_id), ("a/b", Some(id(9))));
}

#[test]
fn v5_mqtt_3_3_2_2_topic_name_has_no_wildcards() {
    refused(V, &publish(b"a/#", b"", b""), "MQTT-3.3.2-2", PROTOCOL);
    refused(V, &publish(b"+", b"", b""), "MQTT-3.3.2-2", PROTOCOL);
}

#[test]
fn v5_mqtt_3_3_2_8_topic_alias_zero_is_refused() {
    refused(
        V,
        &publish(b"t", &[0x23, 0, 0], b""),
        "MQTT-3.3.2-8",
        ReasonCode::TopicAliasInvalid,
    );
    let mut p = Publish::new("t", Bytes::new());
    p.properties.to_mut().topic_alias = Some(0);
    assert!(matches!(
        enc_err(V, &Packet::Publish(p)),
        EncodeError::Invalid { .. }
    ));
    // An empty topic is allowed with an alias, not without.
    let Packet::Publish(p) = ok(V, &publish(b"", &[0x23, 0, 5], b"")) else {
        panic!()
    };
    assert_eq!(
        (p.topic.as_str(), p.properties.topic_alias()),
        ("", Some(5))
    );
    assert!(err(V, &publish(b"", b"", b"")).is_protocol_error());
}

#[test]
fn v5_mqtt_3_3_2_13_response_topic_is_utf8() {
    refused(
        V,
        &publish(b"t", &cat(&[&[0x08], &s(b"\xC3\x28")]), b""),
        "MQTT-1.5.4-1",
        MALFORMED,
    );
    let Packet::Publish(p) = ok(V, &publish(b"t", &cat(&[&[0x08], &s(b"reply/to")]), b"")) else {
        panic!()
    };
    assert_eq!(p.properties.response_topic(), Some("reply/to"));
}

#[test]
fn v5_mqtt_3_3_2_14_response_topic_has_no_wildcards() {
    refused(
        V,
        &publish(b"t", &cat(&[&[0x08], &s(b"reply/+")]), b""),
        "MQTT-3.3.2-14",
        PROTOCOL,
    );
}

#[test]
fn v5_mqtt_3_3_2_19_content_type_is_utf8() {
    refused(
        V,
        &publish(b"t", &cat(&[&[0x03], &s(b"\xBF")]), b""),
        "MQTT-1.5.4-1",
        MALFORMED,
    );
    let Packet::Publish(p) = ok(V, &publish(b"t", &cat(&[&[0x03], &s(b"text/plain")]), b"")) else {
        panic!()
    };
    assert_eq!(p.properties.content_type(), Some("text/plain"));
}

#[test]
fn v5_mqtt_3_4_2_1_puback_uses_puback_reason_codes() {
    ack_reason_codes(
        PacketType::PubAck,
        0x40,
        "MQTT-3.4.2-1",
        ReasonCode::PacketIdentifierNotFound,
    );
}

#[test]
fn v5_mqtt_3_4_2_2_puback_reason_string_dropped_to_fit() {
    fits_by_dropping(Packet::PubAck(pub_response(ReasonCode::QuotaExceeded)));
}

#[test]
fn v5_mqtt_3_4_2_3_puback_user_properties_dropped_to_fit() {
    fits_by_dropping(Packet::PubAck(pub_response(ReasonCode::Success)));
}

#[test]
fn v5_mqtt_3_5_2_1_pubrec_uses_pubrec_reason_codes() {
    ack_reason_codes(
        PacketType::PubRec,
        0x50,
        "MQTT-3.5.2-1",
        ReasonCode::PacketIdentifierNotFound,
    );
}

#[test]
fn v5_mqtt_3_5_2_2_pubrec_reason_string_dropped_to_fit() {
    fits_by_dropping(Packet::PubRec(pub_response(ReasonCode::NotAuthorized)));
}

#[test]
fn v5_mqtt_3_5_2_3_pubrec_user_properties_dropped_to_fit() {
    fits_by_dropping(Packet::PubRec(pub_response(
        ReasonCode::NoMatchingSubscribers,
    )));
}

#[test]
fn v5_mqtt_3_6_1_1_pubrel_flags_are_0010() {
    refused(V, &[0x60, 0x02, 0, 1], "MQTT-3.6.1-1", MALFORMED);
    refused(V, &[0x63, 0x02, 0, 1], "MQTT-3.6.1-1", MALFORMED);
}

#[test]
fn v5_mqtt_3_6_2_1_pubrel_uses_pubrel_reason_codes() {
    ack_reason_codes(
        PacketType::PubRel,
        0x62,
        "MQTT-3.6.2-1",
        ReasonCode::UnspecifiedError,
    );
}

#[test]
fn v5_mqtt_3_6_2_2_pubrel_reason_string_dropped_to_fit() {
    fits_by_dropping(Packet::PubRel(pub_response(
        ReasonCode::PacketIdentifierNotFound,
    )));
}

#[test]
fn v5_mqtt_3_6_2_3_pubrel_user_properties_dropped_to_fit() {
    fits_by_dropping(Packet::PubRel(pub_response(ReasonCode::Success)));
}

#[test]
fn v5_mqtt_3_7_2_1_pubcomp_uses_pubcomp_reason_codes() {
    ack_reason_codes(
        PacketType::PubComp,
        0x70,
        "MQTT-3.7.2-1",
        ReasonCode::NotAuthorized,
    );
}

#[test]
fn v5_mqtt_3_7_2_2_pubcomp_reason_string_dropped_to_fit() {
    fits_by_dropping(Packet::PubComp(pub_response(
        ReasonCode::PacketIdentifierNotFound,
    )));
}

#[test]
fn v5_mqtt_3_7_2_3_pubcomp_user_properties_dropped_to_fit() {
    fits_by_dropping(Packet::PubComp(pub_response(ReasonCode::Success)));
}

#[test]
fn v5_mqtt_3_8_1_1_subscribe_flags_are_0010() {
    let mut b = subscribe(0, b"a");
    b[0] = 0x83;
    refused(V, &b, "MQTT-3.8.1-1", MALFORMED);
}

#[test]
fn v5_mqtt_3_8_3_1_topic_filters_are_utf8() {
    refused(V, &subscribe(0, b"\xE2\x82"), "MQTT-3.8.3-1", MALFORMED);
}

#[test]
fn v5_mqtt_3_8_3_2_subscribe_needs_a_filter() {
    refused(
        V,
        &frame(0x82, &cat(&[&[0, 1], &props(b"")])),
        "MQTT-3.8.3-2",
        PROTOCOL,
    );
}

#[test]
fn v5_mqtt_3_8_3_4_no_local_on_shared_subscription_is_protocol_error() {
    refused(
        V,
        &subscribe(0x04, b"$share/g/a/b"),
        "MQTT-3.8.3-4",
        PROTOCOL,
    );
    let Packet::Subscribe(s) = ok(V, &subscribe(0x04, b"a/b")) else {
        panic!()
    };
    assert!(s.subscriptions[0].options.no_local);
}

#[test]
fn v5_mqtt_3_8_3_5_reserved_option_bits_are_malformed() {
    refused(V, &subscribe(0x40, b"a"), "MQTT-3.8.3-5", MALFORMED);
    refused(V, &subscribe(0x80, b"a"), "MQTT-3.8.3-5", MALFORMED);
    // Retain Handling 3 and QoS 3 are Protocol Errors (§3.8.3.1).
    assert!(err(V, &subscribe(0x30, b"a")).is_protocol_error());
    assert!(err(V, &subscribe(0x03, b"a")).is_protocol_error());
    let Packet::Subscribe(s) = ok(V, &subscribe(0x2E, b"a")) else {
        panic!()
    };
    let o = s.subscriptions[0].options;
    assert_eq!(
        (o.qos, o.no_local, o.retain_as_published, o.retain_handling),
        (QoS::ExactlyOnce, true, true, RetainHandling::DoNotSend)
    );
}

#[test]
fn v5_mqtt_3_9_2_1_suback_reason_string_dropped_to_fit() {
    fits_by_dropping(Packet::SubAck(suback(vec![ReasonCode::NotAuthorized])));
}

#[test]
fn v5_mqtt_3_9_2_2_suback_user_properties_dropped_to_fit() {
    fits_by_dropping(Packet::SubAck(suback(vec![
        ReasonCode::GrantedQoS1,
        ReasonCode::QuotaExceeded,
    ])));
}

#[test]
fn v5_mqtt_3_9_3_2_suback_uses_subscribe_reason_codes() {
    refused(
        V,
        &frame(0x90, &cat(&[&[0, 1], &props(b""), &[0x11]])),
        "MQTT-3.9.3-2",
        MALFORMED,
    );
    let p = Packet::SubAck(SubAck {
        packet_id: id(1),
        properties: AckProperties::default().into(),
        reason_codes: vec![ReasonCode::NoSubscriptionExisted],
    });
    assert!(matches!(enc_err(V, &p), EncodeError::Invalid { .. }));
}

#[test]
fn v5_mqtt_3_10_1_1_unsubscribe_flags_are_0010() {
    refused(
        V,
        &frame(0xA0, &cat(&[&[0, 1], &props(b""), &s(b"a")])),
        "MQTT-3.10.1-1",
        MALFORMED,
    );
}

#[test]
fn v5_mqtt_3_10_3_1_unsubscribe_filters_are_utf8() {
    refused(
        V,
        &frame(0xA2, &cat(&[&[0, 1], &props(b""), &s(b"\xFF")])),
        "MQTT-3.10.3-1",
        MALFORMED,
    );
    let Packet::Unsubscribe(u) = ok(
        V,
        &frame(
            0xA2,
            &cat(&[
                &[0, 1],
                &props(&user(b"k", b"v")),
                &s(b"a"),
                &s(b"$share/g/b/#"),
            ]),
        ),
    ) else {
        panic!()
    };
    assert_eq!(u.filters.len(), 2);
}

#[test]
fn v5_mqtt_3_10_3_2_unsubscribe_needs_a_filter() {
    refused(
        V,
        &frame(0xA2, &cat(&[&[0, 1], &props(b"")])),
        "MQTT-3.10.3-2",
        PROTOCOL,
    );
}

#[test]
fn v5_mqtt_3_11_2_1_unsuback_reason_string_dropped_to_fit() {
    fits_by_dropping(Packet::UnsubAck(unsuback(vec![
        ReasonCode::NoSubscriptionExisted,
    ])));
}

#[test]
fn v5_mqtt_3_11_2_2_unsuback_user_properties_dropped_to_fit() {
    fits_by_dropping(Packet::UnsubAck(unsuback(vec![ReasonCode::Success])));
}

#[test]
fn v5_mqtt_3_11_3_2_unsuback_uses_unsubscribe_reason_codes() {
    refused(
        V,
        &frame(0xB0, &cat(&[&[0, 1], &props(b""), &[0x01]])),
        "MQTT-3.11.3-2",
        MALFORMED,
    );
    let p = Packet::UnsubAck(UnsubAck {
        packet_id: id(1),
        properties: AckProperties::default().into(),
        reason_codes: vec![ReasonCode::GrantedQoS1],
    });
    assert!(matches!(enc_err(V, &p), EncodeError::Invalid { .. }));
}

#[test]
fn v5_mqtt_3_14_1_1_disconnect_reserved_bits_zero() {
    refused(V, &[0xE2, 0x00], "MQTT-3.14.1-1", MALFORMED);
}

#[test]
fn v5_mqtt_3_14_2_1_disconnect_uses_disconnect_reason_codes() {
    refused(V, &[0xE0, 0x01, 0x84], "MQTT-3.14.2-1", MALFORMED);
    // The codes a broker sends, each on the wire as one byte after the header.
    for code in [
        ReasonCode::SessionTakenOver,
        ReasonCode::ServerShuttingDown,
        ReasonCode::MalformedPacket,
        ReasonCode::ProtocolError,
        ReasonCode::ReceiveMaximumExceeded,
        ReasonCode::TopicAliasInvalid,
        ReasonCode::PacketTooLarge,
        ReasonCode::QuotaExceeded,
        ReasonCode::RetainNotSupported,
        ReasonCode::SharedSubscriptionsNotSupported,
    ] {
        let bytes = enc(V, &Packet::Disconnect(Disconnect::new(code)));
        assert_eq!(bytes, [0xE0, 0x01, u8::from(code)]);
        assert_eq!(ok(V, &bytes), Packet::Disconnect(Disconnect::new(code)));
    }
    assert_eq!(
        enc(V, &Packet::Disconnect(Disconnect::default())),
        [0xE0, 0x00]
    );
    assert!(matches!(
        enc_err(
            V,
            &Packet::Disconnect(Disconnect::new(ReasonCode::BadUserNameOrPassword))
        ),
        EncodeError::Invalid { .. }
    ));
}

#[test]
fn v5_mqtt_3_14_2_3_disconnect_reason_string_dropped_to_fit() {
    fits_by_dropping(disconnect());
}

#[test]
fn v5_mqtt_3_14_2_4_disconnect_user_properties_dropped_to_fit() {
    fits_by_dropping(disconnect());
}

#[test]
fn v5_mqtt_3_15_1_1_auth_reserved_bits_zero() {
    refused(V, &[0xF1, 0x00], "MQTT-3.15.1-1", MALFORMED);
    assert!(matches!(ok(V, &[0xF0, 0x00]), Packet::Auth(_)));
    // AUTH does not exist before 5.0.
    assert!(err(ProtocolVersion::V3_1_1, &[0xF0, 0x00]).is_malformed());
    assert!(matches!(
        enc_err(ProtocolVersion::V3_1_1, &Packet::Auth(Auth::default())),
        EncodeError::Unsupported { .. }
    ));
}

#[test]
fn v5_mqtt_3_15_2_1_auth_uses_authenticate_reason_codes() {
    refused(V, &[0xF0, 0x01, 0x87], "MQTT-3.15.2-1", MALFORMED);
    let bytes = frame(
        0xF0,
        &cat(&[
            &[0x18],
            &props(&cat(&[&[0x15], &s(b"SCRAM-SHA-1"), &[0x16], &s(b"data")])),
        ]),
    );
    let Packet::Auth(a) = ok(V, &bytes) else {
        panic!()
    };
    assert_eq!(
        (a.reason_code, a.properties.authentication_method.as_deref()),
        (ReasonCode::ContinueAuthentication, Some("SCRAM-SHA-1"))
    );
    assert_eq!(enc(V, &Packet::Auth(a)), bytes);
    // Authentication Data without a method is a Protocol Error.
    assert!(
        err(
            V,
            &frame(0xF0, &cat(&[&[0x18], &props(&cat(&[&[0x16], &s(b"d")]))]))
        )
        .is_protocol_error()
    );
}

#[test]
fn v5_mqtt_3_15_2_2_auth_reason_string_dropped_to_fit() {
    fits_by_dropping(auth());
}

#[test]
fn v5_mqtt_3_15_2_3_auth_user_properties_dropped_to_fit() {
    fits_by_dropping(auth());
}
