//! Configuration of the HTTP API, the webhooks and the authentication webhook
//! (`[api]`, `[[webhooks]]`, `[auth_webhook]`; see docs/api/README.md).

use serde::{Deserialize, Serialize};

/// `[api]`: the HTTP API under `/api/v1/` on the HTTP listeners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ApiSettings {
    /// Bearer tokens accepted (`Authorization: Bearer <token>`). Empty: the API
    /// is off and every `/api/` path answers 404.
    pub tokens: Vec<String>,
    /// Largest request body, bytes (413 above).
    pub max_body_bytes: usize,
    /// Most messages in one batch publish.
    pub max_batch: usize,
    /// The user name API publishes are checked as against the ACL.
    pub user: String,
}

impl Default for ApiSettings {
    fn default() -> Self {
        Self {
            tokens: Vec::new(),
            max_body_bytes: 1024 * 1024,
            max_batch: 1000,
            user: "api".to_string(),
        }
    }
}

/// One `[[webhooks]]` endpoint.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WebhookSettings {
    /// `http://host:port/path` (http only).
    pub url: String,
    /// HMAC-SHA256 key of the `X-Realtime-Signature` header.
    pub secret: String,
    /// Events sent: `client.connected`, `client.disconnected`,
    /// `client.subscribed`, `client.unsubscribed`, `message.published`.
    pub events: Vec<String>,
    /// Topic filters of `message.published` (default: `#`).
    pub topics: Vec<String>,
    /// One attempt's timeout (connect, send, answer).
    pub timeout_ms: u64,
    /// Retries after a failed attempt (timeout, error, non-2xx answer).
    pub max_retries: u32,
    /// Wait before the first retry; doubled for each further one.
    pub retry_backoff_ms: u64,
    /// Events waiting for this endpoint; when full, new events are dropped
    /// (counted in `realtime_webhook_dropped_total`).
    pub queue_size: usize,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        Self {
            url: String::new(),
            secret: String::new(),
            events: Vec::new(),
            topics: vec!["#".to_string()],
            timeout_ms: 5000,
            max_retries: 3,
            retry_backoff_ms: 200,
            queue_size: 1024,
        }
    }
}

/// `[auth_webhook]`: CONNECT credentials and `/ws` upgrades decided by an HTTP
/// function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthWebhookSettings {
    /// `http://host:port/path`; unset: no authentication webhook.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// If set, requests are signed like webhooks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// How long the function may take; no answer in time refuses the client.
    pub timeout_ms: u64,
    /// How long an answer is reused for the same credentials (0: no cache).
    pub cache_ttl_ms: u64,
    /// Most cached answers.
    pub cache_max_entries: usize,
}

impl Default for AuthWebhookSettings {
    fn default() -> Self {
        Self {
            url: None,
            secret: None,
            timeout_ms: 2000,
            cache_ttl_ms: 5000,
            cache_max_entries: 10_000,
        }
    }
}

/// Problems with these sections, as `(key, message)`.
pub(super) fn validate(
    api: &ApiSettings,
    webhooks: &[WebhookSettings],
    auth: &AuthWebhookSettings,
) -> Vec<(String, String)> {
    let mut bad = Vec::new();
    if api.tokens.iter().any(|t| t.len() < 16) {
        bad.push((
            "api.tokens".to_string(),
            "tokens must be at least 16 characters".to_string(),
        ));
    }
    if api
        .tokens
        .iter()
        .any(|t| !t.bytes().all(|b| b.is_ascii_graphic()))
    {
        bad.push((
            "api.tokens".to_string(),
            "tokens are visible ASCII (they travel in an HTTP header)".to_string(),
        ));
    }
    if api.max_body_bytes == 0 || api.max_batch == 0 {
        bad.push((
            "api.max_body_bytes".to_string(),
            "max_body_bytes and max_batch must be at least 1".to_string(),
        ));
    }
    for (i, w) in webhooks.iter().enumerate() {
        let key = |k: &str| format!("webhooks[{i}].{k}");
        if let Err(e) = crate::hooks::http_client::Url::parse(&w.url) {
            bad.push((key("url"), e));
        }
        if w.secret.is_empty() {
            bad.push((key("secret"), "a signing secret is required".to_string()));
        }
        if w.events.is_empty() {
            bad.push((
                key("events"),
                "no events: the endpoint would never be called".to_string(),
            ));
        }
        for e in &w.events {
            if crate::hooks::EventKind::parse(e).is_none() {
                bad.push((key("events"), format!("unknown event {e:?}")));
            }
        }
        for t in &w.topics {
            if mqtt_proto::topic::validate_filter(t).is_err() {
                bad.push((key("topics"), format!("{t:?} is not a topic filter")));
            }
        }
        if w.timeout_ms == 0 || w.queue_size == 0 {
            bad.push((
                key("timeout_ms"),
                "timeout_ms and queue_size must be at least 1".to_string(),
            ));
        }
    }
    if let Some(url) = &auth.url {
        if let Err(e) = crate::hooks::http_client::Url::parse(url) {
            bad.push(("auth_webhook.url".to_string(), e));
        }
        if auth.timeout_ms == 0 {
            bad.push((
                "auth_webhook.timeout_ms".to_string(),
                "must be at least 1".to_string(),
            ));
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use crate::Config;

    /// The commented-out `[[webhooks]]` and `[auth_webhook]` example of
    /// config/realtime-server.example.toml is valid once uncommented.
    #[test]
    fn example_webhook_block_is_valid_when_uncommented() {
        let text = include_str!("../../../config/realtime-server.example.toml");
        let mut inside = false;
        let mut out = String::new();
        for line in text.lines() {
            if line.starts_with("# >>> webhook example") {
                inside = true;
                continue;
            }
            if line.starts_with("# <<< webhook example") {
                inside = false;
                continue;
            }
            let line = if inside {
                line.strip_prefix("# ")
                    .or(line.strip_prefix("#"))
                    .unwrap_or(line)
            } else {
                line
            };
            out.push_str(line);
            out.push('\n');
        }
        let config = Config::from_toml_str(&out, "example").unwrap();
        assert_eq!(config.webhooks.len(), 1);
        assert_eq!(config.webhooks[0].events.len(), 5);
        assert!(config.auth_webhook.url.is_some());
        // check-config does not print secrets.
        let printed = config.to_toml();
        assert!(!printed.contains("change-me"), "{printed}");
    }

    /// Bad values are reported with their key.
    #[test]
    fn bad_hook_settings_are_located() {
        let bad = "[api]\ntokens = [\"short\"]\n[[webhooks]]\nurl = \"https://x/\"\nevents = [\"client.exploded\"]\ntopics = [\"a/#/b\"]\n[auth_webhook]\nurl = \"ftp://x\"\n";
        let errors = Config::from_toml_str(bad, "bad").unwrap_err().0;
        let keys: Vec<&str> = errors.iter().map(|e| e.location.as_str()).collect();
        for key in [
            "api.tokens",
            "webhooks[0].url",
            "webhooks[0].secret",
            "webhooks[0].events",
            "webhooks[0].topics",
            "auth_webhook.url",
        ] {
            assert!(keys.contains(&key), "{key} missing from {keys:?}");
        }
    }
}
