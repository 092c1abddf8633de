//! Listeners: MQTT over TCP and the HTTP listener that routes requests.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::Config;
use crate::broker::{Broker, BrokerConfig};
use crate::store::{Store, StoreOptions};

/// A bound, not yet running server.
pub struct Server {
    mqtt: TcpListener,
    http: TcpListener,
    broker: Arc<Broker>,
}

impl Server {
    /// Binds every listener of `config`, with the broker settings it gives.
    pub async fn bind(config: &Config) -> io::Result<Self> {
        Self::bind_with(config, config.broker_config()).await
    }

    /// Binds every listener of `config`; the broker runs with `broker`. With a
    /// data directory, the store is opened and the broker's state recovered from
    /// it before anything is accepted.
    pub async fn bind_with(config: &Config, broker: BrokerConfig) -> io::Result<Self> {
        let broker = match &config.data_dir {
            None => Arc::new(Broker::new(broker)),
            Some(dir) => {
                let options = StoreOptions {
                    mode: config.store_mode(),
                    ..StoreOptions::default()
                };
                let dir = dir.clone();
                let (store, snapshot) = tokio::task::spawn_blocking(move || {
                    let store = Store::open(&dir, options)?;
                    let snapshot = store.load()?;
                    Ok::<_, crate::store::StoreError>((store, snapshot))
                })
                .await
                .map_err(io::Error::other)?
                .map_err(io::Error::other)?;
                let broker = Arc::new(Broker::with_store(broker, store));
                broker.recover(snapshot, std::time::Instant::now());
                broker
            }
        };
        let mqtt = TcpListener::bind(config.mqtt_listen).await?;
        let http = TcpListener::bind(config.http_listen).await?;
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
        if let Some(store) = self.broker.store() {
            // Connections were told to go; what they changed reaches the disk.
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            if let Err(err) = store.flush().await {
                tracing::error!(%err, "store flush at shutdown failed");
            }
        }
        Ok(())
    }
}
