//! Broker behaviour around routing and delivery, against the in-process server.
//! Each test cites the normative statements it checks.

use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{
    Packet, ProtocolVersion, PubResponse, Publish, QoS, ReasonCode, RetainHandling,
    SubscriptionOptions, UserProperty,
};
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::{TestClient, connect_packet};

const V5: ProtocolVersion = ProtocolVersion::V5;
const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const QUIET: Duration = Duration::from_millis(300);

fn opts(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        ..Default::default()
    }
}

/// MQTT-4.3.1..4.3.3 and 5.0 MQTT-3.8.4-8 (3.1.1 MQTT-3.8.4-6): each QoS end to end,
/// in both versions, at the minimum of the published and the granted QoS.
#[tokio::test]
async fn qos_0_1_2_delivered_at_min_of_published_and_granted() {
    let server = InProcessServer::start().await;
    for (sv, pv) in [(V5, V311), (V311, V5), (V5, V5), (V311, V311)] {
        let tag = format!("{}-{}", sv.level(), pv.level());
        let mut sub = TestClient::connect(server.mqtt, sv, &format!("sub-{tag}")).await;
        let filter = format!("q/{tag}/+");
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let topic = format!("q/{tag}/{}", u8::from(qos));
            let ack = sub.subscribe(&topic, qos).await;
            assert_eq!(ack.reason_codes.len(), 1);
        }
        sub.subscribe(&filter, QoS::AtMostOnce).await;
        let mut publisher = TestClient::connect(server.mqtt, pv, &format!("pub-{tag}")).await;
        for granted in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            for published in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
                let topic = format!("q/{tag}/{}", u8::from(granted));
                let payload = format!("{granted:?}/{published:?}");
                publisher
                    .publish(&topic, payload.as_bytes(), published, false)
                    .await;
                let p = sub.recv_publish().await;
                assert_eq!(&p.payload[..], payload.as_bytes());
                // MQTT-3.3.4-2: overlapping `q/tag/+` at QoS 0 does not lower it.
                assert_eq!(p.qos, granted.min(published), "{tag} {payload}");
                assert_eq!(
                    p.packet_id.is_some(),
                    p.qos != QoS::AtMostOnce,
                    "MQTT-2.2.1-2/3"
                );
                sub.ack(&p).await;
            }
        }
        sub.expect_silence(QUIET).await;
    }
}

/// MQTT-3.3.1-5/6/7/8, MQTT-3.3.1-9: retained messages are set, replaced, deleted by an
/// empty payload, sent with RETAIN 1 on subscribe, untouched by non-retained publishes.
#[tokio::test]
async fn mqtt_3_3_1_5_to_9_retained_messages() {
    let server = InProcessServer::start().await;
    let mut p = TestClient::connect(server.mqtt, V311, "retainer").await;
    p.publish("r/a", b"one", QoS::AtLeastOnce, true).await;
    p.publish("r/a", b"two", QoS::AtLeastOnce, true).await;
    p.publish("r/a", b"not kept", QoS::AtLeastOnce, false).await;
    p.publish("r/b", b"gone soon", QoS::AtMostOnce, true).await;
    p.publish("r/b", b"", QoS::AtMostOnce, true).await;
    let mut s = TestClient::connect(server.mqtt, V5, "late").await;
    s.subscribe("r/#", QoS::AtLeastOnce).await;
    let got = s.recv_publish().await;
    assert_eq!(
        (got.topic.as_str(), &got.payload[..], got.retain),
        ("r/a", &b"two"[..], true)
    );
    s.ack(&got).await;
    s.expect_silence(QUIET).await;
    assert_eq!(server.broker.retained_matching("r/#").len(), 1);
    // A live message is forwarded with RETAIN 0 (MQTT-3.3.1-12, RAP off).
    p.publish("r/a", b"three", QoS::AtMostOnce, true).await;
    let live = s.recv_publish().await;
    assert_eq!((&live.payload[..], live.retain), (&b"three"[..], false));
}

