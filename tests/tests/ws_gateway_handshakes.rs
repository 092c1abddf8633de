//! Opening handshakes on every WebSocket route of the in-process server, with the
//! HTTP listener's options set: the Origin policy (403), subprotocol selection on
//! `/mqtt` and `/ws`, permessage-deflate offers that must be declined, heads that are
//! too large (431) or too slow (408).

use std::time::Duration;

use realtime_server::http::HttpConfig;
use realtime_tests::InProcessServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROUTES: [&str; 3] = ["/ws", "/mqtt", "/echo"];
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// An upgrade request for `path` with `extra` header lines (each ending in CRLF).
fn upgrade(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// The value of header `name` in a response head, if present (case-insensitive name).
fn header(response: &str, name: &str) -> Option<String> {
    let head = response.split("\r\n\r\n").next().unwrap_or_default();
    head.split("\r\n").skip(1).find_map(|line| {
        let (n, v) = line.split_once(':')?;
        n.trim()
            .eq_ignore_ascii_case(name)
            .then(|| v.trim().to_string())
    })
}

/// The status and the whole response of an upgrade on `path` with `extra` headers.
/// The server closes the TCP connection of a 101 only when the test drops it, so
/// the read stops at the end of the head.
async fn handshake(server: &InProcessServer, path: &str, extra: &str) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(server.http).await.unwrap();
    stream
        .write_all(upgrade(path, extra).as_bytes())
        .await
        .unwrap();
    let mut response = Vec::new();
    let mut chunk = [0u8; 1024];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(Duration::from_secs(5), stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => response.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("{path}: no response head within 5 s"),
        }
    }
    let text = String::from_utf8_lossy(&response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// RFC 6455 §4.2.2 / §10.2: with an Origin list, a browser from another origin gets
/// 403 on every route; the listed origin (ASCII case-insensitive, RFC 6454 §6.2) and
/// a client that sends no Origin (not a browser) are let in.
#[tokio::test]
async fn rfc6455_4_2_2_origin_policy_403_on_every_route() {
    let server = InProcessServer::start_http(HttpConfig {
        allowed_origins: Some(vec![
            "https://good.example".into(),
            "http://127.0.0.1:8080".into(),
        ]),
        ..HttpConfig::default()
    })
    .await;
    let cases: &[(&str, u16)] = &[
        ("Origin: https://good.example\r\n", 101),
        ("Origin: HTTPS://GOOD.EXAMPLE\r\n", 101),
        ("Origin: http://127.0.0.1:8080\r\n", 101),
        ("", 101),
        ("Origin: https://evil.example\r\n", 403),
        ("Origin: https://good.example.evil.example\r\n", 403),
        ("Origin: http://127.0.0.1:8081\r\n", 403),
        ("Origin: null\r\n", 403),
    ];
    for path in ROUTES {
        for (origin, status) in cases {
            let (got, text) = handshake(&server, path, origin).await;
            assert_eq!(got, *status, "{path} {origin:?}: {text}");
        }
    }
    // Without a list, any origin is let in.
    let open = InProcessServer::start().await;
    for path in ROUTES {
        let (got, text) = handshake(&open, path, "Origin: https://evil.example\r\n").await;
        assert_eq!(got, 101, "{path}: {text}");
    }
}

/// MQTT-6.0.0-4: `/mqtt` selects `mqtt` whenever the client offers it, whatever the
/// order; `mqttv3.1` (MQTT 3.1 clients) when only that is offered. RFC 6455 §4.2.2:
/// when no offered subprotocol is supported, the 101 carries no
/// Sec-WebSocket-Protocol. `/ws` speaks `realtime.v1`; `/echo` none.
#[tokio::test]
async fn mqtt_6_0_0_4_and_rfc6455_4_2_2_subprotocol_selection() {
    let server = InProcessServer::start().await;
    let cases: &[(&str, &str, Option<&str>)] = &[
        ("/mqtt", "mqtt", Some("mqtt")),
        ("/mqtt", "chat, mqtt", Some("mqtt")),
        ("/mqtt", "mqttv3.1", Some("mqttv3.1")),
        ("/mqtt", "mqttv3.1, mqtt", Some("mqtt")),
        ("/mqtt", "MQTT", None),
        ("/mqtt", "chat", None),
        ("/mqtt", "", None),
        ("/ws", "realtime.v1", Some("realtime.v1")),
        ("/ws", "mqtt", None),
        ("/echo", "mqtt, realtime.v1", None),
    ];
    for (path, offered, selected) in cases {
        let extra = if offered.is_empty() {
            String::new()
        } else {
            format!("Sec-WebSocket-Protocol: {offered}\r\n")
        };
        let (status, text) = handshake(&server, path, &extra).await;
        assert_eq!(status, 101, "{path} {offered:?}: {text}");
        assert_eq!(
            header(&text, "sec-websocket-protocol").as_deref(),
            *selected,
            "{path} offered {offered:?}: {text}"
        );
    }
    // RFC 6455 §4.1: a subprotocol must be a token.
    for path in ROUTES {
        let (status, text) = handshake(&server, path, "Sec-WebSocket-Protocol: a b\r\n").await;
        assert_eq!(status, 400, "{path}: {text}");
    }
}
