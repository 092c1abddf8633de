//! The HTTP API and webhooks with third-party peers, against the release
//! binary: a message published through the API reaches `mosquitto_sub`, and
//! the example function (examples/webhook-function/function.py, Python)
//! answers a request published over MQTT by publishing its reply through the
//! API — the serverless request/response round trip of issue 9.
#![cfg(feature = "interop")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mqtt_proto::{ProtocolVersion, QoS};
use realtime_tests::api::TOKEN;
use realtime_tests::mqtt::TestClient;
use realtime_tests::peer::MosquittoSub;
use realtime_tests::{ServerProcess, free_port, require_peer, wait_for_port, workspace_root};
use serde_json::json;

const SECRET: &str = "interop-webhook-secret";

struct Function(Child);

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts the release server with the API on and a webhook to the example
/// function, and the function itself.
fn start() -> (ServerProcess, Function, tempfile::TempDir) {
    let python = require_peer("python3", "apt-get install python3");
    let port = free_port();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("rt.toml");
    std::fs::write(
        &config,
        format!(
            "[api]\ntokens = [\"{TOKEN}\"]\n\n[[webhooks]]\nurl = \"http://127.0.0.1:{port}/events\"\nsecret = \"{SECRET}\"\nevents = [\"message.published\"]\ntopics = [\"requests/#\"]\n"
        ),
    )
    .unwrap();
    let server = ServerProcess::start(&["--config", config.to_str().unwrap()]);
    let function = Function(
        Command::new(python)
            .arg(workspace_root().join("examples/webhook-function/function.py"))
            .env("LISTEN", format!("127.0.0.1:{port}"))
            .env("REALTIME_API", format!("http://{}", server.http))
            .env("REALTIME_TOKEN", TOKEN)
            .env("WEBHOOK_SECRET", SECRET)
            .stdin(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for_port(port);
    (server, function, dir)
}

/// A message published through the API (QoS 1, retained) reaches
/// mosquitto_sub with its topic, payload and QoS; a later subscriber gets it
/// as retained (MQTT-3.3.1-9).
#[tokio::test]
async fn api_publish_reaches_mosquitto_sub() {
    let (server, _function, _dir) = start();
    let mut sub = MosquittoSub::start(server.mqtt, "mqttv5", &["-t", "api/interop/#", "-q", "1"]);
    let a = realtime_tests::api::post(
        server.http,
        "/api/v1/publish",
        &json!({"topic": "api/interop/1", "payload": "from the API", "qos": 1, "retain": true}),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    let got = sub.messages(1);
    assert_eq!(
        (got[0].topic.as_str(), got[0].payload.as_str(), got[0].qos),
        ("api/interop/1", "from the API", 1)
    );
    let mut late =
        MosquittoSub::start(server.mqtt, "mqttv311", &["-t", "api/interop/#", "-q", "1"]);
    let got = late.messages(1);
    assert_eq!(
        (got[0].payload.as_str(), got[0].retain),
        ("from the API", true)
    );
}

/// A request published over MQTT 5 (Response Topic, Correlation Data) is
/// delivered to the example function as a signed webhook; the function
/// publishes its reply through the API; the requester and mosquitto_sub
/// receive it, Correlation Data intact (MQTT 5.0 §4.10).
#[tokio::test]
async fn example_function_answers_a_request_through_the_api() {
    let (server, _function, _dir) = start();
    let mut watcher = MosquittoSub::start(server.mqtt, "mqttv5", &["-t", "replies/#", "-q", "1"]);
    let mut device = TestClient::connect(server.mqtt, ProtocolVersion::V5, "device-1").await;
    device
        .subscribe("replies/device-1/#", QoS::AtLeastOnce)
        .await;
    let mut p =
        mqtt_proto::Publish::new("requests/temperature", bytes::Bytes::from_static(b"ping"));
    p.qos = QoS::AtLeastOnce;
    p.properties.to_mut().response_topic = Some("replies/device-1/t".into());
    p.properties.to_mut().correlation_data = Some(bytes::Bytes::from_static(b"req-42"));
    let started = Instant::now();
    device.publish_packet(p).await;
    let reply = device.recv_publish().await;
    println!(
        "request -> webhook -> function -> API -> reply: {:?}",
        started.elapsed()
    );
    assert_eq!(reply.topic.as_str(), "replies/device-1/t");
    assert_eq!(&reply.payload[..], b"echo: ping");
    assert_eq!(reply.properties.correlation_data(), Some(&b"req-42"[..]));
    assert_eq!(reply.properties.content_type(), Some("text/plain"));
    let got = watcher.messages(1);
    assert_eq!(
        (got[0].topic.as_str(), got[0].payload.as_str()),
        ("replies/device-1/t", "echo: ping")
    );
    // A request without a Response Topic is answered on replies/<rest>.
    device
        .publish("requests/plain", b"hello", QoS::AtMostOnce, false)
        .await;
    let got = watcher.messages(1);
    assert_eq!(
        (got[0].topic.as_str(), got[0].payload.as_str()),
        ("replies/plain", "echo: hello")
    );
    watcher.expect_no_message(Duration::from_millis(300));
}
