//! The transports and the wire itself: a byte stream split anywhere, a client
//! speaking plain MQTT, MQTT over WebSocket (MQTT 5.0 §4.2, §6; 3.1.1 §4.2, §6, §7).

use bytes::BytesMut;
use mqtt_proto::{Decoder, Packet, ProtocolVersion, QoS};
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::{TestClient, connect_packet};
use realtime_tests::ws::{connect as ws_connect, expect_close, recv as ws_recv};
use ws_proto::Message;

use crate::common::{BOTH, V311, encoded, message, pid, subscribe_packet};

/// 5.0 MQTT-4.2.0-1 and 3.1.1 MQTT-7.1.1-1: the server reads MQTT from an
/// ordered, lossless byte stream however it is cut: a CONNECT one byte per write,
/// then SUBSCRIBE, PUBLISH and PINGREQ coalesced into one write.
#[tokio::test]
async fn mqtt_4_2_0_1_packets_split_and_coalesced_on_the_stream() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let mut c = TestClient::open(server.mqtt, version).await;
        let connect = encoded(
            &Packet::Connect(Box::new(connect_packet(
                version,
                &format!("bytes-{}", version.level()),
            ))),
            version,
        );
        for byte in connect.iter() {
            c.send_raw(&[*byte]).await;
            tokio::task::yield_now().await;
        }
        assert!(matches!(c.recv().await, Packet::ConnAck(_)), "{version}");
        let mut burst = encoded(
            &subscribe_packet(1, &[("bytes/x", QoS::AtLeastOnce)]),
            version,
        );
        let mut m = message("bytes/x", &[7; 300], QoS::AtLeastOnce);
        m.packet_id = Some(pid(2));
        burst.extend_from_slice(&encoded(&Packet::Publish(m), version));
        burst.extend_from_slice(&encoded(&Packet::PingReq, version));
        c.send_raw(&burst).await;
        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(match c.recv().await {
                Packet::SubAck(_) => "suback",
                Packet::PubAck(_) => "puback",
                Packet::Publish(p) if p.payload[..] == [7; 300] => "publish",
                Packet::PingResp => "pingresp",
                other => panic!("{version}: unexpected {other:?}"),
            });
        }
        seen.sort_unstable();
        assert_eq!(
            seen,
            ["pingresp", "puback", "publish", "suback"],
            "{version}"
        );
    }
}

/// 3.1.1 MQTT-7.0.0-2: a client needs no extension to talk to the server: the
/// bytes of the specification's own packet layouts (CONNECT, SUBSCRIBE, PUBLISH
/// QoS 1, PUBACK, DISCONNECT) get the specification's answers (compared in their
/// encoding), and DISCONNECT ends the connection quietly.
#[tokio::test]
async fn mqtt_7_0_0_2_a_plain_client_needs_no_extension() {
    let server = InProcessServer::start().await;
    let mut c = TestClient::open(server.mqtt, V311).await;
    // CONNECT: "MQTT" level 4, CleanSession, Keep Alive 60, ClientId "plain".
    c.send_raw(&[
        0x10, 17, 0, 4, b'M', b'Q', b'T', b'T', 4, 0x02, 0, 60, 0, 5, b'p', b'l', b'a', b'i', b'n',
    ])
    .await;
    // SUBSCRIBE id 1 to "a/b" at QoS 1; PUBLISH QoS 1 id 2 to "a/b" payload "hi".
    c.send_raw(&[0x82, 8, 0, 1, 0, 3, b'a', b'/', b'b', 1])
        .await;
    c.send_raw(&[0x32, 9, 0, 3, b'a', b'/', b'b', 0, 2, b'h', b'i'])
        .await;
    let mut want = BytesMut::new();
    want.extend_from_slice(&[0x20, 2, 0, 0]); // CONNACK accepted
    want.extend_from_slice(&[0x90, 3, 0, 1, 1]); // SUBACK granted QoS 1
    want.extend_from_slice(&[0x40, 2, 0, 2]); // PUBACK 2
    let mut answers = BytesMut::new();
    let mut forwarded = None;
    while answers.len() < want.len() || forwarded.is_none() {
        match c.recv().await {
            Packet::Publish(p) => forwarded = Some(p),
            other => answers.extend_from_slice(&encoded(&other, V311)),
        }
    }
    assert_eq!(&answers[..], &want[..]);
    let p = forwarded.unwrap();
    assert_eq!(
        (p.topic.as_str(), &p.payload[..], p.qos),
        ("a/b", &b"hi"[..], QoS::AtLeastOnce)
    );
    let id = p.packet_id.unwrap().get().to_be_bytes();
    c.send_raw(&[0x40, 2, id[0], id[1], 0xE0, 0]).await;
    assert!(c.expect_closed().await.is_empty());
}

/// 5.0 MQTT-6.0.0-1, MQTT-6.0.0-4 and 3.1.1 MQTT-6.0.0-1, MQTT-6.0.0-4: over
/// WebSocket the server selects the subprotocol "mqtt", sends MQTT packets in
/// binary frames only, and closes the connection on a text frame. (The choice
/// among several offered subprotocols belongs to the WebSocket gateway's tests.)
#[tokio::test]
async fn mqtt_6_0_0_4_websocket_subprotocol_mqtt_and_binary_frames() {
    let server = InProcessServer::start().await;
    for version in BOTH {
        let (mut ws, negotiated) = ws_connect(server.http, "/mqtt", &["mqtt"], false).await;
        assert_eq!(negotiated.subprotocol.as_deref(), Some("mqtt"), "{version}");
        let id = format!("ws-{}", version.level());
        let mut out = encoded(
            &Packet::Connect(Box::new(connect_packet(version, &id))),
            version,
        );
        out.extend_from_slice(&encoded(
            &subscribe_packet(1, &[("ws/x", QoS::AtMostOnce)]),
            version,
        ));
        out.extend_from_slice(&encoded(
            &Packet::Publish(message("ws/x", b"x", QoS::AtMostOnce)),
            version,
        ));
        ws.send(Message::Binary(out.freeze())).await.unwrap();
        let got = ws_packets(&mut ws, version, 3).await;
        assert!(
            matches!(
                got.as_slice(),
                [Packet::ConnAck(_), Packet::SubAck(_), Packet::Publish(_)]
            ),
            "{version}: {got:?}"
        );
        ws.send(Message::text("PINGREQ")).await.unwrap();
        assert!(
            expect_close(&mut ws).await.is_some_and(|code| code >= 1002),
            "{version}"
        );
    }
}

/// Reads `n` MQTT packets from binary WebSocket messages (any other message fails
/// the test: MQTT-6.0.0-1).
async fn ws_packets(
    ws: &mut realtime_tests::ws::Client,
    version: ProtocolVersion,
    n: usize,
) -> Vec<Packet> {
    let decoder = Decoder::new(version);
    let mut inbox = BytesMut::new();
    let mut got = Vec::new();
    while got.len() < n {
        if let Some(p) = decoder.decode(&mut inbox).unwrap() {
            got.push(p);
            continue;
        }
        match ws_recv(ws).await {
            Message::Binary(b) => inbox.extend_from_slice(&b),
            other => panic!("MQTT-6.0.0-1: binary frames only, got {other:?}"),
        }
    }
    got
}
