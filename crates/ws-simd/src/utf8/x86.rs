//! x86_64 [`Vector`] types for the UTF-8 validator and their `#[target_feature]` entry points.

use core::arch::x86_64::*;

use super::Utf8Error;
use super::simd::{self, Vector};

/// SSE4.1 validator.
///
/// # Safety
///
/// The CPU must support SSSE3 and SSE4.1.
#[target_feature(enable = "ssse3,sse4.1")]
pub(super) unsafe fn validate_sse41(buf: &[u8]) -> Result<(), Utf8Error> {
    // SAFETY: the caller guarantees SSSE3 and SSE4.1, all that `Sse41` uses (with SSE2).
    unsafe { simd::validate::<Sse41>(buf) }
}

/// AVX2 validator.
///
/// # Safety
///
/// The CPU must support AVX2.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn validate_avx2(buf: &[u8]) -> Result<(), Utf8Error> {
    // SAFETY: the caller guarantees AVX2 (which implies AVX), all that `Avx2` uses.
    unsafe { simd::validate::<Avx2>(buf) }
}

/// AVX-512 validator.
///
/// # Safety
///
/// The CPU must support AVX-512F and AVX-512BW.
#[target_feature(enable = "avx512f,avx512bw")]
pub(super) unsafe fn validate_avx512(buf: &[u8]) -> Result<(), Utf8Error> {
    // SAFETY: the caller guarantees AVX-512F and AVX-512BW, all that `Avx512` uses.
    unsafe { simd::validate::<Avx512>(buf) }
}

/// 16-byte vector; needs SSSE3 (`pshufb`, `palignr`) and SSE4.1 (`ptest`).
#[derive(Clone, Copy)]
struct Sse41(__m128i);

impl Vector for Sse41 {
    const BYTES: usize = 16;

    #[inline(always)]
    unsafe fn splat(b: u8) -> Self {
        // SAFETY: SSE2 support is the caller's guarantee.
        Self(unsafe { _mm_set1_epi8(b as i8) })
    }

    #[inline(always)]
    unsafe fn load(p: *const u8) -> Self {
        // SAFETY: the caller guarantees `p` is valid for 16 bytes of reads.
        Self(unsafe { _mm_loadu_si128(p.cast()) })
    }

    #[inline(always)]
    unsafe fn table(t: &[u8; 16]) -> Self {
        // SAFETY: `t` is 16 readable bytes.
        Self(unsafe { _mm_loadu_si128(t.as_ptr().cast()) })
    }