/// MQTT-3.3.1-10/11: Retain Handling 1 sends retained messages only for a new
/// subscription, 2 never; MQTT-3.3.1-13: Retain As Published keeps the flag.
#[tokio::test]
async fn mqtt_3_3_1_10_to_13_retain_handling_and_rap() {
    let server = InProcessServer::start().await;
    let mut p = TestClient::connect(server.mqtt, V5, "rh-pub").await;
    p.publish("rh/x", b"kept", QoS::AtMostOnce, true).await;
    let mut s = TestClient::connect(server.mqtt, V5, "rh-sub").await;
    let once = SubscriptionOptions {
        retain_handling: RetainHandling::SendIfNew,
        ..opts(QoS::AtMostOnce)
    };
    s.subscribe_with("rh/x", once).await;
    assert!(s.recv_publish().await.retain);
    s.subscribe_with("rh/x", once).await;
    s.expect_silence(QUIET).await;
    let never = SubscriptionOptions {
        retain_handling: RetainHandling::DoNotSend,
        ..opts(QoS::AtMostOnce)
    };
    s.subscribe_with("rh/+", never).await;
    s.expect_silence(QUIET).await;
    let rap = SubscriptionOptions {
        retain_as_published: true,
        retain_handling: RetainHandling::DoNotSend,
        ..opts(QoS::AtMostOnce)
    };
    s.subscribe_with("rh/#", rap).await;
    p.publish("rh/x", b"again", QoS::AtMostOnce, true).await;
    // One copy for the overlapping subscriptions, RETAIN kept because one has RAP.
    let got = s.recv_publish().await;
    assert!(got.retain, "MQTT-3.3.1-13");
    s.expect_silence(QUIET).await;
}

/// MQTT-3.3.4-2/3/4: overlapping subscriptions give one message at the highest QoS
/// carrying every Subscription Identifier.
#[tokio::test]
async fn mqtt_3_3_4_2_to_4_overlapping_subscriptions() {
    let server = InProcessServer::start().await;
    let mut s = TestClient::connect(server.mqtt, V5, "overlap").await;
    for (filter, qos, id) in [
        ("o/+", QoS::AtMostOnce, 7u32),
        ("o/#", QoS::AtLeastOnce, 9),
        ("o/a", QoS::AtMostOnce, 0),
    ] {
        let packet_id = s.next_id();
        let mut sub = mqtt_proto::Subscribe {
            packet_id,
            properties: Default::default(),
            subscriptions: vec![mqtt_proto::Subscription {
                filter: filter.to_string().into(),
                options: opts(qos),
            }],
        };
        if id != 0 {
            sub.properties.subscription_identifier = Some(id);
        }
        s.send(&Packet::Subscribe(sub)).await;
        assert!(matches!(s.recv().await, Packet::SubAck(_)));
    }
    let mut p = TestClient::connect(server.mqtt, V5, "overlap-pub").await;
    p.publish("o/a", b"x", QoS::ExactlyOnce, false).await;
    let got = s.recv_publish().await;
    assert_eq!(got.qos, QoS::AtLeastOnce);
    let mut ids: Vec<u32> = got.properties.subscription_identifiers().collect();
    ids.sort_unstable();
    assert_eq!(ids, [7, 9]);
    s.ack(&got).await;
    s.expect_silence(QUIET).await;
}

/// MQTT-3.8.3-3: No Local: a client's own messages are not sent back to it.
#[tokio::test]
async fn mqtt_3_8_3_3_no_local() {
    let server = InProcessServer::start().await;
    let mut c = TestClient::connect(server.mqtt, V5, "narcissus").await;
    c.subscribe_with(
        "nl/#",
        SubscriptionOptions {
            no_local: true,
            ..opts(QoS::AtMostOnce)
        },
    )
    .await;
    c.publish("nl/me", b"echo?", QoS::AtMostOnce, false).await;
    c.expect_silence(QUIET).await;
    let mut other = TestClient::connect(server.mqtt, V5, "other-nl").await;
    other.publish("nl/you", b"hi", QoS::AtMostOnce, false).await;
    assert_eq!(c.recv_publish().await.topic.as_str(), "nl/you");
}

