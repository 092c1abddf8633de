//! Client side of the opening handshake (RFC 6455 §4.1): build the request, validate the
//! server's answer.

use base64::Engine as _;

use crate::deflate::{DeflateConfig, DeflateParams, parse_extensions};
use crate::error::Error;
use crate::http::{HeadLimits, Parsed, ResponseHead, parse_response};
use crate::protocol::Config;

use super::{accept_key, is_token};

/// The client's handshake and connection settings.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    /// Subprotocols to offer, in order of preference.
    pub subprotocols: Vec<String>,
    /// permessage-deflate to offer, `None` for no compression.
    pub deflate: Option<DeflateConfig>,
    /// Extra request headers (e.g. `Origin`, `Authorization`).
    pub headers: Vec<(String, String)>,
    /// Limits for reading the response head.
    pub limits: HeadLimits,
    /// Limits and behaviour of the connection after the handshake.
    pub connection: Config,
}

/// What the server agreed to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Negotiated {
    /// The selected subprotocol.
    pub subprotocol: Option<String>,
    /// The agreed permessage-deflate parameters.
    pub deflate: Option<DeflateParams>,
    /// The whole response head.
    pub head: ResponseHead,
}

/// A client handshake in progress: remembers the key and the offers to check the answer.
#[derive(Debug, Clone)]
pub struct ClientHandshake {
    expected_accept: String,
    subprotocols: Vec<String>,
    deflate: Option<DeflateConfig>,
    limits: HeadLimits,
}

impl ClientHandshake {
    /// Builds the request for `host` (the `Host` header value, with a port if not the
    /// default) and `target` (path and query, e.g. `/chat?room=1`) with a random key.
    /// Returns the handshake state and the request bytes to write.
    ///
    /// ```
    /// use ws_proto::handshake::client::{ClientConfig, ClientHandshake};
    /// let (hs, request) = ClientHandshake::new("localhost:9001", "/", &ClientConfig::default());
    /// assert!(request.starts_with(b"GET / HTTP/1.1\r\nHost: localhost:9001\r\n"));
    /// # let _ = hs;
    /// ```
    pub fn new(host: &str, target: &str, config: &ClientConfig) -> (Self, Vec<u8>) {
        let key = base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 16]>());
        Self::with_key(host, target, &key, config)
    }

    /// As [`ClientHandshake::new`] with a given `Sec-WebSocket-Key` (tests, fuzzing).
    pub fn with_key(host: &str, target: &str, key: &str, config: &ClientConfig) -> (Self, Vec<u8>) {
        let mut req = format!(
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        );
        if !config.subprotocols.is_empty() {
            req.push_str("Sec-WebSocket-Protocol: ");
            req.push_str(&config.subprotocols.join(", "));
            req.push_str("\r\n");
        }
        if let Some(deflate) = &config.deflate {
            req.push_str("Sec-WebSocket-Extensions: ");
            req.push_str(&deflate.offer());
            req.push_str("\r\n");
        }
        for (name, value) in &config.headers {
            req.push_str(name);
            req.push_str(": ");
            req.push_str(value);
            req.push_str("\r\n");
        }
        req.push_str("\r\n");
        let hs = Self {
            expected_accept: accept_key(key.as_bytes()),
            subprotocols: config.subprotocols.clone(),
            deflate: config.deflate,
            limits: config.limits,
        };
        (hs, req.into_bytes())
    }

    /// Parses and validates the server's answer from the start of `buf` (RFC 6455 §4.1,
    /// "the client MUST _Fail the WebSocket Connection_" items 1–6): status 101,
    /// `Upgrade: websocket`, `Connection: Upgrade`, the right `Sec-WebSocket-Accept`,
    /// only offered extensions and subprotocols. Bytes after the head (the count is in
    /// [`Parsed::Complete`]) are already WebSocket frames.
    pub fn parse_response(&self, buf: &[u8]) -> Result<Parsed<Negotiated>, Error> {
        let Parsed::Complete(head, used) = parse_response(buf, &self.limits)? else {
            return Ok(Parsed::Partial);
        };
        let fail = |m: String| Error::bad_response("RFC 6455 §4.1", m);
        if head.status != 101 {
            return Err(fail(format!(
                "expected status 101, got {} {}",
                head.status, head.reason
            )));
        }
        let h = &head.headers;
        if !h.has_token("upgrade", "websocket") {
            return Err(fail("missing Upgrade: websocket".into()));
        }
        if !h.has_token("connection", "upgrade") {
            return Err(fail("missing Connection: Upgrade".into()));
        }
        match h.get_all("sec-websocket-accept").collect::<Vec<_>>()[..] {
            [accept] if accept == self.expected_accept => {}
            _ => return Err(fail("wrong or missing Sec-WebSocket-Accept".into())),
        }
        let extensions = parse_extensions(h.get_all("sec-websocket-extensions"))
            .map_err(|e| fail(e.message().into()))?;
        let deflate = match &self.deflate {
            Some(cfg) => cfg.check_response(&extensions)?,
            None if extensions.is_empty() => None,
            None => {
                return Err(fail(
                    "server accepted an extension that was not offered".into(),
                ));
            }
        };
        let subprotocol = match h.get_all("sec-websocket-protocol").collect::<Vec<_>>()[..] {
            [] => None,
            [p] if is_token(p) && self.subprotocols.iter().any(|s| s == p) => Some(p.to_owned()),
            _ => {
                return Err(fail(
                    "server selected a subprotocol that was not offered".into(),
                ));
            }
        };
        Ok(Parsed::Complete(
            Negotiated {
                subprotocol,
                deflate,
                head,
            },
            used,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
    const OK: &str = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
        Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n";

    fn check(config: &ClientConfig, extra: &str) -> Result<Negotiated, Error> {
        let (hs, _) = ClientHandshake::with_key("h", "/", KEY, config);
        let raw = format!("{OK}{extra}\r\n");
        match hs.parse_response(raw.as_bytes())? {
            Parsed::Complete(n, used) => {
                assert_eq!(used, raw.len());
                Ok(n)
            }
            Parsed::Partial => panic!("partial"),
        }
    }

    /// RFC 6455 §4.1: a correct answer passes; the offered subprotocol and deflate apply.
    #[test]
    fn rfc6455_4_1_valid_answer() {
        let config = ClientConfig {
            subprotocols: vec!["mqtt".into()],
            deflate: Some(DeflateConfig::default()),
            ..Default::default()
        };
        let n = check(
            &config,
            "Sec-WebSocket-Protocol: mqtt\r\nSec-WebSocket-Extensions: permessage-deflate\r\n",
        )
        .unwrap();
        assert_eq!(n.subprotocol.as_deref(), Some("mqtt"));
        assert!(n.deflate.is_some());
    }

    /// RFC 6455 §4.1: answers the client must fail.
    #[test]
    fn rfc6455_4_1_bad_answers() {
        let config = ClientConfig::default();
        for extra in [
            "Sec-WebSocket-Protocol: chat\r\n",
            "Sec-WebSocket-Extensions: permessage-deflate\r\n",
            "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n",
        ] {
            assert!(check(&config, extra).is_err(), "{extra}");
        }
        let (hs, _) = ClientHandshake::with_key("h", "/", KEY, &config);
        let wrong = OK.replace("xOo=", "xOX=") + "\r\n";
        assert!(hs.parse_response(wrong.as_bytes()).is_err());
        let not101 = "HTTP/1.1 200 OK\r\n\r\n";
        assert!(hs.parse_response(not101.as_bytes()).is_err());
    }
}
