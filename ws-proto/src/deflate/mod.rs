//! permessage-deflate (RFC 7692): parameter negotiation and the per-connection
//! (de)compressor.
//!
//! # Memory per connection
//! With the defaults (window bits 15, zlib memory level 8, the level this crate's zlib-rs
//! backend uses) a connection that negotiated permessage-deflate holds one compressor and
//! one decompressor. Measured by `tests/memory.rs` (counting allocator): the
//! compressor takes about 262 KiB and the decompressor about 40 KiB at 15 window bits;
//! with `server_max_window_bits=9` / `client_max_window_bits=9` about 136 KiB and
//! about 7 KiB. See `docs/ws-proto.md` for the measured table; lower window bits are the
//! knob for memory-bound servers.

mod codec;
mod params;

pub use codec::{Compressor, Decompressor, TAIL};
pub use params::{DeflateConfig, DeflateParams, ExtensionOffer, NAME, parse_extensions};
