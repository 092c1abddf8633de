//! The sections of the configuration file, with their defaults. Every field is
//! documented in `config/realtime-server.example.toml`.

use std::net::SocketAddr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A plain listener (MQTT over TCP, HTTP).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlainListener {
    /// Whether the listener runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The address to bind.
    pub bind: SocketAddr,
    /// Whether clients without credentials are accepted. Unset: yes on a listener
    /// bound to a loopback address (127.0.0.0/8, ::1), no elsewhere.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_anonymous: Option<bool>,
}

impl PlainListener {
    /// A running listener on `bind` with the loopback rule for anonymous access.
    pub fn on(bind: SocketAddr) -> Self {
        Self {
            enabled: true,
            bind,
            allow_anonymous: None,
        }
    }

    /// Whether anonymous clients are accepted (explicit, or the loopback rule).
    pub fn allows_anonymous(&self) -> bool {
        self.allow_anonymous
            .unwrap_or_else(|| self.bind.ip().is_loopback())
    }
}

/// Whether a TLS listener asks for client certificates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ClientAuth {
    /// No client certificate is requested.
    #[default]
    None,
    /// A certificate is requested; one that is sent must chain to `client_ca`.
    Optional,
    /// A certificate chaining to `client_ca` is required.
    Required,
}

/// A TLS listener (MQTT over TLS, HTTPS/WSS).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsListener {
    /// Whether the listener runs.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The address to bind.
    pub bind: SocketAddr,
    /// PEM file with the server certificate chain (leaf first).
    pub cert: PathBuf,
    /// PEM file with the private key (PKCS#8, PKCS#1 or SEC1).
    pub key: PathBuf,
    /// PEM file with the CA certificates that client certificates must chain to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_ca: Option<PathBuf>,
    /// Client certificates: `none`, `optional` or `required`.
    #[serde(default)]
    pub client_auth: ClientAuth,
    /// Whether clients without credentials are accepted (see [`PlainListener`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allow_anonymous: Option<bool>,
}

impl TlsListener {
    /// Whether anonymous clients are accepted (explicit, or the loopback rule).
    pub fn allows_anonymous(&self) -> bool {
        self.allow_anonymous
            .unwrap_or_else(|| self.bind.ip().is_loopback())
    }
}

/// Every listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Listeners {
    /// MQTT over TCP (default 127.0.0.1:1883).
    #[serde(default = "default_mqtt")]
    pub mqtt: PlainListener,
    /// HTTP: WebSocket routes, demo page, `/metrics`, `/healthz` (default 127.0.0.1:8080).
    #[serde(default = "default_http")]
    pub http: PlainListener,
    /// MQTT over TLS (conventionally port 8883); off unless configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mqtt_tls: Option<TlsListener>,
    /// HTTPS: the HTTP routes over TLS, so `wss://` (conventionally 8443); off
    /// unless configured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub https: Option<TlsListener>,
}

impl Default for Listeners {
    fn default() -> Self {
        Self {
            mqtt: default_mqtt(),
            http: default_http(),
            mqtt_tls: None,
            https: None,
        }
    }
}

/// The default MQTT over TCP listener.
pub const DEFAULT_MQTT_ADDR: &str = "127.0.0.1:1883";
/// The default HTTP listener.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8080";
/// The default receive buffer of MQTT connections (`limits.mqtt_recv_buffer`).
pub const DEFAULT_MQTT_RECV_BUFFER: u32 = 64 * 1024;
/// The conventional MQTT over TLS port.
pub const DEFAULT_MQTT_TLS_PORT: u16 = 8883;
/// The port this server uses for HTTPS by default.
pub const DEFAULT_HTTPS_PORT: u16 = 8443;

fn default_mqtt() -> PlainListener {
    PlainListener::on(SocketAddr::from(([127, 0, 0, 1], 1883)))
}

fn default_http() -> PlainListener {
    PlainListener::on(SocketAddr::from(([127, 0, 0, 1], 8080)))
}

fn yes() -> bool {
    true
}

/// TLS settings shared by the TLS listeners.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TlsSettings {
    /// How long a client may take to complete the TLS handshake.
    pub handshake_timeout_ms: u64,
}

