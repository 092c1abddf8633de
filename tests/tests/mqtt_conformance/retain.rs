//! Retained messages, Retain Handling and Retain As Published (MQTT 5.0 §3.3.1.3,
//! §3.8.3.1; 3.1.1 §3.3.1.3).

use std::collections::BTreeMap;

use mqtt_proto::{Packet, ProtocolVersion, QoS, RetainHandling, SubscriptionOptions};
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::TestClient;

use crate::common::{BOTH, V5, V311, cid, drain, opts};

/// Receives the retained messages that a subscription brings, acknowledging them:
/// topic → (payload, QoS); each must carry RETAIN 1.
async fn retained_batch(c: &mut TestClient) -> BTreeMap<String, (Vec<u8>, QoS)> {
    let mut got = BTreeMap::new();
    for p in drain(c).await {
        let Packet::Publish(p) = p else {
            panic!("expected retained PUBLISH packets, got {p:?}");
        };
        assert!(p.retain, "sent because of a new subscription: RETAIN 1");
        c.ack(&p).await;
        got.insert(p.topic.to_string(), (p.payload.to_vec(), p.qos));
    }
    got
}

/// 5.0 MQTT-3.3.1-5, MQTT-3.3.1-9 and 3.1.1 MQTT-3.3.1-5, MQTT-3.3.1-6,
/// MQTT-3.3.1-8: a retained PUBLISH is stored with its QoS, replacing the previous
/// one on its topic; a new subscription receives the last retained message of each
/// matching topic, with RETAIN 1, at the lower of its QoS and the granted QoS.
#[tokio::test]
async fn mqtt_3_3_1_5_retained_message_stored_replaced_and_sent() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let mut p = TestClient::connect(server.mqtt, version, &cid("ret-pub", version)).await;
        let l = version.level();
        p.publish(&format!("ret/{l}/a"), b"one", QoS::AtLeastOnce, true)
            .await;
        p.publish(&format!("ret/{l}/a"), b"two", QoS::AtLeastOnce, true)
            .await;
        p.publish(&format!("ret/{l}/b"), b"bee", QoS::AtMostOnce, true)
            .await;
    }
    let want = |a_qos: QoS| {
        let mut m = BTreeMap::new();
        for l in [4, 5] {
            m.insert(format!("ret/{l}/a"), (b"two".to_vec(), a_qos));
            m.insert(format!("ret/{l}/b"), (b"bee".to_vec(), QoS::AtMostOnce));
        }
        m
    };
    for version in BOTH {
        let mut s = TestClient::connect(server.mqtt, version, &cid("ret-sub", version)).await;
        s.subscribe("ret/+/+", QoS::ExactlyOnce).await;
        assert_eq!(
            retained_batch(&mut s).await,
            want(QoS::AtLeastOnce),
            "{version}"
        );
        let mut s = TestClient::connect(server.mqtt, version, &cid("ret-sub0", version)).await;
        s.subscribe("ret/#", QoS::AtMostOnce).await;
        assert_eq!(
            retained_batch(&mut s).await,
            want(QoS::AtMostOnce),
            "{version}"
        );
    }
}

/// 5.0 MQTT-3.3.1-6, MQTT-3.3.1-7 and 3.1.1 MQTT-3.3.1-10, MQTT-3.3.1-11: a
/// retained PUBLISH with an empty payload reaches the current subscribers as usual,
/// removes the retained message of its topic and is not stored itself: later
/// subscribers receive nothing.
#[tokio::test]
async fn mqtt_3_3_1_6_empty_retained_payload_removes_the_retained_message() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let l = version.level();
        let topic = format!("del/{l}");
        let mut live = TestClient::connect(server.mqtt, version, &cid("del-live", version)).await;
        live.subscribe(&topic, QoS::AtMostOnce).await;
        let mut p = TestClient::connect(server.mqtt, version, &cid("del-pub", version)).await;
        p.publish(&topic, b"doomed", QoS::AtLeastOnce, true).await;
        assert_eq!(&live.recv_publish().await.payload[..], b"doomed");
        p.publish(&topic, b"", QoS::AtLeastOnce, true).await;
        let empty = live.recv_publish().await;
        assert!(empty.payload.is_empty(), "{version}: processed as normal");
        let mut late = TestClient::connect(server.mqtt, version, &cid("del-late", version)).await;
        late.subscribe(&topic, QoS::AtMostOnce).await;
        assert!(
            drain(&mut late).await.is_empty(),
            "{version}: nothing retained"
        );
        assert!(server.broker.retained_matching(&topic).is_empty());
    }
}

