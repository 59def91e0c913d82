//! x86_64 masking kernels: SSE2 (16-byte), AVX2 (32-byte) and AVX-512F (64-byte) vectors.
//!
//! All three share one shape, built so that the fixed cost of a call stays small (a frame is
//! typically a few hundred bytes, where a scalar tail or an alignment head costs as much as the
//! bulk):
//!
//! * the last vector of the buffer is loaded first and, unless the length is a multiple of the
//!   vector width, stored last, XOR-ed with the key as seen at its position. It overlaps the
//!   bulk, but its bytes were read before anything was stored, so the overlap is written twice
//!   with the same masked value (in place too) and no scalar tail is needed (AVX-512 loads it
//!   only when it will store it);
//! * an unrolled loop over 512 bytes (AVX2: 16 vectors, AVX-512: 8) or 64 bytes (SSE2: 4), each
//!   vector loaded, XOR-ed and stored on its own (the vectors are independent, so the CPU
//!   overlaps them), then at most one step each of half, a quarter, … of that, down to one
//!   vector, as the bits of the remaining length say. A 512-byte frame is one loop iteration;
//! * from [`ALIGN_FROM`] bytes on, the stores are aligned: the first vector is handled like the
//!   last one (loaded first, stored last) and the bulk starts at the first aligned address of
//!   `dst`, with the key rotated to match.
//!
//! Each implementation has two entry points: `mask_*` for any length (buffers shorter than one
//! vector go to the next narrower kernel, and below 16 bytes to the scalar word path), and
//! `mask_*_long` for buffers of at least one vector, which the dispatcher calls (it sends only
//! buffers of 64 bytes and more here).

use core::arch::x86_64::*;

use super::rotate_key;
use super::scalar::mask_short;

/// The key as a native-endian `i32`, so that a vector of it repeats the key bytes in memory
/// order.
#[inline(always)]
fn key_i32(key: [u8; 4]) -> i32 {
    i32::from_ne_bytes(key)
}

/// Buffers at least this long get an aligned bulk (aligning costs about ten instructions and an
/// extra vector; for shorter buffers, measured on AVX-512 hardware, it showed no consistent
/// gain).
const ALIGN_FROM: usize = 2048;

/// Bytes to skip before `dst` is `align`-aligned (`0..align`).
#[inline(always)]
fn head_len(dst: *mut u8, align: usize) -> usize {
    dst.addr().wrapping_neg() & (align - 1)
}

// ---------------------------------------------------------------------------------------------
// SSE2
// ---------------------------------------------------------------------------------------------

/// Masks `N` consecutive 16-byte vectors: `dst[j] = src[j] ^ k` for `j < 16 * N`.
///
/// # Safety
///
/// `src` must be valid for reads and `dst` for writes of `16 * N` bytes, and the ranges must be
/// identical or disjoint.
#[inline]
#[target_feature(enable = "sse2")]
unsafe fn sse2_block<const N: usize>(src: *const u8, dst: *mut u8, k: __m128i) {
    for j in 0..N {
        // SAFETY: `16 * j + 16 <= 16 * N` bytes of `src` are readable and of `dst` writable.
        // Each vector is loaded before it is stored and the vectors do not overlap, so
        // `src == dst` is fine.
        unsafe {
            let v = _mm_loadu_si128(src.add(16 * j).cast());
            _mm_storeu_si128(dst.add(16 * j).cast(), _mm_xor_si128(v, k));
        }
    }
}

/// The SSE2 bulk: masks `len >= 16` bytes, the first one with `key[0]` (also the dispatched
/// path for buffers of 16 to 63 bytes).
///
/// # Safety
///
/// `len >= 16`; `src` must be valid for reads and `dst` for writes of `len` bytes, and the
/// ranges must be identical or disjoint.
#[inline]
#[target_feature(enable = "sse2")]
pub(super) unsafe fn bulk_sse2(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    debug_assert!(len >= 16);
    let k = _mm_set1_epi32(key_i32(key));
    // SAFETY: `len >= 16`, so the last 16 bytes are in bounds. Loaded before any store.
    let last = unsafe { _mm_loadu_si128(src.add(len - 16).cast()) };
    let mut i = 0;
    let end = len - len % 64;
    while i != end {
        // SAFETY: `i + 64 <= end <= len`; same aliasing rules.
        unsafe { sse2_block::<4>(src.add(i), dst.add(i), k) };
        i += 64;
    }
    let rem = len - end; // < 64
    if rem != 0 {
        if rem & 32 != 0 {
            // SAFETY: `i + 32 <= len`.
            unsafe { sse2_block::<2>(src.add(i), dst.add(i), k) };
            i += 32;
        }
        if rem & 16 != 0 {
            // SAFETY: `i + 16 <= len`.
            unsafe { sse2_block::<1>(src.add(i), dst.add(i), k) };
        }
        if rem & 15 != 0 {
            // The last 16 bytes start at payload position `len - 16`, key phase `len % 4`.
            let k = _mm_set1_epi32(key_i32(rotate_key(key, len)));
            // SAFETY: in bounds as above; `last` holds the bytes as they were before any store.
            unsafe { _mm_storeu_si128(dst.add(len - 16).cast(), _mm_xor_si128(last, k)) };
        }
    }
}

