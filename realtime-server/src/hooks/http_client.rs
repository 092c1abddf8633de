//! A minimal HTTP/1.1 client for webhooks: one `POST` per connection
//! (`Connection: close`), `http://` only (put a TLS-terminating proxy in front
//! of an `https://` function), the whole exchange under one timeout, the
//! response head and body bounded before anything is allocated for them.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_proto::http::{HeadLimits, Parsed, parse_response};

/// Largest response body read (webhook answers are small).
pub const MAX_RESPONSE_BODY: usize = 64 * 1024;

/// An `http://host[:port]/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Url {
    /// Host name or address (IPv6 without brackets).
    pub host: String,
    /// Port (80 by default).
    pub port: u16,
    /// Path and query, starting with `/`.
    pub path: String,
    /// The `Host` header value.
    pub authority: String,
}

impl Url {
    /// Parses an `http://` URL.
    ///
    /// ```
    /// use realtime_server::hooks::http_client::Url;
    /// let u = Url::parse("http://127.0.0.1:9000/hook?x=1").unwrap();
    /// assert_eq!((u.host.as_str(), u.port, u.path.as_str()), ("127.0.0.1", 9000, "/hook?x=1"));
    /// assert!(Url::parse("https://example.com/").is_err());
    /// ```
    pub fn parse(s: &str) -> Result<Self, String> {
        let rest = s
            .strip_prefix("http://")
            .ok_or_else(|| format!("{s:?}: only http:// URLs are supported"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        if authority.is_empty() || authority.contains('@') {
            return Err(format!("{s:?}: no host (or user info, not supported)"));
        }
        let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
            let (h, after) = v6
                .split_once(']')
                .ok_or_else(|| format!("{s:?}: unclosed IPv6 literal"))?;
            let port = match after.strip_prefix(':') {
                Some(p) => p.parse().map_err(|_| format!("{s:?}: bad port"))?,
                None if after.is_empty() => 80,
                None => return Err(format!("{s:?}: bad authority")),
            };
            (h.to_string(), port)
        } else {
            match authority.rsplit_once(':') {
                Some((h, p)) => (
                    h.to_string(),
                    p.parse().map_err(|_| format!("{s:?}: bad port"))?,
                ),
                None => (authority.to_string(), 80),
            }
        };
        if host.is_empty() || path.bytes().any(|b| !b.is_ascii_graphic() || b == b'#') {
            return Err(format!("{s:?}: bad host or path"));
        }
        Ok(Self {
            host,
            port,
            path: path.to_string(),
            authority: authority.to_string(),
        })
    }
}

impl std::fmt::Display for Url {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "http://{}{}", self.authority, self.path)
    }
}

/// A response: its status and (bounded) body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    /// The status code.
    pub status: u16,
    /// The body (at most [`MAX_RESPONSE_BODY`] bytes).
    pub body: Vec<u8>,
}

/// POSTs `body` (JSON) to `url` with extra `headers`; the connection, the
/// request and the response together must finish within `timeout`.
pub async fn post_json(
    url: &Url,
    headers: &[(&str, String)],
    body: &[u8],
    timeout: Duration,
) -> Result<Response, String> {
    match tokio::time::timeout(timeout, exchange(url, headers, body)).await {
        Ok(r) => r,
        Err(_) => Err(format!("no answer within {timeout:?}")),
    }
}

async fn exchange(url: &Url, headers: &[(&str, String)], body: &[u8]) -> Result<Response, String> {
    let mut stream = TcpStream::connect((url.host.as_str(), url.port))
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let mut head = format!(
        "POST {} HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\nuser-agent: realtime-server/{}\r\n",
        url.path,
        url.authority,
        body.len(),
        env!("CARGO_PKG_VERSION")
    );
    for (name, value) in headers {
        head.push_str(name);
        head.push_str(": ");
        head.push_str(value);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let mut request = head.into_bytes();
    request.extend_from_slice(body);
    stream
        .write_all(&request)
        .await
        .map_err(|e| format!("write: {e}"))?;
    let limits = HeadLimits::default();
    let mut buf = Vec::with_capacity(1024);
    let (status, chunked, length, used) = loop {
        match parse_response(&buf, &limits) {
            Ok(Parsed::Complete(head, used)) => {
                let chunked = head
                    .headers
                    .get("transfer-encoding")
                    .is_some_and(|v| v.to_ascii_lowercase().contains("chunked"));
                let length = head
                    .headers
                    .get("content-length")
                    .and_then(|v| v.trim().parse::<usize>().ok());
                break (head.status, chunked, length, used);
            }
            Ok(Parsed::Partial) => {}
            Err(e) => return Err(format!("bad response: {}", e.message())),
        }
        if stream
            .read_buf(&mut buf)
            .await
            .map_err(|e| format!("read: {e}"))?
            == 0
        {
            return Err("connection closed before the response head".to_string());
        }
    };
    let mut rest = buf.split_off(used.min(buf.len()));
    let want = match length {
        Some(n) if !chunked => n.min(MAX_RESPONSE_BODY),
        _ => MAX_RESPONSE_BODY,
    };
    // The server closes after its answer (we asked it to); read to the
    // length, to EOF or to the bound, whichever comes first.
    while rest.len() < want {
        let mut chunk = [0u8; 4096];
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => rest.extend_from_slice(chunk.get(..n).unwrap_or_default()),
        }
    }
    rest.truncate(want);
    let body = if chunked { dechunk(&rest) } else { rest };
    Ok(Response { status, body })
}

/// Decodes a chunked body (RFC 9112 §7.1) as far as it is complete.
fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(eol) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = std::str::from_utf8(data.get(..eol).unwrap_or_default()).unwrap_or("");
        let size_text = size_text.split(';').next().unwrap_or("").trim();
        let Ok(size) = usize::from_str_radix(size_text, 16) else {
            return out;
        };
        if size == 0 {
            return out;
        }
        let start = eol + 2;
        let Some(chunk) = data.get(start..start.saturating_add(size)) else {
            return out;
        };
        out.extend_from_slice(chunk);
        data = data.get(start + size + 2..).unwrap_or_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 3986 §3.2: authority with and without a port, IPv6 literals.
    #[test]
    fn parses_http_urls() {
        let u = Url::parse("http://example.com").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("example.com", 80, "/")
        );
        let u = Url::parse("http://[::1]:81/a").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path.as_str()),
            ("::1", 81, "/a")
        );
        for bad in [
            "ftp://x/",
            "http://",
            "http://x:99999/",
            "http://u@x/",
            "http://x/a b",
        ] {
            assert!(Url::parse(bad).is_err(), "{bad}");
        }
    }

    /// RFC 9112 §7.1: chunk sizes in hex, extensions ignored, 0 ends.
    #[test]
    fn dechunks() {
        assert_eq!(dechunk(b"3\r\nabc\r\n2;x=1\r\nde\r\n0\r\n\r\n"), b"abcde");
        assert_eq!(dechunk(b"5\r\nab"), b"");
        assert_eq!(dechunk(b"zz\r\n"), b"");
    }
}
