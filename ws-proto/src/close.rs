//! Close codes and Close frame payloads (RFC 6455 §5.5.1, §7.4).

use bytes::{BufMut, Bytes, BytesMut};

use crate::error::Error;
use crate::utf8;

/// A status code of a Close frame (RFC 6455 §7.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: Self = Self(1000);
    /// 1001: going away (server shutdown, page navigated away).
    pub const GOING_AWAY: Self = Self(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: Self = Self(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: Self = Self(1003);
    /// 1007: payload inconsistent with the message type (e.g. invalid UTF-8).
    pub const INVALID_PAYLOAD: Self = Self(1007);
    /// 1008: policy violation.
    pub const POLICY_VIOLATION: Self = Self(1008);
    /// 1009: message too big to process.
    pub const MESSAGE_TOO_BIG: Self = Self(1009);
    /// 1010: the client expected an extension the server did not negotiate.
    pub const MANDATORY_EXTENSION: Self = Self(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: Self = Self(1011);
    /// 1012: service restart (IANA registry).
    pub const SERVICE_RESTART: Self = Self(1012);
    /// 1013: try again later (IANA registry), e.g. a slow consumer dropped.
    pub const TRY_AGAIN_LATER: Self = Self(1013);

    /// Wraps a raw code (no validation: see [`CloseCode::is_valid_on_wire`]).
    pub const fn new(code: u16) -> Self {
        Self(code)
    }

    /// The numeric code.
    pub const fn as_u16(self) -> u16 {
        self.0
    }

    /// Whether the code may appear in a Close frame (RFC 6455 §7.4.1, §7.4.2 and the IANA
    /// registry): 1000–1003, 1007–1014, and 3000–4999. 1004–1006 and 1015 are reserved or
    /// "MUST NOT be set as a status code", everything below 1000 and in 1016–2999 is
    /// unassigned.
    pub const fn is_valid_on_wire(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

/// The parsed payload of a Close frame: a status code and a UTF-8 reason (RFC 6455 §5.5.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CloseFrame {
    /// The status code.
    pub code: CloseCode,
    /// The reason, valid UTF-8, at most 123 bytes.
    pub reason: String,
}

impl CloseFrame {
    /// A close frame with `code` and `reason`.
    pub fn new(code: CloseCode, reason: impl Into<String>) -> Self {
        Self {
            code,
            reason: reason.into(),
        }
    }

    /// Parses a Close payload (RFC 6455 §5.5.1): empty (no code), or a 2-byte code that is
    /// valid on the wire followed by a UTF-8 reason. A 1-byte payload or an invalid code is
    /// a protocol error (1002); an invalid reason is 1007.
    pub fn parse(payload: &[u8]) -> Result<Option<Self>, Error> {
        match payload {
            [] => Ok(None),
            [_] => Err(Error::protocol(
                "RFC 6455 §5.5.1",
                "close payload of 1 byte: the status code needs 2",
            )),
            [hi, lo, reason @ ..] => {
                let code = CloseCode(u16::from_be_bytes([*hi, *lo]));
                if !code.is_valid_on_wire() {
                    return Err(Error::protocol(
                        "RFC 6455 §7.4.1",
                        format!("close code {} may not be sent on the wire", code.0),
                    ));
                }
                let reason = utf8::validate_complete(reason).map_err(|_| {
                    Error::invalid_payload("RFC 6455 §5.5.1", "close reason is not valid UTF-8")
                })?;
                Ok(Some(Self {
                    code,
                    reason: reason.to_owned(),
                }))
            }
        }
    }

    /// Encodes the payload: the code in network order then the reason, truncated at a
    /// character boundary to fit the 125-byte control frame limit (RFC 6455 §5.5).
    pub fn to_payload(&self) -> Bytes {
        let mut reason = self.reason.as_str();
        while reason.len() > 123 {
            let mut cut = 123;
            while !reason.is_char_boundary(cut) {
                cut -= 1;
            }
            reason = reason.get(..cut).unwrap_or_default();
        }
        let mut out = BytesMut::with_capacity(2 + reason.len());
        out.put_u16(self.code.0);
        out.put_slice(reason.as_bytes());
        out.freeze()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §7.4.1/§7.4.2: the codes Autobahn 7.7/7.9 probe.
    #[test]
    fn rfc6455_7_4_valid_and_invalid_codes() {
        for ok in [
            1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
        ] {
            assert!(CloseCode(ok).is_valid_on_wire(), "{ok}");
        }
        for bad in [
            0, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
        ] {
            assert!(!CloseCode(bad).is_valid_on_wire(), "{bad}");
        }
    }

    /// RFC 6455 §5.5.1: payload shapes.
    #[test]
    fn rfc6455_5_5_1_close_payloads() {
        assert_eq!(CloseFrame::parse(&[]).unwrap(), None);
        assert_eq!(
            CloseFrame::parse(&[3])
                .unwrap_err()
                .close_code()
                .unwrap()
                .as_u16(),
            1002
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, b'h', b'i']).unwrap(),
            Some(CloseFrame::new(CloseCode::NORMAL, "hi"))
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xe8, 0xff])
                .unwrap_err()
                .close_code()
                .unwrap()
                .as_u16(),
            1007
        );
        assert_eq!(
            CloseFrame::parse(&[0x03, 0xed])
                .unwrap_err()
                .close_code()
                .unwrap()
                .as_u16(),
            1002
        );
    }

    /// RFC 6455 §5.5: an encoded close payload never exceeds 125 bytes, even with a long
    /// multi-byte reason, and stays valid UTF-8.
    #[test]
    fn rfc6455_5_5_close_payload_truncated_on_char_boundary() {
        let frame = CloseFrame::new(CloseCode::NORMAL, "é".repeat(100));
        let payload = frame.to_payload();
        assert!(payload.len() <= 125);
        assert!(CloseFrame::parse(&payload).unwrap().is_some());
    }
}
