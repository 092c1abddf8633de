//! The HTTP API under `/api/v1/` (issue 9): what a stateless function calls to
//! reach the clients the server keeps connected. Documented in
//! `docs/api/openapi.json`; `tests/tests/http_api.rs` checks the server
//! against that document.
//!
//! - Authentication: `Authorization: Bearer <token>`, compared in constant
//!   time with every configured token. No token configured: the API is off and
//!   every `/api/` path answers 404.
//! - Bodies: `Content-Length` only (no chunked uploads), at most
//!   `api.max_body_bytes` (413 before anything is read), within the head timeout.
//! - Errors: JSON `{"status": 400, "error": "bad_json", "reason": "..."}`.
//!
//! ```
//! use realtime_server::api::ApiConfig;
//! let api = ApiConfig::new(&["0123456789abcdef".to_string()], 1 << 20, 100, "api");
//! assert!(api.enabled());
//! assert!(api.token_ok("Bearer 0123456789abcdef"));
//! assert!(!api.token_ok("Bearer 0123456789abcdeX"));
//! assert!(!ApiConfig::default().enabled());
//! ```

mod publish;
mod resources;

use std::io;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWrite, AsyncWriteExt};
use ws_proto::http::RequestHead;

use crate::auth::password::{constant_time_eq, sha256};
use crate::broker::Broker;
use crate::conn::Driven;

/// The API's settings, as the HTTP listener holds them.
#[derive(Clone, Default)]
pub struct ApiConfig {
    /// SHA-256 of each accepted token (compared in constant time; hashing first
    /// hides the tokens' lengths too).
    token_hashes: Vec<[u8; 32]>,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// Most messages in one batch.
    pub max_batch: usize,
    /// The user name the API publishes as, for the ACL.
    pub user: String,
}

impl std::fmt::Debug for ApiConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiConfig")
            .field("tokens", &self.token_hashes.len())
            .field("max_body_bytes", &self.max_body_bytes)
            .field("max_batch", &self.max_batch)
            .field("user", &self.user)
            .finish()
    }
}

impl ApiConfig {
    /// The API accepting `tokens` (none: off).
    pub fn new(tokens: &[String], max_body_bytes: usize, max_batch: usize, user: &str) -> Self {
        Self {
            token_hashes: tokens.iter().map(|t| sha256(t.as_bytes())).collect(),
            max_body_bytes,
            max_batch,
            user: user.to_string(),
        }
    }

    /// Whether the API is on (some token configured).
    pub fn enabled(&self) -> bool {
        !self.token_hashes.is_empty()
    }

    /// Whether an `Authorization` header value carries an accepted bearer token
    /// (RFC 6750 §2.1). Every token is compared, in constant time.
    pub fn token_ok(&self, authorization: &str) -> bool {
        let Some((scheme, token)) = authorization.trim().split_once(' ') else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("bearer") {
            return false;
        }
        let presented = sha256(token.trim().as_bytes());
        self.token_hashes
            .iter()
            .fold(false, |ok, h| constant_time_eq(h, &presented) | ok)
    }
}

/// An error answer: HTTP status, a short code and a reason for humans.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    /// The HTTP status.
    pub status: u16,
    /// A stable code (`bad_json`, `invalid_topic`, `not_found`, ...).
    pub code: &'static str,
    /// What was wrong.
    pub reason: String,
}

pub(crate) fn err(status: u16, code: &'static str, reason: impl Into<String>) -> ApiError {
    ApiError {
        status,
        code,
        reason: reason.into(),
    }
}

/// A successful answer: status and JSON body (`None`: 204 without a body).
pub(crate) type Answer = Result<(u16, Option<Value>), ApiError>;

fn reason_phrase(status: u16) -> &'static str {
    match status {
        200 => "OK",
        202 => "Accepted",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Content Too Large",
        415 => "Unsupported Media Type",
        _ => "Error",
    }
}

