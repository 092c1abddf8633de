//! Third-party MQTT clients as child processes, for the interop tests.
//!
//! * [`Driven`]: paho-mqtt (`tests/python/paho_driver.py`) or MQTT.js
//!   (`tests/js/mqttjs_driver.js`), driven by one JSON command per line on stdin and
//!   answering with one JSON event per line (the protocol is described in the
//!   Python driver's docstring).
//! * [`Cli`]: any command whose stdout lines are collected (`mosquitto_sub`,
//!   `mosquitto_pub`).
//!
//! Every wait is bounded; a child is killed when its handle drops.

// Test support: a panic here is a failed test, and JSON events are indexed freely.
#![allow(clippy::indexing_slicing)]

use std::io::{BufRead, BufReader, Write};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::{require_peer, workspace_root};

/// How long a test waits for an expected event from a peer.
pub const PEER_WAIT: Duration = Duration::from_secs(10);

/// A child process whose stdout lines arrive on a channel; killed on drop.
pub struct Cli {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    name: String,
    /// Every line received so far (for failure messages).
    pub seen: Vec<String>,
}

impl Cli {
    /// Starts `command` with piped stdin and stdout (stderr goes to the test's).
    pub fn spawn(name: &str, mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            stdin: child.stdin.take(),
            child,
            lines,
            name: name.to_string(),
            seen: Vec::new(),
        }
    }

    /// The next stdout line within `wait`; `None` on timeout or end of output.
    pub fn next_line(&mut self, wait: Duration) -> Option<String> {
        match self.lines.recv_timeout(wait) {
            Ok(line) => {
                self.seen.push(line.clone());
                Some(line)
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => None,
        }
    }

    /// Reads lines until one satisfies `pred` (returned); panics after `wait`.
    pub fn wait_line(&mut self, wait: Duration, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.next_line(left) {
                Some(line) if pred(&line) => return line,
                Some(_) => {}
                None => panic!(
                    "{}: expected line not seen within {wait:?}; output so far: {:#?}",
                    self.name, self.seen
                ),
            }
        }
    }

    /// Writes one line to the child's stdin.
    pub fn write_line(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{line}")
            .and_then(|()| stdin.flush())
            .unwrap_or_else(|e| panic!("{}: cannot write to stdin: {e}", self.name));
    }

    /// Waits for the child to exit (panics after `wait`); returns its exit code and
    /// every remaining stdout line.
    pub fn wait_exit(&mut self, wait: Duration) -> (Option<i32>, Vec<String>) {
        drop(self.stdin.take());
        let deadline = Instant::now() + wait;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                let mut rest = Vec::new();
                while let Some(line) = self.next_line(Duration::from_millis(200)) {
                    rest.push(line);
                }
                return (status.code(), rest);
            }
            if Instant::now() >= deadline {
                panic!(
                    "{}: still running after {wait:?}; output: {:#?}",
                    self.name, self.seen
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills the child at once (no DISCONNECT reaches the server: an abnormal end).
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Cli {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Which driven client library.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Library {
    /// paho-mqtt (PyPI) 2.x.
    Paho,
    /// MQTT.js (npm `mqtt`) 5.x.
    MqttJs,
}

impl Library {
    /// Both libraries.
    pub const ALL: [Library; 2] = [Library::Paho, Library::MqttJs];

    /// A short name for messages and client ids.
    pub fn name(self) -> &'static str {
        match self {
            Library::Paho => "paho",
            Library::MqttJs => "mqttjs",
        }
    }
}

/// The Python of the project's venv (`.venv`, made by `scripts/lib.sh`).
fn venv_python() -> PathBuf {
    let python = workspace_root().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: `scripts/test.sh peers` creates the venv with paho-mqtt",
        python.display()
    );
    python
}

/// A paho-mqtt or MQTT.js client in a child process, driven by JSON lines.
pub struct Driven {
    cli: Cli,
    /// The library.
    pub library: Library,
    /// Messages received while waiting for other events, oldest first.
    messages: Vec<Value>,
    /// Other events received while waiting for messages.
    events: Vec<Value>,
}

impl Driven {
    /// Starts a driver for `library` towards `addr` and waits until it is ready.
    pub fn start(library: Library, addr: SocketAddr) -> Self {
        let root = workspace_root();
        let mut command = match library {
            Library::Paho => {
                let mut c = Command::new(venv_python());
                c.arg(root.join("tests/python/paho_driver.py"));
                c
            }
            Library::MqttJs => {
                let node = require_peer("node", "apt-get install nodejs");
                let modules = std::env::var_os("NODE_PATH")
                    .map(PathBuf::from)
                    .unwrap_or_else(|| root.join("tests/js/node_modules"));
                assert!(
                    modules.join("mqtt").is_dir(),
                    "MQTT.js is missing from {}: `scripts/test.sh peers` installs it (npm ci in tests/js)",
                    modules.display()
                );
                let mut c = Command::new(node);
                c.arg(root.join("tests/js/mqttjs_driver.js"))
                    .env("NODE_PATH", modules);
                c
            }
        };
        command
            .arg(addr.ip().to_string())
            .arg(addr.port().to_string());
        let mut this = Self {
            cli: Cli::spawn(library.name(), command),
            library,
            messages: Vec::new(),
            events: Vec::new(),
        };
        this.expect("ready");
        this
    }

    /// Sends one command.
    pub fn cmd(&mut self, command: Value) {
        self.cli.write_line(&command.to_string());
    }

    fn next_event(&mut self, deadline: Instant) -> Option<Value> {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = self.cli.next_line(left)?;
        let event: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("{}: not JSON ({e}): {line}", self.library.name()));
        if event["ev"] == "error" {
            panic!("{}: driver reported an error: {event}", self.library.name());
        }
        Some(event)
    }

    /// Waits for the next event named `ev` (messages that arrive meanwhile are kept).
    pub fn expect(&mut self, ev: &str) -> Value {
        if let Some(i) = self.events.iter().position(|e| e["ev"] == ev) {
            return self.events.remove(i);
        }
        let deadline = Instant::now() + PEER_WAIT;
        loop {
            match self.next_event(deadline) {
                Some(e) if e["ev"] == ev => return e,
                Some(e) if e["ev"] == "message" => self.messages.push(e),
                Some(e) => self.events.push(e),
                None => panic!(
                    "{}: no `{ev}` event within {PEER_WAIT:?}; output: {:#?}",
                    self.library.name(),
                    self.cli.seen
                ),
            }
        }
    }

    /// Connects with `options` (merged into a `connect` command) and returns the
    /// CONNACK event; panics unless it is a success.
    pub fn connect(&mut self, version: u8, id: &str, options: Value) -> Value {
        let mut command = json!({"op": "connect", "id": id, "version": version});
        if let (Some(c), Some(o)) = (command.as_object_mut(), options.as_object()) {
            c.extend(o.clone());
        }
        self.cmd(command);
        let ack = self.expect("connack");
        assert_eq!(ack["reason"], 0, "{}: CONNACK {ack}", self.library.name());
        ack
    }

    /// Subscribes (options merged into the command); returns the SUBACK codes.
    pub fn subscribe(&mut self, filter: &str, qos: u8, options: Value) -> Vec<u64> {
        let mut command = json!({"op": "subscribe", "filter": filter, "qos": qos});
        if let (Some(c), Some(o)) = (command.as_object_mut(), options.as_object()) {
            c.extend(o.clone());
        }
        self.cmd(command);
        let ack = self.expect("suback");
        ack["codes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .collect()
    }

    /// Publishes and waits until its QoS flow completed; returns the ack's reason code.
    pub fn publish(&mut self, topic: &str, payload: &str, qos: u8, retain: bool, props: Value) {
        self.cmd(json!({"op": "publish", "topic": topic, "payload": payload,
                        "qos": qos, "retain": retain, "props": props}));
        self.expect("published");
    }

    /// Sends DISCONNECT with `reason` and waits until the client closed.
    pub fn disconnect(&mut self, reason: u8) {
        self.cmd(json!({"op": "disconnect", "reason": reason}));
        self.expect("disconnected");
    }

    /// The next `n` messages (panics if they do not arrive within [`PEER_WAIT`]).
    pub fn messages(&mut self, n: usize) -> Vec<Value> {
        let deadline = Instant::now() + PEER_WAIT;
        while self.messages.len() < n {
            match self.next_event(deadline) {
                Some(e) if e["ev"] == "message" => self.messages.push(e),
                Some(e) => self.events.push(e),
                None => panic!(
                    "{}: {} of {n} messages within {PEER_WAIT:?}: {:#?}",
                    self.library.name(),
                    self.messages.len(),
                    self.messages
                ),
            }
        }
        self.messages.drain(..n).collect()
    }

    /// Asserts that no message arrives within `wait`.
    pub fn expect_no_message(&mut self, wait: Duration) {
        let deadline = Instant::now() + wait;
        while let Some(e) = self.next_event(deadline) {
            if e["ev"] == "message" {
                self.messages.push(e);
            } else {
                self.events.push(e);
            }
        }
        assert!(
            self.messages.is_empty(),
            "{}: unexpected messages {:#?}",
            self.library.name(),
            self.messages
        );
    }

    /// Every message that has arrived or arrives within `wait` of the last one.
    pub fn drain(&mut self, wait: Duration) -> Vec<Value> {
        loop {
            match self.next_event(Instant::now() + wait) {
                Some(e) if e["ev"] == "message" => self.messages.push(e),
                Some(e) => self.events.push(e),
                None => return std::mem::take(&mut self.messages),
            }
        }
    }

    /// Kills the client process: the server sees the connection drop without
    /// DISCONNECT.
    pub fn kill(mut self) {
        self.cli.kill();
    }
}

/// `mosquitto_sub` or `mosquitto_pub` on `PATH` (fails the test when missing).
pub fn mosquitto_client(program: &str) -> PathBuf {
    require_peer(program, "apt-get install mosquitto-clients")
}

/// The `-F` format the tests give `mosquitto_sub`: one `MSG` line per message with
/// topic, QoS, retain flag and the v5 properties the tests look at, payload last.
pub const SUB_FORMAT: &str = "MSG|%t|%q|%r|%E|%R|%C|%F|%S|%P|%D|%p";

/// One message line printed by `mosquitto_sub` with [`SUB_FORMAT`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubLine {
    /// Topic.
    pub topic: String,
    /// QoS.
    pub qos: u8,
    /// RETAIN flag.
    pub retain: bool,
    /// Message Expiry Interval, if any.
    pub expiry: Option<u32>,
    /// Response Topic (empty if none).
    pub response_topic: String,
    /// Content Type (empty if none).
    pub content_type: String,
    /// Payload Format Indicator (empty if none).
    pub format: String,
    /// Subscription Identifier (empty if none).
    pub sub_id: String,
    /// User properties as printed (`k:v` separated by spaces).
    pub user_properties: String,
    /// Correlation Data (empty if none).
    pub correlation: String,
    /// Payload.
    pub payload: String,
}

