//! An incremental HTTP/1.1 head parser (RFC 9112 §2–§5) for requests and responses.
//!
//! It parses any request head — not only WebSocket upgrades — so that a server can read
//! one head per connection and route on method and path (`GET /healthz`,
//! `POST /api/...` with a `Content-Length` body, or an upgrade handed to
//! [`handshake::server`](crate::handshake::server)). It is strict: CRLF line endings,
//! token header names, no whitespace before the colon, no obsolete line folding, header
//! values in UTF-8 without control characters. Limits on the head size and header count
//! bound memory before anything is allocated.

use crate::error::Error;

/// Limits for one HTTP head.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeadLimits {
    /// Maximum size of the head including the final empty line (default 8 KiB). A head
    /// that grows past it is rejected with 431.
    pub max_head_bytes: usize,
    /// Maximum number of header fields (default 64); more is rejected with 431.
    pub max_headers: usize,
}

impl Default for HeadLimits {
    fn default() -> Self {
        Self {
            max_head_bytes: 8 * 1024,
            max_headers: 64,
        }
    }
}

/// The result of feeding bytes to an incremental parser.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<T> {
    /// The head is complete: the value and the number of bytes it used. Bytes past that
    /// belong to the body or, after an upgrade, to the WebSocket connection.
    Complete(T, usize),
    /// More bytes are needed; call again with the same bytes plus more.
    Partial,
}

/// One header field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The name as received (compare with [`str::eq_ignore_ascii_case`]).
    pub name: String,
    /// The value with surrounding whitespace removed.
    pub value: String,
}

/// The header fields of a head, with case-insensitive lookup.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<Header>);

impl Headers {
    /// The first value of `name` (case-insensitive).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// Every value of `name` (case-insensitive), in order.
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0
            .iter()
            .filter(move |h| h.name.eq_ignore_ascii_case(name))
            .map(|h| h.value.as_str())
    }

    /// How many times `name` occurs.
    pub fn count(&self, name: &str) -> usize {
        self.0
            .iter()
            .filter(|h| h.name.eq_ignore_ascii_case(name))
            .count()
    }

    /// Whether the comma-separated token list(s) of `name` contain `token`
    /// (case-insensitive), e.g. `Connection: keep-alive, Upgrade` contains `upgrade`.
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.get_all(name)
            .flat_map(|v| v.split(','))
            .any(|t| t.trim().eq_ignore_ascii_case(token))
    }

    /// All fields in order.
    pub fn iter(&self) -> impl Iterator<Item = &Header> {
        self.0.iter()
    }

    /// The number of fields.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there is no field.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// A parsed request head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHead {
    /// The method, e.g. `GET` (case-sensitive, RFC 9110 §9.1).
    pub method: String,
    /// The request target as received, e.g. `/chat?room=1`.
    pub target: String,
    /// The minor HTTP version: 1 for HTTP/1.1, 0 for HTTP/1.0.
    pub version_minor: u8,
    /// The header fields.
    pub headers: Headers,
}

impl RequestHead {
    /// The path part of the target (before `?`).
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    /// The query part of the target (after `?`), if any.
    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }

    /// The body length from `Content-Length` (RFC 9112 §6.3): `Ok(None)` when absent; a
    /// malformed value or conflicting repeated values are a 400.
    pub fn content_length(&self) -> Result<Option<u64>, Error> {
        let mut found: Option<u64> = None;
        for value in self.headers.get_all("content-length") {
            for part in value.split(',') {
                let part = part.trim();
                if part.is_empty() || !part.bytes().all(|b| b.is_ascii_digit()) || part.len() > 18 {
                    return Err(Error::handshake(
                        400,
                        "RFC 9112 §6.3",
                        "invalid Content-Length",
                    ));
                }
                let n: u64 = part.parse().map_err(|_| {
                    Error::handshake(400, "RFC 9112 §6.3", "invalid Content-Length")
                })?;
                if found.is_some_and(|f| f != n) {
                    return Err(Error::handshake(
                        400,
                        "RFC 9112 §6.3",
                        "conflicting Content-Length values",
                    ));
                }
                found = Some(n);
            }
        }
        Ok(found)
    }
}

/// A parsed response head.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResponseHead {
    /// The minor HTTP version: 1 for HTTP/1.1.
    pub version_minor: u8,
    /// The status code, e.g. 101.
    pub status: u16,
    /// The reason phrase.
    pub reason: String,
    /// The header fields.
    pub headers: Headers,
}

