//! WebSocket helpers for tests: a client on `ws-proto`'s tokio adapter, JSON
//! helpers for the `/ws` protocol, and raw HTTP for handshake tests.

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_proto::deflate::DeflateConfig;
use ws_proto::handshake::client::ClientConfig;
use ws_proto::tokio::WebSocket;
use ws_proto::{Message, handshake::client::Negotiated};

use crate::mqtt::WAIT;

/// A connected WebSocket client.
pub type Client = WebSocket<TcpStream>;

/// Connects to `ws://addr{path}` offering `subprotocols` and, if `deflate`,
/// permessage-deflate.
pub async fn connect(
    addr: SocketAddr,
    path: &str,
    subprotocols: &[&str],
    deflate: bool,
) -> (Client, Negotiated) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let config = ClientConfig {
        subprotocols: subprotocols.iter().map(|s| s.to_string()).collect(),
        deflate: deflate.then(DeflateConfig::default),
        ..ClientConfig::default()
    };
    WebSocket::connect(stream, &addr.to_string(), path, &config)
        .await
        .expect("websocket handshake")
}

/// The next data message (Pings and Pongs skipped); panics on close or timeout.
pub async fn recv<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    ws: &mut WebSocket<S>,
) -> Message {
    loop {
        match tokio::time::timeout(WAIT, ws.recv()).await {
            Err(_) => panic!("no WebSocket message within {WAIT:?}"),
            Ok(None) => panic!("WebSocket closed while a message was expected"),
            Ok(Some(Err(err))) => panic!("WebSocket error: {err:?}"),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(m))) => return m,
        }
    }
}

/// The next message as JSON (panics if it is not a JSON text message).
pub async fn recv_json<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    ws: &mut WebSocket<S>,
) -> Value {
    match recv(ws).await {
        Message::Text(t) => serde_json::from_str(t.as_str()).expect("JSON"),
        other => panic!("expected a text message, got {other:?}"),
    }
}

/// Sends a JSON value as a text message.
pub async fn send_json<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    ws: &mut WebSocket<S>,
    value: Value,
) {
    ws.send(Message::text(value.to_string()))
        .await
        .expect("send");
}

/// Asserts that no data message arrives within `wait`.
pub async fn expect_silence(ws: &mut Client, wait: Duration) {
    let got = tokio::time::timeout(wait, async {
        loop {
            match ws.recv().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                other => return other,
            }
        }
    })
    .await;
    if let Ok(m) = got {
        panic!("expected nothing, got {m:?}");
    }
}

/// Waits for the Close from the server; returns its code (panics on timeout or
/// if data arrives first).
pub async fn expect_close(ws: &mut Client) -> Option<u16> {
    loop {
        match tokio::time::timeout(WAIT, ws.recv()).await {
            Err(_) => panic!("connection not closed within {WAIT:?}"),
            Ok(None) => return None,
            Ok(Some(Ok(Message::Close(frame)))) => return frame.map(|f| f.code.as_u16()),
            Ok(Some(Ok(Message::Ping(_) | Message::Pong(_)))) => continue,
            Ok(Some(Ok(m))) => panic!("expected a Close, got {m:?}"),
            Ok(Some(Err(err))) => panic!("WebSocket error: {err:?}"),
        }
    }
}

/// Sends raw bytes as an HTTP request and returns the status code and the whole
/// response text (read until the server closes).
pub async fn raw_http(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut response = Vec::new();
    let _ = tokio::time::timeout(WAIT, stream.read_to_end(&mut response)).await;
    with_status(&response)
}

/// The status code of an HTTP response (0 if there is none) and its text.
fn with_status(response: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(response).to_string();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

/// Like [`raw_http`], but reads while writing: a server may answer (431) and close
/// before the whole request is written, so write errors are expected and ignored.
pub async fn raw_http_while_sending(addr: SocketAddr, request: Vec<u8>) -> (u16, String) {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut read, mut write) = stream.into_split();
    let writer = tokio::spawn(async move {
        let _ = write.write_all(&request).await;
        write
    });
    let mut response = Vec::new();
    let _ = tokio::time::timeout(WAIT, read.read_to_end(&mut response)).await;
    drop(writer.await);
    with_status(&response)
}

/// Sends an upgrade request and returns the status and the response head, without
/// waiting for the connection to end (a 101 keeps it open).
pub async fn upgrade_head(addr: SocketAddr, request: &[u8]) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut response = Vec::new();
    let mut chunk = [0u8; 1024];
    while !response.windows(4).any(|w| w == b"\r\n\r\n") {
        match tokio::time::timeout(WAIT, stream.read(&mut chunk)).await {
            Ok(Ok(0)) | Ok(Err(_)) => break,
            Ok(Ok(n)) => response.extend_from_slice(&chunk[..n]),
            Err(_) => panic!("no response head within {WAIT:?}"),
        }
    }
    with_status(&response)
}

/// Opens a WebSocket on `path` by hand and returns the raw stream after the 101,
/// for sending frames no well-behaved client would send.
pub async fn raw_ws(addr: SocketAddr, path: &str) -> TcpStream {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.expect("101 response");
        head.push(byte[0]);
    }
    assert!(
        head.starts_with(b"HTTP/1.1 101"),
        "{}",
        String::from_utf8_lossy(&head)
    );
    stream
}

/// A masked client frame (key 0x01020304) with `first_byte` (FIN, RSV, opcode).
pub fn masked_frame(first_byte: u8, payload: &[u8]) -> Vec<u8> {
    let key = [1u8, 2, 3, 4];
    let mut frame = vec![first_byte];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&key);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    frame
}

/// Reads frames from a raw stream until a Close arrives; returns its code (`None`
/// for an empty Close or if the connection ends first).
pub async fn raw_close_code(stream: &mut TcpStream) -> Option<u16> {
    let mut buf = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        // Parse whole unmasked server frames from `buf`.
        while buf.len() >= 2 {
            let opcode = buf[0] & 0x0f;
            let (len, start) = match buf[1] & 0x7f {
                126 if buf.len() >= 4 => (usize::from(u16::from_be_bytes([buf[2], buf[3]])), 4),
                127 if buf.len() >= 10 => (
                    u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
                    10,
                ),
                126 | 127 => break,
                n => (usize::from(n), 2),
            };
            if buf.len() < start + len {
                break;
            }
            if opcode == 0x8 {
                return (len >= 2).then(|| u16::from_be_bytes([buf[start], buf[start + 1]]));
            }
            buf.drain(..start + len);
        }
        let mut chunk = [0u8; 4096];
        match tokio::time::timeout_at(deadline, stream.read(&mut chunk)).await {
            Err(_) => panic!("no Close frame within {WAIT:?}"),
            Ok(Ok(0)) | Ok(Err(_)) => return None,
            Ok(Ok(n)) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}
