//! Table-driven malformed inputs (RFC 6455, RFC 7692): every bad handshake gets its HTTP
//! status, every bad frame, payload, close or oversized message its close code, and the
//! connection queues the Close frame that carries it.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use bytes::BytesMut;
use common::{client, close_payload, frame};
use ws_proto::deflate::{Compressor, DeflateParams};
use ws_proto::handshake::server::{ServerConfig, accept};
use ws_proto::http::{HeadLimits, Parsed, parse_request};
use ws_proto::protocol::{Config, Connection, Role, State};

fn deflate() -> DeflateParams {
    DeflateParams {
        server_no_context_takeover: false,
        client_no_context_takeover: false,
        server_max_window_bits: 15,
        client_max_window_bits: 15,
        level: 1,
    }
}

fn small() -> Config {
    Config {
        max_frame_size: 1000,
        max_message_size: 2000,
        auto_pong: true,
    }
}

fn bomb() -> Vec<u8> {
    let mut c = Compressor::new(9, 15, true);
    client(0xC2, &c.compress(&vec![0u8; 1 << 20]).unwrap())
}

/// Feeds `input` to a connection; returns the close code of the error it fails with.
fn close_code_for(
    role: Role,
    config: Config,
    deflate: Option<DeflateParams>,
    input: &[u8],
) -> Option<u16> {
    let mut conn = Connection::new(role, config, deflate);
    let mut buf = BytesMut::from(input);
    loop {
        match conn.read(&mut buf) {
            Ok(Some(_)) => continue,
            Ok(None) => return None,
            Err(e) => {
                let code = e.close_code().map(|c| c.as_u16());
                // RFC 6455 §7.1.7: the failing endpoint sends a Close with that code.
                let close = conn.poll_transmit().expect("a Close frame is queued");
                let header = close.header()[0];
                assert_eq!(header & 0x0F, 0x8, "queued frame is a Close");
                let mut payload = close.payload().to_vec();
                if close.header()[1] & 0x80 != 0 {
                    let key: [u8; 4] = close.header()[2..6].try_into().unwrap();
                    ws_proto::mask::apply_mask(&mut payload, key, 0);
                }
                let sent = u16::from_be_bytes([payload[0], payload[1]]);
                assert_eq!(Some(sent), code);
                assert_eq!(conn.state(), State::Closed);
                return code;
            }
        }
    }
}

/// A case: its name (the rule), role, limits, deflate, input and expected close code.
type FrameCase = (
    &'static str,
    Role,
    Config,
    Option<DeflateParams>,
    Vec<u8>,
    u16,
);

