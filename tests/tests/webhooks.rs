//! Webhooks and the authentication webhook (issue 9), against the in-process
//! server and a real HTTP endpoint started by each test
//! (`realtime_tests::api::Receiver`): bodies and HMAC-SHA256 signatures
//! checked by the receiver, retries then a counted drop, a slow or dead
//! endpoint that does not slow the broker, CONNECTs and `/ws` upgrades admitted
//! and refused by a function.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use realtime_server::config::WebhookSettings;
use realtime_server::hooks::sign::{SIGNATURE_HEADER, TIMESTAMP_HEADER, verify};
use realtime_tests::api::{Receiver, TOKEN, post};
use realtime_tests::mqtt::{TestClient, connect_packet};
use realtime_tests::ws::{raw_http, recv_json};
use realtime_tests::{InProcessServer, loopback_config};
use serde_json::{Value, json};

const SECRET: &str = "webhook-test-secret";
const WAIT: Duration = Duration::from_secs(10);

fn endpoint(url: String, events: &[&str]) -> WebhookSettings {
    WebhookSettings {
        url,
        secret: SECRET.to_string(),
        events: events.iter().map(|e| e.to_string()).collect(),
        ..WebhookSettings::default()
    }
}

async fn server(webhooks: Vec<WebhookSettings>) -> InProcessServer {
    let mut config = loopback_config();
    config.api.tokens = vec![TOKEN.to_string()];
    config.webhooks = webhooks;
    config.validate("test").unwrap();
    let broker = config.broker_config();
    InProcessServer::start_config(config, broker).await
}

fn signed(r: &realtime_tests::api::Received) -> Value {
    let ts = r.header(TIMESTAMP_HEADER).expect("timestamp header");
    let sig = r.header(SIGNATURE_HEADER).expect("signature header");
    assert!(
        verify(SECRET.as_bytes(), ts, &r.body, sig),
        "signature must verify: {sig}"
    );
    assert!(!verify(b"another-secret", ts, &r.body, sig));
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let ts: u64 = ts.parse().unwrap();
    assert!(now.abs_diff(ts) < 300, "timestamp is current");
    let body = r.json();
    assert_eq!(r.header("x-realtime-event"), body["event"].as_str());
    assert_eq!(
        r.header("x-realtime-delivery").map(str::to_string),
        Some(body["id"].to_string())
    );
    body
}

