//! PINGREQ, DISCONNECT from the server, and how errors end a connection (MQTT 5.0
//! §3.12, §3.14, §4.13; 3.1.1 §3.12, §3.3.5, §4.8).

use mqtt_proto::{Packet, QoS, ReasonCode};
use realtime_server::broker::BrokerConfig;
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::{TestClient, connect_packet};

use crate::common::{BOTH, V5, V311, cid, expect_error_close, message, pid};

/// PUBLISH with QoS 3: a Malformed Packet in both versions (MQTT-3.3.1-4).
const QOS_3_PUBLISH: [u8; 7] = [0x36, 5, 0, 1, b't', 0, 1];

/// 5.0 MQTT-3.12.4-1 and 3.1.1 MQTT-3.12.4-1: every PINGREQ gets a PINGRESP.
#[tokio::test]
async fn mqtt_3_12_4_1_pingreq_gets_pingresp() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let mut c = TestClient::connect(server.mqtt, version, &cid("pinger", version)).await;
        for _ in 0..3 {
            c.send(&Packet::PingReq).await;
        }
        for _ in 0..3 {
            assert!(matches!(c.recv().await, Packet::PingResp), "{version}");
        }
    }
}

/// 5.0 MQTT-3.14.0-1: the server sends no DISCONNECT before a successful CONNACK:
/// a first packet other than CONNECT, a malformed CONNECT and a refused CONNECT
/// end the connection without one.
#[tokio::test]
async fn mqtt_3_14_0_1_no_disconnect_before_a_successful_connack() {
    let server = InProcessServer::start().await;
    let mut refused = connect_packet(V5, "refused");
    refused.properties.authentication_method = Some("X-UNKNOWN".into());
    let refused = crate::common::encoded(&Packet::Connect(Box::new(refused)), V5);
    let cases: [&[u8]; 4] = [
        &[0xC0, 0],
        &QOS_3_PUBLISH,
        &[
            0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x03, 0, 60, 0, 0, 0,
        ],
        &refused,
    ];
    for bytes in cases {
        let mut c = TestClient::open(server.mqtt, V5).await;
        c.try_send_raw(bytes).await;
        let got = c.expect_closed().await;
        assert!(
            !got.iter().any(|p| matches!(p, Packet::Disconnect(_))),
            "{bytes:?}: {got:?}"
        );
        assert!(
            got.iter()
                .all(|p| matches!(p, Packet::ConnAck(a) if a.reason_code.is_error())),
            "{bytes:?}: {got:?}"
        );
    }
}

/// Makes the server end `c` with a DISCONNECT, in one of several ways; returns the
/// code expected.
async fn provoke(server: &InProcessServer, c: &mut TestClient, id: &str, how: usize) -> ReasonCode {
    match how {
        0 => {
            c.try_send_raw(&QOS_3_PUBLISH).await;
            ReasonCode::MalformedPacket
        }
        1 => {
            c.try_send(&Packet::PingResp).await;
            ReasonCode::ProtocolError
        }
        2 => {
            let mut m = message("t", b"", QoS::AtMostOnce);
            m.properties.to_mut().topic_alias = Some(u16::MAX);
            c.try_send(&Packet::Publish(m)).await;
            ReasonCode::TopicAliasInvalid
        }
        _ => {
            let _new = TestClient::connect(server.mqtt, V5, id).await;
            ReasonCode::SessionTakenOver
        }
    }
}

