//! The binary's command line and signals: `check-config`, `passwd`, SIGHUP
//! reloading the password and ACL files, SIGTERM shutting down gracefully (MQTT 5
//! DISCONNECT 0x8B, WebSocket close 1001, store flushed, exit status 0), and
//! `--worker-threads`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    Connect, Decoder, Packet, PacketId, ProtocolVersion, PubResponse, Publish, QoS, ReasonCode,
    Subscribe, Subscription,
};

const BIN: &str = env!("CARGO_BIN_EXE_realtime-server");
const WAIT: Duration = Duration::from_secs(20);

fn example() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../config/realtime-server.example.toml")
}

/// `realtime-server check-config FILE`.
fn check_config(file: &Path) -> std::process::Output {
    Command::new(BIN)
        .arg("check-config")
        .arg(file)
        .output()
        .unwrap()
}

/// The example configuration passes `check-config`, which prints the effective
/// configuration; a bad file fails (exit 2) naming the line and the key.
#[test]
fn check_config_accepts_the_example_and_locates_errors() {
    let out = check_config(&example());
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    assert!(
        text.contains("[listeners.mqtt]") && text.contains("allow_anonymous = true"),
        "{text}"
    );
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    std::fs::write(&bad, "[broker]\nmax_qos = 1\nmax_inflight = -4\n").unwrap();
    let out = check_config(&bad);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8(out.stderr).unwrap();
    assert!(err.contains("line 3"), "{err}");
    std::fs::write(&bad, "[store]\ndurability = \"sync\"\n").unwrap();
    let out = check_config(&bad);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8(out.stderr)
            .unwrap()
            .contains("store.data_dir")
    );
}

fn passwd(file: &Path, args: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("passwd")
        .arg(file)
        .args(args)
        .output()
        .unwrap()
}

/// `passwd FILE USER --password PASSWORD` (with few PBKDF2 iterations, for speed).
fn set_password(file: &Path, user: &str, password: &str) -> std::process::Output {
    passwd(
        file,
        &[user, "--password", password, "--iterations", "4096"],
    )
}

