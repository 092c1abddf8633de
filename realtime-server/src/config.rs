//! Server configuration: embedded defaults, overridden by CLI flags.

use std::net::SocketAddr;

use clap::Parser;

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
}

impl Default for Config {
    fn default() -> Self {
        Self {
            mqtt_listen: SocketAddr::from(([127, 0, 0, 1], 1883)),
            http_listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
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