/// Every event reaches the endpoint as signed JSON (HMAC-SHA256 over
/// `timestamp.body`, verified by the receiver), in order; `message.published`
/// only on the endpoint's topic filters.
#[tokio::test]
async fn events_arrive_signed_with_their_bodies() {
    let mut hook = Receiver::start().await;
    let mut settings = endpoint(
        hook.url("/events"),
        &[
            "client.connected",
            "client.disconnected",
            "client.subscribed",
            "client.unsubscribed",
            "message.published",
        ],
    );
    settings.topics = vec!["hooks/#".to_string()];
    let s = server(vec![settings]).await;

    let mut c = TestClient::connect(s.mqtt, ProtocolVersion::V5, "hooked").await;
    let r = hook.next(WAIT).await;
    assert_eq!(r.path, "/events");
    let b = signed(&r);
    assert_eq!(b["event"], "client.connected");
    assert_eq!(
        (
            b["client_id"].as_str(),
            b["transport"].as_str(),
            b["protocol"].as_str()
        ),
        (Some("hooked"), Some("mqtt_tcp"), Some("5.0"))
    );
    assert!(b["address"].as_str().unwrap().starts_with("127.0.0.1:"));

    c.subscribe("hooks/+", QoS::AtLeastOnce).await;
    let b = signed(&hook.next(WAIT).await);
    assert_eq!(
        (b["event"].as_str(), b["filter"].as_str(), b["qos"].as_u64()),
        (Some("client.subscribed"), Some("hooks/+"), Some(1))
    );

    c.publish("other/x", b"not for the hook", QoS::AtMostOnce, false)
        .await;
    let mut p = mqtt_proto::Publish::new("hooks/a", bytes::Bytes::from_static(b"\xff\x00bin"));
    p.qos = QoS::AtLeastOnce;
    p.properties.to_mut().response_topic = Some("replies/a".into());
    p.properties.to_mut().correlation_data = Some(bytes::Bytes::from_static(b"\x01\x02"));
    c.publish_packet(p).await;
    let b = signed(&hook.next(WAIT).await);
    assert_eq!(b["event"], "message.published");
    assert_eq!(
        (b["topic"].as_str(), b["qos"].as_u64()),
        (Some("hooks/a"), Some(1))
    );
    assert_eq!(b["payload"], Value::Null, "not UTF-8: only base64");
    assert_eq!(b["payload_base64"], "/wBiaW4=");
    assert_eq!(b["properties"]["response_topic"], "replies/a");
    assert_eq!(b["properties"]["correlation_data"], "AQI=");

    // A publish through the API is an event too.
    post(
        s.http,
        "/api/v1/publish",
        &json!({"topic": "hooks/api", "payload": "from api"}),
    )
    .await;
    let b = signed(&hook.next(WAIT).await);
    assert_eq!(
        (b["topic"].as_str(), b["payload"].as_str()),
        (Some("hooks/api"), Some("from api"))
    );

    c.unsubscribe("hooks/+").await;
    let b = signed(&hook.next(WAIT).await);
    assert_eq!(
        (b["event"].as_str(), b["filter"].as_str()),
        (Some("client.unsubscribed"), Some("hooks/+"))
    );

    c.disconnect().await;
    let b = signed(&hook.next(WAIT).await);
    assert_eq!(
        (
            b["event"].as_str(),
            b["client_id"].as_str(),
            b["reason"].as_str()
        ),
        (
            Some("client.disconnected"),
            Some("hooked"),
            Some("client_disconnect")
        )
    );
    // A lost connection says so.
    let c = TestClient::connect(s.mqtt, ProtocolVersion::V3_1_1, "lost").await;
    hook.next_event("client.connected", WAIT).await;
    c.drop_connection();
    let b = signed(&hook.next_event("client.disconnected", WAIT).await);
    assert_eq!(
        (b["client_id"].as_str(), b["reason"].as_str()),
        (Some("lost"), Some("connection_lost"))
    );
    // Ids increase: the receiver can order and deduplicate.
    let m = s.broker.hooks.webhooks.metrics(0).unwrap();
    let deadline = Instant::now() + WAIT;
    while m.delivered.get() < 8 {
        assert!(
            Instant::now() < deadline,
            "8 events answered 200 are counted delivered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(m.failed.get() + m.queue_full.get(), 0);
}

/// An endpoint answering 500 is retried `max_retries` times with backoff
/// (the same delivery id each time), then the event is dropped and counted in
/// `/metrics`.
#[tokio::test]
async fn failing_endpoint_is_retried_then_dropped_and_counted() {
    let mut hook = Receiver::start().await;
    hook.status.store(500, Ordering::Relaxed);
    let mut settings = endpoint(hook.url("/fail"), &["client.connected"]);
    settings.max_retries = 2;
    settings.retry_backoff_ms = 50;
    let s = server(vec![settings]).await;
    let started = Instant::now();
    let _c = TestClient::connect(s.mqtt, ProtocolVersion::V5, "retry-me").await;
    let attempts: Vec<_> = [
        hook.next(WAIT).await,
        hook.next(WAIT).await,
        hook.next(WAIT).await,
    ]
    .to_vec();
    // Backoff 50 ms then 100 ms: the three attempts take at least 150 ms.
    assert!(started.elapsed() >= Duration::from_millis(150));
    let ids: Vec<_> = attempts
        .iter()
        .map(|r| r.header("x-realtime-delivery").unwrap().to_string())
        .collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    for r in &attempts {
        signed(r);
    }
    let deadline = Instant::now() + WAIT;
    let m = s.broker.hooks.webhooks.metrics(0).unwrap();
    while m.failed.get() == 0 {
        assert!(
            Instant::now() < deadline,
            "the event is dropped after its retries"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        (m.retries.get(), m.failed.get(), m.delivered.get()),
        (2, 1, 0)
    );
    assert!(
        tokio::time::timeout(Duration::from_millis(300), hook.rx.recv())
            .await
            .is_err(),
        "no fourth attempt"
    );
    let metrics = metrics_text(s.http).await;
    let url = hook.url("/fail");
    assert!(
        metrics.contains(&format!(
            "realtime_webhook_failed_total{{endpoint=\"{url}\"}} 1"
        )),
        "{metrics}"
    );
    assert!(metrics.contains(&format!(
        "realtime_webhook_retries_total{{endpoint=\"{url}\"}} 2"
    )));
}

async fn metrics_text(http: std::net::SocketAddr) -> String {
    let a = realtime_tests::api::request(http, "GET", "/metrics", None, None).await;
    String::from_utf8(a.body).unwrap()
}

fn p99(mut samples: Vec<Duration>) -> Duration {
    samples.sort();
    samples[(samples.len() * 99 / 100).min(samples.len() - 1)]
}

/// A QoS 1 publisher and a subscriber on one server.
struct Load {
    publisher: TestClient,
    subscriber: TestClient,
}

impl Load {
    async fn start(s: &InProcessServer) -> Self {
        let mut subscriber = TestClient::connect(s.mqtt, ProtocolVersion::V5, "lat-sub").await;
        subscriber.subscribe("load/#", QoS::AtMostOnce).await;
        let publisher = TestClient::connect(s.mqtt, ProtocolVersion::V5, "lat-pub").await;
        Self {
            publisher,
            subscriber,
        }
    }

    /// PUBLISH→PUBACK round trips of `n` messages (each also received).
    async fn latencies(&mut self, n: usize, out: &mut Vec<Duration>) {
        for i in 0..n {
            let started = Instant::now();
            let code = self
                .publisher
                .publish(
                    &format!("load/{}", i % 8),
                    b"0123456789abcdef",
                    QoS::AtLeastOnce,
                    false,
                )
                .await;
            out.push(started.elapsed());
            assert_eq!(code, ReasonCode::Success);
            self.subscriber.recv_publish().await;
        }
    }
}

/// A slow (2 s) and a dead endpoint subscribed to every message neither block
/// nor slow the broker: the p99 PUBLISH→PUBACK of a concurrent QoS 1 publisher
/// stays within max(2 × baseline, baseline + 20 ms) — the floor absorbs
/// scheduler noise on a shared two-core machine — and the events that do not
/// fit the queues are dropped and counted. Baseline and loaded servers are
/// sampled in alternating rounds so both see the same machine load.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_or_dead_endpoints_do_not_slow_the_broker() {
    const ROUNDS: usize = 5;
    const PER_ROUND: usize = 400;
    let baseline_server = server(Vec::new()).await;
    let slow = Receiver::start().await;
    slow.delay_ms.store(2000, Ordering::Relaxed);
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}/dead", dead.local_addr().unwrap());
    drop(dead);
    let mut a = endpoint(slow.url("/slow"), &["message.published"]);
    a.queue_size = 64;
    a.timeout_ms = 5000;
    let mut b = endpoint(dead_url, &["message.published"]);
    b.queue_size = 64;
    b.retry_backoff_ms = 100;
    let loaded_server = server(vec![a, b]).await;
    let mut base_load = Load::start(&baseline_server).await;
    let mut hook_load = Load::start(&loaded_server).await;
    // Warm up both.
    base_load.latencies(100, &mut Vec::new()).await;
    hook_load.latencies(100, &mut Vec::new()).await;
    let (mut base, mut loaded) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        base_load.latencies(PER_ROUND, &mut base).await;
        hook_load.latencies(PER_ROUND, &mut loaded).await;
    }
    let n = base.len();
    let (baseline, loaded) = (p99(base), p99(loaded));
    let bound = (baseline * 2).max(baseline + Duration::from_millis(20));
    println!(
        "p99 PUBLISH->PUBACK over {n} QoS 1 messages each: baseline {baseline:?}, with a slow and a dead webhook {loaded:?} (bound {bound:?})"
    );
    let hooks = &loaded_server.broker.hooks.webhooks;
    let (slow_m, dead_m) = (hooks.metrics(0).unwrap(), hooks.metrics(1).unwrap());
    println!(
        "slow endpoint: dropped (queue full) {}, delivered {}; dead endpoint: dropped {}, retries {}, failed {}",
        slow_m.queue_full.get(),
        slow_m.delivered.get(),
        dead_m.queue_full.get(),
        dead_m.retries.get(),
        dead_m.failed.get()
    );
    assert!(
        loaded <= bound,
        "p99 {loaded:?} exceeds {bound:?} (baseline {baseline:?})"
    );
    // 2,100 events into queues of 64 that drain at most one event per 2 s (slow)
    // or per 700 ms of backoff (dead): most are dropped, and counted.
    assert!(
        slow_m.queue_full.get() > 1000,
        "{}",
        slow_m.queue_full.get()
    );
    assert!(
        dead_m.queue_full.get() > 1000,
        "{}",
        dead_m.queue_full.get()
    );
    let metrics = metrics_text(loaded_server.http).await;
    assert!(
        metrics.contains("realtime_webhook_dropped_total{endpoint="),
        "{metrics}"
    );
}

