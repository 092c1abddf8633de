//! The borrowed fast path (`Connection::read_borrowed`) takes only whole, valid,
//! single-frame uncompressed data messages; everything else is left untouched for
//! `Connection::read`, which reports violations exactly as before (RFC 6455 §5, §8.1).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use bytes::BytesMut;
use common::{client, frame};
use ws_proto::CloseCode;
use ws_proto::frame::OpCode;
use ws_proto::protocol::{Config, Connection, Message, MessageRef, Role, Sender};

fn server() -> Connection {
    Connection::new(Role::Server, Config::default(), None)
}

/// Several small messages in one buffer are taken one after the other.
#[test]
fn rfc6455_5_6_small_messages_are_borrowed_in_order() {
    let mut wire = client(0x81, b"hello");
    wire.extend_from_slice(&client(0x82, &[0, 1, 2, 0xFF]));
    wire.extend_from_slice(&client(0x81, b""));
    let mut conn = server();
    let mut used = 0;
    let mut got = Vec::new();
    while let Some((message, len)) = conn.read_borrowed(&mut wire[used..], 1024) {
        got.push(message.to_message());
        used += len;
    }
    assert_eq!(used, wire.len());
    assert_eq!(
        got,
        vec![
            Message::text("hello"),
            Message::binary(vec![0, 1, 2, 0xFF]),
            Message::text("")
        ]
    );
}

/// What the fast path declines, with `buf` left exactly as it was.
#[test]
fn rfc6455_declined_frames_are_left_untouched() {
    let cases: Vec<Vec<u8>> = vec![
        client(0x89, b"ping"),                  // control frame
        client(0x01, b"frag"),                  // not fin (§5.4)
        client(0xC1, b"rsv1"),                  // RSV1 without deflate (§5.2)
        client(0xA2, b"rsv2"),                  // RSV2 (§5.2)
        frame(0x82, b"unmasked", false),        // client frame not masked (§5.1)
        client(0x81, &[b'a', 0xC3]),            // invalid UTF-8 (§8.1)
        client(0x82, &[7; 2000]),               // over max_len
        client(0x82, b"partial")[..5].to_vec(), // incomplete
        client(0x80, b"cont"),                  // continuation without a message
        vec![0x83, 0x80, 0, 0, 0, 0],           // reserved opcode
    ];
    for wire in cases {
        let mut buf = wire.clone();
        assert_eq!(server().read_borrowed(&mut buf, 1024), None, "{wire:?}");
        assert_eq!(buf, wire);
    }
}

/// A declined invalid Text frame still fails the connection through `read` with 1007.
#[test]
fn rfc6455_8_1_invalid_text_fails_through_read() {
    let wire = client(0x81, &[b'a', 0xF4, 0x90, 0x80, 0x80]);
    let mut conn = server();
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(conn.read_borrowed(&mut buf, 1024), None);
    let err = conn.read(&mut buf).unwrap_err();
    assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD));
}

/// Inside a fragmented message nothing is borrowed (§5.4: a new data frame there is an
/// error `read` must report).
#[test]
fn rfc6455_5_4_nothing_is_borrowed_inside_a_fragmented_message() {
    let mut conn = server();
    let mut buf = BytesMut::from(&client(0x01, b"first")[..]);
    assert_eq!(conn.read(&mut buf).unwrap(), None);
    let mut wire = client(0x81, b"new");
    assert_eq!(conn.read_borrowed(&mut wire, 1024), None);
    let mut buf = BytesMut::from(&wire[..]);
    let err = conn.read(&mut buf).unwrap_err();
    assert_eq!(err.close_code(), Some(CloseCode::PROTOCOL_ERROR));
}

/// A message over the configured limits is left to `read`, which answers 1009.
#[test]
fn rfc6455_10_4_limits_apply_to_the_fast_path() {
    let config = Config {
        max_message_size: 8,
        ..Config::default()
    };
    let mut conn = Connection::new(Role::Server, config, None);
    let mut wire = client(0x82, &[1; 9]);
    assert_eq!(conn.read_borrowed(&mut wire, 1024), None);
    let mut buf = BytesMut::from(&client(0x82, &[1; 9])[..]);
    let err = conn.read(&mut buf).unwrap_err();
    assert_eq!(err.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
}

/// A client's borrowed view of a server frame, and the borrowed types' accessors.
#[test]
fn rfc6455_5_1_client_borrows_unmasked_frames() {
    let mut conn = Connection::new(Role::Client, Config::default(), None);
    let mut wire = frame(0x82, b"abc", false);
    let (message, len) = conn.read_borrowed(&mut wire, 1024).unwrap();
    assert_eq!((message, len), (MessageRef::Binary(b"abc"), 5));
    assert_eq!(
        (message.opcode(), message.as_bytes()),
        (OpCode::Binary, &b"abc"[..])
    );
    let mut masked = client(0x82, b"abc");
    assert_eq!(conn.read_borrowed(&mut masked, 1024), None);
}

/// `data_header`: a plain header for a server without compression; `None` where the
/// frame needs masking; errors after Close or for control opcodes.
#[test]
fn rfc6455_5_2_data_header() {
    let mut tx = Sender::new(Role::Server, None);
    let header = tx.data_header(OpCode::Text, 300).unwrap().unwrap();
    assert_eq!(header.as_slice(), &[0x81, 126, 1, 44]);
    assert!(tx.data_header(OpCode::Ping, 0).is_err());
    let client = Sender::new(Role::Client, None);
    assert_eq!(client.data_header(OpCode::Binary, 1).unwrap(), None);
    tx.encode(&Message::Close(None)).unwrap();
    assert!(tx.data_header(OpCode::Binary, 1).is_err());
}
