//! Listeners: MQTT over TCP, MQTT over TLS, HTTP and HTTPS, one accept loop for
//! all of them. Each accepted connection gets a place from the connection
//! limiter first (refused ones are closed at once, or answered 503 on HTTP),
//! then — for TLS — its handshake within the handshake timeout, then its
//! protocol, inside a tracing span with its peer address, transport and client id.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::Instrument;

use crate::Config;
use crate::auth::{Auth, AuthFiles, ListenerPolicy};
use crate::broker::{Broker, BrokerConfig};
use crate::conn::limit::{ConnLimiter, Refused};
use crate::conn::park::Parking;
use crate::http::HttpConfig;
use crate::metrics::Transport;
use crate::store::Store;
use crate::tls::TlsAcceptor;

/// What a listener serves.
#[derive(Clone)]
enum Kind {
    Mqtt(ListenerPolicy),
    MqttTls(ListenerPolicy, TlsAcceptor),
    Http(Arc<HttpConfig>),
    Https(Arc<HttpConfig>, TlsAcceptor),
}

struct Bound {
    name: &'static str,
    listener: TcpListener,
    kind: Kind,
}

/// A bound, not yet running server.
pub struct Server {
    listeners: Vec<Bound>,
    broker: Arc<Broker>,
    limiter: Arc<ConnLimiter>,
    parking: Parking,
    config: Config,
}

/// Binds a TCP listener on `addr` like [`TcpListener::bind`] (`SO_REUSEADDR`), with
/// the accepted connections' receive buffer set to `recv_buffer` bytes unless 0.
/// Set on the listening socket, it is inherited by every accepted socket and sizes
/// the window scale offered in the handshake.
fn bind_tcp(addr: SocketAddr, recv_buffer: u32) -> io::Result<TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    if recv_buffer > 0 {
        socket.set_recv_buffer_size(recv_buffer)?;
    }
    socket.bind(addr)?;
    socket.listen(1024)
}

fn other(e: impl std::fmt::Display) -> io::Error {
    io::Error::other(e.to_string())
}

impl Server {
    /// Binds every listener of `config`, with its broker settings.
    pub async fn bind(config: &Config) -> io::Result<Self> {
        Self::bind_with(config, config.broker_config()).await
    }