impl Default for TlsSettings {
    fn default() -> Self {
        Self {
            handshake_timeout_ms: 10_000,
        }
    }
}

/// Authentication and authorization files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthSettings {
    /// The password file (`realtime-server passwd FILE USER` writes it). Unset: no
    /// user can authenticate; only anonymous access (where a listener allows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_file: Option<PathBuf>,
    /// The ACL file. Unset: every client may publish, subscribe to and read every topic.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acl_file: Option<PathBuf>,
    /// Allow MQTT 5 enhanced authentication with SCRAM-SHA-256 (needs a password file).
    pub scram: bool,
    /// Most password verifications running at once (each costs one PBKDF2).
    pub max_concurrent_verifications: usize,
}

impl AuthSettings {
    /// Defaults: no files, SCRAM on, two verifications at once.
    pub fn new() -> Self {
        Self {
            password_file: None,
            acl_file: None,
            scram: true,
            max_concurrent_verifications: 2,
        }
    }
}

/// The MQTT broker's limits and behaviour ([`crate::broker::BrokerConfig`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BrokerSettings {
    /// Largest packet accepted (announced as Maximum Packet Size), bytes.
    pub max_packet_size: u32,
    /// Receive Maximum announced to v5 clients.
    pub receive_maximum: u16,
    /// Most QoS 1/2 messages in flight to one client.
    pub max_inflight: u16,
    /// Topic Alias Maximum announced to v5 clients (0: none).
    pub topic_alias_maximum: u16,
    /// Highest QoS granted (0, 1 or 2).
    pub max_qos: u8,
    /// Whether retained messages are supported.
    pub retain_available: bool,
    /// Upper bound of a client's Session Expiry Interval, seconds (4294967295: never expires).
    pub max_session_expiry_secs: u32,
    /// Session Expiry Interval of v3 sessions with Clean Session 0, seconds.
    pub v3_persistent_session_expiry_secs: u32,
    /// Upper bound of a client's keep-alive, seconds (0: no bound).
    pub max_keep_alive_secs: u16,
    /// Most subscriptions per session.
    pub max_subscriptions_per_session: usize,
    /// Most levels in a topic name or filter.
    pub max_topic_levels: usize,
    /// Longest topic name or filter, bytes.
    pub max_topic_length: usize,
    /// How long a new connection may take to send CONNECT.
    pub connect_timeout_ms: u64,
    /// `$SYS/` topics published this often, seconds (0: never).
    pub sys_interval_secs: u64,
    /// Most messages waiting in one session's queue.
    pub queue_max_messages: usize,
    /// Most bytes waiting in one session's queue.
    pub queue_max_bytes: usize,
    /// Queue QoS 0 messages for offline persistent sessions.
    pub queue_qos0_offline: bool,
    /// Bytes all session queues together may hold; see the example config.
    pub queue_memory_budget: usize,
}

/// Connection limits, across every listener.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitSettings {
    /// Most connections open at once (0: no limit).
    pub max_connections: usize,
    /// Most connections open at once from one IP address (0: no limit).
    pub max_connections_per_ip: usize,
    /// Messages per second one connection may publish; faster publishers are
    /// paused, not dropped (0: no limit).
    pub max_publish_rate: u32,
    /// Bytes per second read from one connection; faster clients are paused (0: no limit).
    pub max_read_rate: u64,
    /// Receive buffer (`SO_RCVBUF`, bytes) of connections on the MQTT listeners
    /// (TCP and TLS); 0: the kernel's autotuning. A small buffer lets the
    /// publisher pushback reach a flooding client quickly instead of the kernel
    /// holding megabytes (seconds of latency) it has already accepted; a large one
    /// suits a single fast publisher over a long link (window = buffer / RTT).
    pub mqtt_recv_buffer: u32,
    /// How long a closing connection may take to write what it still has to send.
    pub linger_ms: u64,
    /// How long a plain-TCP connection (MQTT, WebSocket) has nothing to do before
    /// it parks: its task ends and one watcher holds its socket until something
    /// arrives for it (0: never park).
    pub park_after_ms: u64,
    /// How long shutdown (SIGTERM) waits for connections to say goodbye.
    pub shutdown_timeout_ms: u64,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_connections: 100_000,
            max_connections_per_ip: 0,
            max_publish_rate: 0,
            max_read_rate: 0,
            mqtt_recv_buffer: DEFAULT_MQTT_RECV_BUFFER,
            linger_ms: 5_000,
            park_after_ms: 1_000,
            shutdown_timeout_ms: 10_000,
        }
    }
}

