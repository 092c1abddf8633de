//! Counters shared by every connection: what `$SYS/` publishes and `/metrics` serves.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::broker::DropCause;

/// A monotonically increasing or current-value counter.
#[derive(Debug, Default)]
pub struct Counter(AtomicU64);

impl Counter {
    /// Adds `n`.
    pub fn add(&self, n: u64) {
        self.0.fetch_add(n, Ordering::Relaxed);
    }

    /// Adds one.
    pub fn inc(&self) {
        self.add(1);
    }

    /// Subtracts one (for gauges).
    pub fn dec(&self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// Where a connection came from, for per-transport counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// MQTT over TCP.
    MqttTcp,
    /// MQTT over TLS.
    MqttTls,
    /// MQTT over WebSocket (`/mqtt`).
    MqttWs,
    /// The `/ws` JSON protocol.
    WsJson,
}

impl Transport {
    /// Every transport, for exporting.
    pub const ALL: [Transport; 4] = [Self::MqttTcp, Self::MqttTls, Self::MqttWs, Self::WsJson];

    /// A short label (`mqtt_tcp`, ...).
    pub fn label(self) -> &'static str {
        match self {
            Self::MqttTcp => "mqtt_tcp",
            Self::MqttTls => "mqtt_tls",
            Self::MqttWs => "mqtt_ws",
            Self::WsJson => "ws_json",
        }
    }
}

/// The broker's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Connections open now over MQTT/TCP.
    pub connections_mqtt_tcp: Counter,
    /// Connections open now over MQTT/TLS.
    pub connections_mqtt_tls: Counter,
    /// Connections open now over MQTT/WebSocket.
    pub connections_mqtt_ws: Counter,
    /// Connections open now over the `/ws` JSON protocol.
    pub connections_ws_json: Counter,
    /// Connections accepted since start.
    pub connections_total: Counter,
    /// Messages received, by QoS (0, 1, 2).
    pub messages_received: [Counter; 3],
    /// Messages sent, by QoS (0, 1, 2).
    pub messages_sent: [Counter; 3],
    /// Bytes read from clients.
    pub bytes_received: Counter,
    /// Bytes written to clients.
    pub bytes_sent: Counter,
    /// Messages dropped for a subscriber: queue full.
    pub dropped_queue_full: Counter,
    /// Messages dropped for a subscriber: expired (MQTT-3.3.2-5).
    pub dropped_expired: Counter,
    /// QoS 0 messages not queued for an offline session.
    pub dropped_offline_qos0: Counter,
    /// Messages too large for the subscriber's Maximum Packet Size (MQTT-3.1.2-25).
    pub dropped_too_large: Counter,
    /// Messages not delivered to a subscriber without the read right.
    pub dropped_not_authorized: Counter,
    /// Messages not queued because of the global queue memory budget.
    pub dropped_memory_budget: Counter,
    /// Messages published that matched no subscription.
    pub unrouted: Counter,
    /// Connections closed because of a malformed packet or protocol error.
    pub protocol_errors: Counter,
}

impl Metrics {
    /// The gauge of open connections for `transport`.
    pub fn connections_of(&self, transport: Transport) -> &Counter {
        match transport {
            Transport::MqttTcp => &self.connections_mqtt_tcp,
            Transport::MqttTls => &self.connections_mqtt_tls,
            Transport::MqttWs => &self.connections_mqtt_ws,
            Transport::WsJson => &self.connections_ws_json,
        }
    }

    /// The drop counter for `cause`.
    pub fn drop_of(&self, cause: DropCause) -> &Counter {
        match cause {
            DropCause::QueueFull => &self.dropped_queue_full,
            DropCause::Expired => &self.dropped_expired,
            DropCause::OfflineQos0 => &self.dropped_offline_qos0,
            DropCause::TooLargeForClient => &self.dropped_too_large,
            DropCause::NotAuthorized => &self.dropped_not_authorized,
            DropCause::MemoryBudget => &self.dropped_memory_budget,
        }
    }

    /// The counter of messages received at `qos`.
    pub fn received_at(&self, qos: mqtt_proto::QoS) -> &Counter {
        let [q0, q1, q2] = &self.messages_received;
        match qos {
            mqtt_proto::QoS::AtMostOnce => q0,
            mqtt_proto::QoS::AtLeastOnce => q1,
            mqtt_proto::QoS::ExactlyOnce => q2,
        }
    }

