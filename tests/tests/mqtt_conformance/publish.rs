//! PUBLISH as the server forwards it: DUP, Topic Name, properties, Message Expiry,
//! Topic Alias, Maximum Packet Size (MQTT 5.0 §3.3, §3.1.2.11; 3.1.1 §3.3).

use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{Packet, QoS, ReasonCode, UserProperty, topic};
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::{TestClient, connect_packet};

use crate::common::{
    BOTH, V5, V311, cid, drain, expect_error_close, message, persistent, subscribe_packet,
};

/// 5.0 MQTT-3.3.1-1, MQTT-3.3.1-3 and 3.1.1 MQTT-3.3.1-1, MQTT-3.3.1-3: the
/// server sets DUP only when it re-delivers a PUBLISH: a PUBLISH that came in with
/// DUP 1 goes out with DUP 0, and the same message resent after a reconnect has
/// DUP 1.
#[tokio::test]
async fn mqtt_3_3_1_1_dup_only_on_redelivery() {
    let server = InProcessServer::start().await;
    let mut publisher = TestClient::connect(server.mqtt, V5, "dup-pub").await;
    for version in BOTH {
        let id = cid("dup-sub", version);
        let topic = format!("dup/{}", version.level());
        let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        s.subscribe(&topic, QoS::ExactlyOnce).await;
        for qos in [QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let mut m = message(&topic, b"x", qos);
            m.dup = true;
            publisher.publish_packet(m).await;
        }
        let first: Vec<_> = [s.recv_publish().await, s.recv_publish().await].into();
        assert!(
            first.iter().all(|p| !p.dup),
            "{version}: DUP not propagated"
        );
        s.drop_connection();
        let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(version, &id, 300)).await;
        for sent in &first {
            let again = s.recv_publish().await;
            assert!(again.dup, "{version}: a re-delivery has DUP 1");
            assert_eq!((again.packet_id, again.qos), (sent.packet_id, sent.qos));
            s.ack(&again).await;
        }
        assert!(drain(&mut s).await.is_empty());
    }
}

/// 5.0 MQTT-3.3.2-3 and 3.1.1 MQTT-3.3.2-3: the Topic Name of each PUBLISH the
/// server sends matches the filter of the subscription it is sent for, and only
/// matching messages are sent.
#[tokio::test]
async fn mqtt_3_3_2_3_forwarded_topic_matches_the_filter() {
    let server = InProcessServer::start().await;
    let filters = ["m/+/x", "m/a/#", "n/b", "+/+/+/+"];
    let topics = [
        "m/a/x", "m/b/x", "m/a", "m/a/y/z", "m/x", "n/b", "n/b/c", "o/p/q/r", "M/a/x", "m//x",
    ];
    let mut publisher = TestClient::connect(server.mqtt, V5, "match-pub").await;
    for version in BOTH {
        let mut s = TestClient::connect(server.mqtt, version, &cid("match-sub", version)).await;
        for f in filters {
            s.subscribe(f, QoS::AtMostOnce).await;
        }
        for t in topics {
            publisher
                .publish(t, t.as_bytes(), QoS::AtMostOnce, false)
                .await;
        }
        let mut got = Vec::new();
        for p in drain(&mut s).await {
            let Packet::Publish(p) = p else {
                panic!("{p:?}")
            };
            assert_eq!(p.topic.as_bytes(), &p.payload[..], "Topic Name unchanged");
            got.push(p.topic.to_string());
        }
        let want: Vec<&str> = topics
            .iter()
            .copied()
            .filter(|t| filters.iter().any(|f| topic::matches(f, t)))
            .collect();
        assert_eq!(got, want, "{version}");
    }
}

