//! MQTT over TCP: malformed packets and protocol violations, 3.1.1 and 5.0.
//!
//! 3.1.1 has no way to say why: every violation closes the connection
//! (MQTT-4.8.0-1). 5.0 answers a connected client with a DISCONNECT whose
//! reason code names the problem (MQTT-4.13.1-1) and, before CONNACK, closes
//! without a word (MQTT-3.14.0-1: no DISCONNECT before a successful CONNACK).

use mqtt_proto::ProtocolVersion::{V3_1_1, V5};

use super::limits::{
    MAX_PACKET, MAX_SUBS, MAX_TOPIC_LEN, MAX_TOPIC_LEVELS, RECEIVE_MAX, TOPIC_ALIAS_MAX,
};
use super::wire::{
    cat, connect, connect_raw, levels, pkt, publish, s, subscribe, unsubscribe_v311, vbi,
};
use super::{Case, Ev, Input, Transport, case};

use Ev::{Disconnect, Open, TcpClose};
use Input::{MqttAfterConnect as After, MqttKeepAlive, MqttRaw as Raw};

/// A 5-byte Remaining Length (the maximum is 4 bytes, MQTT 5.0 §1.5.5 / 3.1.1 §2.2.3).
const FIVE_BYTE_LENGTH: [u8; 6] = [0x30, 0xff, 0xff, 0xff, 0xff, 0x7f];

/// A v3.1.1 CONNECT payload: client id `c`.
fn id_c() -> Vec<u8> {
    s(b"c")
}

