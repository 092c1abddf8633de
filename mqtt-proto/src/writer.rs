//! Writing the primitive data types (MQTT 5.0 §1.5) straight into the spare
//! capacity of a `BytesMut`, reserved once from the exact size computed
//! beforehand: no per-field capacity checks, no intermediate buffer.
#![allow(unsafe_code)]

use core::mem::MaybeUninit;

use bytes::BytesMut;

/// The largest string or binary field (a Two Byte Integer length).
pub(crate) const MAX_FIELD: usize = u16::MAX as usize;

/// The encoded size of a length-prefixed string or binary field, or `None` if it
/// exceeds 65,535 bytes.
#[inline]
pub(crate) fn field_len(bytes: &[u8]) -> Option<usize> {
    if bytes.len() > MAX_FIELD {
        None
    } else {
        Some(2 + bytes.len())
    }
}

/// Where a refused cursor points: address 1 (`NonNull::dangling`, bytes are
/// 1-aligned), which cannot be one past the end of reserved bytes (that would put
/// them at address 0).
const REFUSED: *mut MaybeUninit<u8> = core::ptr::NonNull::dangling().as_ptr();

/// A cursor over reserved, not yet initialised bytes. Every method writes all
/// the bytes it takes off the front of `rest`; a write that would not fit is
/// dropped and refuses every later one (and then [`write_exact`] reports a size
/// mismatch instead of panicking).
///
/// The cursor is the slice still to write: one length comparison per write,
/// against a pointer and a length that stay in registers. A refused write
/// leaves an empty slice at [`REFUSED`], never the end of the reserved bytes,
/// which is how [`write_exact`] tells it from a complete write: the cursor is
/// two words, passed and returned in registers, without a flag.
pub(crate) struct Out<'a> {
    /// The bytes not written yet.
    rest: &'a mut [MaybeUninit<u8>],
}

impl Out<'_> {
    /// Writes `src` at the cursor.
    #[inline]
    pub(crate) fn extend_from_slice(&mut self, src: &[u8]) {
        let rest = core::mem::take(&mut self.rest);
        match rest.split_at_mut_checked(src.len()) {
            Some((dst, rest)) => {
                copy::<true>(src, dst);
                self.rest = rest;
            }
            None => self.refuse(),
        }
    }

    /// Writes `head` (a few bytes: a property identifier, a length) then `src`,
    /// with one bounds check for both.
    #[inline(always)]
    pub(crate) fn put_with_head<const H: usize>(&mut self, head: [u8; H], src: &[u8]) {
        let rest = core::mem::take(&mut self.rest);
        // `H + src.len()` cannot overflow: a slice is at most `isize::MAX` long.
        let Some((dst, rest)) = rest.split_at_mut_checked(H + src.len()) else {
            return self.refuse();
        };
        let Some((dst_head, dst)) = dst.split_first_chunk_mut::<H>() else {
            return self.refuse();
        };
        *dst_head = head.map(MaybeUninit::new);
        copy::<false>(src, dst);
        self.rest = rest;
    }

    /// Runs `write` on the cursor moved out of `self` and back: a writer that
    /// stays out of line takes and returns the cursor in two registers instead
    /// of loading it through a pointer and storing it back.
    #[inline(always)]
    pub(crate) fn by_value(&mut self, write: impl for<'b> FnOnce(Out<'b>) -> Out<'b>) {
        let rest = core::mem::take(&mut self.rest);
        self.rest = write(Out { rest }).rest;
    }

    /// Refuses this write and every later one: the cursor is past a gap. It
    /// becomes an empty slice at [`REFUSED`], which no later write moves and
    /// which is never the end of reserved bytes.
    #[cold]
    fn refuse(&mut self) {
        // SAFETY: a dangling, non-null, aligned pointer is valid for a slice of
        // length 0 (`core::slice::from_raw_parts_mut`'s contract).
        self.rest = unsafe { core::slice::from_raw_parts_mut(REFUSED, 0) };
    }

    /// A few bytes known at compile time in number, stored straight from
    /// registers (going through memory and [`copy_small`]'s overlapping loads
    /// stalls on store forwarding: 1 KiB PUBLISH-with-properties encode,
    /// 27 -> 2x ns of header).
    #[inline(always)]
    pub(crate) fn put_array<const N: usize>(&mut self, v: [u8; N]) {
        let rest = core::mem::take(&mut self.rest);
        match rest.split_first_chunk_mut::<N>() {
            Some((dst, rest)) => {
                *dst = v.map(MaybeUninit::new);
                self.rest = rest;
            }
            None => self.refuse(),
        }
    }

    /// One byte.
    #[inline]
    pub(crate) fn put_u8(&mut self, v: u8) {
        self.put_array([v]);
    }

    /// A Two Byte Integer.
    #[inline]
    pub(crate) fn put_u16(&mut self, v: u16) {
        self.put_array(v.to_be_bytes());
    }

    /// A Variable Byte Integer (at most [`crate::varint::MAX`], checked by the
    /// caller; higher bits are ignored), each length written from registers.
    #[inline(always)]
    pub(crate) fn put_varint(&mut self, v: u32) {
        // Remaining Lengths below 16 KiB take one or two bytes.
        let b = |shift: u32| (v >> shift) as u8 & 0x7f;
        if v < 0x80 {
            self.put_array([v as u8]);
        } else if v < 0x4000 {
            self.put_array([b(0) | 0x80, b(7)]);
        } else if v < 0x20_0000 {
            self.put_array([b(0) | 0x80, b(7) | 0x80, b(14)]);
        } else {
            self.put_array([b(0) | 0x80, b(7) | 0x80, b(14) | 0x80, b(21)]);
        }
    }
}

