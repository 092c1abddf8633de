//! `realtime-bench`: the load generator's command line. Each subcommand runs one
//! scenario, prints progress on stderr and one JSON line with the result on stdout.
//!
//! ```text
//! realtime-bench fanin  --mqtt 127.0.0.1:1883 --publishers 4 --subscribers 1 --qos 1 --server-pid PID
//! realtime-bench fanout --subscribers 100 --rate 1000
//! realtime-bench ws-echo --url ws://127.0.0.1:8080/echo --connections 100 --size 16 --window 16
//! realtime-bench ws-broadcast --ws-url ws://127.0.0.1:8080/ws --subscribers 100 --rate 100
//! realtime-bench cross --ws-url ws://127.0.0.1:8080/ws --subscribers 100 --rate 100
//! realtime-bench storm --kind mixed --connections 40000 --ws-url ws://127.0.0.1:8080/ws
//! ```

use std::net::{Ipv4Addr, SocketAddr};
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use realtime_bench::echo::Echo;
use realtime_bench::pubsub::{self, Proto, PubSub};
use realtime_bench::storm::{self, Kind, Shard, Storm};
use realtime_bench::ws::WsUrl;
use realtime_bench::{Result, mqtt};

#[derive(Debug, Parser)]
#[command(
    name = "realtime-bench",
    version,
    about = "Load generator for MQTT brokers and WebSocket servers"
)]
struct Cli {
    /// Client runtime worker threads (the client shares the machine with the server).
    #[arg(long, global = true, default_value_t = 1)]
    threads: usize,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// N MQTT publishers, as fast as flow control allows → M MQTT subscribers.
    Fanin(PubSubArgs),
    /// One MQTT publisher at a fixed rate → M MQTT subscribers.
    Fanout(PubSubArgs),
    /// A `/ws` JSON publisher at a fixed rate → M `/ws` JSON subscribers.
    WsBroadcast(PubSubArgs),
    /// An MQTT publisher at a fixed rate → M `/ws` JSON subscribers.
    Cross(PubSubArgs),
    /// WebSocket echo: connections × size × in-flight window against a ws:// URL.
    WsEcho(EchoArgs),
    /// Connection storm, then the server's idle memory per connection.
    Storm(StormArgs),
    /// (internal) One process of a storm.
    #[command(hide = true)]
    StormWorker(WorkerArgs),
}

#[derive(Debug, Args)]
struct Common {
    /// The server's pid: its CPU seconds and RSS are read from /proc/PID.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Connections bound to each source address (127.x.y.z) before the next one.
    #[arg(long, default_value_t = 5000)]
    per_address: u32,
    /// No progress lines on stderr.
    #[arg(long)]
    quiet: bool,
}

#[derive(Debug, Args)]
struct PubSubArgs {
    /// MQTT listener.
    #[arg(long, default_value = "127.0.0.1:1883")]
    mqtt: SocketAddr,
    /// The `/ws` JSON endpoint (ws-broadcast, cross).
    #[arg(long)]
    ws_url: Option<String>,
    /// Publishers [fanin: 4; others: 1].
    #[arg(long)]
    publishers: Option<usize>,
    /// Subscribers [fanin: 1; others: 100].
    #[arg(long)]
    subscribers: Option<usize>,
    /// QoS of publishes and subscriptions (`/ws`: 0 or 1).
    #[arg(long, default_value_t = 0)]
    qos: u8,
    /// Payload bytes (at least 16, the timestamp).
    #[arg(long, default_value_t = 64)]
    size: usize,
    /// Messages per second per publisher, 0 = as fast as flow control allows
    /// [fanin: 0; others: 1000].
    #[arg(long)]
    rate: Option<f64>,
    /// QoS 1/2 messages in flight per publisher.
    #[arg(long, default_value_t = 64)]
    window: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Longest wait in seconds for queued messages after the measured window.
    #[arg(long, default_value_t = 5.0)]
    drain: f64,
    /// MQTT version: 3 (3.1.1) or 5.
    #[arg(long, default_value_t = 3)]
    mqtt_version: u8,
    /// MQTT subscribers keep their session: Session Expiry Interval in seconds (v5),
    /// Clean Session 0 (v3.1.1) when above 0; with a durable store the server then
    /// writes every QoS 1/2 delivery to them (the cost `sync` durability adds).
    #[arg(long, default_value_t = 0)]
    session_expiry: u32,
    /// Pin the MQTT publishers' socket send buffer (SO_SNDBUF, bytes; the kernel
    /// doubles it) instead of Linux's autotuning up to net.ipv4.tcp_wmem's maximum:
    /// with a flooding QoS 0 publisher, that buffer is where most of the latency
    /// waits, whatever the server does.
    #[arg(long)]
    pub_send_buffer: Option<u32>,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct EchoArgs {
    /// The echo endpoint, e.g. ws://127.0.0.1:8080/echo.
    #[arg(long)]
    url: String,
    /// Connections.
    #[arg(long, default_value_t = 100)]
    connections: usize,
    /// Message bytes (at least 16).
    #[arg(long, default_value_t = 16)]
    size: usize,
    /// Messages in flight per connection.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Seconds measured.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct StormArgs {
    /// mqtt, ws or mixed (alternating).
    #[arg(long, default_value = "mqtt")]
    kind: String,
    /// MQTT listener.
    #[arg(long, default_value = "127.0.0.1:1883")]
    mqtt: SocketAddr,
    /// WebSocket endpoint for ws / mixed.
    #[arg(long)]
    ws_url: Option<String>,
    /// Connections in total.
    #[arg(long, default_value_t = 10_000)]
    connections: usize,
    /// Client processes (0: as few as the 20,000 open files per process allow).
    #[arg(long, default_value_t = 0)]
    processes: usize,
    /// Setups in progress at once per process.
    #[arg(long, default_value_t = 64)]
    concurrency: usize,
    /// Seconds to wait after the last connection before reading the server's RSS.
    #[arg(long, default_value_t = 3.0)]
    settle: f64,
    #[command(flatten)]
    common: Common,
}

#[derive(Debug, Args)]
struct WorkerArgs {
    #[arg(long)]
    kind: String,
    #[arg(long)]
    mqtt: SocketAddr,
    #[arg(long)]
    ws_url: Option<String>,
    #[arg(long)]
    offset: u64,
    #[arg(long)]
    count: usize,
    #[arg(long)]
    first_source: Ipv4Addr,
    #[arg(long)]
    per_address: u32,
    #[arg(long)]
    concurrency: usize,
}

fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.0))
}

