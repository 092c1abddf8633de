//! What both examples (the echo server and the Autobahn client) do alike: echo
//! messages, within the same limits.

use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::tokio::WebSocket;
use ws_proto::{Config, Message};

/// Connection limits for the Autobahn|Testsuite: frames and messages up to 64 MiB.
pub(crate) fn large_messages() -> Config {
    Config {
        max_frame_size: 64 << 20,
        max_message_size: 64 << 20,
        ..Config::default()
    }
}

/// Sends every text and binary message back until the peer closes; an error ends the
/// echo (in the Autobahn cases the peer judges it).
pub(crate) async fn echo<S: AsyncRead + AsyncWrite + Unpin>(ws: &mut WebSocket<S>) {
    while let Some(message) = ws.recv().await {
        match message {
            Ok(m @ (Message::Text(_) | Message::Binary(_))) => {
                if ws.send(m).await.is_err() {
                    break;
                }
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
}
