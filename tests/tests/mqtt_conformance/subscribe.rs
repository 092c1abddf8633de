//! SUBSCRIBE, SUBACK, UNSUBSCRIBE, UNSUBACK and overlapping subscriptions (MQTT 5.0
//! §3.8 ... §3.11, §3.3.4; 3.1.1 §3.8 ... §3.11, §3.3.5).

use mqtt_proto::{Packet, ProtocolVersion, QoS, ReasonCode, Subscribe, Subscription, Unsubscribe};
use realtime_server::broker::BrokerConfig;
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::TestClient;

use crate::common::{BOTH, V5, V311, cid, drain, message, opts, pid, subscribe_packet};

/// The SUBACK code granting `qos`.
fn granted(qos: QoS) -> ReasonCode {
    match qos {
        QoS::AtMostOnce => ReasonCode::Success,
        QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
        QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
    }
}

/// The failure code of a SUBACK in `version` (3.1.1 has one: 0x80).
fn refused(version: ProtocolVersion) -> ReasonCode {
    if version.is_v5() {
        ReasonCode::TopicFilterInvalid
    } else {
        ReasonCode::UnspecifiedError
    }
}

/// 5.0 MQTT-2.2.1-6, MQTT-3.8.4-2, MQTT-3.10.4-5 and 3.1.1 MQTT-2.3.1-7,
/// MQTT-3.8.4-2, MQTT-3.10.4-4: SUBACK and UNSUBACK carry the Packet Identifier of
/// the SUBSCRIBE and UNSUBSCRIBE they answer.
#[tokio::test]
async fn mqtt_2_2_1_6_suback_and_unsuback_carry_the_packet_id() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let mut c = TestClient::connect(server.mqtt, version, &cid("subid", version)).await;
        for n in [1u16, 0x8000, 0xFFFF, 2] {
            c.send(&subscribe_packet(n, &[("subid/x", QoS::AtLeastOnce)]))
                .await;
            match c.recv().await {
                Packet::SubAck(a) => assert_eq!(a.packet_id.get(), n, "{version}"),
                other => panic!("{version}: expected SUBACK {n}, got {other:?}"),
            }
            c.send(&Packet::Unsubscribe(Unsubscribe {
                packet_id: pid(n),
                properties: Default::default(),
                filters: vec!["subid/x".into()],
            }))
            .await;
            match c.recv().await {
                Packet::UnsubAck(a) => assert_eq!(a.packet_id.get(), n, "{version}"),
                other => panic!("{version}: expected UNSUBACK {n}, got {other:?}"),
            }
        }
    }
}

/// 5.0 MQTT-3.8.4-1, MQTT-3.8.4-5, MQTT-3.8.4-6, MQTT-3.8.4-7, MQTT-3.9.3-1 and
/// 3.1.1 MQTT-3.8.4-1, MQTT-3.8.4-4, MQTT-3.8.4-5, MQTT-3.9.3-1: a SUBSCRIBE with
/// several filters is answered by one SUBACK with one code per filter, in their
/// order, each the QoS granted (capped by the server's maximum) or a failure; the
/// filters act as if subscribed one by one.
#[tokio::test]
async fn mqtt_3_8_4_5_one_suback_code_per_filter_in_order() {
    let config = BrokerConfig {
        max_qos: QoS::AtLeastOnce,
        max_topic_levels: 4,
        ..Default::default()
    };
    let server = InProcessServer::start_with(config).await;
    let mut p = TestClient::connect(server.mqtt, V5, "multi-pub").await;
    for version in BOTH {
        let l = version.level();
        let mut c = TestClient::connect(server.mqtt, version, &cid("multi", version)).await;
        let (f2, f0, bad, f1) = (
            format!("multi/{l}/two"),
            format!("multi/{l}/zero"),
            format!("multi/{l}/a/b/c"),
            format!("multi/{l}/one"),
        );
        c.send(&subscribe_packet(
            77,
            &[
                (&f2, QoS::ExactlyOnce),
                (&f0, QoS::AtMostOnce),
                (&bad, QoS::AtMostOnce),
                (&f1, QoS::AtLeastOnce),
            ],
        ))
        .await;
        match c.recv().await {
            Packet::SubAck(a) => assert_eq!(
                a.reason_codes,
                [
                    granted(QoS::AtLeastOnce),
                    granted(QoS::AtMostOnce),
                    refused(version),
                    granted(QoS::AtLeastOnce),
                ],
                "{version}"
            ),
            other => panic!("{version}: expected one SUBACK, got {other:?}"),
        }
        assert!(drain(&mut c).await.is_empty(), "{version}: one SUBACK only");
        for (topic, want) in [
            (&f2, QoS::AtLeastOnce),
            (&f0, QoS::AtMostOnce),
            (&f1, QoS::AtLeastOnce),
        ] {
            p.publish(topic, b"x", QoS::AtLeastOnce, false).await;
            let got = c.recv_publish().await;
            assert_eq!(
                (got.topic.as_str(), got.qos),
                (topic.as_str(), want),
                "{version}"
            );
            c.ack(&got).await;
        }
    }
}

