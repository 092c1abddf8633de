//! The HTTP listener before an upgrade: malformed or refused opening handshakes
//! (RFC 6455 §4.2) and request heads over the listener's limits.

use super::limits::{MAX_HEAD, MAX_HEADERS};
use super::wire::ORIGIN;
use super::{Case, Ev, Input, Transport, case};

use Ev::Http;
use Input::HttpRaw;

/// An upgrade request of `path` with `headers` (each ending in CRLF) after the
/// request line.
fn request(line: &str, headers: &str) -> Vec<u8> {
    format!("{line}\r\nHost: x\r\n{headers}\r\n").into_bytes()
}

const UPGRADE: &str = "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
const KEY: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";

/// Handshake and request-head cases.
#[rustfmt::skip]
pub(crate) fn http() -> Vec<Case> {
    let t = Transport::Http;
    let origin = format!("Origin: {ORIGIN}\r\n");
    let ok_headers = format!("{UPGRADE}{KEY}{origin}");
    let padding = format!("X-Pad: {}\r\n", "p".repeat(MAX_HEAD));
    let many: String = (0..=MAX_HEADERS).map(|i| format!("X-H{i}: v\r\n")).collect();
    vec![
        case("not an HTTP request", t, "RFC 9112 §3", "`HELLO`", HttpRaw(b"HELLO\r\n\r\n".to_vec()), vec![Http(400)]),
        case("header line without a colon", t, "RFC 9112 §5", "`Upgrade websocket`", HttpRaw(request("GET /ws HTTP/1.1", "Upgrade websocket\r\n")), vec![Http(400)]),
        case("request line too long", t, "http.max_head_bytes", "a 3 KiB request target", HttpRaw(request(&format!("GET /{} HTTP/1.1", "a".repeat(3 * 1024)), "")), vec![Http(431)]),
        case("request head too large", t, "http.max_head_bytes", "a 2 KiB header", HttpRaw(request("GET /ws HTTP/1.1", &padding)), vec![Http(431)]),
        case("too many headers", t, "http.max_headers", "17 header lines", HttpRaw(request("GET /ws HTTP/1.1", &many)), vec![Http(431)]),
        case("upgrade without Sec-WebSocket-Key", t, "RFC 6455 §4.2.1", "no key", HttpRaw(request("GET /echo HTTP/1.1", &format!("{UPGRADE}{origin}"))), vec![Http(400)]),
        case("bad Sec-WebSocket-Key", t, "RFC 6455 §4.2.1", "key `abc` (not 16 bytes base64)", HttpRaw(request("GET /echo HTTP/1.1", &format!("{UPGRADE}{origin}Sec-WebSocket-Key: abc\r\n"))), vec![Http(400)]),
        case("unsupported WebSocket version", t, "RFC 6455 §4.2.2", "Sec-WebSocket-Version 8", HttpRaw(request("GET /echo HTTP/1.1", &format!("Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 8\r\n{KEY}{origin}"))), vec![Http(426)]),
        case("upgrade with POST", t, "RFC 6455 §4.2.1", "POST /echo with upgrade headers", HttpRaw(request("POST /echo HTTP/1.1", &ok_headers)), vec![Http(405)]),
        case("upgrade over HTTP/1.0", t, "RFC 6455 §4.2.1", "GET /echo HTTP/1.0", HttpRaw(request("GET /echo HTTP/1.0", &ok_headers)), vec![Http(400)]),
        case("Origin not allowed", t, "RFC 6455 §10.2, http.allowed_origins", "Origin: http://evil.example", HttpRaw(request("GET /ws HTTP/1.1", &format!("{UPGRADE}{KEY}Origin: http://evil.example\r\n"))), vec![Http(403)]),
        case("no Origin with an allow-list", t, "RFC 6455 §10.2, http.allowed_origins", "no Origin header: not a browser, let in", HttpRaw(request("GET /ws HTTP/1.1", &format!("{UPGRADE}{KEY}"))), vec![Http(101)]),
    ]
}
