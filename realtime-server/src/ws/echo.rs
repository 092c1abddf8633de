//! `/echo`: every Text and Binary message back as it came (for the Autobahn suite
//! and for checking a client). A large payload is not copied; a small one is
//! copied once, from the read buffer straight into the out queue.

use std::time::Instant;

use ws_proto::{Message, MessageRef};

use super::{WsApp, WsOut};
use crate::conn::Status;

/// The echo application.
#[derive(Debug, Default)]
pub struct Echo;

impl WsApp for Echo {
    const BORROWS_MESSAGES: bool = true;

    fn on_message_ref(
        &mut self,
        message: MessageRef<'_>,
        ws: &mut WsOut<'_>,
        _now: Instant,
    ) -> Status {
        match ws.send_ref(message) {
            Ok(()) => Status::Open,
            Err(_) => Status::Close,
        }
    }

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
