//! Server side of the opening handshake (RFC 6455 §4.2).
//!
//! The server parses any request head with [`crate::http::parse_request`], routes on
//! method and path, and for a WebSocket route calls [`accept`] (or [`UpgradeRequest`]
//! for full control). Either way it gets the bytes to write: the 101 response plus the
//! negotiated parameters, or a rejection (400/403/405/426 ...) with its status.

use std::fmt;
use std::sync::Arc;

use crate::deflate::{DeflateConfig, DeflateParams, ExtensionOffer, parse_extensions};
use crate::error::Error;
use crate::http::{HeadLimits, RequestHead};
use crate::protocol::Config;

use super::{accept_key, is_token, is_valid_key};

/// Decides whether an `Origin` (RFC 6454; `None` when absent, as for non-browser
/// clients) may connect. Returning `false` rejects with 403.
pub type OriginCheck = Arc<dyn Fn(Option<&str>) -> bool + Send + Sync>;

/// The server's handshake and connection settings.
#[derive(Clone, Default)]
pub struct ServerConfig {
    /// Limits for reading the request head (used by the tokio adapter's `accept`).
    pub limits: HeadLimits,
    /// Supported subprotocols. The first protocol of the client's list that appears here
    /// is selected (client preference); none is selected if there is no overlap.
    pub subprotocols: Vec<String>,
    /// permessage-deflate settings, `None` to decline compression.
    pub deflate: Option<DeflateConfig>,
    /// The Origin policy; `None` accepts any origin.
    pub origin_check: Option<OriginCheck>,
    /// Limits and behaviour of the connection after the handshake.
    pub connection: Config,
}

impl fmt::Debug for ServerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerConfig")
            .field("limits", &self.limits)
            .field("subprotocols", &self.subprotocols)
            .field("deflate", &self.deflate)
            .field("origin_check", &self.origin_check.as_ref().map(|_| "<fn>"))
            .field("connection", &self.connection)
            .finish()
    }
}

/// A valid WebSocket upgrade request: what the client asked for (RFC 6455 §4.2.1).
#[derive(Debug, Clone)]
pub struct UpgradeRequest<'a> {
    head: &'a RequestHead,
    key: &'a str,
    origin: Option<&'a str>,
    subprotocols: Vec<&'a str>,
    extensions: Vec<ExtensionOffer>,
}

/// A successful handshake: the response to write and what was negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Accepted {
    /// The `101 Switching Protocols` response bytes.
    pub response: Vec<u8>,
    /// The selected subprotocol.
    pub subprotocol: Option<String>,
    /// The agreed permessage-deflate parameters, if any.
    pub deflate: Option<DeflateParams>,
}

/// A rejected handshake: the error (with its HTTP status) and the response to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Why; `error.http_status()` is the status sent.
    pub error: Error,
    /// The complete HTTP response (status line, headers, short text body).
    pub response: Vec<u8>,
}

impl From<Error> for Rejection {
    fn from(error: Error) -> Self {
        let response = reject_response(&error);
        Self { error, response }
    }
}

/// Validates an upgrade request and answers it with `config`'s policy: the one-call
/// server handshake.
///
/// ```
/// use ws_proto::handshake::server::{accept, ServerConfig};
/// use ws_proto::http::{parse_request, HeadLimits, Parsed};
/// let raw = b"GET /chat HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\n\
///             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
///             Sec-WebSocket-Version: 13\r\n\r\n";
/// let Parsed::Complete(head, _) = parse_request(raw, &HeadLimits::default()).unwrap() else { panic!() };
/// let accepted = accept(&head, &ServerConfig::default()).unwrap();
/// assert!(accepted.response.starts_with(b"HTTP/1.1 101 Switching Protocols\r\n"));
/// let text = String::from_utf8(accepted.response).unwrap();
/// assert!(text.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
/// ```
pub fn accept(head: &RequestHead, config: &ServerConfig) -> Result<Accepted, Rejection> {
    let request = UpgradeRequest::parse(head)?;
    if let Some(check) = &config.origin_check {
        if !check(request.origin()) {
            return Err(Error::handshake(403, "RFC 6455 §4.2.2", "origin not allowed").into());
        }
    }
    let subprotocol = request
        .subprotocols()
        .iter()
        .find(|p| config.subprotocols.iter().any(|s| s == *p))
        .copied();
    Ok(request.accept_with(subprotocol, config.deflate.as_ref()))
}

