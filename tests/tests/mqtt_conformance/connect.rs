//! CONNECT, CONNACK, Clean Start and the life of a session (MQTT 5.0 §3.1, §3.2,
//! §4.1; 3.1.1 §3.1, §3.2, §4.1).

use std::collections::HashSet;
use std::time::Duration;

use mqtt_proto::{Packet, QoS, ReasonCode};
use realtime_server::broker::BrokerConfig;
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::{TestClient, connect_packet};

use crate::common::{
    BOTH, QUIET, V5, V311, cid, drain, encoded, expect_error_close, persistent, subscribe_packet,
};

/// 5.0 MQTT-3.1.0-2 and 3.1.1 MQTT-3.1.0-2: a second CONNECT is a protocol
/// violation that closes the connection (5.0: after a DISCONNECT 0x82);
/// 5.0 MQTT-3.2.0-2: it is not answered with a second CONNACK.
#[tokio::test]
async fn mqtt_3_1_0_2_second_connect_closes_the_connection() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let id = cid("twice", version);
        let mut c = TestClient::connect(server.mqtt, version, &id).await;
        c.send(&Packet::Connect(Box::new(connect_packet(version, &id))))
            .await;
        let before = expect_error_close(&mut c, ReasonCode::ProtocolError).await;
        assert!(
            before.is_empty(),
            "{version}: no second CONNACK: {before:?}"
        );
    }
}

/// 5.0 MQTT-3.1.2-4, MQTT-3.1.4-4, MQTT-3.2.2-2 and 3.1.1 MQTT-3.1.2-6,
/// MQTT-3.1.4-3, MQTT-3.2.2-1: Clean Start 1 discards the existing session — its
/// subscriptions and the messages queued for it — and the CONNACK says Session
/// Present 0; (3.1.1) a CleanSession 1 session is not reused by a later
/// CleanSession 0 connection.
#[tokio::test]
async fn mqtt_3_1_2_4_clean_start_discards_the_session() {
    let server = InProcessServer::start().await;
    let mut publisher = TestClient::connect(server.mqtt, V5, "cs-pub").await;
    for version in BOTH {
        let id = cid("cleaned", version);
        let topic = format!("cs/{}", version.level());
        let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        s.subscribe(&topic, QoS::AtLeastOnce).await;
        s.disconnect().await;
        publisher
            .publish(&topic, b"queued", QoS::AtLeastOnce, false)
            .await;
        let mut clean = persistent(version, &id, 300);
        clean.clean_start = true;
        let (mut s, ack) = TestClient::connect_with(server.mqtt, clean).await;
        assert_eq!(ack.reason_code, ReasonCode::Success);
        assert!(!ack.session_present, "{version}: Session Present 0");
        publisher
            .publish(&topic, b"live", QoS::AtLeastOnce, false)
            .await;
        let got = drain(&mut s).await;
        assert!(got.is_empty(), "{version}: old session survived: {got:?}");
        s.disconnect().await;
    }
    let (mut c, _) = TestClient::connect_with(server.mqtt, connect_packet(V311, "once")).await;
    c.subscribe("once/x", QoS::AtLeastOnce).await;
    c.disconnect().await;
    let (mut c, ack) = TestClient::connect_with(server.mqtt, persistent(V311, "once", 0)).await;
    assert!(!ack.session_present, "3.1.1: clean session state reused");
    publisher
        .publish("once/x", b"x", QoS::AtLeastOnce, false)
        .await;
    assert!(drain(&mut c).await.is_empty());
}

