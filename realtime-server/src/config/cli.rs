//! The command line: `realtime-server [--config FILE] [flags]`,
//! `realtime-server check-config FILE`, `realtime-server passwd FILE USER`.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use super::{Config, ConfigErrors, DEFAULT_MQTT_TLS_PORT, Durability, TlsListener};

/// MQTT over TCP, MQTT over WebSocket and WebSocket/JSON over one topic bus.
#[derive(Debug, Clone, Parser)]
#[command(name = "realtime-server", version, about)]
pub struct Cli {
    /// What to do (default: run the server).
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Settings that override the configuration file.
    #[command(flatten)]
    pub overrides: Overrides,
}

/// Subcommands.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Validate a configuration file; print the effective configuration or the errors.
    CheckConfig {
        /// The configuration file.
        file: PathBuf,
    },
    /// Add, update or delete a user in a password file (like mosquitto_passwd).
    Passwd(PasswdArgs),
}

/// `realtime-server passwd FILE USER`.
#[derive(Debug, Clone, Args)]
pub struct PasswdArgs {
    /// The password file (created if missing).
    pub file: PathBuf,
    /// The user name.
    pub user: String,
    /// The password (default: asked twice on the terminal, or one line of stdin).
    #[arg(long, conflicts_with = "delete")]
    pub password: Option<String>,
    /// Remove the user instead.
    #[arg(long)]
    pub delete: bool,
    /// PBKDF2-HMAC-SHA-256 iterations for the new hash.
    #[arg(long, default_value_t = crate::auth::DEFAULT_ITERATIONS)]
    pub iterations: u32,
}

/// Flags that override the configuration file (and the embedded defaults).
#[derive(Debug, Clone, Default, Args)]
pub struct Overrides {
    /// Configuration file (TOML; see config/realtime-server.example.toml).
    #[arg(long, short = 'c', global = true)]
    pub config: Option<PathBuf>,
    /// MQTT over TCP listen address [default: 127.0.0.1:1883].
    #[arg(long)]
    pub mqtt_listen: Option<SocketAddr>,
    /// HTTP listen address (WebSocket routes, demo page, /metrics) [default: 127.0.0.1:8080].
    #[arg(long)]
    pub http_listen: Option<SocketAddr>,
    /// MQTT over TLS listen address (needs --tls-cert and --tls-key, or the file's).
    #[arg(long)]
    pub mqtt_tls_listen: Option<SocketAddr>,
    /// HTTPS (wss://) listen address (needs --tls-cert and --tls-key, or the file's).
    #[arg(long)]
    pub https_listen: Option<SocketAddr>,
    /// Certificate chain (PEM) for the TLS listeners; with --tls-key and no TLS
    /// listener configured, MQTT over TLS runs on the MQTT address at port 8883.
    #[arg(long)]
    pub tls_cert: Option<PathBuf>,
    /// Private key (PEM) for the TLS listeners.
    #[arg(long)]
    pub tls_key: Option<PathBuf>,
    /// Password file.
    #[arg(long)]
    pub password_file: Option<PathBuf>,
    /// ACL file.
    #[arg(long)]
    pub acl_file: Option<PathBuf>,
    /// Accept clients without credentials on every listener (true) or on none (false).
    #[arg(long)]
    pub allow_anonymous: Option<bool>,
    /// Log filter (`info`, `debug`, ...).
    #[arg(long)]
    pub log_level: Option<String>,
    /// Worker threads of the runtime (0: one per CPU core).
    #[arg(long)]
    pub worker_threads: Option<usize>,
    /// Store directory.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Store durability: sync, periodic or memory.
    #[arg(long, value_parser = parse_durability)]
    pub durability: Option<Durability>,
    /// Flush interval of the `periodic` durability, milliseconds.
    #[arg(long)]
    pub periodic_interval_ms: Option<u64>,
    /// Most messages queued for one session.
    #[arg(long)]
    pub max_queued_messages: Option<usize>,
    /// Most bytes queued for one session.
    #[arg(long)]
    pub max_queued_bytes: Option<usize>,
    /// An `Origin` allowed to open a WebSocket (repeatable, e.g. `--allowed-origin
    /// https://app.example`; sets `http.allowed_origins`). Unset: any origin. Set: a
    /// browser from another origin gets 403; a client that sends no `Origin` (not a
    /// browser) is let in.
    #[arg(long = "allowed-origin", value_name = "ORIGIN")]
    pub allowed_origins: Vec<String>,
    /// Any setting, as `section.key=value` (TOML value), e.g. `broker.max_inflight=32`;
    /// repeatable.
    #[arg(long = "set", value_name = "KEY=VALUE", value_parser = parse_set)]
    pub set: Vec<(String, String)>,
}

