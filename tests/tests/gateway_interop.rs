//! The WebSocket gateway of the release binary against real third-party peers:
//! `mosquitto_pub`/`mosquitto_sub` on MQTT/TCP, Python `websockets` on `/ws` and
//! `/echo`, paho-mqtt and MQTT.js over WebSocket on `/mqtt`. One topic bus: what
//! one side publishes (live or retained) the other receives, payload and flags
//! intact. The browser test is in `gateway_browser.rs`.
#![cfg(feature = "interop")]

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;

use realtime_tests::ServerProcess;
use realtime_tests::gateway_peers::{
    EventPeer, hex, mosquitto_pub, mosquitto_sub, mqtt_message, node_script, normalized,
    without_seq, ws_message, ws_peers_py, ws_url,
};
use serde_json::{Value, json};

/// A payload that is not UTF-8 (and has no NUL, so it fits in an argument).
const RAW: &[u8] = &[0xff, 0xfe, 0x01, 0x80];

fn paho_sub(server: &ServerProcess, filter: &str, count: usize, qos: u8) -> EventPeer {
    ws_peers_py(&[
        "paho-sub",
        &server.http.ip().to_string(),
        &server.http.port().to_string(),
        filter,
        &count.to_string(),
        "--qos",
        &qos.to_string(),
    ])
}

fn mqttjs_sub(server: &ServerProcess, filter: &str, count: usize, qos: u8) -> EventPeer {
    node_script(
        "ws_mqttjs.mjs",
        &[
            "sub",
            &ws_url(server.http, "/mqtt"),
            filter,
            &count.to_string(),
            &qos.to_string(),
        ],
    )
}

/// `ws_peers.py COMMAND ws://…PATH`, started twice at once: without (`false`) and
/// with (`true`) permessage-deflate offered.
fn with_and_without_deflate(
    command: &str,
    server: &ServerProcess,
    path: &str,
) -> [(EventPeer, bool); 2] {
    let url = ws_url(server.http, path);
    [
        (ws_peers_py(&[command, &url]), false),
        (ws_peers_py(&[command, &url, "--deflate"]), true),
    ]
}

/// RFC 7692 §5: the extension was negotiated exactly when offered (the report's
/// `extensions` is the 101's Sec-WebSocket-Extensions).
fn assert_deflate(report: &Value, offered: bool) {
    let ext = report.get("extensions").and_then(Value::as_str);
    assert_eq!(
        ext.is_some_and(|e| e.starts_with("permessage-deflate")),
        offered,
        "{report}"
    );
    if !offered {
        assert_eq!(
            ext, None,
            "not offered, not answered (RFC 6455 §9.1): {report}"
        );
    }
}

