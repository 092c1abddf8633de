//! Listeners: MQTT over TCP and the HTTP listener that routes requests.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::Config;
use crate::broker::{Broker, BrokerConfig};

/// Largest HTTP request head the server buffers before answering 431.
const MAX_REQUEST_HEAD: usize = 8 * 1024;

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
        loop {
            tokio::select! {
                accepted = self.http.accept() => {
                    let (stream, peer) = match accepted {
                        Ok(pair) => pair,
                        Err(err) => {
                            tracing::warn!(%err, "http accept failed");
                            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    tokio::spawn(async move {
                        if let Err(err) = serve_http(stream).await {
                            tracing::debug!(%peer, %err, "http connection ended with an error");
                        }
                    });
                }
                _ = shutdown.changed() => break,
            }
        }
        let _ = tokio::join!(mqtt, timers, sys);
        Ok(())
    }
}

async fn serve_http(mut stream: TcpStream) -> io::Result<()> {
    let mut buf = Vec::with_capacity(1024);
    loop {
        let mut chunk = [0u8; 1024];
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(chunk.get(..n).unwrap_or_default());
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut req = httparse::Request::new(&mut headers);
        let response: &[u8] = match req.parse(&buf) {
            Ok(httparse::Status::Complete(_)) => match (req.method, req.path) {
                (Some("GET"), Some("/healthz")) => {
                    b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 3\r\nconnection: close\r\n\r\nok\n"
                }
                _ => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
            },
            Ok(httparse::Status::Partial) if buf.len() <= MAX_REQUEST_HEAD => continue,
            Ok(httparse::Status::Partial) => {
                b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            }
            Err(_) => b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        };
        stream.write_all(response).await?;
        return stream.shutdown().await;
    }
}
