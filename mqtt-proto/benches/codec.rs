//! Criterion benchmarks of mqtt-proto against rumqttc's `mqttbytes` (v4 = 3.1.1 and
//! v5), measured in the same run on the same bytes: decode and encode of PUBLISH
//! (64 B without properties; 1 KiB with properties), CONNECT and SUBSCRIBE, and
//! topic matching. Ratios are recorded in BENCHMARKS.md.
//!
//! Encode times our packet as built from fields; for the PUBLISH with properties
//! also as decoded from the same bytes (`mqtt-proto received`: its property
//! section is copied as received), which is how rumqttc's value is obtained.
//!
//! Decoding takes a stream of `BATCH` identical packets off one `BytesMut` (as a
//! connection's read buffer would hold them, freshly written and so in cache: one
//! buffer is built per iteration, outside the timing); encoding writes one packet
//! into a buffer that is cleared, not reallocated, between iterations.
//!
//! Decode iterations are timed `TIMED_BUFFERS` buffers at a time: reading the
//! thread CPU clock is a system call (about 0.5 µs of CPU here), and timing each
//! 64-packet buffer on its own added ~8 ns to every packet of both libraries.
//!
//! Time is the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall
//! time: the machine is shared, and time spent descheduled would otherwise land
//! on whichever side happened to be running.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::hint::black_box;

use bytes::{Bytes, BytesMut};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use mqtt_proto::*;
use rumqttc::mqttbytes::v4 as r4;
use rumqttc::v5::mqttbytes::v5 as r5;

#[path = "../../bench/shared/thread_cpu.rs"]
mod thread_cpu;
use thread_cpu::ThreadCpuTime;

const BATCH: usize = 64;
/// Buffers built (outside the timing) and then decoded under one clock reading.
const TIMED_BUFFERS: u64 = 8;

type C = Criterion<ThreadCpuTime>;
const V4: ProtocolVersion = ProtocolVersion::V3_1_1;
const V5: ProtocolVersion = ProtocolVersion::V5;

fn id(v: u16) -> PacketId {
    PacketId::new(v).unwrap()
}

fn publish_64() -> Publish {
    Publish {
        qos: QoS::AtLeastOnce,
        packet_id: Some(id(42)),
        ..Publish::new("sensors/room-17/temperature", Bytes::from(vec![0x5a; 64]))
    }
}

fn publish_1k_props() -> Publish {
    let mut p = Publish::new(
        "fleet/truck-0042/telemetry/gps",
        Bytes::from(vec![0x42; 1024]),
    );
    p.qos = QoS::AtLeastOnce;
    p.packet_id = Some(id(7));
    p.properties = PublishProperties {
        payload_format_indicator: Some(true),
        message_expiry_interval: Some(3600),
        response_topic: Some("fleet/truck-0042/reply".into()),
        correlation_data: Some(Bytes::from_static(b"0123456789abcdef")),
        content_type: Some("application/json".into()),
        user_properties: vec![
            UserProperty::new("source", "gateway-3"),
            UserProperty::new("schema", "v2"),
        ],
        ..PublishProperties::default()
    }
    .into();
    p
}

fn connect(v: ProtocolVersion) -> Connect {
    let mut c = Connect::new(v, "client-0123456789");
    c.keep_alive = 60;
    c.username = Some("alice".into());
    c.password = Some(Bytes::from_static(b"correct horse battery staple"));
    c.will = Some(Will {
        topic: "clients/client-0123456789/status".into(),
        payload: Bytes::from_static(b"offline"),
        qos: QoS::AtLeastOnce,
        retain: true,
        properties: WillProperties::default(),
    });
    if v.is_v5() {
        c.properties.session_expiry_interval = Some(300);
        c.properties.receive_maximum = Some(100);
        c.properties.maximum_packet_size = Some(1 << 20);
    }
    c
}

fn subscribe(v: ProtocolVersion) -> Subscribe {
    let mut s = Subscribe {
        packet_id: id(9),
        properties: SubscribeProperties::default().into(),
        subscriptions: vec![
            Subscription::new("sensors/+/temperature", QoS::AtLeastOnce),
            Subscription::new("fleet/#", QoS::AtMostOnce),
            Subscription::new("alerts/critical", QoS::ExactlyOnce),
        ],
    };
    if v.is_v5() {
        s.properties.subscription_identifier = Some(12);
    }
    s
}