/// 3.1.1 MQTT-3.3.1-7: a retained QoS 0 PUBLISH discards the message retained
/// before on its topic (this server keeps the new one).
#[tokio::test]
async fn mqtt_3_3_1_7_v311_retained_qos0_replaces_the_retained_message() {
    let server = InProcessServer::start().await;
    let mut p = TestClient::connect(server.mqtt, V311, "q0r-pub").await;
    p.publish("q0r/x", b"old", QoS::ExactlyOnce, true).await;
    p.publish("q0r/x", b"new", QoS::AtMostOnce, true).await;
    let mut s = TestClient::connect(server.mqtt, V311, "q0r-sub").await;
    s.subscribe("q0r/x", QoS::ExactlyOnce).await;
    let got = retained_batch(&mut s).await;
    assert_eq!(got.get("q0r/x"), Some(&(b"new".to_vec(), QoS::AtMostOnce)));
}

/// 5.0 MQTT-3.3.1-8 and 3.1.1 MQTT-3.3.1-12: a PUBLISH with RETAIN 0 is not
/// stored as retained and neither removes nor replaces the retained message of its
/// topic, not even with an empty payload.
#[tokio::test]
async fn mqtt_3_3_1_8_retain_0_leaves_the_retained_message_alone() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let l = version.level();
        let mut p = TestClient::connect(server.mqtt, version, &cid("keep-pub", version)).await;
        p.publish(&format!("keep/{l}/a"), b"kept", QoS::AtLeastOnce, true)
            .await;
        p.publish(&format!("keep/{l}/a"), b"live", QoS::AtLeastOnce, false)
            .await;
        p.publish(&format!("keep/{l}/a"), b"", QoS::AtLeastOnce, false)
            .await;
        p.publish(&format!("keep/{l}/b"), b"never", QoS::AtLeastOnce, false)
            .await;
        let mut s = TestClient::connect(server.mqtt, version, &cid("keep-sub", version)).await;
        s.subscribe(&format!("keep/{l}/+"), QoS::AtLeastOnce).await;
        let got = retained_batch(&mut s).await;
        let want = BTreeMap::from([(format!("keep/{l}/a"), (b"kept".to_vec(), QoS::AtLeastOnce))]);
        assert_eq!(got, want, "{version}");
    }
}

/// A server holding the retained message `"kept"` on `rh/{name}`, and a 5.0 client.
async fn retained_fixture(name: &str) -> (InProcessServer, TestClient, String) {
    let server = InProcessServer::start().await;
    let topic = format!("rh/{name}");
    let mut p = TestClient::connect(server.mqtt, V5, "rh-pub").await;
    p.publish(&topic, b"kept", QoS::AtMostOnce, true).await;
    let s = TestClient::connect(server.mqtt, V5, "rh-sub").await;
    (server, s, topic)
}

fn handling(retain_handling: RetainHandling) -> SubscriptionOptions {
    SubscriptionOptions {
        retain_handling,
        ..opts(QoS::AtMostOnce)
    }
}

/// 5.0 MQTT-3.3.1-9: with Retain Handling 0 the retained messages matching the
/// filter are sent on every SUBSCRIBE, for a new subscription and for one that
/// replaces an existing subscription.
#[tokio::test]
async fn mqtt_3_3_1_9_retain_handling_0_sends_on_every_subscribe() {
    let (_server, mut s, topic) = retained_fixture("zero").await;
    for _ in 0..2 {
        s.subscribe_with(&topic, handling(RetainHandling::SendAtSubscribe))
            .await;
        assert_eq!(retained_batch(&mut s).await.len(), 1);
    }
}