#[test]
fn malformed_frames_fail_with_their_close_code() {
    let mut long_text = vec![b'a'; 3000];
    long_text[10] = b'b';
    let cases: Vec<FrameCase> = vec![
        (
            "RFC 6455 §5.1 unmasked client frame",
            Role::Server,
            Config::default(),
            None,
            frame(0x81, b"hi", false),
            1002,
        ),
        (
            "RFC 6455 §5.1 masked server frame",
            Role::Client,
            Config::default(),
            None,
            frame(0x81, b"hi", true),
            1002,
        ),
        (
            "RFC 6455 §5.2 reserved opcode 0x3",
            Role::Server,
            Config::default(),
            None,
            client(0x83, b""),
            1002,
        ),
        (
            "RFC 6455 §5.2 reserved opcode 0xB",
            Role::Server,
            Config::default(),
            None,
            client(0x8B, b""),
            1002,
        ),
        (
            "RFC 6455 §5.2 RSV1 without extension",
            Role::Server,
            Config::default(),
            None,
            client(0xC1, b"a"),
            1002,
        ),
        (
            "RFC 6455 §5.2 RSV2",
            Role::Server,
            Config::default(),
            None,
            client(0xA1, b"a"),
            1002,
        ),
        (
            "RFC 6455 §5.2 RSV3",
            Role::Server,
            Config::default(),
            None,
            client(0x91, b"a"),
            1002,
        ),
        (
            "RFC 6455 §5.2 64-bit length MSB set",
            Role::Server,
            Config::default(),
            None,
            vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4],
            1002,
        ),
        (
            "RFC 6455 §5.2 non-minimal 16-bit length",
            Role::Server,
            Config::default(),
            None,
            vec![0x82, 0xFE, 0x00, 0x05, 1, 2, 3, 4, 0, 0, 0, 0, 0],
            1002,
        ),
        (
            "RFC 6455 §5.5 ping of 126 bytes",
            Role::Server,
            Config::default(),
            None,
            client(0x89, &[0; 126]),
            1002,
        ),
        (
            "RFC 6455 §5.5 fragmented ping",
            Role::Server,
            Config::default(),
            None,
            client(0x09, b"x"),
            1002,
        ),
        (
            "RFC 6455 §5.4 continuation without start",
            Role::Server,
            Config::default(),
            None,
            client(0x80, b"x"),
            1002,
        ),
        (
            "RFC 6455 §5.4 text inside fragmented message",
            Role::Server,
            Config::default(),
            None,
            [client(0x01, b"a"), client(0x81, b"b")].concat(),
            1002,
        ),
        (
            "RFC 6455 §8.1 invalid UTF-8 in one frame",
            Role::Server,
            Config::default(),
            None,
            client(
                0x81,
                b"\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xed\xa0\x80edited",
            ),
            1007,
        ),
        (
            "RFC 6455 §8.1 invalid UTF-8 across fragments",
            Role::Server,
            Config::default(),
            None,
            [client(0x01, b"ok\xe2\x82"), client(0x80, b"\x28")].concat(),
            1007,
        ),
        (
            "RFC 6455 §8.1 truncated character at message end",
            Role::Server,
            Config::default(),
            None,
            [client(0x01, b"ok"), client(0x80, b"\xe2\x82")].concat(),
            1007,
        ),
        (
            "RFC 6455 §5.5.1 close payload of 1 byte",
            Role::Server,
            Config::default(),
            None,
            client(0x88, &[3]),
            1002,
        ),
        (
            "RFC 6455 §7.4.1 close code 1005",
            Role::Server,
            Config::default(),
            None,
            client(0x88, &close_payload(1005, b"")),
            1002,
        ),
        (
            "RFC 6455 §7.4.1 close code 999",
            Role::Server,
            Config::default(),
            None,
            client(0x88, &close_payload(999, b"")),
            1002,
        ),
        (
            "RFC 6455 §7.4.2 close code 2000",
            Role::Server,
            Config::default(),
            None,
            client(0x88, &close_payload(2000, b"")),
            1002,
        ),
        (
            "RFC 6455 §5.5.1 close reason invalid UTF-8",
            Role::Server,
            Config::default(),
            None,
            client(0x88, &close_payload(1000, b"\xff\xfe")),
            1007,
        ),
        (
            "RFC 6455 §10.4 frame over max_frame_size",
            Role::Server,
            small(),
            None,
            client(0x82, &[0; 1001]),
            1009,
        ),
        (
            "RFC 6455 §10.4 message over max_message_size",
            Role::Server,
            small(),
            None,
            [
                client(0x02, &[0; 900]),
                client(0x00, &[0; 900]),
                client(0x80, &[0; 900]),
            ]
            .concat(),
            1009,
        ),
        (
            "RFC 6455 §10.4 text over limit fails before UTF-8",
            Role::Server,
            small(),
            None,
            client(0x81, &long_text),
            1009,
        ),
        (
            "RFC 6455 §10.4 decompression bomb",
            Role::Server,
            small(),
            Some(deflate()),
            bomb(),
            1009,
        ),
        (
            "RFC 7692 §6.1 RSV1 on a continuation frame",
            Role::Server,
            Config::default(),
            Some(deflate()),
            [client(0x42, b"\xf2\x48"), client(0xC0, b"\x00")].concat(),
            1002,
        ),
        (
            "RFC 7692 §6.1 RSV1 on a ping",
            Role::Server,
            Config::default(),
            Some(deflate()),
            client(0xC9, b""),
            1002,
        ),
        (
            "RFC 7692 §7.2.2 corrupt deflate data",
            Role::Server,
            Config::default(),
            Some(deflate()),
            client(0xC2, &[0xff, 0xff, 0xff, 0xff]),
            1007,
        ),
        (
            "RFC 7692 §7.2.2 invalid UTF-8 after inflate",
            Role::Server,
            Config::default(),
            Some(deflate()),
            client(
                0xC1,
                &Compressor::new(1, 15, true).compress(b"\xff\xfe").unwrap(),
            ),
            1007,
        ),
    ];
    assert!(cases.len() >= 25);
    for (name, role, config, deflate, input, code) in cases {
        assert_eq!(
            close_code_for(role, config, deflate, &input),
            Some(code),
            "{name}"
        );
    }
}