/// 5.0 MQTT-3.1.2-5, MQTT-3.1.2-6, MQTT-3.1.2-23, MQTT-3.2.2-3 and 3.1.1
/// MQTT-3.1.2-4, MQTT-3.1.2-5, MQTT-3.2.2-2, MQTT-3.2.2-3, MQTT-4.1.0-1: Clean Start
/// 0 without a session creates one (Session Present 0); once the connection is
/// closed the session is stored, QoS 1 and 2 messages for its subscriptions are
/// stored in it, and Clean Start 0 resumes it (Session Present 1) with its
/// subscriptions and those messages.
#[tokio::test]
async fn mqtt_3_1_2_5_clean_start_0_resumes_the_session() {
    let server = InProcessServer::start().await;
    let mut publisher = TestClient::connect(server.mqtt, V311, "resume-pub").await;
    for version in BOTH {
        let id = cid("resumer", version);
        let base = format!("resume/{}", version.level());
        let (mut s, ack) =
            TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        assert_eq!(ack.reason_code, ReasonCode::Success);
        assert!(!ack.session_present, "{version}: a new session");
        s.subscribe(&format!("{base}/#"), QoS::ExactlyOnce).await;
        s.disconnect().await;
        publisher
            .publish(&format!("{base}/1"), b"one", QoS::AtLeastOnce, false)
            .await;
        publisher
            .publish(&format!("{base}/2"), b"two", QoS::ExactlyOnce, false)
            .await;
        let (mut s, ack) =
            TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        assert_eq!(ack.reason_code, ReasonCode::Success);
        assert!(ack.session_present, "{version}: Session Present 1");
        for (n, qos) in [(1, QoS::AtLeastOnce), (2, QoS::ExactlyOnce)] {
            let p = s.recv_publish().await;
            assert_eq!((p.topic.to_string(), p.qos), (format!("{base}/{n}"), qos));
            s.ack(&p).await;
        }
        publisher
            .publish(&format!("{base}/3"), b"three", QoS::AtMostOnce, false)
            .await;
        let p = s.recv_publish().await;
        assert_eq!(
            p.topic.to_string(),
            format!("{base}/3"),
            "subscription kept"
        );
        s.disconnect().await;
    }
}

/// 5.0 MQTT-3.1.3-2 and 3.1.1 MQTT-3.1.3-2: the ClientID identifies the session
/// state: each client resumes its own subscriptions and queued messages only.
#[tokio::test]
async fn mqtt_3_1_3_2_client_id_identifies_the_session() {
    let server = InProcessServer::start().await;
    let mut publisher = TestClient::connect(server.mqtt, V5, "ident-pub").await;
    for version in BOTH {
        for who in ["a", "b"] {
            let connect = persistent(version, &cid(&format!("ident-{who}"), version), 300);
            let (mut c, _) = TestClient::connect_with(server.mqtt, connect).await;
            c.subscribe(
                &format!("ident/{}/{who}", version.level()),
                QoS::AtLeastOnce,
            )
            .await;
            c.disconnect().await;
        }
        for who in ["a", "b"] {
            let topic = format!("ident/{}/{who}", version.level());
            publisher
                .publish(&topic, who.as_bytes(), QoS::AtLeastOnce, false)
                .await;
        }
        for who in ["b", "a"] {
            let connect = persistent(version, &cid(&format!("ident-{who}"), version), 300);
            let (mut c, ack) = TestClient::connect_with(server.mqtt, connect).await;
            assert!(ack.session_present);
            let p = c.recv_publish().await;
            assert_eq!(&p.payload[..], who.as_bytes(), "{version}: own session");
            c.ack(&p).await;
            assert!(drain(&mut c).await.is_empty(), "{version}: only its own");
        }
    }
}

/// 5.0 MQTT-3.1.3-6, MQTT-3.1.3-7, MQTT-3.2.2-16: an empty ClientID gets an
/// Assigned Client Identifier in the CONNACK, not used by any other session, and
/// the CONNECT is processed as if the client had sent it: a later CONNECT with that
/// identifier resumes the session.
#[tokio::test]
async fn mqtt_3_1_3_7_assigned_client_id_names_the_session() {
    let server = InProcessServer::start().await;
    let (mut c, ack) = TestClient::connect_with(server.mqtt, persistent(V5, "", 300)).await;
    assert_eq!(ack.reason_code, ReasonCode::Success);
    let assigned = ack
        .properties
        .assigned_client_identifier
        .clone()
        .expect("MQTT-3.1.3-7: Assigned Client Identifier");
    assert!(!assigned.is_empty());
    c.subscribe("assigned/x", QoS::AtLeastOnce).await;
    c.disconnect().await;

    let mut seen = HashSet::from([assigned.to_string()]);
    let mut others = Vec::new();
    for _ in 0..20 {
        let (o, ack) = TestClient::connect_with(server.mqtt, connect_packet(V5, "")).await;
        let id = ack.properties.assigned_client_identifier.expect("assigned");
        assert!(seen.insert(id.to_string()), "{id} assigned twice");
        others.push(o);
    }
    let mut publisher = TestClient::connect(server.mqtt, V5, "assigned-pub").await;
    publisher
        .publish("assigned/x", b"kept", QoS::AtLeastOnce, false)
        .await;
    let (mut c, ack) = TestClient::connect_with(server.mqtt, persistent(V5, &assigned, 300)).await;
    assert!(ack.session_present, "the session lives under {assigned}");
    assert_eq!(ack.properties.assigned_client_identifier, None);
    assert_eq!(&c.recv_publish().await.payload[..], b"kept");
}

