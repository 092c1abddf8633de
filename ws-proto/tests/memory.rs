//! Memory per connection, measured with a counting global allocator.
//!
//! - An idle server connection without permessage-deflate (the tokio adapter's
//!   `WebSocket` waiting in `recv`, i.e. the task future, plus every heap byte it holds)
//!   stays within 2 KiB, also after a 1 MiB message went through (the read buffer
//!   shrinks back).
//! - With permessage-deflate, the compressor and decompressor sizes at the default and
//!   minimum window bits (the figures in `docs/ws-proto.md`).
//!
//! One test function only: the counter is global, so nothing may run beside it.
#![cfg(feature = "tokio")]
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::task::{Context, Poll, Waker};

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use ws_proto::deflate::DeflateParams;
use ws_proto::mask::apply_mask;
use ws_proto::protocol::{Config, Connection, Role};
use ws_proto::tokio::WebSocket;

struct Counting;

static LIVE: AtomicIsize = AtomicIsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::SeqCst);
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size as isize - layout.size() as isize, Ordering::SeqCst);
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

fn live() -> isize {
    LIVE.load(Ordering::SeqCst)
}

/// A socket that first yields `input` in 64 KiB reads, then blocks forever; it accepts
/// every write. It allocates nothing itself after construction.
struct Script {
    input: Vec<u8>,
    at: usize,
}

// Test code: `at` never passes the end of `input`.
#[allow(clippy::indexing_slicing)]
impl AsyncRead for Script {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let rest = &self.input[self.at..];
        if rest.is_empty() {
            return Poll::Pending;
        }
        let n = rest.len().min(buf.remaining()).min(64 * 1024);
        buf.put_slice(&rest[..n]);
        self.at += n;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Script {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

fn masked_binary(len: usize) -> Vec<u8> {
    let key = [1, 2, 3, 4];
    let mut out = vec![0x82, 0x80 | 127];
    out.extend_from_slice(&(len as u64).to_be_bytes());
    out.extend_from_slice(&key);
    let mut payload = vec![0x5a; len];
    apply_mask(&mut payload, key, 0);
    out.extend_from_slice(&payload);
    out
}

/// Polls `fut` until it is pending (the connection waits for input) or done.
/// The server side of a connection over `stream` whose handshake is done: default
/// limits, no deflate.
fn server(stream: Script) -> WebSocket<Script> {
    WebSocket::from_raw(
        stream,
        Role::Server,
        Config::default(),
        None,
        BytesMut::new(),
    )
}

fn poll_until_pending<F: Future>(fut: &mut Pin<Box<F>>) -> Poll<F::Output> {
    let mut cx = Context::from_waker(Waker::noop());
    fut.as_mut().poll(&mut cx)
}

#[test]
fn memory_per_connection() {
    // Build the runtime context first: the adapter needs none, but keep it out of the count.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();

    // 1. Idle server connection, no deflate: the task future plus its heap.
    let before = live();
    let stream = Script {
        input: Vec::new(),
        at: 0,
    };
    let mut task = Box::pin(async move {
        let mut ws = server(stream);
        while let Some(Ok(_)) = ws.recv().await {}
    });
    assert!(poll_until_pending(&mut task).is_pending());
    let idle = live() - before;
    println!(
        "  of which the task future: {} bytes",
        std::mem::size_of_val(&*task)
    );
    drop(task);
    println!("idle server connection without deflate: {idle} bytes (task future + heap)");
    assert!(idle <= 2048, "idle connection uses {idle} bytes > 2 KiB");

    // 2. The same after a 1 MiB message: the read buffer shrinks back.
    let input = masked_binary(1 << 20);
    let before = live();
    let stream = Script { input, at: 0 };
    let mut task = Box::pin(async move {
        let mut ws = server(stream);
        let mut got = 0;
        while let Some(Ok(m)) = ws.recv().await {
            got += m.payload().len();
            assert_eq!(got, 1 << 20);
        }
    });
    assert!(poll_until_pending(&mut task).is_pending());
    let after_burst = live() - before;
    drop(task);
    println!("idle server connection after a 1 MiB message: {after_burst} bytes");
    assert!(
        after_burst <= 2048,
        "after a burst the connection keeps {after_burst} bytes"
    );

    // 3. permessage-deflate state per connection (sans-IO Connection, both directions).
    for bits in [15u8, 12, 9] {
        let params = DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: bits,
            client_max_window_bits: bits,
            level: 1,
        };
        let before = live();
        let fresh = Connection::new(Role::Server, Config::default(), Some(params));
        let base = live() - before;
        drop(fresh);
        let before = live();
        let mut c = ws_proto::deflate::Compressor::new(1, bits, false);
        let hello = c.compress(b"Hello").unwrap().to_vec();
        let compressor = live() - before - hello.capacity() as isize;
        let before = live();
        let mut d = ws_proto::deflate::Decompressor::new(bits, false);
        let mut out = Vec::new();
        d.decompress(&hello, &mut out, 16).unwrap();
        let decompressor = live() - before - out.capacity() as isize;
        drop((c, d, out));
        let with = compressor + decompressor;
        println!(
            "deflate at {bits} window bits: {with} heap bytes per connection once both directions \
             carried a message ({base} before the first): compressor {compressor}, decompressor {decompressor}"
        );
        assert!(base <= 512, "the zlib state is allocated lazily: {base}");
        assert!(with <= 512 * 1024, "{with}");
    }

    // 4. Without context takeover the zlib state is freed after every message
    //    (RFC 7692 §7.1.1): an idle connection holds none.
    let before = live();
    let mut c = ws_proto::deflate::Compressor::new(1, 15, true);
    let mut d = ws_proto::deflate::Decompressor::new(15, true);
    let message = c.compress(&[b'x'; 1000]).unwrap();
    let mut out = Vec::new();
    d.decompress(&message, &mut out, 2000).unwrap();
    d.finish_message(&mut out, 2000).unwrap();
    assert_eq!(out, vec![b'x'; 1000]);
    drop((message, out));
    let idle = live() - before;
    println!("deflate without context takeover, idle after a message: {idle} bytes");
    assert!(idle <= 256, "{idle}");
}
