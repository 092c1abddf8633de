//! The HTTP listener: reads a request head (bounded in size and time), then routes
//! it — the health check, the demo page, metrics, and the WebSocket routes
//! `/mqtt` (MQTT over WebSocket), `/ws` (JSON protocol) and `/echo`.

mod assets;
mod auth;

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::watch;
use ws_proto::deflate::DeflateConfig;
use ws_proto::handshake::server::{ServerConfig, accept};
use ws_proto::http::{HeadLimits, Parsed, RequestHead, parse_request};
use ws_proto::protocol::{Config as WsConfig, Connection, Role};

use crate::auth::ListenerPolicy;
use crate::broker::Broker;
use crate::conn::Driven;
use crate::conn::tcp::{DriverConfig, Ended};
use crate::metrics::Transport;
use crate::mqtt::MqttConnection;
use crate::ws::echo::Echo;
use crate::ws::json::JsonClient;
use crate::ws::mqtt::{MqttOverWs, SUBPROTOCOLS};
use crate::ws::{WsProtocol, WsTimers};

/// Settings of the HTTP listener and its WebSocket routes.
#[derive(Clone)]
pub struct HttpConfig {
    /// How long a client may take to send its request head (slowloris bound).
    pub head_timeout: Duration,
    /// Size and count limits of the request head.
    pub limits: HeadLimits,
    /// permessage-deflate on the WebSocket routes (`None`: declined).
    pub deflate: Option<DeflateConfig>,
    /// Largest WebSocket message accepted on `/mqtt` and `/ws`.
    pub max_message_size: usize,
    /// Largest message on `/echo` (the Autobahn suite needs 16 MiB).
    pub echo_max_message_size: usize,
    /// Allowed `Origin` values for WebSocket routes (`None`: any origin). With a
    /// list, a request whose `Origin` is not in it (ASCII case-insensitively, RFC
    /// 6454 §6.2 serialization) gets 403 (RFC 6455 §4.2.2, §10.2). A request without
    /// `Origin` is not from a browser (browsers always send it on WebSocket
    /// handshakes, RFC 6455 §4.1) and is let in: the check protects browsers'
    /// users from other sites' scripts, it does not authenticate clients.
    pub allowed_origins: Option<Vec<String>>,
    /// Keep-alive pings and close timing.
    pub timers: WsTimers,
    /// Anonymous access on this listener (`/mqtt` CONNECTs and `/ws` upgrades).
    pub auth: ListenerPolicy,
    /// How the connection drivers buffer, linger and limit reading.
    pub driver: Arc<DriverConfig>,
    /// The HTTP API (`/api/v1/`; off without tokens).
    pub api: crate::api::ApiConfig,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            head_timeout: Duration::from_secs(10),
            limits: HeadLimits::default(),
            deflate: Some(memory_bounded_deflate()),
            max_message_size: 1024 * 1024,
            echo_max_message_size: 16 * 1024 * 1024,
            allowed_origins: None,
            timers: WsTimers::default(),
            auth: ListenerPolicy::default(),
            driver: Arc::default(),
            api: crate::api::ApiConfig::default(),
        }
    }
}

/// permessage-deflate with no context takeover in either direction: an idle
/// connection holds no zlib state (ws-proto measured ~427 KB per connection with
/// context takeover at 15 window bits), at some cost in compression ratio for
/// streams of similar messages.
pub fn memory_bounded_deflate() -> DeflateConfig {
    DeflateConfig {
        server_no_context_takeover: true,
        client_no_context_takeover: true,
        ..DeflateConfig::default()
    }
}

/// Accepts HTTP connections until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    broker: Arc<Broker>,
    config: Arc<HttpConfig>,
    shutdown: watch::Receiver<bool>,
) {
    let mut stop = shutdown.clone();
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.changed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(pair) => pair,
            Err(err) => {
                tracing::warn!(%err, "http accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let broker = broker.clone();
        let config = config.clone();
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            if let Err(err) = handle(stream, peer, broker, config, shutdown, ()).await {
                tracing::debug!(%peer, %err, "http connection ended with an error");
            }
        });
    }
}