/// MQTT-3.10.4-1..6: UNSUBSCRIBE stops delivery; UNSUBACK answers every filter, with
/// 0x11 for a filter that was not subscribed (v5).
#[tokio::test]
async fn mqtt_3_10_4_unsubscribe() {
    let server = InProcessServer::start().await;
    let mut c = TestClient::connect(server.mqtt, V5, "unsub").await;
    c.subscribe("u/+", QoS::AtMostOnce).await;
    match c.unsubscribe("u/+").await {
        Packet::UnsubAck(a) => assert_eq!(a.reason_codes, [ReasonCode::Success]),
        other => panic!("{other:?}"),
    }
    match c.unsubscribe("u/+").await {
        Packet::UnsubAck(a) => assert_eq!(a.reason_codes, [ReasonCode::NoSubscriptionExisted]),
        other => panic!("{other:?}"),
    }
    c.publish("u/x", b"no", QoS::AtMostOnce, false).await;
    c.expect_silence(QUIET).await;
}

/// MQTT-4.4.0-1, MQTT-3.3.1-1: messages for an offline persistent session are queued;
/// unacknowledged ones are resent on reconnect with DUP and their packet id.
#[tokio::test]
async fn mqtt_4_4_0_1_offline_queue_and_resend_with_dup() {
    let server = InProcessServer::start().await;
    let mut connect = connect_packet(V311, "persistent");
    connect.clean_start = false;
    let (mut s, _) = TestClient::connect_with(server.mqtt, connect.clone()).await;
    s.subscribe("p/#", QoS::ExactlyOnce).await;
    let mut p = TestClient::connect(server.mqtt, V5, "p-pub").await;
    p.publish("p/1", b"first", QoS::AtLeastOnce, false).await;
    let first = s.recv_publish().await;
    assert!(!first.dup);
    s.drop_connection(); // not acknowledged
    for i in 2..=4 {
        p.publish(&format!("p/{i}"), b"queued", QoS::ExactlyOnce, false)
            .await;
    }
    p.publish("p/qos0", b"dropped offline", QoS::AtMostOnce, false)
        .await;
    let (mut s, ack) = TestClient::connect_with(server.mqtt, connect).await;
    assert!(ack.session_present);
    let again = s.recv_publish().await;
    assert!(again.dup, "MQTT-3.3.1-1");
    assert_eq!(
        (again.packet_id, again.topic.as_str()),
        (first.packet_id, "p/1")
    );
    s.ack(&again).await;
    for i in 2..=4 {
        let q = s.recv_publish().await;
        assert_eq!(
            (q.topic.as_str(), q.qos, q.dup),
            (format!("p/{i}").as_str(), QoS::ExactlyOnce, false)
        );
        s.ack(&q).await;
    }
    s.expect_silence(QUIET).await;
}