/// `mosquitto_pub` (MQTT 3.1.1 over TCP) reaches a `/ws` client (Python `websockets`,
/// permessage-deflate) and MQTT.js on `/mqtt`: text and non-UTF-8 payloads, QoS
/// min(published, granted) (MQTT-3.8.4-8 / MQTT 5 §3.8.4), RETAIN 0 on live
/// delivery (MQTT-3.3.1-12 / MQTT 5 §3.3.1.3), in publish order (MQTT 4.6.0-6).
#[test]
fn mosquitto_pub_reaches_ws_json_and_mqttjs_on_mqtt_route() {
    let server = ServerProcess::start(&[]);
    let mut browser = ws_peers_py(&[
        "ws-sub",
        &ws_url(server.http, "/ws"),
        "xp/in/#",
        "2",
        "--deflate",
    ]);
    let mut mqttjs = mqttjs_sub(&server, "xp/in/#", 2, 1);
    let ready = browser.expect("ready");
    assert!(
        ready["extensions"]
            .as_str()
            .is_some_and(|e| e.starts_with("permessage-deflate")),
        "RFC 7692: websockets offered permessage-deflate and the server accepted: {ready}"
    );
    mqttjs.expect("ready");

    mosquitto_pub(
        server.mqtt,
        &[
            "-V",
            "mqttv311",
            "-q",
            "1",
            "-t",
            "xp/in/text",
            "-m",
            "héllo from mosquitto_pub",
        ],
    );
    mosquitto_pub(
        server.mqtt,
        &[
            OsStr::new("-q"),
            OsStr::new("0"),
            OsStr::new("-t"),
            OsStr::new("xp/in/raw"),
            OsStr::new("-m"),
            OsStr::from_bytes(RAW),
        ],
    );

    let got = browser.messages(2);
    assert_eq!(
        (got[0]["seq"].as_u64(), got[1]["seq"].as_u64()),
        (Some(1), Some(2)),
        "seq numbers the connection's messages from 1"
    );
    assert_eq!(
        got.into_iter().map(without_seq).collect::<Vec<_>>(),
        [
            ws_message("xp/in/text", "héllo from mosquitto_pub", "text", 0, false),
            ws_message("xp/in/raw", "//4BgA==", "base64", 0, false),
        ]
    );
    assert_eq!(
        mqttjs.messages(2),
        [
            mqtt_message(
                "xp/in/text",
                "héllo from mosquitto_pub".as_bytes(),
                1,
                false
            ),
            mqtt_message("xp/in/raw", RAW, 0, false),
        ]
    );
    browser.finish();
    mqttjs.finish();
}

/// A `/ws` client (Python `websockets`) publishes with a JSON request (QoS 1, acked)
/// and with a binary frame (raw bytes, QoS 0): `mosquitto_sub` (MQTT 5 over TCP) and
/// paho-mqtt over WebSocket (`transport="websockets"`, path `/mqtt`) receive both,
/// payload bytes intact, QoS 1 and 0, RETAIN 0.
#[test]
fn ws_json_publish_reaches_mosquitto_sub_and_paho_over_websocket() {
    let server = ServerProcess::start(&[]);
    let mut paho = paho_sub(&server, "xp/out/#", 2, 1);
    let mut sub = mosquitto_sub(
        server.mqtt,
        &["-V", "5", "-q", "1", "-t", "xp/out/#", "-C", "2"],
    );
    paho.expect("ready");

    let ws = ws_url(server.http, "/ws");
    ws_peers_py(&[
        "ws-pub",
        &ws,
        "xp/out/json",
        "--text",
        "from /ws ✓",
        "--qos",
        "1",
    ])
    .finish();
    ws_peers_py(&[
        "ws-pub",
        &ws,
        "xp/out/raw",
        "--hex",
        &hex(RAW),
        "--binary-frame",
    ])
    .finish();

    let expected = [
        mqtt_message("xp/out/json", "from /ws ✓".as_bytes(), 1, false),
        mqtt_message("xp/out/raw", RAW, 0, false),
    ];
    assert_eq!(
        sub.messages(2)
            .into_iter()
            .map(normalized)
            .collect::<Vec<_>>(),
        expected
    );
    assert_eq!(paho.messages(2), expected);
    sub.finish();
    paho.finish();
}