fn ws_url(url: &Option<String>) -> Result<Option<WsUrl>> {
    url.as_deref().map(str::parse).transpose()
}

fn pubsub_scenario(name: &str, a: &PubSubArgs) -> Result<PubSub> {
    let fanin = name == "fanin";
    let (pub_proto, sub_proto) = match name {
        "ws-broadcast" => (Proto::WsJson, Proto::WsJson),
        "cross" => (Proto::Mqtt, Proto::WsJson),
        _ => (Proto::Mqtt, Proto::Mqtt),
    };
    let mut s = PubSub::fan_in(
        a.mqtt,
        a.publishers.unwrap_or(if fanin { 4 } else { 1 }),
        a.subscribers.unwrap_or(if fanin { 1 } else { 100 }),
    );
    s.name = name.to_string();
    s.ws = ws_url(&a.ws_url)?;
    s.pub_proto = pub_proto;
    s.sub_proto = sub_proto;
    s.qos = mqtt::qos_from_arg(a.qos)?;
    s.size = a.size;
    s.rate = a.rate.unwrap_or(if fanin { 0.0 } else { 1000.0 });
    s.window = a.window;
    s.duration = seconds(a.duration);
    s.drain = seconds(a.drain);
    s.version = mqtt::version_from_arg(a.mqtt_version)?;
    s.session_expiry = a.session_expiry;
    s.pub_send_buffer = a.pub_send_buffer;
    s.server_pid = a.common.server_pid;
    s.per_address = a.common.per_address;
    s.progress = !a.common.quiet;
    Ok(s)
}

async fn run(command: Command) -> Result<()> {
    let report = match command {
        Command::Fanin(a) => pubsub::run(&pubsub_scenario("fanin", &a)?).await?,
        Command::Fanout(a) => pubsub::run(&pubsub_scenario("fanout", &a)?).await?,
        Command::WsBroadcast(a) => pubsub::run(&pubsub_scenario("ws-broadcast", &a)?).await?,
        Command::Cross(a) => pubsub::run(&pubsub_scenario("cross", &a)?).await?,
        Command::WsEcho(a) => {
            let e = Echo {
                url: a.url.parse()?,
                connections: a.connections,
                size: a.size,
                window: a.window,
                duration: seconds(a.duration),
                server_pid: a.common.server_pid,
                per_address: a.common.per_address,
                progress: !a.common.quiet,
            };
            realtime_bench::echo::run(&e).await?
        }
        Command::Storm(a) => {
            let s = Storm {
                kind: Kind::parse(&a.kind)?,
                mqtt: a.mqtt,
                ws: ws_url(&a.ws_url)?,
                connections: a.connections,
                processes: a.processes,
                concurrency: a.concurrency,
                per_address: a.common.per_address,
                settle: seconds(a.settle),
                server_pid: a.common.server_pid,
            };
            storm::run(&s).await?
        }
        Command::StormWorker(a) => {
            let shard = Shard {
                kind: Kind::parse(&a.kind)?,
                mqtt: a.mqtt,
                ws: ws_url(&a.ws_url)?,
                offset: a.offset,
                count: a.count,
                sources: storm::sources_from_args(a.first_source, a.per_address),
                concurrency: a.concurrency,
            };
            return storm::worker(&shard).await;
        }
    };
    println!("{}", report.to_json_line());
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cli.threads.max(1))
        .enable_all()
        .build();
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("realtime-bench: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli.command)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("realtime-bench: {e}");
            ExitCode::FAILURE
        }
    }
}
