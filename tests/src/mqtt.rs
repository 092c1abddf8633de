//! A small MQTT client for tests, on `mqtt-proto`: it sends exactly the packets a
//! test asks for and hands back every packet it receives, so tests can check the
//! server's behaviour packet by packet.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    ConnAck, Connect, Decoder, Packet, PacketId, ProtocolVersion, PubResponse, Publish, QoS,
    SubAck, Subscribe, Subscription, SubscriptionOptions, Unsubscribe,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// How long a test waits for an expected packet.
pub const WAIT: Duration = Duration::from_secs(5);

/// What [`TestClient::next_event`] saw.
#[allow(clippy::large_enum_variant)] // one value at a time, in tests
#[derive(Debug)]
pub enum Event {
    /// A packet.
    Packet(Packet),
    /// The server closed the connection (or reset it).
    Closed,
    /// Bytes that do not decode as a packet (the text of the error).
    Undecodable(String),
}

/// A test client connection.
pub struct TestClient {
    stream: Box<dyn ClientStream>,
    decoder: Decoder,
    version: ProtocolVersion,
    buf: BytesMut,
    next_id: u16,
    /// Packets received while waiting for a specific one, handed out first.
    stash: VecDeque<Packet>,
}

/// A CONNECT with `client_id`, clean start, keep-alive 60.
pub fn connect_packet(version: ProtocolVersion, client_id: &str) -> Connect {
    let mut c = Connect::new(version, client_id.to_string());
    c.clean_start = true;
    c.keep_alive = 60;
    c
}

/// A byte stream a test client talks over (TCP or TLS).
pub trait ClientStream: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}

impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> ClientStream for T {}

impl TestClient {
    /// Opens a TCP connection without sending anything.
    pub async fn open(addr: SocketAddr, version: ProtocolVersion) -> Self {
        let stream = TcpStream::connect(addr).await.expect("connect to broker");
        stream.set_nodelay(true).unwrap();
        Self::over(Box::new(stream), version)
    }

    /// A client over an already open stream (e.g. TLS), nothing sent yet.
    pub fn over(stream: Box<dyn ClientStream>, version: ProtocolVersion) -> Self {
        Self {
            stream,
            decoder: Decoder::new(version),
            version,
            buf: BytesMut::new(),
            next_id: 0,
            stash: VecDeque::new(),
        }
    }

