//! Packet identifiers and the QoS 0/1/2 delivery protocols, both ways; resending
//! on reconnect; ordering (MQTT 5.0 §2.2.1, §4.3, §4.4, §4.5, §4.6; 3.1.1 §2.3.1,
//! §4.3 ... §4.6).

use std::collections::HashSet;
use std::time::Duration;

use mqtt_proto::{Packet, PacketId, PubResponse, Publish, QoS, ReasonCode};
use realtime_server::broker::BrokerConfig;
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::TestClient;

use crate::common::{BOTH, QUIET, V5, cid, drain, message, persistent, pid};

/// 5.0 MQTT-2.2.1-4, MQTT-4.3.2-1, MQTT-4.3.3-1 and 3.1.1 MQTT-2.3.1-4,
/// MQTT-4.3.2-1, MQTT-4.3.3-1: every QoS 1 and QoS 2 PUBLISH the server sends
/// carries a non-zero Packet Identifier that no other unacknowledged PUBLISH to
/// that client uses.
#[tokio::test]
async fn mqtt_2_2_1_4_server_packet_ids_are_non_zero_and_unused() {
    let server = InProcessServer::start().await;
    let mut publisher = TestClient::connect(server.mqtt, V5, "ids-pub").await;
    for version in BOTH {
        let mut s = TestClient::connect(server.mqtt, version, &cid("ids-sub", version)).await;
        let topic = format!("ids/{}", version.level());
        s.subscribe(&topic, QoS::ExactlyOnce).await;
        let mut in_flight: Vec<Publish> = Vec::new();
        for round in 0..4 {
            for i in 0..10 {
                let qos = if i % 2 == 0 {
                    QoS::AtLeastOnce
                } else {
                    QoS::ExactlyOnce
                };
                publisher.publish(&topic, b"x", qos, false).await;
            }
            for _ in 0..10 {
                let p = s.recv_publish().await;
                let id = p.packet_id.expect("QoS > 0 has a Packet Identifier");
                assert_ne!(id.get(), 0);
                assert!(
                    in_flight.iter().all(|q| q.packet_id != Some(id)),
                    "{version} round {round}: {id} is still in use"
                );
                in_flight.push(p);
            }
            // Acknowledge every other one: their identifiers may come back.
            let mut keep = Vec::new();
            for (n, p) in in_flight.into_iter().enumerate() {
                if n % 2 == 0 {
                    s.ack(&p).await;
                } else {
                    keep.push(p);
                }
            }
            in_flight = keep;
        }
        let ids: HashSet<_> = in_flight.iter().map(|p| p.packet_id).collect();
        assert_eq!(ids.len(), in_flight.len());
    }
}

/// 5.0 MQTT-2.2.1-5, MQTT-4.3.2-4, MQTT-4.3.3-4, MQTT-4.3.3-8, MQTT-4.3.3-11 and
/// 3.1.1 MQTT-2.3.1-6, MQTT-4.3.2-2, MQTT-4.3.3-2: PUBACK, PUBREC and PUBCOMP
/// carry the Packet Identifier of the client's PUBLISH (and PUBREL); the PUBREL
/// the server sends carries that of its own PUBLISH.
#[tokio::test]
async fn mqtt_2_2_1_5_acknowledgements_carry_the_packet_id() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let mut s = TestClient::connect(server.mqtt, version, &cid("ackid-sub", version)).await;
        let topic = format!("ackid/{}", version.level());
        s.subscribe(&topic, QoS::ExactlyOnce).await;
        let mut c = TestClient::connect(server.mqtt, version, &cid("ackid-pub", version)).await;
        for (n, qos) in [
            (0x1234, QoS::AtLeastOnce),
            (0xFFFF, QoS::ExactlyOnce),
            (1, QoS::AtLeastOnce),
        ] {
            let mut m = message(&topic, b"x", qos);
            m.packet_id = Some(pid(n));
            c.send(&Packet::Publish(m)).await;
            match (qos, c.recv().await) {
                (QoS::AtLeastOnce, Packet::PubAck(a)) => assert_eq!(a.packet_id.get(), n),
                (QoS::ExactlyOnce, Packet::PubRec(a)) => {
                    assert_eq!(a.packet_id.get(), n);
                    c.send(&Packet::PubRel(PubResponse::new(pid(n)))).await;
                    match c.recv().await {
                        Packet::PubComp(a) => assert_eq!(a.packet_id.get(), n),
                        other => panic!("expected PUBCOMP {n}, got {other:?}"),
                    }
                }
                (_, other) => panic!("{version}: {qos:?} {n} answered with {other:?}"),
            }
            let got = s.recv_publish().await;
            if got.qos == QoS::ExactlyOnce {
                let id = got.packet_id.unwrap();
                s.send(&Packet::PubRec(PubResponse::new(id))).await;
                match s.recv().await {
                    Packet::PubRel(r) => assert_eq!(r.packet_id, id),
                    other => panic!("{version}: expected PUBREL {id}, got {other:?}"),
                }
                s.send(&Packet::PubComp(PubResponse::new(id))).await;
            } else {
                s.ack(&got).await;
            }
        }
    }
}

