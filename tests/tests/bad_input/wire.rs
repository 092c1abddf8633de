//! Hand-made bytes: MQTT packets built field by field (so a case can break any
//! rule), the WebSocket opening handshake by hand, and deflate payloads.

use std::io::Write as _;
use std::net::SocketAddr;

use bytes::BytesMut;
use mqtt_proto::{Packet, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// The Origin every WebSocket request of the catalogue sends (the server runs
/// with an allow-list holding only it).
pub(crate) const ORIGIN: &str = "http://good.example";

/// MQTT Variable Byte Integer.
pub(crate) fn vbi(mut n: usize) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let mut byte = (n % 128) as u8;
        n /= 128;
        if n > 0 {
            byte |= 0x80;
        }
        out.push(byte);
        if n == 0 {
            return out;
        }
    }
}

/// A UTF-8 string (or any bytes) with its two-byte length.
pub(crate) fn s(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// A packet: first byte, Remaining Length, body.
pub(crate) fn pkt(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    out.extend(vbi(body.len()));
    out.extend_from_slice(body);
    out
}

/// Concatenation.
pub(crate) fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A well-formed CONNECT (clean start, `keep_alive`).
pub(crate) fn connect(version: ProtocolVersion, client_id: &str, keep_alive: u16) -> Vec<u8> {
    let mut c = mqtt_proto::Connect::new(version, client_id.to_string());
    c.clean_start = true;
    c.keep_alive = keep_alive;
    let mut out = BytesMut::new();
    Packet::Connect(Box::new(c))
        .encode(version, &mut out)
        .expect("encode CONNECT");
    out.to_vec()
}

/// A CONNECT body from its parts: protocol name, level, flags, keep-alive,
/// (v5) properties, then the payload as given.
pub(crate) fn connect_raw(
    name: &[u8],
    level: u8,
    flags: u8,
    props: Option<&[u8]>,
    payload: &[u8],
) -> Vec<u8> {
    let mut body = s(name);
    body.push(level);
    body.push(flags);
    body.extend_from_slice(&60u16.to_be_bytes());
    if let Some(p) = props {
        body.extend(vbi(p.len()));
        body.extend_from_slice(p);
    }
    body.extend_from_slice(payload);
    pkt(0x10, &body)
}

/// A PUBLISH: `first` (type 3 with DUP/QoS/RETAIN bits), topic bytes, packet id,
/// v5 properties (`None` for 3.1.1), payload.
pub(crate) fn publish(
    first: u8,
    topic: &[u8],
    id: Option<u16>,
    props: Option<&[u8]>,
    payload: &[u8],
) -> Vec<u8> {
    let mut body = s(topic);
    if let Some(id) = id {
        body.extend_from_slice(&id.to_be_bytes());
    }
    if let Some(p) = props {
        body.extend(vbi(p.len()));
        body.extend_from_slice(p);
    }
    body.extend_from_slice(payload);
    pkt(first, &body)
}

/// A SUBSCRIBE: `first` (0x82 when well-formed), packet id, v5 properties,
/// (filter, options) pairs.
pub(crate) fn subscribe(
    first: u8,
    id: u16,
    props: Option<&[u8]>,
    filters: &[(&[u8], u8)],
) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    if let Some(p) = props {
        body.extend(vbi(p.len()));
        body.extend_from_slice(p);
    }
    for (filter, options) in filters {
        body.extend(s(filter));
        body.push(*options);
    }
    pkt(first, &body)
}

/// An UNSUBSCRIBE (`first` 0xA2 when well-formed) of 3.1.1.
pub(crate) fn unsubscribe_v311(first: u8, id: u16, filters: &[&[u8]]) -> Vec<u8> {
    let mut body = id.to_be_bytes().to_vec();
    for f in filters {
        body.extend(s(f));
    }
    pkt(first, &body)
}

/// A v5 topic name of `levels` levels.
pub(crate) fn levels(n: usize) -> Vec<u8> {
    vec!["l"; n].join("/").into_bytes()
}

/// Connects from `local` (any 127.0.0.0/8 address) to `addr`.
pub(crate) async fn connect_from(local: [u8; 4], addr: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind(SocketAddr::from((local, 0)))?;
    let stream = socket.connect(addr).await?;
    stream.set_nodelay(true)?;
    Ok(stream)
}

/// The opening handshake request of `path` (with the allowed Origin; with
/// `extensions` as the Sec-WebSocket-Extensions offer if given).
pub(crate) fn upgrade_request(addr: SocketAddr, path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: {ORIGIN}\r\n{extra}\r\n"
    )
}

/// Opens a WebSocket by hand on `path` (sending `extra` header lines) and returns
/// the stream after the 101 and the response head.
pub(crate) async fn open_ws(addr: SocketAddr, path: &str, extra: &str) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.set_nodelay(true).expect("nodelay");
    stream
        .write_all(upgrade_request(addr, path, extra).as_bytes())
        .await
        .expect("write request");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.expect("response head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_string();
    assert!(head.starts_with("HTTP/1.1 101"), "{head}");
    (stream, head)
}

/// The raw DEFLATE (RFC 1951) stream of `data` as permessage-deflate sends it:
/// sync-flushed, the trailing `00 00 ff ff` removed (RFC 7692 §7.2.1).
pub(crate) fn deflate(data: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data).expect("deflate");
    enc.flush().expect("flush");
    let mut out = enc.get_mut().clone();
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
    out
}

/// A masked client frame (`realtime_tests::ws::masked_frame`).
pub(crate) fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    realtime_tests::ws::masked_frame(first, payload)
}

/// A Close frame payload: code and reason.
pub(crate) fn close_payload(code: u16, reason: &[u8]) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason);
    p
}