/// 3.1.1 MQTT-3.1.3-6: a zero-byte ClientId (with CleanSession 1) is given a unique
/// ClientId: two such clients connected at once keep separate sessions and
/// neither takes the other over.
#[tokio::test]
async fn mqtt_3_1_3_6_v311_empty_client_ids_get_separate_sessions() {
    let server = InProcessServer::start().await;
    let mut clients = Vec::new();
    for who in ["a", "b"] {
        let (mut c, ack) = TestClient::connect_with(server.mqtt, connect_packet(V311, "")).await;
        assert_eq!(ack.reason_code, ReasonCode::Success);
        c.subscribe(&format!("anon/{who}"), QoS::AtLeastOnce).await;
        clients.push((who, c));
    }
    let mut publisher = TestClient::connect(server.mqtt, V5, "anon-pub").await;
    for who in ["a", "b"] {
        publisher
            .publish(
                &format!("anon/{who}"),
                who.as_bytes(),
                QoS::AtLeastOnce,
                false,
            )
            .await;
    }
    for (who, c) in &mut clients {
        let p = c.recv_publish().await;
        assert_eq!(&p.payload[..], who.as_bytes());
        c.ack(&p).await;
        assert!(drain(c).await.is_empty());
        c.send(&Packet::PingReq).await;
        assert!(
            matches!(c.recv().await, Packet::PingResp),
            "still connected"
        );
    }
}

/// 3.1.1 MQTT-3.1.3-8, MQTT-3.1.3-9, MQTT-3.2.2-4, MQTT-3.2.2-5: a zero-byte
/// ClientId with CleanSession 0 is rejected with return code 0x02 (Identifier
/// rejected) and Session Present 0, then the connection is closed.
#[tokio::test]
async fn mqtt_3_1_3_8_v311_empty_client_id_needs_clean_session() {
    let server = InProcessServer::start().await;
    let mut c = TestClient::open(server.mqtt, V311).await;
    c.send(&Packet::Connect(Box::new(persistent(V311, "", 0))))
        .await;
    match c.expect_closed().await.as_slice() {
        [Packet::ConnAck(ack)] => {
            assert_eq!(ack.reason_code, ReasonCode::ClientIdentifierNotValid);
            assert!(!ack.session_present);
        }
        other => panic!("expected CONNACK 0x02 then close, got {other:?}"),
    }
}