/// 5.0 MQTT-3.3.4-1 and 3.1.1 MQTT-3.3.4-1: a PUBLISH is answered as its QoS
/// says: nothing for QoS 0, PUBACK for QoS 1, PUBREC for QoS 2.
#[tokio::test]
async fn mqtt_3_3_4_1_publish_answered_as_its_qos_says() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let mut c = TestClient::connect(server.mqtt, version, &cid("answer", version)).await;
        c.send(&Packet::Publish(message("answer/x", b"0", QoS::AtMostOnce)))
            .await;
        for (n, qos) in [(5, QoS::AtLeastOnce), (6, QoS::ExactlyOnce)] {
            let mut m = message("answer/x", b"x", qos);
            m.packet_id = Some(pid(n));
            c.send(&Packet::Publish(m)).await;
        }
        let got = drain(&mut c).await;
        assert!(
            matches!(got.as_slice(), [Packet::PubAck(a), Packet::PubRec(r)] if a.packet_id.get() == 5 && r.packet_id.get() == 6),
            "{version}: {got:?}"
        );
    }
}

/// 5.0 MQTT-4.3.1-1 and 3.1.1 MQTT-4.3.1-1: a QoS 0 message goes out as a PUBLISH
/// with QoS 0 and DUP 0 (and no Packet Identifier), even to a QoS 2 subscription.
#[tokio::test]
async fn mqtt_4_3_1_1_qos0_sent_with_qos0_and_dup0() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let mut s = TestClient::connect(server.mqtt, version, &cid("q0", version)).await;
        s.subscribe("q0/x", QoS::ExactlyOnce).await;
        let mut p = TestClient::connect(server.mqtt, version, &cid("q0-pub", version)).await;
        let mut m = message("q0/x", b"x", QoS::AtMostOnce);
        m.dup = false;
        p.publish_packet(m).await;
        let got = s.recv_publish().await;
        assert_eq!(
            (got.qos, got.dup, got.packet_id),
            (QoS::AtMostOnce, false, None)
        );
    }
}

