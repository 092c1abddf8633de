//! Broker behaviour around connections and sessions, against the in-process
//! server, packet by packet. Each test cites the normative statements it checks.

use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{Packet, ProtocolVersion, QoS, ReasonCode, Will};
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::{TestClient, connect_packet};

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;

/// MQTT-3.1.0-1 / MQTT-3.1.4-1: a first packet other than CONNECT closes the connection.
#[tokio::test]
async fn mqtt_3_1_0_1_first_packet_must_be_connect() {
    let server = InProcessServer::start().await;
    let mut c = TestClient::open(server.mqtt, V5).await;
    c.send(&Packet::PingReq).await;
    assert!(
        c.expect_closed().await.is_empty(),
        "no answer to a non-CONNECT first packet"
    );
}

/// MQTT-3.1.0-2: a second CONNECT is a Protocol Error (v5: DISCONNECT 0x82).
#[tokio::test]
async fn mqtt_3_1_0_2_second_connect_is_protocol_error() {
    let server = InProcessServer::start().await;
    let mut c = TestClient::connect(server.mqtt, V5, "twice").await;
    c.send(&Packet::Connect(Box::new(connect_packet(V5, "twice"))))
        .await;
    match c.expect_closed().await.as_slice() {
        [Packet::Disconnect(d)] => assert_eq!(d.reason_code, ReasonCode::ProtocolError),
        other => panic!("expected DISCONNECT 0x82, got {other:?}"),
    }
}

/// MQTT-3.2.2-2, MQTT-3.2.2-3, MQTT-3.1.2-4..6: Session Present follows Clean Start
/// and whether the server had a session.
#[tokio::test]
async fn mqtt_3_2_2_2_and_3_session_present() {
    let server = InProcessServer::start().await;
    for version in [V5, V311] {
        let id = format!("present-{}", version.level());
        let mut connect = connect_packet(version, &id);
        connect.clean_start = false;
        connect.properties.session_expiry_interval = Some(60);
        let (c, ack) = TestClient::connect_with(server.mqtt, connect.clone()).await;
        assert!(!ack.session_present, "{version}: new session");
        c.disconnect().await;
        let (c, ack) = TestClient::connect_with(server.mqtt, connect.clone()).await;
        assert!(
            ack.session_present,
            "{version}: resumed session (MQTT-3.1.2-5)"
        );
        c.disconnect().await;
        connect.clean_start = true;
        let (c, ack) = TestClient::connect_with(server.mqtt, connect).await;
        assert!(
            !ack.session_present,
            "{version}: clean start discards (MQTT-3.1.2-4)"
        );
        c.disconnect().await;
    }
}

/// MQTT-3.1.3-6 and MQTT-3.2.2-16: an empty ClientID gets a unique Assigned Client
/// Identifier (v5).
#[tokio::test]
async fn mqtt_3_1_3_6_empty_client_id_is_assigned() {
    let server = InProcessServer::start().await;
    let (_a, ack_a) = TestClient::connect_with(server.mqtt, connect_packet(V5, "")).await;
    let (_b, ack_b) = TestClient::connect_with(server.mqtt, connect_packet(V5, "")).await;
    let a = ack_a
        .properties
        .assigned_client_identifier
        .expect("assigned id");
    let b = ack_b
        .properties
        .assigned_client_identifier
        .expect("assigned id");
    assert!(!a.is_empty());
    assert_ne!(a, b);
}

/// MQTT-3.1.3-8 (3.1.1): an empty ClientId with CleanSession 0 gets return code 0x02
/// and the connection is closed.
#[tokio::test]
async fn mqtt_3_1_3_8_v311_empty_client_id_needs_clean_session() {
    let server = InProcessServer::start().await;
    let mut connect = connect_packet(V311, "");
    connect.clean_start = false;
    let (mut c, ack) = TestClient::connect_with(server.mqtt, connect).await;
    assert_eq!(ack.reason_code, ReasonCode::ClientIdentifierNotValid);
    c.expect_closed().await;
}

/// An unsupported protocol level gets CONNACK return code 0x01 (3.1.1 §3.1.2.2).
#[tokio::test]
async fn unsupported_protocol_level_gets_return_code_1() {
    let server = InProcessServer::start().await;
    let mut c = TestClient::open(server.mqtt, V311).await;
    // CONNECT, protocol name MQTT, level 9.
    c.send_raw(&[0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 9, 0x02, 0, 60, 0, 0])
        .await;
    let mut got = c.expect_closed().await;
    match got.pop() {
        Some(Packet::ConnAck(ack)) => {
            assert_eq!(ack.reason_code, ReasonCode::UnsupportedProtocolVersion)
        }
        other => panic!("expected CONNACK 0x01, got {other:?}"),
    }
}