fn wire(v: ProtocolVersion, p: &Packet) -> Vec<u8> {
    let mut b = BytesMut::new();
    p.encode(v, &mut b).unwrap();
    b.to_vec()
}

fn stream(one: &[u8]) -> BytesMut {
    let mut b = BytesMut::with_capacity(one.len() * BATCH);
    for _ in 0..BATCH {
        b.extend_from_slice(one);
    }
    b
}

/// The cases: a name, the version and our packet.
fn cases() -> Vec<(&'static str, ProtocolVersion, Packet)> {
    vec![
        ("publish_64B/v311", V4, Packet::Publish(publish_64())),
        ("publish_64B/v5", V5, Packet::Publish(publish_64())),
        (
            "publish_1KiB_props/v5",
            V5,
            Packet::Publish(publish_1k_props()),
        ),
        ("connect/v311", V4, Packet::Connect(Box::new(connect(V4)))),
        ("connect/v5", V5, Packet::Connect(Box::new(connect(V5)))),
        ("subscribe/v311", V4, Packet::Subscribe(subscribe(V4))),
        ("subscribe/v5", V5, Packet::Subscribe(subscribe(V5))),
    ]
}

fn decode(c: &mut C) {
    for (name, v, packet) in cases() {
        let bytes = wire(v, &packet);
        let mut g = c.benchmark_group(format!("decode/{name}"));
        g.throughput(Throughput::Elements(BATCH as u64));
        let decoder = Decoder::new(v);
        let is_connect = matches!(packet, Packet::Connect(_));
        g.bench_function("mqtt-proto", |b| {
            b.iter_batched_ref(
                || stream(&bytes),
                |buf| {
                    for _ in 0..BATCH {
                        if is_connect {
                            black_box(ConnectDecoder::new().decode(buf).unwrap().unwrap());
                        } else {
                            black_box(decoder.decode(buf).unwrap().unwrap());
                        }
                    }
                },
                BatchSize::NumIterations(TIMED_BUFFERS),
            )
        });
        g.bench_function("rumqttc", |b| {
            b.iter_batched_ref(
                || stream(&bytes),
                |buf| {
                    for _ in 0..BATCH {
                        if v.is_v5() {
                            black_box(r5::Packet::read(buf, None).unwrap());
                        } else {
                            black_box(r4::read(buf, usize::MAX).unwrap());
                        }
                    }
                },
                BatchSize::NumIterations(TIMED_BUFFERS),
            )
        });
        g.finish();
    }
}

fn r4_write(p: &r4::Packet, buf: &mut BytesMut) -> usize {
    match p {
        r4::Packet::Publish(p) => p.write(buf),
        r4::Packet::Connect(p) => p.write(buf),
        r4::Packet::Subscribe(p) => p.write(buf),
        other => panic!("not benchmarked: {other:?}"),
    }
    .unwrap()
}

/// Gives rumqttc's PUBLISH (decoded from our bytes: its payload is a slice of
/// that buffer) our packet's payload, the same bytes at the same address: both
/// encoders then copy from the same place, and the cost of that copy, which
/// depends on the source's alignment relative to the output buffer (1 KiB:
/// ~1.5 ns apart between the two placements here), is the same on both sides.
fn share_payload(theirs: &mut Bytes, ours: &Publish) {
    assert_eq!(theirs[..], ours.payload[..]);
    *theirs = ours.payload.clone();
}

/// rumqttc's bytes are the same packet as ours: same length, and (but for
/// CONNECT, which only the CONNECT-phase decoder reads) our decoder reads them
/// as our packet. (The bytes themselves may differ: rumqttc writes a PUBLISH's
/// Content Type after its User Properties, we write it before.)
fn same_packet(name: &str, v: ProtocolVersion, ours: &Packet, theirs: &[u8]) {
    assert_eq!(
        theirs.len(),
        wire(v, ours).len(),
        "{name}: rumqttc encodes a packet of the same size"
    );
    if !matches!(ours, Packet::Connect(_)) {
        let decoded = decode_packet(v, theirs).unwrap();
        assert_eq!(&decoded, ours, "{name}: rumqttc encodes the same packet");
    }
}

