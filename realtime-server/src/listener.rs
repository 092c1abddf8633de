//! Listeners: MQTT over TCP and the HTTP listener that routes requests.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Config;
use crate::broker::{Broker, BrokerConfig};

/// A bound, not yet running server.
pub struct Server {
    mqtt: TcpListener,
    http: TcpListener,
    broker: Arc<Broker>,
}

impl Server {
    /// Binds every listener of `config`, with the default broker settings.
    pub async fn bind(config: &Config) -> io::Result<Self> {
        Self::bind_with(config, BrokerConfig::default()).await
    }

    /// Binds every listener of `config`; the broker runs with `broker`.
    pub async fn bind_with(config: &Config, broker: BrokerConfig) -> io::Result<Self> {
        let mqtt = TcpListener::bind(config.mqtt_listen).await?;
        let http = TcpListener::bind(config.http_listen).await?;
        let broker = Arc::new(Broker::new(broker));
        Ok(Self { mqtt, http, broker })
    }

    /// The broker this server runs.
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// The address the MQTT listener is bound to (useful with port 0).
    pub fn mqtt_addr(&self) -> io::Result<SocketAddr> {
        self.mqtt.local_addr()
    }

    /// The address the HTTP listener is bound to (useful with port 0).
    pub fn http_addr(&self) -> io::Result<SocketAddr> {
        self.http.local_addr()
    }

    /// Serves until `shutdown` turns `true`.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> io::Result<()> {
        let mqtt = tokio::spawn(crate::mqtt::listener::serve(
            self.mqtt,
            self.broker.clone(),
            shutdown.clone(),
        ));
        let timers = tokio::spawn(crate::mqtt::listener::run_timers(
            self.broker.clone(),
            shutdown.clone(),
        ));
        let sys = tokio::spawn(crate::sys::run(self.broker.clone(), shutdown.clone()));
        let http_config = Arc::new(crate::http::HttpConfig::default());
        let http = tokio::spawn(crate::http::serve(
            self.http,
            self.broker.clone(),
            http_config,
            shutdown.clone(),
        ));
        let _ = shutdown.changed().await;
        let _ = tokio::join!(mqtt, timers, sys, http);
        Ok(())
    }
}
