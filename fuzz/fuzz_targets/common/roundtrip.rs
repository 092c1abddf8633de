//! Shared by the decoder fuzz targets: decode everything in `data`; every decoded
//! packet must re-encode to bytes that decode to the same packet.

use bytes::BytesMut;
use mqtt_proto::{Decoder, Packet, ProtocolVersion};

pub fn check(version: ProtocolVersion, data: &[u8]) {
    let decoder = Decoder::new(version).with_max_packet_size(1 << 16);
    let mut buf = BytesMut::from(data);
    while let Ok(Some(packet)) = decoder.decode(&mut buf) {
        // A CONNECT carries its own version.
        let v = match &packet {
            Packet::Connect(c) => c.protocol_version,
            _ => version,
        };
        let mut wire = BytesMut::new();
        let len = packet.encode(v, &mut wire).expect("a decoded packet re-encodes");
        assert_eq!(len, wire.len());
        assert_eq!(packet.encoded_len(v).expect("length"), len);
        let again = Decoder::new(v).decode(&mut wire).expect("re-decodes");
        assert_eq!(again.as_ref(), Some(&packet));
        assert!(wire.is_empty());
    }
}

