//! Drives an [`MqttConnection`] over an accepted stream (TCP or TLS), and runs
//! the broker's timers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use tokio::sync::watch;

use super::MqttConnection;
use crate::auth::ListenerPolicy;
use crate::broker::Broker;
use crate::conn::Driven;
use crate::conn::tcp::{DriverConfig, Ended};
use crate::metrics::Transport;

/// Runs one MQTT connection from `peer` over `stream` until it ends or parks (see
/// [`Driven::drive_parkable`]); `tail` gets how it ended (see [`log_ended`]).
///
/// The connection state and the driver are built before the returned future runs,
/// and the future is the driver's own: an `async fn` would keep its arguments and
/// the connection next to the driver's copies for the connection's whole life.
#[allow(clippy::too_many_arguments)]
pub fn serve_connection<S: Driven, T: FnOnce(Ended) + Send + 'static>(
    stream: S,
    peer: SocketAddr,
    transport: Transport,
    broker: Arc<Broker>,
    auth: ListenerPolicy,
    shutdown: watch::Receiver<bool>,
    config: Arc<DriverConfig>,
    tail: T,
) -> impl Future<Output = ()> + Send {
    let wake = Arc::new(crate::conn::ConnWake::new());
    let conn = MqttConnection::new(broker, transport, peer, wake.clone(), Instant::now())
        .with_listener(auth);
    stream.drive_parkable(conn, bytes::BytesMut::new(), wake, shutdown, config, tail)
}

/// Logs why an MQTT connection's transport ended, when it is worth a line.
pub fn log_ended(ended: Ended) {
    match ended {
        Ended::Io(err) => tracing::debug!(%err, "mqtt connection ended by an I/O error"),
        Ended::LingerExpired => tracing::debug!("mqtt connection closed with unsent output"),
        Ended::Closed | Ended::PeerClosed => {}
    }
}

/// Runs the broker's timers (delayed Wills, session expiry) until shutdown.
pub async fn run_timers(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    loop {
        let next = broker.tick(Instant::now());
        let sleep = async {
            match next {
                Some(at) => tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = sleep => {}
            () = broker.timer_wake.notified() => {}
            _ = shutdown.changed() => return,
        }
    }
}
