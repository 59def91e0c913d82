//! [`Utf8Validator`]: UTF-8 validation of a message that arrives in pieces.

use super::scalar::{self, Prefix};
use super::{Utf8Error, validate_utf8};

/// Incremental UTF-8 validator for a message arriving in pieces (e.g. a fragmented WebSocket
/// text message, or one frame read in several reads).
///
/// [`feed`](Self::feed) fails as soon as the bytes seen so far can no longer be the beginning
/// of valid UTF-8 (an invalid byte, a bad continuation, an overlong form, a surrogate or a code
/// point above U+10FFFF), even when the offending sequence is cut by the end of the piece:
/// feeding `[0xF4, 0x90]` fails at once. [`finish`](Self::finish) then rejects a code point
/// left incomplete at the end of the message.
///
/// The total cost is O(bytes fed): each piece is validated once with the fast dispatched
/// validator; only the (at most 3) bytes of a code point split between pieces are carried and
/// looked at again. The state is a few bytes, with no heap allocation.
///
/// Error positions ([`Utf8Error::valid_up_to`]) count from the first byte ever fed, and match
/// what `std::str::from_utf8` reports for the concatenation of the pieces. After an error the
/// validator stays failed (every call returns the same error) until [`reset`](Self::reset).
///
/// ```
/// use ws_simd::Utf8Validator;
///
/// let mut v = Utf8Validator::new();
/// let crab = "🦀".as_bytes();
/// for b in crab {
///     v.feed(&[*b]).unwrap(); // a 4-byte code point split 1+1+1+1
/// }
/// v.finish().unwrap();
///
/// let mut v = Utf8Validator::new();
/// v.feed(b"ok ").unwrap();
/// let err = v.feed(&[0xF4, 0x90]).unwrap_err(); // > U+10FFFF whatever follows
/// assert_eq!(err.valid_up_to(), 3);
/// ```
#[derive(Clone, Debug, Default)]
pub struct Utf8Validator {
    /// Bytes fed so far, including the pieces that failed.
    seen: usize,
    /// The first error, once there is one.
    error: Option<Utf8Error>,
    /// The start of a code point cut by the end of the last piece.
    partial: [u8; 3],
    /// How many bytes of `partial` are in use (0 to 3).
    partial_len: u8,
}

impl Utf8Validator {
    /// A validator at the start of a message.
    #[inline]
    pub const fn new() -> Self {
        Self {
            seen: 0,
            error: None,
            partial: [0; 3],
            partial_len: 0,
        }
    }

    /// Feeds the next piece of the message.
    ///
    /// Fails as soon as the bytes seen so far (all pieces up to and including this one) can no
    /// longer be a prefix of valid UTF-8. An incomplete code point at the end of `piece` is
    /// accepted (and carried) as long as some continuation could still complete it.
    pub fn feed(&mut self, piece: &[u8]) -> Result<(), Utf8Error> {
        let base = self.seen;
        self.seen = self.seen.saturating_add(piece.len());
        if let Some(error) = self.error {
            return Err(error);
        }
        let mut rest = piece;
        let mut rest_base = base;

        // 1. Complete the code point carried over from the previous piece.
        if self.partial_len > 0 {
            let have = usize::from(self.partial_len);
            let width = scalar::lead_width(self.partial[0]);
            let take = (width - have).min(piece.len());
            let cp = join(&self.partial[..have], &piece[..take]);
            match scalar::classify(&cp[..have + take]) {
                Prefix::Invalid => return self.fail(base - have),
                Prefix::Incomplete => {
                    // `piece` was too short to complete it (so `take == piece.len()`).
                    self.partial = [cp[0], cp[1], cp[2]];
                    self.partial_len += take as u8;
                    return Ok(());
                }
                Prefix::Complete => {
                    self.partial_len = 0;
                    rest = &piece[take..];
                    rest_base = base + take;
                }
            }
        }

        // 2. Split off an incomplete code point at the end, validate the rest at full speed.
        let split = incomplete_tail_start(rest);
        let (bulk, tail) = rest.split_at(split);
        if let Err(e) = validate_utf8(bulk) {
            return self.fail(rest_base + e.valid_up_to());
        }

        // 3. The tail must be the start of some valid code point.
        if !tail.is_empty() {
            match scalar::classify(tail) {
                Prefix::Incomplete => {
                    let t = join(tail, &[]);
                    self.partial = [t[0], t[1], t[2]];
                    self.partial_len = tail.len() as u8;
                }
                Prefix::Invalid | Prefix::Complete => return self.fail(rest_base + split),
            }
        }
        Ok(())
    }

    /// Declares the message complete: fails if a code point was left incomplete (or if an
    /// earlier [`feed`](Self::feed) failed). Does not change the state.
    pub fn finish(&self) -> Result<(), Utf8Error> {
        if let Some(error) = self.error {
            return Err(error);
        }
        if self.partial_len > 0 {
            return Err(Utf8Error::new(self.seen - usize::from(self.partial_len)));
        }
        Ok(())
    }

    /// Forgets everything, ready for a new message.
    #[inline]
    pub fn reset(&mut self) {
        *self = Self::new();
    }

    /// Total number of bytes fed since creation or the last [`reset`](Self::reset).
    #[inline]
    pub fn bytes_seen(&self) -> usize {
        self.seen
    }

