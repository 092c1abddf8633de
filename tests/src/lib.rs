//! Shared harness for the integration tests: start the server (in-process or as
//! the release binary), find third-party peers, and fail loudly when one is missing.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

pub mod api;
pub mod diff;
pub mod gateway_peers;
pub mod mosquitto;
pub mod mqtt;
pub mod peer;
pub mod security;
pub mod tls;
pub mod ws;

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The workspace root (the parent of this crate's directory).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Returns the path of `program` on `PATH`, or panics with how to install it.
///
/// Interop tests call this instead of skipping: a missing peer is a failed test.
pub fn require_peer(program: &str, how_to_install: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path) {
        let candidate = dir.join(program);
        if candidate.is_file() {
            return candidate;
        }
    }
    panic!(
        "peer `{program}` is not installed (needed by this interop test): {how_to_install}; `scripts/test.sh` installs every peer"
    );
}

/// A free TCP port on 127.0.0.1 (bound and released; racy only against other processes).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Waits until something accepts TCP connections on 127.0.0.1:`port` (panics after 20 s).
pub fn wait_for_port(port: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "nothing listens on port {port}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The release server binary the interop tests start: `$REALTIME_SERVER_BIN`, else
/// `target/release/realtime-server` (built by `scripts/test.sh`).
pub fn server_binary() -> PathBuf {
    if let Some(bin) = std::env::var_os("REALTIME_SERVER_BIN") {
        return PathBuf::from(bin);
    }
    let bin = workspace_root().join("target/release/realtime-server");
    assert!(
        bin.is_file(),
        "{} is missing: run `cargo build --release -p realtime-server` (scripts/test.sh does)",
        bin.display()
    );
    bin
}

/// A server process started from the release binary on free loopback ports; killed on drop.
pub struct ServerProcess {
    child: Child,
    /// MQTT over TCP address.
    pub mqtt: SocketAddr,
    /// HTTP / WebSocket address.
    pub http: SocketAddr,
}

impl ServerProcess {
    /// Starts the server with `extra` arguments and waits until it accepts connections.
    ///
    /// The ports come from [`free_port`], which lets go of them before the server binds
    /// them: with tests running in parallel another process (a Mosquitto, another
    /// server) sometimes takes one first, and the server exits with "Address already in
    /// use". It is then started again on new ports, up to five times.
    pub fn start(extra: &[&str]) -> Self {
        for _ in 0..5 {
            let mqtt: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let http: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
            let child = Command::new(server_binary())
                .arg("--mqtt-listen")
                .arg(mqtt.to_string())
                .arg("--http-listen")
                .arg(http.to_string())
                .args(extra)
                .stdin(Stdio::null())
                .spawn()
                .expect("start realtime-server");
            let mut server = Self { child, mqtt, http };
            if server.wait_ready(Duration::from_secs(20)) {
                return server;
            }
        }
        panic!("realtime-server exited before listening five times (ports taken?)");
    }

    /// Whether the server listens within `limit` (panics if it neither listens nor
    /// exits by then); `false` if it exited first.
    fn wait_ready(&mut self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if std::net::TcpStream::connect(self.http).is_ok()
                && std::net::TcpStream::connect(self.mqtt).is_ok()
            {
                return true;
            }
            if let Ok(Some(_)) = self.child.try_wait() {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("realtime-server did not start listening within {limit:?}");
    }
}

impl ServerProcess {
    /// Kills the server with SIGKILL (no shutdown path runs) and reaps it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Sends one HTTP/1.1 GET and returns the status code and the body.
pub fn http_get(addr: SocketAddr, path: &str) -> (u16, String) {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no HTTP status in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

/// The default configuration with MQTT and HTTP on ephemeral loopback ports.
///
/// Connections park after 20 ms without anything to do (default 1 s), so the tests
/// that use it run their MQTT and WebSocket connections through parking and
/// resuming wherever they wait.
pub fn loopback_config() -> realtime_server::Config {
    let mut config = realtime_server::Config::default();
    config.listeners.mqtt.bind = "127.0.0.1:0".parse().unwrap();
    config.listeners.http.bind = "127.0.0.1:0".parse().unwrap();
    config.limits.park_after_ms = 20;
    config
}

/// A server running in-process on ephemeral loopback ports; stopped on drop.
pub struct InProcessServer {
    /// MQTT over TCP address.
    pub mqtt: SocketAddr,
    /// HTTP / WebSocket address.
    pub http: SocketAddr,
    /// The broker, for assertions on its state.
    pub broker: std::sync::Arc<realtime_server::broker::Broker>,
    /// MQTT over TLS address, when configured.
    pub mqtt_tls: Option<SocketAddr>,
    /// HTTPS address, when configured.
    pub https: Option<SocketAddr>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl InProcessServer {
    /// Starts a server with default settings on the current tokio runtime.
    pub async fn start() -> Self {
        Self::start_with(realtime_server::broker::BrokerConfig::default()).await
    }

    /// Starts a server with `broker` settings on the current tokio runtime.
    pub async fn start_with(broker: realtime_server::broker::BrokerConfig) -> Self {
        Self::start_config(loopback_config(), broker).await
    }

    /// Starts a server with `config` (its listeners as given) and `broker` settings.
    pub async fn start_config(
        config: realtime_server::Config,
        broker: realtime_server::broker::BrokerConfig,
    ) -> Self {
        let server = realtime_server::Server::bind_with(&config, broker)
            .await
            .unwrap();
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let this = Self {
            mqtt: server.mqtt_addr().unwrap(),
            http: server.http_addr().unwrap(),
            broker: server.broker().clone(),
            mqtt_tls: server.mqtt_tls_addr().ok(),
            https: server.https_addr().ok(),
            stop,
        };
        tokio::spawn(server.run(stopped));
        this
    }
}

impl Drop for InProcessServer {
    fn drop(&mut self) {
        let _ = self.stop.send(true);
    }
}
