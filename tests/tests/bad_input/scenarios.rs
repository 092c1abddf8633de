//! Inputs that are bad by their pace or volume rather than their bytes: a
//! slowloris handshake, clients that never read, a flood of subscriptions,
//! connection storms. Each scenario checks its own properties and reports them
//! as [`Ev::Holds`] (or [`Ev::Unexpected`] with what it saw instead).

use std::time::Duration;

use bytes::BytesMut;
use mqtt_proto::{Decoder, Packet, ProtocolVersion};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::limits::{MAX_SUBS, QUEUE_BYTES, QUEUE_MESSAGES};
use super::observe::{self, WAIT, json_events, read_frame};
use super::storms;
use super::wire::{self, frame, publish, subscribe};
use super::{Case, Ctx, Ev, Input, Outcome, Transport, case};

use Ev::{Holds, Open};

/// Turns a check into an event.
pub(crate) fn check(ok: bool, holds: &'static str, otherwise: String) -> Ev {
    if ok {
        Holds(holds)
    } else {
        Ev::Unexpected(otherwise)
    }
}

/// The scenarios.
#[rustfmt::skip]
pub(crate) fn scenarios() -> Vec<Case> {
    vec![
        case("slowloris handshake", Transport::Http, "http.head_timeout_ms", "request head trickled a byte per 100 ms, never finished", Input::Scenario(slowloris), vec![Ev::Http(408)]),
        case("MQTT subscriber that never reads", Transport::MqttV5, "broker.queue_max_messages, broker.queue_max_bytes", "640 QoS 0 PUBLISH of 15 KiB to a subscriber with a 4 KiB receive window that never reads",
            Input::Scenario(never_reads_mqtt),
            vec![Holds("the publisher is not stalled"), Holds("the session queue stays within 100 messages / 256 KiB"), Holds("the excess is dropped and counted (queue_full)"), Open]),
        case("/ws subscriber that never reads", Transport::WsJson, "broker.queue_max_messages, ws-json-protocol slow consumers", "640 messages of 15 KiB to a /ws subscriber that never reads",
            Input::Scenario(never_reads_ws),
            vec![Holds("the publisher is not stalled"), Holds("the session queue stays within 100 messages / 256 KiB"), Holds("the excess is dropped and counted (queue_full)"), Open]),
        case("/mqtt subscriber that never reads", Transport::MqttWs, "broker.queue_max_messages, broker.queue_max_bytes", "640 QoS 0 PUBLISH of 15 KiB to a /mqtt subscriber with a 4 KiB receive window that never reads",
            Input::Scenario(never_reads_mqtt_ws),
            vec![Holds("the publisher is not stalled"), Holds("the session queue stays within 100 messages / 256 KiB"), Holds("the excess is dropped and counted (queue_full)"), Open]),
        case("flood of subscriptions", Transport::MqttV5, "broker.max_subscriptions_per_session", "200 pipelined SUBSCRIBE packets, one new filter each (maximum 20)",
            Input::Scenario(subscription_flood),
            vec![Holds("the first 20 are granted, the other 180 get SUBACK 0x97"), Holds("the server holds at most 20 subscriptions for the client"), Open]),
        case("flood of /ws subscriptions", Transport::WsJson, "broker.max_subscriptions_per_session", "25 pipelined subscribe requests (maximum 20)",
            Input::Scenario(ws_subscription_flood),
            vec![Holds("the first 20 are subscribed, the other 5 get `quota_exceeded`"), Open]),
        case("PUBLISH trickled past the Keep Alive", Transport::MqttV5, "MQTT-3.1.2-22", "Keep Alive 1 s, then a PUBLISH a byte per 300 ms",
            Input::Scenario(trickle), vec![Ev::Disconnect(0x8D), Ev::TcpClose]),
        case("MQTT connection storm from one IP", Transport::MqttV5, "limits.max_connections_per_ip", "60 connections from 127.0.0.2 (maximum 40)",
            Input::Scenario(storms::storm_mqtt),
            vec![Holds("the first 40 get CONNACK 0x00"), Holds("the other 20 are closed without a byte and counted"), Holds("a connection is accepted again once they have left")]),
        case("HTTP connection storm from one IP", Transport::Http, "limits.max_connections_per_ip", "40 open WebSockets from 127.0.0.3, then a request",
            Input::Scenario(storms::storm_http), vec![Holds("40 WebSockets open"), Ev::Http(503)]),
        case("connect/close churn", Transport::MqttV5, "no leak", "300 connections opened and dropped at once, half mid-CONNECT",
            Input::Scenario(storms::churn), vec![Holds("the connection gauge returns to where it was")]),
    ]
}