/// SSE2 kernel: writes `src[i] ^ key[i % 4]` to `dst[i]` for `i < len`.
///
/// # Safety
///
/// The CPU must support SSE2 (always true on x86_64). `src` must be valid for reads and `dst`
/// for writes of `len` bytes, and the ranges must be identical or disjoint.
#[target_feature(enable = "sse2")]
pub(super) unsafe fn mask_sse2(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    if len < 16 {
        // SAFETY: the caller's contract is `mask_short`'s, and `len < 16`.
        return unsafe { mask_short(src, dst, len, key) };
    }
    // SAFETY: `len >= 16`; the caller's contract.
    unsafe { mask_sse2_long(src, dst, len, key) }
}

/// [`mask_sse2`] for `len >= 16` (what the dispatcher calls, for buffers of 64 bytes and more).
///
/// # Safety
///
/// As [`mask_sse2`], and `len >= 16`.
#[target_feature(enable = "sse2")]
pub(super) unsafe fn mask_sse2_long(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    debug_assert!(len >= 16);
    if len >= ALIGN_FROM {
        let head = head_len(dst, 16);
        // SAFETY: `len >= ALIGN_FROM`, so the first 16 bytes and the `len - head >= 16` bytes
        // from `head < 16` on are in bounds. The first vector is loaded before the bulk stores
        // anything and stored after it: where the two overlap they write the same bytes.
        unsafe {
            let first = _mm_loadu_si128(src.cast());
            bulk_sse2(
                src.add(head),
                dst.add(head),
                len - head,
                rotate_key(key, head),
            );
            _mm_storeu_si128(
                dst.cast(),
                _mm_xor_si128(first, _mm_set1_epi32(key_i32(key))),
            );
        }
        return;
    }
    // SAFETY: `len >= 16`; the caller's contract.
    unsafe { bulk_sse2(src, dst, len, key) }
}

// ---------------------------------------------------------------------------------------------
// AVX2
// ---------------------------------------------------------------------------------------------

/// Masks `N` consecutive 32-byte vectors: `dst[j] = src[j] ^ k` for `j < 32 * N`.
///
/// # Safety
///
/// The CPU must support AVX2. `src` must be valid for reads and `dst` for writes of `32 * N`
/// bytes, and the ranges must be identical or disjoint.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn avx2_block<const N: usize>(src: *const u8, dst: *mut u8, k: __m256i) {
    for j in 0..N {
        // SAFETY: `32 * j + 32 <= 32 * N` bytes of `src` are readable and of `dst` writable.
        // Each vector is loaded before it is stored and the vectors do not overlap, so
        // `src == dst` is fine.
        unsafe {
            let v = _mm256_loadu_si256(src.add(32 * j).cast());
            _mm256_storeu_si256(dst.add(32 * j).cast(), _mm256_xor_si256(v, k));
        }
    }
}

