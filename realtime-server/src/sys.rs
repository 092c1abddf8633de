//! `$SYS/` topics: the broker's state published as retained messages, in
//! Mosquitto's names, so existing dashboards work. Not matched by `#` at the root
//! (MQTT-4.7.2-1).

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use mqtt_proto::{PublishProperties, QoS, Utf8Bytes};
use tokio::sync::watch;

use crate::broker::{Broker, Message};

/// Publishes the `$SYS/` topics once, now.
pub fn publish(broker: &Broker, now: Instant) {
    let m = &broker.metrics;
    let received: u64 = m.messages_received.iter().map(|c| c.get()).sum();
    let sent: u64 = m.messages_sent.iter().map(|c| c.get()).sum();
    let topics: [(&str, String); 11] = [
        (
            "$SYS/broker/version",
            format!("realtime-server {}", env!("CARGO_PKG_VERSION")),
        ),
        (
            "$SYS/broker/uptime",
            format!("{} seconds", now.duration_since(broker.started()).as_secs()),
        ),
        (
            "$SYS/broker/clients/connected",
            m.connections_now().to_string(),
        ),
        (
            "$SYS/broker/clients/total",
            broker.session_count().to_string(),
        ),
        ("$SYS/broker/messages/received", received.to_string()),
        ("$SYS/broker/messages/sent", sent.to_string()),
        (
            "$SYS/broker/bytes/received",
            m.bytes_received.get().to_string(),
        ),
        ("$SYS/broker/bytes/sent", m.bytes_sent.get().to_string()),
        (
            "$SYS/broker/subscriptions/count",
            broker.subscription_count().to_string(),
        ),
        (
            "$SYS/broker/retained messages/count",
            broker.retained_count().to_string(),
        ),
        (
            "$SYS/broker/messages/dropped",
            (m.dropped_queue_full.get() + m.dropped_expired.get() + m.dropped_too_large.get())
                .to_string(),
        ),
    ];
    for (topic, value) in topics {
        let message = Message::new(
            Utf8Bytes::from_static(topic),
            Bytes::from(value),
            QoS::AtMostOnce,
            true,
            PublishProperties::default(),
            None,
            now,
        );
        broker.publish(message, now);
    }
}

/// Publishes the `$SYS/` topics every `sys_interval` until shutdown.
pub async fn run(broker: Arc<Broker>, mut shutdown: watch::Receiver<bool>) {
    let Some(every) = broker.config().sys_interval else {
        return;
    };
    let mut ticker = tokio::time::interval(every);
    loop {
        tokio::select! {
            _ = ticker.tick() => publish(&broker, Instant::now()),
            _ = shutdown.changed() => return,
        }
    }
}
