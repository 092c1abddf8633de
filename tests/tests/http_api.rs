//! The HTTP API (`/api/v1/`, issue 9) against the in-process server: checked
//! against its OpenAPI document (docs/api/openapi.json), delivery to MQTT,
//! MQTT-over-WebSocket and `/ws` clients, bad input, the ACL, client
//! disconnection, retained messages and sessions.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use bytes::BytesMut;
use mqtt_proto::{Decoder, Packet, ProtocolVersion, QoS, ReasonCode};
use realtime_tests::api::{TOKEN, delete, get, post, raw_request, request};
use realtime_tests::mqtt::{TestClient, connect_packet};
use realtime_tests::ws::{connect, expect_close, recv, recv_json, send_json};
use realtime_tests::{InProcessServer, loopback_config, workspace_root};
use serde_json::{Value, json};
use ws_proto::Message;

async fn server_with_api() -> InProcessServer {
    let mut config = loopback_config();
    config.api.tokens = vec![TOKEN.to_string()];
    config.api.max_body_bytes = 64 * 1024;
    config.api.max_batch = 10;
    let broker = config.broker_config();
    InProcessServer::start_config(config, broker).await
}

fn openapi() -> Value {
    let text = std::fs::read_to_string(workspace_root().join("docs/api/openapi.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// Follows a local `$ref` (`#/components/...`).
fn resolve<'a>(doc: &'a Value, v: &'a Value) -> &'a Value {
    match v.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let mut at = doc;
            for part in r.trim_start_matches("#/").split('/') {
                at = &at[part];
            }
            assert!(!at.is_null(), "dangling $ref {r}");
            resolve(doc, at)
        }
        None => v,
    }
}

fn type_ok(t: &str, v: &Value) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => v.is_u64() || v.is_i64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

/// Checks `value` against `schema`: type, required fields, property types,
/// enums, array items (recursively). Returns what does not match.
fn conforms(doc: &Value, schema: &Value, value: &Value, at: &str, errors: &mut Vec<String>) {
    let schema = resolve(doc, schema);
    if let Some(types) = schema.get("type") {
        let ok = match types {
            Value::String(t) => type_ok(t, value),
            Value::Array(ts) => ts.iter().any(|t| type_ok(t.as_str().unwrap(), value)),
            _ => true,
        };
        if !ok {
            errors.push(format!("{at}: {value} is not {types}"));
            return;
        }
    }
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array)
        && !allowed.contains(value)
    {
        errors.push(format!("{at}: {value} not in {allowed:?}"));
    }
    if let Some(obj) = value.as_object() {
        for r in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if !obj.contains_key(r.as_str().unwrap()) {
                errors.push(format!("{at}: required field {r} missing"));
            }
        }
        if let Some(props) = schema.get("properties").and_then(Value::as_object) {
            for (k, s) in props {
                if let Some(v) = obj.get(k) {
                    conforms(doc, s, v, &format!("{at}.{k}"), errors);
                }
            }
        }
    }
    if let (Some(items), Some(arr)) = (schema.get("items"), value.as_array()) {
        for (i, v) in arr.iter().enumerate() {
            conforms(doc, items, v, &format!("{at}[{i}]"), errors);
        }
    }
}

/// Asserts that answering `status` with `body` is documented for `method path`
/// and that the body matches the documented schema.
fn check_documented(doc: &Value, path: &str, method: &str, status: u16, body: &Value) {
    let op = &doc["paths"][path][method];
    assert!(op.is_object(), "{method} {path} is not documented");
    let response = op["responses"]
        .get(status.to_string())
        .unwrap_or_else(|| panic!("{method} {path}: status {status} is not documented ({body})"));
    let response = resolve(doc, response);
    match response.pointer("/content/application~1json/schema") {
        Some(schema) => {
            let mut errors = Vec::new();
            conforms(doc, schema, body, "body", &mut errors);
            assert!(
                errors.is_empty(),
                "{method} {path} {status}: {errors:?} in {body}"
            );
        }
        None => assert!(
            body.is_null(),
            "{method} {path} {status}: undocumented body {body}"
        ),
    }
}

