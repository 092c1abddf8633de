//! The opening handshake (RFC 6455 §4): [`server`] validates a parsed request and builds
//! the 101 answer or a rejection; [`client`] builds the request and validates the answer.
//! Both work on heads parsed by [`crate::http`].

pub mod client;
pub mod server;

use base64::Engine as _;
use sha1::{Digest, Sha1};

/// The GUID appended to `Sec-WebSocket-Key` before hashing (RFC 6455 §1.3).
pub const WEBSOCKET_GUID: &str = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key` (RFC 6455 §4.2.2 step 5.4):
/// base64(SHA-1(key + GUID)).
///
/// ```
/// assert_eq!(
///     ws_proto::handshake::accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
///     "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
/// );
/// ```
pub fn accept_key(key: &[u8]) -> String {
    let mut sha = Sha1::new();
    sha.update(key);
    sha.update(WEBSOCKET_GUID.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(sha.finalize())
}

/// Whether `key` is a valid `Sec-WebSocket-Key`: base64 of exactly 16 bytes
/// (RFC 6455 §4.1 item 7, §4.2.1 item 5).
pub fn is_valid_key(key: &str) -> bool {
    key.len() == 24
        && base64::engine::general_purpose::STANDARD
            .decode(key)
            .is_ok_and(|k| k.len() == 16)
}

/// Whether a `Sec-WebSocket-Protocol` element is a token (RFC 6455 §4.1 item 10).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of RFC 6455 §1.3.
    #[test]
    fn accept_key_matches_rfc6455_section_1_3() {
        assert_eq!(
            accept_key(b"dGhlIHNhbXBsZSBub25jZQ=="),
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
    }
}
