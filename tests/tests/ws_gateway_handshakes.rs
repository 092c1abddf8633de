//! Opening handshakes on every WebSocket route of the in-process server, with the
//! HTTP listener's options set: the Origin policy (403), subprotocol selection on
//! `/mqtt` and `/ws`, permessage-deflate offers that must be declined, heads that are
//! too large (431) or too slow (408).

use std::time::Duration;

use realtime_tests::{InProcessServer, loopback_config};
use std::net::SocketAddr;

use realtime_tests::ws::{raw_http, raw_http_while_sending, upgrade_head};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ROUTES: [&str; 3] = ["/ws", "/mqtt", "/echo"];
const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

/// An upgrade request for `path` with `extra` header lines (each ending in CRLF).
fn upgrade(path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// The status and response head of an upgrade on `path` with `extra` headers.
async fn handshake(addr: SocketAddr, path: &str, extra: &str) -> (u16, String) {
    upgrade_head(addr, upgrade(path, extra).as_bytes()).await
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

/// RFC 6455 §4.2.2 / §10.2: with an Origin list, a browser from another origin gets
/// 403 on every route; the listed origin (ASCII case-insensitive, RFC 6454 §6.2) and
/// a client that sends no Origin (not a browser) are let in.
#[tokio::test]
async fn rfc6455_4_2_2_origin_policy_403_on_every_route() {
    let mut config = loopback_config();
    config.http.allowed_origins = Some(vec![
        "https://good.example".into(),
        "http://127.0.0.1:8080".into(),
    ]);
    let broker = config.broker_config();
    let server = InProcessServer::start_config(config, broker).await;
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
            let (got, text) = handshake(server.http, path, origin).await;
            assert_eq!(got, *status, "{path} {origin:?}: {text}");
        }
    }
    // Without a list, any origin is let in.
    let open = InProcessServer::start().await;
    for path in ROUTES {
        let (got, text) = handshake(open.http, path, "Origin: https://evil.example\r\n").await;
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
        let (status, text) = handshake(server.http, path, &extra).await;
        assert_eq!(status, 101, "{path} {offered:?}: {text}");
        assert_eq!(
            header(&text, "sec-websocket-protocol").as_deref(),
            *selected,
            "{path} offered {offered:?}: {text}"
        );
    }
    // RFC 6455 §4.1: a subprotocol must be a token.
    for path in ROUTES {
        let (status, text) = handshake(server.http, path, "Sec-WebSocket-Protocol: a b\r\n").await;
        assert_eq!(status, 400, "{path}: {text}");
    }
}

/// RFC 7692 §5, §7.1: an offer with unknown or invalid parameters is declined (the
/// connection opens without the extension); a valid later offer is taken; the server
/// always answers with no context takeover in both directions (memory bound).
#[tokio::test]
async fn rfc7692_5_invalid_deflate_offers_are_declined() {
    let server = InProcessServer::start().await;
    let cases: &[(&str, Option<&str>)] = &[
        (
            "permessage-deflate",
            Some("permessage-deflate; server_no_context_takeover; client_no_context_takeover"),
        ),
        ("permessage-deflate; server_max_window_bits=7", None),
        ("permessage-deflate; server_max_window_bits=16", None),
        ("permessage-deflate; client_max_window_bits=0", None),
        ("permessage-deflate; unknown_parameter", None),
        (
            "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
            None,
        ),
        ("x-webkit-deflate-frame", None),
        (
            "permessage-deflate; bogus=1, permessage-deflate; client_max_window_bits",
            Some("permessage-deflate"),
        ),
    ];
    for path in ROUTES {
        for (offer, answer) in cases {
            let (status, text) = handshake(
                server.http,
                path,
                &format!("Sec-WebSocket-Extensions: {offer}\r\n"),
            )
            .await;
            assert_eq!(status, 101, "{path} {offer:?}: {text}");
            let got = header(&text, "sec-websocket-extensions");
            match answer {
                None => assert_eq!(got, None, "{path} {offer:?}: declined"),
                Some(prefix) => assert!(
                    got.as_deref().is_some_and(|g| g.starts_with(prefix)),
                    "{path} {offer:?}: {got:?}"
                ),
            }
        }
    }
}

/// RFC 6585 §5: a head over the size limit (8 KiB) or with too many fields (64) is a
/// 431 on every route, before the server has read all of it.
#[tokio::test]
async fn rfc6585_5_oversized_heads_get_431_on_every_route() {
    let server = InProcessServer::start().await;
    let many: String = (0..80).map(|i| format!("X-H{i}: v\r\n")).collect();
    for path in ROUTES.iter().chain(&["/"]) {
        for (what, extra) in [
            ("20 KB field", format!("X-Big: {}\r\n", "a".repeat(20_000))),
            (
                "1 MB field",
                format!("X-Big: {}\r\n", "a".repeat(1_000_000)),
            ),
            ("80 fields", many.clone()),
        ] {
            let request = upgrade(path, &extra).into_bytes();
            let (status, text) = raw_http_while_sending(server.http, request).await;
            assert_eq!(status, 431, "{path} {what}: {text}");
        }
    }
}