/// 5.0 MQTT-3.8.4-3, MQTT-3.8.4-4 and 3.1.1 MQTT-3.8.4-3: a SUBSCRIBE with the
/// filter of an existing subscription replaces it (one subscription, the new QoS
/// and Subscription Identifier) and, with Retain Handling 0, the retained messages
/// are sent again.
#[tokio::test]
async fn mqtt_3_8_4_3_same_filter_replaces_the_subscription() {
    let server = InProcessServer::start().await;
    let mut p = TestClient::connect(server.mqtt, V5, "replace-pub").await;
    p.publish("replace/x", b"kept", QoS::AtLeastOnce, true)
        .await;
    for version in BOTH {
        let mut c = TestClient::connect(server.mqtt, version, &cid("replacer", version)).await;
        for (qos, sub_id) in [(QoS::AtMostOnce, 5u32), (QoS::ExactlyOnce, 6)] {
            let mut sub = Subscribe {
                packet_id: pid(1),
                properties: Default::default(),
                subscriptions: vec![Subscription::new("replace/x", qos)],
            };
            if version.is_v5() {
                sub.properties.subscription_identifier = Some(sub_id);
            }
            c.send(&Packet::Subscribe(sub)).await;
            assert!(matches!(c.recv().await, Packet::SubAck(_)));
            let again = c.recv_publish().await;
            assert!(again.retain && &again.payload[..] == b"kept", "{version}");
            c.ack(&again).await;
        }
        p.publish("replace/x", b"live", QoS::ExactlyOnce, false)
            .await;
        let got = c.recv_publish().await;
        assert_eq!(got.qos, QoS::ExactlyOnce, "{version}: the new QoS");
        if version.is_v5() {
            assert!(got.properties.subscription_identifiers().eq([6]));
        }
        c.ack(&got).await;
        assert!(
            drain(&mut c).await.is_empty(),
            "{version}: one subscription"
        );
    }
}

/// 5.0 MQTT-3.8.4-4 and 3.1.1 MQTT-3.8.4-3: replacing a subscription loses no
/// message: messages queued for it behind a full in-flight window are all
/// delivered after the SUBSCRIBE that replaces it.
#[tokio::test]
async fn mqtt_3_8_4_4_replacing_a_subscription_loses_no_message() {
    let config = BrokerConfig {
        max_inflight: 1,
        ..Default::default()
    };
    let server = InProcessServer::start_with(config).await;
    let mut p = TestClient::connect(server.mqtt, V5, "flowing-pub").await;
    for version in BOTH {
        let topic = format!("flowing/{}", version.level());
        let mut c = TestClient::connect(server.mqtt, version, &cid("flowing", version)).await;
        c.subscribe(&topic, QoS::AtLeastOnce).await;
        for n in 0..5u8 {
            p.publish(&topic, &[n], QoS::AtLeastOnce, false).await;
        }
        let first = c.recv_publish().await;
        c.subscribe(&topic, QoS::AtLeastOnce).await;
        c.ack(&first).await;
        let mut got = vec![first.payload[0]];
        while got.len() < 5 {
            let m = c.recv_publish().await;
            got.push(m.payload[0]);
            c.ack(&m).await;
        }
        assert_eq!(got, [0, 1, 2, 3, 4], "{version}");
    }
}

