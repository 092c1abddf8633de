//! WebSocket: MQTT over `/mqtt`, broken frames on `/echo` and `/ws` (RFC 6455
//! and RFC 7692), and bad requests of the `/ws` JSON protocol.

use mqtt_proto::ProtocolVersion::V5;

use super::limits::{MAX_MESSAGE, MAX_PACKET, MAX_TOPIC_LEN, MAX_TOPIC_LEVELS, TOPIC_ALIAS_MAX};
use super::wire::{cat, close_payload, deflate, frame, levels, publish};
use super::{Case, Ev, Input, Transport, case};

use Ev::{Disconnect, JsonError, Open, WsClose};
use Input::{Json, MqttOverWs, WsDeflateFrames, WsFrames};

/// A PUBLISH in one binary message.
fn binary(packet: &[u8]) -> Vec<u8> {
    frame(0x82, packet)
}

/// MQTT over WebSocket (`/mqtt`).
#[rustfmt::skip]
pub(crate) fn mqtt_over_ws() -> Vec<Case> {
    let t = Transport::MqttWs;
    let none: &[u8] = &[];
    let alias = cat(&[&[0x23], &(TOPIC_ALIAS_MAX + 1).to_be_bytes()]);
    let big = vec![b'x'; MAX_PACKET + 1];
    vec![
        case("text frame on /mqtt", t, "MQTT-6.0.0-1", "CONNECT in a Text frame", MqttOverWs(false, frame(0x81, &super::wire::connect(V5, "text", 60))), vec![WsClose(1003)]),
        case("PUBLISH before CONNECT", t, "MQTT-3.1.0-1", "PUBLISH as the first packet", MqttOverWs(false, binary(&publish(0x30, b"a", None, Some(none), b"x"))), vec![WsClose(1002)]),
        case("no CONNECT in time", t, "broker.connect_timeout_ms", "the WebSocket opens, no CONNECT follows", MqttOverWs(false, vec![]), vec![WsClose(1000)]),
        case("PUBLISH QoS 3", t, "MQTT-3.3.1-4", "PUBLISH first byte `0x36`", MqttOverWs(true, binary(&publish(0x36, b"a", Some(1), Some(none), b"x"))), vec![Disconnect(0x81), WsClose(1002)]),
        case("Topic Alias out of range", t, "MQTT-3.3.2-9", "Topic Alias 9 (maximum 8)", MqttOverWs(true, binary(&publish(0x30, b"a", None, Some(&alias), b"x"))), vec![Disconnect(0x94), WsClose(1002)]),
        case("MQTT packet over the packet size limit", t, "broker.max_packet_size", "PUBLISH of 16 KiB + 1 in one message", MqttOverWs(true, binary(&publish(0x30, b"a", None, Some(none), &big))), vec![Disconnect(0x95), WsClose(1002)]),
        case("message over the message size limit", t, "http.max_message_size", "Binary message of 32 KiB + 1", MqttOverWs(true, binary(&vec![0u8; MAX_MESSAGE + 1])), vec![WsClose(1009)]),
        case("unmasked frame on /mqtt", t, "RFC 6455 §5.1", "Binary frame without mask", MqttOverWs(true, vec![0x82, 0x02, 0xC0, 0x00]), vec![WsClose(1002)]),
    ]
}

/// 2 MiB of zeros (64 times the message limit) deflated to about 2 KiB, made
/// once (deflate is slow in a debug build).
fn bomb() -> Vec<u8> {
    static BOMB: std::sync::OnceLock<Vec<u8>> = std::sync::OnceLock::new();
    BOMB.get_or_init(|| deflate(&vec![0u8; 2 * 1024 * 1024]))
        .clone()
}