/// Sends a request head a byte at a time, slower than the head timeout allows.
fn slowloris(ctx: Ctx) -> Outcome {
    Box::pin(async move {
        let Ok(stream) = TcpStream::connect(ctx.http).await else {
            return vec![Ev::Unexpected("connect".into())];
        };
        let (mut rd, mut wr) = stream.into_split();
        let trickle = tokio::spawn(async move {
            let head = b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
            for b in head {
                if wr.write_all(&[*b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let mut response = Vec::new();
        let read = tokio::time::timeout(WAIT, rd.read_to_end(&mut response)).await;
        trickle.abort();
        let text = String::from_utf8_lossy(&response);
        match text.split_whitespace().nth(1).and_then(|s| s.parse().ok()) {
            Some(status) if read.is_ok() => vec![Ev::Http(status)],
            _ => vec![Ev::Unexpected(format!("{text:?}"))],
        }
    })
}

/// A v5 TCP client that sends CONNECT and reads its CONNACK; the rest is up to
/// the caller. `rcvbuf`: the socket's receive buffer.
async fn raw_v5(
    ctx: &Ctx,
    id: &str,
    keep_alive: u16,
    rcvbuf: Option<u32>,
) -> std::io::Result<(TcpStream, BytesMut)> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    if let Some(size) = rcvbuf {
        socket.set_recv_buffer_size(size)?;
    }
    let mut stream = socket.connect(ctx.mqtt).await?;
    stream.set_nodelay(true)?;
    stream
        .write_all(&wire::connect(ProtocolVersion::V5, id, keep_alive))
        .await?;
    let mut buf = BytesMut::new();
    let decoder = Decoder::new(ProtocolVersion::V5);
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(Packet::ConnAck(a))) if !a.reason_code.is_error() => return Ok((stream, buf)),
            Ok(Some(p)) => return Err(std::io::Error::other(format!("{p:?}"))),
            Ok(None) => {}
            Err(e) => return Err(std::io::Error::other(e.to_string())),
        }
        if tokio::time::timeout(WAIT, stream.read_buf(&mut buf)).await?? == 0 {
            return Err(std::io::Error::other("closed"));
        }
    }
}

/// Publishes `count` QoS 0 messages of `size` bytes to `topic`, then a QoS 1
/// one elsewhere; true if the server acknowledged it (every PUBLISH before it
/// was routed, and the publisher was never blocked).
async fn flood(ctx: &Ctx, topic: &str, count: usize, size: usize) -> bool {
    let mut publisher = realtime_tests::mqtt::TestClient::connect(
        ctx.mqtt,
        ProtocolVersion::V5,
        &format!("flood-{topic}"),
    )
    .await;
    let payload = vec![b'x'; size];
    let mut batch = Vec::new();
    for _ in 0..count {
        batch.extend(publish(0x30, topic.as_bytes(), None, Some(&[]), &payload));
        if batch.len() > 256 * 1024 {
            publisher.try_send_raw(&batch).await;
            batch.clear();
        }
    }
    publisher.try_send_raw(&batch).await;
    let acked = tokio::time::timeout(
        WAIT,
        publisher.publish("flood/sync", b"", mqtt_proto::QoS::AtLeastOnce, false),
    )
    .await;
    publisher.disconnect().await;
    acked.is_ok()
}

/// The session's queue against the configured bounds.
fn queue_within_bounds(ctx: &Ctx, client_id: &str) -> Ev {
    let Some(session) = ctx.broker.session(client_id) else {
        return Ev::Unexpected(format!("no session {client_id}"));
    };
    let (messages, bytes) = {
        let st = session.lock();
        (st.outbox.queued(), st.outbox.queued_bytes())
    };
    check(
        messages <= QUEUE_MESSAGES && bytes <= QUEUE_BYTES,
        "the session queue stays within 100 messages / 256 KiB",
        format!("queue of {messages} messages / {bytes} bytes"),
    )
}

/// Floods `topic` (640 QoS 0 PUBLISH of 15 KiB) towards a subscriber that does
/// not read, whose session is `client_id`; checks the publisher is served, the
/// session queue stays bounded and the excess is dropped and counted.
async fn flood_a_non_reader(ctx: &Ctx, topic: &str, client_id: Option<&str>) -> Vec<Ev> {
    let dropped = ctx.broker.metrics.dropped_queue_full.get();
    let mut evs = vec![check(
        // 9.4 MiB: more than the subscriber's socket can take in any case (the server's
        // send buffer autotunes up to `tcp_wmem`'s 4 MiB), so the queue must overflow.
        // 256 (3.75 MiB) left 35-40 to drop, and none on a loaded machine once.
        flood(ctx, topic, 640, 15 * 1024).await,
        "the publisher is not stalled",
        "flood not acknowledged".into(),
    )];
    match client_id {
        Some(id) => evs.push(queue_within_bounds(ctx, id)),
        None => evs.push(Ev::Unexpected("cannot find the session".into())),
    }
    let now_dropped = ctx.broker.metrics.dropped_queue_full.get() - dropped;
    evs.push(check(
        now_dropped > 0,
        "the excess is dropped and counted (queue_full)",
        "nothing dropped: the server buffered everything".into(),
    ));
    evs
}

fn never_reads_mqtt(ctx: Ctx) -> Outcome {
    Box::pin(async move {
        let (mut sub, mut buf) = match raw_v5(&ctx, "never-reads", 60, Some(4096)).await {
            Ok(pair) => pair,
            Err(e) => return vec![Ev::Unexpected(format!("subscriber: {e}"))],
        };
        let _ = sub
            .write_all(&subscribe(0x82, 1, Some(&[]), &[(b"slow/#", 0)]))
            .await;
        let mut evs = flood_a_non_reader(&ctx, "slow/x", Some("never-reads")).await;
        // It reads at last: what is left arrives, and the connection works.
        let _ = sub.write_all(&[0xC0, 0x00]).await;
        let decoder = Decoder::new(ProtocolVersion::V5);
        let deadline = tokio::time::Instant::now() + WAIT * 2;
        loop {
            while let Ok(Some(p)) = decoder.decode(&mut buf) {
                if matches!(p, Packet::PingResp) {
                    evs.push(Open);
                    return evs;
                }
            }
            match tokio::time::timeout_at(deadline, sub.read_buf(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                other => {
                    evs.push(Ev::Unexpected(format!("no PINGRESP: {other:?}")));
                    return evs;
                }
            }
        }
    })
}

/// A WebSocket on `path` from a socket with a 4 KiB receive buffer (a peer
/// that will stop reading), after the 101.
async fn small_window_ws(ctx: &Ctx, path: &str, extra: &str) -> Option<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4().ok()?;
    socket.set_recv_buffer_size(4096).ok()?;
    let mut stream = socket.connect(ctx.http).await.ok()?;
    let request = wire::upgrade_request(ctx.http, path, extra);
    stream.write_all(request.as_bytes()).await.ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).await.ok()?;
        head.push(byte[0]);
    }
    head.starts_with(b"HTTP/1.1 101").then_some(stream)
}