/// 5.0 MQTT-3.3.4-2, MQTT-3.3.4-3, MQTT-3.3.4-4: overlapping subscriptions of one
/// client give one PUBLISH at the highest of their QoS, carrying the Subscription
/// Identifier of every matching subscription that has one.
#[tokio::test]
async fn mqtt_3_3_4_2_overlapping_subscriptions_one_copy_at_the_highest_qos() {
    let server = InProcessServer::start().await;
    let mut c = TestClient::connect(server.mqtt, V5, "overlap").await;
    for (n, filter, qos, id) in [
        (1, "ov/+", QoS::AtMostOnce, Some(7u32)),
        (2, "ov/#", QoS::ExactlyOnce, Some(9)),
        (3, "ov/a", QoS::AtLeastOnce, None),
        (4, "+/a", QoS::AtMostOnce, Some(11)),
    ] {
        let mut sub = Subscribe {
            packet_id: pid(n),
            properties: Default::default(),
            subscriptions: vec![Subscription {
                filter: filter.into(),
                options: opts(qos),
            }],
        };
        sub.properties.subscription_identifier = id;
        c.send(&Packet::Subscribe(sub)).await;
        assert!(matches!(c.recv().await, Packet::SubAck(_)));
    }
    let mut p = TestClient::connect(server.mqtt, V5, "overlap-pub").await;
    p.publish("ov/a", b"x", QoS::ExactlyOnce, false).await;
    let got = c.recv_publish().await;
    assert_eq!(got.qos, QoS::ExactlyOnce);
    let mut ids: Vec<u32> = got.properties.subscription_identifiers().collect();
    ids.sort_unstable();
    assert_eq!(ids, [7, 9, 11]);
    c.ack(&got).await;
    assert!(drain(&mut c).await.is_empty(), "one copy");
}

/// 5.0 MQTT-3.3.4-5: when the server sends one client several copies of a
/// message — here for a plain and a shared subscription — each carries the
/// Subscription Identifier of its own subscription.
#[tokio::test]
async fn mqtt_3_3_4_5_each_copy_carries_its_subscription_identifier() {
    let server = InProcessServer::start().await;
    let mut c = TestClient::connect(server.mqtt, V5, "copies").await;
    for (n, filter, id) in [(1, "copies/x", 5u32), (2, "$share/g/copies/+", 6)] {
        let mut sub = Subscribe {
            packet_id: pid(n),
            properties: Default::default(),
            subscriptions: vec![Subscription::new(filter, QoS::AtMostOnce)],
        };
        sub.properties.subscription_identifier = Some(id);
        c.send(&Packet::Subscribe(sub)).await;
        assert!(matches!(c.recv().await, Packet::SubAck(_)));
    }
    let mut p = TestClient::connect(server.mqtt, V5, "copies-pub").await;
    p.publish("copies/x", b"x", QoS::AtMostOnce, false).await;
    let mut ids: Vec<Vec<u32>> = Vec::new();
    for packet in drain(&mut c).await {
        let Packet::Publish(m) = packet else {
            panic!("{packet:?}")
        };
        ids.push(m.properties.into_properties().subscription_identifiers);
    }
    ids.sort();
    assert_eq!(ids, [vec![5], vec![6]]);
}

/// 3.1.1 MQTT-3.3.5-1: overlapping subscriptions deliver the message at the
/// highest QoS among them (this server sends one copy).
#[tokio::test]
async fn mqtt_3_3_5_1_v311_overlapping_subscriptions_at_the_highest_qos() {
    let server = InProcessServer::start().await;
    let mut c = TestClient::connect(server.mqtt, V311, "overlap3").await;
    c.subscribe("ov3/+", QoS::AtMostOnce).await;
    c.subscribe("ov3/#", QoS::AtLeastOnce).await;
    c.subscribe("ov3/a", QoS::AtMostOnce).await;
    let mut p = TestClient::connect(server.mqtt, V311, "overlap3-pub").await;
    p.publish("ov3/a", b"x", QoS::ExactlyOnce, false).await;
    let got = c.recv_publish().await;
    assert_eq!(got.qos, QoS::AtLeastOnce);
    c.ack(&got).await;
    assert!(drain(&mut c).await.is_empty());
}

