//! The compressor and decompressor of one permessage-deflate connection (RFC 7692 §7.2).

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use crate::error::{Error, ErrorKind};

/// The empty stored block that a sync flush ends with, removed from every compressed
/// message and appended again before inflating (RFC 7692 §7.2.1, §7.2.2).
pub const TAIL: [u8; 4] = [0x00, 0x00, 0xFF, 0xFF];

/// zlib's raw deflate supports 9..=15 window bits; 8 is negotiated by the RFC but a
/// window of 9 bits is a superset for inflating and is what we allocate.
fn inflate_bits(bits: u8) -> u8 {
    bits.clamp(9, 15)
}

/// Compresses outgoing messages (RFC 7692 §7.2.1).
///
/// The zlib state is allocated on the first message. Without context takeover it is
/// freed after every message (freeing and re-creating costs about what zlib's reset
/// costs, which clears the same tables), so an idle connection holds none.
#[derive(Debug)]
pub struct Compressor {
    inner: Option<Compress>,
    level: u32,
    window_bits: u8,
    no_context_takeover: bool,
}

impl Compressor {
    /// A compressor at `level` (0–9) with a `window_bits` (9–15) LZ77 window; with
    /// `no_context_takeover` the window is reset after every message.
    pub fn new(level: u32, window_bits: u8, no_context_takeover: bool) -> Self {
        Self {
            inner: None,
            level: level.min(9),
            window_bits: window_bits.clamp(9, 15),
            no_context_takeover,
        }
    }

    /// Compresses one whole message: deflate with a sync flush, without the trailing
    /// `00 00 FF FF` (RFC 7692 §7.2.1).
    pub fn compress(&mut self, input: &[u8]) -> Result<Bytes, Error> {
        let (level, bits) = (self.level, self.window_bits);
        let inner = self.inner.get_or_insert_with(|| {
            Compress::new_with_window_bits(Compression::new(level), false, bits)
        });
        let mut out: Vec<u8> = Vec::with_capacity(input.len() / 2 + 64);
        let mut rest = input;
        loop {
            if out.len() == out.capacity() {
                out.reserve(rest.len() / 2 + 64);
            }
            let before = inner.total_in();
            inner
                .compress_vec(rest, &mut out, FlushCompress::Sync)
                .map_err(|e| {
                    Error::new(
                        ErrorKind::Internal,
                        "RFC 7692 §7.2.1",
                        format!("deflate failed: {e}"),
                    )
                })?;
            let consumed = usize::try_from(inner.total_in() - before).unwrap_or(usize::MAX);
            rest = rest.get(consumed..).unwrap_or_default();
            if rest.is_empty() && out.len() < out.capacity() {
                break;
            }
        }
        if out.ends_with(&TAIL) {
            out.truncate(out.len() - TAIL.len());
        } else if out.is_empty() {
            // Nothing was pending (an empty message after a flush): send the empty block
            // 0x00, which inflates to nothing once the tail is appended (RFC 7692 §7.2.3.6).
            out.push(0x00);
        }
        if self.no_context_takeover {
            self.inner = None;
        }
        Ok(Bytes::from(out))
    }
}

/// Inflates incoming messages with a size limit (RFC 7692 §7.2.2).
///
/// Allocated on the first compressed message; freed after each message without context
/// takeover.
#[derive(Debug)]
pub struct Decompressor {
    inner: Option<Decompress>,
    window_bits: u8,
    no_context_takeover: bool,
}

impl Decompressor {
    /// A decompressor for a peer that uses at most `window_bits` (8–15); with
    /// `no_context_takeover` the window is reset after every message.
    pub fn new(window_bits: u8, no_context_takeover: bool) -> Self {
        Self {
            inner: None,
            window_bits: inflate_bits(window_bits),
            no_context_takeover,
        }
    }