/// Frames no conforming client sends.
#[rustfmt::skip]
pub(crate) fn frames() -> Vec<Case> {
    let e = Transport::Echo;
    let p1002 = || vec![WsClose(1002)];
    let p1007 = || vec![WsClose(1007)];
    let mut huge_len = vec![0x82, 0xFF, 0x80, 0, 0, 0, 0, 0, 0, 0];
    huge_len.extend_from_slice(&[1, 2, 3, 4]);
    let chunk = vec![b'a'; MAX_MESSAGE / 2];
    let fragmented_big = cat(&[&frame(0x02, &chunk), &frame(0x00, &chunk), &frame(0x80, &chunk)]);
    let bomb = bomb();
    let mut non_minimal = vec![0x81, 0xFE, 0x00, 0x05, 1, 2, 3, 4];
    non_minimal.extend(b"hello".iter().zip([1u8, 2, 3, 4].iter().cycle()).map(|(b, k)| b ^ k));
    vec![
        case("unmasked client frame", e, "RFC 6455 §5.1", "Text frame with MASK bit 0", WsFrames("/echo", vec![0x81, 0x02, b'h', b'i']), p1002()),
        case("reserved data opcode", e, "RFC 6455 §5.2", "opcode 0x3", WsFrames("/echo", frame(0x83, b"x")), p1002()),
        case("reserved control opcode", e, "RFC 6455 §5.2", "opcode 0xB", WsFrames("/echo", frame(0x8B, b"")), p1002()),
        case("RSV1 without an extension", e, "RFC 6455 §5.2", "Text frame with RSV1, nothing negotiated", WsFrames("/echo", frame(0xC1, b"hi")), p1002()),
        case("RSV2 set", e, "RFC 6455 §5.2", "Text frame with RSV2", WsFrames("/echo", frame(0xA1, b"hi")), p1002()),
        case("fragmented control frame", e, "RFC 6455 §5.5", "Ping with FIN 0", WsFrames("/echo", frame(0x09, b"")), p1002()),
        case("control frame over 125 bytes", e, "RFC 6455 §5.5", "Ping with 126 bytes", WsFrames("/echo", frame(0x89, &[0u8; 126])), p1002()),
        case("continuation without a start", e, "RFC 6455 §5.4", "Continuation frame first", WsFrames("/echo", frame(0x80, b"x")), p1002()),
        case("new message inside a fragmented one", e, "RFC 6455 §5.4", "Text FIN 0, then Text FIN 1", WsFrames("/echo", cat(&[&frame(0x01, b"a"), &frame(0x81, b"b")])), p1002()),
        case("64-bit length with the top bit set", e, "RFC 6455 §5.2", "payload length `0x8000000000000000`", WsFrames("/echo", huge_len), p1002()),
        case("length not in its shortest form", e, "RFC 6455 §5.2", "5-byte Text with a 16-bit length", WsFrames("/echo", non_minimal), p1002()),
        case("invalid UTF-8 in a text frame", e, "RFC 6455 §8.1", "Text `ff`", WsFrames("/echo", frame(0x81, &[0xFF])), p1007()),
        case("invalid UTF-8 across fragments", e, "RFC 6455 §8.1", "Text `f0 9f` + continuation `28`", WsFrames("/echo", cat(&[&frame(0x01, &[0xF0, 0x9F]), &frame(0x80, &[0x28])])), p1007()),
        case("truncated UTF-8 at the end", e, "RFC 6455 §8.1", "Text `e2 82` (FIN)", WsFrames("/echo", frame(0x81, &[0xE2, 0x82])), p1007()),
        case("invalid UTF-8 on /ws", Transport::WsJson, "RFC 6455 §8.1", "Text `c3 28`", WsFrames("/ws", frame(0x81, &[0xC3, 0x28])), p1007()),
        case("close code 1005 on the wire", e, "RFC 6455 §7.4.1", "Close 1005", WsFrames("/echo", frame(0x88, &close_payload(1005, b""))), p1002()),
        case("close code 999", e, "RFC 6455 §7.4.2", "Close 999", WsFrames("/echo", frame(0x88, &close_payload(999, b""))), p1002()),
        case("reserved close code 1004", e, "RFC 6455 §7.4.1", "Close 1004", WsFrames("/echo", frame(0x88, &close_payload(1004, b""))), p1002()),
        case("one-byte close payload", e, "RFC 6455 §5.5.1", "Close with payload `03`", WsFrames("/echo", frame(0x88, &[0x03])), p1002()),
        case("close reason not UTF-8", e, "RFC 6455 §5.5.1, §8.1", "Close 1000 reason `ff`", WsFrames("/echo", frame(0x88, &close_payload(1000, &[0xFF]))), p1007()),
        case("frame over the message size limit", e, "http.echo_max_message_size", "Binary frame of 32 KiB + 1", WsFrames("/echo", frame(0x82, &vec![0u8; MAX_MESSAGE + 1])), vec![WsClose(1009)]),
        case("fragmented message over the limit", e, "http.echo_max_message_size", "3 fragments of 16 KiB", WsFrames("/echo", fragmented_big), vec![WsClose(1009)]),
        case("message over the limit on /ws", Transport::WsJson, "http.max_message_size", "Text frame of 32 KiB + 1", WsFrames("/ws", frame(0x81, &vec![b' '; MAX_MESSAGE + 1])), vec![WsClose(1009)]),
        case("decompression bomb", e, "RFC 6455 §10.4, RFC 7692 §8, http.echo_max_message_size", "2 MiB of zeros deflated to 2 KiB, RSV1 Binary", WsDeflateFrames("/echo", frame(0xC2, &bomb)), vec![WsClose(1009)]),
        case("decompression bomb on /ws", Transport::WsJson, "RFC 6455 §10.4, RFC 7692 §8, http.max_message_size", "2 MiB of zeros deflated, RSV1 Text", WsDeflateFrames("/ws", frame(0xC1, &bomb)), vec![WsClose(1009)]),
        case("compressed control frame", e, "RFC 7692 §6.1", "Ping with RSV1 after negotiating deflate", WsDeflateFrames("/echo", frame(0xC9, b"")), p1002()),
        case("corrupt deflate data", e, "RFC 7692 §6.2", "RSV1 Binary frame of non-deflate bytes", WsDeflateFrames("/echo", frame(0xC2, &[0xFF; 16])), vec![WsClose(1007)]),
        case("peer never answers a Ping", e, "http.idle_ping_secs + http.pong_timeout_secs", "silence after the handshake, Pings unanswered", WsFrames("/echo", vec![]), vec![WsClose(1011)]),
    ]
}