impl<'a> UpgradeRequest<'a> {
    /// Checks the request against RFC 6455 §4.2.1: `GET`, HTTP/1.1, one `Host`,
    /// `Upgrade: websocket` and `Connection: Upgrade` (case-insensitive token lists),
    /// a `Sec-WebSocket-Key` of 16 base64 bytes, `Sec-WebSocket-Version: 13` (else 426).
    pub fn parse(head: &'a RequestHead) -> Result<Self, Error> {
        let h = &head.headers;
        if head.method != "GET" {
            return Err(Error::handshake(
                405,
                "RFC 6455 §4.2.1",
                "the opening handshake must be a GET",
            ));
        }
        if head.version_minor < 1 {
            return Err(Error::handshake(
                400,
                "RFC 6455 §4.2.1",
                "the opening handshake needs HTTP/1.1",
            ));
        }
        if h.count("host") != 1 {
            return Err(Error::handshake(
                400,
                "RFC 6455 §4.2.1",
                "exactly one Host header is required",
            ));
        }
        if !h.has_token("upgrade", "websocket") {
            return Err(Error::handshake(
                400,
                "RFC 6455 §4.2.1",
                "missing Upgrade: websocket",
            ));
        }
        if !h.has_token("connection", "upgrade") {
            return Err(Error::handshake(
                400,
                "RFC 6455 §4.2.1",
                "missing Connection: Upgrade",
            ));
        }
        let versions: Vec<&str> = h.get_all("sec-websocket-version").collect();
        if versions != ["13"] {
            return Err(Error::handshake(
                426,
                "RFC 6455 §4.2.2",
                "unsupported Sec-WebSocket-Version (13 is)",
            ));
        }
        let key = match h.get_all("sec-websocket-key").collect::<Vec<_>>()[..] {
            [key] if is_valid_key(key) => key,
            _ => {
                return Err(Error::handshake(
                    400,
                    "RFC 6455 §4.2.1",
                    "Sec-WebSocket-Key must be one base64-encoded 16-byte value",
                ));
            }
        };
        let mut subprotocols = Vec::new();
        for p in h
            .get_all("sec-websocket-protocol")
            .flat_map(|v| v.split(','))
        {
            let p = p.trim();
            if !is_token(p) {
                return Err(Error::handshake(
                    400,
                    "RFC 6455 §4.1",
                    "malformed Sec-WebSocket-Protocol",
                ));
            }
            subprotocols.push(p);
        }
        let extensions = parse_extensions(h.get_all("sec-websocket-extensions"))?;
        Ok(Self {
            head,
            key,
            origin: h.get("origin"),
            subprotocols,
            extensions,
        })
    }

    /// The request head.
    pub fn head(&self) -> &RequestHead {
        self.head
    }

    /// The path of the request target.
    pub fn path(&self) -> &str {
        self.head.path()
    }

    /// The query of the request target.
    pub fn query(&self) -> Option<&str> {
        self.head.query()
    }

    /// The `Origin` header, if any (browsers always send it).
    pub fn origin(&self) -> Option<&'a str> {
        self.origin
    }

    /// The client's `Sec-WebSocket-Key`.
    pub fn key(&self) -> &str {
        self.key
    }

    /// The subprotocols the client offered, in its order of preference.
    pub fn subprotocols(&self) -> &[&'a str] {
        &self.subprotocols
    }

    /// The extension offers, in order.
    pub fn extensions(&self) -> &[ExtensionOffer] {
        &self.extensions
    }

    /// Builds the 101 response with `subprotocol` (should be one of
    /// [`UpgradeRequest::subprotocols`]) and permessage-deflate negotiated under `deflate`.
    pub fn accept_with(
        &self,
        subprotocol: Option<&str>,
        deflate: Option<&DeflateConfig>,
    ) -> Accepted {
        let negotiated = deflate.and_then(|d| d.accept(&self.extensions));
        let mut response = format!(
            "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: {}\r\n",
            accept_key(self.key.as_bytes())
        );
        if let Some(p) = subprotocol {
            response.push_str("Sec-WebSocket-Protocol: ");
            response.push_str(p);
            response.push_str("\r\n");
        }
        if let Some((_, header)) = &negotiated {
            response.push_str("Sec-WebSocket-Extensions: ");
            response.push_str(header);
            response.push_str("\r\n");
        }
        response.push_str("\r\n");
        Accepted {
            response: response.into_bytes(),
            subprotocol: subprotocol.map(str::to_owned),
            deflate: negotiated.map(|(p, _)| p),
        }
    }
}