/// The authentication webhook admits and refuses MQTT CONNECTs (MQTT 5 CONNACK
/// 0x86 with bad credentials, 0x87 without any, MQTT-3.2.2-8 style refusal)
/// and `/ws` upgrades by token (401); answers are cached; a dead function
/// refuses (fail closed).
#[tokio::test]
async fn auth_webhook_admits_and_refuses() {
    let mut hook = Receiver::with_reply(Arc::new(|r| {
        let b = r.json();
        let allow = (b["username"] == "alice" && b["password"] == "good") || b["token"] == "tok-ok";
        json!({"allow": allow})
    }))
    .await;
    let mut config = loopback_config();
    config.auth_webhook.url = Some(hook.url("/auth"));
    config.auth_webhook.secret = Some(SECRET.to_string());
    config.listeners.mqtt.allow_anonymous = Some(true);
    let s = InProcessServer::start_config(config.clone(), config.broker_config()).await;

    let with = |user: Option<&str>, pass: Option<&str>, id: &str| {
        let mut c = connect_packet(ProtocolVersion::V5, id);
        c.username = user.map(|u| mqtt_proto::Utf8Bytes::from(u.to_string()));
        c.password = pass.map(|p| bytes::Bytes::from(p.as_bytes().to_vec()));
        c
    };
    let (_ok, ack) =
        TestClient::connect_with(s.mqtt, with(Some("alice"), Some("good"), "a1")).await;
    assert_eq!(ack.reason_code, ReasonCode::Success);
    let r = hook.next(WAIT).await;
    let b = signed_auth(&r);
    assert_eq!(
        (
            b["kind"].as_str(),
            b["client_id"].as_str(),
            b["username"].as_str(),
            b["transport"].as_str()
        ),
        (Some("mqtt"), Some("a1"), Some("alice"), Some("mqtt_tcp"))
    );
    let (_, ack) = TestClient::connect_with(s.mqtt, with(Some("alice"), Some("bad"), "a2")).await;
    assert_eq!(ack.reason_code, ReasonCode::BadUserNameOrPassword);
    // No credentials: the function decides even where anonymous access is on.
    let (_, ack) = TestClient::connect_with(s.mqtt, with(None, None, "a3")).await;
    assert_eq!(ack.reason_code, ReasonCode::NotAuthorized);
    let mut v3 = with(Some("alice"), Some("bad"), "a4");
    v3.protocol_version = ProtocolVersion::V3_1_1;
    let (_, ack) = TestClient::connect_with(s.mqtt, v3).await;
    assert_eq!(
        ack.reason_code,
        ReasonCode::BadUserNameOrPassword,
        "3.1.1 return code 4"
    );
    while tokio::time::timeout(Duration::from_millis(100), hook.rx.recv())
        .await
        .is_ok()
    {}

    // Cached: the same request again does not call the function.
    let (_ok2, ack) =
        TestClient::connect_with(s.mqtt, with(Some("alice"), Some("good"), "a1")).await;
    assert_eq!(ack.reason_code, ReasonCode::Success);
    assert!(
        tokio::time::timeout(Duration::from_millis(200), hook.rx.recv())
            .await
            .is_err()
    );
    let m = &s.broker.hooks.auth.as_ref().unwrap().metrics;
    assert_eq!(
        (m.allowed.get(), m.denied.get(), m.cache_hits.get()),
        (1, 3, 1)
    );

    // /ws: the token query parameter.
    let (status, _) = raw_http(s.http, b"GET /ws?token=tok-nope HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").await;
    assert_eq!(status, 401);
    let b = hook.next(WAIT).await.json();
    assert_eq!(
        (b["kind"].as_str(), b["token"].as_str()),
        (Some("ws"), Some("tok-nope"))
    );
    let (mut ws, _) =
        realtime_tests::ws::connect(s.http, "/ws?token=tok-ok", &["realtime.v1"], false).await;
    assert_eq!(recv_json(&mut ws).await["type"], "welcome");

    // A dead function refuses everyone.
    drop(hook);
    let mut dead = config.clone();
    dead.auth_webhook.url = Some({
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}/auth", l.local_addr().unwrap())
    });
    let d = InProcessServer::start_config(dead.clone(), dead.broker_config()).await;
    let (_, ack) = TestClient::connect_with(d.mqtt, with(Some("alice"), Some("good"), "a1")).await;
    assert_eq!(ack.reason_code, ReasonCode::BadUserNameOrPassword);
    assert_eq!(
        d.broker.hooks.auth.as_ref().unwrap().metrics.errors.get(),
        1
    );
}

fn signed_auth(r: &realtime_tests::api::Received) -> Value {
    let ts = r.header(TIMESTAMP_HEADER).unwrap();
    assert!(verify(
        SECRET.as_bytes(),
        ts,
        &r.body,
        r.header(SIGNATURE_HEADER).unwrap()
    ));
    r.json()
}