/// `/ws` JSON requests that break the protocol (docs/ws-json-protocol.md): each
/// gets its error and the connection carries on.
#[rustfmt::skip]
pub(crate) fn json() -> Vec<Case> {
    let t = Transport::WsJson;
    let err = |code: &str| vec![JsonError(code.to_string()), Open];
    let long = "t".repeat(MAX_TOPIC_LEN + 1);
    let deep = String::from_utf8(levels(MAX_TOPIC_LEVELS + 1)).unwrap_or_default();
    let big = "x".repeat(MAX_PACKET + 1);
    vec![
        case("not JSON", t, "ws-json-protocol `bad_json`", "`{oops`", Json("{oops".into()), err("bad_json")),
        case("JSON that is not an object", t, "ws-json-protocol `bad_json`", "`[1,2]`", Json("[1,2]".into()), err("bad_json")),
        case("missing type", t, "ws-json-protocol `unknown_type`", "`{}`", Json("{}".into()), err("unknown_type")),
        case("unknown type", t, "ws-json-protocol `unknown_type`", "`{\"type\":\"shutdown\"}`", Json(r#"{"type":"shutdown"}"#.into()), err("unknown_type")),
        case("field of the wrong type", t, "ws-json-protocol `bad_json`", "publish with `\"topic\": 5`", Json(r#"{"type":"publish","topic":5}"#.into()), err("bad_json")),
        case("wildcard in a publish topic", t, "MQTT-4.7.0-1", "publish to `a/+`", Json(r#"{"type":"publish","topic":"a/+","payload":"x"}"#.into()), err("invalid_topic")),
        case("publish topic too long", t, "broker.max_topic_length", "publish to a 129-byte topic", Json(format!(r#"{{"type":"publish","topic":"{long}","payload":"x"}}"#)), err("invalid_topic")),
        case("publish topic too deep", t, "broker.max_topic_levels", "publish to a 9-level topic", Json(format!(r#"{{"type":"publish","topic":"{deep}","payload":"x"}}"#)), err("invalid_topic")),
        case("publish QoS 2", t, "ws-json-protocol `bad_json`", "`\"qos\": 2`", Json(r#"{"type":"publish","topic":"a","qos":2}"#.into()), err("bad_json")),
        case("payload not base64", t, "ws-json-protocol `invalid_payload`", "`\"encoding\":\"base64\"`, payload `!!`", Json(r#"{"type":"publish","topic":"a","payload":"!!","encoding":"base64"}"#.into()), err("invalid_payload")),
        case("payload over the packet size limit", t, "broker.max_packet_size", "16 KiB + 1 text payload", Json(format!(r#"{{"type":"publish","topic":"a","payload":"{big}"}}"#)), err("too_large")),
        case("invalid subscribe filter", t, "MQTT-4.7.1-1", "subscribe `a/#/b`", Json(r#"{"type":"subscribe","filter":"a/#/b"}"#.into()), err("invalid_topic")),
        case("subscribe filter too long", t, "broker.max_topic_length", "subscribe to a 129-byte filter", Json(format!(r#"{{"type":"subscribe","filter":"{long}"}}"#)), err("invalid_topic")),
        case("deeply nested JSON", t, "ws-json-protocol `bad_json`", "20,000 nested `[`", Json("[".repeat(20_000)), err("bad_json")),
        case("invalid shared subscription", t, "MQTT-4.8.2-1", "subscribe `$share/g`", Json(r#"{"type":"subscribe","filter":"$share/g"}"#.into()), err("invalid_topic")),
        case("Response Topic with a wildcard", t, "MQTT-3.3.2-14", "publish with `\"response_topic\":\"r/#\"`", Json(r#"{"type":"publish","topic":"a","response_topic":"r/#"}"#.into()), err("invalid_topic")),
        case("correlation data not base64", t, "ws-json-protocol `invalid_payload`", "`\"correlation_data\":\"**\"`", Json(r#"{"type":"publish","topic":"a","correlation_data":"**"}"#.into()), err("invalid_payload")),
        case("binary publish shorter than its topic", t, "ws-json-protocol binary frames", "Binary `00 00 09 61`", Input::JsonBinary(vec![0x00, 0x00, 0x09, b'a']), err("bad_json")),
        case("binary publish with QoS bits", t, "ws-json-protocol binary frames", "flags `0x02`", Input::JsonBinary(vec![0x02, 0x00, 0x01, b'a', b'x']), err("bad_json")),
    ]
}
