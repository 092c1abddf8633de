// Shared driver of the connection targets (included with `include!`).

/// `data` in the chunks a socket might deliver it in, their sizes taken in turn from
/// `sizes` (7 to 1,785 bytes).
fn chunks<'a>(data: &'a [u8], sizes: &'a [u8]) -> impl Iterator<Item = &'a [u8]> + 'a {
    let mut rest = data;
    let mut i = 0;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let n = usize::from(sizes.get(i % sizes.len().max(1)).copied().unwrap_or(255)).max(1) * 7;
        i += 1;
        let (chunk, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        Some(chunk)
    })
}

/// Feeds `data` to `conn` in chunks whose sizes come from `sizes`, as a socket would;
/// checks that an error queues a Close with the error's code and that nothing is read
/// after the connection is closed.
#[allow(dead_code)] // not every target drives one connection alone
fn drive(mut conn: ws_proto::Connection, sizes: &[u8], data: &[u8]) {
    let mut buf = bytes::BytesMut::new();
    for chunk in chunks(data, sizes) {
        buf.extend_from_slice(chunk);
        loop {
            match conn.read(&mut buf) {
                Ok(Some(_)) => {}
                Ok(None) => break,
                Err(e) => {
                    if e.close_code().is_some() {
                        // Pongs queued before the failure come first; the Close is last.
                        let mut last = None;
                        while let Some(frame) = conn.poll_transmit() {
                            last = Some(frame);
                        }
                        let close = last.expect("a Close is queued on failure");
                        assert_eq!(close.header().first().map(|b| b & 0x0F), Some(0x8));
                    }
                    assert_eq!(conn.state(), ws_proto::protocol::State::Closed);
                    assert!(matches!(conn.read(&mut buf), Ok(None)));
                    return;
                }
            }
        }
        while conn.poll_transmit().is_some() {}
    }
}

fn small_config() -> ws_proto::Config {
    ws_proto::Config {
        max_frame_size: 1 << 16,
        max_message_size: 1 << 17,
        auto_pong: true,
    }
}

#[allow(dead_code)] // not every target negotiates permessage-deflate
fn params(byte: u8) -> ws_proto::deflate::DeflateParams {
    ws_proto::deflate::DeflateParams {
        server_no_context_takeover: byte & 1 != 0,
        client_no_context_takeover: byte & 2 != 0,
        server_max_window_bits: 9 + (byte >> 2) % 7,
        client_max_window_bits: 9 + (byte >> 5) % 7,
        level: 1,
    }
}
