//! Helpers for the HTTP API and webhook tests: a small HTTP/1.1 client, and a
//! webhook receiver (a real HTTP server on a loopback port) that records what
//! it is sent and answers as told (status, delay).

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

use bytes::BytesMut;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use ws_proto::http::{HeadLimits, Parsed, parse_request, parse_response};

/// A test token (16+ characters, as the configuration requires).
pub const TOKEN: &str = "test-token-0123456789";

/// An HTTP answer.
#[derive(Debug, Clone)]
pub struct Answer {
    /// Status code.
    pub status: u16,
    /// Header fields (names lowercased).
    pub headers: Vec<(String, String)>,
    /// The body as JSON (`Null` if empty or not JSON).
    pub json: Value,
    /// The raw body.
    pub body: Vec<u8>,
}

/// Sends `method path` with an optional bearer token and body; reads the answer.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Answer {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\n");
    if let Some(t) = token {
        raw.push_str(&format!("authorization: Bearer {t}\r\n"));
    }
    if let Some(b) = body {
        raw.push_str(&format!(
            "content-type: application/json\r\ncontent-length: {}\r\n",
            b.len()
        ));
    }
    raw.push_str("\r\n");
    let mut bytes = raw.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    raw_request(addr, &bytes).await
}

/// Sends raw bytes as a request; reads the answer until the server closes.
pub async fn raw_request(addr: SocketAddr, bytes: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    stream.write_all(bytes).await.unwrap();
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut buf))
        .await
        .expect("answer within 20 s")
        .ok();
    let Parsed::Complete(head, used) = parse_response(&buf, &HeadLimits::default()).unwrap() else {
        panic!("incomplete response: {:?}", String::from_utf8_lossy(&buf));
    };
    let body = buf[used..].to_vec();
    Answer {
        status: head.status,
        headers: head
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.clone()))
            .collect(),
        json: serde_json::from_slice(&body).unwrap_or(Value::Null),
        body,
    }
}

/// `POST path` with a JSON body and the test token.
pub async fn post(addr: SocketAddr, path: &str, body: &Value) -> Answer {
    let b = serde_json::to_vec(body).unwrap();
    request(addr, "POST", path, Some(TOKEN), Some(&b)).await
}

/// `GET path` with the test token.
pub async fn get(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "GET", path, Some(TOKEN), None).await
}

/// `DELETE path` with the test token.
pub async fn delete(addr: SocketAddr, path: &str) -> Answer {
    request(addr, "DELETE", path, Some(TOKEN), None).await
}

/// One request the receiver got.
#[derive(Debug, Clone)]
pub struct Received {
    /// Request path.
    pub path: String,
    /// Header fields (names lowercased).
    pub headers: Vec<(String, String)>,
    /// The body.
    pub body: Vec<u8>,
}

impl Received {
    /// The value of header `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A webhook endpoint on 127.0.0.1: records requests, answers `status` after
/// `delay_ms` (both changeable while it runs). Its body is `reply` (a function
/// of the request), default `{}`.
pub struct Receiver {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Requests received, in order.
    pub rx: mpsc::UnboundedReceiver<Received>,
    /// The status it answers.
    pub status: Arc<AtomicU16>,
    /// How long it waits before answering.
    pub delay_ms: Arc<AtomicU64>,
    task: tokio::task::JoinHandle<()>,
}

type Reply = Arc<dyn Fn(&Received) -> Value + Send + Sync>;

impl Receiver {
    /// Starts a receiver answering 200 `{}` at once.
    pub async fn start() -> Self {
        Self::with_reply(Arc::new(|_| serde_json::json!({}))).await
    }

    /// Starts a receiver answering 200 with `reply(request)`.
    pub async fn with_reply(reply: Reply) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = mpsc::unbounded_channel();
        let status = Arc::new(AtomicU16::new(200));
        let delay_ms = Arc::new(AtomicU64::new(0));
        let (s, d) = (status.clone(), delay_ms.clone());
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (tx, s, d, reply) = (tx.clone(), s.clone(), d.clone(), reply.clone());
                tokio::spawn(async move {
                    let _ = serve(stream, tx, s, d, reply).await;
                });
            }
        });
        Self {
            addr,
            rx,
            status,
            delay_ms,
            task,
        }
    }

    /// Its URL with `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The next request (panics after `wait`).
    pub async fn next(&mut self, wait: Duration) -> Received {
        tokio::time::timeout(wait, self.rx.recv())
            .await
            .expect("a webhook request in time")
            .expect("receiver running")
    }

    /// The next request whose JSON `event` is `event` (others skipped).
    pub async fn next_event(&mut self, event: &str, wait: Duration) -> Received {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let r = self.next(left).await;
            if r.json()["event"] == event {
                return r;
            }
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    tx: mpsc::UnboundedSender<Received>,
    status: Arc<AtomicU16>,
    delay: Arc<AtomicU64>,
    reply: Reply,
) -> std::io::Result<()> {
    let mut buf = BytesMut::new();
    let (head, used) = loop {
        if let Ok(Parsed::Complete(h, used)) = parse_request(&buf, &HeadLimits::default()) {
            break (h, used);
        }
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    };
    let length = head.content_length().ok().flatten().unwrap_or(0) as usize;
    while buf.len() < used + length {
        if stream.read_buf(&mut buf).await? == 0 {
            return Ok(());
        }
    }
    let received = Received {
        path: head.target.clone(),
        headers: head
            .headers
            .iter()
            .map(|h| (h.name.to_ascii_lowercase(), h.value.clone()))
            .collect(),
        body: buf[used..used + length].to_vec(),
    };
    let body = serde_json::to_vec(&reply(&received)).unwrap();
    let _ = tx.send(received);
    let wait = delay.load(Ordering::Relaxed);
    if wait > 0 {
        tokio::time::sleep(Duration::from_millis(wait)).await;
    }
    let code = status.load(Ordering::Relaxed);
    let head = format!(
        "HTTP/1.1 {code} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.shutdown().await
}
