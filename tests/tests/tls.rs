//! MQTT over TLS and WSS against the in-process server, with a test CA made by
//! rcgen: round trips through the generic (`AsyncRead + AsyncWrite`) driver,
//! large messages (partial TLS writes), client certificates, handshake timeout.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{ProtocolVersion, QoS, ReasonCode};
use realtime_server::config::ClientAuth;
use realtime_tests::mqtt::{TestClient, WAIT, connect_packet};
use realtime_tests::tls::TlsFixture;
use realtime_tests::ws::{recv_json, send_json};
use realtime_tests::{InProcessServer, loopback_config};
use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use ws_proto::handshake::client::ClientConfig;

async fn server(tls: &TlsFixture, client_auth: ClientAuth) -> InProcessServer {
    let mut config = loopback_config();
    let mut listener = tls.listener();
    if client_auth != ClientAuth::None {
        listener.client_ca = Some(tls.ca.clone());
        listener.client_auth = client_auth;
    }
    config.listeners.mqtt_tls = Some(listener.clone());
    config.listeners.https = Some(listener);
    config.tls.handshake_timeout_ms = 500;
    let broker = config.broker_config();
    InProcessServer::start_config(config, broker).await
}

async fn tls_client(tls: &TlsFixture, s: &InProcessServer, id: &str) -> TestClient {
    let stream = tls
        .connect(s.mqtt_tls.unwrap(), false)
        .await
        .expect("TLS handshake");
    let mut c = TestClient::over(Box::new(stream), ProtocolVersion::V5);
    c.send(&mqtt_proto::Packet::Connect(Box::new(connect_packet(
        ProtocolVersion::V5,
        id,
    ))))
    .await;
    let mqtt_proto::Packet::ConnAck(ack) = c.recv().await else {
        panic!("CONNACK")
    };
    assert_eq!(ack.reason_code, ReasonCode::Success);
    c
}

/// MQTT over TLS carries the same protocol as TCP, on the same bus; a 600 KB
/// message crosses many TLS records and partial writes intact.
#[tokio::test]
async fn mqtt_over_tls_round_trip_and_bus() {
    let tls = TlsFixture::new();
    let s = server(&tls, ClientAuth::None).await;
    let mut sub = tls_client(&tls, &s, "tls-sub").await;
    sub.subscribe("t/#", QoS::AtLeastOnce).await;
    let mut tcp_sub = TestClient::connect(s.mqtt, ProtocolVersion::V3_1_1, "tcp-sub").await;
    tcp_sub.subscribe("t/#", QoS::AtLeastOnce).await;
    let mut publisher = tls_client(&tls, &s, "tls-pub").await;
    let big: Vec<u8> = (0..600_000u32).map(|i| (i % 251) as u8).collect();
    for payload in [&b"small"[..], &big[..]] {
        assert_eq!(
            publisher
                .publish("t/x", payload, QoS::AtLeastOnce, false)
                .await,
            ReasonCode::Success
        );
        for c in [&mut sub, &mut tcp_sub] {
            let p = c.recv_publish().await;
            assert_eq!(p.payload, Bytes::copy_from_slice(payload));
            c.ack(&p).await;
        }
    }
    assert_eq!(s.broker.metrics.connections_mqtt_tls.get(), 2);
    sub.disconnect().await;
}

/// WSS: the `/ws` JSON protocol over the HTTPS listener.
#[tokio::test]
async fn wss_json_protocol() {
    let tls = TlsFixture::new();
    let s = server(&tls, ClientAuth::None).await;
    let stream = tls.connect(s.https.unwrap(), false).await.unwrap();
    let (mut ws, _) =
        ws_proto::tokio::WebSocket::connect(stream, "localhost", "/ws", &ClientConfig::default())
            .await
            .expect("wss upgrade");
    assert_eq!(recv_json(&mut ws).await["type"], "welcome");
    send_json(
        &mut ws,
        json!({"type": "subscribe", "id": 1, "filter": "room/#"}),
    )
    .await;
    assert_eq!(recv_json(&mut ws).await["type"], "subscribed");
    let mut tcp = TestClient::connect(s.mqtt, ProtocolVersion::V5, "tcp").await;
    tcp.publish("room/1", b"hello over wss", QoS::AtMostOnce, false)
        .await;
    let m = recv_json(&mut ws).await;
    assert_eq!(m["payload"], "hello over wss");
    // /healthz over HTTPS too.
    let mut https = tls.connect(s.https.unwrap(), false).await.unwrap();
    https
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    let _ = tokio::time::timeout(WAIT, https.read_to_end(&mut response)).await;
    assert!(
        response.starts_with(b"HTTP/1.1 200"),
        "{}",
        String::from_utf8_lossy(&response)
    );
}

/// `client_auth = "required"`: no certificate, no connection; a certificate
/// signed by `client_ca` gets in.
#[tokio::test]
async fn client_certificates_required() {
    let tls = TlsFixture::new();
    let s = server(&tls, ClientAuth::Required).await;
    let addr = s.mqtt_tls.unwrap();
    // TLS 1.3: the server's refusal may surface on the first read, not in connect.
    let refused = match tls.connect(addr, false).await {
        Err(_) => true,
        Ok(mut stream) => {
            let _ = stream.write_all(b"\x10\x00").await;
            let mut buf = [0u8; 16];
            !matches!(tokio::time::timeout(WAIT, stream.read(&mut buf)).await, Ok(Ok(n)) if n > 0)
        }
    };
    assert!(refused, "a client without a certificate must be refused");
    let stream = tls
        .connect(addr, true)
        .await
        .expect("handshake with a client certificate");
    let mut c = TestClient::over(Box::new(stream), ProtocolVersion::V5);
    c.send(&mqtt_proto::Packet::Connect(Box::new(connect_packet(
        ProtocolVersion::V5,
        "cert",
    ))))
    .await;
    assert!(
        matches!(c.recv().await, mqtt_proto::Packet::ConnAck(a) if a.reason_code == ReasonCode::Success)
    );
}

/// A peer that opens TCP and never starts TLS is dropped after the handshake
/// timeout; one that sends plain MQTT to the TLS port is dropped too.
#[tokio::test]
async fn silent_or_plaintext_peers_are_dropped() {
    let tls = TlsFixture::new();
    let s = server(&tls, ClientAuth::None).await;
    let mut silent = tokio::net::TcpStream::connect(s.mqtt_tls.unwrap())
        .await
        .unwrap();
    let mut buf = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(10), silent.read(&mut buf)).await;
    assert!(
        matches!(read, Ok(Ok(0)) | Ok(Err(_))),
        "closed after the handshake timeout"
    );
    let mut plain = tokio::net::TcpStream::connect(s.mqtt_tls.unwrap())
        .await
        .unwrap();
    plain
        .write_all(&[
            0x10, 0x10, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0, 0, 0, 0, 0, 0,
        ])
        .await
        .unwrap();
    let read =
        tokio::time::timeout(Duration::from_secs(10), plain.read_to_end(&mut Vec::new())).await;
    assert!(read.is_ok(), "closed");
    assert!(s.broker.metrics.tls_handshake_failures.get() >= 2);
}
