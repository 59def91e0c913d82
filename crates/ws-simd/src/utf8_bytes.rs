//! [`Utf8Bytes`]: a `bytes::Bytes` known to contain valid UTF-8.

use core::borrow::Borrow;
use core::fmt;
use core::hash::{Hash, Hasher};
use core::ops::Deref;

use bytes::Bytes;

use crate::{Utf8Error, validate_utf8};

/// A [`Bytes`] known to contain valid UTF-8: a cheaply clonable, sliceable `str`.
///
/// Dereferences to `str`. Built by validating ([`try_from_bytes`](Self::try_from_bytes), with
/// the SIMD validator), from strings (`From<String>` without copying, `From<&str>` by copying,
/// [`from_static`](Self::from_static) without copying), or from bytes validated elsewhere
/// ([`from_bytes_unchecked`](Self::from_bytes_unchecked), e.g. after a
/// [`Utf8Validator`](crate::Utf8Validator) accepted every fragment of a message).
///
/// Comparison, ordering and hashing are those of `str`, so a `HashMap<Utf8Bytes, _>` can be
/// queried with a `&str`.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Utf8Bytes(Bytes);

impl Utf8Bytes {
    /// Validates `b` as UTF-8; on failure gives `b` back with the error.
    #[inline]
    pub fn try_from_bytes(b: Bytes) -> Result<Self, (Bytes, Utf8Error)> {
        match validate_utf8(&b) {
            Ok(()) => Ok(Self(b)),
            Err(e) => Err((b, e)),
        }
    }

    /// Wraps `b` without validating it.
    ///
    /// # Safety
    ///
    /// `b` must be valid UTF-8 (for instance, every piece of it was accepted by a
    /// [`Utf8Validator`](crate::Utf8Validator) whose [`finish`](crate::Utf8Validator::finish)
    /// succeeded).
    #[inline]
    pub const unsafe fn from_bytes_unchecked(b: Bytes) -> Self {
        Self(b)
    }

    /// A `Utf8Bytes` pointing at a static string, without copying.
    #[inline]
    pub const fn from_static(s: &'static str) -> Self {
        Self(Bytes::from_static(s.as_bytes()))
    }

    /// The contents as a `str`.
    #[inline]
    pub fn as_str(&self) -> &str {
        // SAFETY: every constructor guarantees valid UTF-8: `try_from_bytes` validated it,
        // `from_static`/`From<String>`/`From<&str>` started from a `str`, and
        // `from_bytes_unchecked` requires it of its caller. `Bytes` is immutable, so the
        // contents cannot change afterwards.
        unsafe { core::str::from_utf8_unchecked(&self.0) }
    }

    /// The contents as bytes.
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The underlying [`Bytes`].
    #[inline]
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Length in bytes.
    #[inline]
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the string is empty.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Deref for Utf8Bytes {
    type Target = str;

    #[inline]
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<str> for Utf8Bytes {
    #[inline]
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl AsRef<[u8]> for Utf8Bytes {
    #[inline]
    fn as_ref(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl Borrow<str> for Utf8Bytes {
    #[inline]
    fn borrow(&self) -> &str {
        self.as_str()
    }
}

/// Hashes like `str` (not like `Bytes`/`[u8]`, which hash differently), as `Borrow<str>`
/// requires.
impl Hash for Utf8Bytes {
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl fmt::Display for Utf8Bytes {
    #[inline]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for Utf8Bytes {
    #[inline]
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl From<String> for Utf8Bytes {
    /// Takes over the string's buffer, without copying.
    #[inline]
    fn from(s: String) -> Self {
        Self(Bytes::from(s.into_bytes()))
    }
}

impl From<&str> for Utf8Bytes {
    /// Copies the string (use [`Utf8Bytes::from_static`] for a `&'static str` to avoid it).
    #[inline]
    fn from(s: &str) -> Self {
        Self(Bytes::copy_from_slice(s.as_bytes()))
    }
}

impl From<Utf8Bytes> for Bytes {
    #[inline]
    fn from(s: Utf8Bytes) -> Self {
        s.0
    }
}

impl TryFrom<Bytes> for Utf8Bytes {
    /// The rejected bytes and the position of the error.
    type Error = (Bytes, Utf8Error);

    #[inline]
    fn try_from(b: Bytes) -> Result<Self, Self::Error> {
        Self::try_from_bytes(b)
    }
}

impl TryFrom<Vec<u8>> for Utf8Bytes {
    /// The rejected vector and the position of the error.
    type Error = (Vec<u8>, Utf8Error);

    #[inline]
    fn try_from(v: Vec<u8>) -> Result<Self, Self::Error> {
        match validate_utf8(&v) {
            Ok(()) => Ok(Self(Bytes::from(v))),
            Err(e) => Err((v, e)),
        }
    }
}

impl PartialEq<str> for Utf8Bytes {
    #[inline]
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Utf8Bytes {
    #[inline]
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Utf8Bytes {
    #[inline]
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other.as_str()
    }
}

impl PartialEq<Utf8Bytes> for str {
    #[inline]
    fn eq(&self, other: &Utf8Bytes) -> bool {
        self == other.as_str()
    }
}

impl PartialEq<Utf8Bytes> for &str {
    #[inline]
    fn eq(&self, other: &Utf8Bytes) -> bool {
        *self == other.as_str()
    }
}

impl PartialEq<Utf8Bytes> for String {
    #[inline]
    fn eq(&self, other: &Utf8Bytes) -> bool {
        self.as_str() == other.as_str()
    }
}
