//! Proptest strategies for every packet of every version: arbitrary fields and
//! properties, restricted to what the version can carry.
// Test code: a panic is a failed test (clippy.toml allows this inside #[test] fns only).
#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    unreachable_pub
)]

use bytes::Bytes;
use mqtt_proto::*;
use proptest::collection::vec;
use proptest::option;
use proptest::prelude::*;

pub const VERSIONS: [ProtocolVersion; 3] = [
    ProtocolVersion::V3_1,
    ProtocolVersion::V3_1_1,
    ProtocolVersion::V5,
];

pub fn version() -> impl Strategy<Value = ProtocolVersion> {
    prop::sample::select(VERSIONS.to_vec())
}

/// Any MQTT string: any chars but U+0000 (BOM and non-ASCII included).
pub fn string() -> impl Strategy<Value = Utf8Bytes> {
    "[^\u{0}]{0,12}".prop_map(Utf8Bytes::from)
}

pub fn topic_name() -> impl Strategy<Value = Utf8Bytes> {
    "[a-zA-Z0-9/$é\u{FEFF} ]{1,16}".prop_map(Utf8Bytes::from)
}

pub fn topic_filter() -> impl Strategy<Value = Utf8Bytes> {
    (
        vec(
            prop_oneof![3 => "[a-z0-9é]{0,4}", 1 => Just("+".to_string())],
            1..5,
        ),
        any::<bool>(),
    )
        .prop_map(|(levels, hash)| {
            let mut f = levels.join("/");
            if hash {
                f.push_str("/#");
            }
            if f.is_empty() {
                f.push('e');
            }
            Utf8Bytes::from(f)
        })
}

pub fn binary() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..24).prop_map(Bytes::from)
}

pub fn payload() -> impl Strategy<Value = Bytes> {
    vec(any::<u8>(), 0..200).prop_map(Bytes::from)
}

pub fn packet_id() -> impl Strategy<Value = PacketId> {
    (1..=u16::MAX).prop_map(|v| PacketId::new(v).unwrap())
}

pub fn qos() -> impl Strategy<Value = QoS> {
    prop_oneof![
        Just(QoS::AtMostOnce),
        Just(QoS::AtLeastOnce),
        Just(QoS::ExactlyOnce)
    ]
}

pub fn user_properties() -> impl Strategy<Value = Vec<UserProperty>> {
    vec(
        (string(), string()).prop_map(|(n, v)| UserProperty { name: n, value: v }),
        0..3,
    )
}

fn nonzero_u16() -> impl Strategy<Value = u16> {
    1..=u16::MAX
}

fn nonzero_u32() -> impl Strategy<Value = u32> {
    1..=u32::MAX
}

fn sub_id() -> impl Strategy<Value = u32> {
    1..=varint::MAX
}

pub fn connect_properties() -> impl Strategy<Value = ConnectProperties> {
    (
        (
            option::of(any::<u32>()),
            option::of(nonzero_u16()),
            option::of(nonzero_u32()),
            option::of(any::<u16>()),
            option::of(any::<bool>()),
            option::of(any::<bool>()),
        ),
        option::of((string(), option::of(binary()))),
        user_properties(),
    )
        .prop_map(|((sei, rm, mps, tam, rri, rpi), auth, user)| {
            let (authentication_method, authentication_data) = match auth {
                Some((m, d)) => (Some(m), d),
                None => (None, None),
            };
            ConnectProperties {
                session_expiry_interval: sei,
                receive_maximum: rm,
                maximum_packet_size: mps,
                topic_alias_maximum: tam,
                request_response_information: rri,
                request_problem_information: rpi,
                authentication_method,
                authentication_data,
                user_properties: user,
            }
        })
}

pub fn will_properties() -> impl Strategy<Value = WillProperties> {
    (
        option::of(any::<u32>()),
        option::of(any::<bool>()),
        option::of(any::<u32>()),
        option::of(string()),
        option::of(topic_name()),
        option::of(binary()),
        user_properties(),
    )
        .prop_map(|(wdi, pfi, mei, ct, rt, cd, user)| WillProperties {
            will_delay_interval: wdi,
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            content_type: ct,
            response_topic: rt,
            correlation_data: cd,
            user_properties: user,
        })
}