/// 5.0 MQTT-3.14.2-2, MQTT-3.14.4-1, MQTT-3.14.4-2, MQTT-4.13.2-1: a DISCONNECT
/// from the server (Malformed Packet, Protocol Error, Topic Alias invalid, Session
/// taken over) carries no Session Expiry Interval, is the last packet on the
/// connection — even with messages flowing to the client — and the connection is
/// closed after it.
#[tokio::test]
async fn mqtt_3_14_4_1_server_disconnect_is_the_last_packet() {
    let server = InProcessServer::start().await;
    let mut publisher = TestClient::connect(server.mqtt, V311, "flood").await;
    for how in 0..4 {
        let id = format!("ended-{how}");
        let mut c = TestClient::connect(server.mqtt, V5, &id).await;
        c.subscribe("flood/#", QoS::AtMostOnce).await;
        for n in 0..50u8 {
            publisher
                .publish("flood/x", &[n; 100], QoS::AtMostOnce, false)
                .await;
        }
        let code = provoke(&server, &mut c, &id, how).await;
        let mut got = c.expect_closed().await;
        match got.pop() {
            Some(Packet::Disconnect(d)) => {
                assert_eq!(d.reason_code, code);
                assert_eq!(d.properties.session_expiry_interval, None, "MQTT-3.14.2-2");
            }
            other => panic!("{code:?}: expected DISCONNECT last, got {other:?}"),
        }
        assert!(
            got.iter()
                .all(|p| matches!(p, Packet::Publish(_) | Packet::SubAck(_))),
            "{code:?}: {got:?}"
        );
    }
}

/// 5.0 MQTT-4.13.2-1: a CONNACK with a Reason Code of 0x80 or more closes the
/// connection, whatever the client sends after it.
#[tokio::test]
async fn mqtt_4_13_2_1_error_connack_closes_the_connection() {
    let config = BrokerConfig {
        max_qos: QoS::AtMostOnce,
        ..Default::default()
    };
    let server = InProcessServer::start_with(config).await;
    let mut connect = connect_packet(V5, "closing");
    connect.will = Some(crate::will::will("w", QoS::AtLeastOnce, false));
    let mut c = TestClient::open(server.mqtt, V5).await;
    c.send(&Packet::Connect(Box::new(connect))).await;
    c.try_send(&Packet::PingReq).await;
    match c.expect_closed().await.as_slice() {
        [Packet::ConnAck(a)] => assert_eq!(a.reason_code, ReasonCode::QoSNotSupported),
        other => panic!("expected CONNACK 0x9B and close, got {other:?}"),
    }
}

/// 3.1.1 MQTT-4.8.0-1: a protocol violation closes the connection (without any
/// answer): a malformed PUBLISH, a packet only servers send, a PUBREL with wrong
/// flags, a second CONNECT.
#[tokio::test]
async fn mqtt_4_8_0_1_v311_protocol_violations_close_the_connection() {
    let server = InProcessServer::start().await;
    let cases: [&[u8]; 4] = [
        &QOS_3_PUBLISH,
        &[0x90, 3, 0, 1, 0],
        &[0x60, 2, 0, 1],
        &[0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 0],
    ];
    for (n, bytes) in cases.into_iter().enumerate() {
        let mut c = TestClient::connect(server.mqtt, V311, &format!("violator-{n}")).await;
        c.try_send_raw(bytes).await;
        let got = expect_error_close(&mut c, ReasonCode::ProtocolError).await;
        assert!(got.is_empty(), "{bytes:?}: {got:?}");
    }
}

/// 3.1.1 MQTT-3.3.5-2: a PUBLISH the server will not take is never answered with
/// a negative acknowledgement (3.1.1 has none): the connection is closed. Here
/// the server refuses a Topic Name deeper than its limit; a PUBLISH it takes gets
/// its PUBACK.
#[tokio::test]
async fn mqtt_3_3_5_2_v311_refused_publish_closes_the_connection() {
    let config = BrokerConfig {
        max_topic_levels: 3,
        ..Default::default()
    };
    let server = InProcessServer::start_with(config).await;
    let mut c = TestClient::connect(server.mqtt, V311, "refused-pub").await;
    assert_eq!(
        c.publish("a/b/c", b"ok", QoS::AtLeastOnce, false).await,
        ReasonCode::Success
    );
    let mut deep = message("a/b/c/d", b"no", QoS::AtLeastOnce);
    deep.packet_id = Some(pid(2));
    c.send(&Packet::Publish(deep)).await;
    assert!(c.expect_closed().await.is_empty(), "closed, no PUBACK");
}
