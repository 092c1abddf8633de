//! Connection limits, the PUBLISH rate limit, the queue memory budget, and
//! `/metrics` parsed as Prometheus text, against the in-process server.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use realtime_tests::mqtt::{TestClient, connect_packet};
use realtime_tests::ws::raw_http;
use realtime_tests::{InProcessServer, http_get, loopback_config};
use tokio::io::AsyncReadExt;

/// Over `max_connections_per_ip`, a connection is closed before anything is
/// read (MQTT) or answered 503 (HTTP), and counted.
#[tokio::test]
async fn connections_over_the_limit_are_refused_early() {
    let mut config = loopback_config();
    config.limits.max_connections_per_ip = 2;
    let broker = config.broker_config();
    let s = InProcessServer::start_config(config, broker).await;
    let _a = TestClient::connect(s.mqtt, ProtocolVersion::V5, "a").await;
    let _b = TestClient::connect(s.mqtt, ProtocolVersion::V5, "b").await;
    let mut third = tokio::net::TcpStream::connect(s.mqtt).await.unwrap();
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(10), third.read(&mut buf))
        .await
        .expect("closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0, "nothing is answered, the socket is closed");
    let (status, text) = raw_http(s.http, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, 503, "{text}");
    assert_eq!(s.broker.metrics.refused_max_connections_per_ip.get(), 2);
}

/// Over `max_publish_rate`, the publisher is paused (back-pressure), not dropped:
/// every message arrives. (A lower bound on the time taken cannot flake: a slow
/// machine only makes it longer.)
#[tokio::test]
async fn publish_rate_pauses_instead_of_dropping() {
    let mut config = loopback_config();
    config.limits.max_publish_rate = 20;
    let broker = config.broker_config();
    let s = InProcessServer::start_config(config, broker).await;
    let mut sub = TestClient::connect(s.mqtt, ProtocolVersion::V5, "sub").await;
    sub.subscribe("r/#", QoS::AtMostOnce).await;
    let mut publisher = TestClient::connect(s.mqtt, ProtocolVersion::V5, "pub").await;
    let started = Instant::now();
    for i in 0..50u32 {
        publisher
            .publish("r/x", &i.to_be_bytes(), QoS::AtMostOnce, false)
            .await;
    }
    for i in 0..50u32 {
        let p = sub.recv_publish().await;
        assert_eq!(&p.payload[..], &i.to_be_bytes(), "in order, none dropped");
    }
    // 20 allowed at once, then 20 per second: 30 more take at least 1.5 s.
    assert!(started.elapsed() >= Duration::from_millis(1400));
    assert_eq!(s.broker.metrics.dropped_queue_full.get(), 0);
}

/// All session queues share `queue_memory_budget`: QoS 0 deliveries stop at 3/4
/// of it while QoS 1 still fit, everything stops at the budget, drops are
/// counted as `memory_budget`, and the budget is free again once delivered.
#[tokio::test]
async fn queue_memory_budget_drops_qos0_first() {
    let mut config = loopback_config();
    config.broker.queue_memory_budget = 20 * 1024;
    config.broker.queue_qos0_offline = true;
    let broker = config.broker_config();
    let s = InProcessServer::start_config(config, broker).await;
    let mut c = connect_packet(ProtocolVersion::V5, "offline");
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(600);
    let (mut sub, _) = TestClient::connect_with(s.mqtt, c.clone()).await;
    sub.subscribe("m/#", QoS::AtLeastOnce).await;
    sub.disconnect().await;
    let mut publisher = TestClient::connect(s.mqtt, ProtocolVersion::V5, "p").await;
    let kb = vec![b'x'; 1000];
    for _ in 0..30 {
        publisher.publish("m/0", &kb, QoS::AtMostOnce, false).await;
    }
    // A QoS 1 PUBLISH elsewhere: once acknowledged, the QoS 0 ones before it were routed.
    publisher
        .publish("sync", b"", QoS::AtLeastOnce, false)
        .await;
    let budget = &s.broker.queue_budget;
    let after_qos0 = budget.used();
    assert!(after_qos0 <= 15 * 1024, "QoS 0 stops at 3/4: {after_qos0}");
    let qos0_dropped = s.broker.metrics.dropped_memory_budget.get();
    assert!(qos0_dropped > 0);
    for _ in 0..30 {
        publisher.publish("m/1", &kb, QoS::AtLeastOnce, false).await;
    }
    assert!(budget.used() > after_qos0, "QoS 1 still fits above 3/4");
    assert!(budget.used() <= 20 * 1024);
    assert!(s.broker.metrics.dropped_memory_budget.get() > qos0_dropped);
    let (mut sub, ack) = TestClient::connect_with(s.mqtt, c).await;
    assert!(ack.session_present);
    while let Some(mqtt_proto::Packet::Publish(p)) =
        sub.recv_within(Duration::from_millis(500)).await
    {
        sub.ack(&p).await;
    }
    assert_eq!(budget.used(), 0, "delivered: the budget is free again");
}

/// A sample line: name, labels, value.
type Sample = (String, HashMap<String, String>, f64);

