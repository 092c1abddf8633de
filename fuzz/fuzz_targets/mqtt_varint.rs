//! Variable Byte Integer: decode never panics, and a decoded value re-encodes to
//! exactly the bytes it came from (minimal encoding, MQTT-1.5.5-1).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mqtt_proto::varint;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((value, len))) = varint::decode(data) {
        let mut out = Vec::new();
        assert!(varint::encode(value, &mut out));
        assert_eq!(Some(out.as_slice()), data.get(..len));
    }
});
