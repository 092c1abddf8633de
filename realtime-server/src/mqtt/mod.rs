//! MQTT 3.1, 3.1.1 and 5.0 for clients: the sans-IO connection state
//! ([`MqttConnection`]) and the listener that drives it over TCP.

mod connection;
mod convert;
pub mod listener;
#[cfg(test)]
mod tests;

pub use connection::MqttConnection;
