//! Server configuration: embedded defaults, a TOML file, then command-line flags
//! (flags win). `realtime-server check-config FILE` validates a file and prints
//! the effective configuration; `config/realtime-server.example.toml` documents
//! every setting.
//!
//! ```
//! use realtime_server::Config;
//!
//! let config = Config::from_toml_str(
//!     "[listeners.mqtt]\nbind = \"0.0.0.0:1883\"\n[broker]\nmax_inflight = 32\n",
//!     "inline",
//! )
//! .unwrap();
//! assert_eq!(config.broker_config().max_inflight, 32);
//! // Not loopback: anonymous clients are refused unless the file says otherwise.
//! assert!(!config.listeners.mqtt.allows_anonymous());
//! ```

mod cli;
mod hooks;
mod sections;

use std::fmt;
use std::path::Path;
use std::time::Duration;

use serde::{Deserialize, Serialize};

pub use cli::{Cli, Command, Overrides, PasswdArgs};
pub use hooks::{ApiSettings, AuthWebhookSettings, WebhookSettings};
pub use sections::*;

use crate::broker::{BrokerConfig, QueueLimits};
use crate::http::HttpConfig;

/// The whole configuration, as in the file (every section optional there).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Where the server listens.
    pub listeners: Listeners,
    /// TLS settings shared by the TLS listeners.
    pub tls: TlsSettings,
    /// Password and ACL files.
    pub auth: AuthSettings,
    /// The broker's limits.
    pub broker: BrokerSettings,
    /// Connection limits.
    pub limits: LimitSettings,
    /// The HTTP listener and WebSocket routes.
    pub http: HttpSettings,
    /// Logging.
    pub log: LogSettings,
    /// The async runtime.
    pub runtime: RuntimeSettings,
    /// The durable store.
    pub store: StoreSettings,
    /// The HTTP API (`/api/v1/`).
    pub api: ApiSettings,
    /// Webhook endpoints called on events.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub webhooks: Vec<WebhookSettings>,
    /// The authentication webhook.
    pub auth_webhook: AuthWebhookSettings,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self::new()
    }
}

impl Default for BrokerSettings {
    fn default() -> Self {
        let b = BrokerConfig::default();
        Self {
            max_packet_size: b.max_packet_size,
            receive_maximum: b.receive_maximum,
            max_inflight: b.max_inflight,
            topic_alias_maximum: b.topic_alias_maximum,
            max_qos: u8::from(b.max_qos),
            retain_available: b.retain_available,
            max_session_expiry_secs: b.max_session_expiry,
            v3_persistent_session_expiry_secs: b.v3_persistent_session_expiry,
            max_keep_alive_secs: b.max_keep_alive.unwrap_or(0),
            max_subscriptions_per_session: b.max_subscriptions_per_session,
            max_topic_levels: b.max_topic_levels,
            max_topic_length: b.max_topic_length,
            connect_timeout_ms: millis(b.connect_timeout),
            sys_interval_secs: b.sys_interval.map_or(0, |d| d.as_secs()),
            queue_max_messages: b.queue.max_messages,
            queue_max_bytes: b.queue.max_bytes,
            queue_qos0_offline: b.queue_qos0_offline,
            queue_memory_budget: b.queue_memory_budget,
        }
    }
}

impl Default for HttpSettings {
    fn default() -> Self {
        let h = HttpConfig::default();
        Self {
            head_timeout_ms: millis(h.head_timeout),
            max_head_bytes: h.limits.max_head_bytes,
            max_headers: h.limits.max_headers,
            deflate: h.deflate.is_some(),
            max_message_size: h.max_message_size,
            echo_max_message_size: h.echo_max_message_size,
            allowed_origins: h.allowed_origins,
            idle_ping_secs: h.timers.idle_ping.as_secs(),
            pong_timeout_secs: h.timers.pong_timeout.as_secs(),
            close_timeout_ms: millis(h.timers.close_timeout),
        }
    }
}

/// The smallest Maximum Packet Size that still carries a useful PUBLISH.
const MIN_MAX_PACKET_SIZE: u32 = 128;

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// One thing wrong with a configuration: where, and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file (or `command line`).
    pub source: String,
    /// Where in it: `line L, column C` for syntax and type errors, the key path
    /// (`listeners.mqtt_tls.cert`) for invalid values.
    pub location: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.source, self.location, self.message)
    }
}

impl std::error::Error for ConfigError {}

/// Every error found in a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigErrors {}

fn toml_error(source: &str, text: &str, err: &toml::de::Error) -> ConfigError {
    let location = match err.span() {
        Some(span) => {
            let before = text.get(..span.start).unwrap_or(text);
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            format!("line {line}, column {column}")
        }
        None => "top level".to_string(),
    };
    ConfigError {
        source: source.to_string(),
        location,
        message: err.message().to_string(),
    }
}

