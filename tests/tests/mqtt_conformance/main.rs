//! The broker's side of the MQTT conformance matrices
//! (`mqtt-proto/conformance/v3.1.1.tsv` and `v5.tsv`): every statement marked
//! `server` there names a test, most of them here, against the in-process server,
//! packet by packet. Each test cites in its doc comment the ids it checks, with the
//! version when the same id means different things in 3.1.1 and 5.0.
//!
//! One binary, one module per area of the specification.

// Test helpers are free functions, which clippy's test allowances do not reach.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;
mod connect;
mod errors;
mod flow;
mod publish;
mod qos;
mod requests;
mod retain;
mod shared;
mod subscribe;
mod transport;
mod will;