pub fn connect(v: ProtocolVersion) -> impl Strategy<Value = Connect> {
    let v5 = v.is_v5();
    (
        (any::<bool>(), any::<u16>(), string()),
        option::of((
            topic_name(),
            payload(),
            qos(),
            any::<bool>(),
            will_properties(),
        )),
        option::of(string()),
        option::of(binary()),
        connect_properties(),
    )
        .prop_map(move |((clean, ka, id), will, user, pass, props)| Connect {
            protocol_version: v,
            clean_start: clean,
            keep_alive: ka,
            client_id: id,
            will: will.map(|(topic, payload, qos, retain, p)| Will {
                topic,
                payload,
                qos,
                retain,
                properties: if v5 { p } else { WillProperties::default() },
            }),
            password: if v5 || user.is_some() { pass } else { None },
            username: user,
            properties: if v5 {
                props
            } else {
                ConnectProperties::default()
            },
        })
}

fn reason_for(t: PacketType) -> impl Strategy<Value = ReasonCode> {
    let codes: Vec<ReasonCode> = ReasonCode::ALL
        .into_iter()
        .filter(|c| c.is_valid_for(t))
        .collect();
    prop::sample::select(codes)
}

pub fn connack_properties() -> impl Strategy<Value = ConnAckProperties> {
    (
        (
            option::of(any::<u32>()),
            option::of(nonzero_u16()),
            option::of(prop_oneof![Just(QoS::AtMostOnce), Just(QoS::AtLeastOnce)]),
            option::of(any::<bool>()),
            option::of(nonzero_u32()),
            option::of(string()),
            option::of(any::<u16>()),
            option::of(string()),
        ),
        (
            option::of(any::<bool>()),
            option::of(any::<bool>()),
            option::of(any::<bool>()),
            option::of(any::<u16>()),
            option::of(string()),
            option::of(string()),
            option::of((string(), option::of(binary()))),
        ),
        user_properties(),
    )
        .prop_map(
            |((sei, rm, mq, ra, mps, aci, tam, rs), (wsa, sia, ssa, ska, ri, sr, auth), user)| {
                let (am, ad) = match auth {
                    Some((m, d)) => (Some(m), d),
                    None => (None, None),
                };
                ConnAckProperties {
                    session_expiry_interval: sei,
                    receive_maximum: rm,
                    maximum_qos: mq,
                    retain_available: ra,
                    maximum_packet_size: mps,
                    assigned_client_identifier: aci,
                    topic_alias_maximum: tam,
                    reason_string: rs,
                    wildcard_subscription_available: wsa,
                    subscription_identifier_available: sia,
                    shared_subscription_available: ssa,
                    server_keep_alive: ska,
                    response_information: ri,
                    server_reference: sr,
                    authentication_method: am,
                    authentication_data: ad,
                    user_properties: user,
                }
            },
        )
}

pub fn connack(v: ProtocolVersion) -> BoxedStrategy<ConnAck> {
    if v.is_v5() {
        (
            any::<bool>(),
            reason_for(PacketType::ConnAck),
            connack_properties(),
        )
            .prop_map(|(sp, rc, properties)| ConnAck {
                session_present: sp && rc == ReasonCode::Success,
                reason_code: rc,
                properties,
            })
            .boxed()
    } else {
        (any::<bool>(), 0u8..=5)
            .prop_map(move |(sp, code)| {
                let rc = ConnAck::from_v3_return_code(code).unwrap();
                ConnAck {
                    session_present: sp
                        && rc == ReasonCode::Success
                        && v == ProtocolVersion::V3_1_1,
                    reason_code: rc,
                    properties: ConnAckProperties::default(),
                }
            })
            .boxed()
    }
}