/// 5.0 MQTT-3.1.3-8: a ClientID is either accepted (CONNACK 0x00, the connection
/// stays open) or refused with CONNACK 0x85 and the connection closed. This
/// server accepts every UTF-8 ClientID, long or odd; the test fails on any other
/// answer.
#[tokio::test]
async fn mqtt_3_1_3_8_client_id_accepted_or_refused_with_close() {
    let server = InProcessServer::start().await;
    let long = "x".repeat(65_535);
    let ids = [
        "a",
        "longer-than-the-23-bytes-of-3.1.1",
        "with space",
        "slash/plus+hash#",
        "ünïcødé-✓",
        "$SYS",
        long.as_str(),
    ];
    for id in ids {
        let mut c = TestClient::open(server.mqtt, V5).await;
        c.send(&Packet::Connect(Box::new(connect_packet(V5, id))))
            .await;
        match c.recv().await {
            Packet::ConnAck(ack) if ack.reason_code == ReasonCode::Success => {
                c.send(&Packet::PingReq).await;
                assert!(matches!(c.recv().await, Packet::PingResp));
            }
            Packet::ConnAck(ack) => {
                assert_eq!(ack.reason_code, ReasonCode::ClientIdentifierNotValid);
                c.expect_closed().await;
            }
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }
}

/// 5.0 MQTT-3.1.4-2, MQTT-3.2.2-6, MQTT-3.2.2-7, MQTT-3.2.2-12, MQTT-3.2.2-13 and
/// 3.1.1 MQTT-3.2.2-4, MQTT-3.2.2-5: a CONNECT that fails the server's checks — a
/// Will QoS above its Maximum QoS (0x9B), a retained Will without retain support
/// (0x9A), a Will Topic beyond its limits, an unknown authentication method — is
/// refused with a CONNACK of 0x80 or more (3.1.1: a non-zero return code) and
/// Session Present 0, even though a session exists for the ClientID; then the
/// connection is closed, and the stored session is untouched.
#[tokio::test]
async fn mqtt_3_1_4_2_refused_connect_closes_the_connection() {
    let config = BrokerConfig {
        max_qos: QoS::AtLeastOnce,
        retain_available: false,
        max_topic_levels: 4,
        ..Default::default()
    };
    let server = InProcessServer::start_with(config).await;
    for version in BOTH {
        let id = cid("refused", version);
        let (c, ack) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        assert_eq!(ack.reason_code, ReasonCode::Success);
        c.disconnect().await;
        let with_will = |topic: &str, qos: QoS, retain: bool| {
            let mut c = persistent(version, &id, 300);
            c.will = Some(crate::will::will(topic, qos, retain));
            c
        };
        let mut cases = vec![
            (
                with_will("w/x", QoS::ExactlyOnce, false),
                ReasonCode::QoSNotSupported,
            ),
            (
                with_will("w/x", QoS::AtMostOnce, true),
                ReasonCode::RetainNotSupported,
            ),
            (
                with_will("w/a/b/c/d/e", QoS::AtMostOnce, false),
                ReasonCode::TopicNameInvalid,
            ),
        ];
        if version.is_v5() {
            let mut c = persistent(version, &id, 300);
            c.properties.authentication_method = Some("X-UNKNOWN".into());
            cases.push((c, ReasonCode::BadAuthenticationMethod));
        }
        for (connect, code) in cases {
            let mut c = TestClient::open(server.mqtt, version).await;
            c.send(&Packet::Connect(Box::new(connect))).await;
            match c.expect_closed().await.as_slice() {
                [Packet::ConnAck(ack)] => {
                    if version.is_v5() {
                        assert_eq!(ack.reason_code, code);
                    } else {
                        assert_ne!(ack.reason_code, ReasonCode::Success);
                    }
                    assert!(!ack.session_present, "{version} {code:?}");
                }
                other => panic!("{version} {code:?}: expected CONNACK then close, got {other:?}"),
            }
        }
        let (c, ack) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        assert!(ack.session_present, "{version}: refusals left the session");
        c.disconnect().await;
    }
}

/// 5.0 MQTT-3.1.4-6 and 3.1.1 MQTT-3.1.4-5: after a refused CONNECT, the server
/// processes nothing the client sent behind it: a retained PUBLISH and a
/// SUBSCRIBE in the same write have no effect.
#[tokio::test]
async fn mqtt_3_1_4_6_nothing_after_a_refused_connect_is_processed() {
    let server = InProcessServer::start().await;
    let mut watcher = TestClient::connect(server.mqtt, V5, "sneak-watch").await;
    watcher.subscribe("sneak/#", QoS::AtMostOnce).await;
    for version in BOTH {
        let refused = if version.is_v5() {
            let mut c = connect_packet(V5, "sneaky");
            c.properties.authentication_method = Some("X-UNKNOWN".into());
            c
        } else {
            persistent(V311, "", 0)
        };
        let mut bytes = encoded(&Packet::Connect(Box::new(refused)), version);
        let mut p = crate::common::message(
            &format!("sneak/{}", version.level()),
            b"no",
            QoS::AtMostOnce,
        );
        p.retain = true;
        bytes.extend_from_slice(&encoded(&Packet::Publish(p), version));
        bytes.extend_from_slice(&encoded(
            &subscribe_packet(1, &[("#", QoS::AtMostOnce)]),
            version,
        ));
        let mut c = TestClient::open(server.mqtt, version).await;
        c.try_send_raw(&bytes).await;
        match c.expect_closed().await.as_slice() {
            [Packet::ConnAck(ack)] => assert_ne!(ack.reason_code, ReasonCode::Success),
            other => panic!("{version}: expected one refusing CONNACK, got {other:?}"),
        }
    }
    watcher.expect_silence(QUIET).await;
    assert!(server.broker.retained_matching("sneak/#").is_empty());
}

/// 5.0 MQTT-3.1.4-5, MQTT-3.2.0-1 and 3.1.1 MQTT-3.1.4-4, MQTT-3.2.0-1: an accepted
/// CONNECT is acknowledged with CONNACK 0x00, and that CONNACK is the first packet
/// the server sends, even with messages waiting in the resumed session and packets
/// sent right behind the CONNECT.
#[tokio::test]
async fn mqtt_3_2_0_1_connack_comes_first() {
    let server = InProcessServer::start().await;
    let mut publisher = TestClient::connect(server.mqtt, V5, "first-pub").await;
    for version in BOTH {
        let id = cid("first", version);
        let topic = format!("first/{}", version.level());
        let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        s.subscribe(&topic, QoS::AtLeastOnce).await;
        s.disconnect().await;
        for _ in 0..3 {
            publisher
                .publish(&topic, b"waiting", QoS::AtLeastOnce, false)
                .await;
        }
        let mut bytes = encoded(
            &Packet::Connect(Box::new(persistent(version, &id, 300))),
            version,
        );
        bytes.extend_from_slice(&encoded(&Packet::PingReq, version));
        bytes.extend_from_slice(&encoded(
            &subscribe_packet(9, &[("first/other", QoS::AtMostOnce)]),
            version,
        ));
        let mut c = TestClient::open(server.mqtt, version).await;
        c.send_raw(&bytes).await;
        match c.recv().await {
            Packet::ConnAck(ack) => {
                assert_eq!(ack.reason_code, ReasonCode::Success);
                assert!(ack.session_present);
            }
            other => panic!("{version}: CONNACK must come first, got {other:?}"),
        }
        let (mut publishes, mut pingresp, mut suback) = (0, 0, 0);
        for p in drain(&mut c).await {
            match p {
                Packet::Publish(_) => publishes += 1,
                Packet::PingResp => pingresp += 1,
                Packet::SubAck(_) => suback += 1,
                other => panic!("{version}: unexpected {other:?}"),
            }
        }
        assert_eq!((publishes, pingresp, suback), (3, 1, 1), "{version}");
    }
}

/// 5.0 MQTT-3.1.4-3 and 3.1.1 MQTT-3.1.4-2: a CONNECT with the ClientID of a
/// connected client disconnects the existing client (5.0: DISCONNECT 0x8E, then
/// close); the new connection carries on.
#[tokio::test]
async fn mqtt_3_1_4_3_existing_client_is_disconnected() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let id = cid("taken", version);
        let mut first = TestClient::connect(server.mqtt, version, &id).await;
        let mut second = TestClient::connect(server.mqtt, version, &id).await;
        expect_error_close(&mut first, ReasonCode::SessionTakenOver).await;
        second.send(&Packet::PingReq).await;
        assert!(matches!(second.recv().await, Packet::PingResp));
    }
}

