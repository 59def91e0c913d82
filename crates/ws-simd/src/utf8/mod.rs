//! UTF-8 validation: whole buffers ([`validate_utf8`]) and messages arriving in pieces
//! ([`Utf8Validator`]).
//!
//! [`validate_utf8`] uses the best implementation for this CPU, detected at first use and
//! cached; inputs shorter than 16 bytes use the scalar path directly. [`validate_with`] forces
//! one implementation, for tests and benchmarks.
//!
//! The vector implementations (the lookup algorithm of Keiser & Lemire with a 64-byte ASCII
//! fast path) only decide valid/invalid; on invalid input the exact position is recovered by
//! the scalar validator restarted a few bytes before the failing 64-byte chunk, so errors are
//! reported exactly like `std::str::from_utf8` reports them, in O(n).

use core::fmt;
use core::sync::atomic::{AtomicU8, Ordering};

use crate::Implementation;

mod incremental;
#[cfg(all(feature = "simd", target_arch = "aarch64"))]
mod neon;
mod scalar;
#[cfg(all(feature = "simd", any(target_arch = "x86_64", target_arch = "aarch64")))]
mod simd;
#[cfg(all(feature = "simd", target_arch = "x86_64"))]
mod x86;

pub use incremental::Utf8Validator;

/// Below this length [`validate_utf8`] uses the scalar path directly.
const SMALL: usize = 16;

/// The cached choice of [`selected`]: 0 until detected, then `Implementation::to_u8`.
static SELECTED: AtomicU8 = AtomicU8::new(0);

/// Invalid UTF-8 (or, for [`Utf8Validator::finish`], a code point left incomplete).
///
/// [`valid_up_to`](Utf8Error::valid_up_to) has the meaning of
/// [`std::str::Utf8Error::valid_up_to`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Utf8Error {
    valid_up_to: usize,
}

impl Utf8Error {
    #[inline]
    pub(crate) const fn new(valid_up_to: usize) -> Self {
        Self { valid_up_to }
    }

    /// The index of the first byte of the invalid (or incomplete) sequence: the input up to it
    /// is valid UTF-8. For [`Utf8Validator`], an index into everything fed so far.
    #[inline]
    pub const fn valid_up_to(&self) -> usize {
        self.valid_up_to
    }
}

impl fmt::Display for Utf8Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid utf-8: invalid or incomplete sequence at index {}",
            self.valid_up_to
        )
    }
}

impl std::error::Error for Utf8Error {}

/// Checks that `buf` is valid UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above
/// U+10FFFF, no truncated sequence at the end).
///
/// Same verdict and same [`Utf8Error::valid_up_to`] as `std::str::from_utf8`.
///
/// ```
/// assert!(ws_simd::validate_utf8("héllo wörld 🦀".as_bytes()).is_ok());
/// let err = ws_simd::validate_utf8(b"abc\xED\xA0\x80").unwrap_err(); // a surrogate
/// assert_eq!(err.valid_up_to(), 3);
/// ```
#[inline]
pub fn validate_utf8(buf: &[u8]) -> Result<(), Utf8Error> {
    if buf.len() < SMALL {
        return scalar::validate(buf).map_err(Utf8Error::new);
    }
    // SAFETY: `selected()` only returns an implementation that `detect()` found supported.
    unsafe { validate_unchecked(selected(), buf) }
}

/// `buf` as a `&str` when it is valid UTF-8: `std::str::from_utf8` with this crate's
/// validator.
///
/// ```
/// assert_eq!(ws_simd::from_utf8(b"hello").unwrap(), "hello");
/// assert_eq!(ws_simd::from_utf8(b"ab\xff").unwrap_err().valid_up_to(), 2);
/// ```
#[inline]
pub fn from_utf8(buf: &[u8]) -> Result<&str, Utf8Error> {
    validate_utf8(buf)?;
    // SAFETY: `validate_utf8` accepted `buf`, and it gives the same verdict as std.
    Ok(unsafe { core::str::from_utf8_unchecked(buf) })
}

/// [`validate_utf8`] with a forced implementation (no small-input shortcut either).
///
/// # Panics
///
/// If `imp` is not in [`available()`]: an implementation the CPU (or this build) lacks is never
/// executed.
pub fn validate_with(imp: Implementation, buf: &[u8]) -> Result<(), Utf8Error> {
    assert!(
        is_available(imp),
        "ws-simd: UTF-8 implementation `{imp}` is not available on this CPU/build (available: {:?})",
        available()
    );
    // SAFETY: checked just above.
    unsafe { validate_unchecked(imp, buf) }
}

/// The UTF-8 implementations this CPU and build support, slowest first (the last one is what
/// [`selected`] picks). Always starts with [`Implementation::Scalar`].
pub fn available() -> Vec<Implementation> {
    [
        Implementation::Scalar,
        Implementation::Sse41,
        Implementation::Avx2,
        Implementation::Avx512,
        Implementation::Neon,
    ]
    .into_iter()
    .filter(|&imp| is_available(imp))
    .collect()
}