/// MQTT-4.3.3 (exactly once): a QoS 2 PUBLISH resent before PUBREL is not delivered
/// twice; PUBREL for an unknown id gets PUBCOMP 0x92 (v5).
#[tokio::test]
async fn qos2_duplicate_publish_is_delivered_once() {
    let server = InProcessServer::start().await;
    let mut s = TestClient::connect(server.mqtt, V5, "once-sub").await;
    s.subscribe("once/#", QoS::AtMostOnce).await;
    let mut p = TestClient::connect(server.mqtt, V5, "once-pub").await;
    let id = p.next_id();
    let mut publish = Publish::new("once/x", Bytes::from_static(b"1"));
    publish.qos = QoS::ExactlyOnce;
    publish.packet_id = Some(id);
    p.send(&Packet::Publish(publish.clone())).await;
    assert!(matches!(p.recv().await, Packet::PubRec(r) if r.packet_id == id));
    publish.dup = true;
    p.send(&Packet::Publish(publish)).await;
    assert!(matches!(p.recv().await, Packet::PubRec(r) if r.packet_id == id));
    p.send(&Packet::PubRel(PubResponse::new(id))).await;
    assert!(
        matches!(p.recv().await, Packet::PubComp(r) if r.packet_id == id && r.reason_code == ReasonCode::Success)
    );
    assert_eq!(&s.recv_publish().await.payload[..], b"1");
    s.expect_silence(QUIET).await;
    p.send(&Packet::PubRel(PubResponse::new(id))).await;
    assert!(
        matches!(p.recv().await, Packet::PubComp(r) if r.reason_code == ReasonCode::PacketIdentifierNotFound)
    );
}

/// MQTT-3.3.4-9: the server never has more unacknowledged QoS 1/2 messages towards a
/// client than its Receive Maximum.
#[tokio::test]
async fn mqtt_3_3_4_9_receive_maximum_towards_client() {
    let server = InProcessServer::start().await;
    let mut connect = connect_packet(V5, "slow-acker");
    connect.properties.receive_maximum = Some(2);
    let (mut s, _) = TestClient::connect_with(server.mqtt, connect).await;
    s.subscribe("rm/#", QoS::AtLeastOnce).await;
    let mut p = TestClient::connect(server.mqtt, V5, "rm-pub").await;
    for i in 0..5 {
        p.publish(&format!("rm/{i}"), b"x", QoS::AtLeastOnce, false)
            .await;
    }
    let a = s.recv_publish().await;
    let b = s.recv_publish().await;
    s.expect_silence(QUIET).await;
    s.ack(&a).await;
    let c = s.recv_publish().await;
    s.expect_silence(QUIET).await;
    s.ack(&b).await;
    s.ack(&c).await;
    let d = s.recv_publish().await;
    let e = s.recv_publish().await;
    let topics: Vec<String> = [&a, &b, &c, &d, &e]
        .iter()
        .map(|p| p.topic.to_string())
        .collect();
    assert_eq!(
        topics,
        ["rm/0", "rm/1", "rm/2", "rm/3", "rm/4"],
        "in order (MQTT-4.6.0-6)"
    );
}

/// MQTT-3.3.2-12: the server accepts topic aliases up to its Topic Alias Maximum and
/// resolves them; MQTT-3.3.2-9: a larger alias is a DISCONNECT 0x94.
#[tokio::test]
async fn mqtt_3_3_2_12_topic_alias_from_client() {
    let server = InProcessServer::start().await;
    let mut s = TestClient::connect(server.mqtt, V311, "alias-sub").await;
    s.subscribe("alias/#", QoS::AtMostOnce).await;
    let (mut p, ack) = TestClient::connect_with(server.mqtt, connect_packet(V5, "alias-pub")).await;
    let max = ack
        .properties
        .topic_alias_maximum
        .expect("server announces Topic Alias Maximum");
    let mut first = Publish::new("alias/long/topic", Bytes::from_static(b"1"));
    first.properties.to_mut().topic_alias = Some(max);
    p.send(&Packet::Publish(first)).await;
    let mut second = Publish::new("", Bytes::from_static(b"2"));
    second.properties.to_mut().topic_alias = Some(max);
    p.send(&Packet::Publish(second)).await;
    assert_eq!(s.recv_publish().await.topic.as_str(), "alias/long/topic");
    assert_eq!(s.recv_publish().await.topic.as_str(), "alias/long/topic");
    let mut bad = Publish::new("alias/x", Bytes::new());
    bad.properties.to_mut().topic_alias = Some(max + 1);
    p.send(&Packet::Publish(bad)).await;
    match p.expect_closed().await.as_slice() {
        [Packet::Disconnect(d)] => assert_eq!(d.reason_code, ReasonCode::TopicAliasInvalid),
        other => panic!("expected DISCONNECT 0x94, got {other:?}"),
    }
}