/// 3.1.1 MQTT-3.8.3-2: this server supports wildcard filters: they are granted
/// (not refused) and deliver what they match.
#[tokio::test]
async fn mqtt_3_8_3_2_wildcard_filters_are_supported() {
    let server = InProcessServer::start().await;
    let mut c = TestClient::connect(server.mqtt, V311, "wild").await;
    for filter in ["wild/+/x", "wild/#", "#", "+"] {
        let ack = c.subscribe(filter, QoS::AtLeastOnce).await;
        assert_eq!(ack.reason_codes, [ReasonCode::GrantedQoS1], "{filter}");
    }
    let mut p = TestClient::connect(server.mqtt, V311, "wild-pub").await;
    p.publish("wild/a/x", b"x", QoS::AtLeastOnce, false).await;
    assert_eq!(c.recv_publish().await.topic.as_str(), "wild/a/x");
}

/// 5.0 MQTT-3.10.4-1, MQTT-3.10.4-2 and 3.1.1 MQTT-3.10.4-1, MQTT-3.10.4-2:
/// UNSUBSCRIBE compares its filters character by character with the client's
/// subscriptions: an exact match is deleted (no new messages through it), a filter
/// that only overlaps or matches by wildcard deletes nothing.
#[tokio::test]
async fn mqtt_3_10_4_1_unsubscribe_deletes_exact_matches_only() {
    let server = InProcessServer::start().await;
    let mut p = TestClient::connect(server.mqtt, V5, "unsub-pub").await;
    for version in BOTH {
        let mut c = TestClient::connect(server.mqtt, version, &cid("unsub", version)).await;
        let l = version.level();
        let plus = format!("un/{l}/+");
        let exact = format!("un/{l}/x");
        c.subscribe(&plus, QoS::AtMostOnce).await;
        for filter in [
            exact.as_str(),
            "un/#",
            &format!("un/{l}/#"),
            &format!("UN/{l}/+"),
        ] {
            c.unsubscribe(filter).await;
        }
        p.publish(&exact, b"still", QoS::AtMostOnce, false).await;
        assert_eq!(&c.recv_publish().await.payload[..], b"still", "{version}");
        c.unsubscribe(&plus).await;
        p.publish(&exact, b"gone", QoS::AtMostOnce, false).await;
        assert!(drain(&mut c).await.is_empty(), "{version}: deleted");
    }
}

/// 5.0 MQTT-3.10.4-3 and 3.1.1 MQTT-3.10.4-3: after UNSUBSCRIBE the server
/// completes the QoS 1 and QoS 2 deliveries it had started for that filter.
#[tokio::test]
async fn mqtt_3_10_4_3_unsubscribe_completes_started_deliveries() {
    let server = InProcessServer::start().await;
    let mut p = TestClient::connect(server.mqtt, V5, "finish-pub").await;
    for version in BOTH {
        let topic = format!("finish/{}", version.level());
        let mut c = TestClient::connect(server.mqtt, version, &cid("finish", version)).await;
        c.subscribe(&topic, QoS::ExactlyOnce).await;
        p.publish(&topic, b"1", QoS::AtLeastOnce, false).await;
        p.publish(&topic, b"2", QoS::ExactlyOnce, false).await;
        let q1 = c.recv_publish().await;
        let q2 = c.recv_publish().await;
        assert!(matches!(c.unsubscribe(&topic).await, Packet::UnsubAck(_)));
        c.ack(&q1).await;
        c.send(&Packet::PubRec(mqtt_proto::PubResponse::new(
            q2.packet_id.unwrap(),
        )))
        .await;
        match c.recv().await {
            Packet::PubRel(r) => {
                assert_eq!(r.packet_id, q2.packet_id.unwrap());
                assert_eq!(r.reason_code, ReasonCode::Success, "{version}: still known");
            }
            other => panic!("{version}: expected PUBREL, got {other:?}"),
        }
        c.send(&Packet::PubComp(mqtt_proto::PubResponse::new(
            q2.packet_id.unwrap(),
        )))
        .await;
        p.publish(&topic, b"3", QoS::AtLeastOnce, false).await;
        assert!(drain(&mut c).await.is_empty(), "{version}");
    }
}