    /// Binds every listener of `config`; the broker runs with `broker`. With a
    /// data directory, the store is opened and the broker's state recovered from
    /// it before anything is accepted.
    pub async fn bind_with(config: &Config, broker: BrokerConfig) -> io::Result<Self> {
        let mut auth = Auth::new(config.auth.max_concurrent_verifications);
        auth.scram = config.auth.scram;
        auth.configure(AuthFiles {
            password_file: config.auth.password_file.clone(),
            acl_file: config.auth.acl_file.clone(),
        })
        .map_err(other)?;
        let (mut broker, snapshot) = match &config.store.data_dir {
            // `memory` durability with a data directory still runs the store (in
            // memory): that is how its cost is measured.
            Some(dir) => {
                let options = config.store.options();
                let dir = dir.clone();
                let (store, snapshot) = tokio::task::spawn_blocking(move || {
                    let store = Store::open(&dir, options)?;
                    let snapshot = store.load()?;
                    Ok::<_, crate::store::StoreError>((store, snapshot))
                })
                .await
                .map_err(io::Error::other)?
                .map_err(io::Error::other)?;
                (Broker::with_store(broker, store), Some(snapshot))
            }
            _ => (Broker::new(broker), None),
        };
        broker.auth = Arc::new(auth);
        broker.hooks = Arc::new(crate::hooks::Hooks {
            clients: Default::default(),
            webhooks: crate::hooks::Webhooks::start(&config.webhooks).map_err(other)?,
            auth: crate::hooks::AuthWebhook::new(&config.auth_webhook)
                .map_err(other)?
                .map(Arc::new),
        });
        let broker = Arc::new(broker);
        if let Some(snapshot) = snapshot {
            broker.recover(snapshot, std::time::Instant::now());
        }
        let l = &config.listeners;
        let mut listeners = Vec::new();
        let parking = Parking::with_gauge(broker.metrics.connections_parked.clone())?;
        let mut http = config.http_config();
        http.driver = Arc::new(crate::conn::tcp::DriverConfig {
            parking: Some(parking.clone()),
            ..(*http.driver).clone()
        });
        let http = Arc::new(http);
        if l.mqtt.enabled {
            listeners.push(Bound {
                name: "mqtt",
                listener: bind_tcp(l.mqtt.bind, config.limits.mqtt_recv_buffer)?,
                kind: Kind::Mqtt(ListenerPolicy {
                    allow_anonymous: l.mqtt.allows_anonymous(),
                    max_publish_rate: config.limits.max_publish_rate,
                }),
            });
        }
        if l.http.enabled {
            listeners.push(Bound {
                name: "http",
                listener: TcpListener::bind(l.http.bind).await?,
                kind: Kind::Http(http.clone()),
            });
        }
        if let Some(t) = l.mqtt_tls.as_ref().filter(|t| t.enabled) {
            let acceptor = crate::tls::acceptor(t).map_err(other)?;
            listeners.push(Bound {
                name: "mqtt_tls",
                listener: bind_tcp(t.bind, config.limits.mqtt_recv_buffer)?,
                kind: Kind::MqttTls(
                    ListenerPolicy {
                        allow_anonymous: t.allows_anonymous(),
                        max_publish_rate: config.limits.max_publish_rate,
                    },
                    acceptor,
                ),
            });
        }
        if let Some(t) = l.https.as_ref().filter(|t| t.enabled) {
            let acceptor = crate::tls::acceptor(t).map_err(other)?;
            let mut https = config.http_config();
            https.auth.allow_anonymous = t.allows_anonymous();
            listeners.push(Bound {
                name: "https",
                listener: TcpListener::bind(t.bind).await?,
                kind: Kind::Https(Arc::new(https), acceptor),
            });
        }
        let limiter = ConnLimiter::new(
            config.limits.max_connections,
            config.limits.max_connections_per_ip,
        );
        Ok(Self {
            listeners,
            broker,
            limiter,
            parking,
            config: config.clone(),
        })
    }

    /// The broker this server runs.
    pub fn broker(&self) -> &Arc<Broker> {
        &self.broker
    }

    /// The connection limiter (open connections, refusals).
    pub fn limiter(&self) -> &Arc<ConnLimiter> {
        &self.limiter
    }

    /// Where idle connections park (how many are parked now).
    pub fn parking(&self) -> &Parking {
        &self.parking
    }