fn parse_durability(s: &str) -> Result<Durability, String> {
    match s {
        "sync" => Ok(Durability::Sync),
        "periodic" => Ok(Durability::Periodic),
        "memory" => Ok(Durability::Memory),
        _ => Err("expected sync, periodic or memory".to_string()),
    }
}

fn parse_set(s: &str) -> Result<(String, String), String> {
    let (k, v) = s
        .split_once('=')
        .ok_or_else(|| "expected KEY=VALUE".to_string())?;
    Ok((k.trim().to_string(), v.trim().to_string()))
}

impl Overrides {
    /// The configuration: the file (or the defaults), then these flags.
    pub fn resolve(&self) -> Result<Config, ConfigErrors> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        let l = &mut config.listeners;
        if let Some(a) = self.mqtt_listen {
            l.mqtt.bind = a;
            l.mqtt.enabled = true;
        }
        if let Some(a) = self.http_listen {
            l.http.bind = a;
            l.http.enabled = true;
        }
        for (slot, addr) in [
            (&mut l.mqtt_tls, self.mqtt_tls_listen),
            (&mut l.https, self.https_listen),
        ] {
            if let Some(addr) = addr {
                match slot {
                    Some(t) => {
                        t.bind = addr;
                        t.enabled = true;
                    }
                    None => {
                        *slot = Some(TlsListener {
                            enabled: true,
                            bind: addr,
                            cert: self.tls_cert.clone().unwrap_or_default(),
                            key: self.tls_key.clone().unwrap_or_default(),
                            client_ca: None,
                            client_auth: Default::default(),
                            allow_anonymous: None,
                        })
                    }
                }
            }
        }
        // Certificates but no TLS listener at all: MQTT over TLS on the MQTT
        // listener's address, conventional port 8883.
        if l.mqtt_tls.is_none()
            && l.https.is_none()
            && let (Some(cert), Some(key)) = (&self.tls_cert, &self.tls_key)
        {
            l.mqtt_tls = Some(TlsListener {
                enabled: true,
                bind: SocketAddr::new(l.mqtt.bind.ip(), DEFAULT_MQTT_TLS_PORT),
                cert: cert.clone(),
                key: key.clone(),
                client_ca: None,
                client_auth: Default::default(),
                allow_anonymous: None,
            });
        }
        for t in [&mut l.mqtt_tls, &mut l.https].into_iter().flatten() {
            if let Some(c) = &self.tls_cert {
                t.cert = c.clone();
            }
            if let Some(k) = &self.tls_key {
                t.key = k.clone();
            }
        }
        if let Some(anon) = self.allow_anonymous {
            l.mqtt.allow_anonymous = Some(anon);
            l.http.allow_anonymous = Some(anon);
            for t in [&mut l.mqtt_tls, &mut l.https].into_iter().flatten() {
                t.allow_anonymous = Some(anon);
            }
        }
        if let Some(p) = &self.password_file {
            config.auth.password_file = Some(p.clone());
        }
        if let Some(p) = &self.acl_file {
            config.auth.acl_file = Some(p.clone());
        }
        if let Some(level) = &self.log_level {
            config.log.level = level.clone();
        }
        if let Some(n) = self.worker_threads {
            config.runtime.worker_threads = n;
        }
        if let Some(d) = &self.data_dir {
            config.store.data_dir = Some(d.clone());
        }
        if let Some(d) = self.durability {
            config.store.durability = Some(d);
        }
        if let Some(ms) = self.periodic_interval_ms {
            config.store.periodic_interval_ms = ms;
        }
        if let Some(n) = self.max_queued_messages {
            config.broker.queue_max_messages = n;
        }
        if let Some(n) = self.max_queued_bytes {
            config.broker.queue_max_bytes = n;
        }
        if !self.allowed_origins.is_empty() {
            config.http.allowed_origins = Some(self.allowed_origins.clone());
        }
        config.validate("command line")?;
        config.with_overrides(&self.set)
    }
}