/// 5.0 MQTT-4.3.2-2, MQTT-4.3.2-3, MQTT-4.4.0-1 and 3.1.1 MQTT-4.3.2-1,
/// MQTT-4.4.0-1: a QoS 1 PUBLISH goes out with DUP 0 and stays unacknowledged until
/// its PUBACK: on reconnect the server resends exactly the unacknowledged ones,
/// with their original Packet Identifiers, and never resends while connected.
#[tokio::test]
async fn mqtt_4_3_2_3_qos1_unacknowledged_until_puback() {
    let server = InProcessServer::start().await;
    let mut publisher = TestClient::connect(server.mqtt, V5, "q1-pub").await;
    for version in BOTH {
        let id = cid("q1-sub", version);
        let topic = format!("q1/{}", version.level());
        let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        s.subscribe(&topic, QoS::AtLeastOnce).await;
        for n in 0..3u8 {
            publisher
                .publish(&topic, &[n], QoS::AtLeastOnce, false)
                .await;
        }
        let sent: Vec<Publish> = [
            s.recv_publish().await,
            s.recv_publish().await,
            s.recv_publish().await,
        ]
        .into();
        assert!(sent.iter().all(|p| !p.dup && p.qos == QoS::AtLeastOnce));
        s.ack(&sent[1]).await;
        assert!(
            drain(&mut s).await.is_empty(),
            "{version}: no resend while connected"
        );
        s.drop_connection();
        let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        for n in [0, 2] {
            let again = s.recv_publish().await;
            assert_eq!(
                (again.packet_id, again.dup),
                (sent[n].packet_id, true),
                "{version}"
            );
            assert_eq!(again.payload, sent[n].payload);
            s.ack(&again).await;
        }
        assert!(
            drain(&mut s).await.is_empty(),
            "{version}: acknowledged ones stay done"
        );
        s.drop_connection();
        let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        assert!(
            drain(&mut s).await.is_empty(),
            "{version}: nothing left to resend"
        );
    }
}

/// 5.0 MQTT-4.3.2-5 and 3.1.1 MQTT-4.3.2-2: after the PUBACK, a PUBLISH with the
/// same Packet Identifier is a new message, even with DUP 1.
#[tokio::test]
async fn mqtt_4_3_2_5_same_packet_id_after_puback_is_a_new_message() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let mut s = TestClient::connect(server.mqtt, version, &cid("again-sub", version)).await;
        s.subscribe("again/x", QoS::AtLeastOnce).await;
        let mut c = TestClient::connect(server.mqtt, version, &cid("again-pub", version)).await;
        for (payload, dup) in [(b"first", false), (b"secnd", true)] {
            let mut m = message("again/x", payload, QoS::AtLeastOnce);
            m.packet_id = Some(pid(7));
            m.dup = dup;
            c.publish_packet(m).await;
            let got = s.recv_publish().await;
            assert_eq!(&got.payload[..], payload, "{version}");
            s.ack(&got).await;
        }
    }
}

/// Receives the next packet, which must be a PUBREL for `id`.
async fn expect_pubrel(c: &mut TestClient, id: PacketId) {
    match c.recv().await {
        Packet::PubRel(r) => assert_eq!(r.packet_id, id),
        other => panic!("expected PUBREL {id}, got {other:?}"),
    }
}

/// 5.0 MQTT-4.3.3-2, MQTT-4.3.3-3, MQTT-4.3.3-4, MQTT-4.3.3-5, MQTT-4.3.3-6 and
/// 3.1.1 MQTT-4.3.3-1, MQTT-4.4.0-1: as the QoS 2 sender, the server sends PUBLISH
/// with DUP 0 and resends it (DUP 1, same id) on reconnect until PUBREC; answers
/// PUBREC with PUBREL of the same id, which it resends on reconnect until PUBCOMP —
/// without ever resending the PUBLISH once PUBREL is sent.
#[tokio::test]
async fn mqtt_4_3_3_3_qos2_sender_flow() {
    let server = InProcessServer::start().await;
    let mut publisher = TestClient::connect(server.mqtt, V5, "q2s-pub").await;
    for version in BOTH {
        let id = cid("q2s-sub", version);
        let topic = format!("q2s/{}", version.level());
        let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        s.subscribe(&topic, QoS::ExactlyOnce).await;
        publisher
            .publish(&topic, b"once", QoS::ExactlyOnce, false)
            .await;
        let first = s.recv_publish().await;
        assert_eq!((first.qos, first.dup), (QoS::ExactlyOnce, false));
        let pid = first.packet_id.unwrap();
        s.drop_connection();

        let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        let again = s.recv_publish().await;
        assert_eq!((again.packet_id, again.dup), (Some(pid), true), "{version}");
        s.send(&Packet::PubRec(PubResponse::new(pid))).await;
        expect_pubrel(&mut s, pid).await;
        s.drop_connection();

        let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        expect_pubrel(&mut s, pid).await;
        assert!(
            drain(&mut s).await.is_empty(),
            "{version}: no PUBLISH after PUBREL"
        );
        s.send(&Packet::PubComp(PubResponse::new(pid))).await;
        s.drop_connection();

        let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        assert!(
            drain(&mut s).await.is_empty(),
            "{version}: complete after PUBCOMP"
        );
    }
}