/// Copies `src` into `dst`, which has the same length (checked by the callers).
/// `LARGE_FIRST` (payloads): above 256 bytes straight to `memcpy`, without the
/// small and medium size checks and the call to `copy_medium` on the way; the
/// strings of a header are not worth that extra comparison.
#[inline(always)]
fn copy<const LARGE_FIRST: bool>(src: &[u8], dst: &mut [MaybeUninit<u8>]) {
    let large = LARGE_FIRST && src.len() > 256;
    if (large || !copy_small(src, dst) && !copy_medium(src, dst)) && dst.len() == src.len() {
        // SAFETY: `dst` is exactly `src.len()` elements long (checked just
        // above), `MaybeUninit<u8>` has the layout of `u8`, and a `&mut` slice
        // cannot overlap the shared `src`.
        unsafe {
            core::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<u8>(), src.len());
        }
    }
}

/// Copies `src` into `dst` if they have the same length and it is at most 64
/// bytes (topics, small payloads, property strings: most of what an encoder
/// writes), with two possibly overlapping fixed-size moves instead of a call to
/// `memcpy`, whose call and size dispatch cost as much as the copy itself at
/// these sizes. Returns `false`, having written nothing, otherwise.
#[inline(always)]
fn copy_small(src: &[u8], dst: &mut [MaybeUninit<u8>]) -> bool {
    let n = src.len();
    if dst.len() != n {
        return false;
    }
    // Thresholds rather than ranges (one compare each), the short strings of
    // property sections first.
    if n <= 16 {
        if n >= 8 {
            ends::<u64>(src, dst);
        } else if n >= 4 {
            ends::<u32>(src, dst);
        } else {
            copy_tiny(src, dst);
        }
    } else if n <= 32 {
        ends::<u128>(src, dst);
    } else if n <= 64 {
        ends32(src, dst);
    } else {
        return false;
    }
    true
}

/// Copies 0 to 3 bytes (same lengths, checked by the caller) without a loop:
/// two possibly overlapping 2-byte moves from 2 bytes on, one byte below.
#[inline(always)]
fn copy_tiny(src: &[u8], dst: &mut [MaybeUninit<u8>]) {
    if src.len() >= 2 {
        ends::<u16>(src, dst);
    } else if let (Some(&b), Some(d), 1) = (src.first(), dst.first_mut(), src.len()) {
        *d = MaybeUninit::new(b);
    }
}

/// Copies `src` into `dst` if they have the same length, 65 to 256 bytes (a
/// received property section copied as it is), in 32-byte blocks and a last,
/// overlapping one: out of line, but cheaper than `memcpy`'s size dispatch.
/// Returns `false`, having written nothing, otherwise.
#[inline(never)]
fn copy_medium(src: &[u8], dst: &mut [MaybeUninit<u8>]) -> bool {
    let n = src.len();
    if !(65..=256).contains(&n) || dst.len() != n {
        return false;
    }
    for (s, d) in src.chunks_exact(32).zip(dst.chunks_exact_mut(32)) {
        ends32(s, d);
    }
    if let (Some(s), Some(d)) = (src.get(n - 32..), dst.get_mut(n - 32..)) {
        ends32(s, d);
    }
    true
}

