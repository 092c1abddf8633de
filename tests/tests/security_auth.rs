//! Authentication and authorization on all three transports — MQTT over TCP,
//! MQTT over WebSocket (`/mqtt`) and the `/ws` JSON protocol — against the
//! in-process server with a password file and an ACL (tests/src/security.rs),
//! anonymous access off.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Duration;

use base64::Engine as _;
use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    Auth, ConnAck, Decoder, Packet, ProtocolVersion, QoS, ReasonCode, SubscriptionOptions,
};
use realtime_server::auth::scram::{SCRAM_SHA_256, client as scram};
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::{TestClient, connect_packet};
use realtime_tests::security::SecurityFixture;
use realtime_tests::ws::{connect, raw_http, recv, recv_json, send_json};
use serde_json::json;
use ws_proto::Message;
use ws_proto::handshake::client::ClientConfig;

const QUIET: Duration = Duration::from_millis(300);

async fn server(fx: &SecurityFixture) -> InProcessServer {
    let config = fx.config();
    let broker = config.broker_config();
    InProcessServer::start_config(config, broker).await
}

fn with_credentials(
    version: ProtocolVersion,
    id: &str,
    user: Option<&str>,
    password: Option<&str>,
) -> mqtt_proto::Connect {
    let mut c = connect_packet(version, id);
    c.username = user.map(|u| u.to_string().into());
    c.password = password.map(|p| Bytes::copy_from_slice(p.as_bytes()));
    c
}

async fn connack(
    server: &InProcessServer,
    version: ProtocolVersion,
    user: Option<&str>,
    password: Option<&str>,
) -> ConnAck {
    let (_, ack) =
        TestClient::connect_with(server.mqtt, with_credentials(version, "c", user, password)).await;
    ack
}

async fn login(
    server: &InProcessServer,
    version: ProtocolVersion,
    id: &str,
    user: &str,
) -> TestClient {
    let password = realtime_tests::security::USERS
        .iter()
        .find(|(u, _)| *u == user)
        .unwrap()
        .1;
    let (c, ack) = TestClient::connect_with(
        server.mqtt,
        with_credentials(version, id, Some(user), Some(password)),
    )
    .await;
    assert_eq!(ack.reason_code, ReasonCode::Success, "{ack:?}");
    c
}

/// CONNACK codes: v5 0x86 bad user name or password, 0x87 not authorized
/// (anonymous where it is off); 3.1.1 return codes 4 and 5 (MQTT-3.2.2-3 table).
#[tokio::test]
async fn mqtt_tcp_connack_codes_for_credentials() {
    let fx = SecurityFixture::new();
    let s = server(&fx).await;
    for v in [ProtocolVersion::V5, ProtocolVersion::V3_1_1] {
        assert_eq!(
            connack(&s, v, Some("alice"), Some("wonderland"))
                .await
                .reason_code,
            ReasonCode::Success
        );
        assert_eq!(
            connack(&s, v, Some("alice"), Some("wrong"))
                .await
                .reason_code,
            ReasonCode::BadUserNameOrPassword
        );
        assert_eq!(
            connack(&s, v, Some("mallory"), Some("x")).await.reason_code,
            ReasonCode::BadUserNameOrPassword
        );
        assert_eq!(
            connack(&s, v, None, None).await.reason_code,
            ReasonCode::NotAuthorized
        );
    }
    // A user name without a password cannot be checked.
    assert_eq!(
        connack(&s, ProtocolVersion::V5, Some("alice"), None)
            .await
            .reason_code,
        ReasonCode::BadUserNameOrPassword
    );
    let m = &s.broker.auth.metrics;
    assert!(m.bad_credentials.get() >= 5 && m.anonymous_refused.get() >= 2);
}