impl SubLine {
    /// Parses a `MSG|...` line; `None` for other lines (debug output).
    pub fn parse(line: &str) -> Option<Self> {
        let rest = line.strip_prefix("MSG|")?;
        let f: Vec<&str> = rest.splitn(11, '|').collect();
        let [
            topic,
            qos,
            retain,
            expiry,
            rt,
            ct,
            fmt,
            sid,
            up,
            corr,
            payload,
        ] = f[..]
        else {
            return None;
        };
        Some(Self {
            topic: topic.into(),
            qos: qos.parse().ok()?,
            retain: retain == "1",
            expiry: expiry.parse().ok(),
            response_topic: rt.into(),
            content_type: ct.into(),
            format: fmt.into(),
            sub_id: sid.into(),
            user_properties: up.into(),
            correlation: corr.into(),
            payload: payload.into(),
        })
    }
}

/// A running `mosquitto_sub -d` that has received its SUBACK.
pub struct MosquittoSub {
    cli: Cli,
    /// Messages that arrived before the SUBACK (a resumed session's queue).
    early: Vec<SubLine>,
}

impl MosquittoSub {
    /// Starts `mosquitto_sub` towards `addr` with `-V version` and `args` (topics,
    /// QoS, options) and waits for its SUBACK (it prints it with `-d`).
    pub fn start(addr: SocketAddr, version: &str, args: &[&str]) -> Self {
        // Line-buffered: mosquitto_sub buffers a piped stdout otherwise.
        let mut c = Command::new(require_peer("stdbuf", "apt-get install coreutils"));
        c.arg("-oL").arg(mosquitto_client("mosquitto_sub"));
        c.args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
            .args(["-V", version, "-d", "-F", SUB_FORMAT])
            .args(args);
        let mut cli = Cli::spawn("mosquitto_sub", c);
        let mut early = Vec::new();
        let deadline = Instant::now() + PEER_WAIT;
        loop {
            match cli.next_line(deadline.saturating_duration_since(Instant::now())) {
                Some(l) if l.contains("received SUBACK") => break,
                Some(l) => early.extend(SubLine::parse(&l)),
                None => panic!(
                    "mosquitto_sub: no SUBACK within {PEER_WAIT:?}: {:#?}",
                    cli.seen
                ),
            }
        }
        Self { cli, early }
    }

