//! `/mqtt`: MQTT over WebSocket (MQTT 5.0 §6, MQTT 3.1.1 §6): the same broker and
//! sessions as MQTT over TCP. Packets travel in Binary messages; a packet may span
//! messages and a message may carry several packets (MQTT-6.0.0-2).

use std::time::Instant;

use bytes::BytesMut;
use ws_proto::{CloseCode, Message};

use super::{WsApp, WsOut};
use crate::conn::{Protocol, Status};
use crate::mqtt::MqttConnection;

/// Subprotocols accepted on `/mqtt`: `mqtt` (MQTT-6.0.0-4: the one the server
/// selects when offered) and `mqttv3.1`, which older 3.1 clients offer.
pub const SUBPROTOCOLS: [&str; 2] = ["mqtt", "mqttv3.1"];

/// An MQTT connection carried by a WebSocket.
#[derive(Debug)]
pub struct MqttOverWs {
    mqtt: MqttConnection,
    input: BytesMut,
}

impl MqttOverWs {
    /// Wraps a fresh MQTT connection.
    pub fn new(mqtt: MqttConnection) -> Self {
        Self {
            mqtt,
            input: BytesMut::new(),
        }
    }

    /// Sends what the MQTT side produced as one Binary message.
    fn flush(&mut self, ws: &mut WsOut<'_>) {
        let out = self.mqtt.output();
        if out.is_empty() {
            return;
        }
        let bytes = out.take_all();
        if let Err(err) = ws.send(Message::Binary(bytes)) {
            tracing::debug!(%err, "mqtt over websocket: output after close dropped");
        }
    }

    /// Hands over MQTT bytes left while reading was paused (authentication,
    /// rate limit), once it no longer is.
    fn resume(&mut self, status: Status, now: Instant) -> Status {
        if status == Status::Open && !self.input.is_empty() && !self.mqtt.read_paused() {
            let status = self.mqtt.on_read(&mut self.input, now);
            if self.input.is_empty() {
                self.input = BytesMut::new();
            }
            return status;
        }
        status
    }

    fn finish(&mut self, status: Status, ws: &mut WsOut<'_>) -> Status {
        self.flush(ws);
        if status == Status::Close && self.mqtt.failed() {
            // MQTT-4.13.1-1 closes the connection; RFC 6455 §7.4.1's 1002 (protocol
            // error) tells a browser client why, where a bare 1000 would not.
            ws.close(
                CloseCode::PROTOCOL_ERROR,
                "MQTT malformed packet or protocol error [MQTT-4.13.1-1]",
            );
        }
        status
    }
}

impl WsApp for MqttOverWs {
    fn log_names(&self) -> (&'static str, Option<&str>) {
        crate::conn::Protocol::log_names(&self.mqtt)
    }

    fn parkable(&self) -> bool {
        self.input.is_empty() && crate::conn::Protocol::parkable(&self.mqtt)
    }

    fn on_park(&mut self) {
        crate::conn::Protocol::on_park(&mut self.mqtt);
    }

    fn on_message(&mut self, message: Message, ws: &mut WsOut<'_>, now: Instant) -> Status {
        let Message::Binary(data) = message else {
            // MQTT-6.0.0-1: a non-binary data frame closes the connection.
            tracing::info!(
                client_id = self.mqtt.client_id().unwrap_or("-"),
                "text frame on /mqtt [MQTT-6.0.0-1]"
            );
            self.mqtt.on_eof(now);
            ws.close(
                CloseCode::UNSUPPORTED_DATA,
                "MQTT needs binary frames [MQTT-6.0.0-1]",
            );
            return Status::Open;
        };
        if self.input.is_empty() {
            self.input = BytesMut::from(data);
        } else {
            self.input.extend_from_slice(&data);
        }
        let status = self.mqtt.on_read(&mut self.input, now);
        if self.input.is_empty() {
            self.input = BytesMut::new();
        }
        self.finish(status, ws)
    }

    fn on_wake(&mut self, ws: &mut WsOut<'_>, now: Instant) -> Status {
        let status = self.mqtt.on_wake(now);
        let status = self.resume(status, now);
        self.finish(status, ws)
    }

    fn on_timer(&mut self, ws: &mut WsOut<'_>, now: Instant) -> Status {
        let status = self.mqtt.on_timer(now);
        let status = self.resume(status, now);
        self.finish(status, ws)
    }

    fn deadline(&self) -> Option<Instant> {
        self.mqtt.deadline()
    }

    fn on_end(&mut self, now: Instant) {
        self.mqtt.on_eof(now);
    }

    fn on_shutdown(&mut self, ws: &mut WsOut<'_>, now: Instant) {
        let _ = self.mqtt.on_shutdown(now);
        self.flush(ws);
    }

    fn read_paused(&self) -> bool {
        self.mqtt.read_paused()
    }
}