/// ACL over MQTT/TCP v5: denied PUBLISH gets PUBACK / PUBREC 0x87, denied
/// SUBSCRIBE gets SUBACK 0x87; read rights are checked at delivery, so a
/// subscription to `#` does not leak bob's topics to alice.
#[tokio::test]
async fn mqtt_tcp_v5_acl_write_subscribe_and_read_at_delivery() {
    let fx = SecurityFixture::new();
    let s = server(&fx).await;
    let mut alice = login(&s, ProtocolVersion::V5, "a1", "alice").await;
    let mut bob = login(&s, ProtocolVersion::V5, "b1", "bob").await;
    let ack = bob.subscribe("alice/#", QoS::AtLeastOnce).await;
    assert_eq!(ack.reason_codes, [ReasonCode::NotAuthorized]);
    let ack = alice.subscribe("#", QoS::AtLeastOnce).await;
    assert_eq!(ack.reason_codes, [ReasonCode::GrantedQoS1]);
    assert_eq!(
        alice.publish("bob/x", b"no", QoS::AtLeastOnce, false).await,
        ReasonCode::NotAuthorized
    );
    assert_eq!(
        alice.publish("bob/x", b"no", QoS::ExactlyOnce, false).await,
        ReasonCode::NotAuthorized
    );
    // bob publishes where alice may not read, then where she may.
    bob.publish("bob/private", b"secret", QoS::AtLeastOnce, false)
        .await;
    bob.publish("alice/inbox", b"hello", QoS::AtLeastOnce, false)
        .await;
    let p = alice.recv_publish().await;
    assert_eq!(
        (p.topic.as_str(), &p.payload[..]),
        ("alice/inbox", &b"hello"[..])
    );
    alice.ack(&p).await;
    alice.expect_silence(QUIET).await;
    assert!(s.broker.metrics.dropped_not_authorized.get() >= 1);
    // `%c` pattern: bob may write under clients/b1/, not under another client's.
    assert_eq!(
        bob.publish("clients/b1/status", b"up", QoS::AtLeastOnce, false)
            .await,
        ReasonCode::NoMatchingSubscribers
    );
    assert_eq!(
        bob.publish("clients/zz/status", b"up", QoS::AtLeastOnce, false)
            .await,
        ReasonCode::NotAuthorized
    );
}

/// 3.1.1 has no reason codes on PUBACK: a denied PUBLISH is acknowledged and
/// dropped (as Mosquitto does); a denied SUBSCRIBE gets 0x80 Failure (MQTT-3.9.3).
#[tokio::test]
async fn mqtt_tcp_v3_acl_denials() {
    let fx = SecurityFixture::new();
    let s = server(&fx).await;
    let mut alice = login(&s, ProtocolVersion::V3_1_1, "a3", "alice").await;
    let mut bob = login(&s, ProtocolVersion::V3_1_1, "b3", "bob").await;
    let ack = bob.subscribe("alice/#", QoS::AtLeastOnce).await;
    assert_eq!(
        ack.reason_codes,
        [ReasonCode::UnspecifiedError],
        "0x80 on the wire"
    );
    bob.subscribe("bob/#", QoS::AtLeastOnce).await;
    assert_eq!(
        alice.publish("bob/x", b"no", QoS::AtLeastOnce, false).await,
        ReasonCode::Success
    );
    bob.expect_silence(QUIET).await;
}

/// Another user's CONNECT with the same Client Identifier does not resume the
/// session (no Session Present, no queued messages).
#[tokio::test]
async fn a_session_is_resumed_only_by_its_user() {
    let fx = SecurityFixture::new();
    let s = server(&fx).await;
    let mut c = with_credentials(
        ProtocolVersion::V5,
        "shared-id",
        Some("alice"),
        Some("wonderland"),
    );
    c.clean_start = false;
    c.properties.session_expiry_interval = Some(600);
    let (alice, ack) = TestClient::connect_with(s.mqtt, c.clone()).await;
    assert!(!ack.session_present);
    alice.disconnect().await;
    let mut as_bob = with_credentials(
        ProtocolVersion::V5,
        "shared-id",
        Some("bob"),
        Some("builder"),
    );
    as_bob.clean_start = false;
    let (_bob, ack) = TestClient::connect_with(s.mqtt, as_bob).await;
    assert!(!ack.session_present, "bob must not get alice's session");
}