/// Retained messages cross sides (MQTT-3.3.1-5/-6, MQTT-3.3.1-9): one set by
/// `mosquitto_pub` is delivered with RETAIN 1 to later `/ws`, paho-over-WebSocket and
/// MQTT.js subscribers; one set on `/ws` is delivered with RETAIN 1 to `mosquitto_sub`
/// and the same. An empty retained payload deletes it (MQTT-3.3.1-10/-11) whichever
/// side sends it: after both deletions a new subscriber on either side gets no
/// retained message, only the live message published after its subscription.
#[test]
fn retained_messages_cross_between_mqtt_and_websocket() {
    let server = ServerProcess::start(&[]);
    let ws = ws_url(server.http, "/ws");
    mosquitto_pub(
        server.mqtt,
        &[
            "-q",
            "1",
            "-r",
            "-t",
            "xr/mqtt",
            "-m",
            "set by mosquitto_pub",
        ],
    );
    ws_peers_py(&[
        "ws-pub",
        &ws,
        "xr/ws",
        "--text",
        "set by /ws",
        "--retain",
        "--qos",
        "1",
    ])
    .finish();

    // Four later subscribers, started together; retained messages come in any order.
    let mut browser = ws_peers_py(&["ws-sub", &ws, "xr/#", "2"]);
    let mut paho = paho_sub(&server, "xr/#", 2, 0);
    let mut mqttjs = mqttjs_sub(&server, "xr/#", 2, 0);
    let mut sub = mosquitto_sub(server.mqtt, &["-q", "0", "-t", "xr/#", "-C", "2"]);
    let sorted = |mut v: Vec<Value>| {
        v.sort_by_key(|m| m["topic"].as_str().unwrap_or_default().to_string());
        v
    };
    assert_eq!(
        sorted(browser.messages(2).into_iter().map(without_seq).collect()),
        [
            ws_message("xr/mqtt", "set by mosquitto_pub", "text", 0, true),
            ws_message("xr/ws", "set by /ws", "text", 0, true),
        ]
    );
    let expected = [
        mqtt_message("xr/mqtt", b"set by mosquitto_pub", 0, true),
        mqtt_message("xr/ws", b"set by /ws", 0, true),
    ];
    assert_eq!(sorted(paho.messages(2)), expected, "paho over WebSocket");
    assert_eq!(
        sorted(mqttjs.messages(2)),
        expected,
        "MQTT.js over WebSocket"
    );
    assert_eq!(
        sorted(sub.messages(2).into_iter().map(normalized).collect()),
        expected,
        "mosquitto_sub"
    );
    for peer in [browser, paho, mqttjs, sub] {
        peer.finish();
    }

    // Each side deletes the other side's retained message.
    ws_peers_py(&[
        "ws-pub", &ws, "xr/mqtt", "--text", "", "--retain", "--qos", "1",
    ])
    .finish();
    mosquitto_pub(server.mqtt, &["-q", "1", "-r", "-n", "-t", "xr/ws"]);
    let mut browser = ws_peers_py(&["ws-sub", &ws, "xr/#", "1"]);
    let mut sub = mosquitto_sub(server.mqtt, &["-q", "0", "-t", "xr/#", "-C", "1"]);
    browser.expect("ready");
    // Retained messages are sent at subscription time, before anything published
    // later: the first message each gets is this live one if nothing is retained.
    mosquitto_pub(server.mqtt, &["-t", "xr/live", "-m", "after the deletes"]);
    assert_eq!(
        without_seq(browser.messages(1).remove(0)),
        ws_message("xr/live", "after the deletes", "text", 0, false)
    );
    assert_eq!(
        normalized(sub.messages(1).remove(0)),
        mqtt_message("xr/live", b"after the deletes", 0, false)
    );
    browser.finish();
    sub.finish();
}

/// Python `websockets` as an independent client of `/echo`, without and with
/// permessage-deflate (RFC 7692): text with non-ASCII, all byte values, a 360 KB
/// message, an empty message, a fragmented message (RFC 6455 §5.4) and a Ping
/// (§5.5.2) come back as sent; the extension is negotiated exactly when offered.
#[test]
fn python_websockets_on_echo_with_and_without_compression() {
    let server = ServerProcess::start(&[]);
    for (mut peer, compressed) in with_and_without_deflate("echo", &server, "/echo") {
        let report = peer.expect("echo");
        assert_eq!(
            report["checked"],
            json!([
                "text",
                "binary",
                "large",
                "empty-text",
                "fragmented",
                "ping"
            ])
        );
        assert_deflate(&report, compressed);
        peer.finish();
    }
}