/// MQTT-3.1.4-3: a second connection with the same ClientID takes the session over;
/// the first gets DISCONNECT 0x8E (v5) and is closed.
#[tokio::test]
async fn mqtt_3_1_4_3_session_taken_over() {
    let server = InProcessServer::start().await;
    let mut first = TestClient::connect(server.mqtt, V5, "dup-id").await;
    let mut second = TestClient::connect(server.mqtt, V5, "dup-id").await;
    match first.expect_closed().await.as_slice() {
        [Packet::Disconnect(d)] => assert_eq!(d.reason_code, ReasonCode::SessionTakenOver),
        other => panic!("expected DISCONNECT 0x8E, got {other:?}"),
    }
    second.send(&Packet::PingReq).await;
    assert!(
        matches!(second.recv().await, Packet::PingResp),
        "MQTT-3.12.4-1"
    );
}

fn will(topic: &str, payload: &str) -> Will {
    Will {
        topic: topic.to_string().into(),
        payload: Bytes::from(payload.to_string()),
        qos: QoS::AtLeastOnce,
        retain: false,
        properties: Default::default(),
    }
}

/// MQTT-3.1.2-8: the Will is published when the connection ends without
/// DISCONNECT; MQTT-3.1.2-10 / MQTT-3.14.4-3: not after DISCONNECT 0x00; a
/// DISCONNECT 0x04 publishes it.
#[tokio::test]
async fn mqtt_3_1_2_8_will_on_abnormal_end_only() {
    let server = InProcessServer::start().await;
    let mut watcher = TestClient::connect(server.mqtt, V5, "watcher").await;
    watcher.subscribe("wills/#", QoS::AtLeastOnce).await;

    let mut c = connect_packet(V311, "dies");
    c.will = Some(will("wills/dies", "gone"));
    let (dies, _) = TestClient::connect_with(server.mqtt, c).await;
    dies.drop_connection();
    let p = watcher.recv_publish().await;
    assert_eq!(
        (p.topic.as_str(), &p.payload[..]),
        ("wills/dies", &b"gone"[..])
    );
    watcher.ack(&p).await;

    let mut c = connect_packet(V5, "polite");
    c.will = Some(will("wills/polite", "never"));
    let (polite, _) = TestClient::connect_with(server.mqtt, c).await;
    polite.disconnect().await;
    watcher.expect_silence(Duration::from_millis(300)).await;

    let mut c = connect_packet(V5, "asks");
    c.will = Some(will("wills/asks", "please"));
    let (mut asks, _) = TestClient::connect_with(server.mqtt, c).await;
    asks.send(&Packet::Disconnect(mqtt_proto::Disconnect::new(
        ReasonCode::DisconnectWithWillMessage,
    )))
    .await;
    let p = watcher.recv_publish().await;
    assert_eq!(p.topic.as_str(), "wills/asks");
}

/// MQTT-3.1.3-9: with a Will Delay, reconnecting before it passes cancels the Will;
/// otherwise it is published once the delay is over.
#[tokio::test]
async fn mqtt_3_1_3_9_will_delay() {
    let server = InProcessServer::start().await;
    let mut watcher = TestClient::connect(server.mqtt, V5, "watcher2").await;
    watcher.subscribe("delayed/#", QoS::AtMostOnce).await;

    let mut c = connect_packet(V5, "blinks");
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(60);
    let mut w = will("delayed/blinks", "x");
    w.properties.will_delay_interval = Some(1);
    c.will = Some(w);
    let (first, _) = TestClient::connect_with(server.mqtt, c.clone()).await;
    first.drop_connection();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (second, ack) = TestClient::connect_with(server.mqtt, c.clone()).await;
    assert!(ack.session_present);
    watcher.expect_silence(Duration::from_millis(1500)).await;

    second.drop_connection();
    let p = watcher.recv_publish().await;
    assert_eq!(p.topic.as_str(), "delayed/blinks");
}

/// MQTT-3.1.2-22: no packet for 1.5 × Keep Alive closes the connection
/// (v5: DISCONNECT 0x8D), and the Will is published.
#[tokio::test]
async fn mqtt_3_1_2_22_keep_alive_timeout() {
    let server = InProcessServer::start().await;
    let mut watcher = TestClient::connect(server.mqtt, V5, "watcher3").await;
    watcher.subscribe("ka/#", QoS::AtMostOnce).await;
    let mut c = connect_packet(V5, "sleepy");
    c.keep_alive = 1;
    c.will = Some(will("ka/sleepy", "timed out"));
    let (mut sleepy, _) = TestClient::connect_with(server.mqtt, c).await;
    let started = std::time::Instant::now();
    match sleepy.expect_closed().await.as_slice() {
        [Packet::Disconnect(d)] => assert_eq!(d.reason_code, ReasonCode::KeepAliveTimeout),
        other => panic!("expected DISCONNECT 0x8D, got {other:?}"),
    }
    assert!(
        started.elapsed() >= Duration::from_millis(1400),
        "not before 1.5 × keep-alive"
    );
    assert_eq!(watcher.recv_publish().await.topic.as_str(), "ka/sleepy");
}