    #[inline(always)]
    unsafe fn and(self, o: Self) -> Self {
        // SAFETY: SSE2 support is the caller's guarantee.
        Self(unsafe { _mm_and_si128(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn or(self, o: Self) -> Self {
        // SAFETY: SSE2 support is the caller's guarantee.
        Self(unsafe { _mm_or_si128(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        // SAFETY: SSE2 support is the caller's guarantee.
        Self(unsafe { _mm_xor_si128(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn shr4(self) -> Self {
        // SAFETY: SSE2 support is the caller's guarantee.
        Self(unsafe { _mm_and_si128(_mm_srli_epi16::<4>(self.0), _mm_set1_epi8(0x0F)) })
    }

    #[inline(always)]
    unsafe fn lookup(self, idx: Self) -> Self {
        // SAFETY: SSSE3 support is the caller's guarantee.
        Self(unsafe { _mm_shuffle_epi8(self.0, idx.0) })
    }

    #[inline(always)]
    unsafe fn subs(self, o: Self) -> Self {
        // SAFETY: SSE2 support is the caller's guarantee.
        Self(unsafe { _mm_subs_epu8(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn prev123(self, prev: Self) -> (Self, Self, Self) {
        // SAFETY: SSSE3 support is the caller's guarantee.
        unsafe {
            (
                Self(_mm_alignr_epi8::<15>(self.0, prev.0)),
                Self(_mm_alignr_epi8::<14>(self.0, prev.0)),
                Self(_mm_alignr_epi8::<13>(self.0, prev.0)),
            )
        }
    }

    #[inline(always)]
    unsafe fn any_high_bit(self) -> bool {
        // SAFETY: SSE2 support is the caller's guarantee.
        unsafe { _mm_movemask_epi8(self.0) != 0 }
    }

    #[inline(always)]
    unsafe fn any_set(self) -> bool {
        // SAFETY: SSE4.1 support is the caller's guarantee.
        unsafe { _mm_testz_si128(self.0, self.0) == 0 }
    }
}

/// 32-byte vector; needs AVX2.
#[derive(Clone, Copy)]
struct Avx2(__m256i);

impl Vector for Avx2 {
    const BYTES: usize = 32;

    #[inline(always)]
    unsafe fn splat(b: u8) -> Self {
        // SAFETY: AVX support is the caller's guarantee.
        Self(unsafe { _mm256_set1_epi8(b as i8) })
    }

    #[inline(always)]
    unsafe fn load(p: *const u8) -> Self {
        // SAFETY: the caller guarantees `p` is valid for 32 bytes of reads, and AVX support.
        Self(unsafe { _mm256_loadu_si256(p.cast()) })
    }

    #[inline(always)]
    unsafe fn load_partial(p: *const u8, n: usize) -> Self {
        debug_assert!(n > 0 && n < 32);
        let words = (n / 4) as i32;
        let rest = n % 4;
        // SAFETY: AVX2 support is the caller's guarantee. `vpmaskmovd` reads only the dwords
        // whose mask is set (and never faults on the others): dwords `0..n / 4`, which lie
        // within the `n` readable bytes at `p`. The last `n % 4` bytes are read one by one,
        // also within them.
        unsafe {
            let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
            let mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(words), lane);
            let v = _mm256_maskload_epi32(p.cast(), mask);
            if rest == 0 {
                return Self(v);
            }
            let base = n - rest;
            let mut last = [0u8; 4];
            for (k, b) in last.iter_mut().enumerate().take(rest) {
                *b = *p.add(base + k);
            }
            let last = _mm256_set1_epi32(i32::from_ne_bytes(last));
            let at = _mm256_cmpeq_epi32(_mm256_set1_epi32(words), lane);
            Self(_mm256_or_si256(v, _mm256_and_si256(at, last)))
        }
    }

    #[inline(always)]
    unsafe fn table(t: &[u8; 16]) -> Self {
        // SAFETY: `t` is 16 readable bytes; AVX2 support is the caller's guarantee.
        Self(unsafe { _mm256_broadcastsi128_si256(_mm_loadu_si128(t.as_ptr().cast())) })
    }

    #[inline(always)]
    unsafe fn and(self, o: Self) -> Self {
        // SAFETY: AVX2 support is the caller's guarantee.
        Self(unsafe { _mm256_and_si256(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn or(self, o: Self) -> Self {
        // SAFETY: AVX2 support is the caller's guarantee.
        Self(unsafe { _mm256_or_si256(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        // SAFETY: AVX2 support is the caller's guarantee.
        Self(unsafe { _mm256_xor_si256(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn shr4(self) -> Self {
        // SAFETY: AVX2 support is the caller's guarantee.
        Self(unsafe { _mm256_and_si256(_mm256_srli_epi16::<4>(self.0), _mm256_set1_epi8(0x0F)) })
    }

    #[inline(always)]
    unsafe fn lookup(self, idx: Self) -> Self {
        // SAFETY: AVX2 support is the caller's guarantee.
        Self(unsafe { _mm256_shuffle_epi8(self.0, idx.0) })
    }

    #[inline(always)]
    unsafe fn subs(self, o: Self) -> Self {
        // SAFETY: AVX2 support is the caller's guarantee.
        Self(unsafe { _mm256_subs_epu8(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn prev123(self, prev: Self) -> (Self, Self, Self) {
        // SAFETY: AVX2 support is the caller's guarantee.
        unsafe {
            // [prev.high_lane, self.low_lane]: the 16 bytes before each lane of `self`.
            let before = _mm256_permute2x128_si256::<0x21>(prev.0, self.0);
            (
                Self(_mm256_alignr_epi8::<15>(self.0, before)),
                Self(_mm256_alignr_epi8::<14>(self.0, before)),
                Self(_mm256_alignr_epi8::<13>(self.0, before)),
            )
        }
    }

    #[inline(always)]
    unsafe fn any_high_bit(self) -> bool {
        // SAFETY: AVX2 support is the caller's guarantee.
        unsafe { _mm256_movemask_epi8(self.0) != 0 }
    }

    #[inline(always)]
    unsafe fn any_set(self) -> bool {
        // SAFETY: AVX support is the caller's guarantee.
        unsafe { _mm256_testz_si256(self.0, self.0) == 0 }
    }
}

/// 64-byte vector; needs AVX-512F and AVX-512BW.
#[derive(Clone, Copy)]
struct Avx512(__m512i);

impl Vector for Avx512 {
    const BYTES: usize = 64;

    #[inline(always)]
    unsafe fn splat(b: u8) -> Self {
        // SAFETY: AVX-512F support is the caller's guarantee.
        Self(unsafe { _mm512_set1_epi8(b as i8) })
    }

    #[inline(always)]
    unsafe fn load(p: *const u8) -> Self {
        // SAFETY: the caller guarantees `p` is valid for 64 bytes of reads, and AVX-512F.
        Self(unsafe { _mm512_loadu_si512(p.cast()) })
    }

    #[inline(always)]
    unsafe fn load_partial(p: *const u8, n: usize) -> Self {
        debug_assert!(n > 0 && n < 64);
        // SAFETY: AVX-512BW support is the caller's guarantee. A masked load reads only the
        // bytes whose mask bit is set (and never faults on the others): bytes `0..n`, which
        // the caller guarantees readable.
        Self(unsafe { _mm512_maskz_loadu_epi8((1u64 << n) - 1, p.cast()) })
    }

    #[inline(always)]
    unsafe fn table(t: &[u8; 16]) -> Self {
        // SAFETY: `t` is 16 readable bytes; AVX-512F support is the caller's guarantee.
        Self(unsafe { _mm512_broadcast_i32x4(_mm_loadu_si128(t.as_ptr().cast())) })
    }

    #[inline(always)]
    unsafe fn and(self, o: Self) -> Self {
        // SAFETY: AVX-512F support is the caller's guarantee.
        Self(unsafe { _mm512_and_si512(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn or(self, o: Self) -> Self {
        // SAFETY: AVX-512F support is the caller's guarantee.
        Self(unsafe { _mm512_or_si512(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn xor(self, o: Self) -> Self {
        // SAFETY: AVX-512F support is the caller's guarantee.
        Self(unsafe { _mm512_xor_si512(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn shr4(self) -> Self {
        // SAFETY: AVX-512F/BW support is the caller's guarantee.
        Self(unsafe { _mm512_and_si512(_mm512_srli_epi16::<4>(self.0), _mm512_set1_epi8(0x0F)) })
    }

    #[inline(always)]
    unsafe fn lookup(self, idx: Self) -> Self {
        // SAFETY: AVX-512BW support is the caller's guarantee.
        Self(unsafe { _mm512_shuffle_epi8(self.0, idx.0) })
    }

    #[inline(always)]
    unsafe fn subs(self, o: Self) -> Self {
        // SAFETY: AVX-512BW support is the caller's guarantee.
        Self(unsafe { _mm512_subs_epu8(self.0, o.0) })
    }

    #[inline(always)]
    unsafe fn prev123(self, prev: Self) -> (Self, Self, Self) {
        // SAFETY: AVX-512F/BW support is the caller's guarantee.
        unsafe {
            // Qwords [prev[6], prev[7], self[0..6]]: the 16 bytes before each 128-bit lane.
            let before = _mm512_alignr_epi64::<6>(self.0, prev.0);
            (
                Self(_mm512_alignr_epi8::<15>(self.0, before)),
                Self(_mm512_alignr_epi8::<14>(self.0, before)),
                Self(_mm512_alignr_epi8::<13>(self.0, before)),
            )
        }
    }

    #[inline(always)]
    unsafe fn any_high_bit(self) -> bool {
        // SAFETY: AVX-512BW support is the caller's guarantee.
        unsafe { _mm512_movepi8_mask(self.0) != 0 }
    }

    #[inline(always)]
    unsafe fn any_set(self) -> bool {
        // SAFETY: AVX-512F support is the caller's guarantee.
        unsafe { _mm512_test_epi64_mask(self.0, self.0) != 0 }
    }
}
