//! Streaming decoder: feeding the same bytes in arbitrary chunks gives the same
//! packets (and the same error, if any) as feeding them at once.
#![no_main]

use arbitrary::Arbitrary;
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use mqtt_proto::{DecodeError, Decoder, Packet, ProtocolVersion};

#[derive(Debug, Arbitrary)]
struct Input {
    version: u8,
    chunks: Vec<u8>,
    max: u16,
    stream: Vec<u8>,
}

/// Decodes `stream` fed in `chunks` (sizes, cycled); stops at the first error.
fn run(decoder: &Decoder, stream: &[u8], chunks: &[u8]) -> (Vec<Packet>, Option<DecodeError>) {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut rest = stream;
    let mut sizes = chunks.iter().cycle();
    loop {
        let n = if chunks.is_empty() {
            rest.len()
        } else {
            usize::from(*sizes.next().unwrap_or(&1)).max(1).min(rest.len())
        };
        let (now, later) = rest.split_at(n);
        buf.extend_from_slice(now);
        rest = later;
        loop {
            match decoder.decode(&mut buf) {
                Ok(Some(p)) => out.push(p),
                Ok(None) => break,
                Err(e) => return (out, Some(e)),
            }
        }
        if rest.is_empty() {
            return (out, None);
        }
    }
}

fuzz_target!(|input: Input| {
    let version = match input.version % 3 {
        0 => ProtocolVersion::V3_1,
        1 => ProtocolVersion::V3_1_1,
        _ => ProtocolVersion::V5,
    };
    let decoder = Decoder::new(version).with_max_packet_size(u32::from(input.max).max(2));
    let whole = run(&decoder, &input.stream, &[]);
    let split = run(&decoder, &input.stream, &input.chunks);
    assert_eq!(whole, split);
});
