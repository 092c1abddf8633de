//! `ws-proto`: a sans-IO WebSocket codec (RFC 6455) with permessage-deflate (RFC 7692),
//! for servers and clients.
//!
//! The crate turns bytes into typed messages and messages into bytes; the core never
//! touches a socket or a clock. The layers, bottom up:
//!
//! | module | what |
//! |---|---|
//! | [`http`] | incremental HTTP/1.1 head parser for any request (routing) or response |
//! | [`handshake`] | the opening handshake: [`handshake::server`] and [`handshake::client`] |
//! | [`frame`] | frame headers; [`frame::OutFrame`] = inline header + shared payload |
//! | [`mask`] | fast (un)masking |
//! | [`utf8`] | incremental UTF-8 validation |
//! | [`deflate`] | permessage-deflate negotiation and (de)compression |
//! | [`protocol`] | the connection state machine: [`protocol::Connection`] |
//! | `tokio` (feature, on by default) | async adapter over `AsyncRead + AsyncWrite` |
//!
//! Every error is an [`Error`] naming the rule broken and the close code or HTTP status
//! to answer with. The architecture is described in the repository's `docs/DESIGN.md`;
//! usage for servers (routing, broadcast, memory) in `docs/ws-proto.md`.

pub mod close;
pub mod deflate;
pub mod error;
pub mod frame;
pub mod handshake;
pub mod http;
pub mod mask;
pub mod protocol;
#[cfg(feature = "tokio")]
pub mod tokio;
pub mod utf8;

pub use close::{CloseCode, CloseFrame};
pub use error::{Error, ErrorKind};
pub use protocol::{Config, Connection, Message, MessageRef, Role, Utf8Bytes};
