//! The Will Message (MQTT 5.0 §3.1.2.5, §3.1.3.2; 3.1.1 §3.1.2.5).

use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{Packet, QoS, SubscriptionOptions, UserProperty, Will};
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::{TestClient, connect_packet};

use crate::common::{BOTH, QUIET, V5, cid, drain, persistent};

/// A Will on `topic` (payload: the topic) at `qos`, with `retain`.
pub(crate) fn will(topic: &str, qos: QoS, retain: bool) -> Will {
    Will {
        topic: topic.to_string().into(),
        payload: Bytes::from(topic.to_string()),
        qos,
        retain,
        properties: Default::default(),
    }
}

/// A subscriber to `filter` that sees the RETAIN flag as published.
async fn rap_watcher(server: &InProcessServer, id: &str, filter: &str) -> TestClient {
    let mut w = TestClient::connect(server.mqtt, V5, id).await;
    let rap = SubscriptionOptions {
        qos: QoS::ExactlyOnce,
        retain_as_published: true,
        ..Default::default()
    };
    w.subscribe_with(filter, rap).await;
    w
}

/// 5.0 MQTT-3.1.2-7, MQTT-3.1.2-8 and 3.1.1 MQTT-3.1.2-8: the Will of an accepted
/// CONNECT is stored and published, with its topic, payload and QoS, when the
/// network connection closes without DISCONNECT.
#[tokio::test]
async fn mqtt_3_1_2_8_will_published_when_the_connection_drops() {
    let server = InProcessServer::start().await;
    let mut watcher = TestClient::connect(server.mqtt, V5, "will-watch").await;
    watcher.subscribe("will/#", QoS::ExactlyOnce).await;
    for version in BOTH {
        let topic = format!("will/{}", version.level());
        let mut c = connect_packet(version, &cid("dropper", version));
        c.will = Some(will(&topic, QoS::ExactlyOnce, false));
        let (c, _) = TestClient::connect_with(server.mqtt, c).await;
        watcher.expect_silence(QUIET).await;
        c.drop_connection();
        let p = watcher.recv_publish().await;
        assert_eq!(
            (p.topic.as_str(), &p.payload[..], p.qos),
            (topic.as_str(), topic.as_bytes(), QoS::ExactlyOnce)
        );
        watcher.ack(&p).await;
    }
}

/// 5.0 MQTT-3.1.2-10, MQTT-3.14.4-3 and 3.1.1 MQTT-3.1.2-10, MQTT-3.14.4-3: the
/// Will is removed from the session once published (the session, resumed without
/// a Will, publishes nothing more), and a DISCONNECT (5.0: reason 0x00) discards it
/// unpublished.
#[tokio::test]
async fn mqtt_3_1_2_10_will_removed_once_published_or_on_disconnect() {
    let server = InProcessServer::start().await;
    let mut watcher = TestClient::connect(server.mqtt, V5, "gone-watch").await;
    watcher.subscribe("gone/#", QoS::AtMostOnce).await;
    for version in BOTH {
        let id = cid("gone", version);
        let with_will = |what: &str| {
            let mut c = persistent(version, &id, 300);
            c.will = Some(will(
                &format!("gone/{}/{what}", version.level()),
                QoS::AtMostOnce,
                false,
            ));
            c
        };
        let (c, _) = TestClient::connect_with(server.mqtt, with_will("dropped")).await;
        c.drop_connection();
        let p = watcher.recv_publish().await;
        assert!(p.topic.ends_with("/dropped"));
        let (c, ack) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        assert!(ack.session_present);
        c.drop_connection();
        watcher.expect_silence(QUIET).await;

        let (c, _) = TestClient::connect_with(server.mqtt, with_will("polite")).await;
        c.disconnect().await;
        let (c, _) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        c.drop_connection();
        watcher.expect_silence(QUIET).await;
    }
}

/// 3.1.1 MQTT-3.1.2-12: with the Will Flag 0 nothing is published when the
/// connection ends, by a drop or by a protocol error.
#[tokio::test]
async fn mqtt_3_1_2_12_no_will_flag_no_will() {
    let server = InProcessServer::start().await;
    let mut watcher = TestClient::connect(server.mqtt, V5, "nowill-watch").await;
    watcher.subscribe("#", QoS::AtMostOnce).await;
    for version in BOTH {
        let c = TestClient::connect(server.mqtt, version, &cid("nowill-a", version)).await;
        c.drop_connection();
        let mut c = TestClient::connect(server.mqtt, version, &cid("nowill-b", version)).await;
        // PUBLISH with QoS 3: malformed.
        c.try_send_raw(&[0x36, 5, 0, 1, b't', 0, 1]).await;
        c.expect_closed().await;
    }
    watcher.expect_silence(QUIET).await;
}