    /// Connects with `connect` and returns the CONNACK (panics on anything else).
    pub async fn connect_with(addr: SocketAddr, connect: Connect) -> (Self, ConnAck) {
        let mut c = Self::open(addr, connect.protocol_version).await;
        c.send(&Packet::Connect(Box::new(connect))).await;
        match c.recv().await {
            Packet::ConnAck(ack) => (c, *ack),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects a clean session called `client_id` and checks the CONNACK succeeded.
    pub async fn connect(addr: SocketAddr, version: ProtocolVersion, client_id: &str) -> Self {
        let (c, ack) = Self::connect_with(addr, connect_packet(version, client_id)).await;
        assert_eq!(
            ack.reason_code,
            mqtt_proto::ReasonCode::Success,
            "CONNACK {ack:?}"
        );
        c
    }

    /// The protocol version of this connection.
    pub fn version(&self) -> ProtocolVersion {
        self.version
    }

    /// A fresh packet identifier.
    pub fn next_id(&mut self) -> PacketId {
        self.next_id = self.next_id.wrapping_add(1).max(1);
        PacketId::new(self.next_id).unwrap()
    }

    /// Sends one packet.
    pub async fn send(&mut self, packet: &Packet) {
        let mut out = BytesMut::new();
        packet.encode(self.version, &mut out).expect("encode");
        self.send_raw(&out).await;
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).await.expect("write to broker");
    }

    /// The next packet, or `None` if none arrives within `wait`; panics if the
    /// connection closes or a packet does not decode.
    pub async fn recv_within(&mut self, wait: Duration) -> Option<Packet> {
        if let Some(p) = self.stash.pop_front() {
            return Some(p);
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(p) = self
                .decoder
                .decode(&mut self.buf)
                .expect("decode packet from server")
            {
                return Some(p);
            }
            let read = tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await;
            match read {
                Err(_) => return None,
                Ok(Ok(0)) => panic!("server closed the connection while a packet was expected"),
                Ok(Ok(_)) => {}
                Ok(Err(err)) => panic!("read error: {err}"),
            }
        }
    }

    /// The next packet, the end of the connection, or `None` if nothing happens
    /// within `wait`. Never panics: for tests that record what a server does.
    pub async fn next_event(&mut self, wait: Duration) -> Option<Event> {
        if let Some(p) = self.stash.pop_front() {
            return Some(Event::Packet(p));
        }
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            match self.decoder.decode(&mut self.buf) {
                Ok(Some(p)) => return Some(Event::Packet(p)),
                Ok(None) => {}
                Err(err) => {
                    self.buf.clear();
                    return Some(Event::Undecodable(err.to_string()));
                }
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => return None,
                Ok(Ok(0)) | Ok(Err(_)) => return Some(Event::Closed),
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Sends one packet, ignoring write errors (the server may have closed).
    pub async fn try_send(&mut self, packet: &Packet) {
        let mut out = BytesMut::new();
        if packet.encode(self.version, &mut out).is_ok() {
            let _ = self.stream.write_all(&out).await;
        }
    }

    /// Sends raw bytes, ignoring write errors (the server may close mid-way).
    pub async fn try_send_raw(&mut self, bytes: &[u8]) {
        let _ = self.stream.write_all(bytes).await;
    }

    /// The next packet; panics after [`WAIT`].
    pub async fn recv(&mut self) -> Packet {
        match self.recv_within(WAIT).await {
            Some(p) => p,
            None => panic!("no packet from the server within {WAIT:?}"),
        }
    }

    /// The next PUBLISH; panics on any other packet.
    pub async fn recv_publish(&mut self) -> Publish {
        match self.recv().await {
            Packet::Publish(p) => p,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Asserts that no packet arrives within `wait`.
    pub async fn expect_silence(&mut self, wait: Duration) {
        if let Some(p) = self.recv_within(wait).await {
            panic!("expected nothing, got {p:?}");
        }
    }

    /// Reads until the server closes the connection; returns the packets received
    /// before that (a v5 DISCONNECT, typically). Panics if it stays open.
    pub async fn expect_closed(&mut self) -> Vec<Packet> {
        let mut got = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            while let Ok(Some(p)) = self.decoder.decode(&mut self.buf) {
                got.push(p);
            }
            match tokio::time::timeout_at(deadline, self.stream.read_buf(&mut self.buf)).await {
                Err(_) => panic!("connection still open; received {got:?}"),
                Ok(Ok(0)) | Ok(Err(_)) => return got,
                Ok(Ok(_)) => {}
            }
        }
    }

    /// Subscribes to one filter and returns the SUBACK.
    pub async fn subscribe_with(&mut self, filter: &str, options: SubscriptionOptions) -> SubAck {
        let packet_id = self.next_id();
        let sub = Subscribe {
            packet_id,
            properties: Default::default(),
            subscriptions: vec![Subscription {
                filter: filter.to_string().into(),
                options,
            }],
        };
        self.send(&Packet::Subscribe(sub)).await;
        match self.recv().await {
            Packet::SubAck(ack) => {
                assert_eq!(ack.packet_id, packet_id);
                ack
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Subscribes to `filter` at `qos`.
    pub async fn subscribe(&mut self, filter: &str, qos: QoS) -> SubAck {
        self.subscribe_with(
            filter,
            SubscriptionOptions {
                qos,
                ..Default::default()
            },
        )
        .await
    }

    /// Unsubscribes from one filter; returns the UNSUBACK packet.
    pub async fn unsubscribe(&mut self, filter: &str) -> Packet {
        let packet_id = self.next_id();
        let u = Unsubscribe {
            packet_id,
            properties: Default::default(),
            filters: vec![filter.to_string().into()],
        };
        self.send(&Packet::Unsubscribe(u)).await;
        self.recv().await
    }

    /// Publishes and completes the QoS flow (PUBACK, or PUBREC/PUBREL/PUBCOMP);
    /// returns the acknowledgement's reason code (Success for QoS 0).
    pub async fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> mqtt_proto::ReasonCode {
        let mut p = Publish::new(topic.to_string(), Bytes::copy_from_slice(payload));
        p.qos = qos;
        p.retain = retain;
        self.publish_packet(p).await
    }

    /// Publishes `p` (assigning a packet id for QoS > 0) and completes its flow.
    pub async fn publish_packet(&mut self, mut p: Publish) -> mqtt_proto::ReasonCode {
        if p.qos != QoS::AtMostOnce && p.packet_id.is_none() {
            p.packet_id = Some(self.next_id());
        }
        let qos = p.qos;
        let id = p.packet_id;
        self.send(&Packet::Publish(p)).await;
        match (qos, id) {
            (QoS::AtLeastOnce, Some(id)) => match self.recv_skipping_publishes().await {
                Packet::PubAck(a) if a.packet_id == id => a.reason_code,
                other => panic!("expected PUBACK {id}, got {other:?}"),
            },
            (QoS::ExactlyOnce, Some(id)) => {
                let code = match self.recv_skipping_publishes().await {
                    Packet::PubRec(a) if a.packet_id == id => a.reason_code,
                    other => panic!("expected PUBREC {id}, got {other:?}"),
                };
                self.send(&Packet::PubRel(PubResponse::new(id))).await;
                match self.recv_skipping_publishes().await {
                    Packet::PubComp(a) if a.packet_id == id => {}
                    other => panic!("expected PUBCOMP {id}, got {other:?}"),
                }
                code
            }
            _ => mqtt_proto::ReasonCode::Success,
        }
    }

    /// The next packet that is not a PUBLISH; PUBLISH packets received meanwhile
    /// are kept for later `recv` calls.
    async fn recv_skipping_publishes(&mut self) -> Packet {
        let mut held = Vec::new();
        let found = loop {
            match self.recv().await {
                p @ Packet::Publish(_) => held.push(p),
                other => break other,
            }
        };
        for p in held.into_iter().rev() {
            self.stash.push_front(p);
        }
        found
    }

    /// Acknowledges a received PUBLISH as its QoS requires (PUBACK, or
    /// PUBREC → PUBREL → PUBCOMP).
    pub async fn ack(&mut self, p: &Publish) {
        match (p.qos, p.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => self.send(&Packet::PubAck(PubResponse::new(id))).await,
            (QoS::ExactlyOnce, Some(id)) => {
                self.send(&Packet::PubRec(PubResponse::new(id))).await;
                match self.recv_skipping_publishes().await {
                    Packet::PubRel(r) if r.packet_id == id => {}
                    other => panic!("expected PUBREL {id}, got {other:?}"),
                }
                self.send(&Packet::PubComp(PubResponse::new(id))).await;
            }
            _ => {}
        }
    }

    /// Sends DISCONNECT (reason 0x00) and waits for the server to close.
    pub async fn disconnect(mut self) {
        self.send(&Packet::Disconnect(mqtt_proto::Disconnect::new(
            mqtt_proto::ReasonCode::Success,
        )))
        .await;
        let _ = self.expect_closed().await;
    }

    /// Drops the TCP connection without DISCONNECT (an abnormal end).
    pub fn drop_connection(self) {
        drop(self.stream);
    }
}
