//! The bad-input catalogue: what a case is (its input, the rule it cites, the
//! reaction it expects), how a reaction is observed, and the Markdown table of
//! `docs/bad-input.md` rendered from the cases so the two cannot drift.

pub(crate) mod http_cases;
pub(crate) mod mqtt_cases;
pub(crate) mod observe;
pub(crate) mod probe;
pub(crate) mod scenarios;
pub(crate) mod storms;
pub(crate) mod wire;
pub(crate) mod ws_cases;

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;

use mqtt_proto::ProtocolVersion;
use realtime_server::broker::Broker;

/// Where a case sends its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Transport {
    /// MQTT 3.1.1 over TCP.
    MqttV311,
    /// MQTT 5.0 over TCP.
    MqttV5,
    /// MQTT over WebSocket (`/mqtt`).
    MqttWs,
    /// The `/ws` JSON protocol.
    WsJson,
    /// The `/echo` route (plain WebSocket).
    Echo,
    /// The HTTP listener before any upgrade.
    Http,
}

impl Transport {
    /// The label used in the catalogue table.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Self::MqttV311 => "MQTT 3.1.1 TCP",
            Self::MqttV5 => "MQTT 5 TCP",
            Self::MqttWs => "MQTT over WS `/mqtt`",
            Self::WsJson => "WS JSON `/ws`",
            Self::Echo => "WS `/echo`",
            Self::Http => "HTTP",
        }
    }
}

/// One thing the server did, in the order it did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ev {
    /// CONNACK with this reason code (MQTT 5).
    ConnAck(u8),
    /// CONNACK with this return code (MQTT 3.1.1).
    ConnAckV3(u8),
    /// DISCONNECT with this reason code.
    Disconnect(u8),
    /// PUBACK with this reason code.
    PubAck(u8),
    /// PUBREC with this reason code.
    PubRec(u8),
    /// PUBCOMP with this reason code.
    PubComp(u8),
    /// SUBACK with these reason / return codes.
    SubAck(Vec<u8>),
    /// Another MQTT packet (its type).
    Packet(String),
    /// The connection is still open and answers (PINGREQ → PINGRESP, a JSON
    /// `ping` → `pong`).
    Open,
    /// The TCP connection was closed (no more bytes).
    TcpClose,
    /// A WebSocket Close frame with this status code.
    WsClose(u16),
    /// An HTTP response with this status.
    Http(u16),
    /// A `/ws` JSON error with this `code`.
    JsonError(String),
    /// A property a scenario checked and found to hold.
    Holds(&'static str),
    /// Something not expected (what it was).
    Unexpected(String),
}

fn mqtt_code(code: u8) -> String {
    match mqtt_proto::ReasonCode::try_from(code) {
        Ok(c) => format!("0x{code:02X} {}", c.name()),
        Err(_) => format!("0x{code:02X}"),
    }
}

impl fmt::Display for Ev {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ConnAck(c) => write!(f, "CONNACK {}", mqtt_code(*c)),
            Self::ConnAckV3(c) => {
                let name = match c {
                    0 => "Connection Accepted",
                    1 => "unacceptable protocol version",
                    2 => "identifier rejected",
                    3 => "Server unavailable",
                    4 => "bad user name or password",
                    5 => "not authorized",
                    _ => "reserved",
                };
                write!(f, "CONNACK return code {c} ({name})")
            }
            Self::Disconnect(c) => write!(f, "DISCONNECT {}", mqtt_code(*c)),
            Self::PubAck(c) => write!(f, "PUBACK {}", mqtt_code(*c)),
            Self::PubRec(c) => write!(f, "PUBREC {}", mqtt_code(*c)),
            Self::PubComp(c) => write!(f, "PUBCOMP {}", mqtt_code(*c)),
            Self::SubAck(codes) => {
                let list: Vec<String> = codes.iter().map(|c| format!("0x{c:02X}")).collect();
                write!(f, "SUBACK [{}]", list.join(", "))
            }
            Self::Packet(name) => write!(f, "{name}"),
            Self::Open => write!(f, "stays open"),
            Self::TcpClose => write!(f, "TCP close"),
            Self::WsClose(code) => write!(f, "close {code}"),
            Self::Http(status) => write!(f, "HTTP {status}"),
            Self::JsonError(code) => write!(f, "error `{code}`"),
            Self::Holds(what) => write!(f, "{what}"),
            Self::Unexpected(what) => write!(f, "UNEXPECTED: {what}"),
        }
    }
}

/// A sequence of events rendered as `a → b → c`.
pub(crate) fn render(events: &[Ev]) -> String {
    let parts: Vec<String> = events.iter().map(Ev::to_string).collect();
    parts.join(" → ")
}

