//! Third-party peers of the WebSocket gateway, as child processes that print one
//! JSON event per line: Python `websockets` and paho-mqtt over WebSocket
//! (`tests/python/ws_peers.py`), MQTT.js over WebSocket (`tests/js/ws_mqttjs.mjs`),
//! headless Chromium (`tests/js/browser_demo.mjs`) and `mosquitto_sub`/`mosquitto_pub`.
//!
//! Every wait is bounded by [`PEER_WAIT`]; a child is killed when its handle drops.
//! (The MQTT interop tests drive long-lived peers line by line: `crate::peer`.)

// Test support: a panic here is a failed test, and JSON events are indexed freely.
#![allow(clippy::indexing_slicing)]

use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::peer::{Cli, mosquitto_client};
use crate::{require_peer, workspace_root};

/// How long a test waits for one expected event from a peer.
pub const PEER_WAIT: Duration = Duration::from_secs(15);

/// A child process whose stdout lines are JSON events (other lines become
/// `{"ev": "line", "line": ...}`), on [`Cli`]; killed on drop.
pub struct EventPeer {
    cli: Cli,
    name: String,
    /// Events received and not yet taken.
    pending: Vec<Value>,
}

fn event(line: String) -> Value {
    serde_json::from_str(&line).unwrap_or_else(|_| json!({"ev": "line", "line": line}))
}

impl EventPeer {
    /// Starts `command` (stdout piped, stderr to the test's).
    pub fn spawn(name: &str, command: Command) -> Self {
        Self {
            cli: Cli::spawn(name, command),
            name: name.to_string(),
            pending: Vec::new(),
        }
    }

    /// Waits for the first event that satisfies `pred` (earlier events are kept).
    pub fn expect_where(&mut self, what: &str, pred: impl Fn(&Value) -> bool) -> Value {
        if let Some(i) = self.pending.iter().position(&pred) {
            return self.pending.remove(i);
        }
        let deadline = Instant::now() + PEER_WAIT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.cli.next_line(left).map(event) {
                Some(e) if pred(&e) => return e,
                Some(e) => self.pending.push(e),
                None => panic!(
                    "{}: no {what} within {PEER_WAIT:?}; output: {:#?}",
                    self.name, self.cli.seen
                ),
            }
        }
    }

    /// Waits for the event named `ev`.
    pub fn expect(&mut self, ev: &str) -> Value {
        self.expect_where(&format!("`{ev}` event"), |e| e["ev"] == ev)
    }

    /// The next `n` `message` events, in order of arrival.
    pub fn messages(&mut self, n: usize) -> Vec<Value> {
        (0..n).map(|_| self.expect("message")).collect()
    }

    /// Waits (at most [`PEER_WAIT`]) for the process to end and asserts it
    /// succeeded; returns the events not taken yet.
    pub fn finish(self) -> Vec<Value> {
        self.finish_within(PEER_WAIT)
    }

    /// [`EventPeer::finish`] with a longer bound, for a longer scenario.
    pub fn finish_within(mut self, wait: Duration) -> Vec<Value> {
        let (code, rest) = self.cli.wait_exit(wait);
        assert_eq!(
            code,
            Some(0),
            "{} failed; output: {:#?}",
            self.name,
            self.cli.seen
        );
        self.pending.extend(rest.into_iter().map(event));
        std::mem::take(&mut self.pending)
    }
}

/// `tests/python/ws_peers.py` with `args`, run by the project's venv (`.venv`, made by
/// `scripts/test.sh peers` with `websockets` and `paho-mqtt`).
pub fn ws_peers_py(args: &[&str]) -> EventPeer {
    let python = workspace_root().join(".venv/bin/python");
    assert!(
        python.is_file(),
        "{} is missing: `scripts/test.sh peers` makes the venv with websockets and paho-mqtt",
        python.display()
    );
    let mut command = Command::new(python);
    command
        .arg(workspace_root().join("tests/python/ws_peers.py"))
        .args(args);
    EventPeer::spawn(&format!("ws_peers.py {}", args[0]), command)
}

