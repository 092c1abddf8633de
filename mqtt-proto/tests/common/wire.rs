//! Hand-assembled packets for the conformance tests: bytes built field by field
//! from the standards' figures, so that each test shows the wire form it checks.
// Test code: a panic is a failed test (clippy.toml allows this inside #[test] fns only).
#![allow(dead_code, clippy::unwrap_used, clippy::panic, unreachable_pub)]

use bytes::BytesMut;
use mqtt_proto::*;

pub const MALFORMED: ReasonCode = ReasonCode::MalformedPacket;
pub const PROTOCOL: ReasonCode = ReasonCode::ProtocolError;

/// A length-prefixed string or binary field.
pub fn s(x: &[u8]) -> Vec<u8> {
    let mut v = (x.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(x);
    v
}

/// A Variable Byte Integer.
pub fn vbi(n: u32) -> Vec<u8> {
    let mut v = Vec::new();
    assert!(varint::encode(n, &mut v));
    v
}

/// A packet: first byte, Remaining Length, body.
pub fn frame(byte1: u8, body: &[u8]) -> Vec<u8> {
    let mut v = vec![byte1];
    v.extend(vbi(body.len() as u32));
    v.extend_from_slice(body);
    v
}

pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A property block: Property Length then the given property bytes.
pub fn props(p: &[u8]) -> Vec<u8> {
    cat(&[&vbi(p.len() as u32), p])
}

/// A 3.1.1 CONNECT with `flags` and the payload fields after the client id.
pub fn connect_v311(flags: u8, client_id: &[u8], rest: &[u8]) -> Vec<u8> {
    frame(
        0x10,
        &cat(&[&s(b"MQTT"), &[4, flags, 0, 60], &s(client_id), rest]),
    )
}

/// A 5.0 CONNECT with `flags`, CONNECT properties and the fields after the client id.
pub fn connect_v5(flags: u8, properties: &[u8], client_id: &[u8], rest: &[u8]) -> Vec<u8> {
    frame(
        0x10,
        &cat(&[
            &s(b"MQTT"),
            &[5, flags, 0, 60],
            &props(properties),
            &s(client_id),
            rest,
        ]),
    )
}

/// Decodes one whole packet.
pub fn ok(v: ProtocolVersion, bytes: &[u8]) -> Packet {
    match decode_packet(v, bytes) {
        Ok(p) => p,
        Err(e) => panic!("expected a packet from {bytes:02X?}, got {e}"),
    }
}

/// Decodes one packet that must be refused.
pub fn err(v: ProtocolVersion, bytes: &[u8]) -> DecodeError {
    match decode_packet(v, bytes) {
        Ok(p) => panic!("expected an error from {bytes:02X?}, got {p:?}"),
        Err(e) => e,
    }
}

/// Asserts that `bytes` are refused citing `rule` with `reason`.
pub fn refused(v: ProtocolVersion, bytes: &[u8], rule: &str, reason: ReasonCode) {
    let e = err(v, bytes);
    assert_eq!((e.rule(), e.reason_code()), (rule, reason), "{e}");
}

/// Encodes a packet.
pub fn enc(v: ProtocolVersion, p: &Packet) -> Vec<u8> {
    let mut b = BytesMut::new();
    p.encode(v, &mut b).unwrap();
    b.to_vec()
}

/// The encoder's error for a packet.
pub fn enc_err(v: ProtocolVersion, p: &Packet) -> EncodeError {
    p.encode(v, &mut BytesMut::new()).unwrap_err()
}

pub fn id(n: u16) -> PacketId {
    PacketId::new(n).unwrap()
}