/// MQTT-3.1.2-26/27, MQTT-3.3.2-11: the server uses topic aliases towards a client
/// only up to the client's Topic Alias Maximum.
#[tokio::test]
async fn mqtt_3_3_2_11_topic_alias_to_client() {
    let server = InProcessServer::start().await;
    let mut connect = connect_packet(V5, "alias-taker");
    connect.properties.topic_alias_maximum = Some(1);
    let (mut s, _) = TestClient::connect_with(server.mqtt, connect).await;
    s.subscribe("ta/#", QoS::AtMostOnce).await;
    let mut p = TestClient::connect(server.mqtt, V311, "ta-pub").await;
    for topic in ["ta/one", "ta/one", "ta/two"] {
        p.publish(topic, b"x", QoS::AtMostOnce, false).await;
    }
    let a = s.recv_publish().await;
    assert_eq!(
        (a.topic.as_str(), a.properties.topic_alias()),
        ("ta/one", Some(1))
    );
    let b = s.recv_publish().await;
    assert_eq!(
        (b.topic.as_str(), b.properties.topic_alias()),
        ("", Some(1))
    );
    let c = s.recv_publish().await;
    assert_eq!(
        (c.topic.as_str(), c.properties.topic_alias()),
        ("ta/two", None)
    );
}

/// MQTT-3.3.2-5/6: an expired message is not delivered; a delivered one carries the
/// remaining Message Expiry Interval.
#[tokio::test]
async fn mqtt_3_3_2_5_and_6_message_expiry() {
    let server = InProcessServer::start().await;
    let mut connect = connect_packet(V5, "expiry-sub");
    connect.clean_start = false;
    connect.properties.session_expiry_interval = Some(60);
    let (mut s, _) = TestClient::connect_with(server.mqtt, connect.clone()).await;
    s.subscribe("exp/#", QoS::AtLeastOnce).await;
    s.disconnect().await;
    let mut p = TestClient::connect(server.mqtt, V5, "expiry-pub").await;
    for (topic, secs) in [("exp/short", 1u32), ("exp/long", 100)] {
        let mut m = Publish::new(topic, Bytes::from_static(b"x"));
        m.qos = QoS::AtLeastOnce;
        m.properties.to_mut().message_expiry_interval = Some(secs);
        p.publish_packet(m).await;
    }
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let (mut s, _) = TestClient::connect_with(server.mqtt, connect).await;
    let got = s.recv_publish().await;
    assert_eq!(got.topic.as_str(), "exp/long");
    let left = got.properties.message_expiry_interval().unwrap();
    assert!((90..100).contains(&left), "remaining interval {left}");
    s.ack(&got).await;
    s.expect_silence(QUIET).await;
}

/// MQTT-3.1.2-24/25: a message larger than the client's Maximum Packet Size is not
/// sent to it (and the next ones still are).
#[tokio::test]
async fn mqtt_3_1_2_25_too_large_for_client_is_dropped() {
    let server = InProcessServer::start().await;
    let mut connect = connect_packet(V5, "small");
    connect.properties.maximum_packet_size = Some(100);
    let (mut s, _) = TestClient::connect_with(server.mqtt, connect).await;
    s.subscribe("big/#", QoS::AtLeastOnce).await;
    let mut p = TestClient::connect(server.mqtt, V5, "big-pub").await;
    p.publish("big/1", &[b'x'; 200], QoS::AtLeastOnce, false)
        .await;
    p.publish("big/2", b"small", QoS::AtLeastOnce, false).await;
    let got = s.recv_publish().await;
    assert_eq!(got.topic.as_str(), "big/2");
    assert_eq!(server.broker.metrics.dropped_too_large.get(), 1);
}

