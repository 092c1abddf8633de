//! Connection settings.

/// Which end of the connection this is: it decides the masking rules (RFC 6455 §5.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// Receives masked frames, sends unmasked frames.
    Server,
    /// Receives unmasked frames, sends masked frames.
    Client,
}

/// Limits and behaviour of an open connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config {
    /// Largest accepted frame payload (default 16 MiB); larger is a 1009.
    pub max_frame_size: usize,
    /// Largest accepted message, after decompression (default 16 MiB); larger is a 1009.
    pub max_message_size: usize,
    /// Answer every Ping with a Pong automatically (default `true`, RFC 6455 §5.5.2).
    pub auto_pong: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            max_frame_size: 16 << 20,
            max_message_size: 16 << 20,
            auto_pong: true,
        }
    }
}
