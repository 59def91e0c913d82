//! aarch64 NEON [`Vector`] type for the UTF-8 validator and its entry point.

use core::arch::aarch64::*;

use super::Utf8Error;
use super::simd::{self, Vector};

/// NEON validator.
///
/// # Safety
///
/// The CPU must support NEON.
#[target_feature(enable = "neon")]
pub(super) unsafe fn validate_neon(buf: &[u8]) -> Result<(), Utf8Error> {
    // SAFETY: the caller guarantees NEON, all that `Neon` uses.
    unsafe { simd::validate::<Neon>(buf) }
}

/// 16-byte vector.
#[derive(Clone, Copy)]
struct Neon(uint8x16_t);

impl Vector for Neon {
    const BYTES: usize = 16;

    #[inline(always)]
    unsafe fn splat(b: u8) -> Self {
        // SAFETY: NEON support is the caller's guarantee.

        Self(unsafe { vdupq_n_u8(b) })
    }

    #[inline(always)]
    unsafe fn load(p: *const u8) -> Self {
        // SAFETY: the caller guarantees `p` is valid for 16 bytes of reads.
        Self(unsafe { vld1q_u8(p) })
    }

    #[inline(always)]
    unsafe fn table(t: &[u8; 16]) -> Self {
        // SAFETY: `t` is 16 readable bytes.
        Self(unsafe { vld1q_u8(t.as_ptr()) })
    }

    #[inline(always)]
    unsafe fn and(self, o: Self) -> Self {
        // SAFETY: NEON support is the caller's guarantee.

        Self(unsafe { vandq_u8(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn or(self, o: Self) -> Self {
        // SAFETY: NEON support is the caller's guarantee.

        Self(unsafe { vorrq_u8(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        // SAFETY: NEON support is the caller's guarantee.

        Self(unsafe { veorq_u8(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn shr4(self) -> Self {
        // SAFETY: NEON support is the caller's guarantee.

        Self(unsafe { vshrq_n_u8::<4>(self.0) })
    }

    #[inline(always)]
    unsafe fn lookup(self, idx: Self) -> Self {
        // SAFETY: NEON support is the caller's guarantee.

        Self(unsafe { vqtbl1q_u8(self.0, idx.0) })
    }

    #[inline(always)]
    unsafe fn subs(self, o: Self) -> Self {
        // SAFETY: NEON support is the caller's guarantee.

        Self(unsafe { vqsubq_u8(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn prev123(self, prev: Self) -> (Self, Self, Self) {
        // `vextq_u8::<N>(a, b)` is bytes `N..16` of `a` followed by bytes `0..N` of `b`.
        // SAFETY: NEON support is the caller's guarantee.
        unsafe {
            (
                Self(vextq_u8::<15>(prev.0, self.0)),
                Self(vextq_u8::<14>(prev.0, self.0)),
                Self(vextq_u8::<13>(prev.0, self.0)),
            )
        }
    }

    #[inline(always)]
    unsafe fn any_high_bit(self) -> bool {
        // SAFETY: NEON support is the caller's guarantee.
        unsafe { vmaxvq_u8(self.0) >= 0x80 }
    }

    #[inline(always)]
    unsafe fn any_set(self) -> bool {
        // SAFETY: NEON support is the caller's guarantee.
        unsafe { vmaxvq_u8(self.0) != 0 }
    }
}
