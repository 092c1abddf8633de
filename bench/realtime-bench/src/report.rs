//! One result: a flat JSON object printed as one line on stdout.

use serde_json::{Map, Value};

use crate::latency::Summary;
use crate::procstat::ProcSample;

/// The result of one scenario run.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    fields: Map<String, Value>,
}

impl Report {
    /// A report for `scenario` (e.g. `"fanin"`).
    pub fn new(scenario: &str) -> Self {
        let mut r = Self::default();
        r.set("scenario", scenario);
        r
    }

    /// Sets a field.
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.fields.insert(key.to_string(), value.into());
    }

    /// A field as a number.
    pub fn get_f64(&self, key: &str) -> Option<f64> {
        self.fields.get(key).and_then(Value::as_f64)
    }

    /// A field.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields.get(key)
    }

    /// Latency percentiles, in milliseconds, as `latency_p50_ms`, ...
    pub fn latency(&mut self, s: &Summary) {
        self.set("latency_samples", s.count);
        self.set("latency_p50_ms", round3(s.p50_ms));
        self.set("latency_p90_ms", round3(s.p90_ms));
        self.set("latency_p99_ms", round3(s.p99_ms));
        self.set("latency_p999_ms", round3(s.p999_ms));
        self.set("latency_max_ms", round3(s.max_ms));
    }

    /// The server's cost over the measured window: `server_cpu_s`, `server_rss_bytes`,
    /// and `per_server_cpu_s` (`work` divided by the CPU seconds).
    pub fn server(&mut self, before: Option<ProcSample>, after: Option<ProcSample>, work: f64) {
        let (Some(b), Some(a)) = (before, after) else {
            self.set("server_cpu_s", Value::Null);
            self.set("per_server_cpu_s", Value::Null);
            return;
        };
        let cpu = (a.cpu_s - b.cpu_s).max(0.0);
        self.set("server_cpu_s", round3(cpu));
        self.set("server_rss_bytes", a.rss);
        if cpu > 0.0 {
            self.set("per_server_cpu_s", (work / cpu).round());
        } else {
            self.set("per_server_cpu_s", Value::Null);
        }
    }

    /// This load generator's own CPU time over the window (the client shares the
    /// machine with the server).
    pub fn client(&mut self, before: Option<ProcSample>, after: Option<ProcSample>) {
        if let (Some(b), Some(a)) = (before, after) {
            self.set("client_cpu_s", round3((a.cpu_s - b.cpu_s).max(0.0)));
        }
    }

    /// The report as one line of JSON.
    pub fn to_json_line(&self) -> String {
        Value::Object(self.fields.clone()).to_string()
    }
}

/// `x` rounded to 3 decimals.
pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}