/// MQTT 5 enhanced authentication with SCRAM-SHA-256 (MQTT 5.0 §4.12, RFC 7677):
/// CONNECT → AUTH 0x18 → AUTH 0x18 → CONNACK 0x00 with the server signature;
/// a wrong password gets 0x86; an unknown method 0x8C (MQTT-4.12.0-1).
#[tokio::test]
async fn mqtt_5_enhanced_authentication_scram_sha_256() {
    let fx = SecurityFixture::new();
    let s = server(&fx).await;
    for (password, ok) in [("wonderland", true), ("wrong", false)] {
        let nonce = "rOprNGfwEbeRWgbNEkqO";
        let mut c = connect_packet(ProtocolVersion::V5, "scram");
        c.properties.authentication_method = Some(SCRAM_SHA_256.into());
        c.properties.authentication_data = Some(Bytes::from(scram::first("alice", nonce)));
        let mut client = TestClient::open(s.mqtt, ProtocolVersion::V5).await;
        client.send(&Packet::Connect(Box::new(c))).await;
        let Packet::Auth(challenge) = client.recv().await else {
            panic!("expected AUTH")
        };
        assert_eq!(challenge.reason_code, ReasonCode::ContinueAuthentication);
        let server_first = String::from_utf8(
            challenge
                .properties
                .into_inner()
                .authentication_data
                .unwrap()
                .to_vec(),
        )
        .unwrap();
        let (last, expected) = scram::last("alice", password, nonce, &server_first).unwrap();
        let mut reply = Auth {
            reason_code: ReasonCode::ContinueAuthentication,
            ..Default::default()
        };
        reply.properties.authentication_method = Some(SCRAM_SHA_256.into());
        reply.properties.authentication_data = Some(Bytes::from(last));
        client.send(&Packet::Auth(reply)).await;
        let Packet::ConnAck(ack) = client.recv().await else {
            panic!("expected CONNACK")
        };
        if ok {
            assert_eq!(ack.reason_code, ReasonCode::Success);
            assert_eq!(
                ack.properties.authentication_data.as_deref(),
                Some(expected.as_bytes())
            );
            assert_eq!(
                ack.properties.authentication_method.as_deref(),
                Some(SCRAM_SHA_256)
            );
            // Authorised as alice: the ACL applies.
            assert_eq!(
                client.publish("bob/x", b"x", QoS::AtLeastOnce, false).await,
                ReasonCode::NotAuthorized
            );
        } else {
            assert_eq!(ack.reason_code, ReasonCode::BadUserNameOrPassword);
        }
    }
    let mut c = connect_packet(ProtocolVersion::V5, "m");
    c.properties.authentication_method = Some("KERBEROS".into());
    let (_, ack) = TestClient::connect_with(s.mqtt, c).await;
    assert_eq!(ack.reason_code, ReasonCode::BadAuthenticationMethod);
}

fn binary(p: Packet) -> Message {
    let mut buf = BytesMut::new();
    p.encode(ProtocolVersion::V5, &mut buf).unwrap();
    Message::Binary(buf.freeze())
}

async fn recv_mqtt(ws: &mut realtime_tests::ws::Client, inbox: &mut BytesMut) -> Packet {
    let decoder = Decoder::new(ProtocolVersion::V5);
    loop {
        if let Some(p) = decoder.decode(inbox).unwrap() {
            return p;
        }
        match recv(ws).await {
            Message::Binary(b) => inbox.extend_from_slice(&b),
            other => panic!("expected a binary frame, got {other:?}"),
        }
    }
}