async fn send<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    body: Option<&Value>,
    extra: &str,
) -> io::Result<()> {
    let body = body
        .map(|b| serde_json::to_vec(b).unwrap_or_default())
        .unwrap_or_default();
    let content_type = if status == 204 {
        ""
    } else {
        "content-type: application/json\r\n"
    };
    let head = format!(
        "HTTP/1.1 {status} {}\r\n{content_type}content-length: {}\r\ncache-control: no-store\r\n{extra}connection: close\r\n\r\n",
        reason_phrase(status),
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.shutdown().await
}

fn error_body(e: &ApiError) -> Value {
    json!({"status": e.status, "error": e.code, "reason": e.reason})
}

/// Reads the body announced by `Content-Length` (bounded by `max`).
async fn read_body<S: Driven>(
    stream: &mut S,
    head: &RequestHead,
    mut leftover: BytesMut,
    max: usize,
    timeout: Duration,
) -> Result<BytesMut, ApiError> {
    if head.headers.get("transfer-encoding").is_some() {
        return Err(err(
            411,
            "length_required",
            "send the body with Content-Length (chunked bodies are not accepted)",
        ));
    }
    let length = match head.content_length() {
        Ok(Some(n)) => usize::try_from(n).unwrap_or(usize::MAX),
        Ok(None) => 0,
        Err(e) => return Err(err(400, "bad_request", e.message())),
    };
    if length > max {
        return Err(err(
            413,
            "too_large",
            format!("the body of {length} bytes exceeds api.max_body_bytes ({max})"),
        ));
    }
    if leftover.len() > length {
        return Err(err(400, "bad_request", "more bytes than Content-Length"));
    }
    leftover.reserve(length - leftover.len());
    let deadline = tokio::time::Instant::now() + timeout;
    while leftover.len() < length {
        match tokio::time::timeout_at(deadline, stream.read_buf(&mut leftover)).await {
            Ok(Ok(0)) | Ok(Err(_)) => {
                return Err(err(
                    400,
                    "bad_request",
                    "the body ended before Content-Length",
                ));
            }
            Ok(Ok(_)) => {}
            Err(_) => return Err(err(408, "timeout", "the body did not arrive in time")),
        }
    }
    leftover.truncate(length);
    Ok(leftover)
}

/// Parses a JSON body (an empty body is `null`).
pub(crate) fn json_body(body: &[u8]) -> Result<Value, ApiError> {
    if body.is_empty() {
        return Ok(Value::Null);
    }
    serde_json::from_slice(body).map_err(|e| err(400, "bad_json", format!("invalid JSON: {e}")))
}

/// Decodes `%XX` escapes of a path segment or query value (`plus`: `+` is a space).
pub(crate) fn percent_decode(s: &str, plus: bool) -> Result<String, ApiError> {
    let bad = || err(400, "bad_request", format!("bad %-escape in {s:?}"));
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hi = char::from(bytes.next().ok_or_else(bad)?)
                    .to_digit(16)
                    .ok_or_else(bad)?;
                let lo = char::from(bytes.next().ok_or_else(bad)?)
                    .to_digit(16)
                    .ok_or_else(bad)?;
                out.push(u8::try_from(hi * 16 + lo).map_err(|_| bad())?);
            }
            b'+' if plus => out.push(b' '),
            b => out.push(b),
        }
    }
    String::from_utf8(out).map_err(|_| err(400, "bad_request", "not UTF-8 after %-decoding"))
}

/// The value of query parameter `name`, decoded.
pub(crate) fn query_param(head: &RequestHead, name: &str) -> Result<Option<String>, ApiError> {
    for pair in head.query().unwrap_or("").split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        if k == name {
            return percent_decode(v, true).map(Some);
        }
    }
    Ok(None)
}

/// Serves one `/api/...` request and closes.
pub async fn handle<S: Driven>(
    mut stream: S,
    head: RequestHead,
    leftover: BytesMut,
    broker: Arc<Broker>,
    api: &ApiConfig,
    body_timeout: Duration,
) -> io::Result<()> {
    if !api.enabled() {
        let e = err(
            404,
            "not_found",
            "the HTTP API is off (no api.tokens configured)",
        );
        return send(&mut stream, 404, Some(&error_body(&e)), "").await;
    }
    let authorized = head
        .headers
        .get("authorization")
        .is_some_and(|v| api.token_ok(v));
    if !authorized {
        let e = err(
            401,
            "unauthorized",
            "missing or wrong bearer token (RFC 6750)",
        );
        return send(
            &mut stream,
            401,
            Some(&error_body(&e)),
            "www-authenticate: Bearer realm=\"realtime-server\"\r\n",
        )
        .await;
    }
    let path = head.path().to_string();
    let route = path.strip_prefix("/api/v1").unwrap_or("");
    let segments: Vec<&str> = route.split('/').skip(1).collect();
    let method = head.method.as_str();
    // Called by the routes that take a body, and only once.
    let take_body = || {
        read_body(
            &mut stream,
            &head,
            leftover,
            api.max_body_bytes,
            body_timeout,
        )
    };
    let answer = match (method, segments.as_slice()) {
        ("POST", ["publish"]) | ("POST", ["publish", "batch"]) => {
            let batch = segments.len() == 2;
            take_body()
                .await
                .and_then(|body| publish::handle(&broker, api, &body, batch))
        }
        ("GET", ["clients"]) => resources::list_clients(&broker),
        ("GET", ["clients", id]) => resources::get_client(&broker, id),
        ("POST", ["clients", id, "disconnect"]) => take_body()
            .await
            .and_then(|body| resources::disconnect_client(&broker, id, &body)),
        ("GET", ["retained"]) => resources::list_retained(&broker, &head),
        ("DELETE", ["retained"]) => resources::delete_retained(&broker, &head),
        ("GET", ["sessions", id]) => resources::get_session(&broker, id),
        ("DELETE", ["sessions", id]) => resources::delete_session(&broker, id),
        (
            _,
            ["publish"]
            | ["publish", "batch"]
            | ["clients"]
            | ["clients", _]
            | ["clients", _, "disconnect"]
            | ["retained"]
            | ["sessions", _],
        ) => Err(err(
            405,
            "method_not_allowed",
            format!("{method} is not allowed on {path}"),
        )),
        _ => Err(err(404, "not_found", format!("no API route {path}"))),
    };
    match answer {
        Ok((status, body)) => send(&mut stream, status, body.as_ref(), "").await,
        Err(e) => {
            tracing::info!(
                method,
                path,
                status = e.status,
                code = e.code,
                "API request refused: {}",
                e.reason
            );
            send(&mut stream, e.status, Some(&error_body(&e)), "").await
        }
    }
}
