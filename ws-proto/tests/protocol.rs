//! Connection behaviour across frames (RFC 6455 §5–§7).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use bytes::BytesMut;
use common::{client, close_payload, frame};
use ws_proto::frame::OpCode;
use ws_proto::protocol::{Config, Connection, Message, MessageRef, Receiver, Role, Sender, State};
use ws_proto::{CloseCode, CloseFrame};

fn server() -> Connection {
    Connection::new(Role::Server, Config::default(), None)
}

/// RFC 6455 §8.1 (Autobahn 6.4.x): invalid UTF-8 fails the connection as soon as the bad
/// byte arrives, while the rest of the frame is still on its way.
#[test]
fn rfc6455_8_1_fail_fast_inside_a_partial_frame() {
    let mut payload = b"hello ".to_vec();
    payload.push(0xF4);
    payload.push(0x90);
    payload.extend_from_slice(&[b'x'; 200]);
    let wire = client(0x81, &payload);
    let mut conn = server();
    // Header plus "hello " plus the two bad bytes; 200 bytes of the frame still missing.
    let mut buf = BytesMut::from(&wire[..wire.len() - 200]);
    let err = conn.read(&mut buf).unwrap_err();
    assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD));
}

/// RFC 6455 §5.4, §5.5: control frames may be interleaved with fragments; the message is
/// reassembled around them.
#[test]
fn rfc6455_5_4_control_frames_between_fragments() {
    let wire = [
        client(0x01, b"Hel"),
        client(0x89, b"ping"),
        client(0x00, b"lo, "),
        client(0x8A, b"pong"),
        client(0x80, b"world"),
    ]
    .concat();
    let mut conn = server();
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(
        conn.read(&mut buf).unwrap(),
        Some(Message::Ping("ping".into()))
    );
    let pong = conn.poll_transmit().unwrap();
    assert_eq!(
        (pong.header(), &pong.payload()[..]),
        (&[0x8A, 4][..], &b"ping"[..])
    );
    assert_eq!(
        conn.read(&mut buf).unwrap(),
        Some(Message::Pong("pong".into()))
    );
    assert_eq!(
        conn.read(&mut buf).unwrap(),
        Some(Message::text("Hello, world"))
    );
}

/// RFC 6455 §5.5.2: auto-pong can be turned off.
#[test]
fn rfc6455_5_5_2_auto_pong_configurable() {
    let config = Config {
        auto_pong: false,
        ..Config::default()
    };
    let mut conn = Connection::new(Role::Server, config, None);
    let mut buf = BytesMut::from(&client(0x89, b"p")[..]);
    assert_eq!(
        conn.read(&mut buf).unwrap(),
        Some(Message::Ping("p".into()))
    );
    assert!(conn.poll_transmit().is_none());
}

/// Zero-copy: a single-frame message's payload is a slice of the read buffer.
#[test]
fn single_frame_payload_is_a_slice_of_the_read_buffer() {
    let wire = client(0x82, &[7u8; 300]);
    let mut buf = BytesMut::from(&wire[..]);
    let start = buf.as_ptr() as usize;
    let mut conn = server();
    let Some(Message::Binary(payload)) = conn.read(&mut buf).unwrap() else {
        panic!()
    };
    let at = payload.as_ptr() as usize;
    assert!(
        at >= start && at < start + wire.len(),
        "payload points into the read buffer"
    );
    assert_eq!(&payload[..], &[7u8; 300][..]);
}

/// RFC 6455 §7.1.2–§7.1.3: open -> closing (we sent Close) -> closed (theirs arrived);
/// data still arrives while closing; nothing may be sent after our Close.
#[test]
fn rfc6455_7_state_machine_open_closing_closed() {
    let mut conn = server();
    assert_eq!(conn.state(), State::Open);
    let close = conn.close(CloseCode::NORMAL, "bye").unwrap();
    assert_eq!(&close.payload()[..], &close_payload(1000, b"bye")[..]);
    assert_eq!(conn.state(), State::Closing);
    assert!(
        conn.send(&Message::text("late")).is_err(),
        "§5.5.1: no data after Close"
    );
    let mut buf = BytesMut::from(
        &[
            client(0x81, b"in flight"),
            client(0x88, &close_payload(1000, b"")),
        ]
        .concat()[..],
    );
    assert_eq!(
        conn.read(&mut buf).unwrap(),
        Some(Message::text("in flight"))
    );
    let Some(Message::Close(Some(frame))) = conn.read(&mut buf).unwrap() else {
        panic!()
    };
    assert_eq!(frame, CloseFrame::new(CloseCode::NORMAL, ""));
    assert!(
        conn.poll_transmit().is_none(),
        "our Close was already sent: no second one"
    );
    assert_eq!(conn.state(), State::Closed);
    assert_eq!(
        conn.read(&mut BytesMut::from(&client(0x81, b"x")[..]))
            .unwrap(),
        None
    );
}