/// Python `websockets` speaks the `/ws` JSON protocol (docs/ws-json-protocol.md)
/// without and with compression: welcome, subscribe with a wildcard, a QoS 1
/// publish acked and delivered with its user property, an error answer that leaves
/// the connection open, ping, a binary-frame publish delivered as base64, and a
/// message over the 1 MiB limit closed with 1009 (RFC 6455 §7.4.1).
#[test]
fn python_websockets_speaks_ws_json_with_and_without_compression() {
    let server = ServerProcess::start(&[]);
    for (mut peer, compressed) in with_and_without_deflate("json-session", &server, "/ws") {
        let s = peer.expect("session");
        assert_deflate(&s, compressed);
        let p = if compressed { "py-deflate" } else { "py-plain" };
        assert_eq!(s["welcome"]["type"], "welcome");
        assert!(
            s["welcome"]["client_id"]
                .as_str()
                .is_some_and(|id| id.starts_with("auto-")),
            "{s}"
        );
        assert_eq!(
            s["subscribed"],
            json!({"type": "subscribed", "id": 1, "filter": format!("{p}/+/state"), "qos": 0})
        );
        assert_eq!(s["puback"], json!({"type": "puback", "id": "p1"}));
        assert_eq!(
            without_seq(s["message"].clone()),
            json!({"type": "message", "topic": format!("{p}/door/state"), "payload": "open ✓",
                   "encoding": "text", "qos": 0, "retain": false,
                   "user_properties": {"by": "websockets"}})
        );
        assert_eq!(
            (&s["error"]["code"], &s["error"]["id"]),
            (&json!("invalid_topic"), &json!(2)),
            "MQTT-4.7.1-1: '#' must be last: {s}"
        );
        assert_eq!(s["pong"], json!({"type": "pong", "id": 3}));
        assert_eq!(
            (
                &s["binary_message"]["topic"],
                &s["binary_message"]["payload"],
                &s["binary_message"]["encoding"]
            ),
            (
                &json!(format!("{p}/raw/state")),
                &json!("AP8Q"),
                &json!("base64")
            )
        );
        assert_eq!(s["close_code"], 1009, "RFC 6455 §7.4.1: message too big");
        peer.finish();
    }
}

/// The binary's `--allowed-origin`: a handshake from another Origin gets 403 on every
/// WebSocket route (RFC 6455 §4.2.2), the allowed one and one without Origin (not a
/// browser) open; on `/mqtt`, paho with the allowed Origin publishes to MQTT.js,
/// which sends none.
#[test]
fn allowed_origin_flag_refuses_other_origins_with_403() {
    let server = ServerProcess::start(&["--allowed-origin", "https://good.example"]);
    let mut peers = Vec::new();
    for path in ["/ws", "/mqtt", "/echo"] {
        let url = ws_url(server.http, path);
        for (origin, status) in [
            (Some("https://good.example"), 101),
            (Some("https://evil.example"), 403),
            (None, 101),
        ] {
            let mut args = vec!["handshake", url.as_str()];
            if let Some(o) = origin {
                args.extend(["--origin", o]);
            }
            peers.push((path, origin, status, ws_peers_py(&args)));
        }
    }
    for (path, origin, status, mut peer) in peers {
        let h = peer.expect("handshake");
        assert_eq!(h["status"], status, "{path} Origin {origin:?}: {h}");
        peer.finish();
    }
    // Node's `ws` under MQTT.js sends no Origin; paho sends one, here an allowed one.
    let mut mqttjs = mqttjs_sub(&server, "o/#", 1, 0);
    mqttjs.expect("ready");
    ws_peers_py(&[
        "paho-pub",
        &server.http.ip().to_string(),
        &server.http.port().to_string(),
        "o/1",
        "--text",
        "x",
        "--origin",
        "https://good.example",
    ])
    .finish();
    assert_eq!(mqttjs.messages(1), [mqtt_message("o/1", b"x", 0, false)]);
    mqttjs.finish();
}
