//! Property tests of the codec: round trip of every packet type of every version,
//! no panic on arbitrary bytes, and the same packets whatever the chunking.
// Test code: a panic is a failed test (clippy.toml allows this inside #[test] fns only).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic,
    unreachable_pub
)]

mod common;

use bytes::BytesMut;
use common::*;
use mqtt_proto::*;
use proptest::prelude::*;

fn encode(v: ProtocolVersion, p: &Packet) -> BytesMut {
    let mut buf = BytesMut::new();
    let n = p.encode(v, &mut buf).expect("encodes");
    assert_eq!(n, buf.len());
    assert_eq!(p.encoded_len(v).unwrap(), n, "encoded_len is exact");
    buf
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, ..ProptestConfig::default() })]

    /// encode -> decode gives the packet back, for every packet type of 3.1,
    /// 3.1.1 and 5.0 with arbitrary fields and properties.
    #[test]
    fn round_trip_every_packet((v, packet) in versioned_packet()) {
        let mut wire = encode(v, &packet);
        let decoded = if let Packet::Connect(_) = packet {
            ConnectDecoder::new().decode(&mut wire).unwrap().map(|c| Packet::Connect(Box::new(c)))
        } else {
            Decoder::new(v).decode(&mut wire).unwrap()
        };
        prop_assert_eq!(decoded, Some(packet));
        prop_assert!(wire.is_empty());
    }

    /// The fan-out encoding (header, then the payload by reference) gives the same
    /// bytes as the whole-packet encoding.
    #[test]
    fn publish_header_plus_payload_equals_encode(v in version(), p in version().prop_flat_map(publish)) {
        let v = if p.properties != PublishProperties::default() || p.topic.is_empty() { ProtocolVersion::V5 } else { v };
        let whole = encode(v, &Packet::Publish(p.clone()));
        let mut header = BytesMut::new();
        let total = p.encode_header(v, &mut header).unwrap();
        header.extend_from_slice(&p.payload);
        prop_assert_eq!(total, whole.len());
        prop_assert_eq!(header, whole);
    }

    /// Decoding arbitrary bytes never panics (errors are fine), in every version.
    #[test]
    fn decode_never_panics(v in version(), bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let mut buf = BytesMut::from(&bytes[..]);
        let decoder = Decoder::new(v).with_max_packet_size(1024);
        while let Ok(Some(_)) = decoder.decode(&mut buf) {}
        let mut buf = BytesMut::from(&bytes[..]);
        let _ = ConnectDecoder::new().decode(&mut buf);
    }

    /// Mutating one byte of a valid packet never panics the decoder.
    #[test]
    fn decode_mutated_never_panics((v, packet) in versioned_packet(), at in any::<usize>(), byte in any::<u8>()) {
        let mut wire = encode(v, &packet);
        let i = at % wire.len();
        wire[i] = byte;
        let _ = Decoder::new(v).decode(&mut wire);
    }

    /// Streaming: the same packets come out whatever the split of the stream into
    /// chunks.
    #[test]
    fn streaming_any_split_gives_same_packets(
        (v, list) in version().prop_flat_map(|v| proptest::collection::vec(packet(v), 1..8).prop_map(move |l| (v, l))),
        cuts in proptest::collection::vec(any::<usize>(), 0..16),
    ) {
        let mut stream = Vec::new();
        for p in &list {
            stream.extend_from_slice(&encode(v, p));
        }
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        points.push(stream.len());
        points.sort_unstable();
        let decoder = Decoder::new(v);
        let mut buf = BytesMut::new();
        let mut out = Vec::new();
        let mut start = 0;
        for end in points {
            buf.extend_from_slice(&stream[start..end]);
            start = end;
            while let Some(p) = decoder.decode(&mut buf).unwrap() {
                out.push(p);
            }
        }
        prop_assert!(buf.is_empty());
        prop_assert_eq!(out, list);
    }
}