/// Parses a request head from the start of `buf`.
///
/// Returns [`Parsed::Partial`] until the empty line that ends the head has arrived, then
/// the head and the number of bytes it took; the rest of `buf` is body or, after an
/// upgrade, WebSocket frames. Errors carry the HTTP status to answer (400, 431, 505).
///
/// ```
/// use ws_proto::http::{parse_request, HeadLimits, Parsed};
/// let raw = b"GET /chat?room=1 HTTP/1.1\r\nHost: example.com\r\n\r\n\x81\x00";
/// let limits = HeadLimits::default();
/// assert_eq!(parse_request(&raw[..20], &limits).unwrap(), Parsed::Partial);
/// let Parsed::Complete(head, used) = parse_request(raw, &limits).unwrap() else { panic!() };
/// assert_eq!((head.method.as_str(), head.path(), head.query()), ("GET", "/chat", Some("room=1")));
/// assert_eq!(head.headers.get("HOST"), Some("example.com"));
/// assert_eq!(&raw[used..], b"\x81\x00");
/// ```
pub fn parse_request(buf: &[u8], limits: &HeadLimits) -> Result<Parsed<RequestHead>, Error> {
    let Some((start, lines, used)) = split_head(buf, limits)? else {
        return Ok(Parsed::Partial);
    };
    let mut parts = start.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(bad_request("RFC 9112 §3", "malformed request line"));
    };
    if method.is_empty() || !method.iter().all(|&b| is_tchar(b)) {
        return Err(bad_request("RFC 9112 §3.1", "invalid method"));
    }
    if target.is_empty() || !target.iter().all(|&b| b.is_ascii_graphic()) {
        return Err(bad_request("RFC 9112 §3.2", "invalid request target"));
    }
    let version_minor = parse_version(version)?;
    let headers = parse_headers(lines, limits)?;
    Ok(Parsed::Complete(
        RequestHead {
            method: ascii(method),
            target: ascii(target),
            version_minor,
            headers,
        },
        used,
    ))
}

/// Parses a response head from the start of `buf` (client role; see [`parse_request`]).
pub fn parse_response(buf: &[u8], limits: &HeadLimits) -> Result<Parsed<ResponseHead>, Error> {
    let bad = |message: &'static str| Error::bad_response("RFC 9112 §4", message);
    let Some((start, lines, used)) = split_head(buf, limits).map_err(|e| bad_response_of(&e))?
    else {
        return Ok(Parsed::Partial);
    };
    let mut parts = start.splitn(3, |&b| b == b' ');
    let (Some(version), Some(status), reason) = (parts.next(), parts.next(), parts.next()) else {
        return Err(bad("malformed status line"));
    };
    let version_minor = parse_version(version).map_err(|_| bad("not an HTTP/1.x response"))?;
    let status = match status {
        [a, b, c] if [a, b, c].iter().all(|d| d.is_ascii_digit()) => {
            u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
        }
        _ => return Err(bad("malformed status code")),
    };
    let reason = reason.unwrap_or_default();
    if reason.iter().any(|&b| b.is_ascii_control() && b != b'\t') {
        return Err(bad("control character in the reason phrase"));
    }
    let headers = parse_headers(lines, limits).map_err(|e| bad_response_of(&e))?;
    Ok(Parsed::Complete(
        ResponseHead {
            version_minor,
            status,
            reason: String::from_utf8_lossy(reason).into_owned(),
            headers,
        },
        used,
    ))
}

fn bad_request(rule: &'static str, message: &'static str) -> Error {
    Error::handshake(400, rule, message)
}

fn bad_response_of(e: &Error) -> Error {
    Error::bad_response(e.rule(), e.message().to_owned())
}

fn ascii(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A head split into its start line, its header lines and its total length.
type SplitHead<'a> = (&'a [u8], Vec<&'a [u8]>, usize);

/// Finds the end of the head within the limits: the start line, the header lines (each
/// without its CRLF) and the total length including the empty line.
fn split_head<'a>(buf: &'a [u8], limits: &HeadLimits) -> Result<Option<SplitHead<'a>>, Error> {
    let window = buf.get(..limits.max_head_bytes).unwrap_or(buf);
    let Some(end) = window.windows(4).position(|w| w == b"\r\n\r\n") else {
        if buf.len() >= limits.max_head_bytes {
            return Err(Error::handshake(
                431,
                "RFC 6585 §5",
                "request head larger than the limit",
            ));
        }
        return Ok(None);
    };
    // `head` excludes the final CRLF CRLF: every line but the last ends in CR here.
    let head = window.get(..end).unwrap_or_default();
    let mut lines = Vec::new();
    let mut pieces = head.split(|&b| b == b'\n').peekable();
    while let Some(piece) = pieces.next() {
        let line = if pieces.peek().is_some() {
            piece
                .strip_suffix(b"\r")
                .ok_or_else(|| bad_request("RFC 9112 §2.2", "line not terminated by CRLF"))?
        } else {
            piece
        };
        if line.contains(&b'\r') {
            return Err(bad_request("RFC 9112 §2.2", "bare CR in the head"));
        }
        if lines.len() > limits.max_headers {
            return Err(Error::handshake(
                431,
                "RFC 6585 §5",
                "too many header fields",
            ));
        }
        lines.push(line);
    }
    let mut lines = lines.into_iter();
    let start = lines.next().unwrap_or_default();
    Ok(Some((start, lines.collect(), end + 4)))
}

fn parse_version(version: &[u8]) -> Result<u8, Error> {
    match version {
        b"HTTP/1.1" => Ok(1),
        b"HTTP/1.0" => Ok(0),
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Err(Error::handshake(
                505,
                "RFC 9112 §2.3",
                "HTTP version not supported",
            ))
        }
        _ => Err(bad_request("RFC 9112 §2.3", "malformed HTTP version")),
    }
}