    fn addr_of(&self, name: &str) -> io::Result<SocketAddr> {
        self.listeners
            .iter()
            .find(|b| b.name == name)
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, format!("no {name} listener")))?
            .listener
            .local_addr()
    }

    /// The address the MQTT listener is bound to (useful with port 0).
    pub fn mqtt_addr(&self) -> io::Result<SocketAddr> {
        self.addr_of("mqtt")
    }

    /// The address the HTTP listener is bound to (useful with port 0).
    pub fn http_addr(&self) -> io::Result<SocketAddr> {
        self.addr_of("http")
    }

    /// The address of the MQTT over TLS listener.
    pub fn mqtt_tls_addr(&self) -> io::Result<SocketAddr> {
        self.addr_of("mqtt_tls")
    }

    /// The address of the HTTPS listener.
    pub fn https_addr(&self) -> io::Result<SocketAddr> {
        self.addr_of("https")
    }

    /// Every listener's name and address.
    pub fn addresses(&self) -> Vec<(&'static str, SocketAddr)> {
        self.listeners
            .iter()
            .filter_map(|b| b.listener.local_addr().ok().map(|a| (b.name, a)))
            .collect()
    }

    /// Serves until `shutdown` turns `true`: the listeners stop accepting, every
    /// connection is told (DISCONNECT 0x8B, close 1001) and has up to
    /// `limits.shutdown_timeout_ms` to finish.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) -> io::Result<()> {
        let broker = self.broker.clone();
        let timers = tokio::spawn(crate::mqtt::listener::run_timers(
            broker.clone(),
            shutdown.clone(),
        ));
        let sys = tokio::spawn(crate::sys::run(broker.clone(), shutdown.clone()));
        let parking = {
            let parking = self.parking.clone();
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                if let Err(err) = parking.run(shutdown).await {
                    tracing::error!(%err, "parked connections' watcher failed; none parks any more");
                }
            })
        };
        let mut driver = self.config.driver_config();
        driver.parking = Some(self.parking.clone());
        let driver = Arc::new(driver);
        let handshake = Duration::from_millis(self.config.tls.handshake_timeout_ms);
        let mut accepting = Vec::new();
        for bound in self.listeners {
            accepting.push(tokio::spawn(accept_loop(
                bound,
                broker.clone(),
                self.limiter.clone(),
                driver.clone(),
                handshake,
                shutdown.clone(),
            )));
        }
        let _ = shutdown.changed().await;
        for task in accepting {
            let _ = task.await;
        }
        let _ = tokio::join!(timers, sys, parking);
        let grace = Duration::from_millis(self.config.limits.shutdown_timeout_ms);
        if !self.limiter.wait_idle(grace).await {
            tracing::warn!(
                open = self.limiter.open(),
                "connections still open after the shutdown timeout"
            );
        }
        if let Some(store) = self.broker.store() {
            // Connections were told to go; what they changed reaches the disk.
            if let Err(err) = store.flush().await {
                tracing::error!(%err, "store flush at shutdown failed");
            }
        }
        Ok(())
    }

    /// Serves until SIGTERM or SIGINT (then shuts down as [`Server::run`] does);
    /// SIGHUP reloads the password and ACL files.
    pub async fn run_until_signal(self) -> io::Result<()> {
        let (tx, rx) = watch::channel(false);
        let broker = self.broker.clone();
        let signals = tokio::spawn(async move {
            crate::signals::until_terminated(&broker).await;
            let _ = tx.send(true);
        });
        let result = self.run(rx).await;
        signals.abort();
        result
    }
}