/// The HTTP response that rejects a handshake for `error`: its status (400 if it has
/// none), `Connection: close`, `Sec-WebSocket-Version: 13` on a 426 (RFC 6455 §4.4), and
/// the error as a short text body.
pub fn reject_response(error: &Error) -> Vec<u8> {
    let status = error.http_status().unwrap_or(400);
    let reason = match status {
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    };
    let body = format!("{error}\n");
    let mut out = format!(
        "HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n",
        body.len()
    );
    match status {
        426 => out.push_str("Sec-WebSocket-Version: 13\r\nUpgrade: websocket\r\n"),
        405 => out.push_str("Allow: GET\r\n"),
        _ => {}
    }
    out.push_str("\r\n");
    out.push_str(&body);
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::{Parsed, parse_request};

    const GOOD: &str = "GET /chat?x=1 HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n\
        Connection: keep-alive, Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
        Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n\
        Sec-WebSocket-Version: 13\r\n";

    fn head(extra: &str) -> RequestHead {
        let raw = format!("{GOOD}{extra}\r\n");
        match parse_request(raw.as_bytes(), &HeadLimits::default()).unwrap() {
            Parsed::Complete(h, _) => h,
            Parsed::Partial => panic!(),
        }
    }

    /// RFC 6455 §4.2.2: the 101 answer, subprotocol selection and exposed fields.
    #[test]
    fn rfc6455_4_2_2_accepts_and_selects_subprotocol() {
        let h = head("");
        let req = UpgradeRequest::parse(&h).unwrap();
        assert_eq!(
            (req.path(), req.query(), req.origin()),
            ("/chat", Some("x=1"), Some("http://example.com"))
        );
        let config = ServerConfig {
            subprotocols: vec!["superchat".into()],
            ..Default::default()
        };
        let a = accept(&h, &config).unwrap();
        assert_eq!(a.subprotocol.as_deref(), Some("superchat"));
        let text = String::from_utf8(a.response).unwrap();
        assert!(text.contains("Sec-WebSocket-Protocol: superchat\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
    }

    /// RFC 6455 §4.2.2: an origin refused by the policy is a 403.
    #[test]
    fn rfc6455_4_2_2_origin_check_403() {
        let config = ServerConfig {
            origin_check: Some(Arc::new(|o| o == Some("https://ok.example"))),
            ..Default::default()
        };
        let r = accept(&head(""), &config).unwrap_err();
        assert_eq!(r.error.http_status(), Some(403));
        assert!(r.response.starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
    }

    /// RFC 6455 §4.2.2 / §4.4: a wrong version is a 426 naming version 13.
    #[test]
    fn rfc6455_4_4_wrong_version_426() {
        let raw = GOOD.replace("Version: 13", "Version: 8") + "\r\n";
        let Parsed::Complete(h, _) = parse_request(raw.as_bytes(), &HeadLimits::default()).unwrap()
        else {
            panic!()
        };
        let r = accept(&h, &ServerConfig::default()).unwrap_err();
        assert_eq!(r.error.http_status(), Some(426));
        let text = String::from_utf8(r.response).unwrap();
        assert!(text.contains("Sec-WebSocket-Version: 13\r\n"), "{text}");
    }

    /// RFC 7692 §5.1: permessage-deflate is negotiated when configured.
    #[test]
    fn rfc7692_5_1_negotiates_deflate() {
        let h = head("Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n");
        let config = ServerConfig {
            deflate: Some(DeflateConfig::default()),
            ..Default::default()
        };
        let a = accept(&h, &config).unwrap();
        assert!(a.deflate.is_some());
        assert!(
            String::from_utf8(a.response)
                .unwrap()
                .contains("Sec-WebSocket-Extensions: permessage-deflate\r\n")
        );
        assert!(
            accept(&h, &ServerConfig::default())
                .unwrap()
                .deflate
                .is_none()
        );
    }
}
