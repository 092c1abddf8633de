//! The demo page in a real browser: Debian's Chromium, headless, driven by
//! playwright-core (`tests/js/browser_demo.mjs`) against the release binary.
#![cfg(feature = "interop")]

use std::time::Duration;

use realtime_tests::gateway_peers::{artifacts_dir, node_script};
use realtime_tests::{ServerProcess, http_get, require_peer};
use serde_json::{Value, json};

/// The value of a Prometheus sample (`name{labels}`) in a `/metrics` body.
fn metric(body: &str, sample: &str) -> Option<u64> {
    body.lines()
        .find_map(|l| l.strip_prefix(sample)?.trim().parse().ok())
}

/// Two Chromium pages chat through the demo page at `/` (over `/ws`); bob's topic
/// viewer shows a retained and a live message from `mosquitto_pub`; MQTT.js loaded
/// into alice's page connects over `/mqtt` (subprotocol `mqtt`, MQTT-6.0.0-4) and
/// exchanges chat lines with the pages. Every WebSocket Chromium opened negotiated
/// permessage-deflate (RFC 7692), seen from the browser (DevTools handshake
/// headers) and from the server (`/metrics`). No page error, no console error.
/// Screenshots: `$ARTIFACTS/browser-demo-{alice,bob}.png`.
#[test]
fn chromium_chats_views_topics_and_runs_mqttjs_through_the_demo_page() {
    require_peer("chromium", "apt-get install chromium");
    let mosquitto_pub = require_peer("mosquitto_pub", "apt-get install mosquitto-clients");
    let server = ServerProcess::start(&[]);
    let artifacts = artifacts_dir();
    let browser = node_script(
        "browser_demo.mjs",
        &[
            &format!("http://{}", server.http),
            &server.mqtt.port().to_string(),
            mosquitto_pub.to_str().unwrap(),
            artifacts.to_str().unwrap(),
        ],
    );
    let events = browser.finish_within(Duration::from_secs(60));
    let report = events
        .iter()
        .rev()
        .find(|e| e.get("handshakes").is_some())
        .unwrap_or_else(|| panic!("no report from browser_demo.mjs: {events:#?}"))
        .clone();

    let chat = |who: &str, text: &str| json!({"who": who, "text": text});
    let full_chat = [
        chat("alice", "hello bob, from alice"),
        chat("bob", "hi alice ✓ (ünïcode)"),
        chat("mqtt.js", "hello from MQTT.js in the page"),
        chat("bob", "welcome, MQTT.js"),
    ];
    assert_eq!(report["bob_chat"], json!(full_chat), "{report:#}");
    assert_eq!(report["alice_chat"], json!(full_chat), "{report:#}");

    // Newest first: the live reading, then the retained one (MQTT-3.3.1-9: RETAIN 1
    // for a retained message sent because of a new subscription).
    let viewer = report["viewer"].as_array().expect("viewer rows");
    let rows: Vec<Vec<&str>> = viewer
        .iter()
        .map(|r| {
            r.as_array()
                .unwrap()
                .iter()
                .skip(1) // the time column
                .map(|c| c.as_str().unwrap())
                .collect()
        })
        .collect();
    assert_eq!(
        rows,
        [
            vec!["sensors/kitchen/temp", "21.5", "q0"],
            vec!["sensors/door", "open", "retained q0"],
        ],
        "{report:#}"
    );
    assert_eq!(report["viewer_state"], "showing sensors/#");

    let inbox = report["mqtt_inbox"].as_array().expect("MQTT.js inbox");
    let texts: Vec<&str> = inbox.iter().filter_map(|m| m["text"].as_str()).collect();
    assert!(
        texts
            .iter()
            .any(|t| t.contains("hello from MQTT.js in the page"))
            && texts.iter().any(|t| t.contains("welcome, MQTT.js")),
        "MQTT.js got its own line and bob's: {inbox:#?}"
    );
    assert!(
        inbox
            .iter()
            .all(|m| m["topic"] == "chat/interop" && m["retain"] == false),
        "{inbox:#?}"
    );

    let handshakes = report["handshakes"].as_array().unwrap();
    let on = |path: &str| -> Vec<&Value> {
        handshakes
            .iter()
            .filter(|h| h["url"].as_str().is_some_and(|u| u.ends_with(path)))
            .collect()
    };
    assert_eq!(on("/ws").len(), 2, "one /ws per page: {handshakes:#?}");
    assert_eq!(on("/mqtt").len(), 1, "{handshakes:#?}");
    for h in handshakes {
        assert_eq!(h["status"], 101, "{h}");
        assert!(
            h["extensions"]
                .as_str()
                .is_some_and(|e| e.starts_with("permessage-deflate")),
            "RFC 7692: Chromium offered permessage-deflate and the server accepted: {h}"
        );
    }
    assert_eq!(on("/mqtt")[0]["protocol"], "mqtt", "MQTT-6.0.0-4");

    let (status, metrics) = http_get(server.http, "/metrics");
    assert_eq!(status, 200);
    assert!(
        metric(
            &metrics,
            "realtime_websocket_opened_total{permessage_deflate=\"true\"}"
        )
        .is_some_and(|n| n >= 3),
        "the server counted the compressed connections: {metrics}"
    );

    // The room field's pattern compiles in Chromium (HTML `pattern` uses the RegExp
    // `v` flag) and refuses a room that would be several topic levels.
    assert_eq!(report["alice_room_a_b_refused"], true, "{report:#}");
    assert_eq!(report["page_errors"], json!([]), "{report:#}");
    assert_eq!(report["console_errors"], json!([]), "{report:#}");
    for shot in report["screenshots"].as_array().unwrap() {
        let path = shot.as_str().unwrap();
        let size = std::fs::metadata(path).map(|m| m.len()).unwrap_or(0);
        assert!(size > 10_000, "screenshot {path}: {size} bytes");
        eprintln!("screenshot: {path}");
    }
}