/// 3.1.1 cases.
#[rustfmt::skip]
pub(crate) fn v311() -> Vec<Case> {
    let t = Transport::MqttV311;
    let closed = || vec![TcpClose];
    let big = vec![b'x'; MAX_PACKET + 1];
    let long_topic = vec![b't'; MAX_TOPIC_LEN + 1];
    let full_connect = connect(V3_1_1, "slow", 60);
    vec![
        case("PUBLISH before CONNECT", t, "MQTT-3.1.0-1", "PUBLISH as the first packet", Raw(publish(0x30, b"a", None, None, b"x")), closed()),
        case("reserved packet type 0", t, "§2.2.1, MQTT-4.8.0-1", "`00 00`", Raw(vec![0x00, 0x00]), closed()),
        case("CONNECT with fixed-header flags", t, "MQTT-2.2.2-2", "CONNECT first byte `0x11`", Raw(cat(&[&[0x11], &full_connect[1..]])), closed()),
        case("CONNECT with a 5-byte Remaining Length", t, "§2.2.3, MQTT-4.8.0-1", "`10 ff ff ff ff 7f`", Raw(vec![0x10, 0xff, 0xff, 0xff, 0xff, 0x7f]), closed()),
        case("wrong protocol name", t, "MQTT-3.1.2-1", "protocol name `MQTX`", Raw(connect_raw(b"MQTX", 4, 0x02, None, &id_c())), vec![Ev::ConnAckV3(0x01), TcpClose]),
        case("unsupported protocol level", t, "MQTT-3.1.2-2", "protocol level 6", Raw(connect_raw(b"MQTT", 6, 0x02, None, &id_c())), vec![Ev::ConnAckV3(0x01), TcpClose]),
        case("CONNECT reserved flag set", t, "MQTT-3.1.2-3", "connect flags `0x03`", Raw(connect_raw(b"MQTT", 4, 0x03, None, &id_c())), closed()),
        case("Will QoS 3", t, "MQTT-3.1.2-14", "Will flag, Will QoS 3", Raw(connect_raw(b"MQTT", 4, 0x1E, None, &cat(&[&id_c(), &s(b"w"), &s(b"m")]))), closed()),
        case("Will QoS without Will flag", t, "MQTT-3.1.2-11", "connect flags `0x0A`", Raw(connect_raw(b"MQTT", 4, 0x0A, None, &id_c())), closed()),
        case("password without user name", t, "MQTT-3.1.2-22", "connect flags `0x42`", Raw(connect_raw(b"MQTT", 4, 0x42, None, &cat(&[&id_c(), &s(b"pw")]))), closed()),
        case("Client Identifier not UTF-8", t, "MQTT-1.5.3-1", "client id `c3 28`", Raw(connect_raw(b"MQTT", 4, 0x02, None, &s(&[0xC3, 0x28]))), closed()),
        case("Client Identifier with U+0000", t, "MQTT-1.5.3-2", "client id `a\\0b`", Raw(connect_raw(b"MQTT", 4, 0x02, None, &s(b"a\0b"))), closed()),
        case("empty Client Identifier, Clean Session 0", t, "MQTT-3.1.3-8", "client id \"\", flags `0x00`", Raw(connect_raw(b"MQTT", 4, 0x00, None, &s(b""))), vec![Ev::ConnAckV3(0x02), TcpClose]),
        case("CONNECT over the packet size limit", t, "broker.max_packet_size", "CONNECT with a 16 KiB client id", Raw(connect_raw(b"MQTT", 4, 0x02, None, &s(&big))), closed()),
        case("slow CONNECT", t, "broker.connect_timeout_ms", "half a CONNECT, then silence", Raw(full_connect[..6].to_vec()), closed()),
        case("Will Topic with a wildcard", t, "MQTT-4.7.1-1 (the Will Topic is a Topic Name), MQTT-4.8.0-1", "Will Topic `a/#`", Raw(connect_raw(b"MQTT", 4, 0x06, None, &cat(&[&id_c(), &s(b"a/#"), &s(b"m")]))), closed()),
        case("User Name flag without a User Name", t, "MQTT-3.1.2-19", "flags `0x82`, payload ends after the client id", Raw(connect_raw(b"MQTT", 4, 0x82, None, &id_c())), closed()),
        case("second CONNECT", t, "MQTT-3.1.0-2", "CONNECT after CONNACK", After(connect(V3_1_1, "again", 60)), closed()),
        case("PUBLISH QoS 3", t, "MQTT-3.3.1-4", "PUBLISH first byte `0x36`", After(publish(0x36, b"a", Some(1), None, b"x")), closed()),
        case("wildcard in a Topic Name", t, "MQTT-3.3.2-2", "PUBLISH to `a/+`", After(publish(0x30, b"a/+", None, None, b"x")), closed()),
        case("Topic Name not UTF-8", t, "MQTT-1.5.3-1", "PUBLISH to `c3 28`", After(publish(0x30, &[0xC3, 0x28], None, None, b"x")), closed()),
        case("PUBLISH QoS 1 with packet id 0", t, "MQTT-2.3.1-1", "PUBLISH QoS 1, id 0", After(publish(0x32, b"a", Some(0), None, b"x")), closed()),
        case("SUBSCRIBE reserved flags", t, "MQTT-3.8.1-1", "SUBSCRIBE first byte `0x80`", After(subscribe(0x80, 1, None, &[(b"a", 0)])), closed()),
        case("SUBSCRIBE without filters", t, "MQTT-3.8.3-3", "SUBSCRIBE with an empty payload", After(subscribe(0x82, 1, None, &[])), closed()),
        case("SUBSCRIBE QoS 3", t, "MQTT-3.8.3-4", "requested QoS 3", After(subscribe(0x82, 1, None, &[(b"a", 3)])), closed()),
        case("Topic Filter with U+0000", t, "MQTT-4.7.3-2", "SUBSCRIBE `a\\0b`", After(subscribe(0x82, 1, None, &[(b"a\0b", 0)])), closed()),
        case("UNSUBSCRIBE reserved flags", t, "MQTT-3.10.1-1", "UNSUBSCRIBE first byte `0xA0`", After(unsubscribe_v311(0xA0, 1, &[b"a"])), closed()),
        case("PUBREL reserved flags", t, "MQTT-3.6.1-1", "PUBREL first byte `0x60`", After(pkt(0x60, &[0, 1])), closed()),
        case("DISCONNECT reserved flags", t, "MQTT-3.14.1-1", "DISCONNECT first byte `0xE1`", After(vec![0xE1, 0x00]), closed()),
        case("AUTH in 3.1.1", t, "§2.2.1 (type 15 reserved), MQTT-4.8.0-1", "`f0 00`", After(vec![0xF0, 0x00]), closed()),
        case("5-byte Remaining Length", t, "§2.2.3, MQTT-4.8.0-1", "`30 ff ff ff ff 7f`", After(FIVE_BYTE_LENGTH.to_vec()), closed()),
        case("PUBLISH over the packet size limit", t, "broker.max_packet_size", "PUBLISH of 16 KiB + 1", After(publish(0x30, b"a", None, None, &big)), closed()),
        case("Topic Name too long", t, "broker.max_topic_length", "PUBLISH to a 129-byte topic", After(publish(0x30, &long_topic, None, None, b"x")), closed()),
        case("invalid Topic Filter", t, "MQTT-4.7.1-2", "SUBSCRIBE `a/#/b`", After(subscribe(0x82, 1, None, &[(b"a/#/b", 0)])), closed()),
        case("silent past Keep Alive", t, "MQTT-3.1.2-24", "Keep Alive 1 s, then silence", MqttKeepAlive(1), closed()),
    ]
}