async fn accept_loop(
    bound: Bound,
    broker: Arc<Broker>,
    limiter: Arc<ConnLimiter>,
    driver: Arc<crate::conn::tcp::DriverConfig>,
    handshake: Duration,
    shutdown: watch::Receiver<bool>,
) {
    let mut stop = shutdown.clone();
    let name = bound.name;
    loop {
        let accepted = tokio::select! {
            accepted = bound.listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let (mut stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(listener = name, %err, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let permit = match limiter.try_acquire(peer.ip()) {
            Ok(permit) => permit,
            Err(refused) => {
                tracing::info!(listener = name, %peer, limit = refused.label(), "connection refused");
                match refused {
                    Refused::MaxConnections => broker.metrics.refused_max_connections.inc(),
                    Refused::MaxConnectionsPerIp => {
                        broker.metrics.refused_max_connections_per_ip.inc()
                    }
                }
                if matches!(bound.kind, Kind::Http(_)) {
                    // Plain HTTP can be told why; nothing is read first.
                    tokio::spawn(async move {
                        let _ = tokio::time::timeout(
                            Duration::from_secs(1),
                            stream.write_all(b"HTTP/1.1 503 Service Unavailable\r\ncontent-length: 0\r\nconnection: close\r\nretry-after: 1\r\n\r\n"),
                        )
                        .await;
                    });
                }
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let transport = match &bound.kind {
            Kind::Mqtt(_) => Transport::MqttTcp.label(),
            Kind::MqttTls(..) => Transport::MqttTls.label(),
            Kind::Http(_) => "http",
            Kind::Https(..) => "https",
        };
        let span = tracing::info_span!("conn", %peer, transport, client_id = tracing::field::Empty);
        let work = serve_one(
            stream,
            peer,
            bound.kind.clone(),
            broker.clone(),
            driver.clone(),
            handshake,
            shutdown.clone(),
            permit,
        );
        tokio::spawn(work.instrument(span));
    }
}

/// Serves one accepted connection; `permit` (its place under the connection limits)
/// is released when it ends.
///
/// Not an `async fn`, and awaited by nothing but the task: an `async fn` keeps
/// its arguments twice (captured, and moved into locals), and a wrapping `async`
/// block keeps the future it awaits twice (captured, and moved into the awaited
/// slot). Every idle connection's task would carry both copies.
#[allow(clippy::too_many_arguments, clippy::manual_async_fn)]
fn serve_one(
    stream: TcpStream,
    peer: SocketAddr,
    kind: Kind,
    broker: Arc<Broker>,
    driver: Arc<crate::conn::tcp::DriverConfig>,
    handshake: Duration,
    shutdown: watch::Receiver<bool>,
    permit: crate::conn::limit::ConnPermit,
) -> impl Future<Output = ()> + Send {
    async move {
        match kind {
            Kind::Mqtt(auth) => {
                // Boxed: the task then holds only the arm that runs, not the largest
                // of them (a TLS or HTTP arm is ~20 KiB). The connection may park
                // while idle, ending this task; `permit` goes with it and is
                // released when the connection ends, on whichever task that is.
                Box::pin(crate::mqtt::listener::serve_connection(
                    stream,
                    peer,
                    Transport::MqttTcp,
                    broker,
                    auth,
                    shutdown,
                    driver,
                    move |ended| {
                        crate::mqtt::listener::log_ended(ended);
                        drop(permit);
                    },
                ))
                .await;
            }
            Kind::MqttTls(auth, acceptor) => {
                let Some(tls) = Box::pin(crate::tls::handshake(&acceptor, stream, handshake)).await
                else {
                    broker.metrics.tls_handshake_failures.inc();
                    return;
                };
                Box::pin(crate::mqtt::listener::serve_connection(
                    tls,
                    peer,
                    Transport::MqttTls,
                    broker,
                    auth,
                    shutdown,
                    driver,
                    move |ended| {
                        crate::mqtt::listener::log_ended(ended);
                        drop(permit);
                    },
                ))
                .await;
            }
            Kind::Http(config) => {
                if let Err(err) = Box::pin(crate::http::handle(
                    stream, peer, broker, config, shutdown, permit,
                ))
                .await
                {
                    tracing::debug!(%err, "http connection ended with an error");
                }
            }
            Kind::Https(config, acceptor) => {
                let Some(tls) = Box::pin(crate::tls::handshake(&acceptor, stream, handshake)).await
                else {
                    broker.metrics.tls_handshake_failures.inc();
                    return;
                };
                if let Err(err) = Box::pin(crate::http::handle(
                    tls, peer, broker, config, shutdown, permit,
                ))
                .await
                {
                    tracing::debug!(%err, "https connection ended with an error");
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `limits.mqtt_recv_buffer` reaches the accepted sockets: their receive buffer
    /// is the configured size (Linux reports it doubled), not the kernel default
    /// (`net.ipv4.tcp_rmem`'s middle value, 128 KiB here).
    #[tokio::test]
    async fn mqtt_listener_sets_the_accepted_sockets_receive_buffer() {
        let listener = bind_tcp(SocketAddr::from(([127, 0, 0, 1], 0)), 16 * 1024).unwrap();
        let addr = listener.local_addr().unwrap();
        let client = TcpStream::connect(addr).await.unwrap();
        let (accepted, _) = listener.accept().await.unwrap();
        let socket = tokio::net::TcpSocket::from_std_stream(accepted.into_std().unwrap());
        let size = socket.recv_buffer_size().unwrap();
        assert!((16 * 1024..=32 * 1024).contains(&size), "SO_RCVBUF {size}");
        drop(client);
    }
}
