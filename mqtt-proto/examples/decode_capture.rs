//! Decodes captured MQTT byte streams: the client-to-server side starts with a
//! CONNECT, whose protocol level selects the decoder for the rest of the stream
//! and for the server-to-client side.
//!
//! ```sh
//! cargo run -p mqtt-proto --example decode-capture                  # the committed captures
//! cargo run -p mqtt-proto --example decode-capture -- a.c2s.bin [a.s2c.bin]
//! ```
//!
//! The committed captures (see `examples/captures/README.md`) were recorded from
//! Mosquitto's own clients talking to Mosquitto.

use std::path::{Path, PathBuf};

use bytes::BytesMut;
use mqtt_proto::{ConnectDecoder, Decoder, Packet, ProtocolVersion};

/// Feeds `bytes` to `decode` in small chunks, as a socket would, and prints each
/// packet; returns how many were decoded.
fn replay(
    bytes: &[u8],
    mut decode: impl FnMut(&mut BytesMut) -> Result<Option<Packet>, mqtt_proto::DecodeError>,
) -> Result<usize, String> {
    let mut buf = BytesMut::new();
    let mut count = 0;
    for chunk in bytes.chunks(7) {
        buf.extend_from_slice(chunk);
        while let Some(packet) = decode(&mut buf).map_err(|e| e.to_string())? {
            count += 1;
            println!("  {}", describe(&packet));
        }
    }
    if !buf.is_empty() {
        return Err(format!("{} bytes left over: a truncated packet", buf.len()));
    }
    Ok(count)
}

fn describe(packet: &Packet) -> String {
    match packet {
        Packet::Connect(c) => format!(
            "CONNECT {} client_id={:?} keep_alive={} user={:?} will={:?}",
            c.protocol_version,
            c.client_id.as_str(),
            c.keep_alive,
            c.username.as_deref(),
            c.will.as_ref().map(|w| (w.topic.as_str(), w.qos)),
        ),
        Packet::Publish(p) => format!(
            "PUBLISH topic={:?} qos={:?} id={:?} payload={:?} properties={:?}",
            p.topic.as_str(),
            p.qos,
            p.packet_id,
            String::from_utf8_lossy(&p.payload),
            p.properties,
        ),
        other => format!("{other:?}"),
    }
}

fn decode_pair(c2s: &Path, s2c: Option<&Path>) -> Result<(), String> {
    let read = |p: &Path| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let client = read(c2s)?;
    println!("{} (client to server)", c2s.display());
    let mut version: Option<ProtocolVersion> = None;
    let connect_decoder = ConnectDecoder::new();
    let n = replay(&client, |buf| match version {
        None => {
            let connect = connect_decoder.decode(buf)?;
            if let Some(c) = &connect {
                version = Some(c.protocol_version);
            }
            Ok(connect.map(|c| Packet::Connect(Box::new(c))))
        }
        Some(v) => Decoder::new(v).decode(buf),
    })?;
    println!("  -> {n} packets");
    let (Some(s2c), Some(v)) = (s2c, version) else {
        return Ok(());
    };
    println!("{} (server to client, {v})", s2c.display());
    let decoder = Decoder::new(v);
    let n = replay(&read(s2c)?, |buf| decoder.decode(buf))?;
    println!("  -> {n} packets");
    Ok(())
}

fn main() -> Result<(), String> {
    let args: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if let Some(c2s) = args.first() {
        return decode_pair(c2s, args.get(1).map(PathBuf::as_path));
    }
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/captures");
    for name in ["v5-subscriber", "v311-publisher"] {
        decode_pair(
            &dir.join(format!("{name}.c2s.bin")),
            Some(&dir.join(format!("{name}.s2c.bin"))),
        )?;
    }
    Ok(())
}