/// Parses the Prometheus text format (0.0.4) strictly: every sample belongs to
/// a family declared by `# TYPE` before it; labels are `name="value"`.
fn parse_prometheus(text: &str) -> (HashMap<String, String>, Vec<Sample>) {
    let mut types = HashMap::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE name kind");
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            assert!(
                types.insert(name.to_string(), kind.to_string()).is_none(),
                "family declared twice: {name}"
            );
            continue;
        }
        if line.starts_with("# HELP ") {
            continue;
        }
        assert!(
            !line.is_empty() && !line.starts_with('#'),
            "unexpected line {line:?}"
        );
        let (series, value) = line.rsplit_once(' ').expect("sample has a value");
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line:?}"));
        let (name, labels) = match series.split_once('{') {
            Some((n, rest)) => {
                let body = rest.strip_suffix('}').expect("labels end with }");
                let mut labels = HashMap::new();
                for pair in body.split(',') {
                    let (k, v) = pair.split_once('=').expect("label k=v");
                    assert!(
                        k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
                        "{line}"
                    );
                    let v = v
                        .strip_prefix('"')
                        .and_then(|v| v.strip_suffix('"'))
                        .expect("quoted");
                    labels.insert(k.to_string(), v.to_string());
                }
                (n.to_string(), labels)
            }
            None => (series.to_string(), HashMap::new()),
        };
        assert!(
            name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "{line}"
        );
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|s| {
                name.strip_suffix(s)
                    .filter(|f| types.get(*f).is_some_and(|k| k == "histogram"))
            })
            .unwrap_or(&name);
        assert!(
            types.contains_key(family),
            "sample before its # TYPE: {line}"
        );
        samples.push((name, labels, value));
    }
    (types, samples)
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.get(*k).map(String::as_str) == Some(*v))
        })
        .unwrap_or_else(|| panic!("no sample {name} {labels:?}"))
        .2
}