/// 5.0 MQTT-3.3.2-4, MQTT-3.3.2-15, MQTT-3.3.2-16, MQTT-3.3.2-17, MQTT-3.3.2-18,
/// MQTT-3.3.2-20: Payload Format Indicator, Response Topic, Correlation Data,
/// User Properties (in their order) and Content Type reach every subscriber
/// unaltered: live, through an offline queue and as a retained message.
#[tokio::test]
async fn mqtt_3_3_2_4_application_properties_forwarded_unaltered() {
    let server = InProcessServer::start().await;
    let (mut offline, _) =
        TestClient::connect_with(server.mqtt, persistent(V5, "props-off", 300)).await;
    offline.subscribe("props/#", QoS::AtLeastOnce).await;
    offline.disconnect().await;
    let mut live = TestClient::connect(server.mqtt, V5, "props-live").await;
    live.subscribe("props/#", QoS::AtLeastOnce).await;

    let mut m = message("props/x", b"{\"t\":1}", QoS::AtLeastOnce);
    m.retain = true;
    let p = m.properties.to_mut();
    p.payload_format_indicator = Some(true);
    p.response_topic = Some("props/reply".into());
    p.correlation_data = Some(Bytes::from_static(b"\x00\x01\xffcorr"));
    p.content_type = Some("application/json; charset=utf-8".into());
    p.user_properties = vec![
        UserProperty::new("b", "2"),
        UserProperty::new("a", "1"),
        UserProperty::new("b", "3"),
        UserProperty::new("", ""),
    ];
    let want = m.properties.clone();
    let mut publisher = TestClient::connect(server.mqtt, V5, "props-pub").await;
    publisher.publish_packet(m).await;

    let (resumed, _) =
        TestClient::connect_with(server.mqtt, persistent(V5, "props-off", 300)).await;
    let mut late = TestClient::connect(server.mqtt, V5, "props-late").await;
    late.subscribe("props/#", QoS::AtLeastOnce).await;
    for (how, mut c) in [("live", live), ("queued", resumed), ("retained", late)] {
        let got = c.recv_publish().await;
        let g = &got.properties.to_properties();
        let want = &want.to_properties();
        assert_eq!(
            g.payload_format_indicator, want.payload_format_indicator,
            "{how}"
        );
        assert_eq!(g.response_topic, want.response_topic, "{how}");
        assert_eq!(g.correlation_data, want.correlation_data, "{how}");
        assert_eq!(g.content_type, want.content_type, "{how}");
        assert_eq!(g.user_properties, want.user_properties, "{how}");
    }
}

/// 5.0 MQTT-3.3.2-5, MQTT-3.3.2-6: a message whose Message Expiry Interval has
/// passed before onward delivery started is not delivered (from an offline queue
/// nor as a retained message); one delivered carries the received interval minus
/// the time it waited in the server.
#[tokio::test]
async fn mqtt_3_3_2_5_expired_messages_are_not_delivered() {
    let server = InProcessServer::start().await;
    let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(V5, "exp-sub", 300)).await;
    s.subscribe("exp/q/#", QoS::AtLeastOnce).await;
    s.disconnect().await;
    let mut p = TestClient::connect(server.mqtt, V5, "exp-pub").await;
    for (topic, secs, retain) in [
        ("exp/q/short", 1u32, false),
        ("exp/q/long", 100, false),
        ("exp/r/short", 1, true),
        ("exp/r/long", 100, true),
    ] {
        let mut m = message(topic, b"x", QoS::AtLeastOnce);
        m.retain = retain;
        m.properties.to_mut().message_expiry_interval = Some(secs);
        p.publish_packet(m).await;
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (mut s, _) = TestClient::connect_with(server.mqtt, persistent(V5, "exp-sub", 300)).await;
    s.send(&subscribe_packet(1, &[("exp/r/#", QoS::AtLeastOnce)]))
        .await;
    let mut got = Vec::new();
    for packet in drain(&mut s).await {
        let Packet::Publish(m) = packet else {
            assert!(matches!(packet, Packet::SubAck(_)), "{packet:?}");
            continue;
        };
        let left = m
            .properties
            .message_expiry_interval()
            .expect("interval kept");
        assert!(
            (90..=98).contains(&left),
            "{}: {left} s left",
            m.topic.as_str()
        );
        s.ack(&m).await;
        got.push(m.topic.to_string());
    }
    got.sort();
    assert_eq!(got, ["exp/q/long", "exp/r/long"]);
}

/// 5.0 MQTT-3.3.2-7: Topic Alias mappings end with the network connection, in
/// both directions: after a reconnect, the server refuses an alias the client set
/// on the previous connection (Protocol Error) and sends the Topic Name again
/// before using an alias of its own.
#[tokio::test]
async fn mqtt_3_3_2_7_topic_aliases_end_with_the_connection() {
    let server = InProcessServer::start().await;
    let mut connect = persistent(V5, "alias-life", 300);
    connect.properties.topic_alias_maximum = Some(5);
    let (mut c, _) = TestClient::connect_with(server.mqtt, connect.clone()).await;
    c.subscribe("alias/life", QoS::AtMostOnce).await;
    let mut set = message("alias/life", b"1", QoS::AtMostOnce);
    set.properties.to_mut().topic_alias = Some(1);
    c.send(&Packet::Publish(set)).await;
    let first = c.recv_publish().await;
    assert_eq!(
        (first.topic.as_str(), first.properties.topic_alias()),
        ("alias/life", Some(1))
    );
    let mut use_it = message("", b"2", QoS::AtMostOnce);
    use_it.properties.to_mut().topic_alias = Some(1);
    c.send(&Packet::Publish(use_it.clone())).await;
    let second = c.recv_publish().await;
    assert_eq!(
        (second.topic.as_str(), second.properties.topic_alias()),
        ("", Some(1))
    );
    c.disconnect().await;

    let (mut c, _) = TestClient::connect_with(server.mqtt, connect).await;
    let mut other = TestClient::connect(server.mqtt, V311, "alias-life-pub").await;
    other
        .publish("alias/life", b"3", QoS::AtMostOnce, false)
        .await;
    let third = c.recv_publish().await;
    assert_eq!(third.topic.as_str(), "alias/life", "the Topic Name again");
    c.send(&Packet::Publish(use_it)).await;
    expect_error_close(&mut c, ReasonCode::ProtocolError).await;
}

