//! Smoke tests of the load generator, run by `cargo test --workspace` (and so by CI) so
//! that the tool cannot rot: a short fan-in at each QoS against an in-process
//! realtime-server, and a short WebSocket echo against ws-proto's tokio adapter. They
//! check that messages flowed and that the report carries its fields; no timing
//! asserts (the machine is shared).

// Helpers outside `#[test]` functions may unwrap too: they are test code.
#[cfg(test)]
mod smoke {
    use std::time::Duration;

    use realtime_bench::echo::{self, Echo};
    use realtime_bench::pubsub::{self, Proto, PubSub};
    use realtime_server::{Config, Server};
    use tokio::sync::watch;

    async fn start_server() -> (std::net::SocketAddr, watch::Sender<bool>) {
        let (mqtt, _http, stop) = start_server_http().await;
        (mqtt, stop)
    }

    async fn start_server_http() -> (
        std::net::SocketAddr,
        std::net::SocketAddr,
        watch::Sender<bool>,
    ) {
        let mut config = Config::default();
        config.listeners.mqtt.bind = "127.0.0.1:0".parse().unwrap();
        config.listeners.http.bind = "127.0.0.1:0".parse().unwrap();
        let server = Server::bind(&config).await.unwrap();
        let addr = server.mqtt_addr().unwrap();
        let http = server.http_addr().unwrap();
        let (stop, stopped) = watch::channel(false);
        tokio::spawn(server.run(stopped));
        (addr, http, stop)
    }

    /// The cross-protocol path (MQTT publisher → `/ws` JSON subscribers) and the `/ws`
    /// broadcast deliver every message (docs/ws-json-protocol.md: a `/ws` client sees
    /// what MQTT clients publish), with latencies read from the JSON payload.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ws_subscribers_receive_mqtt_and_ws_publishes() {
        let (mqtt, http, _stop) = start_server_http().await;
        for (name, pub_proto) in [("cross", Proto::Mqtt), ("ws-broadcast", Proto::WsJson)] {
            let mut s = PubSub::fan_in(mqtt, 1, 3);
            s.name = name.into();
            s.ws = Some(format!("ws://{http}/ws").parse().unwrap());
            s.pub_proto = pub_proto;
            s.sub_proto = Proto::WsJson;
            s.rate = 500.0;
            s.duration = Duration::from_millis(1000);
            s.progress = false;
            let r = pubsub::run(&s).await.unwrap();
            let line = r.to_json_line();
            assert!(r.get_f64("delivered").unwrap() > 0.0, "{name}: {line}");
            assert!(
                r.get_f64("latency_samples").unwrap() > 0.0,
                "{name}: {line}"
            );
            assert_eq!(r.get_f64("disconnects"), Some(0.0), "{name}: {line}");
        }
    }

    /// A fan-in at QoS 0 (paced), 1 and 2 (MQTT 4.3 flows, bounded in-flight window)
    /// delivers, accounts for what it sent and reads the server's CPU time from /proc
    /// (the server is this process).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn fanin_delivers_at_every_qos_and_reports() {
        let (addr, _stop) = start_server().await;
        for qos in [0u8, 1, 2] {
            let mut s = PubSub::fan_in(addr, 2, 2);
            s.qos = mqtt_proto::QoS::from_u8(qos).unwrap();
            s.rate = if qos == 0 { 2000.0 } else { 0.0 };
            s.window = 16;
            s.duration = Duration::from_millis(1500);
            s.drain = Duration::from_secs(10);
            s.server_pid = Some(std::process::id());
            s.progress = false;
            let r = pubsub::run(&s).await.unwrap();
            let line = r.to_json_line();
            let delivered = r.get_f64("delivered").unwrap();
            assert!(delivered > 0.0, "QoS {qos}: nothing delivered: {line}");
            assert!(r.get_f64("latency_samples").unwrap() > 0.0, "{line}");
            assert!(r.get_f64("server_cpu_s").is_some(), "{line}");
            if qos > 0 {
                // The window was used: the server acknowledged what was sent.
                assert!(r.get_f64("acked").unwrap() > 0.0, "{line}");
            }
            // The accounting adds up (what the server dropped for a slow subscriber,
            // by its queue policy, is reported as `lost`, not hidden).
            let expected = r.get_f64("expected").unwrap();
            assert_eq!(
                r.get_f64("lost").unwrap(),
                (expected - delivered).max(0.0),
                "{line}"
            );
            let parsed: serde_json::Value = serde_json::from_str(&line).unwrap();
            assert_eq!(parsed["scenario"], "fanin");
        }
    }

    /// The echo scenario round-trips messages through a WebSocket echo server
    /// (ws-proto's tokio adapter, RFC 6455 client frames masked).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn ws_echo_round_trips() {
        use ws_proto::Message;
        use ws_proto::handshake::server::ServerConfig;
        use ws_proto::tokio::WebSocket;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let Ok(mut ws) = WebSocket::accept(tcp, &ServerConfig::default()).await else {
                        return;
                    };
                    while let Some(Ok(m)) = ws.recv().await {
                        if matches!(m, Message::Binary(_) | Message::Text(_))
                            && ws.send(m).await.is_err()
                        {
                            return;
                        }
                    }
                });
            }
        });
        let e = Echo {
            url: format!("ws://127.0.0.1:{port}/").parse().unwrap(),
            connections: 4,
            size: 64,
            window: 4,
            duration: Duration::from_millis(1000),
            server_pid: None,
            per_address: 2,
            progress: false,
        };
        let r = echo::run(&e).await.unwrap();
        let line = r.to_json_line();
        assert!(r.get_f64("echoed").unwrap() > 0.0, "{line}");
        assert!(r.get_f64("latency_samples").unwrap() > 0.0, "{line}");
        assert_eq!(r.get_f64("disconnects"), Some(0.0), "{line}");
    }
}
