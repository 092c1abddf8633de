//! Differential tests against Mosquitto: each scenario runs, with the packet-level
//! test client, against a fresh Mosquitto (Debian `mosquitto`, generated minimal
//! configuration) and a fresh realtime-server (release binary), in MQTT 3.1.1 and/or
//! 5.0, and the normalised transcripts (`realtime_tests::diff`) must be equal, up to
//! the differences documented in `docs/mosquitto-differences.md`, which each
//! scenario lists explicitly.
#![cfg(feature = "interop")]
// Helpers outside #[test] functions too: a panic is a failed test.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use mqtt_proto::{Packet, ProtocolVersion, Publish, QoS, ReasonCode, RetainHandling, Will};
use realtime_tests::ServerProcess;
use realtime_tests::diff::{Difference, Run, Scenario, compare, opts};
use realtime_tests::mosquitto::MosquittoBroker;

const V311: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;
const V31: ProtocolVersion = ProtocolVersion::V3_1;
const BOTH: &[ProtocolVersion] = &[V311, V5];
/// MQTT 3.1 (`MQIsdp`, level 3) too, for the basic flows.
const ALL: &[ProtocolVersion] = &[V31, V311, V5];
const V5_ONLY: &[ProtocolVersion] = &[V5];
const Q0: QoS = QoS::AtMostOnce;
const Q1: QoS = QoS::AtLeastOnce;
const Q2: QoS = QoS::ExactlyOnce;

/// Runs `scenario` in each of `versions` against Mosquitto (with the extra
/// configuration lines `mosquitto_config`, to set a limit to our default for
/// instance) and against us, all runs at once, and compares the transcripts.
fn differential_with(
    name: &str,
    versions: &[ProtocolVersion],
    mosquitto_config: &[&str],
    scenario: Scenario,
    differences: &[Difference],
) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let brokers: Vec<_> = versions
        .iter()
        .map(|&v| {
            (
                v,
                MosquittoBroker::start(mosquitto_config),
                ServerProcess::start(&[]),
            )
        })
        .collect();
    let transcripts = runtime.block_on(async {
        let mut tasks = Vec::new();
        for (v, mosquitto, ours) in &brokers {
            for addr in [mosquitto.addr, ours.mqtt] {
                let v = *v;
                tasks.push(tokio::spawn(async move {
                    let mut run = Run::new(addr, v);
                    scenario(&mut run).await;
                    run.log
                }));
            }
        }
        let mut logs = Vec::new();
        for t in tasks {
            logs.push(t.await.unwrap());
        }
        logs
    });
    for (i, v) in versions.iter().enumerate() {
        compare(
            name,
            *v,
            &transcripts[2 * i],
            &transcripts[2 * i + 1],
            differences,
        );
    }
}