/// MQTT-3.3.2-4, -15..-20: Payload Format Indicator, Response Topic, Correlation
/// Data, Content Type and User Properties (in order) are forwarded unaltered.
#[tokio::test]
async fn mqtt_3_3_2_4_and_15_to_20_properties_pass_through() {
    let server = InProcessServer::start().await;
    let mut s = TestClient::connect(server.mqtt, V5, "props-sub").await;
    s.subscribe("props", QoS::AtMostOnce).await;
    let mut p = TestClient::connect(server.mqtt, V5, "props-pub").await;
    let mut m = Publish::new("props", Bytes::from_static(b"{}"));
    m.properties.to_mut().payload_format_indicator = Some(true);
    m.properties.to_mut().response_topic = Some("reply/here".into());
    m.properties.to_mut().correlation_data = Some(Bytes::from_static(b"\x00\x01corr"));
    m.properties.to_mut().content_type = Some("application/json".into());
    m.properties.to_mut().user_properties = vec![
        UserProperty::new("b", "2"),
        UserProperty::new("a", "1"),
        UserProperty::new("b", "3"),
    ];
    p.publish_packet(m.clone()).await;
    let got = s.recv_publish().await;
    assert_eq!(got.properties.payload_format_indicator(), Some(true));
    assert_eq!(
        got.properties.response_topic(),
        m.properties.response_topic()
    );
    assert_eq!(
        got.properties.correlation_data(),
        m.properties.correlation_data()
    );
    assert_eq!(got.properties.content_type(), m.properties.content_type());
    assert!(
        got.properties
            .user_properties()
            .eq(m.properties.user_properties())
    );
}

/// MQTT-3.3.4-6: a Subscription Identifier in a PUBLISH from a client is a Protocol Error.
#[tokio::test]
async fn mqtt_3_3_4_6_subscription_identifier_from_client() {
    let server = InProcessServer::start().await;
    let mut p = TestClient::connect(server.mqtt, V5, "sub-id-pub").await;
    let mut m = Publish::new("x", Bytes::new());
    m.properties.to_mut().subscription_identifiers = vec![1];
    p.send(&Packet::Publish(m)).await;
    match p.expect_closed().await.as_slice() {
        [Packet::Disconnect(d)] => assert_eq!(d.reason_code, ReasonCode::ProtocolError),
        other => panic!("expected DISCONNECT 0x82, got {other:?}"),
    }
}

/// MQTT 5.0 §4.8.2: messages on a shared subscription are spread across the group,
/// each to one member; no retained messages are sent for a shared subscription.
#[tokio::test]
async fn shared_subscription_spreads_messages() {
    let server = InProcessServer::start().await;
    let mut p = TestClient::connect(server.mqtt, V5, "share-pub").await;
    p.publish("jobs/old", b"retained", QoS::AtMostOnce, true)
        .await;
    let mut a = TestClient::connect(server.mqtt, V5, "worker-a").await;
    let mut b = TestClient::connect(server.mqtt, V311, "worker-b").await;
    a.subscribe("$share/workers/jobs/+", QoS::AtLeastOnce).await;
    b.subscribe("$share/workers/jobs/+", QoS::AtLeastOnce).await;
    for i in 0..10 {
        p.publish(&format!("jobs/{i}"), b"job", QoS::AtLeastOnce, false)
            .await;
    }
    let mut got = Vec::new();
    for c in [&mut a, &mut b] {
        while let Some(Packet::Publish(m)) = c.recv_within(QUIET).await {
            assert_ne!(
                m.topic.as_str(),
                "jobs/old",
                "no retained message for a shared subscription"
            );
            c.ack(&m).await;
            got.push(m.topic.to_string());
        }
    }
    got.sort();
    let mut want: Vec<String> = (0..10).map(|i| format!("jobs/{i}")).collect();
    want.sort();
    assert_eq!(got, want, "every message exactly once across the group");
}

