//! ws-proto against tungstenite, in the same run (server role, masked client frames):
//!
//! - `decode_unmask/<size>`: a read buffer already holding back-to-back masked binary
//!   frames of one size (16 B, 1 KiB, 64 KiB, 1 MiB) decoded, unmasked and delivered as
//!   messages (filling the buffer before, and freeing it after, are outside the
//!   measurement for both libraries, and both buffers are built the same way);
//! - `read_decode/<size>`: the same frames read from an in-memory stream through each
//!   library's read path (ours: as the tokio adapter fills its buffer), then decoded and
//!   unmasked;
//! - `receive_text/<size>`: text messages in 4 fragments each, reassembled and
//!   UTF-8-validated;
//! - `utf8/64KiB`: UTF-8 validation, incremental in 4 pieces vs `std::str::from_utf8`;
//! - `unmask/64KiB`: the masking loop alone, fast vs byte-wise reference (GB/s).
//!
//! Each iteration gives both libraries the same wire bytes and a fresh reader; results
//! and ratios are in BENCHMARKS.md.
//!
//! Time is the benchmark thread's CPU time (`CLOCK_THREAD_CPUTIME_ID`), not wall time,
//! as in mqtt-proto's benchmark: the machine is shared, and time spent descheduled would
//! otherwise land on whichever side happened to be running.
#![allow(missing_docs)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::hint::black_box;
use std::io::Cursor;

use bytes::BytesMut;
use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use tungstenite::protocol::{Role as TRole, WebSocket as TWebSocket, WebSocketConfig};
use ws_proto::mask::{apply_mask, apply_mask_bytewise};
use ws_proto::protocol::{Config, Message, Receiver, Role};
use ws_proto::utf8::Utf8Validator;

#[path = "../../bench/shared/thread_cpu.rs"]
mod thread_cpu;
use thread_cpu::ThreadCpuTime;

const KEY: [u8; 4] = [0x12, 0x34, 0x56, 0x78];

type C = Criterion<ThreadCpuTime>;

