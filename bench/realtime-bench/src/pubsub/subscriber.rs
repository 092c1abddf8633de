//! A subscriber: connects, subscribes, then counts deliveries and records their
//! latency, acknowledging QoS 1/2 deliveries with one write per read chunk.

use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::BytesMut;
use mqtt_proto::{Packet, PubResponse, QoS};
use tokio::io::AsyncWriteExt;
use tokio::sync::{Semaphore, mpsc};
use ws_proto::Message;

use super::{Proto, Shared};
use crate::clock;
use crate::mqtt::{self, MqttClient};
use crate::progress::Counters;
use crate::ws;
use crate::{Result, error};

/// Sets up subscriber `index`, reports the outcome on `ready`, then receives until
/// the task is aborted or the server closes the connection.
pub(super) async fn run(
    shared: Arc<Shared>,
    index: usize,
    source: Ipv4Addr,
    gate: Arc<Semaphore>,
    ready: mpsc::Sender<Result<()>>,
) {
    let setup = async {
        let _permit = gate.acquire().await.map_err(|e| error(e.to_string()))?;
        let sc = &shared.scenario;
        match sc.sub_proto {
            Proto::Mqtt => {
                let stream = crate::net::connect(sc.mqtt, source).await?;
                let id = format!("rb-sub-{}-{index}", std::process::id());
                let mut client =
                    MqttClient::connect(stream, &id, sc.version, sc.session_expiry).await?;
                client.subscribe(&shared.topic, sc.qos).await?;
                Ok(Side::Mqtt(client))
            }
            Proto::WsJson => {
                let url = sc.ws.as_ref().ok_or_else(|| error("no /ws URL"))?;
                let (mut reader, mut writer) = ws::connect(url, source).await?;
                let qos = u8::from(sc.qos).min(1);
                ws::json_subscribe(&mut reader, &mut writer, &shared.topic, qos).await?;
                // The writer stays with the reader: dropping it would half-close the socket.
                Ok(Side::Ws(reader, writer))
            }
        }
    };
    let side = match setup.await {
        Ok(side) => {
            let _ = ready.send(Ok(())).await;
            Counters::add(&shared.counters.connected, 1);
            side
        }
        Err(e) => {
            Counters::add(&shared.counters.failed, 1);
            let _ = ready.send(Err(e)).await;
            return;
        }
    };
    drop(ready);
    let outcome = match side {
        Side::Mqtt(client) => receive_mqtt(&shared, client).await,
        Side::Ws(reader, _writer) => receive_ws(&shared, reader).await,
    };
    if let Err(e) = outcome {
        if !shared.stopped() {
            shared.note(format!("subscriber {index}: {e}"));
        }
    }
}

enum Side {
    Mqtt(MqttClient),
    Ws(ws::WsReader, ws::WsWriter),
}

async fn receive_mqtt(shared: &Shared, mut client: MqttClient) -> Result<()> {
    let version = client.version;
    let mut rec = shared.latencies.recorder();
    let mut acks = BytesMut::with_capacity(1024);
    loop {
        if !client.reader.fill().await? {
            return Err(error("server closed the connection"));
        }
        let mut got = 0;
        while let Some(packet) = client.reader.next_buffered()? {
            match packet {
                Packet::Publish(p) => {
                    got += 1;
                    if let Some(age) = clock::age_ns(&p.payload) {
                        rec.record(age);
                    }
                    match (p.qos, p.packet_id) {
                        (QoS::AtLeastOnce, Some(id)) => {
                            mqtt::encode(&Packet::PubAck(PubResponse::new(id)), version, &mut acks)?
                        }
                        (QoS::ExactlyOnce, Some(id)) => {
                            mqtt::encode(&Packet::PubRec(PubResponse::new(id)), version, &mut acks)?
                        }
                        _ => {}
                    }
                }
                Packet::PubRel(r) => mqtt::encode(
                    &Packet::PubComp(PubResponse::new(r.packet_id)),
                    version,
                    &mut acks,
                )?,
                Packet::Disconnect(d) => {
                    return Err(error(format!("DISCONNECT {}", d.reason_code.name())));
                }
                _ => {}
            }
        }
        Counters::add(&shared.counters.received, got);
        if !acks.is_empty() {
            client.writer.write_all(&acks).await?;
            acks.clear();
        }
    }
}

async fn receive_ws(shared: &Shared, mut reader: ws::WsReader) -> Result<()> {
    let mut rec = shared.latencies.recorder();
    loop {
        if !reader.fill().await? {
            return Err(error("server closed the connection"));
        }
        let mut got = 0;
        while let Some(message) = reader.next_buffered()? {
            let stamp = match &message {
                Message::Text(t) if ws::json_type(t.as_str()) == Some("message") => {
                    ws::json_payload(t.as_str()).and_then(clock::age_ns)
                }
                Message::Text(t) if ws::json_type(t.as_str()) == Some("error") => {
                    return Err(error(format!("/ws error: {}", t.as_str())));
                }
                // `"binary": true` subscriptions: [flags][topic len][topic][payload].
                Message::Binary(b) => {
                    let topic_len = usize::from(u16::from_be_bytes([
                        b.get(1).copied().unwrap_or(0),
                        b.get(2).copied().unwrap_or(0),
                    ]));
                    b.get(3 + topic_len..).and_then(clock::age_ns)
                }
                _ => continue,
            };
            got += 1;
            if let Some(age) = stamp {
                rec.record(age);
            }
        }
        Counters::add(&shared.counters.received, got);
    }
}
