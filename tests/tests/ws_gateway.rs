//! The HTTP listener and WebSocket routes against the in-process server: `/echo`,
//! `/ws` (JSON protocol), `/mqtt` (MQTT over WebSocket), the cross-protocol bus,
//! and malformed handshakes with their HTTP status or close code.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_proto::{Decoder, Packet, ProtocolVersion, QoS};
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::{TestClient, connect_packet};
use realtime_tests::ws::{
    connect, expect_close, expect_silence, masked_frame, raw_close_code, raw_http, raw_ws, recv,
    recv_json, send_json,
};
use serde_json::json;
use tokio::io::AsyncWriteExt;
use ws_proto::Message;

const QUIET: Duration = Duration::from_millis(300);

#[tokio::test]
async fn echo_route_echoes_text_and_binary_with_and_without_deflate() {
    let server = InProcessServer::start().await;
    for deflate in [false, true] {
        let (mut ws, negotiated) = connect(server.http, "/echo", &[], deflate).await;
        assert_eq!(
            negotiated.deflate.is_some(),
            deflate,
            "RFC 7692: accepted when offered"
        );
        ws.send(Message::text("héllo")).await.unwrap();
        assert_eq!(recv(&mut ws).await, Message::text("héllo"));
        let big = Bytes::from(vec![7u8; 200_000]);
        ws.send(Message::Binary(big.clone())).await.unwrap();
        assert_eq!(recv(&mut ws).await, Message::Binary(big));
    }
}

#[tokio::test]
async fn ws_json_subscribe_publish_error_and_welcome() {
    let server = InProcessServer::start().await;
    let (mut a, _) = connect(server.http, "/ws", &[], false).await;
    let welcome = recv_json(&mut a).await;
    assert_eq!(welcome["type"], "welcome");
    assert!(welcome["client_id"].as_str().is_some());
    let (mut b, _) = connect(server.http, "/ws", &[], true).await;
    recv_json(&mut b).await;

    send_json(
        &mut a,
        json!({"type": "subscribe", "id": 1, "filter": "room/+"}),
    )
    .await;
    assert_eq!(
        recv_json(&mut a).await,
        json!({"type": "subscribed", "filter": "room/+", "qos": 0, "id": 1})
    );
    send_json(
        &mut b,
        json!({"type": "publish", "id": "p1", "topic": "room/1", "payload": "hi", "qos": 1}),
    )
    .await;
    assert_eq!(
        recv_json(&mut b).await,
        json!({"type": "puback", "id": "p1"})
    );
    let m = recv_json(&mut a).await;
    assert_eq!(
        (
            m["type"].as_str(),
            m["topic"].as_str(),
            m["payload"].as_str(),
            m["seq"].as_u64()
        ),
        (Some("message"), Some("room/1"), Some("hi"), Some(1))
    );

    // Binary payloads arrive base64-encoded.
    send_json(
        &mut b,
        json!({"type": "publish", "topic": "room/2", "payload": "/wA=", "encoding": "base64"}),
    )
    .await;
    let m = recv_json(&mut a).await;
    assert_eq!(
        (m["payload"].as_str(), m["encoding"].as_str()),
        (Some("/wA="), Some("base64"))
    );

    // Errors answer the request and the connection carries on.
    for (request, code) in [
        (
            json!({"type": "publish", "id": 5, "topic": "room/#", "payload": "x"}),
            "invalid_topic",
        ),
        (
            json!({"type": "subscribe", "id": 6, "filter": "a/#/b"}),
            "invalid_topic",
        ),
        (
            json!({"type": "publish", "id": 7, "topic": "t", "payload": "!!", "encoding": "base64"}),
            "invalid_payload",
        ),
        (json!({"type": "dance", "id": 8}), "unknown_type"),
        (json!({"type": "publish", "id": 9, "topic": 3}), "bad_json"),
        (
            json!({"type": "publish", "id": 10, "topic": "t", "qos": 2}),
            "bad_json",
        ),
    ] {
        let id = request["id"].clone();
        send_json(&mut b, request).await;
        let e = recv_json(&mut b).await;
        assert_eq!(
            (e["type"].as_str(), e["code"].as_str(), &e["id"]),
            (Some("error"), Some(code), &id),
            "{e}"
        );
    }
    b.send(Message::text("{not json")).await.unwrap();
    assert_eq!(recv_json(&mut b).await["code"], "bad_json");
    send_json(&mut b, json!({"type": "ping", "id": 11})).await;
    assert_eq!(recv_json(&mut b).await, json!({"type": "pong", "id": 11}));
    expect_silence(&mut a, QUIET).await;
}