/// Integers read and written whole by [`ends`]: any bit pattern is valid, and
/// LLVM keeps them in registers (a `[u8; N]` read went through a stack slot).
trait Word: Copy {}
impl Word for u16 {}
impl Word for u32 {}
impl Word for u64 {}
impl Word for u128 {}

/// Reads a `T` at byte `at` of `src`, which holds at least `at + size_of::<T>()`
/// bytes (checked by the callers).
#[inline(always)]
fn load<T: Word>(src: &[u8], at: usize) -> Option<T> {
    let window = src.get(at..at + core::mem::size_of::<T>())?;
    // SAFETY: `window` holds `size_of::<T>()` bytes; `read_unaligned` needs no
    // alignment, and any bit pattern is a valid `T` (an integer, `Word`).
    Some(unsafe { window.as_ptr().cast::<T>().read_unaligned() })
}

/// Writes `v` at byte `at` of `dst`, which holds at least `at + size_of::<T>()`
/// bytes (checked by the callers).
#[inline(always)]
fn store<T: Word>(dst: &mut [MaybeUninit<u8>], at: usize, v: T) {
    if let Some(window) = dst.get_mut(at..at + core::mem::size_of::<T>()) {
        // SAFETY: `window` holds `size_of::<T>()` bytes; `write_unaligned`
        // needs no alignment, and `MaybeUninit<u8>` has the layout of `u8`.
        unsafe { window.as_mut_ptr().cast::<T>().write_unaligned(v) };
    }
}

/// Copies the first and the last `size_of::<T>()` bytes of `src` to the same
/// places in `dst`, which covers all of it when `T`'s size
/// `<= src.len() == dst.len() <=` twice that (checked). Both reads come before
/// the writes; overlapping windows write the same bytes twice.
#[inline(always)]
fn ends<T: Word>(src: &[u8], dst: &mut [MaybeUninit<u8>]) {
    let (n, w) = (src.len(), core::mem::size_of::<T>());
    if n < w || n > 2 * w || dst.len() != n {
        return;
    }
    let tail = n - w;
    if let (Some(head_word), Some(tail_word)) = (load::<T>(src, 0), load::<T>(src, tail)) {
        store(dst, 0, head_word);
        store(dst, tail, tail_word);
    }
}

/// [`ends`] for 32 to 64 bytes, as four 16-byte words.
#[inline(always)]
fn ends32(src: &[u8], dst: &mut [MaybeUninit<u8>]) {
    let n = src.len();
    if !(32..=64).contains(&n) || dst.len() != n {
        return;
    }
    let tail = n - 32;
    if let (Some(a), Some(b), Some(c), Some(d)) = (
        load::<u128>(src, 0),
        load::<u128>(src, 16),
        load::<u128>(src, tail),
        load::<u128>(src, tail + 16),
    ) {
        store(dst, 0, a);
        store(dst, 16, b);
        store(dst, tail, c);
        store(dst, tail + 16, d);
    }
}

/// Writes a length-prefixed string or binary field (length checked by
/// [`field_len`] beforehand).
#[inline]
pub(crate) fn put_field(out: &mut Out<'_>, bytes: &[u8]) {
    out.put_with_head((bytes.len() as u16).to_be_bytes(), bytes);
}

/// Writes a property identifier and a length-prefixed string or binary field
/// (length checked by [`field_len`] beforehand).
#[inline]
pub(crate) fn put_id_field(out: &mut Out<'_>, id: u8, bytes: &[u8]) {
    let [hi, lo] = (bytes.len() as u16).to_be_bytes();
    out.put_with_head([id, hi, lo], bytes);
}