/// RFC 6455 §5.5.1: the peer's Close is echoed with its code; a Close without payload
/// gets an empty Close.
#[test]
fn rfc6455_5_5_1_close_reply_echoes_code() {
    let mut conn = server();
    let mut buf = BytesMut::from(&client(0x88, &close_payload(4001, b"app"))[..]);
    assert!(matches!(
        conn.read(&mut buf).unwrap(),
        Some(Message::Close(Some(_)))
    ));
    let reply = conn.poll_transmit().unwrap();
    assert_eq!(&reply.payload()[..], &4001u16.to_be_bytes());
    let mut conn = server();
    let mut buf = BytesMut::from(&client(0x88, b"")[..]);
    conn.read(&mut buf).unwrap();
    assert_eq!(conn.poll_transmit().unwrap().payload().len(), 0);
}

/// RFC 6455 §5.3: client frames are masked, server frames are not, and each side reads
/// the other's.
#[test]
fn rfc6455_5_3_masking_per_role() {
    let mut tx = Sender::new(Role::Client, None);
    let out = tx.encode(&Message::binary(vec![1u8; 70000])).unwrap();
    assert_eq!(out.header()[1], 0x80 | 127);
    let mut rx = Receiver::new(Role::Server, Config::default(), None);
    let mut buf = BytesMut::new();
    out.write_to(&mut buf);
    assert_eq!(
        rx.read(&mut buf).unwrap(),
        Some(Message::binary(vec![1u8; 70000]))
    );

    let mut tx = Sender::new(Role::Server, None);
    let out = tx.encode(&Message::text("x")).unwrap();
    assert_eq!(out.header(), &[0x81, 1]);
    let mut rx = Receiver::new(Role::Client, Config::default(), None);
    let mut buf = BytesMut::new();
    out.write_to(&mut buf);
    assert_eq!(rx.read(&mut buf).unwrap(), Some(Message::text("x")));
}

/// `encode_owned` (the payload moves into the frame) writes exactly what `encode` writes,
/// for every kind of message, and keeps the same rules: RFC 6455 §5.5 (control payload
/// ≤ 125 bytes) and §5.5.1 (nothing after Close).
#[test]
fn encode_owned_writes_what_encode_writes() {
    let messages = [
        Message::text("héllo"),
        Message::binary(vec![7u8; 70_000]),
        Message::Ping("p".into()),
        Message::Pong("".into()),
        Message::Close(Some(CloseFrame::new(CloseCode::NORMAL, "bye"))),
    ];
    for role in [Role::Server, Role::Client] {
        let (mut by_ref, mut by_value) = (Sender::new(role, None), Sender::new(role, None));
        for m in &messages {
            let (a, b) = (
                by_ref.encode(m).unwrap(),
                by_value.encode_owned(m.clone()).unwrap(),
            );
            assert_eq!(a.header().len(), b.header().len(), "{m:?}");
            if role == Role::Server {
                assert_eq!(
                    (a.header(), a.payload()),
                    (b.header(), b.payload()),
                    "{m:?}"
                );
            }
            let peer = if role == Role::Server {
                Role::Client
            } else {
                Role::Server
            };
            let mut rx = Receiver::new(peer, Config::default(), None);
            let mut buf = BytesMut::new();
            b.write_to(&mut buf);
            let got = rx.read(&mut buf).unwrap();
            if !matches!(m, Message::Close(_)) {
                assert_eq!(got.as_ref(), Some(m));
            }
        }
        // After the Close, neither sends.
        assert!(by_value.encode_owned(Message::text("late")).is_err());
    }
    let mut tx = Sender::new(Role::Server, None);
    assert!(
        tx.encode_owned(Message::Ping(vec![0u8; 126].into()))
            .is_err()
    );
}

