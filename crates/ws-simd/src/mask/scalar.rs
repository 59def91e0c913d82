//! Portable masking on `u64` words (the reference path, and the path of the SIMD kernels and of
//! the dispatcher for buffers shorter than a vector).

/// Writes `src[i] ^ key[i % 4]` to `dst[i]` for `i < len`, a word at a time.
///
/// # Safety
///
/// `src` must be valid for reads and `dst` for writes of `len` bytes, and the two ranges must
/// either be identical (`src == dst`, masking in place) or not overlap.
#[inline(always)]
pub(super) unsafe fn mask_raw(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    let k64 = key_u64(key);
    let mut i = 0;
    // Four words per iteration (independent work for the CPU; where the compiler vectorises
    // this, two 16-byte vectors).
    while len - i >= 32 {
        // SAFETY: `i + 32 <= len`, so the four 8-byte words are in bounds of `src` and `dst`
        // (unaligned accesses are used). Each word is read before it is written, so
        // `src == dst` is fine.
        unsafe {
            let s = src.add(i).cast::<u64>();
            let d = dst.add(i).cast::<u64>();
            let (a, b) = (s.read_unaligned(), s.add(1).read_unaligned());
            let (c, e) = (s.add(2).read_unaligned(), s.add(3).read_unaligned());
            d.write_unaligned(a ^ k64);
            d.add(1).write_unaligned(b ^ k64);
            d.add(2).write_unaligned(c ^ k64);
            d.add(3).write_unaligned(e ^ k64);
        }
        i += 32;
    }
    // SAFETY: the remaining `len - i < 32` bytes are in bounds, at key phase 0 (`i` is a
    // multiple of 32); same aliasing rules.
    unsafe { mask_short(src.add(i), dst.add(i), len - i, key) }
}

/// [`mask_raw`] for `len < 32`: a 16-, 8-, 4-, 2- and 1-byte step as the bits of the length
/// say, without a loop (a loop here would be vectorised and unrolled by the compiler for
/// lengths it never sees).
///
/// # Safety
///
/// As [`mask_raw`], and `len < 32`.
#[inline(always)]
pub(super) unsafe fn mask_short(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    debug_assert!(len < 32);
    let k32 = u32::from_ne_bytes(key);
    let k64 = key_u64(key);
    let mut i = 0;
    if len & 16 != 0 {
        // SAFETY: `16 <= len`, so both words are in bounds; each is read before it is written.
        unsafe {
            let s = src.cast::<u64>();
            let (a, b) = (s.read_unaligned(), s.add(1).read_unaligned());
            dst.cast::<u64>().write_unaligned(a ^ k64);
            dst.cast::<u64>().add(1).write_unaligned(b ^ k64);
        }
        i = 16;
    }
    if len & 8 != 0 {
        // SAFETY: `i + 8 <= len` (`i` counts the higher bits of `len` only); as above.
        unsafe {
            let a = src.add(i).cast::<u64>().read_unaligned();
            dst.add(i).cast::<u64>().write_unaligned(a ^ k64);
        }
        i += 8;
    }
    // `i` is a multiple of 8, so the key phase is 0 again.
    if len & 4 != 0 {
        // SAFETY: `i + 4 <= len`; as above.
        unsafe {
            let a = src.add(i).cast::<u32>().read_unaligned();
            dst.add(i).cast::<u32>().write_unaligned(a ^ k32);
        }
        i += 4;
    }
    if len & 2 != 0 {
        // SAFETY: `i + 2 <= len`; as above. The key phase is 0 (`i` is a multiple of 4).
        unsafe {
            let a = src.add(i).cast::<u16>().read_unaligned();
            let k16 = u16::from_ne_bytes([key[0], key[1]]);
            dst.add(i).cast::<u16>().write_unaligned(a ^ k16);
        }
        i += 2;
    }
    if len & 1 != 0 {
        // The key phase of byte `i` is 0 or 2 (`i % 4 == len & 2`): that byte of the key, read
        // from the little-endian word rather than by an indexed load from memory.
        let kb = (u32::from_le_bytes(key) >> ((len & 2) * 8)) as u8;
        // SAFETY: `i + 1 == len`.
        unsafe { *dst.add(i) = *src.add(i) ^ kb };
    }
}

/// Two copies of the key side by side, built from one 32-bit word (byte-wise array
/// construction costs dozens of instructions per call, which small frames feel).
#[inline(always)]
fn key_u64(key: [u8; 4]) -> u64 {
    let k32 = u32::from_ne_bytes(key);
    u64::from(k32) | (u64::from(k32) << 32)
}
