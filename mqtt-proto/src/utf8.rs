//! UTF-8 Encoded Strings (MQTT 5.0 §1.5.4, MQTT 3.1.1 §1.5.3) held without copying.
#![allow(unsafe_code)]

use core::{borrow::Borrow, fmt, hash, ops::Deref};

use bytes::{Buf, Bytes, BytesMut};

/// Why bytes are not an MQTT UTF-8 Encoded String.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf8Error {
    /// Ill-formed UTF-8, including encoded surrogates U+D800..U+DFFF and overlong
    /// forms (MQTT-1.5.4-1, MQTT-1.5.3-1).
    IllFormed,
    /// The null character U+0000 (MQTT-1.5.4-2, MQTT-1.5.3-2).
    Null,
}

/// What a scan of a Topic Name found.
enum Scan {
    Ascii,
    NonAscii,
    Null,
    Wildcard,
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// Whether a byte of `w` is zero (the classic SWAR test; exact when none is).
#[inline]
fn has_zero(w: u64) -> bool {
    w.wrapping_sub(LO) & !w & HI != 0
}

/// Scans a Topic Name eight bytes at a time for U+0000, `+`, `#` and non-ASCII.
#[inline]
fn scan_topic_name(bytes: &[u8]) -> Scan {
    scan::<true>(bytes)
}

/// Scans eight bytes at a time for U+0000, non-ASCII and (if `WILDCARDS`) `+`/`#`.
#[inline]
fn scan<const WILDCARDS: bool>(bytes: &[u8]) -> Scan {
    let mut ascii = true;
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        let mut word = [0u8; 8];
        word.copy_from_slice(chunk);
        let w = u64::from_le_bytes(word);
        ascii &= w & HI == 0;
        if has_zero(w)
            || (WILDCARDS
                && (has_zero(w ^ (LO * u64::from(b'+'))) || has_zero(w ^ (LO * u64::from(b'#')))))
        {
            // Rare: find out which, byte by byte.
            return scan_bytes::<WILDCARDS>(bytes);
        }
    }
    match scan_bytes::<WILDCARDS>(chunks.remainder()) {
        Scan::Ascii if !ascii => Scan::NonAscii,
        other => other,
    }
}

#[inline]
fn scan_bytes<const WILDCARDS: bool>(bytes: &[u8]) -> Scan {
    let mut ascii = true;
    for &b in bytes {
        match b {
            0 => return Scan::Null,
            b'+' | b'#' if WILDCARDS => return Scan::Wildcard,
            _ => ascii &= b < 0x80,
        }
    }
    if ascii { Scan::Ascii } else { Scan::NonAscii }
}

/// Whether `bytes` contain U+0000, `+` or `#` (eight bytes at a time).
#[inline]
pub(crate) fn has_null_or_wildcard(bytes: &[u8]) -> bool {
    matches!(scan_topic_name(bytes), Scan::Null | Scan::Wildcard)
}

/// Why bytes are not a PUBLISH Topic Name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TopicNameError {
    /// Not an MQTT UTF-8 Encoded String.
    Utf8(Utf8Error),
    /// Contains `+` or `#`.
    Wildcard,
}

/// Checks that `bytes` are an MQTT UTF-8 Encoded String: well-formed UTF-8
/// (no surrogates, MQTT-1.5.4-1) without U+0000 (MQTT-1.5.4-2). A byte order mark
/// U+FEFF is kept as any other character (MQTT-1.5.4-3).
#[inline]
pub fn validate_mqtt_str(bytes: &[u8]) -> Result<&str, Utf8Error> {
    // One pass for the common all-ASCII case; `from_utf8` only when needed.
    match scan::<false>(bytes) {
        Scan::Ascii => {
            // SAFETY: every byte is below 0x80, so the slice is ASCII, hence UTF-8.
            Ok(unsafe { core::str::from_utf8_unchecked(bytes) })
        }
        Scan::Null => Err(Utf8Error::Null),
        Scan::NonAscii | Scan::Wildcard => {
            core::str::from_utf8(bytes).map_err(|_| Utf8Error::IllFormed)
        }
    }
}