/// MQTT 5.0 property bytes: Topic Alias.
fn alias(n: u16) -> Vec<u8> {
    cat(&[&[0x23], &n.to_be_bytes()])
}

/// 5.0 cases.
#[rustfmt::skip]
pub(crate) fn v5() -> Vec<Case> {
    let t = Transport::MqttV5;
    let closed = || vec![TcpClose];
    let disc = |code: u8| vec![Disconnect(code), TcpClose];
    let big = vec![b'x'; MAX_PACKET + 1];
    let long_topic = vec![b't'; MAX_TOPIC_LEN + 1];
    let none: &[u8] = &[];
    let mut many: Vec<Vec<u8>> = (0..=MAX_SUBS).map(|i| format!("flood/{i}").into_bytes()).collect();
    many.truncate(MAX_SUBS + 1);
    let many_filters: Vec<(&[u8], u8)> = many.iter().map(|f| (f.as_slice(), 0u8)).collect();
    let mut flood_codes = vec![0x00; MAX_SUBS];
    flood_codes.push(0x97);
    let qos2: Vec<u8> = (1..=RECEIVE_MAX + 1)
        .flat_map(|id| publish(0x34, b"rm", Some(id), Some(none), b"x"))
        .collect();
    let mut rm_expect: Vec<Ev> = (0..RECEIVE_MAX).map(|_| Ev::PubRec(0x10)).collect();
    rm_expect.extend(disc(0x93));
    vec![
        case("PUBLISH before CONNECT", t, "MQTT-3.1.0-1", "PUBLISH as the first packet", Raw(publish(0x30, b"a", None, Some(none), b"x")), closed()),
        case("Receive Maximum 0 in CONNECT", t, "§3.1.2.11.3, MQTT-3.14.0-1", "CONNECT property Receive Maximum = 0", Raw(connect_raw(b"MQTT", 5, 0x02, Some(&[0x21, 0, 0]), &id_c())), closed()),
        case("duplicate CONNECT property", t, "§2.2.2.2, MQTT-3.14.0-1", "Session Expiry Interval twice", Raw(connect_raw(b"MQTT", 5, 0x02, Some(&[0x11, 0, 0, 0, 1, 0x11, 0, 0, 0, 2]), &id_c())), closed()),
        case("Will QoS 3", t, "MQTT-3.1.2-12", "Will flag, Will QoS 3", Raw(connect_raw(b"MQTT", 5, 0x1E, Some(none), &cat(&[&id_c(), &[0], &s(b"w"), &s(b"m")]))), closed()),
        case("Maximum Packet Size 0 in CONNECT", t, "§3.1.2.11.4, MQTT-3.14.0-1", "CONNECT property Maximum Packet Size = 0", Raw(connect_raw(b"MQTT", 5, 0x02, Some(&[0x27, 0, 0, 0, 0]), &id_c())), closed()),
        case("Request Problem Information 2", t, "§3.1.2.11.7, MQTT-3.14.0-1", "CONNECT property 0x17 = 2", Raw(connect_raw(b"MQTT", 5, 0x02, Some(&[0x17, 2]), &id_c())), closed()),
        case("Will Retain without Will flag", t, "MQTT-3.1.2-13", "connect flags `0x22`", Raw(connect_raw(b"MQTT", 5, 0x22, Some(none), &id_c())), closed()),
        case("Will Topic with a wildcard", t, "MQTT-4.7.0-1 (the Will Topic is a Topic Name), MQTT-3.14.0-1", "Will Topic `a/#`", Raw(connect_raw(b"MQTT", 5, 0x06, Some(none), &cat(&[&id_c(), &[0], &s(b"a/#"), &s(b"m")]))), closed()),
        case("unsupported Authentication Method", t, "MQTT-4.12.0-1", "Authentication Method `NOPE`", Raw(connect_raw(b"MQTT", 5, 0x02, Some(&cat(&[&[0x15], &s(b"NOPE")])), &id_c())), vec![Ev::ConnAck(0x8C), TcpClose]),
        case("second CONNECT", t, "MQTT-3.1.0-2", "CONNECT after CONNACK", After(connect(V5, "again", 60)), disc(0x82)),
        case("PUBLISH QoS 3", t, "MQTT-3.3.1-4", "PUBLISH first byte `0x36`", After(publish(0x36, b"a", Some(1), Some(none), b"x")), disc(0x81)),
        case("DUP on QoS 0", t, "MQTT-3.3.1-2", "PUBLISH first byte `0x38`", After(publish(0x38, b"a", None, Some(none), b"x")), disc(0x81)),
        case("wildcard in a Topic Name", t, "MQTT-3.3.2-2", "PUBLISH to `a/#`", After(publish(0x30, b"a/#", None, Some(none), b"x")), disc(0x82)),
        case("Topic Name not UTF-8", t, "MQTT-1.5.4-1", "PUBLISH to `c3 28`", After(publish(0x30, &[0xC3, 0x28], None, Some(none), b"x")), disc(0x81)),
        case("Topic Name with U+0000", t, "MQTT-1.5.4-2", "PUBLISH to `a\\0b`", After(publish(0x30, b"a\0b", None, Some(none), b"x")), disc(0x81)),
        case("PUBLISH QoS 1 with packet id 0", t, "MQTT-2.2.1-3", "PUBLISH QoS 1, id 0", After(publish(0x32, b"a", Some(0), Some(none), b"x")), disc(0x82)),
        case("Topic Alias 0", t, "MQTT-3.3.2-8", "PUBLISH with Topic Alias 0", After(publish(0x30, b"a", None, Some(&alias(0)), b"x")), disc(0x94)),
        case("Topic Alias out of range", t, "MQTT-3.3.2-9", "Topic Alias 9 (maximum 8)", After(publish(0x30, b"a", None, Some(&alias(TOPIC_ALIAS_MAX + 1)), b"x")), disc(0x94)),
        case("Topic Alias never set", t, "§3.3.2.3.4", "empty topic, Topic Alias 1 unset", After(publish(0x30, b"", None, Some(&alias(1)), b"x")), disc(0x82)),
        case("empty Topic Name without alias", t, "MQTT-3.3.2-1", "PUBLISH to \"\"", After(publish(0x30, b"", None, Some(none), b"x")), disc(0x82)),
        case("Response Topic with a wildcard", t, "MQTT-3.3.2-14", "PUBLISH with Response Topic `r/+`", After(publish(0x30, b"a", None, Some(&cat(&[&[0x08], &s(b"r/+")])), b"x")), disc(0x82)),
        case("User Property not UTF-8", t, "MQTT-1.5.4-1", "User Property key `c3 28`", After(publish(0x30, b"a", None, Some(&cat(&[&[0x26], &s(&[0xC3, 0x28]), &s(b"v")])), b"x")), disc(0x81)),
        case("PUBACK of an unknown packet id", t, "§4.3.2 (ignored)", "PUBACK id 77, nothing in flight", After(pkt(0x40, &[0, 77])), vec![Open]),
        case("Subscription Identifier from a client", t, "MQTT-3.3.4-6", "PUBLISH with property 0x0B", After(publish(0x30, b"a", None, Some(&[0x0B, 1]), b"x")), disc(0x82)),
        case("duplicate PUBLISH property", t, "§2.2.2.2", "Payload Format Indicator twice", After(publish(0x30, b"a", None, Some(&[0x01, 0, 0x01, 0]), b"x")), disc(0x82)),
        case("property not allowed in PUBLISH", t, "§2.2.2.2", "Session Expiry Interval in PUBLISH", After(publish(0x30, b"a", None, Some(&[0x11, 0, 0, 0, 1]), b"x")), disc(0x81)),
        case("Receive Maximum exceeded", t, "MQTT-3.3.4-7", "5 QoS 2 PUBLISH, no PUBREL (maximum 4)", After(qos2), rm_expect),
        case("Topic Name too long, QoS 1", t, "broker.max_topic_length", "QoS 1 PUBLISH to a 129-byte topic", After(publish(0x32, &long_topic, Some(7), Some(none), b"x")), vec![Ev::PubAck(0x90), Open]),
        case("too many topic levels, QoS 0", t, "broker.max_topic_levels", "PUBLISH to a 9-level topic", After(publish(0x30, &levels(MAX_TOPIC_LEVELS + 1), None, Some(none), b"x")), disc(0x90)),
        case("Topic Filter too long", t, "broker.max_topic_length", "SUBSCRIBE to a 129-byte filter", After(subscribe(0x82, 1, Some(none), &[(&long_topic, 0)])), vec![Ev::SubAck(vec![0x8F]), Open]),
        case("invalid Topic Filter", t, "MQTT-4.7.1-1", "SUBSCRIBE `a/#/b`", After(subscribe(0x82, 1, Some(none), &[(b"a/#/b", 0)])), disc(0x82)),
        case("too many subscriptions in one SUBSCRIBE", t, "broker.max_subscriptions_per_session", "21 filters (maximum 20)", After(subscribe(0x82, 1, Some(none), &many_filters)), vec![Ev::SubAck(flood_codes), Open]),
        case("No Local on a shared subscription", t, "MQTT-3.8.3-4", "`$share/g/a` with No Local", After(subscribe(0x82, 1, Some(none), &[(b"$share/g/a", 0x04)])), disc(0x82)),
        case("SUBSCRIBE reserved option bits", t, "MQTT-3.8.3-5", "options `0xC0`", After(subscribe(0x82, 1, Some(none), &[(b"a", 0xC0)])), disc(0x81)),
        case("SUBSCRIBE reserved flags", t, "MQTT-3.8.1-1", "SUBSCRIBE first byte `0x80`", After(subscribe(0x80, 1, Some(none), &[(b"a", 0)])), disc(0x81)),
        case("SUBSCRIBE without filters", t, "MQTT-3.8.3-2", "SUBSCRIBE with an empty payload", After(subscribe(0x82, 1, Some(none), &[])), disc(0x82)),
        case("UNSUBSCRIBE without filters", t, "MQTT-3.10.3-2", "UNSUBSCRIBE with an empty payload", After(pkt(0xA2, &[0, 1, 0])), disc(0x82)),
        case("PUBREL reserved flags", t, "MQTT-3.6.1-1", "PUBREL first byte `0x60`", After(pkt(0x60, &[0, 1])), disc(0x81)),
        case("PUBREL of an unknown packet id", t, "§4.3.3 (0x92)", "PUBREL id 99, never published", After(pkt(0x62, &[0, 99])), vec![Ev::PubComp(0x92), Open]),
        case("CONNACK from a client", t, "MQTT-4.13.1-1", "`20 03 00 00 00`", After(vec![0x20, 0x03, 0x00, 0x00, 0x00]), disc(0x82)),
        case("AUTH without an Authentication Method", t, "MQTT-4.12.0-7", "AUTH 0x19 after a plain CONNECT", After(pkt(0xF0, &[0x19, 0x00])), disc(0x82)),
        case("DISCONNECT reserved flags", t, "MQTT-3.14.1-1", "DISCONNECT first byte `0xE1`", After(vec![0xE1, 0x00]), disc(0x81)),
        case("Session Expiry on DISCONNECT after 0", t, "§3.14.2.2.2", "DISCONNECT with Session Expiry 60", After(pkt(0xE0, &cat(&[&[0x00], &vbi(5), &[0x11, 0, 0, 0, 60]]))), disc(0x82)),
        case("reserved packet type 0", t, "§2.1.2, MQTT-4.13.1-1", "`00 00`", After(vec![0x00, 0x00]), disc(0x81)),
        case("5-byte Remaining Length", t, "§1.5.5, MQTT-4.13.1-1", "`30 ff ff ff ff 7f`", After(FIVE_BYTE_LENGTH.to_vec()), disc(0x81)),
        case("PUBLISH over the packet size limit", t, "§3.2.2.3.6 (broker.max_packet_size)", "PUBLISH of 16 KiB + 1", After(publish(0x30, b"a", None, Some(none), &big)), disc(0x95)),
        case("silent past Keep Alive", t, "MQTT-3.1.2-22", "Keep Alive 1 s, then silence", MqttKeepAlive(1), disc(0x8D)),
    ]
}