    /// The counter of messages sent at `qos`.
    pub fn sent_at(&self, qos: mqtt_proto::QoS) -> &Counter {
        let [q0, q1, q2] = &self.messages_sent;
        match qos {
            mqtt_proto::QoS::AtMostOnce => q0,
            mqtt_proto::QoS::AtLeastOnce => q1,
            mqtt_proto::QoS::ExactlyOnce => q2,
        }
    }

    /// Connections open now, all transports.
    pub fn connections_now(&self) -> u64 {
        Transport::ALL
            .iter()
            .map(|t| self.connections_of(*t).get())
            .sum()
    }
}

/// The metrics in the Prometheus text exposition format (`GET /metrics`).
pub fn prometheus(broker: &crate::broker::Broker) -> String {
    use std::fmt::Write as _;
    let m = &broker.metrics;
    let mut out = String::with_capacity(2048);
    let mut family = |name: &str, kind: &str, help: &str, samples: &[(String, u64)]| {
        let _ = writeln!(out, "# HELP {name} {help}");
        let _ = writeln!(out, "# TYPE {name} {kind}");
        for (labels, value) in samples {
            let _ = writeln!(out, "{name}{labels} {value}");
        }
    };
    let by_transport: Vec<(String, u64)> = Transport::ALL
        .iter()
        .map(|t| {
            (
                format!("{{transport=\"{}\"}}", t.label()),
                m.connections_of(*t).get(),
            )
        })
        .collect();
    family(
        "realtime_connections",
        "gauge",
        "Connections open now, by transport.",
        &by_transport,
    );
    family(
        "realtime_connections_total",
        "counter",
        "Connections accepted since start.",
        &[(String::new(), m.connections_total.get())],
    );
    let qos = |counters: &[Counter; 3]| -> Vec<(String, u64)> {
        counters
            .iter()
            .enumerate()
            .map(|(q, c)| (format!("{{qos=\"{q}\"}}"), c.get()))
            .collect()
    };
    family(
        "realtime_messages_received_total",
        "counter",
        "Messages received from clients, by QoS.",
        &qos(&m.messages_received),
    );
    family(
        "realtime_messages_sent_total",
        "counter",
        "Messages sent to clients, by QoS.",
        &qos(&m.messages_sent),
    );
    family(
        "realtime_bytes_received_total",
        "counter",
        "Bytes read from MQTT clients.",
        &[(String::new(), m.bytes_received.get())],
    );
    family(
        "realtime_bytes_sent_total",
        "counter",
        "Bytes written to clients.",
        &[(String::new(), m.bytes_sent.get())],
    );
    let drops = vec![
        (
            "{cause=\"queue_full\"}".to_string(),
            m.dropped_queue_full.get(),
        ),
        ("{cause=\"expired\"}".to_string(), m.dropped_expired.get()),
        (
            "{cause=\"offline_qos0\"}".to_string(),
            m.dropped_offline_qos0.get(),
        ),
        (
            "{cause=\"too_large\"}".to_string(),
            m.dropped_too_large.get(),
        ),
        (
            "{cause=\"not_authorized\"}".to_string(),
            m.dropped_not_authorized.get(),
        ),
        (
            "{cause=\"memory_budget\"}".to_string(),
            m.dropped_memory_budget.get(),
        ),
    ];
    family(
        "realtime_messages_dropped_total",
        "counter",
        "Messages dropped for a subscriber, by cause.",
        &drops,
    );
    family(
        "realtime_messages_unrouted_total",
        "counter",
        "Messages that matched no subscription.",
        &[(String::new(), m.unrouted.get())],
    );
    family(
        "realtime_protocol_errors_total",
        "counter",
        "Connections closed for a malformed packet or protocol error.",
        &[(String::new(), m.protocol_errors.get())],
    );
    family(
        "realtime_sessions",
        "gauge",
        "Sessions, online and offline.",
        &[(String::new(), broker.session_count() as u64)],
    );
    family(
        "realtime_subscriptions",
        "gauge",
        "Subscriptions.",
        &[(String::new(), broker.subscription_count() as u64)],
    );
    family(
        "realtime_retained_messages",
        "gauge",
        "Retained messages.",
        &[(String::new(), broker.retained_count() as u64)],
    );
    out
}
