//! Client handshake: any server answer is accepted, `Partial` or rejected, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::deflate::DeflateConfig;
use ws_proto::handshake::client::{ClientConfig, ClientHandshake};
use ws_proto::http::Parsed;

fuzz_target!(|data: &[u8]| {
    let config = ClientConfig {
        subprotocols: vec!["mqtt".into()],
        deflate: Some(DeflateConfig {
            server_max_window_bits: 10,
            ..DeflateConfig::default()
        }),
        ..ClientConfig::default()
    };
    let (handshake, _) = ClientHandshake::with_key("h", "/", "dGhlIHNhbXBsZSBub25jZQ==", &config);
    if let Ok(Parsed::Complete(negotiated, used)) = handshake.parse_response(data) {
        assert!(used <= data.len());
        if let Some(d) = negotiated.deflate {
            assert!(d.server_max_window_bits <= 10);
        }
    }
});