macro_rules! scenario {
    ($(#[$m:meta])* $name:ident, $versions:expr, [$($diff:expr),* $(,)?], |$r:ident| $body:block) => {
        scenario!($(#[$m])* $name, $versions, config [], [$($diff),*], |$r| $body);
    };
    ($(#[$m:meta])* $name:ident, $versions:expr, config [$($line:expr),*], [$($diff:expr),* $(,)?], |$r:ident| $body:block) => {
        $(#[$m])*
        #[test]
        fn $name() {
            fn run<'a>($r: &'a mut Run) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
                Box::pin(async move $body)
            }
            differential_with(stringify!($name), $versions, &[$($line),*], run, &[$($diff),*]);
        }
    };
}

// The documented differences (docs/mosquitto-differences.md), as transcript lines.

const fn diff(
    version: Option<ProtocolVersion>,
    doc: &'static str,
    mosquitto: &'static [&'static str],
    ours: &'static [&'static str],
) -> Difference {
    Difference {
        version,
        mosquitto,
        ours,
        doc,
    }
}

const OVERLAP_ONE_COPY_A: Difference = diff(
    Some(V5),
    "overlapping-one-copy",
    &[
        "sub < PUBLISH \"o/a\" q0 r0 d0 id=- payload=\"x\"",
        "sub < PUBLISH \"o/a\" q0 r0 d0 id=- payload=\"x\" sub_ids=[7]",
        "sub < PUBLISH \"o/a\" q1 r0 d0 id=s1 payload=\"x\" sub_ids=[9]",
    ],
    &[
        "sub < PUBLISH \"o/a\" q1 r0 d0 id=s1 payload=\"x\" sub_ids=[7, 9]",
        "sub > PUBACK s1",
    ],
);
const OVERLAP_ONE_COPY_B: Difference = diff(
    Some(V5),
    "overlapping-one-copy",
    &[
        "sub < PUBLISH \"o/b\" q0 r0 d0 id=- payload=\"y\" sub_ids=[7]",
        "sub < PUBLISH \"o/b\" q1 r0 d0 id=s2 payload=\"y\" sub_ids=[11]",
    ],
    &[
        "sub < PUBLISH \"o/b\" q1 r0 d0 id=s2 payload=\"y\" sub_ids=[7, 11]",
        "sub > PUBACK s2",
    ],
);
const OVERLAP_ONE_COPY_RAP: Difference = diff(
    Some(V5),
    "overlapping-one-copy",
    &[
        "sub < PUBLISH \"rh/x\" q0 r0 d0 id=- payload=\"live\"",
        "sub < PUBLISH \"rh/x\" q0 r1 d0 id=- payload=\"live\"",
    ],
    &["sub < PUBLISH \"rh/x\" q0 r1 d0 id=- payload=\"live\""],
);
const V311_OVERLAP_MAX_QOS: Difference = diff(
    Some(V311),
    "v311-overlapping-max-qos",
    &["sub < PUBLISH \"o/a\" q0 r0 d0 id=- payload=\"x\""],
    &[
        "sub < PUBLISH \"o/a\" q1 r0 d0 id=s1 payload=\"x\"",
        "sub > PUBACK s1",
    ],
);
const UNKNOWN_PUBREL: Difference = diff(
    Some(V5),
    "pubcomp-packet-identifier-not-found",
    &[
        "pub < PUBCOMP #7 rc=Success",
        "pub > PUBREL #7",
        "pub < PUBCOMP #7 rc=Success",
    ],
    &[
        "pub < PUBCOMP #7 rc=Success",
        "pub > PUBREL #7",
        "pub < PUBCOMP #7 rc=PacketIdentifierNotFound",
    ],
);
const SECOND_CONNECT_DISCONNECT: Difference = diff(
    Some(V5),
    "disconnect-before-close",
    &[
        "twice > CONNECT clean=1 keepalive=60 id=\"twice\"",
        "twice < closed",
    ],
    &[
        "twice > CONNECT clean=1 keepalive=60 id=\"twice\"",
        "twice < DISCONNECT rc=ProtocolError",
        "twice < closed",
    ],
);
const KEEP_ALIVE_DISCONNECT: Difference = diff(
    Some(V5),
    "disconnect-before-close",
    &["sleepy < CONNACK sp=0 rc=Success", "sleepy < closed"],
    &[
        "sleepy < CONNACK sp=0 rc=Success",
        "sleepy < DISCONNECT rc=KeepAliveTimeout",
        "sleepy < closed",
    ],
);
const TAKEOVER_DISCONNECT: Difference = diff(
    Some(V5),
    "disconnect-before-close",
    &["second < CONNACK sp=0 rc=Success", "first < closed"],
    &[
        "second < CONNACK sp=0 rc=Success",
        "first < DISCONNECT rc=SessionTakenOver",
        "first < closed",
    ],
);
const INVALID_FILTER_C: Difference = diff(
    Some(V5),
    "invalid-filter-protocol-error",
    &["c < DISCONNECT rc=MalformedPacket"],
    &["c < DISCONNECT rc=ProtocolError"],
);
const INVALID_FILTER_D: Difference = diff(
    Some(V5),
    "invalid-filter-protocol-error",
    &["d < DISCONNECT rc=MalformedPacket"],
    &["d < DISCONNECT rc=ProtocolError"],
);
const SHARED_NO_RETAINED: Difference = diff(
    None,
    "shared-subscription-no-retained",
    &[
        "group received [\"jobs/0\", \"jobs/1\", \"jobs/2\", \"jobs/3\", \"jobs/4\", \"jobs/5\", \"jobs/old\", \"jobs/old\"]",
    ],
    &["group received [\"jobs/0\", \"jobs/1\", \"jobs/2\", \"jobs/3\", \"jobs/4\", \"jobs/5\"]"],
);

const DOLLAR_OVERLAP: Difference = diff(
    Some(V5),
    "overlapping-one-copy",
    &[
        "all < PUBLISH \"app/x\" q0 r0 d0 id=- payload=\"plain\"",
        "all < PUBLISH \"app/x\" q0 r0 d0 id=- payload=\"plain\"",
    ],
    &["all < PUBLISH \"app/x\" q0 r0 d0 id=- payload=\"plain\""],
);
const NO_LOCAL_SHARED: Difference = diff(
    Some(V5),
    "no-local-shared-subscription",
    &["c < SUBACK #1 [Success]", "c < nothing"],
    &["c < DISCONNECT rc=ProtocolError", "c < closed"],
);
const QOS2_ON_PUBLISH_A: Difference = diff(
    None,
    "qos2-forwarded-on-publish",
    &["sub < nothing"],
    &["sub < PUBLISH \"inq2\" q0 r0 d0 id=- payload=\"exactly once\""],
);
const QOS2_ON_PUBLISH_B: Difference = diff(
    None,
    "qos2-forwarded-on-publish",
    &[
        "pub2 < PUBCOMP #3 rc=Success",
        "sub < PUBLISH \"inq2\" q0 r0 d0 id=- payload=\"exactly once\"",
    ],
    &["pub2 < PUBCOMP #3 rc=Success"],
);
const PUBREC_NO_SUBSCRIBERS: Difference = diff(
    Some(V5),
    "pubrec-no-matching-subscribers",
    &["pub < PUBREC #1 rc=Success"],
    &["pub < PUBREC #1 rc=NoMatchingSubscribers"],
);
const QOS0_DUP: Difference = diff(
    Some(V311),
    "strict-header-flags",
    &["qos0-dup < nothing"],
    &["qos0-dup < closed"],
);
const PINGREQ_FLAGS: Difference = diff(
    Some(V311),
    "strict-header-flags",
    &["pingreq-flags < PINGRESP", "pingreq-flags < nothing"],
    &["pingreq-flags < closed"],
);

const QOS0_DUP_V5: Difference = diff(
    Some(V5),
    "strict-header-flags",
    &["qos0-dup < nothing"],
    &[
        "qos0-dup < DISCONNECT rc=MalformedPacket",
        "qos0-dup < closed",
    ],
);
const PINGREQ_FLAGS_V5: Difference = diff(
    Some(V5),
    "strict-header-flags",
    &["pingreq-flags < PINGRESP", "pingreq-flags < nothing"],
    &[
        "pingreq-flags < DISCONNECT rc=MalformedPacket",
        "pingreq-flags < closed",
    ],
);
const EMPTY_SUBSCRIBE: Difference = diff(
    Some(V5),
    "empty-subscribe-protocol-error",
    &["subscribe-empty < DISCONNECT rc=MalformedPacket"],
    &["subscribe-empty < DISCONNECT rc=ProtocolError"],
);
const EMPTY_UNSUBSCRIBE: Difference = diff(
    Some(V5),
    "empty-subscribe-protocol-error",
    &["unsubscribe-empty < DISCONNECT rc=MalformedPacket"],
    &["unsubscribe-empty < DISCONNECT rc=ProtocolError"],
);

const SUB_ID_ZERO: Difference = diff(
    Some(V5),
    "subscription-identifier-zero",
    &["sub-id-0 < DISCONNECT rc=MalformedPacket"],
    &["sub-id-0 < DISCONNECT rc=ProtocolError"],
);
const AUTH_DISCONNECT: Difference = diff(
    Some(V5),
    "disconnect-before-close",
    &["auth > AUTH", "auth < closed"],
    &[
        "auth > AUTH",
        "auth < DISCONNECT rc=ProtocolError",
        "auth < closed",
    ],
);
const QOS0_BEHIND_QUOTA: Difference = diff(
    Some(V5),
    "qos0-behind-flow-control",
    &[
        "slow < PUBLISH \"rq/a\" q1 r0 d0 id=s1 payload=\"1\"",
        "slow < PUBLISH \"rq/a\" q0 r0 d0 id=- payload=\"3\"",
        "slow > PUBACK s1",
        "slow < PUBLISH \"rq/a\" q1 r0 d0 id=s2 payload=\"2\"",
    ],
    &[
        "slow < PUBLISH \"rq/a\" q1 r0 d0 id=s1 payload=\"1\"",
        "slow > PUBACK s1",
        "slow < PUBLISH \"rq/a\" q1 r0 d0 id=s2 payload=\"2\"",
        "slow < PUBLISH \"rq/a\" q0 r0 d0 id=- payload=\"3\"",
    ],
);

const TAKEOVER_INFLIGHT_DISCONNECT: Difference = diff(
    Some(V5),
    "disconnect-before-close",
    &["new < CONNACK sp=1 rc=Success", "old < closed"],
    &[
        "new < CONNACK sp=1 rc=Success",
        "old < DISCONNECT rc=SessionTakenOver",
        "old < closed",
    ],
);

const WILL_AT_SESSION_END_A: Difference = diff(
    Some(V5),
    "delayed-will-at-session-end",
    &["no-session : connection dropped", "watch < nothing"],
    &[
        "no-session : connection dropped",
        "watch < PUBLISH \"wd/no-session\" q0 r0 d0 id=- payload=\"no-session\"",
    ],
);
const WILL_AT_SESSION_END_B: Difference = diff(
    Some(V5),
    "delayed-will-at-session-end",
    &[
        "restarts-again < CONNACK sp=0 rc=Success",
        "watch < nothing",
    ],
    &[
        "restarts-again < CONNACK sp=0 rc=Success",
        "watch < PUBLISH \"wd/restarts\" q0 r0 d0 id=- payload=\"restarts\"",
    ],
);

const SHARED_NO_FILTER: Difference = diff(
    Some(V311),
    "malformed-shared-filter",
    &["no-filter < SUBACK #1 [Success]"],
    &["no-filter < SUBACK #1 [UnspecifiedError]"],
);
const SHARED_EMPTY_GROUP: Difference = diff(
    Some(V311),
    "malformed-shared-filter",
    &["empty-group < SUBACK #1 [Success]"],
    &["empty-group < SUBACK #1 [UnspecifiedError]"],
);
const SHARED_EMPTY_FILTER: Difference = diff(
    Some(V311),
    "malformed-shared-filter",
    &["empty-filter < SUBACK #1 [Success]"],
    &["empty-filter < SUBACK #1 [UnspecifiedError]"],
);

const SHARED_NO_FILTER_V5: Difference = diff(
    Some(V5),
    "malformed-shared-filter",
    &["no-filter < SUBACK #1 [Success]"],
    &[
        "no-filter < DISCONNECT rc=ProtocolError",
        "no-filter < closed",
    ],
);
const SHARED_EMPTY_GROUP_V5: Difference = diff(
    Some(V5),
    "malformed-shared-filter",
    &["empty-group < SUBACK #1 [Success]"],
    &[
        "empty-group < DISCONNECT rc=ProtocolError",
        "empty-group < closed",
    ],
);
const SHARED_EMPTY_FILTER_V5: Difference = diff(
    Some(V5),
    "malformed-shared-filter",
    &["empty-filter < SUBACK #1 [Success]"],
    &[
        "empty-filter < DISCONNECT rc=ProtocolError",
        "empty-filter < closed",
    ],
);
const SHARED_WILD_GROUP_V5: Difference = diff(
    Some(V5),
    "invalid-filter-protocol-error",
    &["wild-group < DISCONNECT rc=MalformedPacket"],
    &["wild-group < DISCONNECT rc=ProtocolError"],
);

fn msg(topic: &str, payload: &str, qos: QoS) -> Publish {
    let mut p = Publish::new(topic.to_string(), Bytes::from(payload.to_string()));
    p.qos = qos;
    p
}

fn will(topic: &str, payload: &str) -> Will {
    Will {
        topic: topic.to_string().into(),
        payload: Bytes::from(payload.to_string()),
        qos: Q1,
        retain: false,
        properties: Default::default(),
    }
}

scenario!(
    /// MQTT-3.2.2-1/2, MQTT-3.12.4-1, MQTT-3.14.4-1: CONNACK for a new clean
    /// session, PINGRESP, and the server closes after DISCONNECT.
    connect_ping_disconnect, ALL, [], |r| {
        r.connect("a").await;
        r.send("a", Packet::PingReq).await;
        r.expect("a", 1).await;
        r.disconnect("a", ReasonCode::Success).await;
    }
);

scenario!(
    /// MQTT-3.1.2-4/5/6, MQTT-3.2.2-2/3: Session Present is 1 only when a stored
    /// session is resumed without Clean Start.
    session_present_follows_clean_start, ALL, [], |r| {
        let mut c = r.connect_packet("keeper");
        c.clean_start = false;
        c.properties.session_expiry_interval = r.v5().then_some(60);
        r.connect_with("a", c.clone()).await;
        r.disconnect("a", ReasonCode::Success).await;
        r.connect_with("b", c.clone()).await;
        r.disconnect("b", ReasonCode::Success).await;
        c.clean_start = true;
        r.connect_with("c", c).await;
        r.disconnect("c", ReasonCode::Success).await;
    }
);

scenario!(
    /// MQTT-3.1.3-6/7 (3.1.1: an empty ClientId with CleanSession 1 is accepted),
    /// MQTT-3.1.3-8 (3.1.1: with CleanSession 0, CONNACK 0x02 and close), MQTT 5.0
    /// MQTT-3.2.2-16: an empty ClientID gets an Assigned Client Identifier.
    empty_client_id, ALL, [], |r| {
        r.connect("").await;
        let mut c = r.connect_packet("");
        c.clean_start = false;
        r.connect_with("persistent-empty", c).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.1.0-2: a second CONNECT is a Protocol Error (v5: DISCONNECT 0x82),
    /// the connection is closed.
    second_connect_is_protocol_error, BOTH, [SECOND_CONNECT_DISCONNECT], |r| {
        r.connect("twice").await;
        let c = r.connect_packet("twice");
        r.send("twice", Packet::Connect(Box::new(c))).await;
        r.expect("twice", 2).await;
    }
);

scenario!(
    /// MQTT-3.1.0-1 / MQTT-4.8.0-1: a first packet other than CONNECT closes the
    /// connection without an answer.
    first_packet_must_be_connect, BOTH, [], |r| {
        r.open("early").await;
        r.send("early", Packet::PingReq).await;
        r.expect("early", 1).await;
    }
);

scenario!(
    /// MQTT-4.3.1..4.3.3, MQTT-3.8.4-8: QoS 0/1/2 flows on both sides, messages
    /// delivered at min(published, granted) QoS.
    qos_flows, ALL, [], |r| {
        r.connect("sub").await;
        r.subscribe("sub", "q/+", Q2).await;
        r.subscribe("sub", "q1/+", Q1).await;
        r.connect("pub").await;
        for (topic, qos) in [("q/a", Q0), ("q/b", Q1), ("q/c", Q2), ("q1/d", Q2)] {
            r.publish("pub", msg(topic, topic, qos)).await;
            r.receive_and_ack("sub", 1).await;
        }
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-4.3.3-10/11: a QoS 2 PUBLISH resent with DUP before PUBREL is delivered
    /// once; PUBREL for an unknown packet identifier still gets PUBCOMP (v5: 0x92
    /// Packet Identifier not found).
    qos2_exactly_once_and_unknown_pubrel, BOTH, [UNKNOWN_PUBREL], |r| {
        r.connect("sub").await;
        r.subscribe("sub", "once", Q0).await;
        r.connect("pub").await;
        let mut p = msg("once", "x", Q2);
        p.packet_id = mqtt_proto::PacketId::new(7);
        r.send("pub", Packet::Publish(p.clone())).await;
        r.expect("pub", 1).await;
        p.dup = true;
        r.send("pub", Packet::Publish(p)).await;
        r.expect("pub", 1).await;
        let rel = mqtt_proto::PubResponse::new(mqtt_proto::PacketId::new(7).unwrap());
        r.send("pub", Packet::PubRel(rel.clone())).await;
        r.expect("pub", 1).await;
        r.send("pub", Packet::PubRel(rel)).await;
        r.expect("pub", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.3.1-5..9 (3.1.1: -5..-12): retained messages are set, replaced,
    /// deleted by an empty payload and sent with RETAIN 1 on subscribe; live
    /// messages are forwarded with RETAIN 0.
    retained_set_replace_delete, ALL, [], |r| {
        r.connect("pub").await;
        let mut m = msg("r/a", "one", Q1);
        m.retain = true;
        r.publish("pub", m.clone()).await;
        m.payload = Bytes::from_static(b"two");
        r.publish("pub", m.clone()).await;
        let mut b = msg("r/b", "gone", Q0);
        b.retain = true;
        r.publish("pub", b.clone()).await;
        b.payload = Bytes::new();
        r.publish("pub", b).await;
        r.connect("sub").await;
        r.subscribe("sub", "r/#", Q1).await;
        r.receive_and_ack("sub", 1).await;
        m.payload = Bytes::from_static(b"three");
        r.publish("pub", m).await;
        r.receive_and_ack("sub", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.3.1-9/10/11: Retain Handling 0 sends retained messages at every
    /// subscribe, 1 only for a new subscription, 2 never; MQTT-3.3.1-12/13: Retain
    /// As Published keeps RETAIN on live messages.
    retain_handling_and_retain_as_published, V5_ONLY, [OVERLAP_ONE_COPY_RAP], |r| {
        r.connect("pub").await;
        let mut m = msg("rh/x", "kept", Q0);
        m.retain = true;
        r.publish("pub", m.clone()).await;
        // A QoS 0 PUBLISH has no acknowledgement: give the server time to store
        // the retained message before the subscriber races it (seen on a busy machine).
        r.quiet("pub").await;
        r.connect("sub").await;
        for rh in [RetainHandling::SendAtSubscribe, RetainHandling::SendAtSubscribe, RetainHandling::SendIfNew, RetainHandling::DoNotSend] {
            let o = mqtt_proto::SubscriptionOptions { retain_handling: rh, ..opts(Q0) };
            r.subscribe_many("sub", &[("rh/x", o)], None).await;
            r.quiet("sub").await;
        }
        let o = mqtt_proto::SubscriptionOptions { retain_handling: RetainHandling::SendIfNew, ..opts(Q0) };
        r.subscribe_many("sub", &[("rh/+", o)], None).await;
        r.quiet("sub").await;
        r.unsubscribe("sub", &["rh/x"]).await;
        let rap = mqtt_proto::SubscriptionOptions { retain_as_published: true, retain_handling: RetainHandling::DoNotSend, ..opts(Q0) };
        r.subscribe_many("sub", &[("rh/#", rap)], None).await;
        m.payload = Bytes::from_static(b"live");
        r.publish("pub", m).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.3.4-2/3/4 and MQTT-3.8.4-3: overlapping subscriptions of one client
    /// give one message at the highest QoS carrying every Subscription Identifier;
    /// re-subscribing replaces the identifier.
    overlapping_subscriptions_and_identifiers, V5_ONLY, [OVERLAP_ONE_COPY_A, OVERLAP_ONE_COPY_B], |r| {
        r.connect("sub").await;
        r.subscribe_many("sub", &[("o/+", opts(Q0))], Some(7)).await;
        r.subscribe_many("sub", &[("o/#", opts(Q1))], Some(9)).await;
        r.subscribe_many("sub", &[("o/a", opts(Q0))], None).await;
        r.connect("pub").await;
        r.publish("pub", msg("o/a", "x", Q2)).await;
        r.receive_and_ack("sub", 1).await;
        r.quiet("sub").await;
        r.subscribe_many("sub", &[("o/#", opts(Q1))], Some(11)).await;
        r.publish("pub", msg("o/b", "y", Q1)).await;
        r.receive_and_ack("sub", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT 3.1.1 MQTT-3.3.5-1: with overlapping subscriptions the message is sent
    /// at the maximum QoS of the matching ones (one copy or several).
    overlapping_subscriptions_v311, &[V311], [V311_OVERLAP_MAX_QOS], |r| {
        r.connect("sub").await;
        r.subscribe("sub", "o/+", Q0).await;
        r.subscribe("sub", "o/#", Q1).await;
        r.connect("pub").await;
        r.publish("pub", msg("o/a", "x", Q2)).await;
        r.receive_and_ack("sub", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.8.3-3: No Local: a client's own messages are not sent back to it.
    no_local, V5_ONLY, [], |r| {
        r.connect("me").await;
        let o = mqtt_proto::SubscriptionOptions { no_local: true, ..opts(Q1) };
        r.subscribe_many("me", &[("nl/#", o)], None).await;
        r.publish("me", msg("nl/mine", "echo?", Q0)).await;
        r.quiet("me").await;
        r.connect("other").await;
        r.publish("other", msg("nl/theirs", "hi", Q0)).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.10.4-1..6: UNSUBACK for every UNSUBSCRIBE; v5 codes 0x00 and 0x11 No
    /// subscription existed; no delivery after unsubscribing.
    unsubscribe_codes, ALL, [], |r| {
        r.connect("c").await;
        r.subscribe("c", "u/+", Q1).await;
        r.unsubscribe("c", &["u/+", "u/never"]).await;
        r.unsubscribe("c", &["u/+"]).await;
        r.publish("c", msg("u/x", "no", Q1)).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.1.2-8: the Will is published when the connection drops.
    will_on_abnormal_close, ALL, [], |r| {
        r.connect("watch").await;
        r.subscribe("watch", "will/#", Q1).await;
        let mut c = r.connect_packet("dies");
        c.will = Some(will("will/dies", "gone"));
        r.connect_with("dies", c).await;
        r.drop_connection("dies").await;
        r.receive_and_ack("watch", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.1.2-10, MQTT-3.14.4-3: no Will after DISCONNECT 0x00; v5 DISCONNECT
    /// 0x04 (Disconnect with Will Message) publishes it.
    will_and_disconnect_reason, BOTH, [], |r| {
        r.connect("watch").await;
        r.subscribe("watch", "will/#", Q1).await;
        let mut c = r.connect_packet("polite");
        c.will = Some(will("will/polite", "never"));
        r.connect_with("polite", c).await;
        r.disconnect("polite", ReasonCode::Success).await;
        r.quiet("watch").await;
        if r.v5() {
            let mut c = r.connect_packet("asks");
            c.will = Some(will("will/asks", "please"));
            r.connect_with("asks", c).await;
            r.disconnect("asks", ReasonCode::DisconnectWithWillMessage).await;
            r.receive_and_ack("watch", 1).await;
        }
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.1.3-9: a Will with a Will Delay Interval is published once the delay
    /// passes (not before), and not at all if the client reconnects in time.
    will_delay, V5_ONLY, [], |r| {
        r.connect("watch").await;
        r.subscribe("watch", "delayed/#", Q0).await;
        for (id, reconnect) in [("blinks", true), ("gone", false)] {
            let mut c = r.connect_packet(id);
            c.clean_start = false;
            c.properties.session_expiry_interval = Some(60);
            let mut w = will(&format!("delayed/{id}"), id);
            w.properties.will_delay_interval = Some(2);
            c.will = Some(w);
            r.connect_with(id, c.clone()).await;
            r.drop_connection(id).await;
            r.expect_within("watch", 1, Duration::from_millis(800)).await;
            if reconnect {
                c.will = None;
                r.connect_with(id, c).await;
                r.expect_within("watch", 1, Duration::from_millis(2500)).await;
            } else {
                r.expect_within("watch", 1, Duration::from_millis(3500)).await;
            }
        }
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.1.4-3: a second connection with the same Client Identifier takes the
    /// session over: the first gets DISCONNECT 0x8E (v5) and is closed; its Will
    /// (no delay) is published.
    session_takeover, ALL, [TAKEOVER_DISCONNECT], |r| {
        r.connect("watch").await;
        r.subscribe("watch", "will/#", Q1).await;
        let mut c = r.connect_packet("dup");
        c.will = Some(will("will/dup", "taken over"));
        r.connect_with("first", c).await;
        let c = r.connect_packet("dup");
        r.connect_with("second", c).await;
        r.expect("first", 2).await;
        r.receive_and_ack("watch", 1).await;
        r.send("second", Packet::PingReq).await;
        r.expect("second", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.1.2-22: no packet within 1.5 × Keep Alive closes the connection (v5:
    /// DISCONNECT 0x8D Keep Alive timeout) and publishes the Will.
    keep_alive_timeout, ALL, [KEEP_ALIVE_DISCONNECT], |r| {
        r.connect("watch").await;
        r.subscribe("watch", "ka/#", Q0).await;
        let mut c = r.connect_packet("sleepy");
        c.keep_alive = 1;
        c.will = Some(will("ka/sleepy", "timed out"));
        r.connect_with("sleepy", c).await;
        // Mosquitto 2.0 checks keep-alives on a coarse timer: the bound is generous.
        r.expect_within("sleepy", 2, Duration::from_secs(12)).await;
        r.expect("watch", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT 5.0 §3.3.2.3.4: a Topic Alias set by the client is resolved for
    /// subscribers; MQTT-3.3.2-8: alias 0 is a DISCONNECT 0x94 Topic Alias invalid.
    topic_alias_from_client, V5_ONLY, [], |r| {
        r.connect("sub").await;
        r.subscribe("sub", "alias/#", Q0).await;
        r.connect("pub").await;
        let mut a = msg("alias/long/topic", "1", Q0);
        a.properties.to_mut().topic_alias = Some(1);
        r.publish("pub", a).await;
        let mut b = msg("", "2", Q1);
        b.properties.to_mut().topic_alias = Some(1);
        r.publish("pub", b).await;
        r.expect("sub", 2).await;
        let mut bad = msg("alias/x", "3", Q0);
        bad.properties.to_mut().topic_alias = Some(0);
        r.send("pub", Packet::Publish(bad)).await;
        r.expect("pub", 2).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT 5.0 §3.3.2.3.4: an alias used before it was set is a Protocol Error
    /// (DISCONNECT 0x82).
    topic_alias_unknown, V5_ONLY, [], |r| {
        r.connect("pub").await;
        let mut p = msg("", "x", Q0);
        p.properties.to_mut().topic_alias = Some(2);
        r.send("pub", Packet::Publish(p)).await;
        r.expect("pub", 2).await;
    }
);

scenario!(
    /// MQTT-3.3.2-11 / MQTT-3.1.2-26: towards a client the server may use topic
    /// aliases only within the client's Topic Alias Maximum (the transcript resolves
    /// them and flags one above the maximum).
    topic_alias_to_client, V5_ONLY, [], |r| {
        let mut c = r.connect_packet("taker");
        c.properties.topic_alias_maximum = Some(1);
        r.connect_with("taker", c).await;
        r.subscribe("taker", "ta/#", Q0).await;
        r.connect("pub").await;
        for t in ["ta/one", "ta/one", "ta/two", "ta/one", "ta/two"] {
            r.publish("pub", msg(t, t, Q0)).await;
        }
        r.expect("taker", 5).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.3.2-5/6: an expired message is not delivered; a delivered one carries
    /// the remaining Message Expiry Interval; MQTT-3.3.2-4: properties pass through.
    message_expiry_and_properties, V5_ONLY, [], |r| {
        let mut c = r.connect_packet("sub");
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(60);
        r.connect_with("sub", c.clone()).await;
        r.subscribe("sub", "exp/#", Q1).await;
        r.disconnect("sub", ReasonCode::Success).await;
        r.connect("pub").await;
        let mut short = msg("exp/short", "short", Q1);
        short.properties.to_mut().message_expiry_interval = Some(1);
        r.publish("pub", short).await;
        let mut long = msg("exp/long", "long", Q1);
        long.properties.to_mut().message_expiry_interval = Some(1000);
        long.properties.to_mut().content_type = Some("text/plain".into());
        long.properties.to_mut().response_topic = Some("exp/reply".into());
        long.properties.to_mut().correlation_data = Some(Bytes::from_static(b"\x01\x02"));
        long.properties.to_mut().payload_format_indicator = Some(true);
        long.properties.to_mut().user_properties = vec![mqtt_proto::UserProperty::new("k", "v"), mqtt_proto::UserProperty::new("k", "w")];
        r.publish("pub", long).await;
        tokio::time::sleep(Duration::from_millis(2100)).await;
        r.connect_with("sub2", c).await;
        r.receive_and_ack("sub2", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.3.4-9: the server sends no more unacknowledged QoS 1/2 PUBLISH than
    /// the client's Receive Maximum; the next goes after an acknowledgement.
    receive_maximum_towards_client, V5_ONLY, [], |r| {
        let mut c = r.connect_packet("slow");
        c.properties.receive_maximum = Some(1);
        r.connect_with("slow", c).await;
        r.subscribe("slow", "rm/#", Q1).await;
        r.connect("pub").await;
        for i in 0..3 {
            r.publish("pub", msg(&format!("rm/{i}"), "x", Q1)).await;
        }
        r.expect("slow", 1).await;
        r.quiet("slow").await;
        r.ack("slow").await;
        r.expect("slow", 1).await;
        r.quiet("slow").await;
        r.ack("slow").await;
        r.receive_and_ack("slow", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-4.7.1-1/2/3: invalid Topic Filters (`#` not last, `+` not alone in its
    /// level) in SUBSCRIBE.
    invalid_topic_filters, BOTH, [INVALID_FILTER_C, INVALID_FILTER_D], |r| {
        r.connect("c").await;
        r.subscribe_many("c", &[("ok/+", opts(Q0)), ("a/#/b", opts(Q0))], None).await;
        r.quiet_all().await;
        r.connect("d").await;
        r.subscribe_many("d", &[("a+", opts(Q0))], None).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.3.2-2: a Topic Name with a wildcard in PUBLISH is an error that
    /// closes the connection (v5: DISCONNECT with an error code).
    wildcard_in_publish_topic, BOTH, [], |r| {
        r.connect("sub").await;
        r.subscribe("sub", "#", Q0).await;
        r.connect("pub").await;
        r.publish("pub", msg("w/+", "wild", Q0)).await;
        r.expect("pub", 2).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-4.7.2-1: `#` does not match topics starting with `$`; `$SYS/#` does
    /// (the transcript records only whether `$SYS` messages came, as their topics
    /// and values are the broker's own).
    sys_topics_not_matched_by_hash, BOTH, [], |r| {
        r.connect("all").await;
        r.subscribe("all", "#", Q0).await;
        r.connect("sys").await;
        r.subscribe("sys", "$SYS/#", Q0).await;
        let before = r.log.len();
        r.quiet("sys").await;
        let got: Vec<String> = r.log.drain(before..).collect();
        let sys = !got.is_empty() && got.iter().all(|l| l.starts_with("sys < PUBLISH \"$SYS/") && l.contains(" r1 "));
        r.note(format!("sys: retained $SYS messages received: {sys}"));
        r.quiet("all").await;
    }
);

scenario!(
    /// MQTT-3.1.2-24/25: a message larger than the client's Maximum Packet Size is
    /// not sent to it; the next smaller one is.
    maximum_packet_size_towards_client, V5_ONLY, [], |r| {
        let mut c = r.connect_packet("small");
        c.properties.maximum_packet_size = Some(64);
        r.connect_with("small", c).await;
        r.subscribe("small", "big/#", Q1).await;
        r.connect("pub").await;
        r.publish("pub", msg("big/1", &"x".repeat(100), Q1)).await;
        r.publish("pub", msg("big/2", "small", Q1)).await;
        r.receive_and_ack("small", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT 5.0 §4.8.2: each message on a shared subscription goes to exactly one
    /// member of the group (which member is the server's choice: the transcript
    /// records the counts); no retained message for a shared subscription.
    shared_subscription, BOTH, [SHARED_NO_RETAINED], |r| {
        r.connect("pub").await;
        let mut old = msg("jobs/old", "retained", Q0);
        old.retain = true;
        r.publish("pub", old).await;
        r.connect("a").await;
        r.subscribe("a", "$share/g/jobs/+", Q1).await;
        r.connect("b").await;
        r.subscribe("b", "$share/g/jobs/+", Q1).await;
        for i in 0..6 {
            r.publish("pub", msg(&format!("jobs/{i}"), "job", Q1)).await;
        }
        let before = r.log.len();
        r.quiet("a").await;
        r.quiet("b").await;
        let got: Vec<String> = r.log.drain(before..).collect();
        let mut topics: Vec<String> = got
            .iter()
            .filter_map(|l| l.split('"').nth(1).map(str::to_string))
            .collect();
        topics.sort();
        r.note(format!("group received {topics:?}"));
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-4.1.0-2 / MQTT-3.1.2-23: a session ends when its Session Expiry
    /// Interval passes after the connection closed.
    session_expiry, V5_ONLY, [], |r| {
        let mut c = r.connect_packet("brief");
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(1);
        r.connect_with("a", c.clone()).await;
        r.disconnect("a", ReasonCode::Success).await;
        tokio::time::sleep(Duration::from_millis(2500)).await;
        r.connect_with("b", c).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-4.4.0-1, MQTT-3.3.1-1: unacknowledged messages are resent with DUP and
    /// their packet identifier when the session resumes; QoS 1/2 messages published
    /// meanwhile are queued, QoS 0 ones are not.
    resend_inflight_on_resume, BOTH, [], |r| {
        let mut c = r.connect_packet("persist");
        c.clean_start = false;
        c.properties.session_expiry_interval = r.v5().then_some(60);
        r.connect_with("a", c.clone()).await;
        r.subscribe("a", "p/#", Q2).await;
        r.connect("pub").await;
        r.publish("pub", msg("p/1", "first", Q1)).await;
        r.publish("pub", msg("p/2", "second", Q2)).await;
        r.expect("a", 2).await;
        r.drop_connection("a").await;
        r.publish("pub", msg("p/3", "queued", Q1)).await;
        r.publish("pub", msg("p/4", "qos0 offline", Q0)).await;
        // PINGRESP: the server has routed p/4 before the session is back online.
        r.send("pub", Packet::PingReq).await;
        r.expect("pub", 1).await;
        r.connect_with("b", c).await;
        r.receive_and_ack("b", 3).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT 3.1.1 §3.1.2.2 / MQTT 5.0 §3.1.2.2: an unsupported protocol level gets
    /// CONNACK 0x01 (3.1.1 format) and the connection is closed.
    unsupported_protocol_level, &[V311], [], |r| {
        r.open("old").await;
        r.send_raw("old", "CONNECT level 9", &[0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 9, 0x02, 0, 60, 0, 0]).await;
        r.expect("old", 2).await;
    }
);

scenario!(
    /// MQTT-4.3.3-10/11 with MQTT-4.1.0-? session state: the receiver's QoS 2 state
    /// (PUBREC sent, PUBREL awaited) survives a reconnect of a persistent session,
    /// so the PUBREL after the reconnect completes it without a second delivery.
    qos2_incoming_state_survives_reconnect, BOTH, [QOS2_ON_PUBLISH_A, QOS2_ON_PUBLISH_B], |r| {
        r.connect("sub").await;
        r.subscribe("sub", "inq2", Q0).await;
        let mut c = r.connect_packet("pub");
        c.clean_start = false;
        c.properties.session_expiry_interval = r.v5().then_some(60);
        r.connect_with("pub", c.clone()).await;
        let mut p = msg("inq2", "exactly once", Q2);
        p.packet_id = mqtt_proto::PacketId::new(3);
        r.send("pub", Packet::Publish(p.clone())).await;
        r.expect("pub", 1).await;
        r.expect("sub", 1).await;
        r.drop_connection("pub").await;
        r.connect_with("pub2", c).await;
        p.dup = true;
        r.send("pub2", Packet::Publish(p)).await;
        r.expect("pub2", 1).await;
        let rel = mqtt_proto::PubResponse::new(mqtt_proto::PacketId::new(3).unwrap());
        r.send("pub2", Packet::PubRel(rel)).await;
        r.expect("pub2", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-4.7.2-1: topics starting with `$` are not matched by `#` or `+`, and
    /// are matched by filters that start with the same `$` level; clients may
    /// publish to them (`$SYS/` aside, which is the server's).
    dollar_topics, BOTH, [DOLLAR_OVERLAP], |r| {
        r.connect("all").await;
        r.subscribe("all", "#", Q0).await;
        r.subscribe("all", "+/x", Q0).await;
        r.connect("dollar").await;
        r.subscribe("dollar", "$app/#", Q0).await;
        r.connect("pub").await;
        r.publish("pub", msg("$app/x", "dollar", Q1)).await;
        r.publish("pub", msg("app/x", "plain", Q1)).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-4.7.1-?, MQTT-4.7.3-1: empty topic levels are levels: `+/+` matches `/`
    /// and `a//b` is matched by `a/+/b`, `#` matches `/a`.
    empty_topic_levels, BOTH, [], |r| {
        r.connect("sub").await;
        r.subscribe("sub", "+/+", Q0).await;
        r.subscribe("sub", "a/+/b", Q0).await;
        r.connect("pub").await;
        for t in ["/", "a//b", "/a", "a/b/c"] {
            r.publish("pub", msg(t, t, Q0)).await;
            r.quiet("sub").await;
        }
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.8.4-3/4: a SUBSCRIBE with an existing filter replaces the subscription
    /// (new QoS) and, with Retain Handling 0, re-sends the retained message.
    resubscribe_replaces, BOTH, [PUBREC_NO_SUBSCRIBERS], |r| {
        r.connect("pub").await;
        let mut m = msg("re/x", "kept", Q2);
        m.retain = true;
        r.publish("pub", m).await;
        r.connect("sub").await;
        r.subscribe("sub", "re/x", Q0).await;
        r.receive_and_ack("sub", 1).await;
        r.subscribe("sub", "re/x", Q2).await;
        r.receive_and_ack("sub", 1).await;
        r.publish("pub", msg("re/x", "live", Q2)).await;
        r.receive_and_ack("sub", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.8.3-4: No Local on a Shared Subscription is a Protocol Error.
    no_local_on_shared_subscription, V5_ONLY, [NO_LOCAL_SHARED], |r| {
        r.connect("c").await;
        let o = mqtt_proto::SubscriptionOptions { no_local: true, ..opts(Q0) };
        r.subscribe_many("c", &[("$share/g/t", o)], None).await;
        r.expect("c", 1).await;
    }
);

scenario!(
    /// MQTT-3.3.2-5 for retained messages: a retained message whose Message Expiry
    /// Interval passed is not sent to a new subscriber; one that has not is sent with
    /// the remaining interval.
    retained_message_expiry, V5_ONLY, [], |r| {
        r.connect("pub").await;
        for (t, secs) in [("rx/short", 1u32), ("rx/long", 1000)] {
            let mut m = msg(t, t, Q1);
            m.retain = true;
            m.properties.to_mut().message_expiry_interval = Some(secs);
            r.publish("pub", m).await;
        }
        tokio::time::sleep(Duration::from_millis(2100)).await;
        r.connect("sub").await;
        r.subscribe("sub", "rx/#", Q1).await;
        r.receive_and_ack("sub", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.1.2-8, MQTT-3.1.3-10/11: a retained Will with properties is published
    /// as a retained message with those properties (a later subscriber gets it).
    will_retained_with_properties, BOTH, [], |r| {
        let mut c = r.connect_packet("dies");
        let mut w = will("wr/dies", "last words");
        w.retain = true;
        w.qos = Q2;
        w.properties.content_type = Some("text/plain".into());
        w.properties.user_properties = vec![mqtt_proto::UserProperty::new("a", "1")];
        w.properties.payload_format_indicator = Some(true);
        if !r.v5() {
            w.properties = Default::default();
        }
        c.will = Some(w);
        r.connect_with("dies", c).await;
        r.drop_connection("dies").await;
        r.connect("late").await;
        r.subscribe("late", "wr/#", Q2).await;
        r.receive_and_ack("late", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT 5.0 §3.14.2.2.2: DISCONNECT may change the Session Expiry Interval (to 0:
    /// the session ends) but not from 0 to non-zero (Protocol Error).
    disconnect_session_expiry, V5_ONLY, [], |r| {
        let mut c = r.connect_packet("shortlived");
        c.clean_start = false;
        c.properties.session_expiry_interval = Some(60);
        r.connect_with("a", c.clone()).await;
        let mut d = mqtt_proto::Disconnect::new(ReasonCode::Success);
        d.properties.session_expiry_interval = Some(0);
        r.send("a", Packet::Disconnect(d)).await;
        r.expect("a", 1).await;
        r.connect_with("b", c).await;
        r.connect("zero").await;
        let mut d = mqtt_proto::Disconnect::new(ReasonCode::Success);
        d.properties.session_expiry_interval = Some(30);
        r.send("zero", Packet::Disconnect(d)).await;
        r.expect("zero", 2).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.3.2-? / MQTT 5.0 §3.3.2.3.2: a Payload Format Indicator of 1 with a
    /// payload that is not UTF-8 may be refused (PUBACK 0x99) or forwarded unchanged.
    payload_format_indicator_invalid_utf8, V5_ONLY, [], |r| {
        r.connect("sub").await;
        r.subscribe("sub", "pfi/#", Q1).await;
        r.connect("pub").await;
        let mut p = Publish::new("pfi/x", Bytes::from_static(b"\xff\xfe"));
        p.qos = Q1;
        p.properties.to_mut().payload_format_indicator = Some(true);
        r.publish("pub", p).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.10.4-? (v5 UNSUBACK codes) for a shared subscription: unsubscribing
    /// `$share/g/f` removes it (0x00), a second time 0x11.
    unsubscribe_shared, BOTH, [], |r| {
        r.connect("c").await;
        r.subscribe("c", "$share/g/us/+", Q1).await;
        r.unsubscribe("c", &["$share/g/us/+"]).await;
        r.unsubscribe("c", &["$share/g/us/+"]).await;
        r.publish("c", msg("us/x", "none", Q1)).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-4.13.1-1 / MQTT-4.8.0-1 (3.1.1): malformed or forbidden packets after
    /// CONNECT end that connection (v5: DISCONNECT 0x81/0x82 first):
    /// reserved header flags (MQTT-2.1.3-1 / MQTT-2.2.2-2), SUBSCRIBE and UNSUBSCRIBE
    /// without a filter (MQTT-3.8.3-2 / MQTT-3.10.3-2), DUP on QoS 0 (MQTT-3.3.1-2).
    malformed_packets_after_connect, BOTH, [QOS0_DUP, PINGREQ_FLAGS, QOS0_DUP_V5, PINGREQ_FLAGS_V5, EMPTY_SUBSCRIBE, EMPTY_UNSUBSCRIBE], |r| {
        let v5 = r.v5();
        let cases: [(&str, &[u8], &[u8]); 5] = [
            ("subscribe-flags", &[0x80, 6, 0, 1, 0, 1, b'a', 0], &[0x80, 7, 0, 1, 0, 0, 1, b'a', 0]),
            ("subscribe-empty", &[0x82, 2, 0, 1], &[0x82, 3, 0, 1, 0]),
            ("unsubscribe-empty", &[0xA2, 2, 0, 1], &[0xA2, 3, 0, 1, 0]),
            ("qos0-dup", &[0x38, 3, 0, 1, b't'], &[0x38, 4, 0, 1, b't', 0]),
            ("pingreq-flags", &[0xC1, 0], &[0xC1, 0]),
        ];
        for (name, v3, v5bytes) in cases {
            r.connect(name).await;
            r.send_raw(name, name, if v5 { v5bytes } else { v3 }).await;
            r.expect(name, 2).await;
        }
    }
);

scenario!(
    /// MQTT-3.1.2-3: the reserved CONNECT flag must be 0 (else close, no CONNACK);
    /// 3.1.1 MQTT-3.1.2-22: a password without a user name is refused, which MQTT 5.0
    /// allows (§3.1.2.9).
    malformed_connect, BOTH, [], |r| {
        let level = if r.v5() { 5 } else { 4 };
        let props: &[u8] = if r.v5() { &[0] } else { &[] };
        let mut reserved = vec![0x10, 0, 0, 4, b'M', b'Q', b'T', b'T', level, 0x03, 0, 60];
        reserved.extend_from_slice(props);
        reserved.extend_from_slice(&[0, 1, b'x']);
        reserved[1] = (reserved.len() - 2) as u8;
        r.open("reserved").await;
        r.send_raw("reserved", "CONNECT reserved flag", &reserved).await;
        r.expect("reserved", 2).await;
        let mut pw = vec![0x10, 0, 0, 4, b'M', b'Q', b'T', b'T', level, 0x42, 0, 60];
        pw.extend_from_slice(props);
        pw.extend_from_slice(&[0, 1, b'y', 0, 1, b'p']);
        pw[1] = (pw.len() - 2) as u8;
        r.open("password").await;
        r.send_raw("password", "CONNECT password without user name", &pw).await;
        r.expect("password", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.2.2-? / MQTT 5.0 §3.1.2.11: CONNECT properties with forbidden values
    /// (Receive Maximum 0, Maximum Packet Size 0: Protocol Errors), an
    /// Authentication Method the server does not support (CONNACK 0x8C,
    /// MQTT-4.12.0-1), a Subscription Identifier of 0 (Protocol Error,
    /// §3.8.2.1.2), AUTH without an Authentication Method (MQTT-4.12.0-7).
    v5_property_errors, V5_ONLY, [SUB_ID_ZERO, AUTH_DISCONNECT], |r| {
        let connect = |props: &[u8]| {
            let mut c = vec![0x10, 0, 0, 4, b'M', b'Q', b'T', b'T', 5, 0x02, 0, 60, props.len() as u8];
            c.extend_from_slice(props);
            c.extend_from_slice(&[0, 1, b'x']);
            c[1] = (c.len() - 2) as u8;
            c
        };
        for (name, props) in [
            ("receive-max-0", &[0x21u8, 0, 0][..]),
            ("max-packet-0", &[0x27, 0, 0, 0, 0][..]),
            ("auth-method", &[0x15, 0, 5, b'S', b'C', b'R', b'A', b'M'][..]),
        ] {
            r.open(name).await;
            r.send_raw(name, name, &connect(props)).await;
            r.expect(name, 2).await;
        }
        r.connect("sub-id-0").await;
        r.send_raw("sub-id-0", "SUBSCRIBE with Subscription Identifier 0", &[0x82, 9, 0, 1, 2, 0x0B, 0, 0, 1, b'a', 0]).await;
        r.expect("sub-id-0", 2).await;
        r.connect("auth").await;
        r.send_raw("auth", "AUTH", &[0xF0, 0]).await;
        r.expect("auth", 2).await;
    }
);

scenario!(
    /// MQTT-3.2.2-? (Maximum Packet Size, MQTT 5.0 §3.1.2.11.4 from the server's
    /// side): a packet above the server's limit ends the connection (v5: DISCONNECT
    /// 0x95 Packet too large). Mosquitto gets our default limit, 1 MiB.
    packet_too_large_for_server, BOTH, config ["max_packet_size 1048576"], [], |r| {
        r.connect("big").await;
        let mut p = Publish::new("big", Bytes::from(vec![b'x'; 1_100_000]));
        p.qos = Q0;
        r.send_raw("big", "PUBLISH of 1,100,000 bytes", &{
            let mut out = bytes::BytesMut::new();
            Packet::Publish(p).encode(r.version, &mut out).unwrap();
            out
        }).await;
        r.expect("big", 2).await;
    }
);

scenario!(
    /// MQTT-4.6.0-6 orders messages of the same topic and QoS; with Receive Maximum 1
    /// a QoS 0 message may or may not wait behind a QoS 1 message in flight.
    receive_maximum_and_qos0, V5_ONLY, [QOS0_BEHIND_QUOTA], |r| {
        let mut c = r.connect_packet("slow");
        c.properties.receive_maximum = Some(1);
        r.connect_with("slow", c).await;
        r.subscribe("slow", "rq/#", Q1).await;
        r.connect("pub").await;
        r.publish("pub", msg("rq/a", "1", Q1)).await;
        r.publish("pub", msg("rq/a", "2", Q1)).await;
        r.publish("pub", msg("rq/a", "3", Q0)).await;
        r.expect("slow", 1).await;
        r.quiet("slow").await;
        r.ack("slow").await;
        r.quiet("slow").await;
        r.ack("slow").await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.1.4-3 with MQTT-4.4.0-1: when a persistent session is taken over, the
    /// new connection gets Session Present 1 and the unacknowledged messages again,
    /// with DUP and their packet identifiers.
    takeover_resends_inflight, BOTH, [TAKEOVER_INFLIGHT_DISCONNECT], |r| {
        let mut c = r.connect_packet("mobile");
        c.clean_start = false;
        c.properties.session_expiry_interval = r.v5().then_some(60);
        r.connect_with("old", c.clone()).await;
        r.subscribe("old", "to/#", Q1).await;
        r.connect("pub").await;
        r.publish("pub", msg("to/a", "in flight", Q1)).await;
        r.expect("old", 1).await;
        r.connect_with("new", c).await;
        r.expect("old", 2).await;
        r.receive_and_ack("new", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.1.2-4 (3.1.1 MQTT-3.1.2-6): reconnecting with Clean Start discards the
    /// stored session: its subscriptions no longer receive messages.
    clean_start_discards_subscriptions, BOTH, [], |r| {
        let mut c = r.connect_packet("forgetful");
        c.clean_start = false;
        c.properties.session_expiry_interval = r.v5().then_some(60);
        r.connect_with("a", c.clone()).await;
        r.subscribe("a", "cs/#", Q1).await;
        r.disconnect("a", ReasonCode::Success).await;
        c.clean_start = true;
        r.connect_with("b", c).await;
        r.connect("pub").await;
        r.publish("pub", msg("cs/x", "lost", Q1)).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.3.4-3 for retained messages: a retained message sent because of a new
    /// subscription carries that subscription's Subscription Identifier.
    retained_with_subscription_identifier, V5_ONLY, [], |r| {
        r.connect("pub").await;
        let mut m = msg("rid/x", "kept", Q1);
        m.retain = true;
        r.publish("pub", m).await;
        r.connect("sub").await;
        r.subscribe_many("sub", &[("rid/+", opts(Q1))], Some(42)).await;
        r.receive_and_ack("sub", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-3.3.4-9 with QoS 2: a message counts against the client's Receive Maximum
    /// until its PUBCOMP, not only its PUBREC.
    receive_maximum_qos2_until_pubcomp, V5_ONLY, [], |r| {
        let mut c = r.connect_packet("slow");
        c.properties.receive_maximum = Some(1);
        r.connect_with("slow", c).await;
        r.subscribe("slow", "r2/#", Q2).await;
        r.connect("pub").await;
        r.publish("pub", msg("r2/a", "1", Q2)).await;
        r.publish("pub", msg("r2/b", "2", Q2)).await;
        r.expect("slow", 1).await;
        r.send_pubrec_for_oldest("slow").await;
        r.expect("slow", 1).await;
        r.quiet("slow").await;
        r.send_pubcomp_for_released("slow").await;
        r.receive_and_ack("slow", 1).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT-4.7.1-1 / MQTT-3.1.3-? for the Will Topic: a wildcard in the Will Topic
    /// is refused (v5 CONNACK 0x90 Topic Name invalid or close).
    will_topic_with_wildcard, BOTH, [], |r| {
        let mut c = r.connect_packet("wild-will");
        c.will = Some(will("w/+", "x"));
        r.connect_with("wild-will", c).await;
        r.quiet_all().await;
    }
);

scenario!(
    /// 3.1.1 MQTT-3.1.2-11/13/15 (5.0 MQTT-3.1.2-11/13/15): with the Will Flag 0,
    /// Will QoS and Will Retain must be 0; and MQTT-2.2.1-3 (5.0 MQTT-2.2.1-3): a
    /// QoS 1 PUBLISH needs a non-zero Packet Identifier.
    malformed_will_flags_and_packet_id_zero, BOTH, [], |r| {
        let v5 = r.v5();
        let level = if v5 { 5 } else { 4 };
        let mut c = vec![0x10, 0, 0, 4, b'M', b'Q', b'T', b'T', level, 0x02 | 0x08, 0, 60];
        if v5 {
            c.push(0);
        }
        c.extend_from_slice(&[0, 1, b'x']);
        c[1] = (c.len() - 2) as u8;
        r.open("will-qos").await;
        r.send_raw("will-qos", "CONNECT Will QoS 1 without Will Flag", &c).await;
        r.expect("will-qos", 2).await;
        r.connect("id-zero").await;
        let p: &[u8] = if v5 { &[0x32, 6, 0, 1, b't', 0, 0, 0] } else { &[0x32, 5, 0, 1, b't', 0, 0] };
        r.send_raw("id-zero", "PUBLISH QoS 1 with Packet Identifier 0", p).await;
        r.expect("id-zero", 2).await;
    }
);

scenario!(
    /// MQTT-3.1.3-9 with MQTT-3.1.2-8: a delayed Will goes out when the session ends,
    /// if that comes first: at once with Session Expiry 0, after the Session Expiry
    /// Interval when it is shorter than the Will Delay, and at once when a Clean Start
    /// reconnection discards the session.
    will_delay_capped_by_session_end, V5_ONLY, [WILL_AT_SESSION_END_A, WILL_AT_SESSION_END_B], |r| {
        r.connect("watch").await;
        r.subscribe("watch", "wd/#", Q0).await;
        let cases: [(&str, u32, bool); 3] = [("no-session", 0, false), ("short-session", 1, false), ("restarts", 60, true)];
        for (id, expiry, restart) in cases {
            let mut c = r.connect_packet(id);
            c.clean_start = false;
            c.properties.session_expiry_interval = Some(expiry);
            let mut w = will(&format!("wd/{id}"), id);
            w.properties.will_delay_interval = Some(30);
            c.will = Some(w);
            r.connect_with(id, c.clone()).await;
            r.drop_connection(id).await;
            if restart {
                c.clean_start = true;
                c.will = None;
                r.connect_with(&format!("{id}-again"), c).await;
            }
            r.expect_within("watch", 1, Duration::from_secs(4)).await;
        }
        r.quiet_all().await;
    }
);

scenario!(
    /// MQTT 5.0 §4.8.2: a Shared Subscription filter is `$share/{ShareName}/{filter}`
    /// with a non-empty ShareName without `/`, `+` or `#` (MQTT-4.8.2-1/2) and a
    /// non-empty filter; anything else is refused.
    invalid_shared_filters, BOTH, [SHARED_NO_FILTER, SHARED_EMPTY_GROUP, SHARED_EMPTY_FILTER, SHARED_NO_FILTER_V5, SHARED_EMPTY_GROUP_V5, SHARED_EMPTY_FILTER_V5, SHARED_WILD_GROUP_V5], |r| {
        for (name, filter) in [("no-filter", "$share/g"), ("empty-group", "$share//t"), ("wild-group", "$share/g+/t"), ("empty-filter", "$share/g/")] {
            r.connect(name).await;
            r.subscribe_many(name, &[(filter, opts(Q0))], None).await;
            r.quiet(name).await;
        }
    }
);

scenario!(
    /// MQTT 3.1 §3.1 (CONNECT payload): "If the Client ID contains more than 23
    /// characters, the server responds to the CONNECT message with a CONNACK return
    /// code 2: Identifier Rejected" — and 3.1.1 / 5.0 servers may accept longer ones
    /// (MQTT-3.1.3-5).
    long_client_id, ALL, [], |r| {
        let id = "a-client-identifier-of-30-chars";
        let c = r.connect_packet(id);
        r.connect_with("long", c).await;
        r.quiet_all().await;
    }
);