pub fn publish_properties() -> impl Strategy<Value = PublishProperties> {
    (
        option::of(any::<bool>()),
        option::of(any::<u32>()),
        option::of(nonzero_u16()),
        option::of(topic_name()),
        option::of(binary()),
        option::of(string()),
        vec(sub_id(), 0..3),
        user_properties(),
    )
        .prop_map(|(pfi, mei, ta, rt, cd, ct, ids, user)| PublishProperties {
            payload_format_indicator: pfi,
            message_expiry_interval: mei,
            topic_alias: ta,
            response_topic: rt,
            correlation_data: cd,
            content_type: ct,
            subscription_identifiers: ids,
            user_properties: user,
        })
}

pub fn publish(v: ProtocolVersion) -> impl Strategy<Value = Publish> {
    let v5 = v.is_v5();
    (
        any::<bool>(),
        qos(),
        any::<bool>(),
        topic_name(),
        any::<bool>(),
        packet_id(),
        publish_properties(),
        payload(),
    )
        .prop_map(
            move |(dup, qos, retain, topic, empty_topic, id, props, payload)| {
                let properties = if v5 {
                    props
                } else {
                    PublishProperties::default()
                };
                let topic = if empty_topic && properties.topic_alias.is_some() {
                    Utf8Bytes::default()
                } else {
                    topic
                };
                Publish {
                    dup: dup && qos != QoS::AtMostOnce,
                    qos,
                    retain,
                    topic,
                    packet_id: (qos != QoS::AtMostOnce).then_some(id),
                    properties: properties.into(),
                    payload,
                }
            },
        )
}

pub fn ack_properties(v: ProtocolVersion) -> BoxedStrategy<AckProperties> {
    if v.is_v5() {
        (option::of(string()), user_properties())
            .prop_map(|(rs, user)| AckProperties {
                reason_string: rs,
                user_properties: user,
            })
            .boxed()
    } else {
        Just(AckProperties::default()).boxed()
    }
}

pub fn pub_response(v: ProtocolVersion, t: PacketType) -> impl Strategy<Value = PubResponse> {
    (packet_id(), reason_for(t), ack_properties(v)).prop_map(move |(id, rc, p)| PubResponse {
        packet_id: id,
        reason_code: if v.is_v5() { rc } else { ReasonCode::Success },
        properties: p.into(),
    })
}

pub fn subscribe(v: ProtocolVersion) -> impl Strategy<Value = Subscribe> {
    let v5 = v.is_v5();
    let sub = (
        topic_filter(),
        option::of("[a-z0-9]{1,4}"),
        qos(),
        any::<bool>(),
        any::<bool>(),
        0u8..3,
    )
        .prop_map(move |(filter, share, qos, nl, rap, rh)| {
            let shared = v5 && share.is_some();
            let filter = match share {
                Some(g) if v5 => Utf8Bytes::from(format!("$share/{g}/{filter}")),
                _ => filter,
            };
            Subscription {
                filter,
                options: SubscriptionOptions {
                    qos,
                    no_local: v5 && nl && !shared,
                    retain_as_published: v5 && rap,
                    retain_handling: if v5 {
                        [
                            RetainHandling::SendAtSubscribe,
                            RetainHandling::SendIfNew,
                            RetainHandling::DoNotSend,
                        ][rh as usize]
                    } else {
                        RetainHandling::SendAtSubscribe
                    },
                },
            }
        });
    (
        packet_id(),
        option::of(sub_id()),
        user_properties(),
        vec(sub, 1..4),
    )
        .prop_map(move |(id, sid, user, subscriptions)| Subscribe {
            packet_id: id,
            properties: if v5 {
                SubscribeProperties {
                    subscription_identifier: sid,
                    user_properties: user,
                }
                .into()
            } else {
                SubscribeProperties::default().into()
            },
            subscriptions,
        })
}

