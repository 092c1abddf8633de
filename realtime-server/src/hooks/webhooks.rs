//! Event webhooks: each configured endpoint has a bounded queue and one task
//! that POSTs its events in order, signed ([`super::sign`]), each attempt under
//! a timeout, retried with exponential backoff a bounded number of times, then
//! dropped. Emitting never waits: a full queue drops the event at once. Every
//! outcome is counted (`realtime_webhook_*` in `/metrics`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::event::{EventKind, unix_ms};
use super::http_client::{Url, post_json};
use super::sign::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};
use crate::config::WebhookSettings;
use crate::metrics::Counter;

/// Counters of one endpoint.
#[derive(Debug, Default)]
pub struct EndpointMetrics {
    /// Events answered with 2xx.
    pub delivered: Counter,
    /// Attempts retried.
    pub retries: Counter,
    /// Events dropped after the last retry failed.
    pub failed: Counter,
    /// Events dropped because the queue was full.
    pub queue_full: Counter,
}

/// What one endpoint's task needs.
#[derive(Debug)]
struct Target {
    url: Url,
    secret: Vec<u8>,
    timeout: Duration,
    max_retries: u32,
    backoff: Duration,
    metrics: Arc<EndpointMetrics>,
}

struct Job {
    event: &'static str,
    id: u64,
    body: Arc<[u8]>,
}

/// One configured endpoint.
#[derive(Debug)]
struct Endpoint {
    url: String,
    events: u8,
    topics: Vec<String>,
    tx: mpsc::Sender<Job>,
    metrics: Arc<EndpointMetrics>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Job({} #{})", self.event, self.id)
    }
}

/// Every configured endpoint (none: every emit is a single load and return).
#[derive(Debug, Default)]
pub struct Webhooks {
    endpoints: Vec<Endpoint>,
    /// The union of the endpoints' event bits.
    mask: u8,
    next_id: AtomicU64,
}

impl Webhooks {
    /// Starts one task per endpoint (call inside a tokio runtime). Settings
    /// are validated by [`crate::Config::validate`]; an invalid one is an error.
    pub fn start(settings: &[WebhookSettings]) -> Result<Self, String> {
        let mut endpoints = Vec::new();
        let mut mask = 0;
        for s in settings {
            let url = Url::parse(&s.url)?;
            let mut events = 0;
            for e in &s.events {
                events |= EventKind::parse(e)
                    .ok_or_else(|| format!("unknown webhook event {e:?}"))?
                    .bit();
            }
            mask |= events;
            let metrics = Arc::new(EndpointMetrics::default());
            let (tx, rx) = mpsc::channel(s.queue_size.max(1));
            let target = Target {
                url,
                secret: s.secret.as_bytes().to_vec(),
                timeout: Duration::from_millis(s.timeout_ms.max(1)),
                max_retries: s.max_retries,
                backoff: Duration::from_millis(s.retry_backoff_ms),
                metrics: metrics.clone(),
            };
            tokio::spawn(run(target, rx));
            endpoints.push(Endpoint {
                url: s.url.clone(),
                events,
                topics: s.topics.clone(),
                tx,
                metrics,
            });
        }
        Ok(Self {
            endpoints,
            mask,
            next_id: AtomicU64::new(1),
        })
    }

    /// Whether any endpoint wants `kind`.
    pub fn wants(&self, kind: EventKind) -> bool {
        self.mask & kind.bit() != 0
    }