fn encode(c: &mut C) {
    for (name, v, packet) in cases() {
        let bytes = wire(v, &packet);
        // rumqttc's own value of the same packet, obtained by decoding the bytes.
        let mut g = c.benchmark_group(format!("encode/{name}"));
        g.throughput(Throughput::Elements(1));
        let mut buf = BytesMut::with_capacity(bytes.len() * 2);
        g.bench_function("mqtt-proto", |b| {
            b.iter(|| {
                buf.clear();
                black_box(packet.encode(v, &mut buf).unwrap())
            })
        });
        if let Packet::Publish(p) = &packet {
            g.bench_function("mqtt-proto header-only (fan-out)", |b| {
                b.iter(|| {
                    buf.clear();
                    black_box(p.encode_header(v, &mut buf).unwrap())
                })
            });
            if !p.properties.is_empty() {
                // The packet as decoded from the same bytes, as rumqttc's value below
                // is: its properties are the received section, copied as they are
                // (what a broker forwarding them unchanged writes). Not through
                // `Decoder::decode`: a second call site of it in this binary made
                // LLVM stop inlining it into the decode benchmark (64 B PUBLISH
                // decode 32 -> 56 ns).
                let received = decode_packet(v, &bytes).unwrap();
                assert!(matches!(&received, Packet::Publish(r) if r.properties.is_received()));
                g.bench_function("mqtt-proto received", |b| {
                    b.iter(|| {
                        buf.clear();
                        black_box(received.encode(v, &mut buf).unwrap())
                    })
                });
            }
        }
        if v.is_v5() {
            let mut theirs = r5::Packet::read(&mut BytesMut::from(&bytes[..]), None).unwrap();
            if let (r5::Packet::Publish(t), Packet::Publish(p)) = (&mut theirs, &packet) {
                share_payload(&mut t.payload, p);
            }
            let mut check = BytesMut::new();
            theirs.write(&mut check).unwrap();
            same_packet(name, v, &packet, &check);
            g.bench_function("rumqttc", |b| {
                b.iter(|| {
                    buf.clear();
                    black_box(theirs.write(&mut buf).unwrap())
                })
            });
        } else {
            let mut theirs = r4::read(&mut BytesMut::from(&bytes[..]), usize::MAX).unwrap();
            if let (r4::Packet::Publish(t), Packet::Publish(p)) = (&mut theirs, &packet) {
                share_payload(&mut t.payload, p);
            }
            let mut check = BytesMut::new();
            r4_write(&theirs, &mut check);
            same_packet(name, v, &packet, &check);
            g.bench_function("rumqttc", |b| {
                b.iter(|| {
                    buf.clear();
                    black_box(r4_write(&theirs, &mut buf))
                })
            });
        }
        g.finish();
    }
}

fn matching(c: &mut C) {
    let pairs: Vec<(&str, &str)> = vec![
        ("sensors/+/temperature", "sensors/room-17/temperature"),
        ("sensors/#", "sensors/room-17/temperature"),
        ("fleet/+/telemetry/gps", "fleet/truck-0042/telemetry/speed"),
        ("a/b/c/d/e/f", "a/b/c/d/e/f"),
        ("#", "$SYS/broker/uptime"),
        ("home/kitchen/+", "home/livingroom/lamp"),
    ];
    let mut g = c.benchmark_group("topic_match/6_pairs");
    g.throughput(Throughput::Elements(pairs.len() as u64));
    g.bench_function("mqtt-proto", |b| {
        b.iter(|| {
            for (f, n) in &pairs {
                black_box(topic::matches(black_box(f), black_box(n)));
            }
        })
    });
    g.bench_function("rumqttc", |b| {
        b.iter(|| {
            for (f, n) in &pairs {
                black_box(rumqttc::mqttbytes::matches(black_box(n), black_box(f)));
            }
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .with_measurement(ThreadCpuTime)
        .warm_up_time(std::time::Duration::from_millis(500))
        .measurement_time(std::time::Duration::from_secs(2))
        .sample_size(50);
    targets = decode, encode, matching
}
criterion_main!(benches);