/// Reads one request head; `Ok(None)` if the client went away or timed out
/// (after answering where there is something to say).
async fn read_head<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    config: &HttpConfig,
) -> io::Result<Option<(RequestHead, BytesMut)>> {
    let mut buf = BytesMut::with_capacity(1024);
    let deadline = tokio::time::Instant::now() + config.head_timeout;
    loop {
        match parse_request(&buf, &config.limits) {
            Ok(Parsed::Complete(head, used)) => {
                // Copied out (usually nothing): a split would keep the whole
                // head buffer alive for the life of a WebSocket connection.
                let leftover = BytesMut::from(buf.get(used..).unwrap_or_default());
                return Ok(Some((head, leftover)));
            }
            Ok(Parsed::Partial) => {}
            Err(err) => {
                let status = err.http_status().unwrap_or(400);
                tracing::info!(
                    status,
                    rule = err.rule(),
                    "bad HTTP request: {}",
                    err.message()
                );
                respond(
                    stream,
                    status,
                    "text/plain",
                    err.message().as_bytes(),
                    false,
                )
                .await?;
                return Ok(None);
            }
        }
        match tokio::time::timeout_at(deadline, stream.read_buf(&mut buf)).await {
            Ok(Ok(0)) => return Ok(None),
            Ok(Ok(_)) => {}
            Ok(Err(err)) => return Err(err),
            Err(_) => {
                tracing::info!(
                    "HTTP request head not complete within {:?}",
                    config.head_timeout
                );
                respond(stream, 408, "text/plain", b"request timeout", false).await?;
                return Ok(None);
            }
        }
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        401 => "Unauthorized",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        426 => "Upgrade Required",
        431 => "Request Header Fields Too Large",
        503 => "Service Unavailable",
        505 => "HTTP Version Not Supported",
        _ => "Error",
    }
}

async fn respond<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    content_type: &str,
    body: &[u8],
    head_only: bool,
) -> io::Result<()> {
    respond_with(stream, status, content_type, "", body, head_only).await
}