/// Every path and method of docs/api/openapi.json exists on the server and
/// answers with a documented status and a body matching its documented
/// schema: the success case (with the document's own request example), a
/// request without a token (401), and an unknown client (404) where the path
/// names one.
#[tokio::test]
async fn server_matches_its_openapi_document() {
    let doc = openapi();
    let s = server_with_api().await;
    let mut member = TestClient::connect(s.mqtt, ProtocolVersion::V5, "doc-client").await;
    member.subscribe("doc/#", QoS::AtLeastOnce).await;
    let _kick = TestClient::connect(s.mqtt, ProtocolVersion::V5, "doc-kick").await;
    let mut offline = connect_packet(ProtocolVersion::V5, "doc-offline");
    offline.properties.session_expiry_interval = Some(600);
    let (c, _) = TestClient::connect_with(s.mqtt, offline).await;
    c.disconnect().await;
    let a = post(
        s.http,
        "/api/v1/publish",
        &json!({"topic": "doc/retained", "payload": "r", "retain": true}),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    tokio::time::sleep(Duration::from_millis(100)).await;

    let mut checked = 0;
    for (template, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            if method == "parameters" {
                continue;
            }
            let id = match (template.as_str(), method.as_str()) {
                (t, _) if t.ends_with("/disconnect") => "doc-kick",
                ("/api/v1/sessions/{client_id}", "delete") => "doc-offline",
                _ => "doc-client",
            };
            let mut path = template.replace("{client_id}", id);
            if template == "/api/v1/retained" && method == "delete" {
                path.push_str("?topic=doc/retained");
            }
            if template == "/api/v1/retained" && method == "get" {
                path.push_str("?filter=doc/%23");
            }
            let example = op.pointer("/requestBody/content/application~1json/example");
            let body = example.map(|e| serde_json::to_vec(e).unwrap());
            let m = method.to_uppercase();
            let answer = request(s.http, &m, &path, Some(TOKEN), body.as_deref()).await;
            assert!(
                (200..300).contains(&answer.status),
                "{m} {path}: {} {:?}",
                answer.status,
                answer.json
            );
            check_documented(&doc, template, method, answer.status, &answer.json);
            // No token: 401, documented, with the error schema.
            let answer = request(s.http, &m, &path, None, body.as_deref()).await;
            assert_eq!(answer.status, 401, "{m} {path} without a token");
            assert!(
                answer
                    .headers
                    .iter()
                    .any(|(n, v)| n == "www-authenticate" && v.starts_with("Bearer"))
            );
            check_documented(&doc, template, method, answer.status, &answer.json);
            if template.contains("{client_id}") {
                let path = template.replace("{client_id}", "no-such-client");
                let answer = request(s.http, &m, &path, Some(TOKEN), body.as_deref()).await;
                assert_eq!(answer.status, 404, "{m} {path}");
                check_documented(&doc, template, method, answer.status, &answer.json);
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 9, "every documented operation was exercised");
    // What the document does not list is not served.
    let answer = get(s.http, "/api/v1/nothing-here").await;
    assert_eq!(answer.status, 404);
    let answer = request(s.http, "PUT", "/api/v1/clients", Some(TOKEN), None).await;
    assert_eq!(answer.status, 405);
    assert!(doc["paths"]["/api/v1/clients"].get("put").is_none());
}

/// A message published through the API arrives, with its MQTT 5 properties,
/// at an MQTT 5 client, an MQTT-over-WebSocket client and a `/ws` client.
#[tokio::test]
async fn published_message_reaches_mqtt_mqtt_over_ws_and_ws_clients() {
    let s = server_with_api().await;
    let mut mqtt = TestClient::connect(s.mqtt, ProtocolVersion::V5, "api-sub").await;
    mqtt.subscribe("fn/+/reply", QoS::AtLeastOnce).await;

    let (mut browser, _) = connect(s.http, "/ws", &["realtime.v1"], false).await;
    recv_json(&mut browser).await;
    send_json(
        &mut browser,
        json!({"type": "subscribe", "filter": "fn/#", "qos": 1}),
    )
    .await;
    assert_eq!(recv_json(&mut browser).await["type"], "subscribed");

    let (mut mws, _) = connect(s.http, "/mqtt", &["mqtt"], false).await;
    let encode = |p: Packet| {
        let mut buf = BytesMut::new();
        p.encode(ProtocolVersion::V5, &mut buf).unwrap();
        Message::Binary(buf.freeze())
    };
    mws.send(encode(Packet::Connect(Box::new(connect_packet(
        ProtocolVersion::V5,
        "api-mws",
    )))))
    .await
    .unwrap();
    mws.send(encode(Packet::Subscribe(mqtt_proto::Subscribe {
        packet_id: mqtt_proto::PacketId::new(1).unwrap(),
        properties: Default::default(),
        subscriptions: vec![mqtt_proto::Subscription::new("fn/#", QoS::AtLeastOnce)],
    })))
    .await
    .unwrap();
    let decoder = Decoder::new(ProtocolVersion::V5);
    let mut inbox = BytesMut::new();
    let mut next_packet = async || loop {
        if let Some(p) = decoder.decode(&mut inbox).unwrap() {
            return p;
        }
        match recv(&mut mws).await {
            Message::Binary(b) => inbox.extend_from_slice(&b),
            other => panic!("MQTT-6.0.0-1: binary frames only, got {other:?}"),
        }
    };
    assert!(matches!(next_packet().await, Packet::ConnAck(_)));
    assert!(matches!(next_packet().await, Packet::SubAck(_)));

    let a = post(
        s.http,
        "/api/v1/publish",
        &json!({
            "topic": "fn/42/reply",
            "payload": "aGVsbG8gZnJvbSBhIGZ1bmN0aW9u",
            "encoding": "base64",
            "qos": 1,
            "properties": {
                "content_type": "text/plain",
                "correlation_data": "AQID",
                "response_topic": "fn/42/ack",
                "message_expiry": 60,
                "user_properties": [["from", "lambda"], ["from", "again"]]
            }
        }),
    )
    .await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    assert_eq!(a.json["matched"], json!([3]));

    let p = mqtt.recv_publish().await;
    assert_eq!(p.topic.as_str(), "fn/42/reply");
    assert_eq!(&p.payload[..], b"hello from a function");
    assert_eq!(p.qos, QoS::AtLeastOnce);
    assert_eq!(p.properties.content_type(), Some("text/plain"));
    assert_eq!(p.properties.correlation_data(), Some(&[1u8, 2, 3][..]));
    assert_eq!(p.properties.response_topic(), Some("fn/42/ack"));
    assert!(
        p.properties
            .message_expiry_interval()
            .is_some_and(|e| e <= 60)
    );
    // MQTT-3.3.2-18: user properties in order, repeated names kept.
    let ups: Vec<(&str, &str)> = p.properties.user_properties().collect();
    assert_eq!(ups, [("from", "lambda"), ("from", "again")]);

    let m = recv_json(&mut browser).await;
    assert_eq!(
        (
            m["type"].as_str(),
            m["topic"].as_str(),
            m["payload"].as_str()
        ),
        (
            Some("message"),
            Some("fn/42/reply"),
            Some("hello from a function")
        )
    );
    assert_eq!(m["content_type"], "text/plain");

    match next_packet().await {
        Packet::Publish(p) => {
            assert_eq!(p.topic.as_str(), "fn/42/reply");
            assert_eq!(&p.payload[..], b"hello from a function");
            assert_eq!(p.properties.correlation_data(), Some(&[1u8, 2, 3][..]));
        }
        other => panic!("expected PUBLISH over /mqtt, got {other:?}"),
    }
}

/// A batch is checked whole: one bad message (MQTT-4.7.3-2 wildcard in a
/// topic name) refuses it and nothing is published; a good batch is published
/// in order.
#[tokio::test]
async fn batch_publish_is_all_or_nothing() {
    let s = server_with_api().await;
    let mut sub = TestClient::connect(s.mqtt, ProtocolVersion::V5, "batch-sub").await;
    sub.subscribe("b/#", QoS::AtLeastOnce).await;
    let bad = post(
        s.http,
        "/api/v1/publish/batch",
        &json!({"messages": [{"topic": "b/1", "payload": "one"}, {"topic": "b/+", "payload": "two"}]}),
    )
    .await;
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json["error"], "invalid_topic");
    assert!(
        bad.json["reason"]
            .as_str()
            .unwrap()
            .starts_with("messages[1]")
    );
    sub.expect_silence(Duration::from_millis(300)).await;
    let too_many: Vec<Value> = (0..11)
        .map(|i| json!({"topic": format!("b/{i}")}))
        .collect();
    let a = post(
        s.http,
        "/api/v1/publish/batch",
        &json!({"messages": too_many}),
    )
    .await;
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (400, Some("bad_batch"))
    );
    sub.expect_silence(Duration::from_millis(200)).await;

    let good: Vec<Value> = (0..5)
        .map(|i| json!({"topic": format!("b/{i}"), "payload": format!("m{i}"), "qos": 1}))
        .collect();
    let a = post(s.http, "/api/v1/publish/batch", &json!({"messages": good})).await;
    assert_eq!(a.status, 200, "{:?}", a.json);
    assert_eq!(a.json["published"], 5);
    for i in 0..5 {
        let p = sub.recv_publish().await;
        assert_eq!(p.payload, format!("m{i}").as_bytes());
    }
}