/// 5.0 MQTT-4.3.3-8, MQTT-4.3.3-10, MQTT-4.3.3-11, MQTT-4.3.3-12 and 3.1.1
/// MQTT-4.3.3-2: as the QoS 2 receiver, the server answers PUBLISH with PUBREC,
/// answers the same PUBLISH again with PUBREC without delivering it twice, answers
/// PUBREL with PUBCOMP, and then takes a PUBLISH with that id as a new message.
#[tokio::test]
async fn mqtt_4_3_3_10_qos2_receiver_flow() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let mut s = TestClient::connect(server.mqtt, version, &cid("q2r-sub", version)).await;
        s.subscribe("q2r/x", QoS::AtMostOnce).await;
        let mut c = TestClient::connect(server.mqtt, version, &cid("q2r-pub", version)).await;
        let id = pid(9);
        for payload in [b"one", b"two"] {
            let mut m = message("q2r/x", payload, QoS::ExactlyOnce);
            m.packet_id = Some(id);
            for dup in [false, true, true] {
                m.dup = dup;
                c.send(&Packet::Publish(m.clone())).await;
                match c.recv().await {
                    Packet::PubRec(r) => assert_eq!(r.packet_id, id),
                    other => panic!("{version}: expected PUBREC, got {other:?}"),
                }
            }
            c.send(&Packet::PubRel(PubResponse::new(id))).await;
            match c.recv().await {
                Packet::PubComp(r) => {
                    assert_eq!((r.packet_id, r.reason_code), (id, ReasonCode::Success))
                }
                other => panic!("{version}: expected PUBCOMP, got {other:?}"),
            }
            assert_eq!(&s.recv_publish().await.payload[..], payload, "{version}");
            assert!(drain(&mut s).await.is_empty(), "{version}: delivered once");
        }
    }
}

/// 5.0 MQTT-4.3.3-10, MQTT-4.4.0-1 and 3.1.1 MQTT-4.3.3-2, MQTT-4.4.0-1: the
/// receiver's QoS 2 state belongs to the session: a client that reconnects and
/// resends the PUBLISH (DUP 1, same id) it had not released gets PUBREC again, and
/// the message is still delivered once; its PUBREL then completes the flow.
#[tokio::test]
async fn mqtt_4_3_3_10_qos2_receiver_state_survives_a_reconnect() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let mut s = TestClient::connect(server.mqtt, version, &cid("q2k-sub", version)).await;
        s.subscribe("q2k/#", QoS::AtMostOnce).await;
        let id = cid("q2k-pub", version);
        let (mut c, _) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        let mut m = message(
            &format!("q2k/{}", version.level()),
            b"once",
            QoS::ExactlyOnce,
        );
        m.packet_id = Some(pid(21));
        c.send(&Packet::Publish(m.clone())).await;
        assert!(matches!(c.recv().await, Packet::PubRec(r) if r.packet_id == pid(21)));
        c.drop_connection();
        let (mut c, ack) =
            TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        assert!(ack.session_present);
        m.dup = true;
        c.send(&Packet::Publish(m)).await;
        assert!(matches!(c.recv().await, Packet::PubRec(r) if r.packet_id == pid(21)));
        c.send(&Packet::PubRel(PubResponse::new(pid(21)))).await;
        match c.recv().await {
            Packet::PubComp(r) => {
                assert_eq!((r.packet_id, r.reason_code), (pid(21), ReasonCode::Success))
            }
            other => panic!("{version}: expected PUBCOMP, got {other:?}"),
        }
        assert_eq!(&s.recv_publish().await.payload[..], b"once");
        assert!(drain(&mut s).await.is_empty(), "{version}: delivered once");
    }
}

