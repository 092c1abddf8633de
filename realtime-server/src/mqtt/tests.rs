//! Connection behaviour that needs the crate's internals: a store that fails
//! under a live connection (an in-process listener on 127.0.0.1:0).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_proto::{Connect, Decoder, Packet, PacketId, ProtocolVersion, Publish, QoS, ReasonCode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::listener::serve_connection;
use crate::auth::ListenerPolicy;
use crate::broker::{Broker, BrokerConfig};
use crate::conn::tcp::DriverConfig;
use crate::metrics::Transport;
use crate::store::Store;

/// How long the test waits for the server to act.
const WAIT: Duration = Duration::from_secs(10);

/// Serves MQTT connections for `broker` on a loopback port until `stop` drops.
///
/// Connections park after 50 ms without anything to do, so every test here also
/// runs its connections through parking and resuming (`conn::park`) wherever it
/// waits: the broker waking a parked subscriber, a parked connection's keep-alive,
/// a takeover of a parked session, shutdown of parked connections.
async fn serve(broker: Arc<Broker>, stop: watch::Receiver<bool>) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let parking = crate::conn::park::Parking::new().unwrap();
    let config = Arc::new(DriverConfig {
        parking: Some(parking.clone()),
        park_after: Duration::from_millis(50),
        ..DriverConfig::default()
    });
    let watched = stop.clone();
    tokio::spawn(async move { parking.run(watched).await.unwrap() });
    tokio::spawn(async move {
        while let Ok((stream, peer)) = listener.accept().await {
            let (broker, stop, config) = (broker.clone(), stop.clone(), config.clone());
            tokio::spawn(serve_connection(
                stream,
                peer,
                Transport::MqttTcp,
                broker,
                ListenerPolicy::default(),
                stop,
                config,
                |_| {},
            ));
        }
    });
    addr
}

async fn send(stream: &mut TcpStream, packet: &Packet, version: ProtocolVersion) {
    let mut out = BytesMut::new();
    packet.encode(version, &mut out).unwrap();
    stream.write_all(&out).await.unwrap();
}

/// Every packet the server sends until it closes the connection (panics if it
/// stays open for [`WAIT`]).
async fn until_closed(stream: &mut TcpStream, version: ProtocolVersion) -> Vec<Packet> {
    let decoder = Decoder::new(version);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        while let Some(p) = decoder.decode(&mut buf).unwrap() {
            got.push(p);
        }
        match tokio::time::timeout_at(deadline, stream.read_buf(&mut buf)).await {
            Err(_) => panic!("connection still open; received {got:?}"),
            Ok(Ok(0) | Err(_)) => return got,
            Ok(Ok(_)) => {}
        }
    }
}

/// 3.1.1 MQTT-4.8.0-2: a Transient Error while processing an inbound Control Packet
/// closes the Network Connection it came on. Here the store fails to make the
/// exactly-once state of a QoS 2 PUBLISH durable: the connection is closed and the
/// PUBLISH is not acknowledged (no PUBREC), in 3.1.1 without a packet, in 5.0
/// after a DISCONNECT 0x80 (Unspecified error) — the same reaction for both.
#[tokio::test]
async fn mqtt_4_8_0_2_transient_error_closes_the_connection() {
    let broker = Arc::new(Broker::with_store(
        BrokerConfig::default(),
        Store::failing_for_tests(),
    ));
    let (_stop, stopped) = watch::channel(false);
    let addr = serve(broker, stopped).await;
    for version in [ProtocolVersion::V3_1_1, ProtocolVersion::V5] {
        let mut stream = TcpStream::connect(addr).await.unwrap();
        let mut connect = Connect::new(version, format!("transient-{}", version.level()));
        connect.clean_start = false;
        connect.keep_alive = 60;
        connect.properties.session_expiry_interval = version.is_v5().then_some(300);
        send(&mut stream, &Packet::Connect(Box::new(connect)), version).await;
        let mut publish = Publish::new("t/transient".to_string(), Bytes::from_static(b"x"));
        publish.qos = QoS::ExactlyOnce;
        publish.packet_id = PacketId::new(7);
        send(&mut stream, &Packet::Publish(publish), version).await;

        let got = until_closed(&mut stream, version).await;
        match got.as_slice() {
            [Packet::ConnAck(ack)] if !version.is_v5() => {
                assert_eq!(ack.reason_code, ReasonCode::Success);
            }
            [Packet::ConnAck(ack), Packet::Disconnect(d)] if version.is_v5() => {
                assert_eq!(ack.reason_code, ReasonCode::Success);
                assert_eq!(d.reason_code, ReasonCode::UnspecifiedError, "{d:?}");
            }
            other => panic!("{version}: expected CONNACK then close, no PUBREC: {other:?}"),
        }
    }
}
