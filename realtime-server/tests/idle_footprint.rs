//! The memory an idle MQTT connection's task holds (issue 8: idle memory per
//! connection). Its future is allocated once per connection and lives as long as
//! the connection: a state that only closing needs, or an `async fn` argument kept
//! twice, costs every idle connection. This guards the layout, which a one-line
//! change can blow up (a 4 KiB drain buffer in the lingering close once made it
//! 6 KiB and an idle connection 8.8 KiB of RSS instead of 3.3).

use std::sync::Arc;

use realtime_server::broker::Broker;
use realtime_server::conn::tcp::DriverConfig;
use realtime_server::metrics::Transport;
use realtime_server::mqtt::listener::serve_connection;

/// Measured 920 bytes (Rust 1.95, release and debug alike); the bound leaves room
/// for compiler layout changes, not for a buffer.
const MAX_FUTURE_BYTES: usize = 1536;

#[tokio::test]
async fn idle_mqtt_connection_future_stays_small() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let client = tokio::net::TcpStream::connect(listener.local_addr().unwrap())
        .await
        .unwrap();
    let (stream, peer) = listener.accept().await.unwrap();
    let broker = Arc::new(Broker::new(Default::default()));
    let (_stop, shutdown) = tokio::sync::watch::channel(false);
    let config = Arc::new(DriverConfig::default());
    let future = serve_connection(
        stream,
        peer,
        Transport::MqttTcp,
        broker,
        Default::default(),
        shutdown,
        config,
        |_| {},
    );
    let size = std::mem::size_of_val(&future);
    assert!(
        size <= MAX_FUTURE_BYTES,
        "an MQTT connection's future is {size} bytes (bound {MAX_FUTURE_BYTES})"
    );
    drop((future, client));
}
