//! Runs a case's input against the server and records what the server did, as
//! [`Ev`]s, without panicking: a wrong reaction is a mismatch to report, not a crash
//! of the whole catalogue.

use std::time::Duration;

use bytes::BytesMut;
use mqtt_proto::{ConnAck, Decoder, Packet, ProtocolVersion};
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::wire::{self, frame};
use super::{Case, Ctx, Ev, Input};

/// How long an observer waits for the server's next move.
pub(crate) const WAIT: Duration = Duration::from_secs(8);

/// PINGREQ: a connection that answers it is still open.
const PINGREQ: [u8; 2] = [0xC0, 0x00];

/// Runs `case` and returns what happened.
pub(crate) async fn run(case: &Case, ctx: &Ctx) -> Vec<Ev> {
    let wants_open = case.expect.contains(&Ev::Open);
    let version = case.version();
    let id = format!("{} {:?}", case.name, case.transport);
    match &case.input {
        Input::MqttRaw(bytes) => mqtt_tcp(ctx, version, None, bytes, wants_open).await,
        Input::MqttAfterConnect(bytes) => {
            let connect = wire::connect(version, &id, 60);
            mqtt_tcp(ctx, version, Some(connect), bytes, wants_open).await
        }
        Input::MqttKeepAlive(secs) => {
            let connect = wire::connect(version, &id, *secs);
            mqtt_tcp(ctx, version, Some(connect), &[], wants_open).await
        }
        Input::MqttOverWs(after_connect, bytes) => {
            mqtt_ws(ctx, &id, *after_connect, bytes, wants_open).await
        }
        Input::WsFrames(path, bytes) => ws_frames(ctx, path, "", bytes).await,
        Input::WsDeflateFrames(path, bytes) => {
            let offer = "Sec-WebSocket-Extensions: permessage-deflate\r\n";
            ws_frames(ctx, path, offer, bytes).await
        }
        Input::Json(text) => json(ctx, &frame(0x81, text.as_bytes())).await,
        Input::JsonBinary(bytes) => json(ctx, &frame(0x82, bytes)).await,
        Input::HttpRaw(bytes) => vec![http(ctx, bytes).await],
        Input::Scenario(run) => run(ctx.clone()).await,
    }
}

/// The event a packet from the server stands for.
pub(crate) fn packet_event(packet: &Packet, version: ProtocolVersion) -> Ev {
    match packet {
        Packet::ConnAck(a) if version.is_v5() => Ev::ConnAck(a.reason_code.into()),
        Packet::ConnAck(a) => Ev::ConnAckV3(ConnAck::v3_return_code(a.reason_code)),
        Packet::Disconnect(d) => Ev::Disconnect(d.reason_code.into()),
        Packet::PubAck(r) => Ev::PubAck(r.reason_code.into()),
        Packet::PubRec(r) => Ev::PubRec(r.reason_code.into()),
        Packet::PubComp(r) => Ev::PubComp(r.reason_code.into()),
        Packet::SubAck(s) if version.is_v5() => {
            Ev::SubAck(s.reason_codes.iter().map(|&c| c.into()).collect())
        }
        Packet::SubAck(s) => Ev::SubAck(
            s.reason_codes
                .iter()
                .map(|&c| if c.is_error() { 0x80 } else { c.into() })
                .collect(),
        ),
        other => Ev::Packet(format!("{:?}", other.packet_type())),
    }
}

/// Decodes what is in `buf`; pushes events; returns true once the observation
/// is over (PINGRESP seen, or undecodable bytes).
fn drain(
    decoder: &Decoder,
    buf: &mut BytesMut,
    version: ProtocolVersion,
    evs: &mut Vec<Ev>,
) -> bool {
    loop {
        match decoder.decode(buf) {
            Ok(Some(Packet::PingResp)) => {
                evs.push(Ev::Open);
                return true;
            }
            Ok(Some(p)) => evs.push(packet_event(&p, version)),
            Ok(None) => return false,
            Err(err) => {
                evs.push(Ev::Unexpected(format!(
                    "undecodable bytes from the server: {err}"
                )));
                return true;
            }
        }
    }
}