/// Answers with `extra` header lines (each ending in CRLF) and closes.
async fn respond_with<S: AsyncWrite + Unpin>(
    stream: &mut S,
    status: u16,
    content_type: &str,
    extra: &str,
    body: &[u8],
    head_only: bool,
) -> io::Result<()> {
    let head = format!(
        "HTTP/1.1 {status} {}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\ncache-control: no-cache\r\n{extra}connection: close\r\n\r\n",
        reason(status),
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    if !head_only {
        stream.write_all(body).await?;
    }
    stream.shutdown().await
}

/// Serves one HTTP connection (plain or TLS) from `peer`.
///
/// `hold` is kept until the connection ends (e.g. its place under the connection
/// limits): a WebSocket connection may park while idle and end on another task,
/// which then drops it.
pub async fn handle<S: Driven, H: Send + 'static>(
    mut stream: S,
    peer: SocketAddr,
    broker: Arc<Broker>,
    config: Arc<HttpConfig>,
    shutdown: watch::Receiver<bool>,
    hold: H,
) -> io::Result<()> {
    let Some((head, leftover)) = read_head(&mut stream, &config).await? else {
        return Ok(());
    };
    let method = head.method.as_str();
    let path = head.path().to_string();
    let head_only = method == "HEAD";
    if head.version_minor >= 1 && head.headers.count("host") != 1 {
        // RFC 9112 §3.2: a server MUST answer 400 to an HTTP/1.1 request without a
        // Host or with several (the WebSocket routes check it again, RFC 6455 §4.2.1).
        return respond(
            &mut stream,
            400,
            "text/plain",
            b"bad request: exactly one Host header field [RFC 9112 section 3.2]\n",
            head_only,
        )
        .await;
    }
    match (method, path.as_str()) {
        ("GET" | "HEAD", "/healthz") => {
            respond(&mut stream, 200, "text/plain", b"ok\n", head_only).await
        }
        ("GET" | "HEAD", "/metrics") => {
            let body = crate::metrics::prometheus(&broker);
            respond(
                &mut stream,
                200,
                "text/plain; version=0.0.4",
                body.as_bytes(),
                head_only,
            )
            .await
        }
        (_, p) if p == "/api" || p.starts_with("/api/") => {
            crate::api::handle(
                stream,
                head,
                leftover,
                broker,
                &config.api,
                config.head_timeout,
            )
            .await
        }
        (_, "/mqtt" | "/ws" | "/echo") => {
            upgrade(
                stream, peer, head, leftover, &path, broker, &config, shutdown, hold,
            )
            .await
        }
        ("GET" | "HEAD", p) => match assets::find(p) {
            Some((content_type, body)) => {
                respond(&mut stream, 200, content_type, body, head_only).await
            }
            None => respond(&mut stream, 404, "text/plain", b"not found\n", head_only).await,
        },
        _ => {
            respond(
                &mut stream,
                405,
                "text/plain",
                b"method not allowed\n",
                false,
            )
            .await
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn upgrade<S: Driven, H: Send + 'static>(
    mut stream: S,
    peer: SocketAddr,
    head: RequestHead,
    leftover: BytesMut,
    path: &str,
    broker: Arc<Broker>,
    config: &HttpConfig,
    shutdown: watch::Receiver<bool>,
    hold: H,
) -> io::Result<()> {
    let mut server = ServerConfig {
        limits: config.limits,
        deflate: config.deflate,
        connection: WsConfig {
            max_frame_size: config.max_message_size,
            max_message_size: config.max_message_size,
            auto_pong: true,
        },
        ..ServerConfig::default()
    };
    if let Some(allowed) = &config.allowed_origins {
        let allowed = allowed.clone();
        server.origin_check = Some(Arc::new(move |origin: Option<&str>| {
            origin.is_none_or(|o| allowed.iter().any(|a| a.eq_ignore_ascii_case(o)))
        }));
    }
    match path {
        "/mqtt" => {
            // MQTT-6.0.0-4: the subprotocol selected is `mqtt` whenever the client
            // offers it, even after `mqttv3.1` in its list of preference.
            let offers_mqtt = head
                .headers
                .get_all("sec-websocket-protocol")
                .flat_map(|v| v.split(','))
                .any(|p| p.trim() == "mqtt");
            let supported: &[&str] = if offers_mqtt {
                &["mqtt"]
            } else {
                &SUBPROTOCOLS
            };
            server.subprotocols = supported.iter().map(|s| s.to_string()).collect();
        }
        "/ws" => server.subprotocols = vec!["realtime.v1".to_string()],
        _ => {
            server.connection.max_frame_size = config.echo_max_message_size;
            server.connection.max_message_size = config.echo_max_message_size;
        }
    }
    // `/ws` authenticates on the upgrade request; `/mqtt` in its CONNECT.
    let user = if path == "/ws" {
        // Boxed: its state (5 KiB with the auth webhook's request) would otherwise
        // size this future, which the connection's task keeps for its whole life.
        match Box::pin(auth::authenticate_upgrade(
            &head,
            peer,
            &broker,
            &config.auth,
        ))
        .await
        {
            Ok(user) => user,
            Err(why) => {
                tracing::info!(%peer, path, "websocket upgrade refused: {why}");
                return respond_with(
                    &mut stream,
                    401,
                    "text/plain",
                    "www-authenticate: Basic realm=\"realtime-server\", charset=\"UTF-8\"\r\n",
                    b"authentication required\n",
                    false,
                )
                .await;
            }
        }
    } else {
        None
    };
    let accepted = match accept(&head, &server) {
        Ok(accepted) => accepted,
        Err(rejection) => {
            tracing::info!(%peer, path, status = ?rejection.error.http_status(), rule = rejection.error.rule(), "websocket handshake refused: {}", rejection.error.message());
            stream.write_all(&rejection.response).await?;
            return stream.shutdown().await;
        }
    };
    stream.write_all(&accepted.response).await?;
    let compressed = accepted.deflate.is_some();
    tracing::debug!(%peer, path, compressed, subprotocol = ?accepted.subprotocol, "websocket open");
    broker.metrics.websocket_opened(compressed).inc();
    let ws = Connection::new(Role::Server, server.connection, accepted.deflate);
    // What only the handshake needed is freed before the connection's long wait.
    drop((
        head,
        accepted.response,
        accepted.subprotocol,
        server.subprotocols,
    ));
    let now = Instant::now();
    let wake = Arc::new(crate::conn::ConnWake::new());
    let driver = config.driver.clone();
    let tail = move |ended| {
        if let Ended::Io(err) = ended {
            tracing::debug!(%err, "websocket connection ended by an I/O error");
        }
        drop(hold);
    };
    // Each driver is boxed: this future then keeps only what the handshake left
    // alive, not the driver's state a second time next to the box. Over plain TCP
    // the connection may park while idle, and this task then ends.
    match path {
        "/mqtt" => {
            let mqtt = MqttConnection::new(broker, Transport::MqttWs, peer, wake.clone(), now)
                .with_listener(config.auth.clone());
            Box::pin(stream.drive_parkable(
                WsProtocol::new(ws, MqttOverWs::new(mqtt), config.timers, "/mqtt", now),
                leftover,
                wake,
                shutdown,
                driver,
                tail,
            ))
            .await
        }
        "/ws" => {
            let client = JsonClient::with_user(broker, wake.clone(), user, now)
                .with_publish_rate(config.auth.max_publish_rate)
                .registered(peer);
            Box::pin(stream.drive_parkable(
                WsProtocol::new(ws, client, config.timers, "/ws", now),
                leftover,
                wake,
                shutdown,
                driver,
                tail,
            ))
            .await
        }
        _ => {
            Box::pin(stream.drive_parkable(
                WsProtocol::new(ws, Echo, config.timers, "/echo", now),
                leftover,
                wake,
                shutdown,
                driver,
                tail,
            ))
            .await
        }
    };
    Ok(())
}
