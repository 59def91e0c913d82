//! Portable masking on `u64` words (the reference path and the tail of the SIMD paths).

/// Masks `buf` in place with the already-rotated `key`.
#[inline]
pub(super) fn mask_in_place(buf: &mut [u8], key: [u8; 4]) {
    let p = buf.as_mut_ptr();
    // SAFETY: `p` is valid for reads and writes of `buf.len()` bytes; `mask_raw` allows
    // `src == dst`.
    unsafe { mask_raw(p, p, buf.len(), key) }
}

/// Copies `src` into `dst` (same length) masking with the already-rotated `key`.
#[inline]
pub(super) fn mask_copy(dst: &mut [u8], src: &[u8], key: [u8; 4]) {
    assert_eq!(dst.len(), src.len());
    // SAFETY: `src` is valid for reads and `dst` for writes of `src.len()` bytes (checked
    // equal above), and a `&` and a `&mut` slice never overlap.
    unsafe { mask_raw(src.as_ptr(), dst.as_mut_ptr(), src.len(), key) }
}

/// Writes `src[i] ^ key[i % 4]` to `dst[i]` for `i < len`, a word at a time.
///
/// # Safety
///
/// `src` must be valid for reads and `dst` for writes of `len` bytes, and the two ranges must
/// either be identical (`src == dst`, masking in place) or not overlap.
#[inline(always)]
pub(super) unsafe fn mask_raw(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    // Two copies of the key side by side, built from one 32-bit word (byte-wise array
    // construction costs dozens of instructions per call, which small frames feel).
    let k32 = u32::from_ne_bytes(key);
    let k64 = u64::from(k32) | (u64::from(k32) << 32);
    let mut i = 0;
    while i + 16 <= len {
        // SAFETY: `i + 16 <= len`, so both 8-byte words are in bounds of `src` and `dst`
        // (unaligned accesses are used). Each word is read before it is written, so
        // `src == dst` is fine.
        unsafe {
            let a = src.add(i).cast::<u64>().read_unaligned();
            let b = src.add(i + 8).cast::<u64>().read_unaligned();
            dst.add(i).cast::<u64>().write_unaligned(a ^ k64);
            dst.add(i + 8).cast::<u64>().write_unaligned(b ^ k64);
        }
        i += 16;
    }
    if i + 8 <= len {
        // SAFETY: `i + 8 <= len`; as above.
        unsafe {
            let a = src.add(i).cast::<u64>().read_unaligned();
            dst.add(i).cast::<u64>().write_unaligned(a ^ k64);
        }
        i += 8;
    }
    if i + 4 <= len {
        // SAFETY: `i + 4 <= len`; as above. `i` is a multiple of 4, so the key phase is 0.
        unsafe {
            let a = src.add(i).cast::<u32>().read_unaligned();
            dst.add(i).cast::<u32>().write_unaligned(a ^ k32);
        }
        i += 4;
    }
    while i < len {
        // SAFETY: `i < len`.
        unsafe { *dst.add(i) = *src.add(i) ^ key[i & 3] };
        i += 1;
    }
}