/// 5.0 MQTT-3.2.2-9: a server configured without QoS 2 (or without QoS 1 and 2)
/// says so with Maximum QoS in the CONNACK; with QoS 2 it leaves it out.
#[tokio::test]
async fn mqtt_3_2_2_9_maximum_qos_is_announced() {
    for (max, announced) in [
        (QoS::ExactlyOnce, None),
        (QoS::AtLeastOnce, Some(QoS::AtLeastOnce)),
        (QoS::AtMostOnce, Some(QoS::AtMostOnce)),
    ] {
        let config = BrokerConfig {
            max_qos: max,
            ..Default::default()
        };
        let server = InProcessServer::start_with(config).await;
        let (_c, ack) = TestClient::connect_with(server.mqtt, connect_packet(V5, "maxqos")).await;
        assert_eq!(ack.properties.maximum_qos, announced, "{max:?}");
    }
}

/// 5.0 MQTT-3.2.2-10: a server that supports QoS 0 only still accepts SUBSCRIBE
/// packets requesting QoS 0, 1 and 2 (granting 0) and delivers at QoS 0.
#[tokio::test]
async fn mqtt_3_2_2_10_qos0_server_accepts_every_requested_qos() {
    let config = BrokerConfig {
        max_qos: QoS::AtMostOnce,
        ..Default::default()
    };
    let server = InProcessServer::start_with(config).await;
    let mut c = TestClient::connect(server.mqtt, V5, "q0-sub").await;
    c.send(&subscribe_packet(
        3,
        &[
            ("q0/0", QoS::AtMostOnce),
            ("q0/1", QoS::AtLeastOnce),
            ("q0/2", QoS::ExactlyOnce),
        ],
    ))
    .await;
    match c.recv().await {
        Packet::SubAck(a) => assert_eq!(a.reason_codes, [ReasonCode::Success; 3]),
        other => panic!("expected SUBACK, got {other:?}"),
    }
    let mut p = TestClient::connect(server.mqtt, V5, "q0-pub").await;
    p.publish("q0/2", b"x", QoS::AtMostOnce, false).await;
    assert_eq!(c.recv_publish().await.qos, QoS::AtMostOnce);
}