/// Whether `imp` is a UTF-8 implementation that this CPU and build support.
pub fn is_available(imp: Implementation) -> bool {
    match imp {
        Implementation::Scalar => true,
        #[cfg(all(feature = "simd", target_arch = "x86_64"))]
        Implementation::Sse41 => {
            std::arch::is_x86_feature_detected!("ssse3")
                && std::arch::is_x86_feature_detected!("sse4.1")
        }
        #[cfg(all(feature = "simd", target_arch = "x86_64"))]
        Implementation::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
        #[cfg(all(feature = "simd", target_arch = "x86_64"))]
        Implementation::Avx512 => {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx512bw")
        }
        #[cfg(all(feature = "simd", target_arch = "aarch64"))]
        Implementation::Neon => std::arch::is_aarch64_feature_detected!("neon"),
        _ => false,
    }
}

/// The implementation [`validate_utf8`] uses on this CPU (detected once, then cached).
#[inline]
pub fn selected() -> Implementation {
    match Implementation::from_u8(SELECTED.load(Ordering::Relaxed)) {
        Some(imp) => imp,
        None => detect(),
    }
}

/// Picks the best available implementation and caches it. Racing threads store the same value.
#[cold]
#[inline(never)]
fn detect() -> Implementation {
    let imp = available()
        .last()
        .copied()
        .unwrap_or(Implementation::Scalar);
    SELECTED.store(imp.to_u8(), Ordering::Relaxed);
    imp
}

/// Validates `buf` with `imp`.
///
/// # Safety
///
/// `imp` must be supported by the running CPU (and compiled into this build).
#[inline]
unsafe fn validate_unchecked(imp: Implementation, buf: &[u8]) -> Result<(), Utf8Error> {
    match imp {
        #[cfg(all(feature = "simd", target_arch = "x86_64"))]
        // SAFETY: the caller guarantees AVX-512F/BW support.
        Implementation::Avx512 => unsafe { x86::validate_avx512(buf) },
        #[cfg(all(feature = "simd", target_arch = "x86_64"))]
        // SAFETY: the caller guarantees AVX2 support.
        Implementation::Avx2 => unsafe { x86::validate_avx2(buf) },
        #[cfg(all(feature = "simd", target_arch = "x86_64"))]
        // SAFETY: the caller guarantees SSSE3/SSE4.1 support.
        Implementation::Sse41 => unsafe { x86::validate_sse41(buf) },
        #[cfg(all(feature = "simd", target_arch = "aarch64"))]
        // SAFETY: the caller guarantees NEON support.
        Implementation::Neon => unsafe { neon::validate_neon(buf) },
        _ => scalar::validate(buf).map_err(Utf8Error::new),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std_verdict(b: &[u8]) -> Result<(), Utf8Error> {
        core::str::from_utf8(b)
            .map(|_| ())
            .map_err(|e| Utf8Error::new(e.valid_up_to()))
    }

    #[test]
    fn selected_is_the_best_available() {
        assert_eq!(Some(&selected()), available().last());
        assert_eq!(available()[0], Implementation::Scalar);
    }

    #[test]
    #[should_panic(expected = "not available")]
    fn unavailable_impl_panics() {
        // SSE2 is a masking implementation only, so it is never a UTF-8 one.
        let _ = validate_with(Implementation::Sse2, b"abc");
    }

    /// Every error class at every position of a 200-byte buffer, for every implementation.
    #[test]
    fn every_impl_every_error_at_every_position() {
        let bad: &[&[u8]] = &[
            b"\x80",
            b"\xBF",
            b"\xC0\x80",
            b"\xC1\xBF",
            b"\xC2",
            b"\xC2\x41",
            b"\xE0\x80\x80",
            b"\xE0\x9F\xBF",
            b"\xE1\x80",
            b"\xE1\x41\x80",
            b"\xED\xA0\x80",
            b"\xED\xBF\xBF",
            b"\xF0\x80\x80\x80",
            b"\xF0\x8F\xBF\xBF",
            b"\xF0\x90\x80",
            b"\xF4\x90\x80\x80",
            b"\xF5\x80\x80\x80",
            b"\xF8",
            b"\xFF",
            b"\xE2\x82\xAC\x80",
            b"\xF0\x9F\xA6\x80\x80",
        ];
        let good: &[&[u8]] = &[
            b"a",
            "é".as_bytes(),
            "€".as_bytes(),
            "🦀".as_bytes(),
            b"\xEF\xBF\xBF",
            b"\xF4\x8F\xBF\xBF",
            b"\xED\x9F\xBF",
            b"\xEE\x80\x80",
        ];
        let filler = "aé€🦀".repeat(20);
        for imp in available() {
            for g in good {
                for pos in 0..150 {
                    let mut v = filler.as_bytes()[..pos].to_vec();
                    // keep the prefix valid
                    while core::str::from_utf8(&v).is_err() {
                        v.pop();
                    }
                    v.extend_from_slice(g);
                    v.extend_from_slice(&filler.as_bytes()[..40]);
                    assert_eq!(validate_with(imp, &v), Ok(()), "{imp} {v:x?}");
                    for b in bad {
                        let mut w = v.clone();
                        w.splice(pos.min(w.len())..pos.min(w.len()), b.iter().copied());
                        assert_eq!(validate_with(imp, &w), std_verdict(&w), "{imp} {w:x?}");
                        let mut t = b"x".repeat(pos);
                        t.extend_from_slice(b);
                        assert_eq!(validate_with(imp, &t), std_verdict(&t), "{imp} {t:x?}");
                    }
                }
            }
        }
    }
}
