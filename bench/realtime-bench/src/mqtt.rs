//! A minimal MQTT client over `mqtt-proto`: connect, subscribe, and a packet reader
//! that decodes a whole read chunk at a time, so that a task can answer every packet of
//! a chunk with one write.

use std::time::Duration;

use bytes::BytesMut;
use mqtt_proto::{
    Connect, Decoder, Packet, PacketId, ProtocolVersion, QoS, ReasonCode, Subscribe, Subscription,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};

use crate::{Result, error};

/// Keep Alive sent in CONNECT: longer than any run, so that no client sends PINGREQ
/// (brokers close connections silent for 1.5 × Keep Alive; 0 is refused by some).
pub const KEEP_ALIVE_S: u16 = 3600;

/// Bytes reserved before each read of a busy connection.
const READ_CHUNK: usize = 16 * 1024;

/// Time allowed for CONNACK and SUBACK.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// The protocol version for a `--mqtt-version` value: 3 (3.1.1) or 5.
pub fn version_from_arg(v: u8) -> Result<ProtocolVersion> {
    match v {
        3 | 4 => Ok(ProtocolVersion::V3_1_1),
        5 => Ok(ProtocolVersion::V5),
        _ => Err(error(format!("--mqtt-version {v}: use 3 (3.1.1) or 5"))),
    }
}

/// The QoS for a `--qos` value.
pub fn qos_from_arg(q: u8) -> Result<QoS> {
    QoS::from_u8(q).ok_or_else(|| error(format!("--qos {q}: use 0, 1 or 2")))
}

/// Appends `packet` encoded for `version` to `out`.
pub fn encode(packet: &Packet, version: ProtocolVersion, out: &mut BytesMut) -> Result<()> {
    packet
        .encode(version, out)
        .map(|_| ())
        .map_err(|e| error(format!("encode {:?}: {e}", packet.packet_type())))
}

/// What the server's CONNACK said.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnAckInfo {
    /// The server's Receive Maximum (65,535 when absent or in 3.1.1): how many QoS 1/2
    /// PUBLISHes it accepts in flight from us.
    pub receive_maximum: u16,
}

/// Sends CONNECT on `stream` and waits for a successful CONNACK (the stream stays
/// whole: idle connections keep no read buffer).
///
/// `session_expiry` 0 asks for a session that ends with the connection; above 0 for
/// one the server keeps (and, with a durable store, persists): MQTT 5 Session Expiry
/// Interval of that many seconds, MQTT 3.1.1 Clean Session 0.
pub async fn handshake(
    stream: &mut TcpStream,
    client_id: &str,
    version: ProtocolVersion,
    session_expiry: u32,
) -> Result<ConnAckInfo> {
    let mut connect = Connect::new(version, client_id.to_string());
    connect.keep_alive = KEEP_ALIVE_S;
    if session_expiry > 0 {
        if version == ProtocolVersion::V5 {
            connect.properties.session_expiry_interval = Some(session_expiry);
        } else {
            connect.clean_start = false;
        }
    }
    let mut out = BytesMut::with_capacity(64);
    encode(&Packet::Connect(Box::new(connect)), version, &mut out)?;
    stream.write_all(&out).await?;
    let decoder = Decoder::new(version);
    let mut buf = BytesMut::with_capacity(64);
    let connack = tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        loop {
            if let Some(packet) = decoder.decode(&mut buf)? {
                return Ok::<_, crate::Error>(packet);
            }
            buf.reserve(64);
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(error("server closed the connection before CONNACK"));
            }
        }
    })
    .await
    .map_err(|_| error("no CONNACK within 30 s"))??;
    match connack {
        Packet::ConnAck(ack) if ack.reason_code == ReasonCode::Success => Ok(ConnAckInfo {
            receive_maximum: ack.properties.receive_maximum.unwrap_or(u16::MAX),
        }),
        Packet::ConnAck(ack) => Err(error(format!("CONNACK refused: {:?}", ack.reason_code))),
        other => Err(error(format!(
            "expected CONNACK, got {:?}",
            other.packet_type()
        ))),
    }
}

/// The read half of a client: a buffer and a decoder.
#[derive(Debug)]
pub struct MqttReader {
    half: OwnedReadHalf,
    buf: BytesMut,
    decoder: Decoder,
}

impl MqttReader {
    /// Reads what the socket has; `Ok(false)` at end of stream.
    pub async fn fill(&mut self) -> Result<bool> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        Ok(self.half.read_buf(&mut self.buf).await? > 0)
    }

    /// The next whole packet already read, if any.
    pub fn next_buffered(&mut self) -> Result<Option<Packet>> {
        Ok(self.decoder.decode(&mut self.buf)?)
    }

    /// The next packet, reading as needed; an error at end of stream.
    pub async fn next(&mut self) -> Result<Packet> {
        loop {
            if let Some(p) = self.next_buffered()? {
                return Ok(p);
            }
            if !self.fill().await? {
                return Err(error("server closed the connection"));
            }
        }
    }
}

/// A connected client, split into a reader and a writer for two tasks.
#[derive(Debug)]
pub struct MqttClient {
    /// The read half.
    pub reader: MqttReader,
    /// The write half.
    pub writer: OwnedWriteHalf,
    /// The protocol version in use.
    pub version: ProtocolVersion,
    /// The server's Receive Maximum.
    pub receive_maximum: u16,
}

impl MqttClient {
    /// Connects on `stream` as `client_id` (Keep Alive [`KEEP_ALIVE_S`]; the session
    /// as [`handshake`] describes for `session_expiry`).
    pub async fn connect(
        mut stream: TcpStream,
        client_id: &str,
        version: ProtocolVersion,
        session_expiry: u32,
    ) -> Result<Self> {
        let info = handshake(&mut stream, client_id, version, session_expiry).await?;
        let (read, writer) = stream.into_split();
        Ok(Self {
            reader: MqttReader {
                half: read,
                buf: BytesMut::with_capacity(READ_CHUNK),
                decoder: Decoder::new(version),
            },
            writer,
            version,
            receive_maximum: info.receive_maximum,
        })
    }

    /// Subscribes to `filter` at `qos` and waits for the SUBACK; a refusal or a lower
    /// granted QoS is an error (the run would not measure what it says).
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> Result<()> {
        let packet_id = PacketId::MIN;
        let sub = Subscribe {
            packet_id,
            properties: Default::default(),
            subscriptions: vec![Subscription::new(filter.to_string(), qos)],
        };
        let mut out = BytesMut::new();
        encode(&Packet::Subscribe(sub), self.version, &mut out)?;
        self.writer.write_all(&out).await?;
        let answer = tokio::time::timeout(HANDSHAKE_TIMEOUT, self.reader.next())
            .await
            .map_err(|_| error("no SUBACK within 30 s"))??;
        match answer {
            Packet::SubAck(ack) if ack.packet_id == packet_id => {
                let granted = ack.reason_codes.first().copied();
                let wanted = match qos {
                    QoS::AtMostOnce => ReasonCode::Success,
                    QoS::AtLeastOnce => ReasonCode::GrantedQoS1,
                    QoS::ExactlyOnce => ReasonCode::GrantedQoS2,
                };
                if granted == Some(wanted) {
                    Ok(())
                } else {
                    Err(error(format!(
                        "SUBACK for {filter}: {granted:?}, wanted {wanted:?}"
                    )))
                }
            }
            other => Err(error(format!(
                "expected SUBACK, got {:?}",
                other.packet_type()
            ))),
        }
    }
}