/// `node tests/js/<script>` with `args` (MQTT.js and playwright-core come from
/// `tests/js/node_modules`, installed by `scripts/test.sh peers`).
pub fn node_script(script: &str, args: &[&str]) -> EventPeer {
    let node = require_peer("node", "apt-get install nodejs npm");
    let js = workspace_root().join("tests/js");
    assert!(
        js.join("node_modules/mqtt").is_dir() && js.join("node_modules/playwright-core").is_dir(),
        "tests/js/node_modules is incomplete: `scripts/test.sh peers` runs npm ci there"
    );
    let mut command = Command::new(node);
    command.arg(js.join(script)).args(args).current_dir(&js);
    EventPeer::spawn(script, command)
}

/// The `-F` format given to `mosquitto_sub`: one JSON `message` event per message
/// (the tests' topics need no JSON escaping; the payload is hex).
pub const MOSQUITTO_SUB_FORMAT: &str =
    r#"{"ev":"message","topic":"%t","qos":%q,"retain":%r,"payload_hex":"%x"}"#;

/// `mosquitto_sub -d` towards `addr` with `args`, line-buffered; returns once it
/// printed its SUBACK.
pub fn mosquitto_sub(addr: SocketAddr, args: &[&str]) -> EventPeer {
    let mut command = Command::new(require_peer("stdbuf", "apt-get install coreutils"));
    command
        .arg("-oL")
        .arg(require_peer(
            "mosquitto_sub",
            "apt-get install mosquitto-clients",
        ))
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(["-d", "-F", MOSQUITTO_SUB_FORMAT])
        .args(args);
    let mut peer = EventPeer::spawn("mosquitto_sub", command);
    peer.expect_where("SUBACK", |e| {
        e["line"]
            .as_str()
            .is_some_and(|l| l.contains("received SUBACK"))
    });
    peer
}

/// Runs `mosquitto_pub` towards `addr` with `args` (an `OsStr` can carry a payload
/// that is not UTF-8); panics unless it exits 0 in time.
pub fn mosquitto_pub<S: AsRef<OsStr>>(addr: SocketAddr, args: &[S]) {
    let mut command = Command::new(mosquitto_client("mosquitto_pub"));
    command
        .args(["-h", &addr.ip().to_string(), "-p", &addr.port().to_string()])
        .args(args);
    EventPeer::spawn("mosquitto_pub", command).finish();
}

/// `ws://{addr}{path}`.
pub fn ws_url(addr: SocketAddr, path: &str) -> String {
    format!("ws://{addr}{path}")
}

/// Hex of `bytes` (as the peers print payloads).
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The directory screenshots and logs go to: `$ARTIFACTS`, else `artifacts/`.
pub fn artifacts_dir() -> PathBuf {
    let dir = std::env::var_os("ARTIFACTS")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("artifacts"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A `/ws` `message` event as `ws_peers.py ws-sub` prints it, without `seq`.
pub fn ws_message(topic: &str, payload: &str, encoding: &str, qos: u8, retain: bool) -> Value {
    json!({"ev": "message", "topic": topic, "payload": payload, "encoding": encoding,
           "qos": qos, "retain": retain})
}

/// `m` without its `seq` (checked on its own where it matters).
pub fn without_seq(mut m: Value) -> Value {
    if let Some(obj) = m.as_object_mut() {
        obj.remove("seq");
    }
    m
}

/// An MQTT client's `message` event as MQTT.js, paho and `mosquitto_sub` print it.
pub fn mqtt_message(topic: &str, payload: &[u8], qos: u8, retain: bool) -> Value {
    json!({"ev": "message", "topic": topic, "payload_hex": hex(payload), "qos": qos,
           "retain": retain})
}

/// `m` with a numeric retain flag (`mosquitto_sub` prints 0/1) as a boolean.
pub fn normalized(mut m: Value) -> Value {
    if let Some(r) = m["retain"].as_u64() {
        m["retain"] = Value::Bool(r == 1);
    }
    m
}