    /// The next `n` messages.
    pub fn messages(&mut self, n: usize) -> Vec<SubLine> {
        let mut got = std::mem::take(&mut self.early);
        while got.len() < n {
            let line = self.cli.wait_line(PEER_WAIT, |l| l.starts_with("MSG|"));
            got.extend(SubLine::parse(&line));
        }
        self.early = got.split_off(n);
        got
    }

    /// Asserts that no message line arrives within `wait`.
    pub fn expect_no_message(&mut self, wait: Duration) {
        assert!(
            self.early.is_empty(),
            "mosquitto_sub: unexpected {:?}",
            self.early
        );
        let deadline = Instant::now() + wait;
        while let Some(line) = self
            .cli
            .next_line(deadline.saturating_duration_since(Instant::now()))
        {
            assert!(
                !line.starts_with("MSG|"),
                "mosquitto_sub: unexpected {line}"
            );
        }
    }

    /// Every message that arrives within `wait` of the last one.
    pub fn drain(&mut self, wait: Duration) -> Vec<SubLine> {
        let mut got = std::mem::take(&mut self.early);
        while let Some(line) = self.cli.next_line(wait) {
            got.extend(SubLine::parse(&line));
        }
        got
    }

    /// Waits for the process to exit (after `-C count` messages, for instance) and
    /// returns its exit code.
    pub fn wait_exit(&mut self) -> Option<i32> {
        self.cli.wait_exit(PEER_WAIT).0
    }

    /// Kills it (no DISCONNECT).
    pub fn kill(mut self) {
        self.cli.kill();
    }
}

/// Runs `mosquitto_pub` towards `addr` with `-V version` and `args` to completion;
/// panics unless it exits 0 within [`PEER_WAIT`].
pub fn mosquitto_pub(addr: SocketAddr, version: &str, args: &[&str]) {
    let mut c = Command::new(mosquitto_client("mosquitto_pub"));
    c.args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(["-V", version])
        .args(args);
    let mut cli = Cli::spawn("mosquitto_pub", c);
    let (code, _) = cli.wait_exit(PEER_WAIT);
    assert_eq!(code, Some(0), "mosquitto_pub {args:?} failed");
}