fn parse_headers(lines: Vec<&[u8]>, limits: &HeadLimits) -> Result<Headers, Error> {
    let mut headers = Vec::new();
    for line in lines {
        if headers.len() >= limits.max_headers {
            return Err(Error::handshake(
                431,
                "RFC 6585 §5",
                "too many header fields",
            ));
        }
        if line.first().is_some_and(|&b| b == b' ' || b == b'\t') {
            return Err(bad_request("RFC 9112 §5.2", "obsolete line folding"));
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return Err(bad_request("RFC 9112 §5", "header line without a colon"));
        };
        let (name, value) = line.split_at(colon);
        let value = value.get(1..).unwrap_or_default();
        if name.is_empty() || !name.iter().all(|&b| is_tchar(b)) {
            return Err(bad_request("RFC 9112 §5.1", "invalid header name"));
        }
        if value
            .iter()
            .any(|&b| (b.is_ascii_control() && b != b'\t') || b == 0x7F)
        {
            return Err(bad_request(
                "RFC 9110 §5.5",
                "control character in a header value",
            ));
        }
        let value = std::str::from_utf8(value)
            .map_err(|_| bad_request("RFC 9110 §5.5", "header value is not UTF-8"))?
            .trim_matches([' ', '\t']);
        headers.push(Header {
            name: ascii(name),
            value: value.to_owned(),
        });
    }
    Ok(Headers(headers))
}

/// RFC 9110 §5.6.2 token characters.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(raw: &[u8]) -> Result<RequestHead, Error> {
        match parse_request(raw, &HeadLimits::default())? {
            Parsed::Complete(head, used) => {
                assert_eq!(used, raw.len());
                Ok(head)
            }
            Parsed::Partial => panic!("partial"),
        }
    }

    /// RFC 9112 §3, §5: a general request with a body length and case-insensitive lookup.
    #[test]
    fn rfc9112_parses_any_request() {
        let head = req(b"POST /api/v1/x?a=b HTTP/1.1\r\nHost: h\r\ncontent-length: 12\r\nX-A:  1 \r\nX-A: 2\r\n\r\n").unwrap();
        assert_eq!(head.method, "POST");
        assert_eq!(head.path(), "/api/v1/x");
        assert_eq!(head.query(), Some("a=b"));
        assert_eq!(head.content_length().unwrap(), Some(12));
        assert_eq!(head.headers.get_all("x-a").collect::<Vec<_>>(), ["1", "2"]);
        assert_eq!(head.version_minor, 1);
    }

    /// Every prefix of a valid head is `Partial`, never an error.
    #[test]
    fn partial_until_complete() {
        let raw = b"GET / HTTP/1.1\r\nHost: h\r\n\r\n";
        for cut in 0..raw.len() {
            assert_eq!(
                parse_request(&raw[..cut], &HeadLimits::default()).unwrap(),
                Parsed::Partial
            );
        }
    }

    /// RFC 9112: malformed heads and the status each one gets.
    #[test]
    fn rfc9112_malformed_heads() {
        let cases: &[(&[u8], u16)] = &[
            (b"GET / HTTP/1.1\nHost: h\r\n\r\n", 400),
            (b"GET  / HTTP/1.1\r\n\r\n", 400),
            (b"GET / HTTP/2.0\r\n\r\n", 505),
            (b"GET / HTTX/1.1\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost : h\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nHost: h\r\n folded\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nNoColon\r\n\r\n", 400),
            (b"GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n", 400),
            (b"G(T / HTTP/1.1\r\n\r\n", 400),
        ];
        for (raw, status) in cases {
            let err = parse_request(raw, &HeadLimits::default()).unwrap_err();
            assert_eq!(
                err.http_status(),
                Some(*status),
                "{}",
                String::from_utf8_lossy(raw)
            );
        }
        let cl = req(b"GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n").unwrap();
        assert_eq!(cl.content_length().unwrap_err().http_status(), Some(400));
    }

    /// RFC 6585 §5: heads over the size or count limits are a 431, before the end arrives.
    #[test]
    fn rfc6585_5_limits() {
        let limits = HeadLimits {
            max_head_bytes: 64,
            max_headers: 2,
        };
        let long = [b'a'; 64];
        assert_eq!(
            parse_request(&long, &limits).unwrap_err().http_status(),
            Some(431)
        );
        let many = b"GET / HTTP/1.1\r\nA: 1\r\nB: 2\r\nC: 3\r\n\r\n";
        assert_eq!(
            parse_request(many, &limits).unwrap_err().http_status(),
            Some(431)
        );
    }

    /// RFC 9112 §4: status line parsing.
    #[test]
    fn rfc9112_4_response() {
        let raw = b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n";
        let Parsed::Complete(head, used) = parse_response(raw, &HeadLimits::default()).unwrap()
        else {
            panic!()
        };
        assert_eq!((head.status, used), (101, raw.len()));
        assert!(parse_response(b"HTTP/1.1 1x1 X\r\n\r\n", &HeadLimits::default()).is_err());
    }
}
