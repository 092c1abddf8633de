//! Client connection (unmasked frames expected), with or without permessage-deflate
//! depending on the first byte, fed arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::{Connection, Role};

include!("ws_connection_common.rs");

fuzz_target!(|data: &[u8]| {
    let Some((&p, data)) = data.split_first() else { return };
    let (sizes, data) = data.split_at(data.len().min(4));
    let deflate = (p & 0x80 != 0).then(|| params(p));
    drive(Connection::new(Role::Client, small_config(), deflate), sizes, data);
});
