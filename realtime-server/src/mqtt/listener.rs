//! The MQTT-over-TCP listener: accepts connections and drives an
//! [`MqttConnection`] over each.

use std::sync::Arc;
use std::time::Instant;

use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};

use super::MqttConnection;
use crate::broker::Broker;
use crate::conn::tcp::{self, DriverConfig, Ended};
use crate::metrics::Transport;

/// Accepts MQTT connections on `listener` until `shutdown` turns true.
pub async fn serve(listener: TcpListener, broker: Arc<Broker>, shutdown: watch::Receiver<bool>) {
    let config = Arc::new(DriverConfig::default());
    let mut stop = shutdown.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                // Out of file descriptors and the like: back off instead of spinning.
                tracing::warn!(%err, "accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let wake = Arc::new(Notify::new());
        let conn = MqttConnection::new(
            broker.clone(),
            Transport::MqttTcp,
            peer,
            wake.clone(),
            Instant::now(),
        );
        let shutdown = shutdown.clone();
        let config = config.clone();
        tokio::spawn(async move {
            match tcp::drive(stream, conn, wake, shutdown, &config).await {
                Ended::Io(err) => {
                    tracing::debug!(%peer, %err, "mqtt connection ended by an I/O error")
                }
                Ended::LingerExpired => {
                    tracing::debug!(%peer, "mqtt connection closed with unsent output")
                }
                Ended::Closed | Ended::PeerClosed => {}
            }
        });
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