/// RFC 9110 §15.5.9: a client that does not finish its request head within the head
/// timeout (slowloris) gets 408 and the connection is closed, on every route.
#[tokio::test]
async fn rfc9110_15_5_9_slow_heads_get_408_on_every_route() {
    let mut config = loopback_config();
    config.http.head_timeout_ms = 300;
    let broker = config.broker_config();
    let server = InProcessServer::start_config(config, broker).await;
    for path in ROUTES.iter().chain(&["/"]) {
        let partial = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n");
        let (status, text) = raw_http(server.http, partial.as_bytes()).await;
        assert_eq!(status, 408, "{path}: {text}");
    }
    let (status, text) = raw_http(server.http, b"").await;
    assert_eq!(status, 408, "silent connection: {text}");
}

/// RFC 6455 §4.2.1 / RFC 9110 §5.1, §7.8: header names and the Upgrade token are
/// case-insensitive and Connection is a list (Firefox sends `keep-alive, Upgrade`);
/// a query string does not change the route. Each such handshake opens.
#[tokio::test]
async fn rfc6455_4_2_1_browser_style_handshakes_open_on_every_route() {
    let server = InProcessServer::start().await;
    let variants = [
        "GET {path} HTTP/1.1\r\nhost: h\r\nupgrade: WebSocket\r\nconnection: keep-alive, Upgrade\r\nsec-websocket-key: {key}\r\nsec-websocket-version: 13\r\n\r\n",
        "GET {path}?token=abc HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
        "GET {path} HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nUser-Agent: x\r\nCookie: a=b\r\n\r\n",
    ];
    for path in ROUTES {
        for variant in variants {
            let request = variant.replace("{path}", path).replace("{key}", KEY);
            let mut stream = tokio::net::TcpStream::connect(server.http).await.unwrap();
            stream.write_all(request.as_bytes()).await.unwrap();
            let mut head = [0u8; 12];
            tokio::time::timeout(Duration::from_secs(5), stream.read_exact(&mut head))
                .await
                .expect("an answer")
                .unwrap();
            assert_eq!(&head, b"HTTP/1.1 101", "{path}: {request}");
        }
    }
}

/// The routes that are not WebSockets (`/`, a static file, `/healthz`, `/metrics`,
/// an unknown path) answer malformed requests with the right status too: 405 for a
/// method other than GET/HEAD (RFC 9110 §15.5.6), 505 for a version HTTP/1 cannot
/// speak (RFC 9112 §2.3), 400 for an HTTP/1.1 request without a Host or with two
/// (RFC 9112 §3.2: MUST) and for a malformed request line or field (RFC 9112 §3,
/// §5.1). HTTP/1.0 needs no Host. A WebSocket upgrade request on such a route is
/// not switched: it is answered as the plain GET it also is (RFC 9110 §7.8 lets a
/// server ignore Upgrade).
#[tokio::test]
async fn rfc9112_plain_routes_answer_malformed_requests() {
    let server = InProcessServer::start().await;
    let ws_headers = format!(
        "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n"
    );
    for (path, found) in [
        ("/", 200),
        ("/app.js", 200),
        ("/healthz", 200),
        ("/metrics", 200),
        ("/nope", 404),
    ] {
        let cases: [(&str, String, u16); 9] = [
            (
                "POST",
                format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n"),
                405,
            ),
            (
                "DELETE",
                format!("DELETE {path} HTTP/1.1\r\nHost: x\r\n\r\n"),
                405,
            ),
            (
                "HTTP/2.0",
                format!("GET {path} HTTP/2.0\r\nHost: x\r\n\r\n"),
                505,
            ),
            ("no Host", format!("GET {path} HTTP/1.1\r\n\r\n"), 400),
            (
                "two Hosts",
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nHost: y\r\n\r\n"),
                400,
            ),
            (
                "two spaces in the request line",
                format!("GET  {path} HTTP/1.1\r\nHost: x\r\n\r\n"),
                400,
            ),
            (
                "space in a field name",
                format!("GET {path} HTTP/1.1\r\nHost: x\r\nBad Name: y\r\n\r\n"),
                400,
            ),
            (
                "HTTP/1.0 without Host",
                format!("GET {path} HTTP/1.0\r\n\r\n"),
                found,
            ),
            (
                "WebSocket upgrade",
                format!("GET {path} HTTP/1.1\r\nHost: x\r\n{ws_headers}\r\n"),
                found,
            ),
        ];
        for (what, request, status) in cases {
            let (got, text) = raw_http(server.http, request.as_bytes()).await;
            assert_eq!(got, status, "{path} {what}: {text}");
        }
    }
}