fn masked_frame(b0: u8, payload: &[u8], out: &mut Vec<u8>) {
    out.push(b0);
    match payload.len() {
        n if n < 126 => out.push(0x80 | n as u8),
        n if n <= 0xFFFF => {
            out.push(0x80 | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(0x80 | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    out.extend_from_slice(&KEY);
    let start = out.len();
    out.extend_from_slice(payload);
    apply_mask(&mut out[start..], KEY, 0);
}

fn big_config() -> (Config, WebSocketConfig) {
    let ours = Config {
        max_frame_size: 64 << 20,
        max_message_size: 64 << 20,
        auto_pong: true,
    };
    let theirs = WebSocketConfig::default()
        .max_frame_size(Some(64 << 20))
        .max_message_size(Some(64 << 20));
    (ours, theirs)
}

/// Decodes `count` messages from a read buffer that already holds the wire bytes (the
/// copy from the socket is outside the measurement for both libraries). The receiver
/// and its buffer are handed back so that freeing them (for 64 KiB and 1 MiB frames,
/// an `munmap` of 4-8 MiB) happens outside the measurement too, as for tungstenite.
fn ours((mut rx, mut buf): (Receiver, BytesMut), count: usize) -> (usize, (Receiver, BytesMut)) {
    let mut total = 0;
    for _ in 0..count {
        match rx.read(&mut buf) {
            Ok(Some(Message::Binary(b))) => total += b.len(),
            Ok(Some(Message::Text(t))) => total += t.len(),
            other => panic!("{other:?}"),
        }
    }
    (total, (rx, buf))
}

/// A read-only in-memory socket for tungstenite (which needs `Read + Write`).
struct Wire<'a>(Cursor<&'a [u8]>);

impl std::io::Read for Wire<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        self.0.read(buf)
    }
}

impl std::io::Write for Wire<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// As [`ours`]: tungstenite starts with the wire bytes in its read buffer
/// (`from_partially_read`), the stream behind it is empty; the socket is handed back
/// to be dropped by the caller.
fn theirs(mut ws: TWebSocket<Wire<'_>>, count: usize) -> (usize, TWebSocket<Wire<'_>>) {
    let mut total = 0;
    for _ in 0..count {
        match ws.read() {
            Ok(tungstenite::Message::Binary(b)) => total += b.len(),
            Ok(tungstenite::Message::Text(t)) => total += t.len(),
            other => panic!("{other:?}"),
        }
    }
    (total, ws)
}

const SIZES: [(usize, &str, usize); 4] = [
    (16, "16B", 10_000),
    (1024, "1KiB", 2_000),
    (64 * 1024, "64KiB", 64),
    (1 << 20, "1MiB", 8),
];

/// Benchmarks both libraries reading the `count` messages of `size` bytes in `wire`.
fn bench_pair(
    group: &mut criterion::BenchmarkGroup<'_, ThreadCpuTime>,
    name: &str,
    wire: &[u8],
    count: usize,
    size: usize,
) {
    let (ours_cfg, theirs_cfg) = big_config();
    group.throughput(Throughput::Bytes((size * count) as u64));
    group.bench_with_input(BenchmarkId::new("ws-proto", name), wire, |b, wire| {
        b.iter_batched(
            || {
                // Built the way tungstenite's `from_partially_read` builds its buffer
                // (a `Vec` collected into a `BytesMut`), so that both buffers were
                // written equally long before the clock starts and are equally warm.
                (
                    Receiver::new(Role::Server, ours_cfg, None),
                    BytesMut::from_iter(wire.to_vec()),
                )
            },
            // The state is returned: criterion drops it after the clock stops.
            |state| black_box(ours(state, count)),
            BatchSize::PerIteration,
        )
    });
    group.bench_with_input(BenchmarkId::new("tungstenite", name), wire, |b, wire| {
        b.iter_batched(
            || {
                let empty = Wire(Cursor::new(&[][..]));
                TWebSocket::from_partially_read(
                    empty,
                    wire.to_vec(),
                    TRole::Server,
                    Some(theirs_cfg),
                )
            },
            |ws| black_box(theirs(ws, count)),
            BatchSize::PerIteration,
        )
    });
}

/// Reads `count` messages from an in-memory stream the way the tokio adapter's `fill`
/// does at full speed: each read copies into the read buffer's spare capacity (as a
/// socket read does; nothing is zero-filled), at most 64 KiB or the rest of a large frame
/// in progress, and an empty buffer starts again at the front of its allocation.
fn ours_streaming(wire: &[u8], count: usize, config: Config) -> usize {
    const MAX_READ: usize = 64 * 1024;
    let mut rx = Receiver::new(Role::Server, config, None);
    let mut buf = BytesMut::new();
    let mut rest = wire;
    let mut total = 0;
    let mut seen = 0;
    while seen < count {
        match rx.read(&mut buf) {
            Ok(Some(Message::Binary(b))) => {
                total += b.len();
                seen += 1;
            }
            Ok(None) => {
                if buf.is_empty() {
                    let _ = buf.try_reclaim(buf.capacity() + 1);
                }
                // The receiver has reserved room for a large frame once its header is known.
                let limit = match rx.frame_remaining(&buf) {
                    Some(rest) if rest >= MAX_READ => rest,
                    _ => MAX_READ,
                };
                if buf.capacity() - buf.len() < MAX_READ / 2 {
                    buf.reserve(MAX_READ);
                }
                let n = rest.len().min(buf.capacity() - buf.len()).min(limit);
                buf.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
            }
            other => panic!("{other:?}"),
        }
    }
    total
}

/// Both libraries read the frames from an in-memory stream through their own read path
/// (tungstenite: `WebSocket::read` over `Read`, default 128 KiB read buffer).
fn read_decode(c: &mut C) {
    let (ours_cfg, theirs_cfg) = big_config();
    let mut group = c.benchmark_group("read_decode");
    for (size, name, count) in SIZES {
        let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let mut wire = Vec::new();
        for _ in 0..count {
            masked_frame(0x82, &payload, &mut wire);
        }
        group.throughput(Throughput::Bytes((size * count) as u64));
        group.bench_with_input(BenchmarkId::new("ws-proto", name), &wire, |b, wire| {
            b.iter(|| black_box(ours_streaming(wire, count, ours_cfg)))
        });
        group.bench_with_input(BenchmarkId::new("tungstenite", name), &wire, |b, wire| {
            b.iter(|| {
                let ws = TWebSocket::from_raw_socket(
                    Wire(Cursor::new(wire)),
                    TRole::Server,
                    Some(theirs_cfg),
                );
                black_box(theirs(ws, count).0)
            })
        });
    }
    group.finish();
}

fn decode_unmask(c: &mut C) {
    let mut group = c.benchmark_group("decode_unmask");
    for (size, name, count) in SIZES {
        let payload: Vec<u8> = (0..size).map(|i| i as u8).collect();
        let mut wire = Vec::new();
        for _ in 0..count {
            masked_frame(0x82, &payload, &mut wire);
        }
        bench_pair(&mut group, name, &wire, count, size);
    }
    group.finish();
}

fn receive_text(c: &mut C) {
    let mut group = c.benchmark_group("receive_text");
    for (size, name, count) in SIZES {
        let text = text_of(size);
        // Cut at character boundaries only where tungstenite can take it: 4 fragments.
        let quarter = size / 4;
        let mut wire = Vec::new();
        for _ in 0..count {
            for (i, piece) in text.chunks(quarter.max(1)).enumerate() {
                let last = (i + 1) * quarter.max(1) >= size;
                let opcode = if i == 0 { 0x1 } else { 0x0 };
                masked_frame(if last { 0x80 | opcode } else { opcode }, piece, &mut wire);
            }
        }
        bench_pair(&mut group, name, &wire, count, size);
    }
    group.finish();
}

/// Mixed 1/2/3-byte UTF-8 text of exactly `size` bytes.
fn text_of(size: usize) -> Vec<u8> {
    let mut text = String::new();
    for c in "ws-proto ünïcödé ✓ ".chars().cycle() {
        if text.len() + c.len_utf8() > size {
            break;
        }
        text.push(c);
    }
    while text.len() < size {
        text.push('.');
    }
    text.into_bytes()
}

fn utf8(c: &mut C) {
    let text = text_of(64 * 1024);
    let mut group = c.benchmark_group("utf8");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("ws-proto incremental/64KiB", |b| {
        b.iter(|| {
            let mut v = Utf8Validator::new();
            for piece in text.chunks(16 * 1024 + 1) {
                v.feed(black_box(piece)).unwrap();
            }
            v.finish().unwrap();
        })
    });
    group.bench_function("std from_utf8/64KiB", |b| {
        b.iter(|| std::str::from_utf8(black_box(&text)).unwrap().len())
    });
    group.finish();
}

fn unmask(c: &mut C) {
    let mut data = vec![0xA5u8; 64 * 1024];
    let mut group = c.benchmark_group("unmask");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("ws-proto/64KiB", |b| {
        b.iter(|| apply_mask(black_box(&mut data), KEY, 0))
    });
    group.bench_function("ws-proto offset 3/64KiB", |b| {
        b.iter(|| apply_mask(black_box(&mut data[1..]), KEY, 3))
    });
    group.bench_function("bytewise reference/64KiB", |b| {
        b.iter(|| apply_mask_bytewise(black_box(&mut data), KEY, 0))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().with_measurement(ThreadCpuTime);
    targets = decode_unmask, read_decode, receive_text, utf8, unmask
}
criterion_main!(benches);