/// 5.0 MQTT-4.3.3-9: after a PUBREC with a Reason Code of 0x80 or more, a PUBLISH
/// with the same Packet Identifier is a new message.
#[tokio::test]
async fn mqtt_4_3_3_9_after_an_error_pubrec_the_id_is_free() {
    let config = BrokerConfig {
        max_topic_levels: 3,
        ..Default::default()
    };
    let server = InProcessServer::start_with(config).await;
    let mut s = TestClient::connect(server.mqtt, V5, "q2e-sub").await;
    s.subscribe("q2e/#", QoS::AtMostOnce).await;
    let mut c = TestClient::connect(server.mqtt, V5, "q2e-pub").await;
    let mut refused = message("q2e/a/b/c/d", b"no", QoS::ExactlyOnce);
    refused.packet_id = Some(pid(4));
    c.send(&Packet::Publish(refused)).await;
    match c.recv().await {
        Packet::PubRec(r) => assert!(r.reason_code.is_error(), "{r:?}"),
        other => panic!("expected an error PUBREC, got {other:?}"),
    }
    let mut accepted = message("q2e/ok", b"yes", QoS::ExactlyOnce);
    accepted.packet_id = Some(pid(4));
    c.publish_packet(accepted).await;
    assert_eq!(&s.recv_publish().await.payload[..], b"yes");
}

/// 5.0 MQTT-4.3.3-7: once the server has sent a QoS 2 PUBLISH it does not apply
/// Message Expiry to it: resent on reconnect after the interval has passed.
#[tokio::test]
async fn mqtt_4_3_3_7_no_expiry_once_the_qos2_publish_is_sent() {
    let server = InProcessServer::start().await;
    let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(V5, "q2x-sub", 300)).await;
    s.subscribe("q2x/x", QoS::ExactlyOnce).await;
    let mut p = TestClient::connect(server.mqtt, V5, "q2x-pub").await;
    let mut m = message("q2x/x", b"x", QoS::ExactlyOnce);
    m.properties.to_mut().message_expiry_interval = Some(1);
    p.publish_packet(m).await;
    let first = s.recv_publish().await;
    s.drop_connection();
    tokio::time::sleep(Duration::from_millis(1600)).await;
    let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(V5, "q2x-sub", 300)).await;
    let again = s.recv_publish().await;
    assert_eq!((again.packet_id, again.dup), (first.packet_id, true));
    s.ack(&again).await;
}

/// 5.0 MQTT-4.3.3-13: as the QoS 2 receiver, the server completes the
/// acknowledgement sequence of a message whose Message Expiry has passed.
#[tokio::test]
async fn mqtt_4_3_3_13_qos2_completed_after_expiry() {
    let server = InProcessServer::start().await;
    let mut c = TestClient::connect(server.mqtt, V5, "q2c-pub").await;
    let mut m = message("q2c/x", b"x", QoS::ExactlyOnce);
    m.packet_id = Some(pid(3));
    m.properties.to_mut().message_expiry_interval = Some(1);
    c.send(&Packet::Publish(m)).await;
    assert!(matches!(c.recv().await, Packet::PubRec(_)));
    tokio::time::sleep(Duration::from_millis(1600)).await;
    c.send(&Packet::PubRel(PubResponse::new(pid(3)))).await;
    match c.recv().await {
        Packet::PubComp(r) => {
            assert_eq!((r.packet_id, r.reason_code), (pid(3), ReasonCode::Success))
        }
        other => panic!("expected PUBCOMP, got {other:?}"),
    }
}

