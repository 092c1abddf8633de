//! The broker's durable state survives a restart: sessions, subscriptions, queued
//! and in-flight QoS 1/2 deliveries (with their packet ids), the QoS 2
//! exactly-once state and retained messages, rebuilt from the store's snapshot.

// Helpers of a test: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use mqtt_proto::{ProtocolVersion, PublishProperties, QoS, SubscriptionOptions};
use realtime_server::broker::{
    Broker, BrokerConfig, ConnectRequest, Departure, InflightPhase, Message, NextDelivery,
};
use realtime_server::conn::ConnWake;
use realtime_server::store::{Store, StoreMode, StoreOptions};

fn open(dir: &std::path::Path) -> Broker {
    let store = Store::open(
        dir,
        StoreOptions {
            mode: StoreMode::Sync,
            ..Default::default()
        },
    )
    .unwrap();
    let snapshot = store.load().unwrap();
    let broker = Broker::with_store(
        BrokerConfig {
            sys_interval: None,
            ..Default::default()
        },
        store,
    );
    broker.recover(snapshot, Instant::now());
    broker
}

fn request(id: &str, clean: bool, expiry: u32) -> ConnectRequest {
    ConnectRequest {
        client_id: id.to_string().into(),
        clean_start: clean,
        expiry_interval: expiry,
        version: ProtocolVersion::V5,
        will: None,
        principal: None,
    }
}

fn message(topic: &str, payload: &'static [u8], qos: QoS, retain: bool) -> Message {
    let props = PublishProperties {
        content_type: Some("text/plain".into()),
        ..Default::default()
    };
    Message::new(
        topic.to_string().into(),
        Bytes::from_static(payload),
        qos,
        retain,
        props,
        None,
        Instant::now(),
    )
}

#[test]
fn persistent_session_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let now = Instant::now();
    {
        let broker = open(dir.path());
        let wake = Arc::new(ConnWake::new());
        let c = broker.connect(request("keeper", false, 3600), wake.clone(), now);
        let opts = SubscriptionOptions {
            qos: QoS::ExactlyOnce,
            ..Default::default()
        };
        broker
            .subscribe(&c.session, &"k/#".into(), opts, Some(7), now)
            .unwrap();
        // A session that ends with its connection is not persisted.
        let t = broker.connect(request("transient", true, 0), wake.clone(), now);
        broker
            .subscribe(&t.session, &"k/#".into(), opts, None, now)
            .unwrap();
        for (i, qos) in [
            QoS::AtLeastOnce,
            QoS::ExactlyOnce,
            QoS::AtMostOnce,
            QoS::ExactlyOnce,
        ]
        .into_iter()
        .enumerate()
        {
            broker.publish(message(&format!("k/{i}"), b"x", qos, false), now);
        }
        broker.publish(message("k/state", b"on", QoS::AtLeastOnce, true), now);
        // Two in flight: k/0 (QoS 1) and k/1 (QoS 2, then PUBREC: released).
        let NextDelivery::Item(first, Some(_)) =
            broker.next_delivery(&c.session, c.conn_id, 2, now)
        else {
            panic!()
        };
        assert_eq!(first.message.topic.as_str(), "k/0");
        let NextDelivery::Item(_, Some(id1)) = broker.next_delivery(&c.session, c.conn_id, 2, now)
        else {
            panic!()
        };
        broker.pubrec(&c.session, id1, true);
        // QoS 2 from the client awaiting PUBREL.
        let incoming = mqtt_proto::PacketId::new(42).unwrap();
        broker.publish_from(
            &c.session,
            message("other", b"y", QoS::ExactlyOnce, false),
            Some(incoming),
            None,
            now,
        );
        broker.disconnect(&c.session, c.conn_id, Departure::WithWill, None, now);
        broker.disconnect(&t.session, t.conn_id, Departure::Normal, None, now);
        let store = broker.store().unwrap().clone();
        drop(broker);
        store.flush_blocking().unwrap();
    }
    let broker = open(dir.path());
    assert!(broker.session("transient").is_none());
    let session = broker
        .session("keeper")
        .expect("persistent session recovered");
    {
        let st = session.lock();
        assert!(st.link.is_none(), "recovered offline");
        assert_eq!(st.subscriptions.len(), 1);
        assert_eq!(st.subscriptions.values().next().unwrap().id, Some(7));
        let inflight: Vec<_> = st.outbox.inflight().collect();
        assert_eq!(inflight.len(), 2);
        assert!(
            matches!(&inflight[0].phase, InflightPhase::Published(d) if d.message.topic.as_str() == "k/0")
        );
        assert!(matches!(inflight[1].phase, InflightPhase::Released { .. }));
        let queued: Vec<String> = st
            .outbox
            .waiting()
            .map(|d| d.message.topic.to_string())
            .collect();
        // QoS 0 for an offline session is not queued; k/state is the retained one.
        assert_eq!(queued, ["k/3", "k/state"]);
        assert!(st.incoming_qos2.contains(&42), "exactly-once state kept");
        assert_eq!(
            st.outbox
                .waiting()
                .next()
                .unwrap()
                .message
                .properties
                .content_type
                .as_deref(),
            Some("text/plain"),
            "properties kept"
        );
    }
    assert_eq!(broker.retained_matching("k/#").len(), 1);
    // A new subscription still routes to the recovered session.
    let wake = Arc::new(ConnWake::new());
    let c = broker.connect(request("keeper", false, 3600), wake, Instant::now());
    assert!(c.session_present);
    broker.publish(
        message("k/9", b"z", QoS::AtLeastOnce, false),
        Instant::now(),
    );
    assert_eq!(
        session
            .lock()
            .outbox
            .waiting()
            .last()
            .unwrap()
            .message
            .topic
            .as_str(),
        "k/9"
    );
}