#[tokio::test]
async fn ws_json_retained_and_unsubscribe() {
    let server = InProcessServer::start().await;
    let (mut ws, _) = connect(server.http, "/ws", &[], false).await;
    recv_json(&mut ws).await;
    send_json(&mut ws, json!({"type": "publish", "topic": "state/door", "payload": "open", "retain": true, "qos": 1, "id": 1})).await;
    assert_eq!(recv_json(&mut ws).await["type"], "puback");
    send_json(
        &mut ws,
        json!({"type": "subscribe", "id": 2, "filter": "state/#"}),
    )
    .await;
    assert_eq!(recv_json(&mut ws).await["type"], "subscribed");
    let m = recv_json(&mut ws).await;
    assert_eq!(
        (m["payload"].as_str(), m["retain"].as_bool()),
        (Some("open"), Some(true)),
        "MQTT-3.3.1-9"
    );
    send_json(
        &mut ws,
        json!({"type": "unsubscribe", "id": 3, "filter": "state/#"}),
    )
    .await;
    assert_eq!(recv_json(&mut ws).await["type"], "unsubscribed");
    send_json(
        &mut ws,
        json!({"type": "publish", "topic": "state/door", "payload": "closed"}),
    )
    .await;
    expect_silence(&mut ws, QUIET).await;
}