/// Connects `version` client `id` with Keep Alive `keep_alive` and a Will on
/// `will_topic`; returns it and the CONNACK.
async fn keep_alive_client(
    server: &InProcessServer,
    version: mqtt_proto::ProtocolVersion,
    id: &str,
    keep_alive: u16,
    will_topic: &str,
) -> (TestClient, mqtt_proto::ConnAck) {
    let mut c = connect_packet(version, id);
    c.keep_alive = keep_alive;
    c.will = Some(crate::will::will(will_topic, QoS::AtMostOnce, false));
    TestClient::connect_with(server.mqtt, c).await
}

/// The Keep Alive of the clients that test it, in seconds: short, yet 1.5 × it
/// leaves a busy machine ample slack over the half-second pings.
const KEEP_ALIVE: u16 = 2;

/// Sends PINGREQ every half second for 4 s (past 1.5 × [`KEEP_ALIVE`]),
/// expecting each answer: the connection must stay open while the client talks.
async fn ping_for_a_while(c: &mut TestClient) {
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(500)).await;
        c.send(&Packet::PingReq).await;
        assert!(matches!(c.recv().await, Packet::PingResp));
    }
}

/// 5.0 MQTT-3.2.2-22, MQTT-3.1.2-22: without Server Keep Alive in the CONNACK the
/// server uses the client's Keep Alive: a client that sends a packet in time stays
/// connected well past it; once it falls silent for 1.5 × Keep Alive it is closed
/// (DISCONNECT 0x8D) as if the network had failed (its Will is published). With a
/// Server Keep Alive, the server's value applies instead of the client's.
#[tokio::test]
async fn mqtt_3_2_2_22_keep_alive_of_the_client_or_the_server() {
    let server = InProcessServer::start().await;
    let mut watcher = TestClient::connect(server.mqtt, V5, "ka-watch").await;
    watcher.subscribe("ka5/#", QoS::AtMostOnce).await;
    let (mut c, ack) = keep_alive_client(&server, V5, "ka5", KEEP_ALIVE, "ka5/client").await;
    assert_eq!(ack.properties.server_keep_alive, None);
    ping_for_a_while(&mut c).await;
    expect_error_close(&mut c, ReasonCode::KeepAliveTimeout).await;
    assert_eq!(watcher.recv_publish().await.topic.as_str(), "ka5/client");

    let config = BrokerConfig {
        max_keep_alive: Some(1),
        ..Default::default()
    };
    let server = InProcessServer::start_with(config).await;
    let (mut c, ack) = keep_alive_client(&server, V5, "ka5-server", 60, "ka5/server").await;
    assert_eq!(ack.properties.server_keep_alive, Some(1));
    expect_error_close(&mut c, ReasonCode::KeepAliveTimeout).await;
}