/// MQTT over WebSocket authenticates in CONNECT like MQTT over TCP, and the
/// same ACL applies (PUBACK 0x87, SUBACK 0x87).
#[tokio::test]
async fn mqtt_over_websocket_auth_and_acl() {
    let fx = SecurityFixture::new();
    let s = server(&fx).await;
    for (password, want) in [
        ("builder", ReasonCode::Success),
        ("nope", ReasonCode::BadUserNameOrPassword),
    ] {
        let (mut ws, _) = connect(s.http, "/mqtt", &["mqtt"], false).await;
        let mut inbox = BytesMut::new();
        ws.send(binary(Packet::Connect(Box::new(with_credentials(
            ProtocolVersion::V5,
            "wsb",
            Some("bob"),
            Some(password),
        )))))
        .await
        .unwrap();
        let Packet::ConnAck(ack) = recv_mqtt(&mut ws, &mut inbox).await else {
            panic!()
        };
        assert_eq!(ack.reason_code, want);
        if want != ReasonCode::Success {
            continue;
        }
        let mut p = mqtt_proto::Publish::new("alice/secret".to_string(), Bytes::from_static(b"x"));
        p.qos = QoS::AtLeastOnce;
        p.packet_id = mqtt_proto::PacketId::new(7);
        ws.send(binary(Packet::Publish(p))).await.unwrap();
        let Packet::PubAck(a) = recv_mqtt(&mut ws, &mut inbox).await else {
            panic!()
        };
        assert_eq!(a.reason_code, ReasonCode::NotAuthorized);
        let sub = mqtt_proto::Subscribe {
            packet_id: mqtt_proto::PacketId::new(8).unwrap(),
            properties: Default::default(),
            subscriptions: vec![
                mqtt_proto::Subscription::new("alice/#", QoS::AtMostOnce),
                mqtt_proto::Subscription::new("bob/#", QoS::AtMostOnce),
            ],
        };
        ws.send(binary(Packet::Subscribe(sub))).await.unwrap();
        let Packet::SubAck(a) = recv_mqtt(&mut ws, &mut inbox).await else {
            panic!()
        };
        assert_eq!(
            a.reason_codes,
            [ReasonCode::NotAuthorized, ReasonCode::Success]
        );
    }
    let (mut ws, _) = connect(s.http, "/mqtt", &["mqtt"], false).await;
    let mut inbox = BytesMut::new();
    ws.send(binary(Packet::Connect(Box::new(connect_packet(
        ProtocolVersion::V5,
        "anon",
    )))))
    .await
    .unwrap();
    let Packet::ConnAck(ack) = recv_mqtt(&mut ws, &mut inbox).await else {
        panic!()
    };
    assert_eq!(
        ack.reason_code,
        ReasonCode::NotAuthorized,
        "anonymous is off on this listener"
    );
}

async fn ws_json_as(
    s: &InProcessServer,
    authorization: Option<String>,
    query: &str,
) -> realtime_tests::ws::Client {
    let stream = tokio::net::TcpStream::connect(s.http).await.unwrap();
    let config = ClientConfig {
        headers: authorization
            .map(|a| vec![("Authorization".to_string(), a)])
            .unwrap_or_default(),
        ..ClientConfig::default()
    };
    let path = format!("/ws{query}");
    let (mut ws, _) =
        ws_proto::tokio::WebSocket::connect(stream, &s.http.to_string(), &path, &config)
            .await
            .expect("upgrade");
    assert_eq!(recv_json(&mut ws).await["type"], "welcome");
    ws
}