/// A message published over MQTT/TCP reaches a `/ws` client and an MQTT-over-WebSocket
/// client; one published on `/ws` reaches MQTT/TCP; properties pass through.
#[tokio::test]
async fn one_bus_for_mqtt_tcp_mqtt_ws_and_json() {
    let server = InProcessServer::start().await;
    let (mut browser, _) = connect(server.http, "/ws", &[], true).await;
    recv_json(&mut browser).await;
    send_json(
        &mut browser,
        json!({"type": "subscribe", "id": 1, "filter": "sensors/#"}),
    )
    .await;
    recv_json(&mut browser).await;

    // MQTT over WebSocket: subprotocol "mqtt" (MQTT-6.0.0-4), packets in binary frames.
    let (mut mws, negotiated) = connect(server.http, "/mqtt", &["mqtt"], true).await;
    assert_eq!(negotiated.subprotocol.as_deref(), Some("mqtt"));
    let send_mqtt = |p: Packet| {
        let mut buf = BytesMut::new();
        p.encode(ProtocolVersion::V5, &mut buf).unwrap();
        Message::Binary(buf.freeze())
    };
    mws.send(send_mqtt(Packet::Connect(Box::new(connect_packet(
        ProtocolVersion::V5,
        "over-ws",
    )))))
    .await
    .unwrap();
    let mut subscribe = mqtt_proto::Subscribe {
        packet_id: mqtt_proto::PacketId::new(1).unwrap(),
        properties: Default::default(),
        subscriptions: vec![mqtt_proto::Subscription::new("sensors/+", QoS::AtLeastOnce)],
    };
    subscribe
        .subscriptions
        .push(mqtt_proto::Subscription::new("chat/#", QoS::AtMostOnce));
    mws.send(send_mqtt(Packet::Subscribe(subscribe)))
        .await
        .unwrap();
    let decoder = Decoder::new(ProtocolVersion::V5);
    let mut inbox = BytesMut::new();
    let next_packet = async |ws: &mut realtime_tests::ws::Client, inbox: &mut BytesMut| loop {
        if let Some(p) = decoder.decode(inbox).unwrap() {
            return p;
        }
        match recv(ws).await {
            Message::Binary(b) => inbox.extend_from_slice(&b),
            other => panic!("MQTT-6.0.0-1: binary frames only, got {other:?}"),
        }
    };
    assert!(matches!(
        next_packet(&mut mws, &mut inbox).await,
        Packet::ConnAck(_)
    ));
    assert!(matches!(
        next_packet(&mut mws, &mut inbox).await,
        Packet::SubAck(_)
    ));

    let mut device = TestClient::connect(server.mqtt, ProtocolVersion::V3_1_1, "sensor-1").await;
    device
        .publish("sensors/kitchen", b"21.5", QoS::AtLeastOnce, false)
        .await;
    let m = recv_json(&mut browser).await;
    assert_eq!(
        (m["topic"].as_str(), m["payload"].as_str()),
        (Some("sensors/kitchen"), Some("21.5"))
    );
    match next_packet(&mut mws, &mut inbox).await {
        Packet::Publish(p) => assert_eq!(
            (p.topic.as_str(), &p.payload[..], p.qos),
            ("sensors/kitchen", &b"21.5"[..], QoS::AtLeastOnce)
        ),
        other => panic!("expected PUBLISH, got {other:?}"),
    }

    device.subscribe("chat/#", QoS::AtMostOnce).await;
    send_json(&mut browser, json!({"type": "publish", "topic": "chat/lobby", "payload": "{\"text\":\"hi\"}", "content_type": "application/json"})).await;
    let p = device.recv_publish().await;
    assert_eq!(
        (p.topic.as_str(), &p.payload[..]),
        ("chat/lobby", &b"{\"text\":\"hi\"}"[..])
    );
    match next_packet(&mut mws, &mut inbox).await {
        Packet::Publish(p) => assert_eq!(
            p.properties.content_type(),
            Some("application/json"),
            "MQTT-3.3.2-20"
        ),
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

/// MQTT-6.0.0-1: a text frame on `/mqtt` closes the connection.
#[tokio::test]
async fn mqtt_6_0_0_1_text_frame_on_mqtt_route_closes() {
    let server = InProcessServer::start().await;
    let (mut ws, _) = connect(server.http, "/mqtt", &["mqtt"], false).await;
    ws.send(Message::text("CONNECT")).await.unwrap();
    assert_eq!(expect_close(&mut ws).await, Some(1003));
}

/// Frames that break RFC 6455 get the RFC's close code, on every WebSocket route.
#[tokio::test]
async fn bad_frames_get_close_codes() {
    let server = InProcessServer::start().await;
    let cases: &[(&str, Vec<u8>, u16)] = &[
        (
            "invalid UTF-8 text (§8.1)",
            masked_frame(0x81, &[0xce, 0xba, 0xff]),
            1007,
        ),
        ("unmasked client frame (§5.1)", vec![0x81, 0x01, b'x'], 1002),
        ("reserved opcode 3 (§5.2)", masked_frame(0x83, b"x"), 1002),
        (
            "RSV2 set without an extension (§5.2)",
            masked_frame(0xa1, b"x"),
            1002,
        ),
        ("fragmented ping (§5.5)", masked_frame(0x09, b"x"), 1002),
        (
            "ping over 125 bytes (§5.5)",
            masked_frame(0x89, &[0u8; 126]),
            1002,
        ),
        (
            "continuation without a start (§5.4)",
            masked_frame(0x80, b"x"),
            1002,
        ),
        (
            "close code 1005 on the wire (§7.4.1)",
            masked_frame(0x88, &1005u16.to_be_bytes()),
            1002,
        ),
        (
            "close reason not UTF-8 (§5.5.1)",
            masked_frame(0x88, &[0x03, 0xe8, 0xff]),
            1007,
        ),
        (
            "one-byte close payload (§5.5.1)",
            masked_frame(0x88, &[0x03]),
            1002,
        ),
    ];
    for path in ["/echo", "/ws", "/mqtt"] {
        for (what, frame, code) in cases {
            let mut stream = raw_ws(server.http, path).await;
            stream.write_all(frame).await.unwrap();
            assert_eq!(
                raw_close_code(&mut stream).await,
                Some(*code),
                "{path}: {what}"
            );
        }
    }
    // A message over the limit on /ws: 1009 (the limit is 1 MiB there).
    let mut stream = raw_ws(server.http, "/ws").await;
    stream
        .write_all(&masked_frame(0x82, &vec![0u8; 1024 * 1024 + 1]))
        .await
        .unwrap();
    assert_eq!(raw_close_code(&mut stream).await, Some(1009));
}

/// Malformed handshakes get their HTTP status on every WebSocket route (RFC 6455
/// §4.2.1 items 1-6, §4.2.2: 426 with the supported version; RFC 9112 §2.3: 505).
#[tokio::test]
async fn bad_handshakes_get_http_statuses() {
    let server = InProcessServer::start().await;
    let good = [
        "Host: x",
        "Upgrade: websocket",
        "Connection: Upgrade",
        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
        "Sec-WebSocket-Version: 13",
    ];
    // The good header lines with the one named `name` replaced by `line` ("" drops it).
    let with = |name: &str, line: &str| -> Vec<String> {
        good.iter()
            .map(|h| {
                if h.split(':').next() == Some(name) {
                    line.to_string()
                } else {
                    h.to_string()
                }
            })
            .filter(|h| !h.is_empty())
            .collect()
    };
    let plus = |line: &str| -> Vec<String> {
        let mut v: Vec<String> = good.iter().map(|h| h.to_string()).collect();
        v.push(line.to_string());
        v
    };
    let cases: Vec<(&str, &str, &str, Vec<String>, u16)> = vec![
        (
            "no Upgrade (item 3)",
            "GET",
            "1.1",
            with("Upgrade", ""),
            400,
        ),
        (
            "Upgrade: h2c (item 3)",
            "GET",
            "1.1",
            with("Upgrade", "Upgrade: h2c"),
            400,
        ),
        (
            "Connection without Upgrade (item 4)",
            "GET",
            "1.1",
            with("Connection", "Connection: keep-alive"),
            400,
        ),
        ("no Host (item 2)", "GET", "1.1", with("Host", ""), 400),
        ("two Hosts (item 2)", "GET", "1.1", plus("Host: y"), 400),
        (
            "no key (item 5)",
            "GET",
            "1.1",
            with("Sec-WebSocket-Key", ""),
            400,
        ),
        (
            "short key (item 5)",
            "GET",
            "1.1",
            with("Sec-WebSocket-Key", "Sec-WebSocket-Key: abc"),
            400,
        ),
        (
            "15-byte key (item 5)",
            "GET",
            "1.1",
            with(
                "Sec-WebSocket-Key",
                "Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAA",
            ),
            400,
        ),
        (
            "two keys (item 5)",
            "GET",
            "1.1",
            plus("Sec-WebSocket-Key: AAAAAAAAAAAAAAAAAAAAAA=="),
            400,
        ),
        (
            "no version (item 6)",
            "GET",
            "1.1",
            with("Sec-WebSocket-Version", ""),
            426,
        ),
        (
            "version 8 (§4.2.2)",
            "GET",
            "1.1",
            with("Sec-WebSocket-Version", "Sec-WebSocket-Version: 8"),
            426,
        ),
        (
            "two versions (§4.2.2)",
            "GET",
            "1.1",
            plus("Sec-WebSocket-Version: 8"),
            426,
        ),
        ("POST (item 1)", "POST", "1.1", with("", ""), 405),
        ("HTTP/1.0 (item 1)", "GET", "1.0", with("", ""), 400),
        ("HTTP/2.0 (RFC 9112 §2.3)", "GET", "2.0", with("", ""), 505),
    ];
    for path in ["/ws", "/mqtt", "/echo"] {
        for (what, method, version, headers, status) in &cases {
            let request = format!(
                "{method} {path} HTTP/{version}\r\n{}\r\n\r\n",
                headers.join("\r\n")
            );
            let (got, text) = raw_http(server.http, request.as_bytes()).await;
            assert_eq!(got, *status, "{path} {what}: {text}");
            if *status == 426 {
                assert!(
                    text.to_ascii_lowercase()
                        .contains("sec-websocket-version: 13"),
                    "{path} {what}: {text}"
                );
            }
        }
    }
    for (what, request, status) in [
        ("garbage", "\x16\x03\x01 hello\r\n\r\n".to_string(), 400),
        (
            "unknown path",
            "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n".to_string(),
            404,
        ),
        (
            "huge head",
            format!(
                "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
                "a".repeat(20_000)
            ),
            431,
        ),
    ] {
        let (got, text) = raw_http(server.http, request.as_bytes()).await;
        assert_eq!(got, status, "{what}: {text}");
    }
    let (status, body) = raw_http(server.http, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = raw_http(server.http, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        status == 200 && body.contains("realtime-server"),
        "demo page: {body}"
    );
}

/// MQTT-6.0.0-2: on `/mqtt` a packet may span WebSocket messages and a message may
/// carry several packets; the server reassembles them in order.
#[tokio::test]
async fn mqtt_6_0_0_2_packets_span_and_share_websocket_messages() {
    let server = InProcessServer::start().await;
    let mqtt5 = |packet: Packet| {
        let mut buf = BytesMut::new();
        packet.encode(ProtocolVersion::V5, &mut buf).unwrap();
        buf.to_vec()
    };
    let (mut ws, _) = connect(server.http, "/mqtt", &["mqtt"], false).await;
    let connect_bytes = mqtt5(Packet::Connect(Box::new(connect_packet(
        ProtocolVersion::V5,
        "spanning",
    ))));
    let subscribe = mqtt5(Packet::Subscribe(mqtt_proto::Subscribe {
        packet_id: mqtt_proto::PacketId::new(7).unwrap(),
        properties: Default::default(),
        subscriptions: vec![mqtt_proto::Subscription::new("span/#", QoS::AtMostOnce)],
    }));
    let pingreq = mqtt5(Packet::PingReq);
    // CONNECT in three messages, the last also carrying SUBSCRIBE, PINGREQ and the
    // first byte of a second PINGREQ, whose second byte comes alone.
    let (a, rest) = connect_bytes.split_at(1);
    let (b, c) = rest.split_at(rest.len() / 2);
    let mut tail = c.to_vec();
    tail.extend_from_slice(&subscribe);
    tail.extend_from_slice(&pingreq);
    tail.push(pingreq[0]);
    for part in [a.to_vec(), b.to_vec(), tail, pingreq[1..].to_vec()] {
        ws.send(Message::Binary(Bytes::from(part))).await.unwrap();
    }
    let decoder = Decoder::new(ProtocolVersion::V5);
    let mut inbox = BytesMut::new();
    let mut got = Vec::new();
    while got.len() < 4 {
        if let Some(p) = decoder.decode(&mut inbox).unwrap() {
            got.push(p);
            continue;
        }
        match recv(&mut ws).await {
            Message::Binary(b) => inbox.extend_from_slice(&b),
            other => panic!("MQTT-6.0.0-1: binary only, got {other:?}"),
        }
    }
    assert!(
        matches!(
            &got[..],
            [
                Packet::ConnAck(_),
                Packet::SubAck(_),
                Packet::PingResp,
                Packet::PingResp
            ]
        ),
        "{got:?}"
    );
}

/// MQTT-4.13.1-1: a Malformed Packet or Protocol Error on `/mqtt` closes the
/// connection, with close code 1002 (RFC 6455 §7.4.1, protocol error) so a browser
/// client sees why; a DISCONNECT ends it with 1000.
#[tokio::test]
async fn mqtt_4_13_1_1_protocol_errors_close_mqtt_route_with_1002() {
    let server = InProcessServer::start().await;
    let mqtt5 = |packet: Packet| {
        let mut buf = BytesMut::new();
        packet.encode(ProtocolVersion::V5, &mut buf).unwrap();
        buf.to_vec()
    };
    let connect_bytes = mqtt5(Packet::Connect(Box::new(connect_packet(
        ProtocolVersion::V5,
        "bad-peer",
    ))));
    let after_connect = |bytes: &[u8]| {
        let mut v = connect_bytes.clone();
        v.extend_from_slice(bytes);
        v
    };
    let cases: &[(&str, Vec<u8>, u16)] = &[
        (
            "PUBLISH before CONNECT (MQTT-3.1.0-1)",
            vec![0x30, 0x05, 0x00, 0x01, b't', b'h', b'i'],
            1002,
        ),
        (
            "CONNECT with a wrong protocol name (MQTT-3.1.2-1)",
            vec![
                0x10, 0x0d, 0x00, 0x04, b'M', b'Q', b'T', b'X', 0x05, 0x02, 0x00, 0x3c, 0x00, 0x00,
                0x00,
            ],
            1002,
        ),
        (
            "reserved packet type 0 (MQTT-2.1.2)",
            after_connect(&[0x00, 0x00]),
            1002,
        ),
        (
            "Remaining Length over 4 bytes (MQTT-1.5.5)",
            after_connect(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
            1002,
        ),
        (
            "SUBSCRIBE with reserved flags 0 (MQTT-3.8.1-1)",
            after_connect(&[0x80, 0x06, 0x00, 0x01, 0x00, 0x01, b'a', 0x00]),
            1002,
        ),
        (
            "DISCONNECT (normal)",
            after_connect(&mqtt5(Packet::Disconnect(mqtt_proto::Disconnect::new(
                mqtt_proto::ReasonCode::Success,
            )))),
            1000,
        ),
    ];
    for (what, bytes, code) in cases {
        let mut stream = raw_ws(server.http, "/mqtt").await;
        stream.write_all(&masked_frame(0x82, bytes)).await.unwrap();
        assert_eq!(raw_close_code(&mut stream).await, Some(*code), "{what}");
    }
    // The server is still there for others.
    let (mut ws, _) = connect(server.http, "/mqtt", &["mqtt"], false).await;
    ws.send(Message::Binary(Bytes::from(connect_bytes)))
        .await
        .unwrap();
    assert!(matches!(recv(&mut ws).await, Message::Binary(_)));
}
