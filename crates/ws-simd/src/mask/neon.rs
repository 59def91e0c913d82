//! aarch64 NEON masking kernel (16-byte vectors, four per iteration).

use core::arch::aarch64::*;

use super::rotate_key;
use super::scalar::mask_raw;

/// NEON kernel: writes `src[i] ^ key[i % 4]` to `dst[i]` for `i < len`.
///
/// # Safety
///
/// The CPU must support NEON (always true on aarch64 Linux/macOS). `src` must be valid for
/// reads and `dst` for writes of `len` bytes, and the ranges must be identical or disjoint.
#[target_feature(enable = "neon")]
pub(super) unsafe fn mask_neon(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    let mut key = key;
    let mut i = 0;
    if len >= 64 {
        let head = dst.addr().wrapping_neg() & 15;
        // SAFETY: `head < 16 <= len`, so the head is in bounds; same aliasing rules.
        unsafe { mask_raw(src, dst, head, key) };
        key = rotate_key(key, head);
        i = head;
    }
    let mut pat = [0u8; 16];
    for (j, b) in pat.iter_mut().enumerate() {
        *b = key[j & 3];
    }
    // SAFETY: `pat` is 16 readable bytes.
    let k = unsafe { vld1q_u8(pat.as_ptr()) };
    while i + 64 <= len {
        // SAFETY: `i + 64 <= len` keeps all four 16-byte accesses in bounds. Every vector is
        // loaded before any is stored, so `src == dst` is fine.
        unsafe {
            let s = src.add(i);
            let d = dst.add(i);
            let a = vld1q_u8(s);
            let b = vld1q_u8(s.add(16));
            let c = vld1q_u8(s.add(32));
            let e = vld1q_u8(s.add(48));
            vst1q_u8(d, veorq_u8(a, k));
            vst1q_u8(d.add(16), veorq_u8(b, k));
            vst1q_u8(d.add(32), veorq_u8(c, k));
            vst1q_u8(d.add(48), veorq_u8(e, k));
        }
        i += 64;
    }
    while i + 16 <= len {
        // SAFETY: `i + 16 <= len`.
        unsafe {
            let a = vld1q_u8(src.add(i));
            vst1q_u8(dst.add(i), veorq_u8(a, k));
        }
        i += 16;
    }
    // SAFETY: the remaining `len - i` bytes are in bounds; the key phase is 0 again because
    // the bulk advanced in multiples of 16.
    unsafe { mask_raw(src.add(i), dst.add(i), len - i, key) }
}