pub fn suback(v: ProtocolVersion) -> impl Strategy<Value = SubAck> {
    let codes = if v.is_v5() {
        reason_for(PacketType::SubAck).boxed()
    } else {
        prop::sample::select(vec![
            ReasonCode::Success,
            ReasonCode::GrantedQoS1,
            ReasonCode::GrantedQoS2,
            ReasonCode::UnspecifiedError,
        ])
        .boxed()
    };
    (packet_id(), ack_properties(v), vec(codes, 1..5)).prop_map(|(id, p, codes)| SubAck {
        packet_id: id,
        properties: p.into(),
        reason_codes: codes,
    })
}

pub fn unsubscribe(v: ProtocolVersion) -> impl Strategy<Value = Unsubscribe> {
    let v5 = v.is_v5();
    (packet_id(), user_properties(), vec(topic_filter(), 1..4)).prop_map(
        move |(id, user, filters)| Unsubscribe {
            packet_id: id,
            properties: UnsubscribeProperties {
                user_properties: if v5 { user } else { Vec::new() },
            }
            .into(),
            filters,
        },
    )
}

pub fn unsuback(v: ProtocolVersion) -> impl Strategy<Value = UnsubAck> {
    let v5 = v.is_v5();
    (
        packet_id(),
        ack_properties(v),
        vec(reason_for(PacketType::UnsubAck), 0..4),
    )
        .prop_map(move |(id, p, codes)| UnsubAck {
            packet_id: id,
            properties: p.into(),
            reason_codes: if v5 { codes } else { Vec::new() },
        })
}

pub fn disconnect(v: ProtocolVersion) -> BoxedStrategy<Disconnect> {
    if v.is_v5() {
        (
            reason_for(PacketType::Disconnect),
            option::of(any::<u32>()),
            option::of(string()),
            option::of(string()),
            user_properties(),
        )
            .prop_map(|(rc, sei, rs, sr, user)| Disconnect {
                reason_code: rc,
                properties: DisconnectProperties {
                    session_expiry_interval: sei,
                    reason_string: rs,
                    server_reference: sr,
                    user_properties: user,
                }
                .into(),
            })
            .boxed()
    } else {
        Just(Disconnect::default()).boxed()
    }
}

pub fn auth() -> impl Strategy<Value = Auth> {
    (
        reason_for(PacketType::Auth),
        option::of((string(), option::of(binary()))),
        option::of(string()),
        user_properties(),
    )
        .prop_map(|(rc, a, rs, user)| {
            let (m, d) = match a {
                Some((m, d)) => (Some(m), d),
                None => (None, None),
            };
            Auth {
                reason_code: rc,
                properties: AuthProperties {
                    authentication_method: m,
                    authentication_data: d,
                    reason_string: rs,
                    user_properties: user,
                }
                .into(),
            }
        })
}

/// Any packet that `v` can carry.
pub fn packet(v: ProtocolVersion) -> BoxedStrategy<Packet> {
    let mut s = prop_oneof![
        connect(v).prop_map(|c| Packet::Connect(Box::new(c))),
        connack(v).prop_map(|c| Packet::ConnAck(Box::new(c))),
        publish(v).prop_map(Packet::Publish),
        pub_response(v, PacketType::PubAck).prop_map(Packet::PubAck),
        pub_response(v, PacketType::PubRec).prop_map(Packet::PubRec),
        pub_response(v, PacketType::PubRel).prop_map(Packet::PubRel),
        pub_response(v, PacketType::PubComp).prop_map(Packet::PubComp),
        subscribe(v).prop_map(Packet::Subscribe),
        suback(v).prop_map(Packet::SubAck),
        unsubscribe(v).prop_map(Packet::Unsubscribe),
        unsuback(v).prop_map(Packet::UnsubAck),
        Just(Packet::PingReq),
        Just(Packet::PingResp),
        disconnect(v).prop_map(Packet::Disconnect),
    ]
    .boxed();
    if v.is_v5() {
        s = prop_oneof![14 => s, 1 => auth().prop_map(Packet::Auth)].boxed();
    }
    s
}

/// A version and a packet it can carry.
pub fn versioned_packet() -> impl Strategy<Value = (ProtocolVersion, Packet)> {
    version().prop_flat_map(|v| packet(v).prop_map(move |p| (v, p)))
}