/// Validated UTF-8 held in [`Bytes`]: a topic, client id or property string that
/// shares the read buffer instead of being copied out of it.
///
/// Cloning is a reference-count increment. It dereferences to `str`, hashes and
/// compares like `str`, and borrows as `str` so maps keyed by it can be queried
/// with a `&str`.
///
/// ```
/// use mqtt_proto::Utf8Bytes;
/// let topic = Utf8Bytes::from_static("sensors/1/temp");
/// assert_eq!(topic.as_str(), "sensors/1/temp");
/// assert_eq!(&*topic, "sensors/1/temp");
/// ```
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Wraps a static string (no allocation).
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// Wraps `bytes` if they are well-formed UTF-8 (U+0000 allowed: this is the
    /// Rust notion of a string; use [`Utf8Bytes::from_mqtt`] for the MQTT one).
    pub fn from_utf8(bytes: Bytes) -> Result<Self, Utf8Error> {
        match core::str::from_utf8(&bytes) {
            Ok(_) => Ok(Self(bytes)),
            Err(_) => Err(Utf8Error::IllFormed),
        }
    }

    /// Wraps `bytes` if they are an MQTT UTF-8 Encoded String (see
    /// [`validate_mqtt_str`]).
    #[inline]
    pub fn from_mqtt(bytes: Bytes) -> Result<Self, Utf8Error> {
        validate_mqtt_str(&bytes)?;
        Ok(Self(bytes))
    }

    /// Wraps `bytes` if they are an MQTT UTF-8 Encoded String without the
    /// wildcard characters `+` and `#`: the checks of a PUBLISH Topic Name, in one
    /// pass. Emptiness is left to the caller (a Topic Alias may stand in for it).
    #[inline]
    pub(crate) fn from_topic_name(bytes: Bytes) -> Result<Self, TopicNameError> {
        match scan_topic_name(&bytes) {
            Scan::Ascii => {}
            Scan::NonAscii => {
                if core::str::from_utf8(&bytes).is_err() {
                    return Err(TopicNameError::Utf8(Utf8Error::IllFormed));
                }
            }
            Scan::Null => return Err(TopicNameError::Utf8(Utf8Error::Null)),
            Scan::Wildcard => return Err(TopicNameError::Wildcard),
        }
        Ok(Self(bytes))
    }

    /// Checks the `len` bytes after the first `skip` bytes of `buf` like
    /// [`Utf8Bytes::from_topic_name`] and, if they pass, splits `skip + len` bytes
    /// off `buf` without copying and keeps the last `len`. On error `buf` is left
    /// as it was.
    #[inline]
    pub(crate) fn split_topic_name(
        buf: &mut BytesMut,
        skip: usize,
        len: usize,
    ) -> Result<Self, TopicNameError> {
        let Some(bytes) = buf.get(skip..skip + len) else {
            return Err(TopicNameError::Utf8(Utf8Error::IllFormed));
        };
        match scan_topic_name(bytes) {
            Scan::Ascii => {}
            Scan::NonAscii => {
                if core::str::from_utf8(bytes).is_err() {
                    return Err(TopicNameError::Utf8(Utf8Error::IllFormed));
                }
            }
            Scan::Null => return Err(TopicNameError::Utf8(Utf8Error::Null)),
            Scan::Wildcard => return Err(TopicNameError::Wildcard),
        }
        let mut topic = buf.split_to(skip + len).freeze();
        topic.advance(skip);
        Ok(Self(topic))
    }

    /// Wraps `bytes`, which hold the same bytes as `s` (a slice of `bytes`'
    /// buffer already known to be UTF-8); anything else gives an empty string.
    #[inline]
    pub(crate) fn from_str_slice(bytes: Bytes, s: &str) -> Self {
        if *bytes == *s.as_bytes() {
            Self(bytes)
        } else {
            Self::default()
        }
    }

    /// The string.
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor checks that the bytes are UTF-8 (`from_utf8`,
        // `from_mqtt`, `from_topic_name` and `split_topic_name`: all-ASCII or
        // `from_utf8` passed on exactly the bytes kept) or takes them from a `str`
        // (`from_str_slice`: bytes equal to those of a `str`);
        // `Bytes` are immutable afterwards.
        unsafe { core::str::from_utf8_unchecked(&self.0) }
    }

    /// The underlying bytes (a cheap clone of the shared buffer).
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// Gives back the underlying bytes.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// `true` for the empty string.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Deref for Utf8Bytes {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

impl Borrow<str> for Utf8Bytes {
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

impl hash::Hash for Utf8Bytes {
    fn hash<H: hash::Hasher>(&self, state: &mut H) {
        // Same as `str`, so that `Borrow<str>` lookups work.
        self.as_str().hash(state);
    }
}

impl PartialEq<str> for Utf8Bytes {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl From<&'static str> for Utf8Bytes {
    fn from(s: &'static str) -> Self {
        Self::from_static(s)
    }
}

impl From<String> for Utf8Bytes {
    fn from(s: String) -> Self {
        Self(Bytes::from(s))
    }
}

impl From<Utf8Bytes> for Bytes {
    fn from(s: Utf8Bytes) -> Bytes {
        s.0
    }
}

impl fmt::Debug for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Utf8Bytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// MQTT-1.5.4-1 / MQTT-1.5.3-1: ill-formed UTF-8 and encoded surrogates are rejected.
    #[test]
    fn mqtt_1_5_4_1_ill_formed_and_surrogates_rejected() {
        assert_eq!(validate_mqtt_str(&[0xC0, 0x80]), Err(Utf8Error::IllFormed));
        assert_eq!(
            validate_mqtt_str(&[0xED, 0xA0, 0x80]),
            Err(Utf8Error::IllFormed)
        );
        assert_eq!(validate_mqtt_str(&[0xFF]), Err(Utf8Error::IllFormed));
        assert_eq!(validate_mqtt_str("é€😀".as_bytes()), Ok("é€😀"));
    }

    /// MQTT-1.5.4-2 / MQTT-1.5.3-2: U+0000 is rejected.
    #[test]
    fn mqtt_1_5_4_2_null_rejected() {
        assert_eq!(validate_mqtt_str(b"a\0b"), Err(Utf8Error::Null));
        assert_eq!(validate_mqtt_str("é\0".as_bytes()), Err(Utf8Error::Null));
    }

    /// MQTT-1.5.4-3 / MQTT-1.5.3-3: a BOM is kept, not stripped.
    #[test]
    fn mqtt_1_5_4_3_bom_is_kept() {
        let s = Utf8Bytes::from_mqtt(Bytes::from_static(b"\xEF\xBB\xBFa")).unwrap();
        assert_eq!(s.as_str(), "\u{FEFF}a");
        assert_eq!(s.len(), 4);
    }
}