    /// Queues an event for every endpoint that wants it (for
    /// `message.published`, whose filters match `topic`). `build` makes the
    /// body (it runs at most once, only if some endpoint wants the event); an
    /// `id` and `timestamp_ms` are added to it. Never waits.
    pub fn emit(&self, kind: EventKind, topic: Option<&str>, build: impl FnOnce() -> Value) {
        if !self.wants(kind) {
            return;
        }
        let mut build = Some(build);
        let mut job: Option<(u64, Arc<[u8]>)> = None;
        for ep in &self.endpoints {
            if ep.events & kind.bit() == 0 {
                continue;
            }
            if let Some(topic) = topic
                && !ep
                    .topics
                    .iter()
                    .any(|f| mqtt_proto::topic::matches(f, topic))
            {
                continue;
            }
            let (id, body) = match &job {
                Some(j) => j.clone(),
                None => {
                    let id = self.next_id.fetch_add(1, Ordering::Relaxed);
                    let mut value = build.take().map_or(Value::Null, |b| b());
                    if let Some(o) = value.as_object_mut() {
                        o.insert("id".into(), json!(id));
                        o.insert("timestamp_ms".into(), json!(unix_ms(SystemTime::now())));
                    }
                    let body: Arc<[u8]> = serde_json::to_vec(&value).unwrap_or_default().into();
                    job = Some((id, body.clone()));
                    (id, body)
                }
            };
            let sent = ep.tx.try_send(Job {
                event: kind.label(),
                id,
                body,
            });
            if sent.is_err() {
                ep.metrics.queue_full.inc();
                let n = ep.metrics.queue_full.get();
                // Logged at powers of two: visible without flooding the log.
                if n.is_power_of_two() {
                    tracing::warn!(
                        endpoint = %ep.url,
                        event = kind.label(),
                        dropped = n,
                        "webhook queue full: event dropped"
                    );
                }
            }
        }
    }

    /// The endpoints' counters, for `/metrics`.
    pub fn render_metrics(&self, out: &mut String) {
        use std::fmt::Write as _;
        type Get = fn(&EndpointMetrics) -> &Counter;
        let families: [(&str, &str, Get); 4] = [
            (
                "realtime_webhook_delivered_total",
                "Webhook events answered with 2xx, by endpoint.",
                |m| &m.delivered,
            ),
            (
                "realtime_webhook_retries_total",
                "Webhook attempts retried after a failure, by endpoint.",
                |m| &m.retries,
            ),
            (
                "realtime_webhook_failed_total",
                "Webhook events dropped after their last retry failed, by endpoint.",
                |m| &m.failed,
            ),
            (
                "realtime_webhook_dropped_total",
                "Webhook events dropped because the endpoint's queue was full, by endpoint.",
                |m| &m.queue_full,
            ),
        ];
        for (name, help, get) in families {
            let _ = writeln!(out, "# HELP {name} {help}");
            let _ = writeln!(out, "# TYPE {name} counter");
            for ep in &self.endpoints {
                let url = ep.url.replace('\\', "\\\\").replace('"', "\\\"");
                let _ = writeln!(
                    out,
                    "{name}{{endpoint=\"{url}\"}} {}",
                    get(&ep.metrics).get()
                );
            }
        }
    }

    /// The counters of endpoint `index` (in configuration order).
    pub fn metrics(&self, index: usize) -> Option<&EndpointMetrics> {
        self.endpoints.get(index).map(|e| &*e.metrics)
    }
}

/// One endpoint's task: sends its events in order until every sender is gone.
async fn run(target: Target, mut rx: mpsc::Receiver<Job>) {
    while let Some(job) = rx.recv().await {
        let mut attempt = 0u32;
        loop {
            let now = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs());
            let mut headers = vec![
                (TIMESTAMP_HEADER, now.to_string()),
                ("x-realtime-event", job.event.to_string()),
                ("x-realtime-delivery", job.id.to_string()),
            ];
            if !target.secret.is_empty() {
                headers.push((SIGNATURE_HEADER, sign(&target.secret, now, &job.body)));
            }
            let why = match post_json(&target.url, &headers, &job.body, target.timeout).await {
                Ok(r) if (200..300).contains(&r.status) => {
                    target.metrics.delivered.inc();
                    break;
                }
                Ok(r) => format!("answered {}", r.status),
                Err(e) => e,
            };
            if attempt >= target.max_retries {
                target.metrics.failed.inc();
                tracing::warn!(endpoint = %target.url, event = job.event, id = job.id, attempts = attempt + 1, "webhook failed, event dropped: {why}");
                break;
            }
            target.metrics.retries.inc();
            tracing::debug!(endpoint = %target.url, event = job.event, id = job.id, attempt, "webhook attempt failed, retrying: {why}");
            let wait = target
                .backoff
                .saturating_mul(1u32 << attempt.min(16))
                .min(Duration::from_secs(60));
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }
}