/// The AVX2 bulk: masks `len >= 32` bytes, the first one with `key[0]`.
///
/// # Safety
///
/// The CPU must support AVX2. `len >= 32`; `src` must be valid for reads and `dst` for writes
/// of `len` bytes, and the ranges must be identical or disjoint.
#[inline]
#[target_feature(enable = "avx2")]
unsafe fn bulk_avx2(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    debug_assert!(len >= 32);
    let k = _mm256_set1_epi32(key_i32(key));
    // SAFETY: `len >= 32`, so the last 32 bytes are in bounds. Loaded before any store.
    let last = unsafe { _mm256_loadu_si256(src.add(len - 32).cast()) };
    let mut i = 0;
    let end = len - len % 512;
    // Sixteen vectors per iteration: a 512-byte frame takes one.
    while i != end {
        // SAFETY: `i + 512 <= end <= len`; same aliasing rules.
        unsafe { avx2_block::<16>(src.add(i), dst.add(i), k) };
        i += 512;
    }
    let rem = len - end; // < 512
    if rem != 0 {
        if rem & 256 != 0 {
            // SAFETY: `i + 256 <= len`.
            unsafe { avx2_block::<8>(src.add(i), dst.add(i), k) };
            i += 256;
        }
        if rem & 128 != 0 {
            // SAFETY: `i + 128 <= len`.
            unsafe { avx2_block::<4>(src.add(i), dst.add(i), k) };
            i += 128;
        }
        if rem & 64 != 0 {
            // SAFETY: `i + 64 <= len`.
            unsafe { avx2_block::<2>(src.add(i), dst.add(i), k) };
            i += 64;
        }
        if rem & 32 != 0 {
            // SAFETY: `i + 32 <= len`.
            unsafe { avx2_block::<1>(src.add(i), dst.add(i), k) };
        }
        if rem & 31 != 0 {
            // The last 32 bytes start at payload position `len - 32`, key phase `len % 4`.
            let k = _mm256_set1_epi32(key_i32(rotate_key(key, len)));
            // SAFETY: in bounds as above; `last` holds the bytes as they were before any store.
            unsafe { _mm256_storeu_si256(dst.add(len - 32).cast(), _mm256_xor_si256(last, k)) };
        }
    }
}

/// AVX2 kernel: writes `src[i] ^ key[i % 4]` to `dst[i]` for `i < len`.
///
/// # Safety
///
/// The CPU must support AVX2. `src` must be valid for reads and `dst` for writes of `len`
/// bytes, and the ranges must be identical or disjoint.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn mask_avx2(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    if len < 32 {
        // SAFETY: SSE2 is part of x86_64; the caller's contract is the kernel's.
        return unsafe { mask_sse2(src, dst, len, key) };
    }
    // SAFETY: `len >= 32`; the caller's contract.
    unsafe { mask_avx2_long(src, dst, len, key) }
}

/// [`mask_avx2`] for `len >= 32` (what the dispatcher calls, for buffers of 64 bytes and more).
///
/// # Safety
///
/// As [`mask_avx2`], and `len >= 32`.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn mask_avx2_long(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    debug_assert!(len >= 32);
    if len >= ALIGN_FROM {
        let head = head_len(dst, 32);
        // SAFETY: `len >= ALIGN_FROM`, so the first 32 bytes and the `len - head >= 32` bytes
        // from `head < 32` on are in bounds. The first vector is loaded before the bulk stores
        // anything and stored after it: where the two overlap they write the same bytes.
        unsafe {
            let first = _mm256_loadu_si256(src.cast());
            bulk_avx2(
                src.add(head),
                dst.add(head),
                len - head,
                rotate_key(key, head),
            );
            let k = _mm256_set1_epi32(key_i32(key));
            _mm256_storeu_si256(dst.cast(), _mm256_xor_si256(first, k));
        }
        return;
    }
    // SAFETY: `len >= 32`; the caller's contract.
    unsafe { bulk_avx2(src, dst, len, key) }
}

// ---------------------------------------------------------------------------------------------
// AVX-512F
// ---------------------------------------------------------------------------------------------

/// Masks `N` consecutive 64-byte vectors: `dst[j] = src[j] ^ k` for `j < 64 * N`.
///
/// # Safety
///
/// The CPU must support AVX-512F. `src` must be valid for reads and `dst` for writes of
/// `64 * N` bytes, and the ranges must be identical or disjoint.
#[inline]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn avx512_block<const N: usize>(src: *const u8, dst: *mut u8, k: __m512i) {
    for j in 0..N {
        // SAFETY: `64 * j + 64 <= 64 * N` bytes of `src` are readable and of `dst` writable.
        // Each vector is loaded before it is stored and the vectors do not overlap, so
        // `src == dst` is fine.
        unsafe {
            let v = _mm512_loadu_si512(src.add(64 * j).cast());
            _mm512_storeu_si512(dst.add(64 * j).cast(), _mm512_xor_si512(v, k));
        }
    }
}