/// 3.1.1 MQTT-3.1.2-24: with a non-zero Keep Alive, a client that sends a packet
/// in time stays connected; one silent for 1.5 × Keep Alive is disconnected,
/// without any packet, as if the network had failed (its Will is published).
#[tokio::test]
async fn mqtt_3_1_2_24_v311_keep_alive_timeout() {
    let server = InProcessServer::start().await;
    let mut watcher = TestClient::connect(server.mqtt, V311, "ka3-watch").await;
    watcher.subscribe("ka3/#", QoS::AtMostOnce).await;
    let (mut c, ack) = keep_alive_client(&server, V311, "ka3", KEEP_ALIVE, "ka3/client").await;
    assert_eq!(ack.reason_code, ReasonCode::Success);
    ping_for_a_while(&mut c).await;
    assert!(
        c.expect_closed().await.is_empty(),
        "closed without a packet"
    );
    assert_eq!(watcher.recv_publish().await.topic.as_str(), "ka3/client");
}

/// 5.0 MQTT-4.1.0-1 and 3.1.1 MQTT-4.1.0-2: the session lives at least as long as
/// its network connection: a 5.0 session with a Session Expiry Interval of 1 s and
/// a 3.1.1 clean session, connected for longer than that, keep their subscriptions
/// and their unacknowledged messages.
#[tokio::test]
async fn mqtt_4_1_0_1_session_lives_while_connected() {
    let server = InProcessServer::start().await;
    let mut v5 = connect_packet(V5, "alive-v5");
    v5.properties.session_expiry_interval = Some(1);
    let (v5, _) = TestClient::connect_with(server.mqtt, v5).await;
    let v3 = TestClient::connect(server.mqtt, V311, "alive-v3").await;
    let mut clients = [v5, v3];
    for c in &mut clients {
        c.subscribe("alive/#", QoS::AtLeastOnce).await;
    }
    let mut publisher = TestClient::connect(server.mqtt, V5, "alive-pub").await;
    publisher
        .publish("alive/1", b"1", QoS::AtLeastOnce, false)
        .await;
    let mut pending = Vec::new();
    for c in &mut clients {
        pending.push(c.recv_publish().await);
    }
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert!(server.broker.session("alive-v5").is_some());
    for (c, p) in clients.iter_mut().zip(&pending) {
        c.ack(p).await;
    }
    publisher
        .publish("alive/2", b"2", QoS::AtLeastOnce, false)
        .await;
    for c in &mut clients {
        let p = c.recv_publish().await;
        assert_eq!(p.topic.as_str(), "alive/2", "{}", c.version());
        assert!(!p.dup);
        c.ack(&p).await;
        assert!(
            drain(c).await.is_empty(),
            "no resend of the acknowledged one"
        );
    }
}

/// 3.1.1 MQTT-3.1.2-7: retained messages are not part of the session state: they
/// stay when the session of the client that published them ends.
#[tokio::test]
async fn mqtt_3_1_2_7_retained_messages_outlive_the_session() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let mut c = TestClient::connect(server.mqtt, version, &cid("outlive", version)).await;
        let topic = format!("outlive/{}", version.level());
        c.publish(&topic, b"kept", QoS::AtLeastOnce, true).await;
        c.disconnect().await;
        assert!(server.broker.session(&cid("outlive", version)).is_none());
    }
    let mut s = TestClient::connect(server.mqtt, V311, "outlive-sub").await;
    s.subscribe("outlive/#", QoS::AtMostOnce).await;
    let mut topics: Vec<String> = Vec::new();
    for _ in BOTH {
        let p = s.recv_publish().await;
        assert!(p.retain);
        topics.push(p.topic.to_string());
    }
    topics.sort();
    assert_eq!(topics, ["outlive/4", "outlive/5"]);
}

/// 3.1.1 MQTT-3.2.2-6: a malformed CONNECT, which none of the return codes fit —
/// reserved flag set, Will QoS 3 — closes the connection without a CONNACK. (A
/// protocol name other than "MQTT" gets return code 0x01, which MQTT-3.1.2-1
/// leaves to the server.)
#[tokio::test]
async fn mqtt_3_2_2_6_malformed_connect_closes_without_connack() {
    let server = InProcessServer::start().await;
    let cases: [&[u8]; 2] = [
        &[0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x03, 0, 60, 0, 0],
        &[
            0x10, 17, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x1E, 0, 60, 0, 0, 0, 1, b't', 0, 0,
        ],
    ];
    for bytes in cases {
        let mut c = TestClient::open(server.mqtt, V311).await;
        c.try_send_raw(bytes).await;
        let got = c.expect_closed().await;
        assert!(got.is_empty(), "{bytes:?}: {got:?}");
    }
}
