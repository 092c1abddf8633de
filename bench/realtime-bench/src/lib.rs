//! `realtime-bench`: a load generator for realtime-server and the systems users would
//! otherwise choose (Mosquitto, rumqttd, WebSocket echo servers).
//!
//! Every scenario speaks the wire through the workspace's own codecs (`mqtt-proto`,
//! `ws-proto`), measures latency from a send timestamp carried in the payload (an
//! HdrHistogram), reads the server's CPU time and RSS from `/proc/<pid>`, prints progress
//! on stderr once a second and returns one [`report::Report`], printed as one JSON line.
//!
//! | scenario | module |
//! |---|---|
//! | MQTT fan-in / fan-out, `/ws` broadcast, MQTT → `/ws` | [`pubsub`] |
//! | WebSocket echo (connections × size × in-flight window) | [`echo`] |
//! | connection storm and idle memory per connection | [`storm`] |
//!
//! ```no_run
//! # async fn run() -> realtime_bench::Result<()> {
//! use realtime_bench::pubsub::{PubSub, Proto};
//! let mut scenario = PubSub::fan_in("127.0.0.1:1883".parse()?, 4, 1);
//! scenario.duration = std::time::Duration::from_secs(2);
//! let report = realtime_bench::pubsub::run(&scenario).await?;
//! println!("{}", report.to_json_line());
//! # let _ = Proto::Mqtt;
//! # Ok(()) }
//! ```

pub mod clock;
pub mod echo;
pub mod latency;
pub mod mqtt;
pub mod net;
pub mod procstat;
pub mod progress;
pub mod pubsub;
pub mod report;
pub mod storm;
pub mod ws;

/// Any failure of a scenario: connection refused, protocol error, a server that
/// disconnected us, a malformed argument.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The result of a scenario step.
pub type Result<T> = std::result::Result<T, Error>;

/// An [`Error`] from a message.
pub fn error(message: impl Into<String>) -> Error {
    message.into().into()
}
