//! x86_64 masking kernels: SSE2 (16-byte), AVX2 (32-byte) and AVX-512F (64-byte) vectors.
//!
//! All three share one shape: for long buffers, a scalar head up to the vector alignment of
//! `dst` (so that stores never split a cache line), then an unrolled loop of four vectors,
//! single vectors, narrower vectors, and a scalar word tail. The key is rotated by the head
//! length so the bulk always starts at key phase 0.

use core::arch::x86_64::*;

use super::rotate_key;
use super::scalar::mask_raw;

/// The key as a native-endian `i32`, so that a vector of it repeats the key bytes in memory
/// order.
#[inline(always)]
fn key_i32(key: [u8; 4]) -> i32 {
    i32::from_ne_bytes(key)
}

/// Buffers at least this long get an aligned bulk (a scalar head first).
const ALIGN_FROM: usize = 2048;

/// Bytes to process with the scalar path before `dst` is `align`-aligned.
#[inline(always)]
fn head_len(dst: *mut u8, align: usize) -> usize {
    dst.addr().wrapping_neg() & (align - 1)
}

/// SSE2 kernel: writes `src[i] ^ key[i % 4]` to `dst[i]` for `i < len`.
///
/// # Safety
///
/// The CPU must support SSE2 (always true on x86_64). `src` must be valid for reads and `dst`
/// for writes of `len` bytes, and the ranges must be identical or disjoint.
#[target_feature(enable = "sse2")]
pub(super) unsafe fn mask_sse2(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    let mut key = key;
    let mut i = 0;
    if len >= 64 {
        let head = head_len(dst, 16);
        // SAFETY: `head < 16 <= len`, so the head is in bounds; same aliasing rules.
        unsafe { mask_raw(src, dst, head, key) };
        key = rotate_key(key, head);
        i = head;
    }
    let k = _mm_set1_epi32(key_i32(key));
    while i + 64 <= len {
        // SAFETY: `i + 64 <= len` keeps all four 16-byte accesses in bounds. Every vector is
        // loaded before any is stored, so `src == dst` is fine.
        unsafe {
            let s = src.add(i);
            let d = dst.add(i);
            let a = _mm_loadu_si128(s.cast());
            let b = _mm_loadu_si128(s.add(16).cast());
            let c = _mm_loadu_si128(s.add(32).cast());
            let e = _mm_loadu_si128(s.add(48).cast());
            _mm_storeu_si128(d.cast(), _mm_xor_si128(a, k));
            _mm_storeu_si128(d.add(16).cast(), _mm_xor_si128(b, k));
            _mm_storeu_si128(d.add(32).cast(), _mm_xor_si128(c, k));
            _mm_storeu_si128(d.add(48).cast(), _mm_xor_si128(e, k));
        }
        i += 64;
    }
    while i + 16 <= len {
        // SAFETY: `i + 16 <= len`.
        unsafe {
            let a = _mm_loadu_si128(src.add(i).cast());
            _mm_storeu_si128(dst.add(i).cast(), _mm_xor_si128(a, k));
        }
        i += 16;
    }
    // SAFETY: the remaining `len - i` bytes are in bounds; the key phase is 0 again because
    // the bulk advanced in multiples of 16.
    unsafe { mask_raw(src.add(i), dst.add(i), len - i, key) }
}

