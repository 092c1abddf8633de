//! [`OutQueue`]: bytes waiting to be written, as small writes coalesced into one
//! buffer plus shared payloads written in place (vectored), never copied.

use std::collections::VecDeque;
use std::io::IoSlice;

use bytes::{Buf, Bytes, BytesMut};

/// Payloads at least this large are queued by reference instead of copied into
/// the coalescing buffer.
pub const SHARE_THRESHOLD: usize = 1024;

/// The coalescing buffer's first allocation after it was released.
const FIRST_RESERVE: usize = 512;

/// A write queue of byte chunks.
///
/// ```
/// use bytes::Bytes;
/// use realtime_server::conn::OutQueue;
///
/// let mut out = OutQueue::default();
/// out.put_slice(b"header");
/// out.put_bytes(Bytes::from(vec![7u8; 4096]));
/// assert_eq!(out.len(), 6 + 4096);
/// let mut slices = [std::io::IoSlice::new(&[]); 8];
/// assert_eq!(out.fill_slices(&mut slices), 2);
/// ```
#[derive(Debug, Default)]
pub struct OutQueue {
    /// Frozen chunks, in order, before `tail`.
    chunks: VecDeque<Bytes>,
    /// Total length of `chunks`.
    chunks_len: usize,
    /// Small writes being coalesced; goes after `chunks`.
    tail: BytesMut,
}

impl OutQueue {
    /// Total queued bytes.
    pub fn len(&self) -> usize {
        self.chunks_len + self.tail.len()
    }

    /// Whether nothing is queued.
    pub fn is_empty(&self) -> bool {
        self.chunks_len == 0 && self.tail.is_empty()
    }

    /// Appends a copy of `data` (for headers and small packets).
    pub fn put_slice(&mut self, data: &[u8]) {
        if self.tail.capacity() == 0 {
            // The buffer is released whenever everything has been written, so each
            // batch starts from nothing: one allocation of a useful size instead of a
            // chain of reallocations through 18, 36, 72... bytes.
            self.tail.reserve(data.len().max(FIRST_RESERVE));
        }
        self.tail.extend_from_slice(data);
    }

    /// Appends copies of `a` then `b` (a frame header and a small payload) with one
    /// capacity check.
    pub fn put_two(&mut self, a: &[u8], b: &[u8]) {
        let len = a.len() + b.len();
        if self.tail.capacity() == 0 {
            // As in `put_slice`: a released buffer starts at a useful size.
            self.tail.reserve(len.max(FIRST_RESERVE));
        } else {
            self.tail.reserve(len);
        }
        self.tail.extend_from_slice(a);
        self.tail.extend_from_slice(b);
    }

    /// The coalescing buffer, for encoders that append to a `BytesMut` directly.
    pub fn tail_mut(&mut self) -> &mut BytesMut {
        &mut self.tail
    }

    /// Appends a shared payload: large ones by reference, small ones copied.
    pub fn put_bytes(&mut self, data: Bytes) {
        if data.len() < SHARE_THRESHOLD {
            self.put_slice(&data);
            return;
        }
        self.put_chunk(data);
    }

    /// [`OutQueue::put_bytes`] for a payload the caller keeps (one frame queued on
    /// many connections): small ones are copied without taking a reference.
    pub fn put_shared(&mut self, data: &Bytes) {
        if data.len() < SHARE_THRESHOLD {
            self.put_slice(data);
        } else {
            self.put_chunk(data.clone());
        }
    }

    fn put_chunk(&mut self, data: Bytes) {
        if !self.tail.is_empty() {
            let head = self.tail.split().freeze();
            self.chunks_len += head.len();
            self.chunks.push_back(head);
        }
        self.chunks_len += data.len();
        self.chunks.push_back(data);
    }

