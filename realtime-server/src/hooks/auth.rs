//! The authentication webhook: an HTTP function decides whether a client may
//! connect, like an API Gateway authorizer. The server POSTs
//!
//! ```json
//! {"kind": "mqtt", "client_id": "c1", "username": "alice", "password": "...",
//!  "token": null, "transport": "mqtt_tcp", "address": "127.0.0.1:50000"}
//! ```
//!
//! (`kind` is `ws` for a `/ws` upgrade, whose `token` is its `?token=` query
//! parameter; a password that is not UTF-8 comes as `password_base64`) and the
//! function answers 200 with `{"allow": true}` or `{"allow": false}`. Anything
//! else — another status, no answer within the timeout, a body that does not
//! say `allow` — refuses the client (fail closed). Answers are cached for
//! `cache_ttl_ms` under a keyed hash of the request (never the password itself), without the peer address.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::oneshot;

use super::http_client::{Url, post_json};
use super::sign::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use crate::auth::PendingVerification;
use crate::config::AuthWebhookSettings;
use crate::metrics::Counter;

/// What is asked about a connecting client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthRequest {
    /// `mqtt` (a CONNECT) or `ws` (a `/ws` upgrade).
    pub kind: &'static str,
    /// The Client Identifier (empty for `/ws`, whose id is assigned later).
    pub client_id: String,
    /// The user name, if any.
    pub username: Option<String>,
    /// The password, if any.
    pub password: Option<Vec<u8>>,
    /// A connection token (`/ws?token=`), if any.
    pub token: Option<String>,
    /// The transport label.
    pub transport: &'static str,
    /// The peer address.
    pub address: String,
}

impl AuthRequest {
    fn body(&self) -> Value {
        let mut v = json!({
            "kind": self.kind,
            "client_id": self.client_id,
            "username": self.username,
            "token": self.token,
            "transport": self.transport,
            "address": self.address,
        });
        if let (Some(o), Some(p)) = (v.as_object_mut(), &self.password) {
            match std::str::from_utf8(p) {
                Ok(text) => o.insert("password".into(), json!(text)),
                Err(_) => o.insert(
                    "password_base64".into(),
                    json!(base64::engine::general_purpose::STANDARD.encode(p)),
                ),
            };
        }
        v
    }
}

/// Counters of the authentication webhook.
#[derive(Debug, Default)]
pub struct AuthWebhookMetrics {
    /// Clients the function allowed.
    pub allowed: Counter,
    /// Clients the function denied.
    pub denied: Counter,
    /// Calls that failed (timeout, error, unexpected answer): refused.
    pub errors: Counter,
    /// Answers served from the cache.
    pub cache_hits: Counter,
}

/// The configured authentication webhook.
#[derive(Debug)]
pub struct AuthWebhook {
    url: Url,
    secret: Option<Vec<u8>>,
    timeout: Duration,
    ttl: Duration,
    max_entries: usize,
    key: [u8; 32],
    cache: Mutex<HashMap<[u8; 32], (bool, Instant)>>,
    /// Counters.
    pub metrics: AuthWebhookMetrics,
}

impl AuthWebhook {
    /// The webhook of `settings` (`None` without a URL).
    pub fn new(settings: &AuthWebhookSettings) -> Result<Option<Self>, String> {
        let Some(url) = &settings.url else {
            return Ok(None);
        };
        Ok(Some(Self {
            url: Url::parse(url)?,
            secret: settings.secret.as_ref().map(|s| s.as_bytes().to_vec()),
            timeout: Duration::from_millis(settings.timeout_ms.max(1)),
            ttl: Duration::from_millis(settings.cache_ttl_ms),
            max_entries: settings.cache_max_entries,
            key: rand::random(),
            cache: Mutex::new(HashMap::new()),
            metrics: AuthWebhookMetrics::default(),
        }))
    }

    fn cache_key(&self, body: &[u8]) -> [u8; 32] {
        crate::auth::password::hmac(&self.key, body)
    }

    /// Asks the function (or the cache) whether `req` may connect.
    pub async fn check(&self, req: &AuthRequest) -> bool {
        let mut value = req.body();
        // The peer's port changes with every connection: the cache is keyed
        // by what the client presents, not by where it comes from.
        let address = value
            .as_object_mut()
            .and_then(|o| o.remove("address"))
            .unwrap_or(Value::Null);
        let key = self.cache_key(&serde_json::to_vec(&value).unwrap_or_default());
        if let Some(o) = value.as_object_mut() {
            o.insert("address".into(), address);
        }
        let body = serde_json::to_vec(&value).unwrap_or_default();
        let now = Instant::now();
        if let Some(&(allow, at)) = self.cache.lock().get(&key)
            && now.duration_since(at) < self.ttl
        {
            self.metrics.cache_hits.inc();
            return allow;
        }
        let mut headers = Vec::new();
        if let Some(secret) = &self.secret {
            let ts = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            headers.push((TIMESTAMP_HEADER, ts.to_string()));
            headers.push((SIGNATURE_HEADER, sign(secret, ts, &body)));
        }
        let answer = match post_json(&self.url, &headers, &body, self.timeout).await {
            Ok(r) if r.status == 200 => serde_json::from_slice::<Value>(&r.body)
                .ok()
                .and_then(|v| v.get("allow").and_then(Value::as_bool))
                .ok_or_else(|| "200 without {\"allow\": true|false}".to_string()),
            Ok(r) if r.status == 401 || r.status == 403 => Ok(false),
            Ok(r) => Err(format!("answered {}", r.status)),
            Err(e) => Err(e),
        };
        match answer {
            Ok(allow) => {
                if allow {
                    self.metrics.allowed.inc();
                } else {
                    self.metrics.denied.inc();
                }
                if !self.ttl.is_zero() {
                    let mut cache = self.cache.lock();
                    if cache.len() >= self.max_entries {
                        cache.retain(|_, (_, at)| now.duration_since(*at) < self.ttl);
                        if cache.len() >= self.max_entries {
                            cache.clear();
                        }
                    }
                    if self.max_entries > 0 {
                        cache.insert(key, (allow, now));
                    }
                }
                allow
            }
            Err(why) => {
                self.metrics.errors.inc();
                tracing::warn!(endpoint = %self.url, kind = req.kind, client_id = req.client_id, "authentication webhook failed, client refused: {why}");
                false
            }
        }
    }

    /// [`AuthWebhook::check`] on the runtime; `wake` is notified with the answer.
    /// Without a runtime it refuses at once.
    pub fn check_async(
        self: &Arc<Self>,
        req: AuthRequest,
        wake: Arc<crate::conn::ConnWake>,
    ) -> PendingVerification {
        let (tx, rx) = oneshot::channel();
        match tokio::runtime::Handle::try_current() {
            Ok(handle) => {
                let this = self.clone();
                handle.spawn(async move {
                    let ok = this.check(&req).await;
                    let _ = tx.send(ok);
                    wake.notify_one();
                });
            }
            Err(_) => {
                let _ = tx.send(false);
            }
        }
        PendingVerification::from_receiver(rx)
    }

    /// The counters as Prometheus text.
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        let m = &self.metrics;
        let _ = writeln!(
            out,
            "# HELP realtime_auth_webhook_total Authentication webhook outcomes.\n# TYPE realtime_auth_webhook_total counter"
        );
        for (label, c) in [
            ("allowed", &m.allowed),
            ("denied", &m.denied),
            ("error", &m.errors),
            ("cache_hit", &m.cache_hits),
        ] {
            let _ = writeln!(
                out,
                "realtime_auth_webhook_total{{result=\"{label}\"}} {}",
                c.get()
            );
        }
    }
}