    /// Whether the bytes fed so far end in the middle of a code point.
    #[inline]
    pub fn is_incomplete(&self) -> bool {
        self.partial_len > 0
    }

    #[cold]
    fn fail(&mut self, valid_up_to: usize) -> Result<(), Utf8Error> {
        let error = Utf8Error::new(valid_up_to);
        self.error = Some(error);
        self.partial_len = 0;
        Err(error)
    }
}

/// `a` followed by `b` (at most 4 bytes in all) in a zero-filled array. Written with fixed
/// indices: these copies are 1 to 3 bytes, and a byte loop would become a `memcpy` call.
#[inline(always)]
fn join(a: &[u8], b: &[u8]) -> [u8; 4] {
    debug_assert!(a.len() + b.len() <= 4);
    let mut out = [0u8; 4];
    let at = |s: &[u8], i: usize| s.get(i).copied().unwrap_or(0);
    let n = a.len();
    out[0] = at(a, 0);
    out[1] = at(a, 1);
    out[2] = at(a, 2);
    for (k, slot) in out.iter_mut().enumerate() {
        if k >= n && k - n < b.len() {
            *slot = b[k - n];
        }
    }
    out
}

/// Where a code point that `bytes` cuts off at the end starts (its valid lead byte is among
/// the last 3 bytes and needs more bytes than remain), or `bytes.len()` if there is none.
/// A byte that can never start a code point stays in the bulk, whose validation rejects it.
#[inline]
fn incomplete_tail_start(bytes: &[u8]) -> usize {
    let len = bytes.len();
    for back in 1..=len.min(3) {
        let b = bytes[len - back];
        if !scalar::is_continuation(b) {
            return if scalar::lead_width(b) > back {
                len - back
            } else {
                len
            };
        }
    }
    len
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fails_at_once(bytes: &[u8]) {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(bytes), Err(Utf8Error::new(0)), "{bytes:x?}");
        // Sticky.
        assert_eq!(v.feed(b"a"), Err(Utf8Error::new(0)));
        assert_eq!(v.finish(), Err(Utf8Error::new(0)));
        // Also when the bytes come one at a time after a valid prefix: the last one fails.
        let mut v = Utf8Validator::new();
        v.feed(b"abc").unwrap();
        for (i, b) in bytes.iter().enumerate() {
            let r = v.feed(&[*b]);
            if i + 1 < bytes.len() {
                assert_eq!(r, Ok(()), "{bytes:x?} byte {i}");
            } else {
                assert_eq!(r, Err(Utf8Error::new(3)), "{bytes:x?} byte {i}");
            }
        }
    }

    #[test]
    fn fail_fast_cases() {
        fails_at_once(&[0xF4, 0x90]); // > U+10FFFF
        fails_at_once(&[0xED, 0xA0]); // surrogate
        fails_at_once(&[0xE0, 0x80]); // overlong
        fails_at_once(&[0xF0, 0x80]); // overlong
        fails_at_once(&[0xC0]);
        fails_at_once(&[0xC1]);
        fails_at_once(&[0xF5]);
        fails_at_once(&[0xFF]);
        fails_at_once(&[0x80]);
        fails_at_once(&[0xE1, 0x41]);
        fails_at_once(&[0xF1, 0x80, 0xC0]);
    }

    #[test]
    fn four_byte_char_split_every_way() {
        let s = "a🦀b".as_bytes();
        for i in 0..=s.len() {
            for j in i..=s.len() {
                for k in j..=s.len() {
                    let mut v = Utf8Validator::new();
                    for piece in [&s[..i], &s[i..j], &s[j..k], &s[k..]] {
                        v.feed(piece).unwrap();
                    }
                    v.finish().unwrap();
                    assert_eq!(v.bytes_seen(), s.len());
                }
            }
        }
        let mut v = Utf8Validator::new();
        for b in "🦀".as_bytes() {
            assert!(v.finish().is_ok() != v.is_incomplete());
            v.feed(&[*b]).unwrap();
        }
        v.finish().unwrap();
    }

    #[test]
    fn incomplete_at_finish() {
        let mut v = Utf8Validator::new();
        v.feed(b"ab").unwrap();
        v.feed(&[0xF0, 0x9F]).unwrap();
        v.feed(&[0xA6]).unwrap();
        assert!(v.is_incomplete());
        assert_eq!(v.finish(), Err(Utf8Error::new(2)));
        v.reset();
        assert_eq!(v.bytes_seen(), 0);
        v.finish().unwrap();
        v.feed(&[0xC3]).unwrap();
        assert_eq!(v.finish(), Err(Utf8Error::new(0)));
        v.feed(&[0xA9]).unwrap();
        v.finish().unwrap();
        v.feed(&[]).unwrap();
        v.finish().unwrap();
    }

    #[test]
    fn carried_sequence_broken_later() {
        let mut v = Utf8Validator::new();
        v.feed(b"xyz\xF0").unwrap();
        v.feed(b"\x9F").unwrap();
        assert_eq!(v.feed(b"\xA6A"), Err(Utf8Error::new(3)));
        assert_eq!(v.bytes_seen(), 7);
    }

    #[test]
    fn is_small() {
        assert!(core::mem::size_of::<Utf8Validator>() <= 32);
    }
}
