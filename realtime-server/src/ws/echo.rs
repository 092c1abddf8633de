//! `/echo`: every Text and Binary message back as it came (for the Autobahn suite
//! and for checking a client). The payload is not copied.

use std::time::Instant;

use ws_proto::Message;

use super::{WsApp, WsOut};
use crate::conn::Status;

/// The echo application.
#[derive(Debug, Default)]
pub struct Echo;

impl WsApp for Echo {
    fn on_message(&mut self, message: Message, ws: &mut WsOut<'_>, _now: Instant) -> Status {
        match ws.send(message) {
            Ok(()) => Status::Open,
            Err(_) => Status::Close,
        }
    }

    fn on_wake(&mut self, _ws: &mut WsOut<'_>, _now: Instant) -> Status {
        Status::Open
    }

    fn on_timer(&mut self, _ws: &mut WsOut<'_>, _now: Instant) -> Status {
        Status::Open
    }

    fn deadline(&self) -> Option<Instant> {
        None
    }

    fn on_end(&mut self, _now: Instant) {}
}
