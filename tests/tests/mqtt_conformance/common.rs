//! Helpers shared by the conformance tests.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use mqtt_proto::{
    Connect, Packet, PacketId, ProtocolVersion, Publish, QoS, ReasonCode, Subscribe, Subscription,
    SubscriptionOptions,
};
use realtime_tests::mqtt::{TestClient, connect_packet};

pub(crate) const V5: ProtocolVersion = ProtocolVersion::V5;
pub(crate) const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
/// Both versions, for statements that 3.1.1 and 5.0 share.
pub(crate) const BOTH: [ProtocolVersion; 2] = [V5, V311];
/// How long "nothing arrives" is watched for.
pub(crate) const QUIET: Duration = Duration::from_millis(300);

/// `name` made unique per protocol version (one server serves both in a test).
pub(crate) fn cid(name: &str, version: ProtocolVersion) -> String {
    format!("{name}-v{}", version.level())
}

/// A CONNECT that keeps its session after the connection: Clean Start 0 and, in
/// 5.0, a Session Expiry Interval of `expiry` seconds.
pub(crate) fn persistent(version: ProtocolVersion, client_id: &str, expiry: u32) -> Connect {
    let mut c = connect_packet(version, client_id);
    c.clean_start = false;
    if version.is_v5() {
        c.properties.session_expiry_interval = Some(expiry);
    }
    c
}

/// Subscription options with `qos` and everything else at its default.
pub(crate) fn opts(qos: QoS) -> SubscriptionOptions {
    SubscriptionOptions {
        qos,
        ..Default::default()
    }
}

/// A PUBLISH of `payload` to `topic` at `qos` (packet id assigned on sending).
pub(crate) fn message(topic: &str, payload: &[u8], qos: QoS) -> Publish {
    let mut p = Publish::new(topic.to_string(), Bytes::copy_from_slice(payload));
    p.qos = qos;
    p
}

/// A packet identifier from a number the test chose (never zero).
pub(crate) fn pid(n: u16) -> PacketId {
    PacketId::new(n).expect("a non-zero packet id")
}

/// A SUBSCRIBE with packet id `id` for `filters`.
pub(crate) fn subscribe_packet(id: u16, filters: &[(&str, QoS)]) -> Packet {
    Packet::Subscribe(Subscribe {
        packet_id: pid(id),
        properties: Default::default(),
        subscriptions: filters
            .iter()
            .map(|(f, q)| Subscription::new(f.to_string(), *q))
            .collect(),
    })
}

/// The bytes of `packet` in `version`.
pub(crate) fn encoded(packet: &Packet, version: ProtocolVersion) -> BytesMut {
    let mut buf = BytesMut::new();
    packet
        .encode(version, &mut buf)
        .expect("test packet encodes");
    buf
}

/// Every packet that arrives until the connection is quiet for [`QUIET`].
pub(crate) async fn drain(c: &mut TestClient) -> Vec<Packet> {
    let mut got = Vec::new();
    while let Some(p) = c.recv_within(QUIET).await {
        got.push(p);
    }
    got
}

/// Expects the server to close the connection because of an error: in 5.0 with a
/// DISCONNECT carrying `code` as the very last packet (MQTT-3.14.4-1), in 3.1.1
/// without any packet. Returns what arrived before the DISCONNECT.
pub(crate) async fn expect_error_close(c: &mut TestClient, code: ReasonCode) -> Vec<Packet> {
    let mut got = c.expect_closed().await;
    if c.version().is_v5() {
        match got.pop() {
            Some(Packet::Disconnect(d)) => assert_eq!(d.reason_code, code, "{d:?}"),
            other => panic!("expected DISCONNECT {code:?} last, got {other:?} after {got:?}"),
        }
    }
    assert!(
        !got.iter().any(|p| matches!(p, Packet::Disconnect(_))),
        "one DISCONNECT at most, and last: {got:?}"
    );
    got
}
