//! TLS against real clients and the release binary: `mosquitto_pub --cafile` /
//! `mosquitto_sub --cafile` over MQTT/TLS (3.1.1 and 5.0), and Python
//! `websockets` over `wss://` on the HTTPS listener, with a CA and server
//! certificate the test makes (rcgen).
#![cfg(feature = "interop")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

use realtime_tests::tls::TlsFixture;
use realtime_tests::{ServerProcess, free_port, require_peer};

fn server(tls: &TlsFixture) -> (ServerProcess, u16, u16) {
    let (mqtts, https) = (free_port(), free_port());
    let server = ServerProcess::start(&[
        "--mqtt-tls-listen",
        &format!("127.0.0.1:{mqtts}"),
        "--https-listen",
        &format!("127.0.0.1:{https}"),
        "--tls-cert",
        tls.cert.to_str().unwrap(),
        "--tls-key",
        tls.key.to_str().unwrap(),
    ]);
    realtime_tests::wait_for_port(mqtts);
    realtime_tests::wait_for_port(https);
    (server, mqtts, https)
}

/// mosquitto_pub publishes a retained message over TLS, mosquitto_sub reads it
/// back over TLS, both verifying the server with `--cafile`.
#[test]
fn mosquitto_clients_over_tls_with_cafile() {
    let pub_bin = require_peer("mosquitto_pub", "apt-get install mosquitto-clients");
    let sub_bin = require_peer("mosquitto_sub", "apt-get install mosquitto-clients");
    let tls = TlsFixture::new();
    let (_server, port, _) = server(&tls);
    for version in ["mqttv311", "mqttv5"] {
        let topic = format!("tls/{version}");
        let out = Command::new(&pub_bin)
            .args(["--cafile", tls.ca.to_str().unwrap(), "-h", "localhost"])
            .args(["-p", &port.to_string(), "-V", version, "-q", "1", "-r"])
            .args(["-t", &topic, "-m", "over tls"])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mosquitto_pub: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = Command::new(&sub_bin)
            .args(["--cafile", tls.ca.to_str().unwrap(), "-h", "localhost"])
            .args([
                "-p",
                &port.to_string(),
                "-V",
                version,
                "-t",
                &topic,
                "-C",
                "1",
                "-W",
                "10",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "mosquitto_sub: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "over tls");
    }
    // Without the CA the server is not trusted: the client refuses.
    let out = Command::new(&pub_bin)
        .args([
            "--capath",
            tls.dir.path().to_str().unwrap(),
            "-h",
            "localhost",
        ])
        .args(["-p", &port.to_string(), "-t", "x", "-m", "y"])
        .output()
        .unwrap();
    assert!(
        !out.status.success(),
        "an untrusted certificate must fail verification"
    );
}

const WSS_CLIENT: &str = r#"
import asyncio, json, ssl, sys
import websockets

async def main(url, ca):
    ctx = ssl.create_default_context(cafile=ca)
    async with websockets.connect(url, ssl=ctx) as ws:
        welcome = json.loads(await ws.recv())
        await ws.send(json.dumps({"type": "subscribe", "id": 1, "filter": "wss/#"}))
        ack = json.loads(await ws.recv())
        await ws.send(json.dumps({"type": "publish", "id": 2, "topic": "wss/x", "payload": "hi", "qos": 1}))
        got = [json.loads(await ws.recv()) for _ in range(2)]
        msg = [m for m in got if m["type"] == "message"][0]
        print(json.dumps({"welcome": welcome["type"], "ack": ack["type"],
                          "got": sorted(m["type"] for m in got), "payload": msg["payload"]}))

asyncio.run(main(sys.argv[1], sys.argv[2]))
"#;

/// Python `websockets` over `wss://`: the `/ws` JSON protocol on the HTTPS
/// listener, verified against the test CA.
#[test]
fn python_websockets_over_wss() {
    let python = require_peer(
        "python3",
        "apt-get install python3 (scripts/test.sh sets up .venv with websockets)",
    );
    let tls = TlsFixture::new();
    let (_server, _, https) = server(&tls);
    let out = Command::new(python)
        .args([
            "-c",
            WSS_CLIENT,
            &format!("wss://localhost:{https}/ws"),
            tls.ca.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "python: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        result,
        serde_json::json!({"welcome": "welcome", "ack": "subscribed", "got": ["message", "puback"], "payload": "hi"})
    );
}
