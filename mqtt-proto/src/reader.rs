//! Reading the primitive data types (MQTT 5.0 §1.5) out of a received packet,
//! zero-copy: strings and binary data are slices of the packet's [`Bytes`].

use bytes::Bytes;

use crate::error::{DecodeError, Rule};
use crate::utf8::{Utf8Bytes, Utf8Error, validate_mqtt_str};
use crate::{ProtocolVersion, varint};

/// A field runs past the end of the packet, or bytes are left over after the last
/// field: the Remaining Length does not describe the packet.
pub(crate) const REMAINING_LENGTH: Rule = Rule::new("MQTT-5.0 §2.1.4", "MQTT-3.1.1 §2.2.3");
/// Ill-formed UTF-8 or an encoded surrogate.
pub(crate) const UTF8_WELL_FORMED: Rule = Rule::new("MQTT-1.5.4-1", "MQTT-1.5.3-1");
/// U+0000 in a string.
pub(crate) const UTF8_NO_NULL: Rule = Rule::new("MQTT-1.5.4-2", "MQTT-1.5.3-2");
/// A Variable Byte Integer longer than needed or than four bytes.
pub(crate) const VARINT_MINIMAL: Rule = Rule::new("MQTT-1.5.5-1", "MQTT-3.1.1 §2.2.3");
/// Both strings of a UTF-8 String Pair are UTF-8 Encoded Strings.
pub(crate) const STRING_PAIR: Rule = Rule::v5("MQTT-1.5.7-1");

/// A cursor over the body of one received packet (after the fixed header).
pub(crate) struct Reader<'a> {
    frame: &'a Bytes,
    pos: usize,
    end: usize,
    version: ProtocolVersion,
}

impl<'a> Reader<'a> {
    /// A reader over all of `frame`.
    #[inline]
    pub(crate) fn new(frame: &'a Bytes, version: ProtocolVersion) -> Self {
        Self {
            frame,
            pos: 0,
            end: frame.len(),
            version,
        }
    }

    /// The protocol version being decoded.
    #[inline]
    pub(crate) fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// Switches the version (after CONNECT's protocol level was read).
    #[inline]
    pub(crate) fn set_version(&mut self, version: ProtocolVersion) {
        self.version = version;
    }

    /// Bytes left before the end of the packet (or of the current section).
    #[inline]
    pub(crate) fn remaining(&self) -> usize {
        self.end - self.pos
    }