/// Bad input gets a clear 4xx JSON error and changes nothing: no message is
/// routed, no retained message stored, no counter moves.
#[tokio::test]
async fn bad_input_is_refused_with_4xx_and_changes_nothing() {
    let s = server_with_api().await;
    let mut sub = TestClient::connect(s.mqtt, ProtocolVersion::V5, "bad-sub").await;
    sub.subscribe("#", QoS::AtLeastOnce).await;
    let received_before = s.broker.metrics.received_at(QoS::AtMostOnce).get();
    let retained_before = s.broker.retained_matching("#").len();
    type Case<'a> = (&'a str, Vec<u8>, Option<&'a str>, u16, &'a str);
    let cases: Vec<Case<'_>> = vec![
        (
            "bad JSON",
            b"{\"topic\": ".to_vec(),
            Some(TOKEN),
            400,
            "bad_json",
        ),
        (
            "not an object",
            b"[1,2]".to_vec(),
            Some(TOKEN),
            400,
            "bad_json",
        ),
        (
            "no topic",
            b"{\"payload\":\"x\"}".to_vec(),
            Some(TOKEN),
            400,
            "bad_json",
        ),
        (
            "wildcard topic [MQTT-3.3.2-2]",
            br#"{"topic":"a/#"}"#.to_vec(),
            Some(TOKEN),
            400,
            "invalid_topic",
        ),
        (
            "empty topic [MQTT-4.7.3-1]",
            br#"{"topic":""}"#.to_vec(),
            Some(TOKEN),
            400,
            "invalid_topic",
        ),
        (
            "NUL in topic [MQTT-4.7.3-2]",
            br#"{"topic":"a\u0000b"}"#.to_vec(),
            Some(TOKEN),
            400,
            "invalid_topic",
        ),
        (
            "unknown field",
            br#"{"topic":"a","qoss":1}"#.to_vec(),
            Some(TOKEN),
            400,
            "bad_json",
        ),
        (
            "qos 3",
            br#"{"topic":"a","qos":3}"#.to_vec(),
            Some(TOKEN),
            400,
            "bad_json",
        ),
        (
            "bad base64",
            br#"{"topic":"a","payload":"!!","encoding":"base64"}"#.to_vec(),
            Some(TOKEN),
            400,
            "bad_json",
        ),
        (
            "bad response topic",
            br#"{"topic":"a","properties":{"response_topic":"x/+"}}"#.to_vec(),
            Some(TOKEN),
            400,
            "invalid_topic",
        ),
        (
            "bad user properties",
            br#"{"topic":"a","properties":{"user_properties":[["only-name"]]}}"#.to_vec(),
            Some(TOKEN),
            400,
            "bad_json",
        ),
        (
            "wrong token",
            br#"{"topic":"a"}"#.to_vec(),
            Some("test-token-0123456780"),
            401,
            "unauthorized",
        ),
        (
            "no token",
            br#"{"topic":"a"}"#.to_vec(),
            None,
            401,
            "unauthorized",
        ),
    ];
    for (what, body, token, status, code) in cases {
        let a = request(s.http, "POST", "/api/v1/publish", token, Some(&body)).await;
        assert_eq!(a.status, status, "{what}: {:?}", a.json);
        assert_eq!(a.json["error"], code, "{what}: {:?}", a.json);
        assert_eq!(a.json["status"], status, "{what}");
        assert!(!a.json["reason"].as_str().unwrap().is_empty(), "{what}");
    }
    // Oversized: refused from Content-Length alone, before the body is read.
    let a = raw_request(
        s.http,
        format!("POST /api/v1/publish HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ncontent-length: 10000000\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (413, Some("too_large"))
    );
    // A payload over broker.max_packet_size (within the body limit).
    let mut config = loopback_config();
    config.api.tokens = vec![TOKEN.to_string()];
    config.broker.max_packet_size = 1024;
    let small = InProcessServer::start_config(config.clone(), config.broker_config()).await;
    let a = post(
        small.http,
        "/api/v1/publish",
        &json!({"topic": "a", "payload": "x".repeat(2000)}),
    )
    .await;
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (413, Some("too_large"))
    );
    // Chunked bodies are not accepted.
    let a = raw_request(
        s.http,
        format!("POST /api/v1/publish HTTP/1.1\r\nhost: x\r\nauthorization: Bearer {TOKEN}\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n").as_bytes(),
    )
    .await;
    assert_eq!(a.status, 411);
    sub.expect_silence(Duration::from_millis(300)).await;
    assert_eq!(
        s.broker.metrics.received_at(QoS::AtMostOnce).get(),
        received_before
    );
    assert_eq!(s.broker.retained_matching("#").len(), retained_before);
}

