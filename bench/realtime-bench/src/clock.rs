//! Send timestamps carried in payloads.
//!
//! A payload starts with 16 lowercase hex digits: the nanoseconds since this process's
//! clock base (a monotonic [`Instant`]) when the message was encoded. The rest is padding
//! (`x`), so every payload is ASCII and travels unchanged through MQTT, WebSocket binary
//! frames and the `/ws` JSON protocol (where it is a JSON string).

use std::sync::OnceLock;
use std::time::Instant;

/// Bytes taken by the timestamp at the start of a payload (the smallest payload).
pub const STAMP_LEN: usize = 16;

static BASE: OnceLock<Instant> = OnceLock::new();

/// Nanoseconds since the process's clock base.
pub fn now_ns() -> u64 {
    let base = BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_nanos()).unwrap_or(u64::MAX)
}

/// Writes `ns` as 16 hex digits into `out`.
pub fn write_stamp(ns: u64, out: &mut [u8; STAMP_LEN]) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for (i, byte) in out.iter_mut().enumerate() {
        let shift = 60 - 4 * i as u32;
        let nibble = ((ns >> shift) & 0xf) as usize;
        *byte = HEX.get(nibble).copied().unwrap_or(b'0');
    }
}

/// A payload of `size` bytes (at least [`STAMP_LEN`]) stamped with the time now.
pub fn stamped_payload(size: usize, out: &mut Vec<u8>) {
    let mut stamp = [0u8; STAMP_LEN];
    write_stamp(now_ns(), &mut stamp);
    out.extend_from_slice(&stamp);
    out.resize(out.len() + size.saturating_sub(STAMP_LEN), b'x');
}

/// The timestamp at the start of `payload`, if it has one.
pub fn read_stamp(payload: &[u8]) -> Option<u64> {
    let digits = payload.get(..STAMP_LEN)?;
    let mut ns = 0u64;
    for &d in digits {
        let v = match d {
            b'0'..=b'9' => d - b'0',
            b'a'..=b'f' => d - b'a' + 10,
            _ => return None,
        };
        ns = (ns << 4) | u64::from(v);
    }
    Some(ns)
}

/// Nanoseconds from the timestamp at the start of `payload` until now.
pub fn age_ns(payload: &[u8]) -> Option<u64> {
    read_stamp(payload).map(|sent| now_ns().saturating_sub(sent))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamp_round_trips_and_pads_to_size() {
        let mut p = Vec::new();
        stamped_payload(64, &mut p);
        assert_eq!(p.len(), 64);
        assert!(p.is_ascii());
        let mut s = [0u8; STAMP_LEN];
        write_stamp(0x0123_4567_89ab_cdef, &mut s);
        assert_eq!(&s, b"0123456789abcdef");
        assert_eq!(read_stamp(&s), Some(0x0123_4567_89ab_cdef));
        assert_eq!(read_stamp(b"short"), None);
        assert_eq!(read_stamp(b"zzzzzzzzzzzzzzzz"), None);
    }
}
