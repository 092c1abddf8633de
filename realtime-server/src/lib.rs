//! `realtime-server`: MQTT over TCP, MQTT over WebSocket and plain WebSocket for
//! browsers over one shared topic bus.
//!
//! The binary (`src/main.rs`) is a thin wrapper over [`Server`]; tests start the
//! same server in-process or as the release binary.

pub mod api;
pub mod auth;
pub mod broker;
pub mod bus;
pub mod config;
pub mod conn;
pub mod hooks;
pub mod http;
pub mod keyed;
pub mod listener;
pub mod metrics;
pub mod mqtt;
pub mod signals;
pub mod store;
pub mod sys;
pub mod tls;
pub mod ws;

pub use config::Config;
pub use listener::Server;