/// MQTT over TCP: optional CONNECT (its CONNACK must be a success and is not
/// recorded), then `input`, then PINGREQ if the case expects the connection to
/// stay open; records packets until PINGRESP or the close.
async fn mqtt_tcp(
    ctx: &Ctx,
    version: ProtocolVersion,
    connect: Option<Vec<u8>>,
    input: &[u8],
    wants_open: bool,
) -> Vec<Ev> {
    let mut stream = match TcpStream::connect(ctx.mqtt).await {
        Ok(s) => s,
        Err(err) => return vec![Ev::Unexpected(format!("connect: {err}"))],
    };
    let _ = stream.set_nodelay(true);
    let decoder = Decoder::new(version);
    let mut buf = BytesMut::new();
    if let Some(connect) = connect {
        let _ = stream.write_all(&connect).await;
        match read_packet(&mut stream, &decoder, &mut buf).await {
            Some(Packet::ConnAck(a)) if !a.reason_code.is_error() => {}
            other => return vec![Ev::Unexpected(format!("CONNECT not accepted: {other:?}"))],
        }
    }
    let _ = stream.write_all(input).await;
    if wants_open {
        let _ = stream.write_all(&PINGREQ).await;
    }
    let mut evs = Vec::new();
    let deadline = Instant::now() + WAIT;
    loop {
        if drain(&decoder, &mut buf, version, &mut evs) {
            return evs;
        }
        match tokio::time::timeout_at(deadline, stream.read_buf(&mut buf)).await {
            Err(_) => {
                evs.push(Ev::Unexpected(format!("still open after {WAIT:?}")));
                return evs;
            }
            Ok(Ok(0)) | Ok(Err(_)) => {
                evs.push(Ev::TcpClose);
                return evs;
            }
            Ok(Ok(_)) => {}
        }
    }
}

