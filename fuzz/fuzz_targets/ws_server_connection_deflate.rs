//! Server connection with permessage-deflate (parameters from the first byte) fed
//! arbitrary bytes: inflating garbage or bombs never panics nor exceeds the limits.
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::{Connection, Role};

include!("ws_connection_common.rs");

fuzz_target!(|data: &[u8]| {
    let Some((&p, data)) = data.split_first() else { return };
    let (sizes, data) = data.split_at(data.len().min(4));
    drive(Connection::new(Role::Server, small_config(), Some(params(p))), sizes, data);
});
