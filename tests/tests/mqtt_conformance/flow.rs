//! Flow control towards a client: the send quota and Receive Maximum (MQTT 5.0
//! §3.3.4, §4.9).

use mqtt_proto::{Packet, PubResponse, Publish, QoS, Unsubscribe};
use realtime_tests::InProcessServer;
use realtime_tests::mqtt::{TestClient, connect_packet};

use crate::common::{V5, drain, message, pid, subscribe_packet};

/// A 5.0 subscriber to `flow/{tag}/#` at QoS 2 with Receive Maximum `max`, and a
/// publisher that has sent it `n` QoS 1 messages.
async fn saturated(
    server: &InProcessServer,
    tag: &str,
    max: u16,
    n: u8,
) -> (TestClient, TestClient) {
    let mut connect = connect_packet(V5, &format!("flow-sub-{tag}"));
    connect.properties.receive_maximum = Some(max);
    let (mut s, _) = TestClient::connect_with(server.mqtt, connect).await;
    s.subscribe(&format!("flow/{tag}/#"), QoS::ExactlyOnce)
        .await;
    let mut p = TestClient::connect(server.mqtt, V5, &format!("flow-pub-{tag}")).await;
    for i in 0..n {
        p.publish(&format!("flow/{tag}/q1"), &[i], QoS::AtLeastOnce, false)
            .await;
    }
    (s, p)
}

/// The PUBLISH packets among `packets`.
fn publishes(packets: Vec<Packet>) -> Vec<Publish> {
    packets
        .into_iter()
        .map(|p| match p {
            Packet::Publish(p) => p,
            other => panic!("expected PUBLISH only, got {other:?}"),
        })
        .collect()
}

/// 5.0 MQTT-4.9.0-1, MQTT-4.9.0-2: the server's send quota starts at the client's
/// Receive Maximum (not zero, not more): it sends that many QoS 1/2 PUBLISH
/// packets, then none until an acknowledgement frees one. (QoS 0 messages queued
/// behind them may wait too, as §4.9 allows.)
#[tokio::test]
async fn mqtt_4_9_0_2_send_quota_holds_back_qos12_publish() {
    let server = InProcessServer::start().await;
    for max in [1u16, 3] {
        let tag = format!("q{max}");
        let (mut s, _p) = saturated(&server, &tag, max, 6).await;
        let first = publishes(drain(&mut s).await);
        assert_eq!(first.len(), usize::from(max), "quota {max}");
        s.ack(&first[0]).await;
        let next = publishes(drain(&mut s).await);
        assert_eq!(next.len(), 1, "quota {max}: one acknowledgement, one more");
        assert_eq!(next[0].payload[..], [max as u8]);
    }
}

/// 5.0 MQTT-3.3.4-10, MQTT-4.9.0-3: with its send quota at zero, the server still
/// answers every other packet at once: PINGREQ, SUBSCRIBE, UNSUBSCRIBE, the
/// client's QoS 1 and QoS 2 PUBLISH, PUBREL.
#[tokio::test]
async fn mqtt_3_3_4_10_other_packets_flow_while_the_quota_is_zero() {
    let server = InProcessServer::start().await;
    let (mut s, _p) = saturated(&server, "busy", 1, 4).await;
    let held = s.recv_publish().await;
    assert!(drain(&mut s).await.is_empty(), "quota exhausted");
    s.send(&Packet::PingReq).await;
    assert!(matches!(s.recv().await, Packet::PingResp));
    s.send(&subscribe_packet(40, &[("other/x", QoS::AtLeastOnce)]))
        .await;
    assert!(matches!(s.recv().await, Packet::SubAck(a) if a.packet_id == pid(40)));
    s.send(&Packet::Unsubscribe(Unsubscribe {
        packet_id: pid(41),
        properties: Default::default(),
        filters: vec!["other/x".into()],
    }))
    .await;
    assert!(matches!(s.recv().await, Packet::UnsubAck(a) if a.packet_id == pid(41)));
    let mut q1 = message("elsewhere", b"1", QoS::AtLeastOnce);
    q1.packet_id = Some(pid(42));
    s.send(&Packet::Publish(q1)).await;
    assert!(matches!(s.recv().await, Packet::PubAck(a) if a.packet_id == pid(42)));
    let mut q2 = message("elsewhere", b"2", QoS::ExactlyOnce);
    q2.packet_id = Some(pid(43));
    s.send(&Packet::Publish(q2)).await;
    assert!(matches!(s.recv().await, Packet::PubRec(a) if a.packet_id == pid(43)));
    s.send(&Packet::PubRel(PubResponse::new(pid(43)))).await;
    assert!(matches!(s.recv().await, Packet::PubComp(a) if a.packet_id == pid(43)));
    s.ack(&held).await;
    assert_eq!(s.recv_publish().await.payload[..], [1]);
}