    /// Inflates one frame's compressed payload, appending to `out`. `out` never grows
    /// past `limit` bytes: more output is a 1009 (RFC 6455 §10.4, a decompression bomb)
    /// without allocating more. Corrupt data is a 1007.
    pub fn decompress(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<(), Error> {
        let bits = self.window_bits;
        let inner = self
            .inner
            .get_or_insert_with(|| Decompress::new_with_window_bits(false, bits));
        let mut rest = input;
        loop {
            if out.len() == out.capacity() {
                // One byte past the limit is enough to detect an overflow.
                let room = (limit + 1).saturating_sub(out.len());
                let want = (rest.len() * 4).max(4096).max(out.len()).min(room);
                if want == 0 {
                    return Err(too_big());
                }
                out.reserve_exact(want);
            }
            let (before_in, before_out) = (inner.total_in(), inner.total_out());
            let status = inner
                .decompress_vec(rest, out, FlushDecompress::Sync)
                .map_err(|e| {
                    Error::invalid_payload("RFC 7692 §7.2.2", format!("invalid deflate data: {e}"))
                })?;
            if out.len() > limit {
                return Err(too_big());
            }
            let consumed = usize::try_from(inner.total_in() - before_in).unwrap_or(usize::MAX);
            let produced = inner.total_out() - before_out;
            rest = rest.get(consumed..).unwrap_or_default();
            if status == Status::StreamEnd {
                // A final block (BFINAL) ends the deflate stream: the next data starts a new one.
                inner.reset(false);
            }
            let has_room = out.len() < out.capacity();
            if rest.is_empty() && has_room {
                return Ok(());
            }
            if consumed == 0 && produced == 0 && has_room && status != Status::StreamEnd {
                return Err(Error::invalid_payload(
                    "RFC 7692 §7.2.2",
                    "deflate data makes no progress",
                ));
            }
        }
    }

    /// Ends a message: inflates the `00 00 FF FF` tail removed by the sender and resets
    /// the window if context takeover is off.
    pub fn finish_message(&mut self, out: &mut Vec<u8>, limit: usize) -> Result<(), Error> {
        self.decompress(&TAIL, out, limit)?;
        if self.no_context_takeover {
            self.inner = None;
        }
        Ok(())
    }
}

fn too_big() -> Error {
    Error::too_big(
        "RFC 6455 §10.4",
        "decompressed message larger than the limit",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inflate(d: &mut Decompressor, data: &[u8], limit: usize) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        d.decompress(data, &mut out, limit)?;
        d.finish_message(&mut out, limit)?;
        Ok(out)
    }

    /// RFC 7692 §7.2.3.2: "Hello" compressed with context takeover shrinks the second time.
    #[test]
    fn rfc7692_7_2_3_2_context_takeover() {
        let mut c = Compressor::new(6, 15, false);
        let first = c.compress(b"Hello").unwrap();
        assert_eq!(&first[..], &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00]);
        let second = c.compress(b"Hello").unwrap();
        assert!(second.len() < first.len());
        let mut d = Decompressor::new(15, false);
        assert_eq!(inflate(&mut d, &first, 100).unwrap(), b"Hello");
        assert_eq!(inflate(&mut d, &second, 100).unwrap(), b"Hello");
    }

    /// RFC 7692 §7.2.3.1: the example's compressed "Hello" inflates without context.
    #[test]
    fn rfc7692_7_2_3_1_example() {
        let mut d = Decompressor::new(15, true);
        assert_eq!(
            inflate(&mut d, &[0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00], 5).unwrap(),
            b"Hello"
        );
    }

    /// RFC 6455 §10.4: a bomb (1 MiB of zeros in about 1 KiB) fails with 1009 and never
    /// grows the output past the limit.
    #[test]
    fn rfc6455_10_4_bomb_is_1009_without_allocation() {
        let mut c = Compressor::new(9, 15, true);
        let bomb = c.compress(&vec![0u8; 1 << 20]).unwrap();
        assert!(bomb.len() < 2048);
        let mut d = Decompressor::new(15, true);
        let mut out = Vec::new();
        let err = d
            .decompress(&bomb, &mut out, 1000)
            .and_then(|()| d.finish_message(&mut out, 1000))
            .unwrap_err();
        assert_eq!(err.close_code().unwrap().as_u16(), 1009);
        assert!(out.capacity() <= 1001, "capacity {}", out.capacity());
    }

    /// RFC 7692 §7.2.2: garbage is a 1007.
    #[test]
    fn rfc7692_7_2_2_corrupt_data_is_1007() {
        let mut d = Decompressor::new(15, false);
        let err = inflate(&mut d, &[0xff, 0xff, 0xff, 0xff], 100).unwrap_err();
        assert_eq!(err.close_code().unwrap().as_u16(), 1007);
    }
}