/// The AVX-512 bulk: masks `len >= 64` bytes, the first one with `key[0]`.
///
/// # Safety
///
/// The CPU must support AVX-512F and AVX2. `len >= 64`; `src` must be valid for reads and `dst`
/// for writes of `len` bytes, and the ranges must be identical or disjoint.
#[inline]
#[target_feature(enable = "avx512f,avx2")]
unsafe fn bulk_avx512(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    debug_assert!(len >= 64);
    let k = _mm512_set1_epi32(key_i32(key));
    // The last vector, only if the length is not a multiple of 64: at 64 bytes, the shortest
    // buffer the dispatcher sends here, loading the one vector twice measured slower (a 64-byte
    // load splits a cache line unless `src` is aligned). AVX2 and SSE2 always load it, one
    // instruction instead of a test and a branch.
    // SAFETY: `len >= 64`, so the last 64 bytes are in bounds. Loaded before any store.
    let last =
        (!len.is_multiple_of(64)).then(|| unsafe { _mm512_loadu_si512(src.add(len - 64).cast()) });
    let mut i = 0;
    let end = len - len % 512;
    // Eight vectors per iteration: a 512-byte frame takes one.
    while i != end {
        // SAFETY: `i + 512 <= end <= len`; same aliasing rules.
        unsafe { avx512_block::<8>(src.add(i), dst.add(i), k) };
        i += 512;
    }
    let rem = len - end; // < 512
    if rem != 0 {
        if rem & 256 != 0 {
            // SAFETY: `i + 256 <= len`.
            unsafe { avx512_block::<4>(src.add(i), dst.add(i), k) };
            i += 256;
        }
        if rem & 128 != 0 {
            // SAFETY: `i + 128 <= len`.
            unsafe { avx512_block::<2>(src.add(i), dst.add(i), k) };
            i += 128;
        }
        if rem & 64 != 0 {
            // SAFETY: `i + 64 <= len`.
            unsafe { avx512_block::<1>(src.add(i), dst.add(i), k) };
        }
        if let Some(last) = last {
            // The last 64 bytes start at payload position `len - 64`, key phase `len % 4`.
            let k = _mm512_set1_epi32(key_i32(rotate_key(key, len)));
            // SAFETY: in bounds as above; `last` holds the bytes as they were before any store.
            unsafe { _mm512_storeu_si512(dst.add(len - 64).cast(), _mm512_xor_si512(last, k)) };
        }
    }
}

/// AVX-512F kernel: writes `src[i] ^ key[i % 4]` to `dst[i]` for `i < len`.
///
/// # Safety
///
/// The CPU must support AVX-512F and AVX2. `src` must be valid for reads and `dst` for writes
/// of `len` bytes, and the ranges must be identical or disjoint.
#[target_feature(enable = "avx512f,avx2")]
pub(super) unsafe fn mask_avx512(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    if len < 64 {
        // SAFETY: the caller guarantees AVX2; its contract is the kernel's.
        return unsafe { mask_avx2(src, dst, len, key) };
    }
    // SAFETY: `len >= 64`; the caller's contract.
    unsafe { mask_avx512_long(src, dst, len, key) }
}

/// [`mask_avx512`] for `len >= 64` (what the dispatcher calls, for buffers of 64 bytes and
/// more).
///
/// # Safety
///
/// As [`mask_avx512`], and `len >= 64`.
#[target_feature(enable = "avx512f,avx2")]
pub(super) unsafe fn mask_avx512_long(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    debug_assert!(len >= 64);
    if len >= ALIGN_FROM {
        let head = head_len(dst, 64);
        // SAFETY: `len >= ALIGN_FROM`, so the first 64 bytes and the `len - head >= 64` bytes
        // from `head < 64` on are in bounds. The first vector is loaded before the bulk stores
        // anything and stored after it: where the two overlap they write the same bytes.
        unsafe {
            let first = _mm512_loadu_si512(src.cast());
            bulk_avx512(
                src.add(head),
                dst.add(head),
                len - head,
                rotate_key(key, head),
            );
            let k = _mm512_set1_epi32(key_i32(key));
            _mm512_storeu_si512(dst.cast(), _mm512_xor_si512(first, k));
        }
        return;
    }
    // SAFETY: `len >= 64`; the caller's contract.
    unsafe { bulk_avx512(src, dst, len, key) }
}
