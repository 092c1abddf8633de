//! `mqtt-proto`: a sans-IO, zero-copy MQTT 3.1.1 and 5.0 codec.
//!
//! See `../shared/DESIGN.md` for the architecture.

pub mod varint;
