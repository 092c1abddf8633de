//! Incremental UTF-8 validation across fragments (RFC 6455 §5.6, §8.1).
//!
//! A text message may be split anywhere, even inside a character. [`Utf8Validator`] keeps
//! the (at most 3) bytes of an unfinished character between calls and reports an error
//! at the first byte that cannot start or continue a valid sequence: an invalid message
//! fails as soon as the offending byte arrives, not at the end of the message. The bulk
//! of each chunk goes through `simdutf8`'s SIMD validator.

use simdutf8::compat::from_utf8;

/// The input is not valid UTF-8 (RFC 3629, as required by RFC 6455 §8.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Utf8Error;

/// Validates a complete byte string, returning it as `&str`.
pub fn validate_complete(bytes: &[u8]) -> Result<&str, Utf8Error> {
    from_utf8(bytes).map_err(|_| Utf8Error)
}

/// The streaming validator: feed chunks with [`Utf8Validator::feed`], then
/// [`Utf8Validator::finish`] at the end of the message.
///
/// ```
/// use ws_proto::utf8::Utf8Validator;
/// let mut v = Utf8Validator::new();
/// let euro = "€".as_bytes(); // 3 bytes
/// v.feed(&euro[..1]).unwrap();
/// v.feed(&euro[1..]).unwrap();
/// v.finish().unwrap();
/// // 0xF4 0x90 can never start a valid character: rejected at once.
/// assert!(Utf8Validator::new().feed(&[0xF4, 0x90]).is_err());
/// ```
#[derive(Debug, Clone, Default)]
pub struct Utf8Validator {
    pending: [u8; 4],
    pending_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    pub const fn new() -> Self {
        Self {
            pending: [0; 4],
            pending_len: 0,
        }
    }

    /// Validates the next chunk. Errors at the first byte that makes the input invalid,
    /// whatever follows; an unfinished character at the end of `input` is kept for the
    /// next call.
    pub fn feed(&mut self, mut input: &[u8]) -> Result<(), Utf8Error> {
        if self.pending_len > 0 {
            let have = usize::from(self.pending_len);
            let need = sequence_len(self.pending[0]).saturating_sub(have);
            let take = need.min(input.len());
            let (head, rest) = input.split_at(take);
            let end = have + take;
            self.pending
                .get_mut(have..end)
                .ok_or(Utf8Error)?
                .copy_from_slice(head);
            let candidate = self.pending.get(..end).ok_or(Utf8Error)?;
            match std::str::from_utf8(candidate) {
                Ok(_) => self.pending_len = 0,
                Err(e) if e.error_len().is_none() => {
                    // Still a valid prefix, and `input` is exhausted.
                    self.pending_len = end as u8;
                    return Ok(());
                }
                Err(_) => return Err(Utf8Error),
            }
            input = rest;
        }
        match from_utf8(input) {
            Ok(_) => Ok(()),
            Err(e) if e.error_len().is_none() => {
                let tail = input.get(e.valid_up_to()..).ok_or(Utf8Error)?;
                self.pending
                    .get_mut(..tail.len())
                    .ok_or(Utf8Error)?
                    .copy_from_slice(tail);
                self.pending_len = tail.len() as u8;
                Ok(())
            }
            Err(_) => Err(Utf8Error),
        }
    }

    /// Ends the message: an unfinished character is an error. Resets for the next message.
    pub fn finish(&mut self) -> Result<(), Utf8Error> {
        let incomplete = self.pending_len > 0;
        self.pending_len = 0;
        if incomplete { Err(Utf8Error) } else { Ok(()) }
    }

    /// Forgets any unfinished character (a new message starts).
    pub fn reset(&mut self) {
        self.pending_len = 0;
    }
}

/// The length of the sequence a valid lead byte starts (1 for anything else).
fn sequence_len(lead: u8) -> usize {
    match lead {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn validate_split(data: &[u8], cuts: &[usize]) -> bool {
        let mut v = Utf8Validator::new();
        let mut start = 0;
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        cuts.sort_unstable();
        for cut in cuts {
            if v.feed(&data[start..cut]).is_err() {
                return false;
            }
            start = cut;
        }
        v.feed(&data[start..]).is_ok() && v.finish().is_ok()
    }

    proptest! {
        /// RFC 6455 §8.1: the streaming validator agrees with `std::str::from_utf8` on
        /// arbitrary bytes split at arbitrary points.
        #[test]
        fn rfc6455_8_1_streaming_agrees_with_std_on_bytes(
            data in proptest::collection::vec(any::<u8>(), 0..64),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            prop_assert_eq!(validate_split(&data, &cuts), std::str::from_utf8(&data).is_ok());
        }

        /// The same on mostly valid text with one byte possibly corrupted.
        #[test]
        fn rfc6455_8_1_streaming_agrees_with_std_on_text(
            text in "\\PC{0,40}",
            corrupt in any::<Option<(usize, u8)>>(),
            cuts in proptest::collection::vec(any::<usize>(), 0..6),
        ) {
            let mut data = text.into_bytes();
            if let (Some((i, b)), false) = (corrupt, data.is_empty()) {
                let i = i % data.len();
                data[i] = b;
            }
            prop_assert_eq!(validate_split(&data, &cuts), std::str::from_utf8(&data).is_ok());
        }
    }

    /// RFC 6455 §8.1 (Autobahn 6.4.x): the error is reported on the chunk holding the first
    /// invalid byte, not later.
    #[test]
    fn rfc6455_8_1_fails_at_first_invalid_byte() {
        let mut v = Utf8Validator::new();
        v.feed("κόσμε".as_bytes()).unwrap();
        assert!(
            v.feed(&[
                0xCE, 0xBA, 0xE1, 0xBD, 0xB9, 0xCF, 0x83, 0xCE, 0xBC, 0xCE, 0xB5, 0xF4, 0x90
            ])
            .is_err()
        );
        let mut v = Utf8Validator::new();
        v.feed(&[0xF4]).unwrap();
        assert!(v.feed(&[0x90]).is_err());
        let mut v = Utf8Validator::new();
        v.feed(&[0xED, 0x9F]).unwrap();
        assert!(v.feed(&[0xBF]).is_ok());
        let mut v = Utf8Validator::new();
        v.feed(&[0xED]).unwrap();
        assert!(v.feed(&[0xA0]).is_err(), "surrogates are invalid");
        let mut v = Utf8Validator::new();
        v.feed(&[0xE2, 0x82]).unwrap();
        assert!(v.finish().is_err(), "an unfinished character at the end");
    }
}
