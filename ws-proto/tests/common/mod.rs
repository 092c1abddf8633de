//! Helpers shared by the integration tests: raw frame builders.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(dead_code, unreachable_pub)]

use ws_proto::mask::apply_mask;

/// The masking key of every test frame.
pub const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A frame with first byte `b0` (FIN/RSV/opcode), masked with [`KEY`] if `masked`.
pub fn frame(b0: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![b0];
    let mask_bit = if masked { 0x80 } else { 0 };
    match payload.len() {
        n if n < 126 => out.push(mask_bit | n as u8),
        n if n <= 0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    let mut body = payload.to_vec();
    if masked {
        out.extend_from_slice(&KEY);
        apply_mask(&mut body, KEY, 0);
    }
    out.extend_from_slice(&body);
    out
}

/// A masked client frame.
pub fn client(b0: u8, payload: &[u8]) -> Vec<u8> {
    frame(b0, payload, true)
}

/// A Close payload with `code` and `reason` bytes.
pub fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}
