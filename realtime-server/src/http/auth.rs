//! Authentication of a `/ws` upgrade request: credentials in the `Authorization:
//! Basic` header, or (for browsers, which cannot set headers on a WebSocket) in
//! the `username` and `password` query parameters. See docs/ws-json-protocol.md.

use std::sync::Arc;

use base64::Engine as _;

use ws_proto::http::RequestHead;

use crate::auth::ListenerPolicy;
use crate::broker::Broker;

/// Decodes `%XX` escapes and `+` (as a space) of a query component.
fn percent_decode(s: &str) -> Option<String> {
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'%' => {
                let hi = char::from(bytes.next()?).to_digit(16)?;
                let lo = char::from(bytes.next()?).to_digit(16)?;
                out.push(u8::try_from(hi * 16 + lo).ok()?);
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
    }
    String::from_utf8(out).ok()
}

/// The credentials of a request: from `Authorization: Basic`, else the query.
pub(super) fn credentials(head: &RequestHead) -> Result<Option<(String, String)>, String> {
    if let Some(value) = head.headers.get("authorization") {
        let (scheme, token) = value.split_once(' ').unwrap_or((value, ""));
        if !scheme.eq_ignore_ascii_case("basic") {
            return Err(format!("unsupported authorization scheme {scheme:?}"));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(token.trim())
            .map_err(|_| "Authorization: Basic is not base64 (RFC 7617)".to_string())?;
        let text =
            String::from_utf8(decoded).map_err(|_| "credentials are not UTF-8".to_string())?;
        let (user, password) = text
            .split_once(':')
            .ok_or("Basic credentials need `user:password` (RFC 7617 §2)")?;
        return Ok(Some((user.to_string(), password.to_string())));
    }
    let mut user = None;
    let mut password = None;
    for pair in head.query().unwrap_or("").split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match k {
            "username" => user = Some(percent_decode(v).ok_or("bad %-escape in username")?),
            "password" => password = Some(percent_decode(v).ok_or("bad %-escape in password")?),
            _ => {}
        }
    }
    match (user, password) {
        (Some(u), Some(p)) => Ok(Some((u, p))),
        (None, None) => Ok(None),
        _ => Err("username and password must come together".to_string()),
    }
}

/// Authenticates a `/ws` upgrade: `Ok(Some(user))` for a verified user,
/// `Ok(None)` for an anonymous client where the listener allows it, otherwise
/// why it is refused (answered with 401).
pub(super) async fn authenticate_upgrade(
    head: &RequestHead,
    peer: std::net::SocketAddr,
    broker: &Arc<Broker>,
    listener: &ListenerPolicy,
) -> Result<Option<String>, String> {
    if let Some(hook) = &broker.hooks.auth {
        // The authentication webhook decides every upgrade: credentials and
        // the `token` query parameter are passed to it.
        let creds = credentials(head)?;
        let mut token = None;
        for pair in head.query().unwrap_or("").split('&') {
            if let Some(v) = pair.strip_prefix("token=") {
                token = Some(percent_decode(v).ok_or("bad %-escape in token")?);
            }
        }
        let (username, password) = match creds {
            Some((u, p)) => (Some(u), Some(p.into_bytes())),
            None => (None, None),
        };
        let req = crate::hooks::AuthRequest {
            kind: "ws",
            client_id: String::new(),
            username: username.clone(),
            password,
            token,
            transport: crate::metrics::Transport::WsJson.label(),
            address: peer.to_string(),
        };
        return if hook.check(&req).await {
            Ok(username)
        } else {
            Err("refused by the authentication webhook".to_string())
        };
    }
    let auth = &broker.auth;
    match credentials(head)? {
        Some((user, password)) if auth.has_passwords() => {
            let wake = Arc::new(crate::conn::ConnWake::new());
            let mut pending = auth.verify_async(user.clone(), password.into_bytes(), wake.clone());
            let ok = loop {
                if let Some(ok) = pending.poll() {
                    break ok;
                }
                wake.notified().await;
            };
            if ok {
                Ok(Some(user))
            } else {
                auth.metrics.bad_credentials.inc();
                Err(format!("bad user name or password for {user:?}"))
            }
        }
        _ if listener.allow_anonymous => Ok(None),
        Some(_) => Err("no password file to check credentials against".to_string()),
        None => {
            auth.metrics.anonymous_refused.inc();
            Err("anonymous access is not allowed on this listener".to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ws_proto::http::{HeadLimits, Parsed, parse_request};

    fn head(raw: &str) -> RequestHead {
        match parse_request(raw.as_bytes(), &HeadLimits::default()).unwrap() {
            Parsed::Complete(h, _) => h,
            Parsed::Partial => panic!("partial"),
        }
    }

    /// RFC 7617 §2: `Basic base64(user:password)`; the query form percent-decodes.
    #[test]
    fn credentials_from_header_or_query() {
        let h =
            head("GET /ws HTTP/1.1\r\nHost: x\r\nAuthorization: Basic YWxpY2U6czNjcjp0\r\n\r\n");
        assert_eq!(
            credentials(&h).unwrap(),
            Some(("alice".into(), "s3cr:t".into()))
        );
        let h = head("GET /ws?username=b%C3%B6b&password=a+b%26c HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(
            credentials(&h).unwrap(),
            Some(("böb".into(), "a b&c".into()))
        );
        let h = head("GET /ws HTTP/1.1\r\nHost: x\r\n\r\n");
        assert_eq!(credentials(&h).unwrap(), None);
        for bad in [
            "GET /ws?username=a HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /ws?username=%zz&password=b HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /ws HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer abc\r\n\r\n",
            "GET /ws HTTP/1.1\r\nHost: x\r\nAuthorization: Basic bm9jb2xvbg==\r\n\r\n",
        ] {
            assert!(credentials(&head(bad)).is_err(), "{bad}");
        }
    }
}
