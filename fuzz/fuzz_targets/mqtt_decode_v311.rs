//! MQTT 3.1.1 (and 3.1) decoder: never panics on any bytes; whatever decodes re-encodes to bytes that
//! decode to the same packet.
#![no_main]

#[path = "common/roundtrip.rs"]
mod roundtrip;

use libfuzzer_sys::fuzz_target;
use mqtt_proto::ProtocolVersion;

fuzz_target!(|data: &[u8]| {
    roundtrip::check(ProtocolVersion::V3_1_1, data);
    roundtrip::check(ProtocolVersion::V3_1, data);
});