/// 5.0 MQTT-3.3.1-10: with Retain Handling 1 the retained messages are sent for a
/// new subscription only, not when it replaces an existing one.
#[tokio::test]
async fn mqtt_3_3_1_10_retain_handling_1_sends_for_new_subscriptions_only() {
    let (_server, mut s, topic) = retained_fixture("one").await;
    s.subscribe_with(&topic, handling(RetainHandling::SendIfNew))
        .await;
    assert_eq!(retained_batch(&mut s).await.len(), 1);
    s.subscribe_with(&topic, handling(RetainHandling::SendIfNew))
        .await;
    assert!(drain(&mut s).await.is_empty(), "the subscription existed");
    s.unsubscribe(&topic).await;
    s.subscribe_with(&topic, handling(RetainHandling::SendIfNew))
        .await;
    assert_eq!(retained_batch(&mut s).await.len(), 1, "new again");
}

/// 5.0 MQTT-3.3.1-11: with Retain Handling 2 the retained messages are never sent.
#[tokio::test]
async fn mqtt_3_3_1_11_retain_handling_2_never_sends() {
    let (_server, mut s, topic) = retained_fixture("two").await;
    for filter in [topic.as_str(), "rh/+", topic.as_str()] {
        s.subscribe_with(filter, handling(RetainHandling::DoNotSend))
            .await;
        assert!(drain(&mut s).await.is_empty(), "{filter}");
    }
}

/// Publishes `retain`ed and not `retain`ed messages to `rap/{tag}` from a
/// `publisher`-version client and returns the RETAIN flags a subscriber with
/// `subscriber` version and `options` receives for them.
async fn forwarded_retain_flags(
    server: &InProcessServer,
    tag: &str,
    publisher: ProtocolVersion,
    subscriber: ProtocolVersion,
    options: SubscriptionOptions,
) -> Vec<bool> {
    let topic = format!("rap/{tag}");
    let mut s = TestClient::connect(server.mqtt, subscriber, &format!("rap-sub-{tag}")).await;
    s.subscribe_with(&topic, options).await;
    let mut p = TestClient::connect(server.mqtt, publisher, &format!("rap-pub-{tag}")).await;
    let mut flags = Vec::new();
    for retain in [true, false, true] {
        p.publish(&topic, b"x", QoS::AtMostOnce, retain).await;
        flags.push(s.recv_publish().await.retain);
    }
    flags
}

/// 5.0 MQTT-3.3.1-12 and 3.1.1 MQTT-3.3.1-9: a message forwarded to an
/// established subscription (5.0: Retain As Published 0) has RETAIN 0, however the
/// publisher set it.
#[tokio::test]
async fn mqtt_3_3_1_12_forwarded_messages_have_retain_0() {
    let server = InProcessServer::start().await;
    for publisher in BOTH {
        for subscriber in BOTH {
            let tag = format!("{}{}", publisher.level(), subscriber.level());
            let flags =
                forwarded_retain_flags(&server, &tag, publisher, subscriber, opts(QoS::AtMostOnce))
                    .await;
            assert_eq!(flags, [false; 3], "{tag}");
        }
    }
}

/// 5.0 MQTT-3.3.1-13: with Retain As Published 1, RETAIN is forwarded as the
/// publisher set it.
#[tokio::test]
async fn mqtt_3_3_1_13_retain_as_published_keeps_the_flag() {
    let server = InProcessServer::start().await;
    let rap = SubscriptionOptions {
        retain_as_published: true,
        ..opts(QoS::AtMostOnce)
    };
    for publisher in BOTH {
        let tag = format!("{}", publisher.level());
        let flags = forwarded_retain_flags(&server, &tag, publisher, V5, rap).await;
        assert_eq!(flags, [true, false, true], "{tag}");
    }
}
