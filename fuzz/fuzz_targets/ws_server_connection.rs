//! Server connection without compression fed arbitrary bytes in arbitrary chunks: no
//! panic, no hang, bounded memory; failures queue their Close.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::{Connection, Role};

include!("ws_connection_common.rs");

fuzz_target!(|data: &[u8]| {
    let (sizes, data) = data.split_at(data.len().min(4));
    drive(Connection::new(Role::Server, small_config(), None), sizes, data);
});
