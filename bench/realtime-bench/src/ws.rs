//! A minimal WebSocket client over `ws-proto`'s sans-IO halves: the reader decodes a
//! whole read chunk at a time and the writer encodes many frames into one buffer before
//! a single write (a load generator must not cost a syscall per message).
//! permessage-deflate is never offered: none of the peers' echo servers compress, and
//! the codec's own cost is what is compared.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::str::FromStr;
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use ws_proto::handshake::client::{ClientConfig, ClientHandshake};
use ws_proto::http::Parsed;
use ws_proto::protocol::{Receiver, Sender};
use ws_proto::{Connection, Message, Role};

use crate::{Result, error};

/// Bytes reserved before each read of a busy connection.
const READ_CHUNK: usize = 16 * 1024;
/// Time allowed for the opening handshake and the `/ws` answers.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(30);

/// A `ws://host:port/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WsUrl {
    /// Where to connect.
    pub addr: SocketAddr,
    /// The `Host` header (`host:port`).
    pub host: String,
    /// Path and query.
    pub path: String,
}

impl FromStr for WsUrl {
    type Err = crate::Error;

    fn from_str(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("ws://")
            .ok_or_else(|| error(format!("{url}: only ws:// URLs are supported")))?;
        let (host, path) = match rest.find('/') {
            Some(i) => rest.split_at(i),
            None => (rest, "/"),
        };
        let addr = host
            .to_socket_addrs()
            .map_err(|e| error(format!("{url}: {e}")))?
            .find(SocketAddr::is_ipv4)
            .ok_or_else(|| error(format!("{url}: no IPv4 address")))?;
        Ok(Self {
            addr,
            host: host.to_string(),
            path: path.to_string(),
        })
    }
}

/// Performs the opening handshake on `stream`; returns the bytes read past the
/// response (frames the server sent right after it). The stream stays whole.
pub async fn handshake(stream: &mut TcpStream, url: &WsUrl) -> Result<BytesMut> {
    let config = ClientConfig::default();
    let (hs, request) = ClientHandshake::new(&url.host, &url.path, &config);
    stream.write_all(&request).await?;
    let mut buf = BytesMut::with_capacity(256);
    tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        loop {
            if let Parsed::Complete(_, used) = hs.parse_response(&buf)? {
                return Ok(buf.split_off(used));
            }
            buf.reserve(256);
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(error("server closed the connection during the handshake"));
            }
        }
    })
    .await
    .map_err(|_| error("no handshake response within 30 s"))?
}

/// The read half: socket, buffer and the protocol's receiver.
#[derive(Debug)]
pub struct WsReader {
    half: OwnedReadHalf,
    buf: BytesMut,
    rx: Receiver,
}

impl WsReader {
    /// Reads what the socket has; `Ok(false)` at end of stream.
    pub async fn fill(&mut self) -> Result<bool> {
        if self.buf.capacity() - self.buf.len() < READ_CHUNK / 4 {
            self.buf.reserve(READ_CHUNK);
        }
        Ok(self.half.read_buf(&mut self.buf).await? > 0)
    }

    /// The next whole message already read, if any. A Close from the server is an
    /// error (a run never expects one).
    pub fn next_buffered(&mut self) -> Result<Option<Message>> {
        match self.rx.read(&mut self.buf)? {
            Some(Message::Close(frame)) => Err(error(format!("server sent Close: {frame:?}"))),
            other => Ok(other),
        }
    }

    /// The next message, reading as needed; an error at end of stream.
    pub async fn next(&mut self) -> Result<Message> {
        loop {
            if let Some(m) = self.next_buffered()? {
                return Ok(m);
            }
            if !self.fill().await? {
                return Err(error("server closed the connection"));
            }
        }
    }
}

/// The write half: frames are encoded into `out` and written together by
/// [`WsWriter::flush`].
#[derive(Debug)]
pub struct WsWriter {
    half: OwnedWriteHalf,
    tx: Sender,
    out: BytesMut,
}

impl WsWriter {
    /// Encodes `message` (masked, as a client must) into the output buffer.
    pub fn queue(&mut self, message: &Message) -> Result<()> {
        self.tx.encode(message)?.write_to(&mut self.out);
        Ok(())
    }

    /// Bytes queued and not yet written.
    pub fn pending(&self) -> usize {
        self.out.len()
    }

    /// Writes everything queued.
    pub async fn flush(&mut self) -> Result<()> {
        if !self.out.is_empty() {
            self.half.write_all(&self.out).await?;
            self.out.clear();
        }
        Ok(())
    }
}

/// Connects to `url` from `source` and completes the opening handshake.
pub async fn connect(url: &WsUrl, source: Ipv4Addr) -> Result<(WsReader, WsWriter)> {
    let mut stream = crate::net::connect(url.addr, source).await?;
    let leftover = handshake(&mut stream, url).await?;
    let conn = Connection::new(Role::Client, ws_proto::Config::default(), None);
    let (rx, tx, _) = conn.into_parts();
    let (read, write) = stream.into_split();
    let mut buf = BytesMut::with_capacity(READ_CHUNK);
    buf.extend_from_slice(&leftover);
    Ok((
        WsReader {
            half: read,
            buf,
            rx,
        },
        WsWriter {
            half: write,
            tx,
            out: BytesMut::with_capacity(READ_CHUNK),
        },
    ))
}

/// The `/ws` JSON protocol (docs/ws-json-protocol.md): waits for the welcome, then
/// subscribes to `filter` and waits for `subscribed`.
pub async fn json_subscribe(
    reader: &mut WsReader,
    writer: &mut WsWriter,
    filter: &str,
    qos: u8,
) -> Result<()> {
    let request = serde_json::json!({"type": "subscribe", "id": 1, "filter": filter, "qos": qos});
    writer.queue(&Message::text(request.to_string()))?;
    writer.flush().await?;
    tokio::time::timeout(HANDSHAKE_TIMEOUT, async {
        loop {
            if let Message::Text(text) = reader.next().await? {
                match json_type(text.as_str()) {
                    Some("subscribed") => return Ok(()),
                    Some("error") => return Err(error(format!("/ws subscribe: {text}"))),
                    _ => {}
                }
            }
        }
    })
    .await
    .map_err(|_| error("no `subscribed` within 30 s"))?
}

/// The `type` of a `/ws` JSON message, without parsing the whole object.
pub fn json_type(text: &str) -> Option<&str> {
    let start = text.find("\"type\":\"")? + 8;
    let rest = text.get(start..)?;
    rest.get(..rest.find('"')?)
}

/// The payload string of a `/ws` JSON `message` (the timestamp is its first 16 bytes).
pub fn json_payload(text: &str) -> Option<&[u8]> {
    let start = text.find("\"payload\":\"")? + 11;
    text.as_bytes().get(start..)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_json_fields() {
        let u: WsUrl = "ws://127.0.0.1:9001/echo".parse().unwrap();
        assert_eq!(
            (u.host.as_str(), u.path.as_str()),
            ("127.0.0.1:9001", "/echo")
        );
        let u: WsUrl = "ws://127.0.0.1:9001".parse().unwrap();
        assert_eq!(u.path, "/");
        assert!("http://x".parse::<WsUrl>().is_err());
        let m = r#"{"type":"message","seq":1,"topic":"t","payload":"0123456789abcdefxx"}"#;
        assert_eq!(json_type(m), Some("message"));
        assert_eq!(
            json_payload(m).map(|p| &p[..16]),
            Some(&b"0123456789abcdef"[..])
        );
    }
}
