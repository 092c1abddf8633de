//! Differential: a server connection that takes small whole data messages with
//! `read_borrowed` (falling back to `read` for everything else, as realtime-server's
//! `/echo` does) must see exactly the messages, errors and close codes of one that only
//! uses `read`, whatever the bytes and however they are split (RFC 6455 §5, §8.1: the
//! fast path may decline anything, but must never accept what `read` rejects).
#![no_main]

use bytes::{Buf, BytesMut};
use libfuzzer_sys::fuzz_target;
use ws_proto::{Connection, Message, Role};

include!("ws_connection_common.rs");

/// What a reader saw: messages (borrowed ones as their owned copies), then the error's
/// close code if the connection failed.
#[derive(Debug, PartialEq)]
enum Seen {
    Msg(Message),
    Failed(Option<ws_proto::CloseCode>),
}

fn run(data: &[u8], sizes: &[u8], borrowed_max: Option<usize>) -> Vec<Seen> {
    let mut conn = Connection::new(Role::Server, small_config(), None);
    let mut buf = BytesMut::new();
    let mut seen = Vec::new();
    for chunk in chunks(data, sizes) {
        buf.extend_from_slice(chunk);
        loop {
            if let Some(max) = borrowed_max
                && let Some((message, used)) = conn.read_borrowed(&mut buf, max)
            {
                assert!(message.as_bytes().len() <= max);
                seen.push(Seen::Msg(message.to_message()));
                buf.advance(used);
                continue;
            }
            match conn.read(&mut buf) {
                Ok(Some(m)) => seen.push(Seen::Msg(m)),
                Ok(None) => break,
                Err(e) => {
                    seen.push(Seen::Failed(e.close_code()));
                    return seen;
                }
            }
        }
        while conn.poll_transmit().is_some() {}
    }
    seen
}

fuzz_target!(|data: &[u8]| {
    let (head, data) = data.split_at(data.len().min(5));
    let (limit, sizes) = head.split_first().map_or((0, &[][..]), |(l, s)| (*l, s));
    let max = usize::from(limit) * 8;
    assert_eq!(run(data, sizes, Some(max)), run(data, sizes, None));
});
