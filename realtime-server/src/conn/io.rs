//! The driver for any `AsyncRead + AsyncWrite` stream (TLS): the same contract as
//! the lean TCP driver ([`super::tcp`]) — reads never wait for writes, reading
//! pauses while the protocol asks for back-pressure, a closing connection
//! lingers to write what it has — built on `poll_read` / `poll_write` because a
//! TLS stream has no readiness API.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::watch;
use tokio::time::Instant;

use super::tcp::{DriverConfig, Ended};
use super::{OutQueue, Protocol, Status};

/// What one poll of the stream produced.
enum IoEvent {
    /// This many bytes were read into the input buffer.
    Read(usize),
    /// The peer closed its side.
    Eof,
    /// Output was written (the protocol may now want to read again).
    Wrote,
    /// The stream failed.
    Failed(io::Error),
}

/// Writes as much of `out` as the stream takes now, then flushes once it is empty;
/// `Ready(true)` if anything moved.
fn poll_write_out<S: AsyncWrite + Unpin>(
    stream: &mut S,
    out: &mut OutQueue,
    unflushed: &mut bool,
    cx: &mut Context<'_>,
) -> Poll<io::Result<bool>> {
    let mut moved = false;
    while !out.is_empty() {
        let result = {
            let mut slices = [IoSlice::new(&[]); 64];
            let n = out.fill_slices(&mut slices);
            Pin::new(&mut *stream).poll_write_vectored(cx, slices.get(..n).unwrap_or_default())
        };
        match result {
            Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
            Poll::Ready(Ok(n)) => {
                out.advance(n);
                *unflushed = true;
                moved = true;
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {
                return if moved {
                    Poll::Ready(Ok(true))
                } else {
                    Poll::Pending
                };
            }
        }
    }
    if *unflushed {
        match Pin::new(&mut *stream).poll_flush(cx) {
            Poll::Ready(Ok(())) => {
                *unflushed = false;
                moved = true;
            }
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => {}
        }
    }
    if moved {
        Poll::Ready(Ok(true))
    } else {
        Poll::Pending
    }
}

fn poll_io<S: AsyncRead + AsyncWrite + Unpin>(
    stream: &mut S,
    out: &mut OutQueue,
    unflushed: &mut bool,
    input: &mut BytesMut,
    can_read: bool,
    chunk: usize,
    cx: &mut Context<'_>,
) -> Poll<IoEvent> {
    let wrote = match poll_write_out(stream, out, unflushed, cx) {
        Poll::Ready(Ok(moved)) => moved,
        Poll::Ready(Err(e)) => return Poll::Ready(IoEvent::Failed(e)),
        Poll::Pending => false,
    };
    if can_read {
        // Read into zeroed spare room (no `unsafe`): the cost is a memset of
        // one chunk per read.
        let before = input.len();
        input.resize(before + chunk, 0);
        let result = {
            let mut buf = ReadBuf::new(input.get_mut(before..).unwrap_or_default());
            match Pin::new(&mut *stream).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) => Poll::Ready(Ok(buf.filled().len())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            }
        };
        match result {
            Poll::Ready(Ok(0)) => {
                input.truncate(before);
                return Poll::Ready(IoEvent::Eof);
            }
            Poll::Ready(Ok(n)) => {
                input.truncate(before + n);
                return Poll::Ready(IoEvent::Read(n));
            }
            Poll::Ready(Err(e)) => {
                input.truncate(before);
                return Poll::Ready(IoEvent::Failed(e));
            }
            Poll::Pending => input.truncate(before),
        }
    }
    if wrote {
        Poll::Ready(IoEvent::Wrote)
    } else {
        Poll::Pending
    }
}