/// RFC 6455 §5.4: a message sent in fragments arrives whole; fragment order is enforced.
#[test]
fn rfc6455_5_4_sending_fragments() {
    let mut tx = Sender::new(Role::Server, None);
    let mut buf = BytesMut::new();
    tx.encode_fragment(OpCode::Text, "ab".into(), false)
        .unwrap()
        .write_to(&mut buf);
    assert!(tx.encode(&Message::text("no")).is_err());
    tx.encode_fragment(OpCode::Continuation, "cd".into(), true)
        .unwrap()
        .write_to(&mut buf);
    assert!(
        tx.encode_fragment(OpCode::Continuation, "x".into(), true)
            .is_err()
    );
    let mut conn = Connection::new(Role::Client, Config::default(), None);
    assert_eq!(conn.read(&mut buf).unwrap(), Some(Message::text("abcd")));
}

/// Unmasked frames from a server are accepted by a client byte by byte (every split).
#[test]
fn every_split_point_gives_the_same_messages() {
    let wire = [
        frame(0x01, "κόσ".as_bytes(), false),
        frame(0x80, "με".as_bytes(), false),
        frame(0x82, &[9; 200], false),
    ]
    .concat();
    for cut in 0..wire.len() {
        let mut conn = Connection::new(Role::Client, Config::default(), None);
        let mut buf = BytesMut::from(&wire[..cut]);
        let mut got = Vec::new();
        while let Some(m) = conn.read(&mut buf).unwrap() {
            got.push(m);
        }
        buf.extend_from_slice(&wire[cut..]);
        while let Some(m) = conn.read(&mut buf).unwrap() {
            got.push(m);
        }
        assert_eq!(
            got,
            vec![Message::text("κόσμε"), Message::binary(vec![9u8; 200])],
            "cut {cut}"
        );
    }
}

/// RFC 6455 §5.5.2, §7.1.7: a Pong owed for a Ping read before a violation is still sent,
/// before the Close that fails the connection (found by the `ws_server_connection` fuzz
/// target, whose first harness expected the Close first).
#[test]
fn rfc6455_7_1_7_pong_then_close_when_failing_after_a_ping() {
    let wire = [client(0x89, b"p"), client(0x83, b"")].concat();
    let mut conn = server();
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(
        conn.read(&mut buf).unwrap(),
        Some(Message::Ping("p".into()))
    );
    assert!(conn.read(&mut buf).is_err());
    assert_eq!(conn.poll_transmit().unwrap().header()[0], 0x8A);
    assert_eq!(conn.poll_transmit().unwrap().header()[0], 0x88);
    assert!(conn.poll_transmit().is_none());
}

/// RFC 6455 §5.2 (payload length): once a frame's header is decoded, `frame_remaining`
/// is exactly what is still missing of its payload, at every split of a 7-bit, 16-bit
/// and 64-bit length frame; nothing is pending before a header or after the message.
#[test]
fn rfc6455_5_2_frame_remaining_counts_the_missing_payload() {
    for len in [100usize, 300, 70_000] {
        let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
        let wire = client(0x82, &payload);
        for cut in [1, wire.len() / 3, wire.len() - 1] {
            let mut conn = server();
            let mut buf = BytesMut::from(&wire[..cut]);
            assert!(conn.read(&mut buf).unwrap().is_none());
            let header_len = wire.len() - len;
            let expected = (cut >= header_len).then_some(wire.len() - cut);
            assert_eq!(conn.frame_remaining(&buf), expected, "len {len} cut {cut}");
            buf.extend_from_slice(&wire[cut..]);
            match conn.read(&mut buf).unwrap() {
                Some(Message::Binary(b)) => assert_eq!(&b[..], &payload[..]),
                other => panic!("{other:?}"),
            }
            assert_eq!(conn.frame_remaining(&buf), None);
        }
    }
}

