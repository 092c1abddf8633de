//! Variable Byte Integer (MQTT 5.0 §1.5.5, MQTT 3.1.1 §2.2.3).

/// The largest value a Variable Byte Integer can carry (four bytes).
pub const MAX: u32 = 268_435_455;

/// Why a Variable Byte Integer could not be decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VarIntError {
    /// More than four bytes, or a value that does not use the minimum number of
    /// bytes (MQTT-1.5.5-1).
    Malformed,
}

/// Decodes a Variable Byte Integer from the start of `buf`.
///
/// Returns `Ok(None)` when more bytes are needed, otherwise the value and the
/// number of bytes it took.
///
/// ```
/// assert_eq!(mqtt_proto::varint::decode(&[0x80, 0x01]), Ok(Some((128, 2))));
/// ```
pub fn decode(buf: &[u8]) -> Result<Option<(u32, usize)>, VarIntError> {
    let mut value: u32 = 0;
    for (i, &byte) in buf.iter().enumerate().take(4) {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            // A continuation byte followed by a zero byte encodes the same value
            // in more bytes than necessary (MQTT-1.5.5-1).
            if i > 0 && byte == 0 {
                return Err(VarIntError::Malformed);
            }
            return Ok(Some((value, i + 1)));
        }
    }
    if buf.len() >= 4 {
        Err(VarIntError::Malformed)
    } else {
        Ok(None)
    }
}

/// Appends the minimal encoding of `value` to `out`; returns `false` (and writes
/// nothing) if `value` exceeds [`MAX`].
pub fn encode(value: u32, out: &mut Vec<u8>) -> bool {
    if value > MAX {
        return false;
    }
    let mut v = value;
    loop {
        let mut byte = (v & 0x7f) as u8;
        v >>= 7;
        if v > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if v == 0 {
            return true;
        }
    }
}

/// The number of bytes the minimal encoding of `value` takes (1 to 4); values
/// above [`MAX`] report 4 but cannot be encoded.
pub const fn encoded_len(value: u32) -> usize {
    if value < 128 {
        1
    } else if value < 16_384 {
        2
    } else if value < 2_097_152 {
        3
    } else {
        4
    }
}

/// Appends the minimal encoding of `value` (at most [`MAX`], checked by the
/// caller) to `out`.
pub fn put(value: u32, out: &mut impl bytes::BufMut) {
    let mut v = value & MAX;
    loop {
        let mut byte = (v & 0x7f) as u8;
        v >>= 7;
        if v > 0 {
            byte |= 0x80;
        }
        out.put_u8(byte);
        if v == 0 {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The boundary table of MQTT 5.0 §1.5.5 (Table 1-1).
    #[test]
    fn table_1_1_boundaries() {
        let cases: &[(u32, &[u8])] = &[
            (0, &[0x00]),
            (127, &[0x7f]),
            (128, &[0x80, 0x01]),
            (16_383, &[0xff, 0x7f]),
            (16_384, &[0x80, 0x80, 0x01]),
            (2_097_151, &[0xff, 0xff, 0x7f]),
            (2_097_152, &[0x80, 0x80, 0x80, 0x01]),
            (MAX, &[0xff, 0xff, 0xff, 0x7f]),
        ];
        for &(value, bytes) in cases {
            let mut out = Vec::new();
            assert!(encode(value, &mut out));
            assert_eq!(out, bytes, "encode {value}");
            assert_eq!(encoded_len(value), bytes.len());
            let mut put_out = Vec::new();
            put(value, &mut put_out);
            assert_eq!(put_out, bytes);
            assert_eq!(
                decode(bytes),
                Ok(Some((value, bytes.len()))),
                "decode {value}"
            );
        }
    }

    /// MQTT-1.5.5-1: a non-minimal encoding is malformed; five bytes are malformed.
    #[test]
    fn mqtt_1_5_5_1_varint_non_minimal_is_malformed() {
        assert_eq!(decode(&[0x80, 0x00]), Err(VarIntError::Malformed));
        assert_eq!(
            decode(&[0xff, 0xff, 0xff, 0xff, 0x01]),
            Err(VarIntError::Malformed)
        );
        assert_eq!(decode(&[0x80, 0x80]), Ok(None));
        assert!(!encode(MAX + 1, &mut Vec::new()));
    }

    proptest! {
        #[test]
        fn round_trip(value in 0..=MAX) {
            let mut out = Vec::new();
            prop_assert!(encode(value, &mut out));
            prop_assert_eq!(decode(&out), Ok(Some((value, out.len()))));
        }

        #[test]
        fn never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..8)) {
            let _ = decode(&bytes);
        }
    }
}