/// The HTTP listener and its WebSocket routes ([`crate::http::HttpConfig`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpSettings {
    /// How long a client may take to send its request head.
    pub head_timeout_ms: u64,
    /// Largest request head, bytes.
    pub max_head_bytes: usize,
    /// Most header fields in a request head.
    pub max_headers: usize,
    /// Offer permessage-deflate (without context takeover) on WebSocket routes.
    pub deflate: bool,
    /// Largest WebSocket message on `/mqtt` and `/ws`, bytes.
    pub max_message_size: usize,
    /// Largest WebSocket message on `/echo`, bytes.
    pub echo_max_message_size: usize,
    /// `Origin` values accepted on WebSocket routes (unset: any origin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub allowed_origins: Option<Vec<String>>,
    /// Ping a silent WebSocket peer after this long, seconds.
    pub idle_ping_secs: u64,
    /// Close a peer that does not answer the ping within this long, seconds.
    pub pong_timeout_secs: u64,
    /// How long a close the server started waits for the peer's Close, ms.
    pub close_timeout_ms: u64,
}

/// The async runtime that runs every connection.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RuntimeSettings {
    /// Worker threads (0: one per CPU core the process may use, or
    /// `TOKIO_WORKER_THREADS` when that is set).
    pub worker_threads: usize,
}

/// The most worker threads [`RuntimeSettings::worker_threads`] accepts.
pub const MAX_WORKER_THREADS: usize = 1024;

/// Log output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// A `tracing` filter: `info`, `debug`, `realtime_server=debug,info`, ...
    /// (`RUST_LOG` overrides it).
    pub level: String,
    /// `text` or `json` (one JSON object per line).
    pub format: LogFormat,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            level: "info".to_string(),
            format: LogFormat::Text,
        }
    }
}

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line, with the span fields (peer, transport, client id).
    Json,
}

/// How durable the store is (see [`crate::store::StoreMode`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Durability {
    /// Acknowledge only what is on disk (group commit).
    Sync,
    /// Commit every `periodic_interval_ms`; a crash may lose the last interval.
    Periodic,
    /// Nothing on disk.
    Memory,
}

/// The durable store. STORE INTEGRATION POINT: parsed and validated here; the
/// broker's use of it is wired in by the store integration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// Directory of the store's files. Unset: nothing is persisted (memory).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `sync`, `periodic` or `memory`. Unset: `sync` with a `data_dir`, `memory` without.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub durability: Option<Durability>,
    /// Milliseconds between commits in `periodic` mode.
    pub periodic_interval_ms: u64,
    /// Bound of the queue between the broker and the store's writer, bytes.
    pub max_pending_bytes: usize,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            data_dir: None,
            durability: None,
            periodic_interval_ms: 100,
            max_pending_bytes: 64 << 20,
        }
    }
}

impl StoreSettings {
    /// The durability in force: the one configured, else `sync` with a data
    /// directory and `memory` without.
    pub fn effective_durability(&self) -> Durability {
        self.durability.unwrap_or(if self.data_dir.is_some() {
            Durability::Sync
        } else {
            Durability::Memory
        })
    }

    /// The store's options for [`crate::store::Store::open`].
    pub fn options(&self) -> crate::store::StoreOptions {
        let mode = match self.effective_durability() {
            Durability::Sync => crate::store::StoreMode::Sync,
            Durability::Periodic => crate::store::StoreMode::Periodic {
                interval_ms: self.periodic_interval_ms,
            },
            Durability::Memory => crate::store::StoreMode::Memory,
        };
        crate::store::StoreOptions {
            mode,
            max_pending_bytes: self.max_pending_bytes,
        }
    }
}