impl Config {
    /// Parses and validates a configuration file's text (`source` names it in errors).
    pub fn from_toml_str(text: &str, source: &str) -> Result<Self, ConfigErrors> {
        let config: Config =
            toml::from_str(text).map_err(|e| ConfigErrors(vec![toml_error(source, text, &e)]))?;
        config.validate(source)?;
        Ok(config)
    }

    /// Reads, parses and validates a configuration file.
    pub fn load(path: &Path) -> Result<Self, ConfigErrors> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| {
            ConfigErrors(vec![ConfigError {
                source: source.clone(),
                location: "file".to_string(),
                message: format!("cannot read: {e}"),
            }])
        })?;
        Self::from_toml_str(&text, &source)
    }

    /// Applies `key=value` overrides (`broker.max_inflight=32`; the value is TOML,
    /// a bare word is taken as a string), then validates.
    pub fn with_overrides(self, sets: &[(String, String)]) -> Result<Self, ConfigErrors> {
        if sets.is_empty() {
            return Ok(self);
        }
        let err = |location: &str, message: String| {
            ConfigErrors(vec![ConfigError {
                source: "command line".to_string(),
                location: location.to_string(),
                message,
            }])
        };
        let mut root = toml::Table::try_from(&self).map_err(|e| err("-", e.to_string()))?;
        for (key, value) in sets {
            let parsed = parse_value(value);
            let mut parts = key.split('.').peekable();
            let mut table = &mut root;
            while let Some(part) = parts.next() {
                if part.is_empty() {
                    return Err(err(key, "empty key segment".to_string()));
                }
                if parts.peek().is_none() {
                    table.insert(part.to_string(), parsed.clone());
                    break;
                }
                let entry = table
                    .entry(part.to_string())
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                table = match entry {
                    toml::Value::Table(t) => t,
                    _ => return Err(err(key, format!("`{part}` is not a table"))),
                };
            }
        }
        let config: Config = root
            .try_into()
            .map_err(|e: toml::de::Error| err("--set", e.message().to_string()))?;
        config.validate("command line")?;
        Ok(config)
    }

    /// Checks values that parse but cannot work; returns every problem found.
    pub fn validate(&self, source: &str) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        let mut bad = |location: &str, message: String| {
            errors.push(ConfigError {
                source: source.to_string(),
                location: location.to_string(),
                message,
            });
        };
        for (name, tls) in [
            ("listeners.mqtt_tls", &self.listeners.mqtt_tls),
            ("listeners.https", &self.listeners.https),
        ] {
            let Some(tls) = tls.as_ref().filter(|t| t.enabled) else {
                continue;
            };
            for (key, path) in [("cert", Some(&tls.cert)), ("key", Some(&tls.key))]
                .into_iter()
                .chain([("client_ca", tls.client_ca.as_ref())])
            {
                if let Some(path) = path
                    && let Err(e) = std::fs::metadata(path)
                {
                    bad(
                        &format!("{name}.{key}"),
                        format!("cannot read {}: {e}", path.display()),
                    );
                }
            }
            if tls.client_auth != ClientAuth::None && tls.client_ca.is_none() {
                bad(
                    &format!("{name}.client_ca"),
                    format!(
                        "client_auth = \"{}\" needs the CA file that client certificates chain to",
                        match tls.client_auth {
                            ClientAuth::Optional => "optional",
                            _ => "required",
                        }
                    ),
                );
            }
        }
        let mut binds = Vec::new();
        for (name, enabled, addr) in [
            (
                "listeners.mqtt",
                self.listeners.mqtt.enabled,
                self.listeners.mqtt.bind,
            ),
            (
                "listeners.http",
                self.listeners.http.enabled,
                self.listeners.http.bind,
            ),
        ]
        .into_iter()
        .chain(
            [
                ("listeners.mqtt_tls", &self.listeners.mqtt_tls),
                ("listeners.https", &self.listeners.https),
            ]
            .into_iter()
            .filter_map(|(n, l)| l.as_ref().map(|l| (n, l.enabled, l.bind))),
        ) {
            if !enabled {
                continue;
            }
            if addr.port() != 0 && binds.iter().any(|(_, a)| *a == addr) {
                let other = binds
                    .iter()
                    .find(|(_, a)| *a == addr)
                    .map_or("", |(n, _)| *n);
                bad(
                    &format!("{name}.bind"),
                    format!("{addr} is also the address of {other}"),
                );
            }
            binds.push((name, addr));
        }
        if binds.is_empty() {
            bad("listeners", "every listener is disabled".to_string());
        }
        for (key, path) in [
            ("auth.password_file", &self.auth.password_file),
            ("auth.acl_file", &self.auth.acl_file),
        ] {
            if let Some(path) = path
                && let Err(e) = std::fs::metadata(path)
            {
                bad(key, format!("cannot read {}: {e}", path.display()));
            }
        }
        if self.auth.max_concurrent_verifications == 0 {
            bad(
                "auth.max_concurrent_verifications",
                "must be at least 1".to_string(),
            );
        }
        let b = &self.broker;
        if b.max_qos > 2 {
            bad(
                "broker.max_qos",
                format!("{} is not a QoS (0, 1 or 2)", b.max_qos),
            );
        }
        if !(MIN_MAX_PACKET_SIZE..=mqtt_proto::MAX_PACKET_SIZE).contains(&b.max_packet_size) {
            bad(
                "broker.max_packet_size",
                format!(
                    "must be between {MIN_MAX_PACKET_SIZE} and {} (MQTT 5.0 §2.1.4)",
                    mqtt_proto::MAX_PACKET_SIZE
                ),
            );
        }
        for (key, v) in [
            ("broker.receive_maximum", b.receive_maximum),
            ("broker.max_inflight", b.max_inflight),
        ] {
            if v == 0 {
                bad(key, "must be at least 1 (MQTT 5.0 §3.2.2.3.3: Receive Maximum 0 is a Protocol Error)".to_string());
            }
        }
        if b.max_topic_levels == 0 || b.max_topic_length == 0 || b.max_topic_length > 65_535 {
            bad(
                "broker.max_topic_length",
                "max_topic_levels must be ≥ 1 and max_topic_length 1..=65535 (MQTT-1.5.3)"
                    .to_string(),
            );
        }
        if b.connect_timeout_ms == 0 {
            bad(
                "broker.connect_timeout_ms",
                "must be at least 1".to_string(),
            );
        }
        if b.queue_max_messages == 0 || b.queue_max_bytes == 0 {
            bad(
                "broker.queue_max_messages",
                "queue limits must be at least 1".to_string(),
            );
        }
        if b.queue_memory_budget < b.queue_max_bytes {
            bad(
                "broker.queue_memory_budget",
                format!(
                    "{} is less than one session's queue_max_bytes ({})",
                    b.queue_memory_budget, b.queue_max_bytes
                ),
            );
        }
        let h = &self.http;
        if h.head_timeout_ms == 0 || h.idle_ping_secs == 0 || h.pong_timeout_secs == 0 {
            bad(
                "http",
                "head_timeout_ms, idle_ping_secs and pong_timeout_secs must be at least 1"
                    .to_string(),
            );
        }
        if h.max_head_bytes < 256 || h.max_headers == 0 {
            bad(
                "http.max_head_bytes",
                "a request head needs at least 256 bytes and one header".to_string(),
            );
        }
        if h.max_message_size == 0 || h.echo_max_message_size == 0 {
            bad(
                "http.max_message_size",
                "message size limits must be at least 1".to_string(),
            );
        }
        if let Some(origins) = &h.allowed_origins
            && let Some(o) = origins
                .iter()
                .find(|o| o.is_empty() || o.contains(char::is_whitespace))
        {
            bad(
                "http.allowed_origins",
                format!("{o:?} is not an origin like \"https://example.com\""),
            );
        }
        if self.runtime.worker_threads > MAX_WORKER_THREADS {
            bad(
                "runtime.worker_threads",
                format!(
                    "{} is more than {MAX_WORKER_THREADS}",
                    self.runtime.worker_threads
                ),
            );
        }
        if let Err(e) = tracing_subscriber::EnvFilter::try_new(&self.log.level) {
            bad("log.level", format!("not a tracing filter: {e}"));
        }
        let s = &self.store;
        match s.effective_durability() {
            Durability::Sync | Durability::Periodic if s.data_dir.is_none() => bad(
                "store.data_dir",
                "durability \"sync\" and \"periodic\" need a data_dir".to_string(),
            ),
            Durability::Periodic if s.periodic_interval_ms == 0 => bad(
                "store.periodic_interval_ms",
                "must be at least 1".to_string(),
            ),
            _ => {}
        }
        if s.max_pending_bytes == 0 {
            bad("store.max_pending_bytes", "must be at least 1".to_string());
        }
        for (key, message) in hooks::validate(&self.api, &self.webhooks, &self.auth_webhook) {
            bad(&key, message);
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ConfigErrors(errors))
        }
    }

    /// The effective configuration as TOML (what `check-config` prints), with the
    /// anonymous-access rule resolved for each listener.
    pub fn to_toml(&self) -> String {
        let mut resolved = self.clone();
        let l = &mut resolved.listeners;
        l.mqtt.allow_anonymous = Some(l.mqtt.allows_anonymous());
        l.http.allow_anonymous = Some(l.http.allows_anonymous());
        for tls in [&mut l.mqtt_tls, &mut l.https].into_iter().flatten() {
            tls.allow_anonymous = Some(tls.allows_anonymous());
        }
        // Secrets are not printed.
        for t in &mut resolved.api.tokens {
            *t = "<redacted>".to_string();
        }
        for w in &mut resolved.webhooks {
            w.secret = "<redacted>".to_string();
        }
        if let Some(s) = &mut resolved.auth_webhook.secret {
            *s = "<redacted>".to_string();
        }
        if resolved.store.durability.is_none() {
            resolved.store.durability = Some(resolved.store.effective_durability());
        }
        toml::to_string_pretty(&resolved).unwrap_or_else(|e| format!("# cannot print: {e}\n"))
    }

    /// The broker's settings.
    pub fn broker_config(&self) -> BrokerConfig {
        let b = &self.broker;
        BrokerConfig {
            queue: QueueLimits {
                max_messages: b.queue_max_messages,
                max_bytes: b.queue_max_bytes,
            },
            queue_qos0_offline: b.queue_qos0_offline,
            max_inflight: b.max_inflight,
            receive_maximum: b.receive_maximum,
            max_packet_size: b.max_packet_size,
            topic_alias_maximum: b.topic_alias_maximum,
            max_qos: mqtt_proto::QoS::try_from(b.max_qos.min(2))
                .unwrap_or(mqtt_proto::QoS::ExactlyOnce),
            retain_available: b.retain_available,
            max_session_expiry: b.max_session_expiry_secs,
            v3_persistent_session_expiry: b.v3_persistent_session_expiry_secs,
            max_keep_alive: (b.max_keep_alive_secs > 0).then_some(b.max_keep_alive_secs),
            max_subscriptions_per_session: b.max_subscriptions_per_session,
            max_topic_levels: b.max_topic_levels,
            max_topic_length: b.max_topic_length,
            connect_timeout: Duration::from_millis(b.connect_timeout_ms),
            sys_interval: (b.sys_interval_secs > 0)
                .then(|| Duration::from_secs(b.sys_interval_secs)),
            queue_memory_budget: b.queue_memory_budget,
        }
    }

    /// The HTTP listener's settings.
    pub fn http_config(&self) -> HttpConfig {
        let h = &self.http;
        HttpConfig {
            head_timeout: Duration::from_millis(h.head_timeout_ms),
            limits: ws_proto::http::HeadLimits {
                max_head_bytes: h.max_head_bytes,
                max_headers: h.max_headers,
            },
            deflate: h.deflate.then(crate::http::memory_bounded_deflate),
            max_message_size: h.max_message_size,
            echo_max_message_size: h.echo_max_message_size,
            allowed_origins: h.allowed_origins.clone(),
            timers: crate::ws::WsTimers {
                idle_ping: Duration::from_secs(h.idle_ping_secs),
                pong_timeout: Duration::from_secs(h.pong_timeout_secs),
                close_timeout: Duration::from_millis(h.close_timeout_ms),
            },
            auth: crate::auth::ListenerPolicy {
                allow_anonymous: self.listeners.http.allows_anonymous(),
                max_publish_rate: self.limits.max_publish_rate,
            },
            driver: std::sync::Arc::new(self.driver_config()),
            api: crate::api::ApiConfig::new(
                &self.api.tokens,
                self.api.max_body_bytes,
                self.api.max_batch,
                &self.api.user,
            ),
        }
    }

    /// The connection drivers' settings (linger, read rate, parking delay; the
    /// server adds its [`crate::conn::park::Parking`]).
    pub fn driver_config(&self) -> crate::conn::tcp::DriverConfig {
        crate::conn::tcp::DriverConfig {
            linger: Duration::from_millis(self.limits.linger_ms),
            max_read_rate: self.limits.max_read_rate,
            // At most a day: a deadline that far is as good as never.
            park_after: Duration::from_millis(self.limits.park_after_ms.min(86_400_000)),
            ..Default::default()
        }
    }
}

fn parse_value(text: &str) -> toml::Value {
    let doc = format!("v = {text}");
    match toml::from_str::<toml::Table>(&doc) {
        Ok(mut t) => t
            .remove("v")
            .unwrap_or_else(|| toml::Value::String(text.to_string())),
        Err(_) => toml::Value::String(text.to_string()),
    }
}

#[cfg(test)]
mod tests;