/// 5.0 MQTT-3.10.4-4, MQTT-3.10.4-5, MQTT-3.10.4-6, MQTT-3.11.3-1 and 3.1.1
/// MQTT-3.10.4-4, MQTT-3.10.4-5, MQTT-3.10.4-6: every UNSUBSCRIBE gets one
/// UNSUBACK with its Packet Identifier — even when nothing was deleted — and
/// several filters are handled one by one (5.0: one Reason Code each, in order).
#[tokio::test]
async fn mqtt_3_10_4_4_one_unsuback_for_every_unsubscribe() {
    let server = InProcessServer::start().await;
    let mut p = TestClient::connect(server.mqtt, V5, "unsubs-pub").await;
    for version in BOTH {
        let l = version.level();
        let mut c = TestClient::connect(server.mqtt, version, &cid("unsubs", version)).await;
        let (a, b, never) = (
            format!("us/{l}/a"),
            format!("us/{l}/b"),
            format!("us/{l}/never"),
        );
        c.subscribe(&a, QoS::AtMostOnce).await;
        c.subscribe(&b, QoS::AtMostOnce).await;
        c.send(&Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(300),
            properties: Default::default(),
            filters: vec![a.clone().into(), never.clone().into(), b.clone().into()],
        }))
        .await;
        match c.recv().await {
            Packet::UnsubAck(u) => {
                assert_eq!(u.packet_id.get(), 300);
                if version.is_v5() {
                    assert_eq!(
                        u.reason_codes,
                        [
                            ReasonCode::Success,
                            ReasonCode::NoSubscriptionExisted,
                            ReasonCode::Success
                        ]
                    );
                }
            }
            other => panic!("{version}: expected UNSUBACK, got {other:?}"),
        }
        c.send(&Packet::Unsubscribe(Unsubscribe {
            packet_id: pid(301),
            properties: Default::default(),
            filters: vec![never.into()],
        }))
        .await;
        assert!(matches!(c.recv().await, Packet::UnsubAck(u) if u.packet_id.get() == 301));
        for t in [&a, &b] {
            p.publish(t, b"x", QoS::AtMostOnce, false).await;
        }
        assert!(drain(&mut c).await.is_empty(), "{version}: both deleted");
    }
}

/// 5.0 MQTT-3.8.3-3 (see also `mqtt_delivery.rs`): with No Local, a message is not
/// sent back to a connection with the publisher's ClientID — nor to its next
/// connection — while other clients' messages are.
#[tokio::test]
async fn mqtt_3_8_3_3_no_local_across_connections() {
    let server = InProcessServer::start().await;
    let no_local = mqtt_proto::SubscriptionOptions {
        no_local: true,
        ..opts(QoS::AtLeastOnce)
    };
    let (mut c, _) =
        TestClient::connect_with(server.mqtt, crate::common::persistent(V5, "self", 300)).await;
    c.subscribe_with("self/#", no_local).await;
    c.publish("self/a", b"mine", QoS::AtLeastOnce, false).await;
    assert!(drain(&mut c).await.is_empty());
    c.disconnect().await;
    let (mut c, _) =
        TestClient::connect_with(server.mqtt, crate::common::persistent(V5, "self", 300)).await;
    let mut m = message("self/b", b"mine again", QoS::AtMostOnce);
    m.retain = false;
    c.publish_packet(m).await;
    let mut other = TestClient::connect(server.mqtt, V311, "not-self").await;
    other
        .publish("self/c", b"theirs", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(&c.recv_publish().await.payload[..], b"theirs");
    assert!(drain(&mut c).await.is_empty());
}