/// The server's limits in the catalogue (small, so that cases are quick).
pub(crate) mod limits {
    /// `broker.max_packet_size`.
    pub(crate) const MAX_PACKET: usize = 16 * 1024;
    /// `broker.receive_maximum`.
    pub(crate) const RECEIVE_MAX: u16 = 4;
    /// `broker.topic_alias_maximum`.
    pub(crate) const TOPIC_ALIAS_MAX: u16 = 8;
    /// `broker.max_subscriptions_per_session`.
    pub(crate) const MAX_SUBS: usize = 20;
    /// `broker.max_topic_length`.
    pub(crate) const MAX_TOPIC_LEN: usize = 128;
    /// `broker.max_topic_levels`.
    pub(crate) const MAX_TOPIC_LEVELS: usize = 8;
    /// `broker.connect_timeout_ms`, `http.head_timeout_ms`.
    pub(crate) const TIMEOUT_MS: u64 = 1000;
    /// `http.max_message_size`, `http.echo_max_message_size`.
    pub(crate) const MAX_MESSAGE: usize = 32 * 1024;
    /// `http.max_head_bytes`.
    pub(crate) const MAX_HEAD: usize = 2048;
    /// `http.max_headers`.
    pub(crate) const MAX_HEADERS: usize = 16;
    /// `limits.max_connections_per_ip`.
    pub(crate) const PER_IP: usize = 40;
    /// `broker.queue_max_messages`.
    pub(crate) const QUEUE_MESSAGES: usize = 100;
    /// `broker.queue_max_bytes`.
    pub(crate) const QUEUE_BYTES: usize = 256 * 1024;
}

/// What the scenarios and observers need from the running server.
#[derive(Clone)]
pub(crate) struct Ctx {
    /// MQTT over TCP.
    pub(crate) mqtt: SocketAddr,
    /// HTTP / WebSocket.
    pub(crate) http: SocketAddr,
    /// The broker (metrics, sessions, queue budget).
    pub(crate) broker: Arc<Broker>,
}

/// A boxed future returning the events a scenario observed.
pub(crate) type Outcome = Pin<Box<dyn Future<Output = Vec<Ev>> + Send>>;

/// A case's input.
pub(crate) enum Input {
    /// Raw bytes on a fresh MQTT connection, before any CONNECT.
    MqttRaw(Vec<u8>),
    /// Raw bytes after a successful CONNECT of the case's version.
    MqttAfterConnect(Vec<u8>),
    /// A CONNECT with this Keep Alive (seconds), then silence.
    MqttKeepAlive(u16),
    /// Raw WebSocket bytes (client frames) after the 101 of this path.
    WsFrames(&'static str, Vec<u8>),
    /// WebSocket bytes after a 101 that negotiated permessage-deflate.
    WsDeflateFrames(&'static str, Vec<u8>),
    /// MQTT bytes in one binary message on `/mqtt`, after a successful v5
    /// CONNECT if the flag is set.
    MqttOverWs(bool, Vec<u8>),
    /// One text message on `/ws` after the welcome.
    Json(String),
    /// One binary message on `/ws` after the welcome.
    JsonBinary(Vec<u8>),
    /// Bytes sent as an HTTP request.
    HttpRaw(Vec<u8>),
    /// A scenario that drives the server itself and reports what it saw.
    Scenario(fn(Ctx) -> Outcome),
}

/// One row of the catalogue.
pub(crate) struct Case {
    /// Short name.
    pub(crate) name: &'static str,
    /// Where the input goes.
    pub(crate) transport: Transport,
    /// The rule broken: MQTT normative id, RFC section, or our limit's name.
    pub(crate) rule: &'static str,
    /// The input in words (for the table).
    pub(crate) what: &'static str,
    /// The input itself.
    pub(crate) input: Input,
    /// The documented reaction.
    pub(crate) expect: Vec<Ev>,
}

impl Case {
    /// The MQTT version a case's bytes are in.
    pub(crate) fn version(&self) -> ProtocolVersion {
        match self.transport {
            Transport::MqttV311 => ProtocolVersion::V3_1_1,
            _ => ProtocolVersion::V5,
        }
    }
}

/// Shorthand constructor.
pub(crate) fn case(
    name: &'static str,
    transport: Transport,
    rule: &'static str,
    what: &'static str,
    input: Input,
    expect: Vec<Ev>,
) -> Case {
    Case {
        name,
        transport,
        rule,
        what,
        input,
        expect,
    }
}

/// Every case of the catalogue, in table order.
pub(crate) fn catalogue() -> Vec<Case> {
    let mut all = mqtt_cases::v311();
    all.extend(mqtt_cases::v5());
    all.extend(ws_cases::mqtt_over_ws());
    all.extend(ws_cases::frames());
    all.extend(ws_cases::json());
    all.extend(http_cases::http());
    all.extend(scenarios::scenarios());
    all
}

/// The Markdown table of the catalogue (the generated part of `docs/bad-input.md`).
pub(crate) fn markdown_table(cases: &[Case]) -> String {
    let mut out = String::from(
        "| # | case | transport | rule | input | reaction |\n|---|---|---|---|---|---|\n",
    );
    for (i, c) in cases.iter().enumerate() {
        out.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} |\n",
            i + 1,
            c.name,
            c.transport.label(),
            c.rule,
            c.what.replace('|', "\\|"),
            render(&c.expect).replace('|', "\\|"),
        ));
    }
    out
}