/// `/ws` authenticates on the upgrade (Authorization: Basic, RFC 7617, or the
/// `username`/`password` query): 401 without or with bad credentials; the ACL
/// answers `not_authorized` and filters deliveries.
#[tokio::test]
async fn ws_json_auth_and_acl() {
    let fx = SecurityFixture::new();
    let s = server(&fx).await;
    let upgrade = |extra: &str, path: &str| {
        format!(
            "GET {path} HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
        )
    };
    let (status, text) = raw_http(s.http, upgrade("", "/ws").as_bytes()).await;
    assert_eq!(status, 401, "{text}");
    assert!(
        text.to_ascii_lowercase()
            .contains("www-authenticate: basic")
    );
    let bad = base64::engine::general_purpose::STANDARD.encode("alice:nope");
    let (status, _) = raw_http(
        s.http,
        upgrade(&format!("Authorization: Basic {bad}\r\n"), "/ws").as_bytes(),
    )
    .await;
    assert_eq!(status, 401);
    let (status, _) = raw_http(
        s.http,
        upgrade("", "/ws?username=alice&password=nope").as_bytes(),
    )
    .await;
    assert_eq!(status, 401);

    let good = base64::engine::general_purpose::STANDARD.encode("alice:wonderland");
    let mut alice = ws_json_as(&s, Some(format!("Basic {good}")), "").await;
    let mut bob = ws_json_as(&s, None, "?username=bob&password=builder").await;
    send_json(
        &mut bob,
        json!({"type": "subscribe", "id": 1, "filter": "alice/#"}),
    )
    .await;
    let e = recv_json(&mut bob).await;
    assert_eq!(
        (e["type"].as_str(), e["code"].as_str()),
        (Some("error"), Some("not_authorized")),
        "{e}"
    );
    send_json(
        &mut alice,
        json!({"type": "subscribe", "id": 2, "filter": "#"}),
    )
    .await;
    assert_eq!(recv_json(&mut alice).await["type"], "subscribed");
    send_json(
        &mut alice,
        json!({"type": "publish", "id": 3, "topic": "bob/x", "payload": "no"}),
    )
    .await;
    assert_eq!(recv_json(&mut alice).await["code"], "not_authorized");
    send_json(
        &mut bob,
        json!({"type": "publish", "topic": "bob/private", "payload": "secret"}),
    )
    .await;
    send_json(
        &mut bob,
        json!({"type": "publish", "topic": "alice/inbox", "payload": "hi", "qos": 1, "id": 9}),
    )
    .await;
    assert_eq!(recv_json(&mut bob).await["type"], "puback");
    let m = recv_json(&mut alice).await;
    assert_eq!(
        (m["topic"].as_str(), m["payload"].as_str()),
        (Some("alice/inbox"), Some("hi")),
        "{m}"
    );
    // Binary publish: the same write check.
    let mut frame = vec![0u8, 0, 5];
    frame.extend_from_slice(b"bob/y");
    alice
        .send(Message::Binary(Bytes::from(frame)))
        .await
        .unwrap();
    assert_eq!(recv_json(&mut alice).await["code"], "not_authorized");
}

/// A subscriber on MQTT/TCP with read rights only on `public/#` receives what a
/// `/ws` client publishes there — one ACL for every transport.
#[tokio::test]
async fn acl_applies_across_transports() {
    let fx = SecurityFixture::new();
    let s = server(&fx).await;
    let mut alice = login(&s, ProtocolVersion::V5, "x1", "alice").await;
    let opts = SubscriptionOptions {
        qos: QoS::AtMostOnce,
        ..Default::default()
    };
    alice.subscribe_with("public/#", opts).await;
    let mut bob = ws_json_as(&s, None, "?username=bob&password=builder").await;
    send_json(
        &mut bob,
        json!({"type": "publish", "topic": "public/news", "payload": "extra"}),
    )
    .await;
    let p = alice.recv_publish().await;
    assert_eq!(p.topic.as_str(), "public/news");
}

/// CONNECT with a password and packets right behind it in one write: reading
/// pauses during the password check, and what arrived meanwhile is handled once
/// the CONNACK is out (nothing lost, in order).
#[tokio::test]
async fn packets_pipelined_behind_a_password_connect_wait_for_it() {
    let fx = SecurityFixture::new();
    let s = server(&fx).await;
    let mut bytes = BytesMut::new();
    Packet::Connect(Box::new(with_credentials(
        ProtocolVersion::V5,
        "pipelined",
        Some("alice"),
        Some("wonderland"),
    )))
    .encode(ProtocolVersion::V5, &mut bytes)
    .unwrap();
    Packet::PingReq
        .encode(ProtocolVersion::V5, &mut bytes)
        .unwrap();
    let mut p = mqtt_proto::Publish::new("alice/x".to_string(), Bytes::from_static(b"1"));
    p.qos = QoS::AtLeastOnce;
    p.packet_id = mqtt_proto::PacketId::new(3);
    Packet::Publish(p)
        .encode(ProtocolVersion::V5, &mut bytes)
        .unwrap();
    let mut c = TestClient::open(s.mqtt, ProtocolVersion::V5).await;
    c.send_raw(&bytes).await;
    assert!(matches!(c.recv().await, Packet::ConnAck(a) if a.reason_code == ReasonCode::Success));
    assert!(matches!(c.recv().await, Packet::PingResp));
    assert!(matches!(c.recv().await, Packet::PubAck(a) if a.packet_id.get() == 3));
}