fn never_reads_ws(ctx: Ctx) -> Outcome {
    Box::pin(async move {
        let Some(mut stream) = small_window_ws(&ctx, "/ws", "").await else {
            return vec![Ev::Unexpected("no WebSocket".into())];
        };
        let mut buf = Vec::new();
        let _ = read_frame(&mut stream, &mut buf).await;
        let _ = stream
            .write_all(&frame(
                0x81,
                br#"{"type":"subscribe","id":1,"filter":"slowws/#"}"#,
            ))
            .await;
        if read_frame(&mut stream, &mut buf).await.is_none() {
            return vec![Ev::Unexpected("no answer to subscribe".into())];
        }
        let client_id = ctx
            .broker
            .sessions()
            .into_iter()
            .find(|s| {
                s.client_id.as_str().starts_with("auto-")
                    && s.lock()
                        .subscriptions
                        .keys()
                        .any(|f| f.as_str() == "slowws/#")
            })
            .map(|s| s.client_id.as_str().to_string());
        let mut evs = flood_a_non_reader(&ctx, "slowws/x", client_id.as_deref()).await;
        let _ = stream
            .write_all(&frame(0x81, br#"{"type":"ping","id":"still-open"}"#))
            .await;
        let mut rest = json_events(&mut stream, &mut buf).await;
        rest.retain(|e| !matches!(e, Ev::Unexpected(m) if m.starts_with("message")));
        evs.extend(rest);
        evs
    })
}

fn subscription_flood(ctx: Ctx) -> Outcome {
    Box::pin(async move {
        let (mut c, mut buf) = match raw_v5(&ctx, "sub-flood", 60, None).await {
            Ok(pair) => pair,
            Err(e) => return vec![Ev::Unexpected(format!("client: {e}"))],
        };
        let mut all = Vec::new();
        for i in 1..=200u16 {
            all.extend(subscribe(
                0x82,
                i,
                Some(&[]),
                &[(format!("sf/{i}").as_bytes(), 0)],
            ));
        }
        all.extend([0xC0, 0x00]);
        let _ = c.write_all(&all).await;
        let decoder = Decoder::new(ProtocolVersion::V5);
        let mut codes = Vec::new();
        let mut evs = Vec::new();
        let mut open = false;
        let deadline = tokio::time::Instant::now() + WAIT;
        'read: loop {
            while let Ok(Some(p)) = decoder.decode(&mut buf) {
                match p {
                    Packet::SubAck(s) => codes.extend(s.reason_codes.iter().map(|&r| u8::from(r))),
                    Packet::PingResp => {
                        open = true;
                        break 'read;
                    }
                    other => evs.push(Ev::Unexpected(format!("{:?}", other.packet_type()))),
                }
            }
            match tokio::time::timeout_at(deadline, c.read_buf(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => break,
            }
        }
        let granted = codes.iter().take_while(|&&c| c == 0).count();
        let refused = codes.iter().skip(granted).filter(|&&c| c == 0x97).count();
        evs.push(check(
            granted == MAX_SUBS && refused == 200 - MAX_SUBS,
            "the first 20 are granted, the other 180 get SUBACK 0x97",
            format!("{granted} granted, {refused} 0x97, of {}", codes.len()),
        ));
        let held = ctx
            .broker
            .session("sub-flood")
            .map(|s| s.lock().subscriptions.len())
            .unwrap_or(usize::MAX);
        evs.push(check(
            held <= MAX_SUBS,
            "the server holds at most 20 subscriptions for the client",
            format!("{held} held"),
        ));
        evs.push(if open { Open } else { Ev::TcpClose });
        evs
    })
}

fn ws_subscription_flood(ctx: Ctx) -> Outcome {
    Box::pin(async move {
        let (mut stream, _) = wire::open_ws(ctx.http, "/ws", "").await;
        let mut buf = Vec::new();
        let _ = read_frame(&mut stream, &mut buf).await;
        let mut all = Vec::new();
        for i in 0..25 {
            let req = format!(r#"{{"type":"subscribe","filter":"wsf/{i}"}}"#);
            all.extend(frame(0x81, req.as_bytes()));
        }
        all.extend(frame(0x81, br#"{"type":"ping","id":"still-open"}"#));
        let _ = stream.write_all(&all).await;
        let (mut subscribed, mut quota, mut other) = (0, 0, Vec::new());
        loop {
            let Some(f) = read_frame(&mut stream, &mut buf).await else {
                return vec![Ev::Unexpected(format!(
                    "closed after {subscribed} subscribed, {quota} refused"
                ))];
            };
            let v: serde_json::Value = serde_json::from_slice(&f.payload).unwrap_or_default();
            match (v["type"].as_str(), v["code"].as_str()) {
                (Some("subscribed"), _) => subscribed += 1,
                (Some("error"), Some("quota_exceeded")) => quota += 1,
                (Some("pong"), _) => break,
                _ => other.push(v.to_string()),
            }
        }
        vec![
            check(
                subscribed == MAX_SUBS && quota == 25 - MAX_SUBS && other.is_empty(),
                "the first 20 are subscribed, the other 5 get `quota_exceeded`",
                format!("{subscribed} subscribed, {quota} refused, also {other:?}"),
            ),
            Open,
        ]
    })
}

fn trickle(ctx: Ctx) -> Outcome {
    Box::pin(async move {
        let (stream, mut buf) = match raw_v5(&ctx, "trickle", 1, None).await {
            Ok(pair) => pair,
            Err(e) => return vec![Ev::Unexpected(format!("client: {e}"))],
        };
        let (mut rd, mut wr) = stream.into_split();
        let writer = tokio::spawn(async move {
            for b in publish(0x30, b"trickle", None, Some(&[]), &[b'x'; 100]) {
                if wr.write_all(&[b]).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        let decoder = Decoder::new(ProtocolVersion::V5);
        let mut evs = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            while let Ok(Some(p)) = decoder.decode(&mut buf) {
                evs.push(observe::packet_event(&p, ProtocolVersion::V5));
            }
            match tokio::time::timeout_at(deadline, rd.read_buf(&mut buf)).await {
                Ok(Ok(n)) if n > 0 => {}
                Ok(_) => {
                    evs.push(Ev::TcpClose);
                    break;
                }
                Err(_) => {
                    evs.push(Ev::Unexpected("still open".into()));
                    break;
                }
            }
        }
        writer.abort();
        evs
    })
}

fn never_reads_mqtt_ws(ctx: Ctx) -> Outcome {
    Box::pin(async move {
        let extra = "Sec-WebSocket-Protocol: mqtt\r\n";
        let Some(mut stream) = small_window_ws(&ctx, "/mqtt", extra).await else {
            return vec![Ev::Unexpected("no WebSocket".into())];
        };
        let decoder = Decoder::new(ProtocolVersion::V5);
        let (mut frames, mut mqtt) = (Vec::new(), BytesMut::new());
        let connect = wire::connect(ProtocolVersion::V5, "never-reads-ws", 60);
        let subscribe = subscribe(0x82, 1, Some(&[]), &[(b"slowmw/#", 0)]);
        let _ = stream.write_all(&frame(0x82, &connect)).await;
        let _ = stream.write_all(&frame(0x82, &subscribe)).await;
        let mut acks = 0;
        while acks < 2 {
            let Some(f) = read_frame(&mut stream, &mut frames).await else {
                return vec![Ev::Unexpected("no CONNACK and SUBACK".into())];
            };
            mqtt.extend_from_slice(&f.payload);
            while let Ok(Some(_)) = decoder.decode(&mut mqtt) {
                acks += 1;
            }
        }
        let mut evs = flood_a_non_reader(&ctx, "slowmw/x", Some("never-reads-ws")).await;
        let _ = stream.write_all(&frame(0x82, &[0xC0, 0x00])).await;
        loop {
            let Some(f) = read_frame(&mut stream, &mut frames).await else {
                evs.push(Ev::Unexpected("no PINGRESP".into()));
                return evs;
            };
            mqtt.extend_from_slice(&f.payload);
            while let Ok(Some(p)) = decoder.decode(&mut mqtt) {
                if matches!(p, Packet::PingResp) {
                    evs.push(Open);
                    return evs;
                }
            }
        }
    })
}