/// MQTT-3.1.2-23 / MQTT-4.1.0-2: a session with an expiry interval survives its
/// connection and is discarded when the interval has passed.
#[tokio::test]
async fn mqtt_4_1_0_2_session_expires() {
    let server = InProcessServer::start().await;
    let mut c = connect_packet(V5, "expiring");
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(1);
    let (first, _) = TestClient::connect_with(server.mqtt, c.clone()).await;
    first.disconnect().await;
    assert!(
        server.broker.session("expiring").is_some(),
        "kept after disconnect"
    );
    tokio::time::sleep(Duration::from_millis(1600)).await;
    assert!(
        server.broker.session("expiring").is_none(),
        "discarded after expiry"
    );
    let (_again, ack) = TestClient::connect_with(server.mqtt, c).await;
    assert!(!ack.session_present);
}

/// MQTT 5.0 §3.14.2.2.2: a non-zero Session Expiry Interval on DISCONNECT after
/// zero on CONNECT is a Protocol Error.
#[tokio::test]
async fn disconnect_cannot_raise_zero_session_expiry() {
    let server = InProcessServer::start().await;
    let mut c = TestClient::connect(server.mqtt, V5, "zero-expiry").await;
    let mut d = mqtt_proto::Disconnect::new(ReasonCode::Success);
    d.properties.session_expiry_interval = Some(30);
    c.send(&Packet::Disconnect(d)).await;
    match c.expect_closed().await.as_slice() {
        [Packet::Disconnect(d)] => assert_eq!(d.reason_code, ReasonCode::ProtocolError),
        other => panic!("expected DISCONNECT 0x82, got {other:?}"),
    }
}

/// MQTT-4.13.1-1: a malformed packet closes that connection only (v5: DISCONNECT
/// 0x81), and another client carries on.
#[tokio::test]
async fn mqtt_4_13_1_1_malformed_packet_closes_only_that_connection() {
    let server = InProcessServer::start().await;
    let mut good = TestClient::connect(server.mqtt, V5, "good").await;
    good.subscribe("still/here", QoS::AtMostOnce).await;
    let mut bad = TestClient::connect(server.mqtt, V5, "bad").await;
    // PUBLISH with QoS 3 (MQTT-3.3.1-4).
    bad.send_raw(&[0x36, 5, 0, 1, b't', 0, 1]).await;
    match bad.expect_closed().await.as_slice() {
        [Packet::Disconnect(d)] => assert_eq!(d.reason_code, ReasonCode::MalformedPacket),
        other => panic!("expected DISCONNECT 0x81, got {other:?}"),
    }
    let mut other = TestClient::connect(server.mqtt, V311, "other").await;
    other
        .publish("still/here", b"yes", QoS::AtLeastOnce, false)
        .await;
    assert_eq!(&good.recv_publish().await.payload[..], b"yes");
}

/// The connect timeout: a connection that never completes CONNECT is closed.
#[tokio::test]
async fn silent_connection_is_closed_after_connect_timeout() {
    let config = realtime_server::broker::BrokerConfig {
        connect_timeout: Duration::from_millis(500),
        ..Default::default()
    };
    let server = InProcessServer::start_with(config).await;
    let mut c = TestClient::open(server.mqtt, V5).await;
    // Half a CONNECT, then nothing.
    c.send_raw(&[0x10, 20, 0, 4]).await;
    assert!(c.expect_closed().await.is_empty());
}

/// MQTT-3.1.2-24 / MQTT-3.2.2-19/20: the CONNACK itself respects a tiny client
/// Maximum Packet Size (optional properties left out), found by the
/// `broker_sessions` fuzz target; too tiny to hold any CONNACK gets a bare 0x95.
#[tokio::test]
async fn mqtt_3_1_2_24_connack_fits_client_maximum_packet_size() {
    let server = InProcessServer::start().await;
    for max in [16u32, 30, 64] {
        let mut connect = connect_packet(V5, "");
        connect.properties.maximum_packet_size = Some(max);
        let (mut c, ack) = TestClient::connect_with(server.mqtt, connect).await;
        let size = Packet::ConnAck(Box::new(ack.clone()))
            .encoded_len(V5)
            .unwrap();
        assert!(size <= max as usize, "CONNACK of {size} bytes > {max}");
        if ack.reason_code == ReasonCode::Success {
            c.send(&Packet::PingReq).await;
            assert!(matches!(c.recv().await, Packet::PingResp));
        } else {
            assert_eq!(ack.reason_code, ReasonCode::PacketTooLarge);
            c.expect_closed().await;
        }
    }
}
