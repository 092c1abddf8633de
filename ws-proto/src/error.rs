//! Errors that name the rule broken and the wire reaction it calls for.
//!
//! Every [`Error`] carries three things a caller needs:
//! - [`Error::rule`]: the section of RFC 6455 or RFC 7692 (or RFC 9112 for HTTP syntax) that
//!   was broken, e.g. `"RFC 6455 §5.5"`;
//! - the wire reaction: [`Error::close_code`] for a connection error (the code of the Close
//!   frame to send before closing, RFC 6455 §7.4.1) or [`Error::http_status`] for a
//!   rejected opening handshake (RFC 6455 §4.2.1);
//! - a human message ([`Error::message`], and `Display`).

use std::borrow::Cow;
use std::fmt;

use crate::close::CloseCode;

/// What kind of rule was broken, which decides the wire reaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The peer broke the framing or message rules: close with 1002 (protocol error).
    Protocol,
    /// A text message or close reason is not valid UTF-8, or a compressed message does not
    /// inflate: close with 1007 (invalid frame payload data).
    InvalidPayload,
    /// The peer broke a local policy (e.g. an unacceptable close code we chose not to
    /// accept, or a message type a route does not take): close with 1008.
    Policy,
    /// A frame or message is larger than the configured limit (also after
    /// decompression): close with 1009 (message too big).
    TooBig,
    /// Our side failed (e.g. the compressor): close with 1011 (internal error).
    Internal,
    /// The opening handshake request is rejected with this HTTP status (server role).
    Handshake(u16),
    /// The server's opening handshake response is not acceptable (client role, RFC 6455
    /// §4.1): the client fails the connection without a Close frame.
    BadResponse,
    /// The connection is already closed (or closing) for this operation: a local usage
    /// error, nothing to send.
    Closed,
}

/// An error of the WebSocket codec: the rule broken, the wire reaction and a message.
///
/// ```
/// use ws_proto::{Error, CloseCode};
/// let e = Error::protocol("RFC 6455 §5.5", "control frame longer than 125 bytes");
/// assert_eq!(e.close_code(), Some(CloseCode::PROTOCOL_ERROR));
/// assert_eq!(e.rule(), "RFC 6455 §5.5");
/// assert_eq!(e.http_status(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    rule: &'static str,
    message: Cow<'static, str>,
}

impl Error {
    /// An error of kind `kind` breaking `rule`, with a human `message`.
    pub fn new(kind: ErrorKind, rule: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self {
            kind,
            rule,
            message: message.into(),
        }
    }

    /// A protocol violation (close code 1002).
    pub fn protocol(rule: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::Protocol, rule, message)
    }

    /// Invalid payload data (close code 1007).
    pub fn invalid_payload(rule: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::InvalidPayload, rule, message)
    }

    /// A frame or message over the limit (close code 1009).
    pub fn too_big(rule: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::TooBig, rule, message)
    }

    /// A rejected opening handshake with HTTP `status`.
    pub fn handshake(
        status: u16,
        rule: &'static str,
        message: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self::new(ErrorKind::Handshake(status), rule, message)
    }

    /// An unacceptable handshake response (client role).
    pub fn bad_response(rule: &'static str, message: impl Into<Cow<'static, str>>) -> Self {
        Self::new(ErrorKind::BadResponse, rule, message)
    }

    /// The kind of rule broken.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The rule broken, e.g. `"RFC 6455 §5.2"`.
    pub fn rule(&self) -> &'static str {
        self.rule
    }

    /// The human-readable explanation.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The close code to send in the Close frame that fails the connection
    /// (RFC 6455 §7.1.7), or `None` when no Close frame is due (handshake errors, a
    /// closed connection).
    pub fn close_code(&self) -> Option<CloseCode> {
        match self.kind {
            ErrorKind::Protocol => Some(CloseCode::PROTOCOL_ERROR),
            ErrorKind::InvalidPayload => Some(CloseCode::INVALID_PAYLOAD),
            ErrorKind::Policy => Some(CloseCode::POLICY_VIOLATION),
            ErrorKind::TooBig => Some(CloseCode::MESSAGE_TOO_BIG),
            ErrorKind::Internal => Some(CloseCode::INTERNAL_ERROR),
            ErrorKind::Handshake(_) | ErrorKind::BadResponse | ErrorKind::Closed => None,
        }
    }

    /// The HTTP status to answer a rejected opening handshake with (server role), e.g.
    /// 400, 403, 426; `None` for connection errors.
    pub fn http_status(&self) -> Option<u16> {
        match self.kind {
            ErrorKind::Handshake(status) => Some(status),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.message, self.rule)?;
        if let Some(code) = self.close_code() {
            write!(f, " [close {}]", code.as_u16())?;
        }
        if let Some(status) = self.http_status() {
            write!(f, " [HTTP {status}]")?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6455 §7.4.1: each error kind maps to its defined close code.
    #[test]
    fn rfc6455_7_4_1_kinds_map_to_close_codes() {
        let cases = [
            (ErrorKind::Protocol, Some(1002)),
            (ErrorKind::InvalidPayload, Some(1007)),
            (ErrorKind::Policy, Some(1008)),
            (ErrorKind::TooBig, Some(1009)),
            (ErrorKind::Internal, Some(1011)),
            (ErrorKind::Handshake(426), None),
            (ErrorKind::BadResponse, None),
            (ErrorKind::Closed, None),
        ];
        for (kind, code) in cases {
            let e = Error::new(kind, "RFC 6455 §7.4.1", "x");
            assert_eq!(e.close_code().map(CloseCode::as_u16), code, "{kind:?}");
        }
        assert_eq!(
            Error::handshake(426, "RFC 6455 §4.2.2", "v").http_status(),
            Some(426)
        );
        assert_eq!(
            Error::too_big("RFC 6455 §10.4", "big").to_string(),
            "big (RFC 6455 §10.4) [close 1009]"
        );
    }
}