/// 5.0 MQTT-4.4.0-2: a PUBLISH answered with PUBACK or PUBREC of 0x80 or more is
/// acknowledged: not resent, not even on reconnect (and no PUBREL follows the PUBREC).
#[tokio::test]
async fn mqtt_4_4_0_2_error_acknowledgement_ends_the_delivery() {
    let server = InProcessServer::start().await;
    let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(V5, "refuser", 300)).await;
    s.subscribe("refuse/#", QoS::ExactlyOnce).await;
    let mut p = TestClient::connect(server.mqtt, V5, "refuse-pub").await;
    p.publish("refuse/1", b"1", QoS::AtLeastOnce, false).await;
    p.publish("refuse/2", b"2", QoS::ExactlyOnce, false).await;
    for _ in 0..2 {
        let got = s.recv_publish().await;
        let mut no = PubResponse::new(got.packet_id.unwrap());
        no.reason_code = ReasonCode::UnspecifiedError;
        let packet = if got.qos == QoS::AtLeastOnce {
            Packet::PubAck(no)
        } else {
            Packet::PubRec(no)
        };
        s.send(&packet).await;
    }
    assert!(
        drain(&mut s).await.is_empty(),
        "no PUBREL after an error PUBREC"
    );
    s.drop_connection();
    let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(V5, "refuser", 300)).await;
    assert!(drain(&mut s).await.is_empty(), "nothing resent");
}

/// 5.0 MQTT-4.5.0-1 and 3.1.1 MQTT-4.5.0-1: a message the server has taken
/// ownership of is added to the session of every client with a matching
/// subscription: connected ones of both versions and an offline one.
#[tokio::test]
async fn mqtt_4_5_0_1_message_added_to_every_matching_session() {
    let server = InProcessServer::start().await;
    let (mut off, _) = TestClient::connect_with(server.mqtt, persistent(V5, "own-off", 300)).await;
    off.subscribe("own/+", QoS::AtLeastOnce).await;
    off.disconnect().await;
    let mut online = Vec::new();
    for version in BOTH {
        let mut c = TestClient::connect(server.mqtt, version, &cid("own-on", version)).await;
        c.subscribe("own/#", QoS::AtLeastOnce).await;
        online.push(c);
    }
    let mut bystander = TestClient::connect(server.mqtt, V5, "own-other").await;
    bystander.subscribe("other/#", QoS::AtLeastOnce).await;
    let mut p = TestClient::connect(server.mqtt, V5, "own-pub").await;
    p.publish("own/x", b"for all", QoS::AtLeastOnce, false)
        .await;
    let (off, _) = TestClient::connect_with(server.mqtt, persistent(V5, "own-off", 300)).await;
    online.push(off);
    for c in &mut online {
        assert_eq!(&c.recv_publish().await.payload[..], b"for all");
    }
    bystander.expect_silence(QUIET).await;
}

/// 5.0 MQTT-4.6.0-5, MQTT-4.6.0-6 and 3.1.1 MQTT-4.6.0-5, MQTT-4.6.0-6: topics
/// are ordered by default: for each topic and QoS, a subscriber receives the
/// messages of one publisher in the order it sent them.
#[tokio::test]
async fn mqtt_4_6_0_5_messages_arrive_in_publishing_order() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let mut s = TestClient::connect(server.mqtt, version, &cid("order-sub", version)).await;
        s.subscribe("order/#", QoS::ExactlyOnce).await;
        let mut p = TestClient::connect(server.mqtt, version, &cid("order-pub", version)).await;
        let qos_of = |n: u8| match n % 3 {
            0 => QoS::AtMostOnce,
            1 => QoS::AtLeastOnce,
            _ => QoS::ExactlyOnce,
        };
        for n in 0..60u8 {
            let topic = format!("order/{}", n % 2);
            p.publish(&topic, &[n], qos_of(n), false).await;
        }
        let mut seen: Vec<(String, QoS, u8)> = Vec::new();
        for _ in 0..60 {
            let got = s.recv_publish().await;
            s.ack(&got).await;
            seen.push((got.topic.to_string(), got.qos, got.payload[0]));
        }
        for topic in ["order/0", "order/1"] {
            for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let stream: Vec<u8> = seen
                    .iter()
                    .filter(|(t, q, _)| t == topic && *q == qos)
                    .map(|(_, _, n)| *n)
                    .collect();
                let mut sorted = stream.clone();
                sorted.sort_unstable();
                assert_eq!(stream, sorted, "{version} {topic} {qos:?}");
                assert_eq!(stream.len(), 10);
            }
        }
    }
}