/// AVX2 kernel: writes `src[i] ^ key[i % 4]` to `dst[i]` for `i < len`.
///
/// # Safety
///
/// The CPU must support AVX2. `src` must be valid for reads and `dst` for writes of `len`
/// bytes, and the ranges must be identical or disjoint.
#[target_feature(enable = "avx2")]
pub(super) unsafe fn mask_avx2(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    let mut key = key;
    let mut i = 0;
    // Aligning the stores pays only for long buffers: for a frame of a few hundred bytes the
    // scalar head costs more than the unaligned accesses it avoids.
    if len >= ALIGN_FROM {
        let head = head_len(dst, 32);
        // SAFETY: `head < 32 <= len`, so the head is in bounds; same aliasing rules.
        unsafe { mask_raw(src, dst, head, key) };
        key = rotate_key(key, head);
        i = head;
    }
    let k = _mm256_set1_epi32(key_i32(key));
    while i + 128 <= len {
        // SAFETY: `i + 128 <= len` keeps all four 32-byte accesses in bounds. Every vector is
        // loaded before any is stored, so `src == dst` is fine.
        unsafe {
            let s = src.add(i);
            let d = dst.add(i);
            let a = _mm256_loadu_si256(s.cast());
            let b = _mm256_loadu_si256(s.add(32).cast());
            let c = _mm256_loadu_si256(s.add(64).cast());
            let e = _mm256_loadu_si256(s.add(96).cast());
            _mm256_storeu_si256(d.cast(), _mm256_xor_si256(a, k));
            _mm256_storeu_si256(d.add(32).cast(), _mm256_xor_si256(b, k));
            _mm256_storeu_si256(d.add(64).cast(), _mm256_xor_si256(c, k));
            _mm256_storeu_si256(d.add(96).cast(), _mm256_xor_si256(e, k));
        }
        i += 128;
    }
    while i + 32 <= len {
        // SAFETY: `i + 32 <= len`.
        unsafe {
            let a = _mm256_loadu_si256(src.add(i).cast());
            _mm256_storeu_si256(dst.add(i).cast(), _mm256_xor_si256(a, k));
        }
        i += 32;
    }
    if i + 16 <= len {
        // SAFETY: `i + 16 <= len`; the low half of `k` is the 16-byte key vector.
        unsafe {
            let a = _mm_loadu_si128(src.add(i).cast());
            let k = _mm256_castsi256_si128(k);
            _mm_storeu_si128(dst.add(i).cast(), _mm_xor_si128(a, k));
        }
        i += 16;
    }
    // SAFETY: the remaining `len - i` bytes are in bounds; the key phase is 0 again because
    // the bulk advanced in multiples of 16.
    unsafe { mask_raw(src.add(i), dst.add(i), len - i, key) }
}

/// AVX-512F kernel: writes `src[i] ^ key[i % 4]` to `dst[i]` for `i < len`.
///
/// # Safety
///
/// The CPU must support AVX-512F and AVX2. `src` must be valid for reads and `dst` for writes
/// of `len` bytes, and the ranges must be identical or disjoint.
#[target_feature(enable = "avx512f,avx2")]
pub(super) unsafe fn mask_avx512(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    let mut key = key;
    let mut i = 0;
    if len >= ALIGN_FROM {
        let head = head_len(dst, 64);
        // SAFETY: `head < 64 <= len`, so the head is in bounds; same aliasing rules.
        unsafe { mask_raw(src, dst, head, key) };
        key = rotate_key(key, head);
        i = head;
    }
    let k = _mm512_set1_epi32(key_i32(key));
    while i + 256 <= len {
        // SAFETY: `i + 256 <= len` keeps all four 64-byte accesses in bounds. Every vector is
        // loaded before any is stored, so `src == dst` is fine.
        unsafe {
            let s = src.add(i);
            let d = dst.add(i);
            let a = _mm512_loadu_si512(s.cast());
            let b = _mm512_loadu_si512(s.add(64).cast());
            let c = _mm512_loadu_si512(s.add(128).cast());
            let e = _mm512_loadu_si512(s.add(192).cast());
            _mm512_storeu_si512(d.cast(), _mm512_xor_si512(a, k));
            _mm512_storeu_si512(d.add(64).cast(), _mm512_xor_si512(b, k));
            _mm512_storeu_si512(d.add(128).cast(), _mm512_xor_si512(c, k));
            _mm512_storeu_si512(d.add(192).cast(), _mm512_xor_si512(e, k));
        }
        i += 256;
    }
    while i + 64 <= len {
        // SAFETY: `i + 64 <= len`.
        unsafe {
            let a = _mm512_loadu_si512(src.add(i).cast());
            _mm512_storeu_si512(dst.add(i).cast(), _mm512_xor_si512(a, k));
        }
        i += 64;
    }
    if i + 32 <= len {
        // SAFETY: `i + 32 <= len`; the low 32 bytes of `k` are the 32-byte key vector.
        unsafe {
            let a = _mm256_loadu_si256(src.add(i).cast());
            let k = _mm512_castsi512_si256(k);
            _mm256_storeu_si256(dst.add(i).cast(), _mm256_xor_si256(a, k));
        }
        i += 32;
    }
    if i + 16 <= len {
        // SAFETY: `i + 16 <= len`; the low 16 bytes of `k` are the 16-byte key vector.
        unsafe {
            let a = _mm_loadu_si128(src.add(i).cast());
            let k = _mm512_castsi512_si128(k);
            _mm_storeu_si128(dst.add(i).cast(), _mm_xor_si128(a, k));
        }
        i += 16;
    }
    // SAFETY: the remaining `len - i` bytes are in bounds; the key phase is 0 again because
    // the bulk advanced in multiples of 16.
    unsafe { mask_raw(src.add(i), dst.add(i), len - i, key) }
}
