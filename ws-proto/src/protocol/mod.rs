//! The connection state machine (RFC 6455 §5–§7): bytes in, [`Message`]s out; messages
//! in, [`OutFrame`](crate::frame::OutFrame)s out.
//!
//! [`Connection`] is the whole endpoint; it splits into a [`Receiver`] and a [`Sender`]
//! for a reader task and a writer task.

mod config;
mod connection;
mod message;
mod receiver;
mod sender;
mod text;

pub use config::{Config, Role};
pub use connection::{Connection, State};
pub use message::{Message, MessageRef};
pub use receiver::Receiver;
pub use sender::Sender;
pub use text::Utf8Bytes;
