//! Writing the primitive data types (MQTT 5.0 §1.5) into a `BytesMut` whose
//! capacity was reserved from the exact size computed beforehand.

use bytes::{BufMut, BytesMut};

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

/// Writes a length-prefixed string or binary field (length checked by
/// [`field_len`] beforehand).
#[inline]
pub(crate) fn put_field(buf: &mut BytesMut, bytes: &[u8]) {
    buf.put_u16(bytes.len() as u16);
    buf.extend_from_slice(bytes);
}