/// MQTT 5.0 §4.8.2: a QoS 1 message in flight to a member whose session ends goes to
/// another member.
#[tokio::test]
async fn shared_subscription_inflight_moves_when_member_leaves() {
    let server = InProcessServer::start().await;
    let mut a = TestClient::connect(server.mqtt, V5, "leaver").await;
    a.subscribe("$share/g/work", QoS::AtLeastOnce).await;
    let mut p = TestClient::connect(server.mqtt, V5, "work-pub").await;
    p.publish("work", b"task", QoS::AtLeastOnce, false).await;
    let taken = a.recv_publish().await;
    assert_eq!(&taken.payload[..], b"task");
    let mut b = TestClient::connect(server.mqtt, V5, "stayer").await;
    b.subscribe("$share/g/work", QoS::AtLeastOnce).await;
    a.drop_connection(); // session expiry 0: the session ends unacknowledged
    let moved = b.recv_publish().await;
    assert_eq!(&moved.payload[..], b"task");
}

/// MQTT-4.7.2-1: `#` does not match `$SYS/...`; `$SYS/#` does.
#[tokio::test]
async fn mqtt_4_7_2_1_sys_topics_not_matched_by_hash() {
    let config = realtime_server::broker::BrokerConfig {
        sys_interval: None,
        ..Default::default()
    };
    let server = InProcessServer::start_with(config).await;
    realtime_server::sys::publish(&server.broker, std::time::Instant::now());
    let mut all = TestClient::connect(server.mqtt, V5, "all").await;
    all.subscribe("#", QoS::AtMostOnce).await;
    let mut sys = TestClient::connect(server.mqtt, V5, "sys").await;
    sys.subscribe("$SYS/#", QoS::AtMostOnce).await;
    let got = sys.recv_publish().await;
    assert!(
        got.topic.starts_with("$SYS/broker/"),
        "{}",
        got.topic.as_str()
    );
    assert!(got.retain);
    realtime_server::sys::publish(&server.broker, std::time::Instant::now());
    all.expect_silence(QUIET).await;
}

/// Back-pressure (`broker::pushback`): a publisher that floods a subscriber's
/// queue past its high-water mark is paused until the queue drains, instead of
/// the queue overflowing: 2,000 QoS 0 messages written in one burst into a
/// queue of 40 all arrive, in order (MQTT-4.6.0-6 for the order).
#[tokio::test]
async fn flooding_publisher_is_paused_not_dropped() {
    let mut broker = realtime_server::broker::BrokerConfig::default();
    broker.queue.max_messages = 40;
    let server = InProcessServer::start_with(broker).await;
    let mut sub = TestClient::connect(server.mqtt, V311, "pushback-sub").await;
    sub.subscribe("flood/t", QoS::AtMostOnce).await;
    let mut publisher = TestClient::connect(server.mqtt, V311, "pushback-pub").await;
    const N: usize = 2000;
    let mut burst = bytes::BytesMut::new();
    for i in 0..N {
        let p = Publish::new("flood/t".to_string(), Bytes::from(i.to_string()));
        Packet::Publish(p).encode(V311, &mut burst).unwrap();
    }
    let writer = tokio::spawn(async move {
        publisher.send_raw(&burst).await;
        publisher
    });
    for i in 0..N {
        let p = sub.recv_publish().await;
        assert_eq!(&p.payload[..], i.to_string().as_bytes(), "message {i}");
    }
    let _publisher = writer.await.unwrap();
    let dropped: u64 = server.broker.metrics.dropped_queue_full.get();
    assert_eq!(dropped, 0, "nothing dropped for the subscriber");
    assert!(
        server.broker.metrics.publisher_pauses.get() > 0,
        "the publisher was paused at least once"
    );
}
