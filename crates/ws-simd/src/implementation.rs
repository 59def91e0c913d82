//! The [`Implementation`] enum shared by the masking and UTF-8 dispatchers.

use core::fmt;

/// A code path of a kernel, as chosen at run time or forced by
/// [`mask::apply_mask_with`](crate::mask::apply_mask_with) /
/// [`utf8::validate_with`](crate::utf8::validate_with).
///
/// Each kernel has its own set: see [`mask::available`](crate::mask::available) and
/// [`utf8::available`](crate::utf8::available). On x86_64 masking offers `Scalar`, `Sse2`,
/// `Avx2` and `Avx512`; UTF-8 validation offers `Scalar`, `Sse41`, `Avx2` and `Avx512`. On
/// aarch64 both offer `Scalar` and `Neon`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[repr(u8)]
pub enum Implementation {
    /// Portable code working on `u64`/`u32` words; always available.
    Scalar = 1,
    /// x86_64 SSE2, 16-byte vectors (masking).
    Sse2 = 2,
    /// x86_64 SSE4.1 (with SSSE3 `pshufb`), 16-byte vectors (UTF-8).
    Sse41 = 3,
    /// x86_64 AVX2, 32-byte vectors.
    Avx2 = 4,
    /// x86_64 AVX-512 (AVX-512F for masking, AVX-512F + BW for UTF-8), 64-byte vectors.
    Avx512 = 5,
    /// aarch64 NEON (Advanced SIMD), 16-byte vectors.
    Neon = 6,
}

impl Implementation {
    /// A short lowercase name, e.g. `"avx2"` (used as a benchmark id).
    pub const fn name(self) -> &'static str {
        match self {
            Implementation::Scalar => "scalar",
            Implementation::Sse2 => "sse2",
            Implementation::Sse41 => "sse4.1",
            Implementation::Avx2 => "avx2",
            Implementation::Avx512 => "avx512",
            Implementation::Neon => "neon",
        }
    }

    /// The value stored in a dispatcher's `AtomicU8` cache (never 0, which means "not yet
    /// detected").
    #[inline]
    pub(crate) const fn to_u8(self) -> u8 {
        self as u8
    }

    /// Inverse of [`Implementation::to_u8`]; `None` for 0 ("not yet detected").
    #[inline]
    pub(crate) const fn from_u8(v: u8) -> Option<Self> {
        match v {
            1 => Some(Implementation::Scalar),
            2 => Some(Implementation::Sse2),
            3 => Some(Implementation::Sse41),
            4 => Some(Implementation::Avx2),
            5 => Some(Implementation::Avx512),
            6 => Some(Implementation::Neon),
            _ => None,
        }
    }
}

impl fmt::Display for Implementation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Implementation;

    #[test]
    fn u8_round_trip() {
        for imp in [
            Implementation::Scalar,
            Implementation::Sse2,
            Implementation::Sse41,
            Implementation::Avx2,
            Implementation::Avx512,
            Implementation::Neon,
        ] {
            assert_ne!(imp.to_u8(), 0);
            assert_eq!(Implementation::from_u8(imp.to_u8()), Some(imp));
        }
        assert_eq!(Implementation::from_u8(0), None);
    }
}