/// Reserves `len` bytes at the end of `buf` and lets `write` fill them. Returns
/// `false`, leaving `buf` as it was, if `write` did not write exactly `len`
/// bytes (a size computation bug; never a panic).
#[inline(always)]
pub(crate) fn write_exact(
    buf: &mut BytesMut,
    len: usize,
    write: impl FnOnce(&mut Out<'_>),
) -> bool {
    buf.reserve(len);
    let Some(spare) = buf.spare_capacity_mut().get_mut(..len) else {
        return false;
    };
    let end = spare.as_mut_ptr_range().end;
    let mut out = Out { rest: spare };
    write(&mut out);
    // A refused write left the cursor at `REFUSED`, which is not `end` unless
    // `len` is 0 (`end` is then the buffer's dangling pointer): nothing to claim.
    if !out.rest.is_empty() || out.rest.as_mut_ptr() != end {
        return false;
    }
    // SAFETY: `out` started over the first `len` bytes of the spare capacity;
    // every write initialised all the bytes it took off the front of `out.rest`,
    // a write that did not fit moved the cursor to `REFUSED` for good, and the
    // cursor ended empty at the end of those `len` bytes: either `len` is 0, or
    // `end` is not `REFUSED` (address 1 ends no non-empty range) and every
    // write fitted. So `len` initialised bytes follow the current end.
    unsafe { buf.set_len(buf.len() + len) };
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_exactly_or_leaves_the_buffer_alone() {
        let mut buf = BytesMut::from(&b"ab"[..]);
        assert!(write_exact(&mut buf, 7, |o| {
            o.put_u8(1);
            o.put_u16(0x0203);
            o.put_array([4, 5, 6, 7]);
        }));
        assert_eq!(&buf[..], b"ab\x01\x02\x03\x04\x05\x06\x07");
        assert!(!write_exact(&mut buf, 2, |o| o.put_array([0, 0, 0, 1])));
        assert!(!write_exact(&mut buf, 5, |o| o.put_array([0, 0, 0, 1])));
        assert_eq!(buf.len(), 9);
        // A write that does not fit refuses every later one, even writes that
        // would fill the rest exactly.
        assert!(!write_exact(&mut buf, 4, |o| {
            o.put_with_head([1, 2], b"abc");
            o.put_u16(7);
            o.put_u16(8);
        }));
        assert_eq!(buf.len(), 9);
        // A write past the end of exactly filled bytes is refused too (the
        // cursor moves off the end, to `REFUSED`).
        assert!(!write_exact(&mut buf, 2, |o| {
            o.put_u16(7);
            o.put_u8(8);
        }));
        assert!(!write_exact(&mut buf, 2, |o| {
            o.put_u16(7);
            o.extend_from_slice(b"x");
            o.extend_from_slice(b"");
        }));
        assert_eq!(buf.len(), 9);
    }

    /// The inline small copies (up to 64 bytes, overlapping halves) and the
    /// `memcpy` above them write exactly the source, at every length and offset.
    #[test]
    fn copies_every_length_exactly() {
        let src: Vec<u8> = (0..=255u8).cycle().take(400).collect();
        for len in 0..=300 {
            for offset in [0, 1, 7] {
                let mut buf = BytesMut::from(&b"hdr"[..]);
                let data = &src[offset..offset + len];
                assert!(write_exact(&mut buf, len + 1, |o| {
                    o.extend_from_slice(data);
                    o.put_u8(0xEE);
                }));
                assert_eq!(&buf[..3], b"hdr");
                assert_eq!(&buf[3..3 + len], data, "len {len} offset {offset}");
                assert_eq!(buf[3 + len], 0xEE);
                // The same through the length-prefixed writer (no large-first
                // dispatch).
                let mut buf = BytesMut::new();
                assert!(write_exact(&mut buf, len + 3, |o| {
                    put_field(o, data);
                    o.put_u8(0xEE);
                }));
                assert_eq!(&buf[..2], &(len as u16).to_be_bytes());
                assert_eq!(&buf[2..2 + len], data, "field len {len} offset {offset}");
                assert_eq!(buf[2 + len], 0xEE);
            }
        }
    }

    #[test]
    fn varint_matches_the_reference_encoder() {
        for v in [
            0,
            127,
            128,
            16_383,
            16_384,
            2_097_151,
            2_097_152,
            crate::varint::MAX,
        ] {
            let mut buf = BytesMut::new();
            let n = crate::varint::encoded_len(v);
            assert!(write_exact(&mut buf, n, |o| o.put_varint(v)));
            let mut expected = Vec::new();
            assert!(crate::varint::encode(v, &mut expected));
            assert_eq!(&buf[..], &expected[..]);
        }
    }
}
