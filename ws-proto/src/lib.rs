//! `ws-proto`: a sans-IO WebSocket codec (RFC 6455) with permessage-deflate (RFC 7692).
//!
//! The crate turns bytes into typed events and typed commands into bytes; it never
//! touches a socket or a clock. See `../shared/DESIGN.md` for the architecture.

pub mod handshake;