/// No token configured: the API is off and every `/api/` path answers 404,
/// whatever the request carries.
#[tokio::test]
async fn api_is_off_without_tokens() {
    let s = InProcessServer::start().await;
    let mut sub = TestClient::connect(s.mqtt, ProtocolVersion::V5, "off-sub").await;
    sub.subscribe("#", QoS::AtMostOnce).await;
    for (m, p) in [
        ("POST", "/api/v1/publish"),
        ("GET", "/api/v1/clients"),
        ("GET", "/api"),
    ] {
        let a = request(s.http, m, p, Some(TOKEN), Some(br#"{"topic":"a"}"#)).await;
        assert_eq!(a.status, 404, "{m} {p}");
        assert_eq!(a.json["error"], "not_found");
    }
    sub.expect_silence(Duration::from_millis(300)).await;
}

/// The API publishes as `[api] user` through the ACL: a topic the ACL does not
/// let it write is refused with 403 and nothing is published.
#[tokio::test]
async fn api_publish_goes_through_the_acl() {
    let dir = tempfile::tempdir().unwrap();
    let acl = dir.path().join("acl");
    std::fs::write(&acl, "topic read #\nuser fn\ntopic readwrite replies/#\n").unwrap();
    let mut config = loopback_config();
    config.api.tokens = vec![TOKEN.to_string()];
    config.api.user = "fn".to_string();
    config.auth.acl_file = Some(acl);
    let s = InProcessServer::start_config(config.clone(), config.broker_config()).await;
    let mut sub = TestClient::connect(s.mqtt, ProtocolVersion::V5, "acl-sub").await;
    sub.subscribe("#", QoS::AtMostOnce).await;
    let a = post(
        s.http,
        "/api/v1/publish",
        &json!({"topic": "admin/x", "payload": "no"}),
    )
    .await;
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (403, Some("not_authorized"))
    );
    sub.expect_silence(Duration::from_millis(200)).await;
    let a = post(
        s.http,
        "/api/v1/publish",
        &json!({"topic": "replies/x", "payload": "yes"}),
    )
    .await;
    assert_eq!(a.status, 200);
    assert_eq!(&sub.recv_publish().await.payload[..], b"yes");
}

/// Clients are listed with transport, protocol, address and subscriptions; a
/// disconnect through the API ends an MQTT 5 client with DISCONNECT 0x98
/// (Administrative action, MQTT 5.0 §3.14.2.1) and its reason, a `/ws` client
/// with close 1008; retained messages are listed and deleted; a session is
/// looked up, refused removal while online (409), removed offline.
#[tokio::test]
async fn clients_retained_and_sessions() {
    let s = server_with_api().await;
    let mut c = TestClient::connect(s.mqtt, ProtocolVersion::V5, "lister").await;
    c.subscribe("x/#", QoS::AtLeastOnce).await;
    let (mut browser, _) = connect(s.http, "/ws", &["realtime.v1"], false).await;
    let welcome = recv_json(&mut browser).await;
    let ws_id = welcome["client_id"].as_str().unwrap().to_string();

    let a = get(s.http, "/api/v1/clients").await;
    let clients = a.json["clients"].as_array().unwrap();
    let lister = clients.iter().find(|c| c["client_id"] == "lister").unwrap();
    assert_eq!(lister["transport"], "mqtt_tcp");
    assert_eq!(lister["protocol"], "5.0");
    assert!(
        lister["address"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert_eq!(lister["subscriptions"][0]["filter"], "x/#");
    assert_eq!(lister["subscriptions"][0]["qos"], 1);
    let browser_entry = clients
        .iter()
        .find(|c| c["client_id"] == ws_id.as_str())
        .unwrap();
    assert_eq!(
        (
            browser_entry["transport"].as_str(),
            browser_entry["protocol"].as_str()
        ),
        (Some("ws_json"), Some("json"))
    );

    let a = post(
        s.http,
        "/api/v1/clients/lister/disconnect",
        &json!({"reason": "maintenance"}),
    )
    .await;
    assert_eq!(a.status, 202);
    let packets = c.expect_closed().await;
    match packets.last() {
        Some(Packet::Disconnect(d)) => {
            assert_eq!(d.reason_code, ReasonCode::AdministrativeAction);
            assert_eq!(d.properties.reason_string.as_deref(), Some("maintenance"));
        }
        other => panic!("expected DISCONNECT 0x98, got {other:?}"),
    }
    let a = post(
        s.http,
        &format!("/api/v1/clients/{ws_id}/disconnect"),
        &json!({}),
    )
    .await;
    assert_eq!(a.status, 202);
    assert_eq!(expect_close(&mut browser).await, Some(1008));
    tokio::time::sleep(Duration::from_millis(200)).await;
    let a = get(s.http, "/api/v1/clients").await;
    assert_eq!(a.json["clients"], json!([]), "both gone from the registry");

    for t in ["r/1", "r/2", "q/1"] {
        post(
            s.http,
            "/api/v1/publish",
            &json!({"topic": t, "payload": t, "retain": true}),
        )
        .await;
    }
    let a = get(s.http, "/api/v1/retained?filter=r/%23").await;
    let topics: Vec<&str> = a.json["retained"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["topic"].as_str().unwrap())
        .collect();
    assert_eq!(topics, ["r/1", "r/2"]);
    assert_eq!(a.json["retained"][0]["payload"], "r/1");
    let a = delete(s.http, "/api/v1/retained?topic=r/1").await;
    assert_eq!(a.status, 204);
    let a = delete(s.http, "/api/v1/retained?topic=r/1").await;
    assert_eq!(a.status, 404);
    let a = get(s.http, "/api/v1/retained?filter=a/%2B/%2B/b/%23/c").await;
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (400, Some("invalid_topic"))
    );
    assert_eq!(
        s.broker.retained_matching("r/#").len() + s.broker.retained_matching("q/#").len(),
        2
    );

    let mut persistent = connect_packet(ProtocolVersion::V5, "keeper");
    persistent.properties.session_expiry_interval = Some(3600);
    let (mut k, _) = TestClient::connect_with(s.mqtt, persistent).await;
    k.subscribe("keep/#", QoS::AtLeastOnce).await;
    let a = get(s.http, "/api/v1/sessions/keeper").await;
    assert_eq!(
        (
            a.json["online"].as_bool(),
            a.json["expiry_interval"].as_u64()
        ),
        (Some(true), Some(3600))
    );
    assert_eq!(a.json["subscriptions"][0]["filter"], "keep/#");
    let a = delete(s.http, "/api/v1/sessions/keeper").await;
    assert_eq!(
        (a.status, a.json["error"].as_str()),
        (409, Some("client_connected"))
    );
    k.disconnect().await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    post(
        s.http,
        "/api/v1/publish",
        &json!({"topic": "keep/1", "qos": 1}),
    )
    .await;
    let a = get(s.http, "/api/v1/sessions/keeper").await;
    assert_eq!(
        (a.json["online"].as_bool(), a.json["queued"].as_u64()),
        (Some(false), Some(1))
    );
    let a = delete(s.http, "/api/v1/sessions/keeper").await;
    assert_eq!(a.status, 204);
    assert!(s.broker.session("keeper").is_none());
    let a = get(s.http, "/api/v1/sessions/keeper").await;
    assert_eq!(a.status, 404);
}
