//! Frame header decoder: never panics; a decoded header re-encodes to exactly the bytes
//! it came from (lengths are minimal, RFC 6455 §5.2).
#![no_main]

use libfuzzer_sys::fuzz_target;
use ws_proto::frame::FrameHeader;

fuzz_target!(|data: &[u8]| {
    if let Ok(Some((header, len))) = FrameHeader::decode(data) {
        assert_eq!(Some(header.encode().as_slice()), data.get(..len));
        assert_eq!(header.encoded_len(), len);
    }
});