    /// The current position within the frame.
    #[inline]
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    /// A reader over the next `len` bytes; this reader skips them.
    #[inline]
    pub(crate) fn section(&mut self, len: usize) -> Result<Reader<'a>, DecodeError> {
        if len > self.remaining() {
            return Err(self.truncated());
        }
        let sub = Reader {
            frame: self.frame,
            pos: self.pos,
            end: self.pos + len,
            version: self.version,
        };
        self.pos += len;
        Ok(sub)
    }

    /// An error for a field that runs past the end.
    #[inline]
    pub(crate) fn truncated(&self) -> DecodeError {
        DecodeError::malformed(REMAINING_LENGTH, self.version, "packet ends inside a field")
    }

    /// A Malformed Packet error citing `rule` in the version being decoded.
    #[inline]
    pub(crate) fn malformed(&self, rule: Rule, message: &'static str) -> DecodeError {
        DecodeError::malformed(rule, self.version, message)
    }

    /// A Protocol Error citing `rule` in the version being decoded.
    #[inline]
    pub(crate) fn protocol(&self, rule: Rule, message: &'static str) -> DecodeError {
        DecodeError::protocol(rule, self.version, message)
    }

    /// Fails unless every byte was consumed.
    #[inline]
    pub(crate) fn finish(&self) -> Result<(), DecodeError> {
        if self.pos == self.end {
            Ok(())
        } else {
            Err(self.malformed(REMAINING_LENGTH, "bytes left after the last field"))
        }
    }

    #[inline]
    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let frame: &'a Bytes = self.frame;
        let start = self.pos;
        match start.checked_add(n) {
            Some(stop) if stop <= self.end => match frame.get(start..stop) {
                Some(slice) => {
                    self.pos = stop;
                    Ok(slice)
                }
                None => Err(self.truncated()),
            },
            _ => Err(self.truncated()),
        }
    }

    /// Consumes the next byte if it is 0 (an empty Property Length, the common case).
    #[inline]
    pub(crate) fn take_zero_byte(&mut self) -> bool {
        if self.pos < self.end && self.frame.get(self.pos) == Some(&0) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// One byte.
    #[inline]
    pub(crate) fn u8(&mut self) -> Result<u8, DecodeError> {
        match self.take(1)? {
            [b] => Ok(*b),
            _ => Err(self.truncated()),
        }
    }

    /// A Two Byte Integer, big-endian (MQTT 5.0 §1.5.2).
    #[inline]
    pub(crate) fn u16(&mut self) -> Result<u16, DecodeError> {
        match self.take(2)? {
            [a, b] => Ok(u16::from_be_bytes([*a, *b])),
            _ => Err(self.truncated()),
        }
    }

    /// A Four Byte Integer, big-endian (MQTT 5.0 §1.5.3).
    #[inline]
    pub(crate) fn u32(&mut self) -> Result<u32, DecodeError> {
        match self.take(4)? {
            [a, b, c, d] => Ok(u32::from_be_bytes([*a, *b, *c, *d])),
            _ => Err(self.truncated()),
        }
    }

    /// A Variable Byte Integer in its minimal encoding (MQTT-1.5.5-1).
    #[inline]
    pub(crate) fn varint(&mut self) -> Result<u32, DecodeError> {
        // Fast path: one byte (every property identifier, most lengths).
        if self.pos < self.end {
            if let Some(&b) = self.frame.get(self.pos) {
                if b < 0x80 {
                    self.pos += 1;
                    return Ok(u32::from(b));
                }
            }
        }
        let rest = self
            .frame
            .get(self.pos..self.end)
            .ok_or_else(|| self.truncated())?;
        match varint::decode(rest) {
            Ok(Some((value, len))) => {
                self.pos += len;
                Ok(value)
            }
            Ok(None) => Err(self.truncated()),
            Err(_) => Err(self.malformed(VARINT_MINIMAL, "malformed Variable Byte Integer")),
        }
    }

    /// `len` bytes as a shared slice of the packet.
    #[inline]
    pub(crate) fn bytes(&mut self, len: usize) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        self.take(len)?;
        Ok(self.frame.slice(start..self.pos))
    }

    /// Binary Data: a Two Byte Integer length and that many bytes (§1.5.6).
    #[inline]
    pub(crate) fn binary(&mut self) -> Result<Bytes, DecodeError> {
        let len = self.u16()?;
        self.bytes(usize::from(len))
    }

    /// A UTF-8 Encoded String (MQTT-1.5.4-1, MQTT-1.5.4-2); ill-formed UTF-8 is
    /// reported under `field_rule` when the field has its own rule.
    #[inline]
    pub(crate) fn string_for(
        &mut self,
        field_rule: Option<Rule>,
    ) -> Result<Utf8Bytes, DecodeError> {
        let len = usize::from(self.u16()?);
        let raw = self.bytes(len)?;
        Utf8Bytes::from_mqtt(raw).map_err(|e| self.utf8_error(e, field_rule))
    }

    /// The error for a string that is not an MQTT UTF-8 Encoded String.
    #[cold]
    fn utf8_error(&self, e: Utf8Error, field_rule: Option<Rule>) -> DecodeError {
        match e {
            Utf8Error::IllFormed => self.malformed(
                field_rule.unwrap_or(UTF8_WELL_FORMED),
                "string is not well-formed UTF-8",
            ),
            Utf8Error::Null => self.malformed(UTF8_NO_NULL, "string contains U+0000"),
        }
    }

    /// A UTF-8 Encoded String checked like [`Reader::string_for`], borrowed from
    /// the packet (no `Bytes` handle on it). Always inlined: it is the inner loop
    /// of a PUBLISH property section's validation.
    #[inline(always)]
    pub(crate) fn str_for(&mut self, field_rule: Option<Rule>) -> Result<&'a str, DecodeError> {
        let len = usize::from(self.u16()?);
        let raw = self.take(len)?;
        validate_mqtt_str(raw).map_err(|e| self.utf8_error(e, field_rule))
    }

    /// Skips Binary Data (§1.5.6).
    #[inline]
    pub(crate) fn skip_binary(&mut self) -> Result<(), DecodeError> {
        let len = self.u16()?;
        self.take(usize::from(len)).map(|_| ())
    }

    /// The bytes from `start` to the current position, as a shared slice of the
    /// packet (empty if `start` is past it).
    #[inline]
    pub(crate) fn slice_from(&self, start: usize) -> Bytes {
        if start < self.pos {
            self.frame.slice(start..self.pos)
        } else {
            Bytes::new()
        }
    }

    /// A UTF-8 Encoded String (§1.5.4).
    #[inline]
    pub(crate) fn string(&mut self) -> Result<Utf8Bytes, DecodeError> {
        self.string_for(None)
    }

    /// A UTF-8 String Pair (MQTT-1.5.7-1).
    #[inline]
    pub(crate) fn string_pair(&mut self) -> Result<(Utf8Bytes, Utf8Bytes), DecodeError> {
        let name = self.string_for(Some(STRING_PAIR))?;
        let value = self.string_for(Some(STRING_PAIR))?;
        Ok((name, value))
    }
}