/// `http.allowed_origins`: a WebSocket upgrade from another Origin gets 403
/// (RFC 6455 §4.2.2), one from an allowed Origin is accepted.
#[tokio::test]
async fn websocket_origin_allow_list() {
    let mut config = realtime_tests::loopback_config();
    config.http.allowed_origins = Some(vec!["https://app.example".to_string()]);
    let broker = config.broker_config();
    let s = InProcessServer::start_config(config, broker).await;
    let upgrade = |origin: &str| {
        format!(
            "GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nOrigin: {origin}\r\n\r\n"
        )
    };
    let (status, _) = raw_http(s.http, upgrade("https://evil.example").as_bytes()).await;
    assert_eq!(status, 403);
    let mut stream = tokio::net::TcpStream::connect(s.http).await.unwrap();
    tokio::io::AsyncWriteExt::write_all(&mut stream, upgrade("https://app.example").as_bytes())
        .await
        .unwrap();
    let mut head = [0u8; 12];
    tokio::io::AsyncReadExt::read_exact(&mut stream, &mut head)
        .await
        .unwrap();
    assert_eq!(&head, b"HTTP/1.1 101");
}

/// MQTT 5.0 §4.12.1 re-authentication: AUTH 0x19 with the CONNECT's method runs
/// SCRAM again and ends with AUTH 0x00 and the server signature; a wrong proof
/// ends the connection with DISCONNECT 0x87 (0x86 is not a DISCONNECT reason code).
#[tokio::test]
async fn mqtt_5_re_authentication() {
    let fx = SecurityFixture::new();
    let s = server(&fx).await;
    let auth = |code: ReasonCode, data: String| {
        let mut a = Auth {
            reason_code: code,
            ..Default::default()
        };
        a.properties.authentication_method = Some(SCRAM_SHA_256.into());
        a.properties.authentication_data = Some(Bytes::from(data));
        Packet::Auth(a)
    };
    let data = |p: Packet| match p {
        Packet::Auth(a) => (
            a.reason_code,
            String::from_utf8(
                a.properties
                    .into_inner()
                    .authentication_data
                    .unwrap()
                    .to_vec(),
            )
            .unwrap(),
        ),
        other => panic!("expected AUTH, got {other:?}"),
    };
    let nonce = "reauthNonce";
    let mut c = connect_packet(ProtocolVersion::V5, "reauth");
    c.properties.authentication_method = Some(SCRAM_SHA_256.into());
    c.properties.authentication_data = Some(Bytes::from(scram::first("bob", nonce)));
    let mut client = TestClient::open(s.mqtt, ProtocolVersion::V5).await;
    client.send(&Packet::Connect(Box::new(c))).await;
    let (_, server_first) = data(client.recv().await);
    let (last, _) = scram::last("bob", "builder", nonce, &server_first).unwrap();
    client
        .send(&auth(ReasonCode::ContinueAuthentication, last))
        .await;
    assert!(
        matches!(client.recv().await, Packet::ConnAck(a) if a.reason_code == ReasonCode::Success)
    );
    for (password, ok) in [("builder", true), ("wrong", false)] {
        client
            .send(&auth(
                ReasonCode::ReAuthenticate,
                scram::first("bob", nonce),
            ))
            .await;
        let (code, server_first) = data(client.recv().await);
        assert_eq!(code, ReasonCode::ContinueAuthentication);
        let (last, expected) = scram::last("bob", password, nonce, &server_first).unwrap();
        client
            .send(&auth(ReasonCode::ContinueAuthentication, last))
            .await;
        let reply = client.recv().await;
        if ok {
            assert_eq!(data(reply), (ReasonCode::Success, expected));
        } else {
            assert!(
                matches!(&reply, Packet::Disconnect(d) if d.reason_code == ReasonCode::NotAuthorized),
                "{reply:?}"
            );
        }
    }
}
