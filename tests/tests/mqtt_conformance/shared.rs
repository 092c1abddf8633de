//! Shared Subscriptions (MQTT 5.0 §4.8.2).

use mqtt_proto::{Packet, PubResponse, QoS, ReasonCode};
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::{TestClient, connect_packet};

use crate::common::{V5, drain, persistent};

/// 5.0 MQTT-4.8.2-3: a message sent through a shared subscription respects the
/// QoS granted to that member, as for a non-shared subscription.
#[tokio::test]
async fn mqtt_4_8_2_3_shared_delivery_at_the_granted_qos() {
    let server = InProcessServer::start().await;
    let mut p = TestClient::connect(server.mqtt, V5, "sq-pub").await;
    for granted in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
        let level = u8::from(granted);
        let mut m = TestClient::connect(server.mqtt, V5, &format!("sq-{level}")).await;
        m.subscribe(&format!("$share/g{level}/sq/{level}"), granted)
            .await;
        for published in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            p.publish(&format!("sq/{level}"), b"x", published, false)
                .await;
            let got = m.recv_publish().await;
            assert_eq!(got.qos, granted.min(published), "{granted:?}/{published:?}");
            m.ack(&got).await;
        }
    }
}

/// A member of `$share/{group}/{topic}` at QoS 2 with a session that outlives its
/// connection for `expiry` seconds.
async fn member(
    server: &InProcessServer,
    id: &str,
    group: &str,
    topic: &str,
    expiry: u32,
) -> TestClient {
    let (mut c, _) = TestClient::connect_with(server.mqtt, persistent(V5, id, expiry)).await;
    c.subscribe(&format!("$share/{group}/{topic}"), QoS::ExactlyOnce)
        .await;
    c
}

/// 5.0 MQTT-4.8.2-4: when the connection of the member chosen for a QoS 2 message
/// breaks before the delivery is complete, the server completes the delivery to
/// that member when it reconnects, not to another member.
#[tokio::test]
async fn mqtt_4_8_2_4_qos2_delivery_completed_on_the_member_s_reconnect() {
    let server = InProcessServer::start().await;
    let mut a = member(&server, "sh4-a", "g4", "sh4", 300).await;
    let mut p = TestClient::connect(server.mqtt, V5, "sh4-pub").await;
    p.publish("sh4", b"job", QoS::ExactlyOnce, false).await;
    let taken = a.recv_publish().await;
    let mut b = member(&server, "sh4-b", "g4", "sh4", 300).await;
    a.drop_connection();
    assert!(
        drain(&mut b).await.is_empty(),
        "not moved to another member"
    );
    let (mut a, _) = TestClient::connect_with(server.mqtt, persistent(V5, "sh4-a", 300)).await;
    let again = a.recv_publish().await;
    assert_eq!(
        (again.packet_id, again.dup, &again.payload[..]),
        (taken.packet_id, true, &b"job"[..])
    );
    a.ack(&again).await;
    assert!(drain(&mut b).await.is_empty());
}

/// 5.0 MQTT-4.8.2-5: when the session of the member chosen for a QoS 2 message
/// ends before it reconnects, the message is not sent to another member.
#[tokio::test]
async fn mqtt_4_8_2_5_qos2_not_sent_elsewhere_when_the_member_s_session_ends() {
    let server = InProcessServer::start().await;
    let mut a = member(&server, "sh5-a", "g5", "sh5", 0).await;
    let mut p = TestClient::connect(server.mqtt, V5, "sh5-pub").await;
    p.publish("sh5", b"job", QoS::ExactlyOnce, false).await;
    a.recv_publish().await;
    let mut b = member(&server, "sh5-b", "g5", "sh5", 300).await;
    a.drop_connection();
    assert!(
        drain(&mut b).await.is_empty(),
        "the QoS 2 message is not redirected"
    );
    p.publish("sh5", b"next", QoS::ExactlyOnce, false).await;
    assert_eq!(&b.recv_publish().await.payload[..], b"next");
}

/// 5.0 MQTT-4.8.2-6: a member answering PUBACK or PUBREC with 0x80 or more ends
/// the message: it is not sent to another member.
#[tokio::test]
async fn mqtt_4_8_2_6_error_acknowledgement_discards_the_message() {
    let server = InProcessServer::start().await;
    let mut a = TestClient::connect_with(server.mqtt, connect_packet(V5, "sh6-a"))
        .await
        .0;
    a.subscribe("$share/g6/sh6/+", QoS::ExactlyOnce).await;
    let mut p = TestClient::connect(server.mqtt, V5, "sh6-pub").await;
    for (topic, qos) in [("sh6/1", QoS::AtLeastOnce), ("sh6/2", QoS::ExactlyOnce)] {
        p.publish(topic, b"x", qos, false).await;
    }
    let mut b = TestClient::connect(server.mqtt, V5, "sh6-b").await;
    b.subscribe("$share/g6/sh6/+", QoS::ExactlyOnce).await;
    for _ in 0..2 {
        let got = a.recv_publish().await;
        let mut no = PubResponse::new(got.packet_id.unwrap());
        no.reason_code = ReasonCode::ImplementationSpecificError;
        let packet = if got.qos == QoS::AtLeastOnce {
            Packet::PubAck(no)
        } else {
            Packet::PubRec(no)
        };
        a.send(&packet).await;
    }
    a.drop_connection();
    assert!(
        drain(&mut b).await.is_empty(),
        "discarded, not redistributed"
    );
}