/// 5.0 MQTT-3.3.2-12: the server accepts every Topic Alias from 1 to the Topic
/// Alias Maximum it returned in the CONNACK, each mapping its own topic.
#[tokio::test]
async fn mqtt_3_3_2_12_every_alias_up_to_the_maximum_is_accepted() {
    let server = InProcessServer::start().await;
    let mut s = TestClient::connect(server.mqtt, V311, "aliases-sub").await;
    s.subscribe("aliases/#", QoS::AtMostOnce).await;
    let (mut p, ack) =
        TestClient::connect_with(server.mqtt, connect_packet(V5, "aliases-pub")).await;
    let max = ack
        .properties
        .topic_alias_maximum
        .expect("Topic Alias Maximum");
    assert!(max > 0);
    for round in 0..2 {
        for alias in 1..=max {
            let topic = if round == 0 {
                format!("aliases/{alias}")
            } else {
                String::new()
            };
            let mut m = message(&topic, format!("{alias}").as_bytes(), QoS::AtMostOnce);
            m.properties.to_mut().topic_alias = Some(alias);
            p.send(&Packet::Publish(m)).await;
        }
        for alias in 1..=max {
            let got = s.recv_publish().await;
            assert_eq!(got.topic.to_string(), format!("aliases/{alias}"));
            assert_eq!(got.payload, format!("{alias}").as_bytes());
        }
    }
    p.send(&Packet::PingReq).await;
    assert!(matches!(p.recv().await, Packet::PingResp));
}

/// 5.0 MQTT-3.1.2-27: a client that sends no Topic Alias Maximum, or 0, gets no
/// Topic Alias from the server, however often a topic repeats.
#[tokio::test]
async fn mqtt_3_1_2_27_no_topic_alias_without_client_maximum() {
    let server = InProcessServer::start().await;
    let mut clients = Vec::new();
    for max in [None, Some(0)] {
        let mut connect = connect_packet(V5, &format!("noalias-{max:?}"));
        connect.properties.topic_alias_maximum = max;
        let (mut c, _) = TestClient::connect_with(server.mqtt, connect).await;
        c.subscribe("noalias/#", QoS::AtMostOnce).await;
        clients.push(c);
    }
    let mut p = TestClient::connect(server.mqtt, V5, "noalias-pub").await;
    for _ in 0..5 {
        p.publish("noalias/same/topic", b"x", QoS::AtMostOnce, false)
            .await;
    }
    for c in &mut clients {
        for _ in 0..5 {
            let got = c.recv_publish().await;
            assert_eq!(got.properties.topic_alias(), None);
            assert_eq!(got.topic.as_str(), "noalias/same/topic");
        }
    }
}

/// 5.0 MQTT-3.1.2-25: a message too large for the client's Maximum Packet Size is
/// discarded without being sent, and the server behaves as if it had completed
/// sending it: with Receive Maximum 1, the QoS 1 messages after it still come.
#[tokio::test]
async fn mqtt_3_1_2_25_too_large_message_counts_as_delivered() {
    let server = InProcessServer::start().await;
    let mut connect = connect_packet(V5, "tiny");
    connect.properties.maximum_packet_size = Some(100);
    connect.properties.receive_maximum = Some(1);
    let (mut s, _) = TestClient::connect_with(server.mqtt, connect).await;
    s.subscribe("tiny/#", QoS::AtLeastOnce).await;
    let mut p = TestClient::connect(server.mqtt, V5, "tiny-pub").await;
    p.publish("tiny/big", &[b'x'; 200], QoS::AtLeastOnce, false)
        .await;
    p.publish("tiny/small", b"1", QoS::AtLeastOnce, false).await;
    p.publish("tiny/big", &[b'x'; 200], QoS::AtMostOnce, false)
        .await;
    p.publish("tiny/small", b"2", QoS::AtLeastOnce, false).await;
    for n in ["1", "2"] {
        let got = s.recv_publish().await;
        assert_eq!(
            (got.topic.as_str(), &got.payload[..]),
            ("tiny/small", n.as_bytes())
        );
        s.ack(&got).await;
    }
    assert!(drain(&mut s).await.is_empty());
}
