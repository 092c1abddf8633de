//! permessage-deflate round trips (RFC 7692 §7.2) under every parameter combination,
//! with compressed messages fragmented across frames and the wire split anywhere.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use bytes::{Bytes, BytesMut};
use proptest::prelude::*;
use ws_proto::deflate::{Compressor, DeflateConfig, parse_extensions};
use ws_proto::protocol::{Config, Connection, Message, Role};

fn configs() -> impl Strategy<Value = DeflateConfig> {
    (any::<bool>(), any::<bool>(), 9u8..=15, 9u8..=15, 0u32..=9).prop_map(
        |(snct, cnct, sbits, cbits, level)| DeflateConfig {
            server_no_context_takeover: snct,
            client_no_context_takeover: cnct,
            server_max_window_bits: sbits,
            client_max_window_bits: cbits,
            level,
        },
    )
}

fn payloads() -> impl Strategy<Value = Vec<(bool, Vec<u8>)>> {
    let text = "[a-c ]{0,300}|\\PC{0,100}".prop_map(|s: String| (true, s.into_bytes()));
    let binary = prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..300),
        (any::<u8>(), 0usize..5000).prop_map(|(b, n)| vec![b; n]),
    ]
    .prop_map(|v| (false, v));
    proptest::collection::vec(prop_oneof![text, binary], 1..6)
}

/// Reads every message `wire` holds, feeding it in chunks of `chunk` bytes.
fn read_all(conn: &mut Connection, wire: &[u8], chunk: usize) -> Vec<Message> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for piece in wire.chunks(chunk.max(1)) {
        buf.extend_from_slice(piece);
        while let Some(m) = conn.read(&mut buf).expect("valid input") {
            out.push(m);
        }
    }
    assert!(buf.is_empty());
    out
}

fn expected(messages: &[(bool, Vec<u8>)]) -> Vec<Message> {
    messages
        .iter()
        .map(|(text, data)| {
            if *text {
                Message::text(String::from_utf8(data.clone()).unwrap())
            } else {
                Message::Binary(Bytes::from(data.clone()))
            }
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// RFC 7692 §7.1 and §7.2: negotiate with a client configuration, then send messages
    /// both ways; client messages are split into `fragments` frames after compression
    /// (RSV1 on the first only, §6.1); the receiver gets the original messages back.
    #[test]
    fn rfc7692_7_2_round_trip_every_parameter_combination(
        client_cfg in configs(),
        server_cfg in configs(),
        messages in payloads(),
        fragments in 1usize..5,
        chunk in 1usize..700,
    ) {
        let offers = parse_extensions([client_cfg.offer().as_str()]).unwrap();
        let (server_params, header) = server_cfg.accept(&offers).expect("every valid offer is acceptable");
        let client_params = client_cfg
            .check_response(&parse_extensions([header.as_str()]).unwrap())
            .unwrap()
            .unwrap();
        prop_assert_eq!(server_params.server_max_window_bits, client_params.server_max_window_bits);
        prop_assert_eq!(server_params.client_no_context_takeover, client_params.client_no_context_takeover);

        // Client -> server, compressed by hand and fragmented.
        let mut compressor = Compressor::new(
            client_params.level,
            client_params.client_max_window_bits,
            client_params.client_no_context_takeover,
        );
        let mut wire = Vec::new();
        for (text, data) in &messages {
            let compressed = compressor.compress(data).unwrap();
            let size = compressed.len().div_ceil(fragments).max(1);
            let pieces: Vec<&[u8]> = if compressed.is_empty() { vec![&[]] } else { compressed.chunks(size).collect() };
            for (i, piece) in pieces.iter().enumerate() {
                let opcode = if i > 0 { 0x0 } else if *text { 0x1 } else { 0x2 };
                let rsv1 = if i == 0 { 0x40 } else { 0 };
                let fin = if i + 1 == pieces.len() { 0x80 } else { 0 };
                wire.extend(common::client(fin | rsv1 | opcode, piece));
            }
        }
        let mut server = Connection::new(Role::Server, Config::default(), Some(server_params));
        prop_assert_eq!(read_all(&mut server, &wire, chunk), expected(&messages));

        // Server -> client through the Sender.
        let mut wire = BytesMut::new();
        for message in expected(&messages) {
            server.send(&message).unwrap().write_to(&mut wire);
        }
        let mut client = Connection::new(Role::Client, Config::default(), Some(client_params));
        prop_assert_eq!(read_all(&mut client, &wire, chunk), expected(&messages));
    }
}