/// Runs `proto` over `stream` (any `AsyncRead + AsyncWrite`, e.g. TLS) until
/// either side closes; `input` holds bytes already read. Same contract as
/// [`super::tcp::drive_with_input`].
///
/// Not an `async fn`, for the reason given there: the captured values are used in
/// place instead of being kept twice.
#[allow(clippy::manual_async_fn)] // see above: not an `async fn` on purpose
pub fn drive_with_input<S, P>(
    mut stream: S,
    mut proto: P,
    mut input: BytesMut,
    wake: Arc<crate::conn::ConnWake>,
    mut shutdown: watch::Receiver<bool>,
    config: &DriverConfig,
) -> impl Future<Output = Ended>
where
    S: AsyncRead + AsyncWrite + Unpin,
    P: Protocol,
{
    async move {
        let mut unflushed = false;
        if !input.is_empty() && proto.on_read(&mut input, now()) == Status::Close {
            return linger(
                &mut stream,
                proto,
                &mut unflushed,
                config.linger,
                Ended::Closed,
            )
            .await;
        }
        let mut shutting_down = *shutdown.borrow();
        if shutting_down {
            let _ = proto.on_shutdown(now());
            return linger(
                &mut stream,
                proto,
                &mut unflushed,
                config.linger,
                Ended::Closed,
            )
            .await;
        }
        let mut rate = super::rate::ReadRate::new(config.max_read_rate);
        let far = Instant::now() + Duration::from_secs(86_400 * 365);
        let sleep = tokio::time::sleep_until(far);
        tokio::pin!(sleep);
        let mut was_paused = false;
        loop {
            let paused = proto.read_paused();
            if was_paused && !paused && !input.is_empty() {
                // Reading resumes: what arrived while paused is handed over first.
                if proto.on_read(&mut input, now()) == Status::Close {
                    return linger(
                        &mut stream,
                        proto,
                        &mut unflushed,
                        config.linger,
                        Ended::Closed,
                    )
                    .await;
                }
            }
            was_paused = proto.read_paused();
            let deadline = proto
                .deadline()
                .map(Instant::from_std)
                .into_iter()
                .chain(rate.resume_at())
                .min();
            if let Some(d) = deadline
                && sleep.deadline() != d
            {
                sleep.as_mut().reset(d);
            }
            let can_read = !was_paused && rate.resume_at().is_none();
            let chunk = config.read_chunk;
            let out = proto.output();
            let io = std::future::poll_fn(|cx| {
                poll_io(
                    &mut stream,
                    out,
                    &mut unflushed,
                    &mut input,
                    can_read,
                    chunk,
                    cx,
                )
            });
            let status = tokio::select! {
                biased;
                changed = shutdown.changed(), if !shutting_down => {
                    shutting_down = true;
                    let _ = changed;
                    proto.on_shutdown(now())
                }
                event = io => match event {
                    IoEvent::Read(n) => {
                        rate.consumed(n);
                        let status = proto.on_read(&mut input, now());
                        if input.is_empty() {
                            input = BytesMut::new();
                        }
                        status
                    }
                    IoEvent::Eof => {
                        proto.on_eof(now());
                        return linger(&mut stream, proto, &mut unflushed, config.linger, Ended::PeerClosed).await;
                    }
                    IoEvent::Wrote => Status::Open,
                    IoEvent::Failed(err) => {
                        proto.on_eof(now());
                        return Ended::Io(err);
                    }
                },
                () = wake.notified() => proto.on_wake(now()),
                () = &mut sleep, if deadline.is_some() => {
                    sleep.as_mut().reset(far);
                    if proto.deadline().is_some_and(|d| d <= now()) {
                        proto.on_timer(now())
                    } else {
                        Status::Open
                    }
                }
            };
            if status == Status::Close {
                return linger(
                    &mut stream,
                    proto,
                    &mut unflushed,
                    config.linger,
                    Ended::Closed,
                )
                .await;
            }
        }
    }
}

fn now() -> std::time::Instant {
    Instant::now().into_std()
}

/// Writes and flushes what is queued, then closes the stream (TLS: close_notify),
/// then reads and drops what the peer still sends until it closes too, all within
/// `limit`: the lingering close of [`super::tcp`], so that a peer still sending
/// reads the last words instead of a reset (RFC 9293 §3.6).
/// The protocol state is dropped before the wait for the peer, as there.
///
/// Boxed, as in [`super::tcp`]: only a closing connection pays for this state.
fn linger<'a, S: AsyncRead + AsyncWrite + Unpin, P: Protocol + 'a>(
    stream: &'a mut S,
    proto: P,
    unflushed: &'a mut bool,
    limit: Duration,
    ended: Ended,
) -> std::pin::Pin<Box<impl Future<Output = Ended> + 'a>> {
    Box::pin(linger_inner(stream, proto, unflushed, limit, ended))
}

async fn linger_inner<S: AsyncRead + AsyncWrite + Unpin, P: Protocol>(
    stream: &mut S,
    mut proto: P,
    unflushed: &mut bool,
    limit: Duration,
    ended: Ended,
) -> Ended {
    let deadline = Instant::now() + limit;
    let out = proto.output();
    let flush = async {
        while !out.is_empty() || *unflushed {
            std::future::poll_fn(|cx| match poll_write_out(stream, out, unflushed, cx) {
                Poll::Ready(Ok(_)) => Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                Poll::Pending => Poll::Pending,
            })
            .await?;
        }
        stream.shutdown().await
    };
    match tokio::time::timeout_at(deadline, flush).await {
        Ok(Ok(())) => {}
        Ok(Err(err)) if err.kind() == io::ErrorKind::NotConnected => return ended,
        Ok(Err(err)) => return Ended::Io(err),
        Err(_) => return Ended::LingerExpired,
    }
    drop(proto);
    let drain = async {
        let mut scratch = [0u8; 4096];
        while let Ok(1..) = tokio::io::AsyncReadExt::read(stream, &mut scratch).await {}
    };
    let _ = tokio::time::timeout_at(deadline, drain).await;
    ended
}