/// `passwd` adds, updates and deletes users like mosquitto_passwd; the file is
/// private (0600); a password can come from stdin.
#[test]
fn passwd_adds_updates_and_deletes() {
    use realtime_server::auth::PasswordFile;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    assert!(set_password(&file, "alice", "one").status.success());
    let mut child = Command::new(BIN)
        .arg("passwd")
        .arg(&file)
        .args(["bob", "--iterations", "4096"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"from-stdin\n")
        .unwrap();
    assert!(child.wait().unwrap().success());
    let parsed = PasswordFile::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(parsed.get("alice").unwrap().verify(b"one"));
    assert!(parsed.get("bob").unwrap().verify(b"from-stdin"));
    let out = set_password(&file, "alice", "two");
    assert!(String::from_utf8_lossy(&out.stdout).contains("updated"));
    assert!(passwd(&file, &["bob", "--delete"]).status.success());
    assert!(
        !passwd(&file, &["bob", "--delete"]).status.success(),
        "no such user"
    );
    let parsed = PasswordFile::parse(&std::fs::read_to_string(&file).unwrap()).unwrap();
    assert!(parsed.get("alice").unwrap().verify(b"two") && parsed.get("bob").is_none());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert!(!passwd(&file, &["a:b", "--password", "x"]).status.success());
}

fn free_addr() -> SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

struct Server {
    child: Child,
    mqtt: SocketAddr,
    http: SocketAddr,
}

impl Server {
    fn start(extra: &[&str]) -> Self {
        let (mqtt, http) = (free_addr(), free_addr());
        let child = Command::new(BIN)
            .args([
                "--mqtt-listen",
                &mqtt.to_string(),
                "--http-listen",
                &http.to_string(),
            ])
            .args(extra)
            .stdin(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + WAIT;
        while TcpStream::connect(mqtt).is_err() || TcpStream::connect(http).is_err() {
            assert!(Instant::now() < deadline, "server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, mqtt, http }
    }

    fn signal(&self, name: &str) {
        let ok = Command::new("kill")
            .args([&format!("-{name}"), &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill -{name}");
    }

    fn wait_exit(&mut self) -> Option<i32> {
        let deadline = Instant::now() + WAIT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A blocking MQTT 5 client: just enough to connect and read packets.
struct Client {
    stream: TcpStream,
    buf: BytesMut,
}

impl Client {
    fn connect(addr: SocketAddr, user: Option<(&str, &str)>) -> (Self, ReasonCode) {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let id = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let mut connect = Connect::new(ProtocolVersion::V5, format!("cli-test-{id}"));
        connect.keep_alive = 60;
        if let Some((u, p)) = user {
            connect.username = Some(u.to_string().into());
            connect.password = Some(Bytes::copy_from_slice(p.as_bytes()));
        }
        Self::connect_with(addr, connect)
    }

    fn connect_with(addr: SocketAddr, connect: Connect) -> (Self, ReasonCode) {
        let stream = TcpStream::connect(addr).unwrap();
        stream.set_read_timeout(Some(WAIT)).unwrap();
        let mut c = Self {
            stream,
            buf: BytesMut::new(),
        };
        c.send(&Packet::Connect(Box::new(connect)));
        match c.recv() {
            Some(Packet::ConnAck(ack)) => (c, ack.reason_code),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Subscribes to one filter at QoS 1; the SUBACK's reason code.
    fn subscribe(&mut self, filter: &str) -> ReasonCode {
        self.send(&Packet::Subscribe(Subscribe {
            packet_id: PacketId::new(1).unwrap(),
            properties: Default::default(),
            subscriptions: vec![Subscription::new(filter.to_string(), QoS::AtLeastOnce)],
        }));
        match self.recv() {
            Some(Packet::SubAck(ack)) => ack.reason_codes[0],
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    fn send(&mut self, p: &Packet) {
        let mut out = BytesMut::new();
        p.encode(ProtocolVersion::V5, &mut out).unwrap();
        self.stream.write_all(&out).unwrap();
    }

    /// The next packet, or `None` once the server closed.
    fn recv(&mut self) -> Option<Packet> {
        let decoder = Decoder::new(ProtocolVersion::V5);
        loop {
            if let Some(p) = decoder.decode(&mut self.buf).unwrap() {
                return Some(p);
            }
            let mut chunk = [0u8; 4096];
            match self.stream.read(&mut chunk) {
                Ok(0) | Err(_) => return None,
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
            }
        }
    }
}

/// The `/metrics` body of a running server (HTTP/1.1 GET, `Connection: close`).
fn metrics(http: SocketAddr) -> String {
    let mut stream = TcpStream::connect(http).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    stream
        .write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    response
}

/// `--worker-threads N` sets the runtime's worker threads, which `/metrics`
/// reports as `realtime_runtime_workers`; without it there is one per core.
#[test]
fn worker_threads_flag_sets_the_runtime_workers() {
    for n in [1usize, 3] {
        let server = Server::start(&["--worker-threads", &n.to_string()]);
        let body = metrics(server.http);
        assert!(
            body.lines()
                .any(|l| l == format!("realtime_runtime_workers {n}")),
            "{body}"
        );
    }
    let server = Server::start(&[]);
    let cores = std::thread::available_parallelism().unwrap().get();
    let body = metrics(server.http);
    assert!(
        body.lines()
            .any(|l| l == format!("realtime_runtime_workers {cores}")),
        "{body}"
    );
}

/// SIGHUP reloads the password file: a changed password works without a restart,
/// the old one stops working, and a connection made before keeps running.
#[test]
fn sighup_reloads_the_password_file() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("passwd");
    assert!(set_password(&file, "alice", "old").status.success());
    let server = Server::start(&[
        "--password-file",
        file.to_str().unwrap(),
        "--allow-anonymous",
        "false",
    ]);
    let (mut before, code) = Client::connect(server.mqtt, Some(("alice", "old")));
    assert_eq!(code, ReasonCode::Success);
    assert!(set_password(&file, "alice", "new").status.success());
    assert_eq!(
        Client::connect(server.mqtt, Some(("alice", "new"))).1,
        ReasonCode::BadUserNameOrPassword,
        "not reloaded yet"
    );
    server.signal("HUP");
    let deadline = Instant::now() + WAIT;
    while Client::connect(server.mqtt, Some(("alice", "new"))).1 != ReasonCode::Success {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the password file"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        Client::connect(server.mqtt, Some(("alice", "old"))).1,
        ReasonCode::BadUserNameOrPassword
    );
    before.send(&Packet::PingReq);
    assert!(
        matches!(before.recv(), Some(Packet::PingResp)),
        "the old connection keeps running"
    );
}

/// SIGTERM: the MQTT 5 client gets DISCONNECT 0x8B, the WebSocket client a close
/// 1001, the listeners stop, and the process exits with status 0.
#[test]
fn sigterm_says_goodbye_and_exits_zero() {
    let mut server = Server::start(&[]);
    let (mut mqtt, code) = Client::connect(server.mqtt, None);
    assert_eq!(code, ReasonCode::Success);
    let mut ws = TcpStream::connect(server.http).unwrap();
    ws.set_read_timeout(Some(WAIT)).unwrap();
    ws.write_all(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n").unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        ws.read_exact(&mut byte).unwrap();
        head.push(byte[0]);
    }
    assert!(head.starts_with(b"HTTP/1.1 101"));
    server.signal("TERM");
    match mqtt.recv() {
        Some(Packet::Disconnect(d)) => assert_eq!(d.reason_code, ReasonCode::ServerShuttingDown),
        other => panic!("expected DISCONNECT 0x8B, got {other:?}"),
    }
    // Frames until the Close (the welcome message comes first).
    let mut frames = Vec::new();
    let close_code = loop {
        let mut chunk = [0u8; 4096];
        let n = ws.read(&mut chunk).unwrap_or(0);
        assert!(n > 0, "closed without a Close frame");
        frames.extend_from_slice(&chunk[..n]);
        let mut at = 0;
        let mut found = None;
        while frames.len() >= at + 2 {
            let len = usize::from(frames[at + 1] & 0x7f);
            let (len, start) = match len {
                126 if frames.len() >= at + 4 => (
                    usize::from(u16::from_be_bytes([frames[at + 2], frames[at + 3]])),
                    at + 4,
                ),
                126 | 127 => break,
                n => (n, at + 2),
            };
            if frames.len() < start + len {
                break;
            }
            if frames[at] & 0x0f == 0x8 {
                found = Some(u16::from_be_bytes([frames[start], frames[start + 1]]));
                break;
            }
            at = start + len;
        }
        if let Some(code) = found {
            break code;
        }
    };
    assert_eq!(close_code, 1001);
    // The client answers the Close, as a well-behaved peer does.
    ws.write_all(&[0x88, 0x82, 0, 0, 0, 0, 0x03, 0xe9]).unwrap();
    assert_eq!(server.wait_exit(), Some(0));
    assert!(TcpStream::connect(server.mqtt).is_err(), "listeners closed");
}

/// SIGHUP reloads the ACL file too: a subscription the old rules denied (SUBACK
/// 0x87) is granted once the file allows it and the signal was sent.
#[test]
fn sighup_reloads_the_acl_file() {
    let dir = tempfile::tempdir().unwrap();
    let acl = dir.path().join("acl");
    std::fs::write(&acl, "topic read public/#\n").unwrap();
    let server = Server::start(&["--acl-file", acl.to_str().unwrap()]);
    let (mut c, code) = Client::connect(server.mqtt, None);
    assert_eq!(code, ReasonCode::Success);
    assert_eq!(c.subscribe("secret/x"), ReasonCode::NotAuthorized);
    std::fs::write(&acl, "topic read public/#\ntopic read secret/#\n").unwrap();
    assert_eq!(
        c.subscribe("secret/x"),
        ReasonCode::NotAuthorized,
        "not reloaded yet"
    );
    server.signal("HUP");
    let deadline = Instant::now() + WAIT;
    while c.subscribe("secret/x") != ReasonCode::GrantedQoS1 {
        assert!(
            Instant::now() < deadline,
            "SIGHUP did not reload the ACL file"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// SIGTERM flushes the store: with `periodic` durability and an interval far
/// longer than the test, a message acknowledged (at once) to the publisher and
/// queued for an offline persistent session is on disk after the graceful exit,
/// and delivered when the subscriber comes back to the restarted server.
#[test]
fn sigterm_flushes_the_periodic_store() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let args = [
        "--data-dir",
        data.as_str(),
        "--durability",
        "periodic",
        "--periodic-interval-ms",
        "3600000",
    ];
    let persistent = |clean: bool| {
        let mut c = Connect::new(ProtocolVersion::V5, "cli-persistent".to_string());
        c.clean_start = clean;
        c.properties.session_expiry_interval = Some(600);
        c
    };
    let mut server = Server::start(&args);
    let (mut sub, code) = Client::connect_with(server.mqtt, persistent(true));
    assert_eq!(code, ReasonCode::Success);
    assert_eq!(sub.subscribe("keep/#"), ReasonCode::GrantedQoS1);
    sub.send(&Packet::Disconnect(mqtt_proto::Disconnect::new(
        ReasonCode::Success,
    )));
    drop(sub);
    let (mut publisher, code) = Client::connect(server.mqtt, None);
    assert_eq!(code, ReasonCode::Success);
    let mut p = Publish::new("keep/1".to_string(), Bytes::from_static(b"flushed"));
    p.qos = QoS::AtLeastOnce;
    p.packet_id = PacketId::new(7);
    publisher.send(&Packet::Publish(p));
    match publisher.recv() {
        Some(Packet::PubAck(a)) => assert_eq!(a.reason_code, ReasonCode::Success),
        other => panic!("expected PUBACK, got {other:?}"),
    }
    server.signal("TERM");
    assert_eq!(server.wait_exit(), Some(0));
    drop(publisher);

    let _server = Server::start(&args);
    let (mut sub, code) = Client::connect_with(_server.mqtt, persistent(false));
    assert_eq!(code, ReasonCode::Success);
    match sub.recv() {
        Some(Packet::Publish(p)) => {
            assert_eq!((&p.topic[..], &p.payload[..]), ("keep/1", &b"flushed"[..]));
            if let Some(id) = p.packet_id {
                sub.send(&Packet::PubAck(PubResponse::new(id)));
            }
        }
        other => panic!("expected the queued PUBLISH, got {other:?}"),
    }
}
