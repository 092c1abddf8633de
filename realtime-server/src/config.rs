//! Server configuration: embedded defaults, overridden by CLI flags.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Parser, ValueEnum};

use crate::broker::{BrokerConfig, QueueLimits};
use crate::store::StoreMode;

/// Default MQTT-over-TCP listen address.
pub const DEFAULT_MQTT_ADDR: &str = "127.0.0.1:1883";
/// Default HTTP / WebSocket listen address.
pub const DEFAULT_HTTP_ADDR: &str = "127.0.0.1:8080";

/// What the server listens on and how it behaves.
#[derive(Debug, Clone, Parser)]
#[command(name = "realtime-server", version, about)]
pub struct Config {
    /// MQTT over TCP listen address.
    #[arg(long, default_value = DEFAULT_MQTT_ADDR)]
    pub mqtt_listen: SocketAddr,
    /// HTTP listen address (WebSocket routes, demo page, health check).
    #[arg(long, default_value = DEFAULT_HTTP_ADDR)]
    pub http_listen: SocketAddr,
    /// Directory of the durable store (sessions, queued and in-flight messages,
    /// retained messages). Without it, state lives in memory only.
    #[arg(long)]
    pub data_dir: Option<PathBuf>,
    /// Durability of the store: `sync` acknowledges QoS 1/2 only once the message
    /// is on disk (group commit); `periodic` flushes every
    /// `--periodic-interval-ms` (may lose the last interval on a crash); `memory`
    /// keeps the store in memory (tests, benchmarks).
    #[arg(long, value_enum, default_value_t = Durability::Sync)]
    pub durability: Durability,
    /// Flush interval of the `periodic` durability mode, milliseconds.
    #[arg(long, default_value_t = 100)]
    pub periodic_interval_ms: u64,
    /// Most messages queued for one session (beyond: dropped for that session).
    #[arg(long, default_value_t = QueueLimits::default().max_messages)]
    pub max_queued_messages: usize,
    /// Most bytes queued for one session.
    #[arg(long, default_value_t = QueueLimits::default().max_bytes)]
    pub max_queued_bytes: usize,
}

/// The store's durability mode, as configured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Durability {
    /// Acknowledge after fsync (group commit).
    Sync,
    /// Flush every interval.
    Periodic,
    /// No disk.
    Memory,
}

impl Config {
    /// The broker settings these flags give (defaults for the rest).
    pub fn broker_config(&self) -> BrokerConfig {
        BrokerConfig {
            queue: QueueLimits {
                max_messages: self.max_queued_messages,
                max_bytes: self.max_queued_bytes,
            },
            ..BrokerConfig::default()
        }
    }

    /// The store mode for the configured durability.
    pub fn store_mode(&self) -> StoreMode {
        match self.durability {
            Durability::Sync => StoreMode::Sync,
            Durability::Periodic => StoreMode::Periodic {
                interval_ms: self.periodic_interval_ms.max(1),
            },
            Durability::Memory => StoreMode::Memory,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mqtt_listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: None,
            durability: Durability::Sync,
            periodic_interval_ms: 100,
            max_queued_messages: QueueLimits::default().max_messages,
            max_queued_bytes: QueueLimits::default().max_bytes,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_readme() {
        let parsed = Config::parse_from(["realtime-server"]);
        let default = Config::default();
        assert_eq!(parsed.mqtt_listen, default.mqtt_listen);
        assert_eq!(parsed.http_listen, default.http_listen);
        assert_eq!(parsed.mqtt_listen.to_string(), DEFAULT_MQTT_ADDR);
        assert_eq!(parsed.http_listen.to_string(), DEFAULT_HTTP_ADDR);
    }
}