fn status_for(raw: &str, config: &ServerConfig) -> u16 {
    let head = match parse_request(raw.as_bytes(), &config.limits) {
        Ok(Parsed::Complete(head, _)) => head,
        Ok(Parsed::Partial) => panic!("partial: {raw}"),
        Err(e) => return e.http_status().expect("HTTP errors carry a status"),
    };
    let rejection = accept(&head, config).expect_err(raw);
    let status = rejection.error.http_status().unwrap();
    let line = format!("HTTP/1.1 {status} ");
    assert!(rejection.response.starts_with(line.as_bytes()), "{raw}");
    status
}

#[test]
fn malformed_handshakes_get_their_http_status() {
    const KEY: &str = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
    const BASE: &str =
        "Host: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n";
    let strict_origin = ServerConfig {
        origin_check: Some(std::sync::Arc::new(|o| o == Some("https://good.example"))),
        ..Default::default()
    };
    let tiny = ServerConfig {
        limits: HeadLimits {
            max_head_bytes: 100,
            max_headers: 4,
        },
        ..Default::default()
    };
    let d = ServerConfig::default();
    let cases: Vec<(&str, String, &ServerConfig, u16)> = vec![
        (
            "RFC 6455 §4.2.1 method must be GET",
            format!("POST / HTTP/1.1\r\n{BASE}{KEY}\r\n"),
            &d,
            405,
        ),
        (
            "RFC 6455 §4.2.1 HTTP/1.1 required",
            format!("GET / HTTP/1.0\r\n{BASE}{KEY}\r\n"),
            &d,
            400,
        ),
        (
            "RFC 9112 §2.3 unknown HTTP version",
            format!("GET / HTTP/3.0\r\n{BASE}{KEY}\r\n"),
            &d,
            505,
        ),
        (
            "RFC 6455 §4.2.1 Host required",
            format!(
                "GET / HTTP/1.1\r\n{}{KEY}\r\n",
                BASE.replace("Host: h\r\n", "")
            ),
            &d,
            400,
        ),
        (
            "RFC 6455 §4.2.1 Upgrade: websocket required",
            format!(
                "GET / HTTP/1.1\r\n{}{KEY}\r\n",
                BASE.replace("websocket", "h2c")
            ),
            &d,
            400,
        ),
        (
            "RFC 6455 §4.2.1 Connection: Upgrade required",
            format!(
                "GET / HTTP/1.1\r\n{}{KEY}\r\n",
                BASE.replace("Connection: Upgrade", "Connection: close")
            ),
            &d,
            400,
        ),
        (
            "RFC 6455 §4.2.2 version 8 is a 426",
            format!("GET / HTTP/1.1\r\n{}{KEY}\r\n", BASE.replace(": 13", ": 8")),
            &d,
            426,
        ),
        (
            "RFC 6455 §4.2.1 key of 15 bytes",
            format!("GET / HTTP/1.1\r\n{BASE}Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA\r\n\r\n"),
            &d,
            400,
        ),
        (
            "RFC 6455 §4.2.1 two keys",
            format!("GET / HTTP/1.1\r\n{BASE}{KEY}{KEY}\r\n"),
            &d,
            400,
        ),
        (
            "RFC 6455 §4.2.2 origin refused",
            format!("GET / HTTP/1.1\r\n{BASE}{KEY}Origin: https://evil.example\r\n\r\n"),
            &strict_origin,
            403,
        ),
        (
            "RFC 6585 §5 head too large",
            format!("GET / HTTP/1.1\r\n{BASE}{KEY}\r\n"),
            &tiny,
            431,
        ),
        (
            "RFC 9112 §2.2 bare LF",
            format!("GET / HTTP/1.1\n{BASE}{KEY}\r\n"),
            &d,
            400,
        ),
        (
            "RFC 9112 §5.1 space before colon",
            format!("GET / HTTP/1.1\r\nHost : h\r\n{KEY}\r\n"),
            &d,
            400,
        ),
        (
            "RFC 6455 §9.1 malformed extensions",
            format!("GET / HTTP/1.1\r\n{BASE}{KEY}Sec-WebSocket-Extensions: a b\r\n\r\n"),
            &d,
            400,
        ),
    ];
    for (name, raw, config, status) in cases {
        assert_eq!(status_for(&raw, config), status, "{name}");
    }
}