    /// Fills `out` (up to its length) with the slices to write next, without
    /// allocating; returns how many were filled.
    pub fn fill_slices<'a>(&'a self, out: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for (slot, chunk) in out.iter_mut().zip(self.chunks.iter()) {
            *slot = IoSlice::new(chunk);
            n += 1;
        }
        if n == self.chunks.len()
            && !self.tail.is_empty()
            && let Some(slot) = out.get_mut(n)
        {
            *slot = IoSlice::new(&self.tail);
            n += 1;
        }
        n
    }

    /// Drops the first `n` written bytes.
    pub fn advance(&mut self, mut n: usize) {
        while n > 0 {
            match self.chunks.front_mut() {
                Some(front) if front.len() <= n => {
                    n -= front.len();
                    self.chunks_len -= front.len();
                    self.chunks.pop_front();
                }
                Some(front) => {
                    front.advance(n);
                    self.chunks_len -= n;
                    return;
                }
                None => {
                    self.tail.advance(n.min(self.tail.len()));
                    break;
                }
            }
        }
        if self.is_empty() {
            self.release();
        }
    }

    /// Takes everything queued as one `Bytes` (no copy when it is a single chunk).
    pub fn take_all(&mut self) -> bytes::Bytes {
        if self.chunks.is_empty() {
            let all = self.tail.split().freeze();
            self.release();
            return all;
        }
        if self.chunks.len() == 1 && self.tail.is_empty() {
            let all = self.chunks.pop_front().unwrap_or_default();
            self.release();
            return all;
        }
        let mut all = BytesMut::with_capacity(self.len());
        for chunk in &self.chunks {
            all.extend_from_slice(chunk);
        }
        all.extend_from_slice(&self.tail);
        self.release();
        all.freeze()
    }

    /// Frees the buffers' memory (an idle connection holds no write buffer).
    pub fn release(&mut self) {
        self.chunks = VecDeque::new();
        self.chunks_len = 0;
        self.tail = BytesMut::new();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn drain_all(q: &mut OutQueue, step: usize) -> Vec<u8> {
        let mut written = Vec::new();
        while !q.is_empty() {
            // Three slots: more chunks than fit must wait for the next round.
            let mut slots = [IoSlice::new(&[]); 3];
            let filled = q.fill_slices(&mut slots);
            let mut n = 0;
            for s in &slots[..filled] {
                let take = (step - n).min(s.len());
                written.extend_from_slice(&s[..take]);
                n += take;
                if n == step {
                    break;
                }
            }
            q.advance(n);
        }
        written
    }

    proptest! {
        /// Whatever mix of small and shared writes, partial writes of any size
        /// deliver exactly the bytes queued, in order.
        #[test]
        fn writes_come_out_in_order(parts in proptest::collection::vec((0u8..3, proptest::collection::vec(any::<u8>(), 0..3000)), 0..12), step in 1usize..5000) {
            let mut q = OutQueue::default();
            let mut expected = Vec::new();
            let mut kept = Vec::new();
            for (kind, data) in &parts {
                expected.extend_from_slice(data);
                match kind {
                    0 => q.put_slice(data),
                    1 => q.put_bytes(Bytes::from(data.clone())),
                    _ => {
                        // A frame shared by many connections: the caller keeps it.
                        let shared = Bytes::from(data.clone());
                        q.put_shared(&shared);
                        kept.push(shared);
                    }
                }
            }
            prop_assert_eq!(q.len(), expected.len());
            prop_assert_eq!(drain_all(&mut q, step), expected);
            prop_assert_eq!(q.tail.capacity(), 0, "buffers released when drained");
        }

        /// `take_all` returns exactly the queued bytes and empties the queue.
        #[test]
        fn take_all_returns_everything(parts in proptest::collection::vec((any::<bool>(), proptest::collection::vec(any::<u8>(), 0..3000)), 0..8)) {
            let mut q = OutQueue::default();
            let mut expected = Vec::new();
            for (shared, data) in &parts {
                expected.extend_from_slice(data);
                if *shared { q.put_bytes(Bytes::from(data.clone())) } else { q.put_slice(data) }
            }
            prop_assert_eq!(&q.take_all()[..], &expected[..]);
            prop_assert!(q.is_empty());
        }
    }
}
