//! Counters shared by every connection: what `$SYS/` publishes and `/metrics` serves.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::broker::DropCause;

mod histogram;

pub use histogram::{BUCKETS as LATENCY_BUCKETS, Histogram};

/// Protocol versions as labelled in metrics: `3.1`, `3.1.1`, `5.0`, and `json`
/// for the `/ws` protocol.
pub const VERSION_LABELS: [&str; 4] = ["3.1", "3.1.1", "5.0", "json"];

/// The index of `version` in [`VERSION_LABELS`].
pub fn version_index(version: mqtt_proto::ProtocolVersion) -> usize {
    match version {
        mqtt_proto::ProtocolVersion::V3_1 => 0,
        mqtt_proto::ProtocolVersion::V3_1_1 => 1,
        mqtt_proto::ProtocolVersion::V5 => 2,
    }
}

/// The index of the `/ws` JSON protocol in [`VERSION_LABELS`].
pub const JSON_VERSION: usize = 3;

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
    /// Open connections parked now (idle, without a task: `conn::park`).
    pub connections_parked: std::sync::Arc<Counter>,
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
    /// Times a publisher paused reading because a subscriber's queue was full
    /// (back-pressure, `broker::pushback`).
    pub publisher_pauses: Counter,
    /// Connections closed because of a malformed packet or protocol error.
    pub protocol_errors: Counter,
    /// Clients connected now (CONNECT accepted; `/ws` upgraded), by transport
    /// ([`Transport::ALL`] order) and protocol version ([`VERSION_LABELS`]).
    pub clients: [[Counter; 4]; 4],
    /// Payload bytes of messages received, by QoS.
    pub payload_bytes_received: [Counter; 3],
    /// Payload bytes of messages sent, by QoS.
    pub payload_bytes_sent: [Counter; 3],
    /// Connections refused: over `max_connections`.
    pub refused_max_connections: Counter,
    /// Connections refused: over `max_connections_per_ip`.
    pub refused_max_connections_per_ip: Counter,
    /// TLS handshakes that failed or timed out.
    pub tls_handshake_failures: Counter,
    /// WebSocket connections opened (every route) without permessage-deflate.
    pub websocket_opened_plain: Counter,
    /// WebSocket connections opened (every route) with permessage-deflate (RFC 7692).
    pub websocket_opened_deflate: Counter,
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

    /// The gauge of connected clients of `transport` speaking `version`
    /// (an index of [`VERSION_LABELS`]).
    pub fn clients_of(&self, transport: Transport, version: usize) -> Option<&Counter> {
        let t = Transport::ALL.iter().position(|x| *x == transport)?;
        self.clients.get(t)?.get(version)
    }

    /// Counts a message received at `qos` with `payload` bytes.
    pub fn count_received(&self, qos: mqtt_proto::QoS, payload: usize) {
        self.received_at(qos).inc();
        let [q0, q1, q2] = &self.payload_bytes_received;
        match qos {
            mqtt_proto::QoS::AtMostOnce => q0,
            mqtt_proto::QoS::AtLeastOnce => q1,
            mqtt_proto::QoS::ExactlyOnce => q2,
        }
        .add(payload as u64);
    }

    /// Counts a message sent at `qos` with `payload` bytes.
    pub fn count_sent(&self, qos: mqtt_proto::QoS, payload: usize) {
        self.sent_at(qos).inc();
        let [q0, q1, q2] = &self.payload_bytes_sent;
        match qos {
            mqtt_proto::QoS::AtMostOnce => q0,
            mqtt_proto::QoS::AtLeastOnce => q1,
            mqtt_proto::QoS::ExactlyOnce => q2,
        }
        .add(payload as u64);
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

    /// The counter of WebSocket connections opened with (`true`) or without
    /// permessage-deflate.
    pub fn websocket_opened(&self, deflate: bool) -> &Counter {
        if deflate {
            &self.websocket_opened_deflate
        } else {
            &self.websocket_opened_plain
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
        "realtime_connections_parked",
        "gauge",
        "Open connections parked now: idle, held by one watcher without a task of their own.",
        &[(String::new(), m.connections_parked.get())],
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
        "realtime_publisher_pauses_total",
        "counter",
        "Times a publisher paused reading because a subscriber's queue was past its high-water mark.",
        &[(String::new(), m.publisher_pauses.get())],
    );
    family(
        "realtime_protocol_errors_total",
        "counter",
        "Connections closed for a malformed packet or protocol error.",
        &[(String::new(), m.protocol_errors.get())],
    );
    family(
        "realtime_websocket_opened_total",
        "counter",
        "WebSocket connections opened, by whether permessage-deflate was negotiated.",
        &[
            (
                "{permessage_deflate=\"false\"}".to_string(),
                m.websocket_opened_plain.get(),
            ),
            (
                "{permessage_deflate=\"true\"}".to_string(),
                m.websocket_opened_deflate.get(),
            ),
        ],
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
    let mut clients = Vec::new();
    for t in Transport::ALL {
        for (v, label) in VERSION_LABELS.iter().enumerate() {
            let n = m.clients_of(t, v).map_or(0, Counter::get);
            let applies = (t == Transport::WsJson) == (v == JSON_VERSION);
            if applies {
                clients.push((
                    format!("{{transport=\"{}\",version=\"{label}\"}}", t.label()),
                    n,
                ));
            }
        }
    }
    family(
        "realtime_clients",
        "gauge",
        "Clients connected now (CONNECT accepted), by transport and protocol version.",
        &clients,
    );
    family(
        "realtime_payload_bytes_received_total",
        "counter",
        "Payload bytes of messages received from clients, by QoS.",
        &qos(&m.payload_bytes_received),
    );
    family(
        "realtime_payload_bytes_sent_total",
        "counter",
        "Payload bytes of messages sent to clients, by QoS.",
        &qos(&m.payload_bytes_sent),
    );
    family(
        "realtime_connections_refused_total",
        "counter",
        "Connections closed at once because of a connection limit.",
        &[
            (
                "{cause=\"max_connections\"}".to_string(),
                m.refused_max_connections.get(),
            ),
            (
                "{cause=\"max_connections_per_ip\"}".to_string(),
                m.refused_max_connections_per_ip.get(),
            ),
        ],
    );
    family(
        "realtime_tls_handshake_failures_total",
        "counter",
        "TLS handshakes that failed or timed out.",
        &[(String::new(), m.tls_handshake_failures.get())],
    );
    let a = &broker.auth.metrics;
    family(
        "realtime_auth_total",
        "counter",
        "Authentication outcomes.",
        &[
            ("{result=\"success\"}".to_string(), a.succeeded.get()),
            (
                "{result=\"bad_credentials\"}".to_string(),
                a.bad_credentials.get(),
            ),
            (
                "{result=\"anonymous_refused\"}".to_string(),
                a.anonymous_refused.get(),
            ),
        ],
    );
    let accesses = [
        crate::auth::Access::Read,
        crate::auth::Access::Write,
        crate::auth::Access::Subscribe,
    ];
    let denied: Vec<(String, u64)> = accesses
        .iter()
        .map(|x| {
            (
                format!("{{access=\"{}\"}}", x.label()),
                a.denied_of(*x).get(),
            )
        })
        .collect();
    family(
        "realtime_acl_denied_total",
        "counter",
        "Requests and deliveries the ACL denied, by access.",
        &denied,
    );
    let depth = broker.queue_depths();
    family(
        "realtime_queued_messages",
        "gauge",
        "Messages waiting in session queues (not yet sent).",
        &[(String::new(), depth.queued as u64)],
    );
    family(
        "realtime_queued_bytes",
        "gauge",
        "Bytes waiting in session queues, counted against queue_memory_budget.",
        &[(String::new(), broker.queue_budget.used() as u64)],
    );
    family(
        "realtime_queue_memory_budget_bytes",
        "gauge",
        "The configured budget of all session queues together.",
        &[(String::new(), broker.queue_budget.limit() as u64)],
    );
    family(
        "realtime_inflight_messages",
        "gauge",
        "QoS 1/2 messages sent and not yet acknowledged, all sessions.",
        &[(String::new(), depth.inflight as u64)],
    );
    family(
        "realtime_queue_depth_max",
        "gauge",
        "The longest session queue, messages.",
        &[(String::new(), depth.longest as u64)],
    );
    if let Ok(runtime) = tokio::runtime::Handle::try_current() {
        family(
            "realtime_runtime_workers",
            "gauge",
            "Worker threads of the async runtime (runtime.worker_threads).",
            &[(String::new(), runtime.metrics().num_workers() as u64)],
        );
    }
    broker.hooks.webhooks.render_metrics(&mut out);
    if let Some(hook) = &broker.hooks.auth {
        hook.render_metrics(&mut out);
    }
    // Observed by the store's writer; without a store the family is empty.
    let no_store = Histogram::default();
    let commits = broker.store().map_or(&no_store, |s| s.commit_latency());
    out.push_str(&commits.render(
        "realtime_store_commit_seconds",
        "Durable store commit latency (submit of a group's oldest batch to durable).",
    ));
    out
}