/// `/metrics` is valid Prometheus text, and its series follow what happened:
/// clients by transport and version, messages and payload bytes by QoS, drops
/// by cause, queue depths, the store commit histogram.
#[tokio::test]
async fn metrics_parse_and_count() {
    let s = InProcessServer::start().await;
    let mut v5 = TestClient::connect(s.mqtt, ProtocolVersion::V5, "m5").await;
    let _v3 = TestClient::connect(s.mqtt, ProtocolVersion::V3_1_1, "m3").await;
    v5.subscribe("q/#", QoS::AtLeastOnce).await;
    assert_eq!(
        v5.publish("q/1", b"12345", QoS::AtLeastOnce, false).await,
        ReasonCode::Success
    );
    let p = v5.recv_publish().await;
    v5.ack(&p).await;
    let http = s.http;
    let (status, body) = tokio::task::spawn_blocking(move || http_get(http, "/metrics"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (types, samples) = parse_prometheus(&body);
    assert_eq!(types["realtime_store_commit_seconds"], "histogram");
    assert_eq!(
        value(
            &samples,
            "realtime_clients",
            &[("transport", "mqtt_tcp"), ("version", "5.0")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "realtime_clients",
            &[("transport", "mqtt_tcp"), ("version", "3.1.1")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "realtime_clients",
            &[("transport", "ws_json"), ("version", "json")]
        ),
        0.0
    );
    assert_eq!(
        value(
            &samples,
            "realtime_messages_received_total",
            &[("qos", "1")]
        ),
        1.0
    );
    assert_eq!(
        value(
            &samples,
            "realtime_payload_bytes_received_total",
            &[("qos", "1")]
        ),
        5.0
    );
    assert_eq!(
        value(
            &samples,
            "realtime_payload_bytes_sent_total",
            &[("qos", "1")]
        ),
        5.0
    );
    for cause in [
        "queue_full",
        "expired",
        "offline_qos0",
        "too_large",
        "not_authorized",
        "memory_budget",
    ] {
        value(
            &samples,
            "realtime_messages_dropped_total",
            &[("cause", cause)],
        );
    }
    for name in [
        "realtime_queued_messages",
        "realtime_queued_bytes",
        "realtime_inflight_messages",
        "realtime_queue_depth_max",
    ] {
        assert!(value(&samples, name, &[]) >= 0.0);
    }
    // Histogram: cumulative buckets, +Inf equals _count.
    let buckets: Vec<f64> = samples
        .iter()
        .filter(|(n, _, _)| n == "realtime_store_commit_seconds_bucket")
        .map(|(_, _, v)| *v)
        .collect();
    assert!(buckets.len() > 5 && buckets.windows(2).all(|w| w[0] <= w[1]));
    assert_eq!(
        value(
            &samples,
            "realtime_store_commit_seconds_bucket",
            &[("le", "+Inf")]
        ),
        value(&samples, "realtime_store_commit_seconds_count", &[])
    );
}

/// Over `max_read_rate` (bytes per second), the driver stops reading the
/// connection for a while: slower, nothing lost (lower bound only, see above).
#[tokio::test]
async fn read_rate_pauses_reading() {
    let mut config = loopback_config();
    config.limits.max_read_rate = 64 * 1024;
    let broker = config.broker_config();
    let s = InProcessServer::start_config(config, broker).await;
    let mut sub = TestClient::connect(s.mqtt, ProtocolVersion::V5, "rsub").await;
    sub.subscribe("b/#", QoS::AtMostOnce).await;
    let mut publisher = TestClient::connect(s.mqtt, ProtocolVersion::V5, "rpub").await;
    let started = Instant::now();
    let chunk = vec![7u8; 16 * 1024];
    for _ in 0..12 {
        publisher
            .publish("b/x", &chunk, QoS::AtMostOnce, false)
            .await;
    }
    for _ in 0..12 {
        assert_eq!(sub.recv_publish().await.payload.len(), chunk.len());
    }
    // 192 KiB at 64 KiB/s: the first 64 KiB are the burst and the last read is
    // handled before its debt is paid (at most one 64 KiB read), so at least 1 s.
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(1000), "{took:?}");
}

/// `broker.max_subscriptions_per_session`, `broker.max_topic_levels` and
/// `broker.max_topic_length`: a subscription over the quota gets SUBACK 0x97
/// (MQTT 5.0 §3.9.3 Quota exceeded), a filter over the level or length bound
/// SUBACK 0x8F, a topic name over them PUBACK 0x90 (§3.4.2.1); the session goes on.
#[tokio::test]
async fn subscription_quota_and_topic_bounds() {
    let mut config = loopback_config();
    config.broker.max_subscriptions_per_session = 2;
    config.broker.max_topic_levels = 3;
    config.broker.max_topic_length = 32;
    let broker = config.broker_config();
    let s = InProcessServer::start_config(config, broker).await;
    let mut c = TestClient::connect(s.mqtt, ProtocolVersion::V5, "limited").await;
    for filter in ["a/1", "a/2"] {
        let ack = c.subscribe(filter, QoS::AtLeastOnce).await;
        assert_eq!(ack.reason_codes, vec![ReasonCode::GrantedQoS1], "{filter}");
    }
    let ack = c.subscribe("a/3", QoS::AtLeastOnce).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::QuotaExceeded]);
    // Re-subscribing to an existing filter replaces it: not a new subscription.
    let ack = c.subscribe("a/2", QoS::AtMostOnce).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::Success]);
    assert!(matches!(
        c.unsubscribe("a/1").await,
        mqtt_proto::Packet::UnsubAck(_)
    ));
    let ack = c.subscribe("w/x/y/z", QoS::AtLeastOnce).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::TopicFilterInvalid]);
    let long = format!("a/{}", "x".repeat(31));
    let ack = c.subscribe(&long, QoS::AtLeastOnce).await;
    assert_eq!(ack.reason_codes, vec![ReasonCode::TopicFilterInvalid]);
    let ack = c.subscribe("a/3", QoS::AtLeastOnce).await;
    assert_eq!(
        ack.reason_codes,
        vec![ReasonCode::GrantedQoS1],
        "room again"
    );
    for topic in ["w/x/y/z", long.as_str()] {
        assert_eq!(
            c.publish(topic, b"p", QoS::AtLeastOnce, false).await,
            ReasonCode::TopicNameInvalid,
            "{topic}"
        );
    }
    assert_eq!(
        c.publish("a/3", b"ok", QoS::AtLeastOnce, false).await,
        ReasonCode::Success
    );
    assert_eq!(&c.recv_publish().await.payload[..], b"ok");
}

/// With a `sync` store, `realtime_store_commit_seconds` counts the writer's
/// group commits: a QoS 1 message to a persistent session is committed before
/// its PUBACK, so the histogram is not empty afterwards.
#[tokio::test]
async fn store_commit_histogram_counts_commits() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = loopback_config();
    config.store.data_dir = Some(dir.path().to_path_buf());
    config.store.durability = Some(realtime_server::config::Durability::Sync);
    let broker = config.broker_config();
    let s = InProcessServer::start_config(config, broker).await;
    let mut sub = connect_packet(ProtocolVersion::V5, "persistent");
    sub.properties.session_expiry_interval = Some(600);
    let (mut sub, _) = TestClient::connect_with(s.mqtt, sub).await;
    sub.subscribe("h/#", QoS::AtLeastOnce).await;
    let mut publisher = TestClient::connect(s.mqtt, ProtocolVersion::V5, "pub").await;
    assert_eq!(
        publisher
            .publish("h/1", b"x", QoS::AtLeastOnce, false)
            .await,
        ReasonCode::Success
    );
    let http = s.http;
    let (status, body) = tokio::task::spawn_blocking(move || http_get(http, "/metrics"))
        .await
        .unwrap();
    assert_eq!(status, 200);
    let (_, samples) = parse_prometheus(&body);
    let commits = value(&samples, "realtime_store_commit_seconds_count", &[]);
    assert!(commits >= 1.0, "{commits} commits");
    assert!(value(&samples, "realtime_store_commit_seconds_sum", &[]) > 0.0);
    drop(s);
}