async fn read_packet(
    stream: &mut TcpStream,
    decoder: &Decoder,
    buf: &mut BytesMut,
) -> Option<Packet> {
    let deadline = Instant::now() + WAIT;
    loop {
        if let Ok(Some(p)) = decoder.decode(buf) {
            return Some(p);
        }
        match tokio::time::timeout_at(deadline, stream.read_buf(buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return None,
        }
    }
}

/// A frame from the server: opcode and (unmasked) payload.
pub(crate) struct ServerFrame {
    /// FIN, RSV and opcode byte.
    pub(crate) first: u8,
    /// The payload.
    pub(crate) payload: Vec<u8>,
}

/// Reads one whole server frame (`None` at EOF, error or after `WAIT`).
pub(crate) async fn read_frame(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Option<ServerFrame> {
    let deadline = Instant::now() + WAIT;
    loop {
        if buf.len() >= 2 {
            let (len, start) = match buf[1] & 0x7f {
                126 if buf.len() >= 4 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
                127 if buf.len() >= 10 => (
                    u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                126 | 127 => (usize::MAX, 0),
                n => (usize::from(n), 2),
            };
            if len != usize::MAX && buf.len() >= start + len {
                let first = buf[0];
                let payload = buf[start..start + len].to_vec();
                buf.drain(..start + len);
                return Some(ServerFrame { first, payload });
            }
        }
        let mut chunk = [0u8; 16 * 1024];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => buf.extend_from_slice(&chunk[..n]),
            _ => return None,
        }
    }
}

/// The event of a Close frame payload.
fn close_event(payload: &[u8]) -> Ev {
    match payload {
        [a, b, ..] => Ev::WsClose(u16::from_be_bytes([*a, *b])),
        _ => Ev::WsClose(1005),
    }
}

/// Raw frames on a WebSocket route: records the Close the server sends (data
/// frames, pings and pongs are skipped).
async fn ws_frames(ctx: &Ctx, path: &str, extra: &str, input: &[u8]) -> Vec<Ev> {
    let (mut stream, head) = wire::open_ws(ctx.http, path, extra).await;
    if !extra.is_empty() && !head.to_ascii_lowercase().contains("permessage-deflate") {
        return vec![Ev::Unexpected("permessage-deflate not negotiated".into())];
    }
    let _ = stream.write_all(input).await;
    ws_events(&mut stream, &mut Vec::new(), |_, _| false).await
}

/// MQTT over `/mqtt`: optional v5 CONNECT, then `input` in one binary message,
/// then PINGREQ if the case expects the connection to stay open.
async fn mqtt_ws(
    ctx: &Ctx,
    client_id: &str,
    after_connect: bool,
    input: &[u8],
    wants_open: bool,
) -> Vec<Ev> {
    let version = ProtocolVersion::V5;
    let (mut stream, _) =
        wire::open_ws(ctx.http, "/mqtt", "Sec-WebSocket-Protocol: mqtt\r\n").await;
    let decoder = Decoder::new(version);
    let mut mqtt = BytesMut::new();
    let mut frames = Vec::new();
    if after_connect {
        let connect = wire::connect(version, client_id, 60);
        let _ = stream.write_all(&frame(0x82, &connect)).await;
        match read_frame(&mut stream, &mut frames).await {
            Some(f) if f.first & 0x0f == 0x2 => mqtt.extend_from_slice(&f.payload),
            _ => return vec![Ev::Unexpected("no CONNACK".into())],
        }
        match decoder.decode(&mut mqtt) {
            Ok(Some(Packet::ConnAck(a))) if !a.reason_code.is_error() => {}
            other => return vec![Ev::Unexpected(format!("CONNECT not accepted: {other:?}"))],
        }
    }
    let _ = stream.write_all(input).await;
    if wants_open {
        let _ = stream.write_all(&frame(0x82, &PINGREQ)).await;
    }
    ws_events(&mut stream, &mut frames, |f, evs| {
        f.first & 0x0f == 0x2 && {
            mqtt.extend_from_slice(&f.payload);
            drain(&decoder, &mut mqtt, version, evs)
        }
    })
    .await
}

/// Reads server frames until a Close (recorded), the end of the connection, or
/// until `on_data` — given every other frame — says the observation is over.
async fn ws_events(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    mut on_data: impl FnMut(ServerFrame, &mut Vec<Ev>) -> bool,
) -> Vec<Ev> {
    let mut evs = Vec::new();
    loop {
        match read_frame(stream, buf).await {
            None => {
                evs.push(Ev::TcpClose);
                return evs;
            }
            Some(f) if f.first & 0x0f == 0x8 => {
                evs.push(close_event(&f.payload));
                return evs;
            }
            Some(f) => {
                if on_data(f, &mut evs) {
                    return evs;
                }
            }
        }
    }
}

/// One message (a whole frame) on `/ws`, then a JSON `ping`: records errors
/// until the `pong` (the connection carries on) or a Close.
async fn json(ctx: &Ctx, message: &[u8]) -> Vec<Ev> {
    let (mut stream, _) = wire::open_ws(ctx.http, "/ws", "").await;
    let mut buf = Vec::new();
    match read_frame(&mut stream, &mut buf).await {
        Some(f) if f.payload.starts_with(br#"{"type":"welcome""#) => {}
        _ => return vec![Ev::Unexpected("no welcome".into())],
    }
    let _ = stream.write_all(message).await;
    let _ = stream
        .write_all(&frame(0x81, br#"{"type":"ping","id":"still-open"}"#))
        .await;
    json_events(&mut stream, &mut buf).await
}

/// Records `/ws` answers until the `pong` of id `still-open` or a Close.
pub(crate) async fn json_events(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Vec<Ev> {
    ws_events(stream, buf, |f, evs| {
        if f.first & 0x0f != 0x1 {
            return false;
        }
        let v: Value = serde_json::from_slice(&f.payload).unwrap_or(Value::Null);
        match v["type"].as_str() {
            Some("pong") if v["id"] == "still-open" => {
                evs.push(Ev::Open);
                return true;
            }
            Some("error") => evs.push(Ev::JsonError(v["code"].as_str().unwrap_or("?").to_string())),
            _ => evs.push(Ev::Unexpected(format!("message {v}"))),
        }
        false
    })
    .await
}

/// Sends `request` and returns the HTTP status of the answer.
pub(crate) async fn http(ctx: &Ctx, request: &[u8]) -> Ev {
    let mut stream = match TcpStream::connect(ctx.http).await {
        Ok(s) => s,
        Err(err) => return Ev::Unexpected(format!("connect: {err}")),
    };
    let _ = stream.write_all(request).await;
    http_status(&mut stream).await
}

/// Reads an HTTP response until the server closes; its status.
pub(crate) async fn http_status(stream: &mut TcpStream) -> Ev {
    let mut response = Vec::new();
    let read = tokio::time::timeout(WAIT, stream.read_to_end(&mut response)).await;
    let text = String::from_utf8_lossy(&response);
    match text.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
        Some(status) if read.is_ok() => Ev::Http(status),
        Some(status) => Ev::Unexpected(format!("HTTP {status} but the connection stays open")),
        None if response.is_empty() => Ev::TcpClose,
        None => Ev::Unexpected(format!("not HTTP: {text:?}")),
    }
}