/// A reader that fills the buffer's spare room (as the server's driver does: 4 KiB when
/// the buffer is empty, else what the receiver reserved) takes a stream of same-size
/// large frames several at a time, and every payload stays where it was read: the
/// messages read together are consecutive slices of one allocation (no partial frame
/// moved to a new one), and the buffer drains at the end of each batch.
#[test]
fn large_frames_are_read_several_at_a_time_without_moving() {
    let len = 65_536;
    let frames = 16;
    let payloads: Vec<Vec<u8>> = (0..frames).map(|i| vec![i as u8; len]).collect();
    let wire: Vec<u8> = payloads.iter().flat_map(|p| client(0x82, p)).collect();
    let frame_len = wire.len() / frames;
    let mut conn = server();
    let mut buf = BytesMut::new();
    let (mut at, mut reads, mut got) = (0, 0, Vec::new());
    while at < wire.len() {
        if buf.capacity() == buf.len() {
            buf.reserve(4096);
        }
        let n = (buf.capacity() - buf.len()).min(wire.len() - at);
        buf.extend_from_slice(&wire[at..at + n]);
        at += n;
        reads += 1;
        let mut batch = Vec::new();
        while let Some(message) = conn.read(&mut buf).unwrap() {
            let Message::Binary(payload) = message else {
                panic!("{message:?}")
            };
            batch.push(payload);
        }
        for pair in batch.windows(2) {
            assert_eq!(
                pair[0].as_ptr() as usize + frame_len,
                pair[1].as_ptr() as usize,
                "messages read together are consecutive in the read buffer"
            );
        }
        got.extend(batch);
        if buf.is_empty() {
            // The driver lets go of a drained buffer.
            buf = BytesMut::new();
        }
    }
    assert_eq!(got.len(), frames);
    for (payload, expected) in got.iter().zip(&payloads) {
        assert_eq!(&payload[..], &expected[..]);
    }
    // 4 KiB with the first header, then the rest of that frame and three more: two reads
    // per four frames (one read per frame, or two, without the room ahead).
    assert_eq!(reads, frames / 2, "reads");
}

/// A header alone makes the receiver reserve at most 256 KiB, however large the frame
/// it announces (and however many of them would fit).
#[test]
fn a_large_frame_header_alone_reserves_a_bounded_step() {
    for len in [300_000u64, 16 << 20] {
        let mut wire = vec![0x82, 0x80 | 127];
        wire.extend_from_slice(&len.to_be_bytes());
        wire.extend_from_slice(&common::KEY);
        let mut conn = server();
        let mut buf = BytesMut::from(&wire[..]);
        assert!(conn.read(&mut buf).unwrap().is_none());
        assert!(
            buf.capacity() <= wire.len() + 256 * 1024,
            "{}",
            buf.capacity()
        );
    }
}

// The borrowed fast path (`Connection::read_borrowed`) takes only whole, valid,
// single-frame uncompressed data messages; everything else is left untouched for
// `Connection::read`, which reports violations exactly as before (invalid UTF-8, found
// only once unmasked, is remembered by the receiver for `read` to report instead).

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

/// A small valid Text message, multi-byte characters included, is borrowed as `&str`.
#[test]
fn rfc6455_5_6_small_valid_text_is_borrowed() {
    let mut wire = client(0x81, "h\u{e9}llo \u{20ac}\u{1F600}".as_bytes());
    let len = wire.len();
    assert_eq!(
        server().read_borrowed(&mut wire, 1024),
        Some((MessageRef::Text("h\u{e9}llo \u{20ac}\u{1F600}"), len))
    );
}

/// A declined invalid Text frame still fails the connection through `read` with 1007,
/// and queues that Close.
#[test]
fn rfc6455_8_1_invalid_text_fails_through_read() {
    for payload in [
        &[b'a', 0xF4, 0x90, 0x80, 0x80][..],
        &[b'a', 0xC3],
        &[0xED, 0xA0, 0x80],
    ] {
        let wire = client(0x81, payload);
        let mut conn = server();
        let mut buf = BytesMut::from(&wire[..]);
        assert_eq!(conn.read_borrowed(&mut buf, 1024), None, "{payload:?}");
        let err = conn.read(&mut buf).unwrap_err();
        assert_eq!(err.close_code(), Some(CloseCode::INVALID_PAYLOAD));
        let close = conn.poll_transmit().unwrap();
        assert_eq!(
            &close.payload()[..2],
            &1007u16.to_be_bytes(),
            "Close 1007 queued"
        );
        assert_eq!(
            conn.read(&mut buf).unwrap(),
            None,
            "nothing read after the failure"
        );
    }
}

/// After declining an invalid Text frame (left unmasked in `buf`), the fast path takes
/// nothing more, even what unmasking that frame a second time would make valid.
#[test]
fn rfc6455_8_1_nothing_is_borrowed_after_invalid_text() {
    // Invalid as sent (a lone continuation byte): the key turns it into "ab" if applied
    // twice.
    let sent = [b'a' ^ common::KEY[0], b'b' ^ common::KEY[1]];
    let wire = client(0x81, &sent);
    let mut conn = server();
    let mut buf = BytesMut::from(&wire[..]);
    assert_eq!(conn.read_borrowed(&mut buf, 1024), None);
    assert_eq!(conn.read_borrowed(&mut buf, 1024), None);
    let mut next = client(0x82, b"ok");
    assert_eq!(conn.read_borrowed(&mut next, 1024), None);
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