/// 5.0 MQTT-3.1.2-14 and 3.1.1 MQTT-3.1.2-16: a Will with Will Retain 0 is
/// published as a non-retained message: a subscriber with Retain As Published sees
/// RETAIN 0 and nothing is retained for later subscribers.
#[tokio::test]
async fn mqtt_3_1_2_14_will_retain_0_is_not_retained() {
    let server = InProcessServer::start().await;
    let mut watcher = rap_watcher(&server, "wr0-watch", "wr0/#").await;
    for version in BOTH {
        let mut c = connect_packet(version, &cid("wr0", version));
        c.will = Some(will(
            &format!("wr0/{}", version.level()),
            QoS::AtLeastOnce,
            false,
        ));
        let (c, _) = TestClient::connect_with(server.mqtt, c).await;
        c.drop_connection();
        let p = watcher.recv_publish().await;
        assert!(!p.retain, "{version}");
        watcher.ack(&p).await;
    }
    let mut late = TestClient::connect(server.mqtt, V5, "wr0-late").await;
    late.subscribe("wr0/#", QoS::AtLeastOnce).await;
    assert!(drain(&mut late).await.is_empty());
    assert!(server.broker.retained_matching("wr0/#").is_empty());
}

/// 5.0 MQTT-3.1.2-15 and 3.1.1 MQTT-3.1.2-17: a Will with Will Retain 1 is
/// published as a retained message: a subscriber with Retain As Published sees
/// RETAIN 1 and later subscribers receive it as a retained message.
#[tokio::test]
async fn mqtt_3_1_2_15_will_retain_1_is_retained() {
    let server = InProcessServer::start().await;
    let mut watcher = rap_watcher(&server, "wr1-watch", "wr1/#").await;
    for version in BOTH {
        let mut c = connect_packet(version, &cid("wr1", version));
        c.will = Some(will(
            &format!("wr1/{}", version.level()),
            QoS::AtLeastOnce,
            true,
        ));
        let (c, _) = TestClient::connect_with(server.mqtt, c).await;
        c.drop_connection();
        let p = watcher.recv_publish().await;
        assert!(p.retain, "{version}");
        watcher.ack(&p).await;
    }
    let mut late = TestClient::connect(server.mqtt, V5, "wr1-late").await;
    late.subscribe("wr1/#", QoS::AtLeastOnce).await;
    let mut topics = Vec::new();
    for _ in BOTH {
        let p = late.recv_publish().await;
        assert!(p.retain);
        topics.push(p.topic.to_string());
        late.ack(&p).await;
    }
    topics.sort();
    assert_eq!(topics, ["wr1/4", "wr1/5"]);
}

/// 5.0 MQTT-3.1.2-8: a delayed Will is published when the session ends, if that
/// comes before the Will Delay Interval passes (Will Delay 60 s, Session Expiry
/// 1 s) — and not at once.
#[tokio::test]
async fn mqtt_3_1_2_8_delayed_will_published_when_the_session_ends() {
    let server = InProcessServer::start().await;
    let mut watcher = TestClient::connect(server.mqtt, V5, "wd-watch").await;
    watcher.subscribe("wd/#", QoS::AtMostOnce).await;
    let mut c = connect_packet(V5, "wd");
    c.properties.session_expiry_interval = Some(1);
    let mut w = will("wd/x", QoS::AtMostOnce, false);
    w.properties.will_delay_interval = Some(60);
    c.will = Some(w);
    let (c, _) = TestClient::connect_with(server.mqtt, c).await;
    c.drop_connection();
    watcher.expect_silence(Duration::from_millis(500)).await;
    match watcher.recv_within(Duration::from_secs(5)).await {
        Some(Packet::Publish(p)) => assert_eq!(p.topic.as_str(), "wd/x"),
        other => panic!("expected the Will when the session ended, got {other:?}"),
    }
}

/// 5.0 MQTT-3.1.3-10: the Will is published with its User Properties in their
/// order, and its other properties unaltered.
#[tokio::test]
async fn mqtt_3_1_3_10_will_user_properties_keep_their_order() {
    let server = InProcessServer::start().await;
    let mut watcher = TestClient::connect(server.mqtt, V5, "wup-watch").await;
    watcher.subscribe("wup/#", QoS::AtMostOnce).await;
    let mut w = will("wup/x", QoS::AtMostOnce, false);
    let users = vec![
        UserProperty::new("z", "1"),
        UserProperty::new("a", "2"),
        UserProperty::new("z", "0"),
        UserProperty::new("m", ""),
    ];
    w.properties.user_properties = users.clone();
    w.properties.content_type = Some("text/plain".into());
    w.properties.response_topic = Some("wup/reply".into());
    w.properties.correlation_data = Some(Bytes::from_static(b"\x00corr"));
    w.properties.payload_format_indicator = Some(true);
    let mut c = connect_packet(V5, "wup");
    c.will = Some(w);
    let (c, _) = TestClient::connect_with(server.mqtt, c).await;
    c.drop_connection();
    let p = watcher.recv_publish().await;
    assert_eq!(p.properties.to_properties().user_properties, users);
    assert_eq!(p.properties.content_type(), Some("text/plain"));
    assert_eq!(p.properties.response_topic(), Some("wup/reply"));
    assert_eq!(p.properties.correlation_data(), Some(&b"\x00corr"[..]));
    assert_eq!(p.properties.payload_format_indicator(), Some(true));
}
