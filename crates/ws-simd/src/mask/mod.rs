//! Frame masking ([RFC 6455 §5.3]): XOR a payload with a 4-byte key, byte `i` with
//! `key[i % 4]`.
//!
//! The crate-root functions ([`apply_mask`], [`apply_mask_offset`], [`copy_and_mask`]) use the
//! best implementation for this CPU, detected at first use and cached (as a pointer to its
//! kernel: a dispatched call is one relaxed load and an indirect call). Buffers shorter than 64
//! bytes skip dispatch altogether and use an inlined path (16-byte SSE2 vectors on x86_64, where
//! SSE2 is baseline, and the scalar word path elsewhere), which measured faster than a call into
//! a vector kernel at those sizes. The `*_with` functions force one implementation, for tests
//! and benchmarks.
//!
//! [RFC 6455 §5.3]: https://www.rfc-editor.org/rfc/rfc6455#section-5.3

use core::sync::atomic::{AtomicPtr, AtomicU8, Ordering};

use crate::Implementation;

#[cfg(all(feature = "simd", target_arch = "aarch64"))]
mod neon;
mod scalar;
#[cfg(all(feature = "simd", target_arch = "x86_64"))]
mod x86;

/// Below this length the dispatched functions use the inlined [`small`] path (measured on
/// AVX-512/AVX2 hardware: below 64 bytes it beats the call into a vector kernel).
const SMALL: usize = 64;

/// The cached choice of [`selected`]: 0 until detected, then `Implementation::to_u8`.
static SELECTED: AtomicU8 = AtomicU8::new(0);

/// A masking kernel: writes `src[i] ^ key[i % 4]` to `dst[i]` for `i < len`.
///
/// Calling one is `unsafe`: its implementation must be supported by the running CPU, `src`
/// must be valid for reads and `dst` for writes of `len` bytes, and the two ranges must be
/// identical (masking in place) or disjoint.
type Kernel = unsafe fn(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]);

/// The kernel of the dispatched functions for buffers of [`SMALL`] bytes and more, a [`Kernel`]
/// stored as a pointer: [`detect_and_run`] until the first dispatched call, then
/// [`dispatched_kernel`]`(`[`selected`]`())`. Racing threads store the same value.
static KERNEL: AtomicPtr<()> = AtomicPtr::new(detect_and_run as Kernel as *mut ());

/// XORs `buf` in place with `key`: byte `i` with `key[i % 4]`.
///
/// Masking is its own inverse, so this both masks and unmasks.
///
/// ```
/// let mut payload = *b"Hello";
/// ws_simd::apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d]);
/// assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]); // RFC 6455 §5.7
/// ```
#[inline]
pub fn apply_mask(buf: &mut [u8], key: [u8; 4]) {
    apply_mask_offset(buf, key, 0);
}

/// Streaming form of [`apply_mask`]: `offset` is how many payload bytes were already masked
/// before `buf`, so byte `i` of `buf` is XOR-ed with `key[(offset + i) % 4]`.
///
/// Masking a payload in pieces `a`, `b` with offsets `0` and `a.len()` gives the same result
/// as masking it at once.
#[inline]
pub fn apply_mask_offset(buf: &mut [u8], key: [u8; 4], offset: usize) {
    let key = rotate_key(key, offset);
    let p = buf.as_mut_ptr();
    if buf.len() < SMALL {
        // SAFETY: `p` is valid for reads and writes of `buf.len()` bytes, and `small` allows
        // `src == dst`.
        return unsafe { small(p, p, buf.len(), key) };
    }
    // SAFETY: as above, and `len >= SMALL`.
    unsafe { run_selected(p, p, buf.len(), key) }
}

/// Copies `src` into `dst` masking on the way, in one pass (the client send path): byte `i` of
/// `dst` becomes `src[i] ^ key[(offset + i) % 4]`.
///
/// # Panics
///
/// If `dst.len() != src.len()`.
#[inline]
pub fn copy_and_mask(dst: &mut [u8], src: &[u8], key: [u8; 4], offset: usize) {
    assert_eq!(
        dst.len(),
        src.len(),
        "copy_and_mask: dst and src must have the same length"
    );
    let key = rotate_key(key, offset);
    let (s, d, len) = (src.as_ptr(), dst.as_mut_ptr(), src.len());
    if len < SMALL {
        // SAFETY: the lengths are equal (asserted above), `s` is valid for reads and `d` for
        // writes of `len` bytes, and a `&` and a `&mut` slice never overlap.
        return unsafe { small(s, d, len, key) };
    }
    // SAFETY: as above, and `len >= SMALL`.
    unsafe { run_selected(s, d, len, key) }
}

/// [`apply_mask_offset`] with a forced implementation (no small-buffer shortcut either).
///
/// # Panics
///
/// If `imp` is not in [`available()`]: an implementation the CPU (or this build) lacks is never
/// executed.
pub fn apply_mask_with(imp: Implementation, buf: &mut [u8], key: [u8; 4], offset: usize) {
    ensure_available(imp);
    let p = buf.as_mut_ptr();
    // SAFETY: `ensure_available` returned, so `imp` is supported by this CPU and build; `p` is
    // valid for reads and writes of `buf.len()` bytes, and the kernels allow `src == dst`.
    unsafe { run(imp, p, p, buf.len(), rotate_key(key, offset)) }
}

/// [`copy_and_mask`] with a forced implementation (no small-buffer shortcut either).
///
/// # Panics
///
/// If `dst.len() != src.len()`, or if `imp` is not in [`available()`].
pub fn copy_and_mask_with(
    imp: Implementation,
    dst: &mut [u8],
    src: &[u8],
    key: [u8; 4],
    offset: usize,
) {
    assert_eq!(
        dst.len(),
        src.len(),
        "copy_and_mask_with: dst and src must have the same length"
    );
    ensure_available(imp);
    let key = rotate_key(key, offset);
    // SAFETY: `ensure_available` returned, so `imp` is supported by this CPU and build; the
    // lengths are equal (asserted above), and a `&` and a `&mut` slice never overlap.
    unsafe { run(imp, src.as_ptr(), dst.as_mut_ptr(), src.len(), key) }
}

/// The masking implementations this CPU and build support, slowest first (the last one is
/// what [`selected`] picks). Always starts with [`Implementation::Scalar`].
pub fn available() -> Vec<Implementation> {
    [
        Implementation::Scalar,
        Implementation::Sse2,
        Implementation::Avx2,
        Implementation::Avx512,
        Implementation::Neon,
    ]
    .into_iter()
    .filter(|&imp| is_available(imp))
    .collect()
}

/// Whether `imp` is a masking implementation that this CPU and build support.
pub fn is_available(imp: Implementation) -> bool {
    match imp {
        Implementation::Scalar => true,
        #[cfg(all(feature = "simd", target_arch = "x86_64"))]
        Implementation::Sse2 => std::arch::is_x86_feature_detected!("sse2"),
        #[cfg(all(feature = "simd", target_arch = "x86_64"))]
        Implementation::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
        #[cfg(all(feature = "simd", target_arch = "x86_64"))]
        Implementation::Avx512 => {
            std::arch::is_x86_feature_detected!("avx512f")
                && std::arch::is_x86_feature_detected!("avx2")
        }
        #[cfg(all(feature = "simd", target_arch = "aarch64"))]
        Implementation::Neon => std::arch::is_aarch64_feature_detected!("neon"),
        _ => false,
    }
}

/// The implementation the dispatched functions use on this CPU (detected once, then cached).
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

#[track_caller]
fn ensure_available(imp: Implementation) {
    assert!(
        is_available(imp),
        "ws-simd: masking implementation `{imp}` is not available on this CPU/build (available: {:?})",
        available()
    );
}

/// The key as seen from a buffer that starts `offset` bytes into the payload.
#[inline]
pub(crate) const fn rotate_key(key: [u8; 4], offset: usize) -> [u8; 4] {
    // Byte `r` of the key becomes byte 0: a rotation of the key read as one word (towards the
    // low address), one instruction instead of four indexed loads.
    let bits = ((offset & 3) * 8) as u32;
    let word = u32::from_le_bytes(key).rotate_right(bits);
    word.to_le_bytes()
}

/// The dispatched path for buffers shorter than [`SMALL`], inlined into the callers:
/// `src[i] ^ key[i % 4]` to `dst[i]` for `i < len` (the already-rotated `key`).
///
/// # Safety
///
/// `src` must be valid for reads and `dst` for writes of `len` bytes, and the ranges must be
/// identical or disjoint.
#[inline(always)]
unsafe fn small(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    #[cfg(all(feature = "simd", target_arch = "x86_64"))]
    {
        if len >= 16 {
            // SAFETY: SSE2 is part of x86_64; `len >= 16`, and the caller guarantees the
            // pointers.
            return unsafe { x86::bulk_sse2(src, dst, len, key) };
        }
        // SAFETY: the caller guarantees the pointers, and `len < 16`.
        unsafe { scalar::mask_short(src, dst, len, key) }
    }
    #[cfg(not(all(feature = "simd", target_arch = "x86_64")))]
    // SAFETY: the caller guarantees the pointers; `mask_raw` has the same contract.
    unsafe {
        scalar::mask_raw(src, dst, len, key)
    }
}

/// Writes `src[i] ^ key[i % 4]` to `dst[i]` for `i < len` with the selected implementation
/// (the already-rotated `key`): one relaxed load and an indirect call.
///
/// # Safety
///
/// `len >= SMALL`; `src` must be valid for reads and `dst` for writes of `len` bytes, and the
/// ranges must be identical or disjoint.
#[inline]
unsafe fn run_selected(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    let p = KERNEL.load(Ordering::Relaxed);
    // SAFETY: `KERNEL` only ever holds a `Kernel` cast to a pointer (`detect_and_run`, or the
    // kernel of an implementation `detect()` found supported), and function pointers and data
    // pointers have the same size on every target this crate builds for.
    let kernel = unsafe { core::mem::transmute::<*mut (), Kernel>(p) };
    // SAFETY: the kernel's implementation is supported (or it is `detect_and_run`, which only
    // calls a supported one); the caller guarantees the pointers and `len >= SMALL`.
    unsafe { kernel(src, dst, len, key) }
}

/// The first dispatched call: detects the implementation, caches its kernel in [`KERNEL`] and
/// runs it.
///
/// # Safety
///
/// As a [`Kernel`] (any implementation it picks is supported), and `len >= SMALL`.
#[cold]
#[inline(never)]
unsafe fn detect_and_run(src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    let f = dispatched_kernel(selected());
    KERNEL.store(f as *mut (), Ordering::Relaxed);
    // SAFETY: `selected()` only returns an implementation that `detect()` found supported; the
    // caller guarantees the pointers and `len >= SMALL`.
    unsafe { f(src, dst, len, key) }
}

/// The kernel [`KERNEL`] holds for `imp` (the scalar one for an implementation masking does not
/// have). Calling it requires `imp` to be supported and `len >= SMALL` (the x86_64 kernels for
/// long buffers skip the checks for buffers shorter than a vector).
fn dispatched_kernel(imp: Implementation) -> Kernel {
    match imp {
        #[cfg(all(feature = "simd", target_arch = "x86_64"))]
        Implementation::Avx512 => x86::mask_avx512_long,
        #[cfg(all(feature = "simd", target_arch = "x86_64"))]
        Implementation::Avx2 => x86::mask_avx2_long,
        #[cfg(all(feature = "simd", target_arch = "x86_64"))]
        Implementation::Sse2 => x86::mask_sse2_long,
        #[cfg(all(feature = "simd", target_arch = "aarch64"))]
        Implementation::Neon => neon::mask_neon,
        _ => scalar::mask_raw,
    }
}

/// Writes `src[i] ^ key[i % 4]` to `dst[i]` for `i < len` using `imp` (the already-rotated
/// `key`).
///
/// # Safety
///
/// `imp` must be supported by the running CPU (and compiled into this build). `src` must be
/// valid for reads and `dst` for writes of `len` bytes, and the ranges must be identical or
/// disjoint.
#[inline]
unsafe fn run(imp: Implementation, src: *const u8, dst: *mut u8, len: usize, key: [u8; 4]) {
    #[cfg(all(feature = "simd", target_arch = "x86_64"))]
    match imp {
        // SAFETY: the caller guarantees AVX-512F/AVX2 support and the pointers.
        Implementation::Avx512 => return unsafe { x86::mask_avx512(src, dst, len, key) },
        // SAFETY: as above, with AVX2.
        Implementation::Avx2 => return unsafe { x86::mask_avx2(src, dst, len, key) },
        // SAFETY: as above, with SSE2.
        Implementation::Sse2 => return unsafe { x86::mask_sse2(src, dst, len, key) },
        _ => {}
    }
    #[cfg(all(feature = "simd", target_arch = "aarch64"))]
    if imp == Implementation::Neon {
        // SAFETY: the caller guarantees NEON support and the pointers.
        return unsafe { neon::mask_neon(src, dst, len, key) };
    }
    let _ = imp;
    // SAFETY: the caller guarantees the pointers; `mask_raw` has the same contract.
    unsafe { scalar::mask_raw(src, dst, len, key) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn byte_loop(buf: &mut [u8], key: [u8; 4], offset: usize) {
        for (i, b) in buf.iter_mut().enumerate() {
            *b ^= key[(offset + i) % 4];
        }
    }

    #[test]
    fn rfc_example() {
        let mut payload = *b"Hello";
        apply_mask(&mut payload, [0x37, 0xfa, 0x21, 0x3d]);
        assert_eq!(payload, [0x7f, 0x9f, 0x4d, 0x51, 0x58]);
    }

    #[test]
    fn rotate() {
        let k = [1, 2, 3, 4];
        assert_eq!(rotate_key(k, 0), k);
        assert_eq!(rotate_key(k, 1), [2, 3, 4, 1]);
        assert_eq!(rotate_key(k, 6), [3, 4, 1, 2]);
        assert_eq!(rotate_key(k, 7), [4, 1, 2, 3]);
    }

    #[test]
    fn every_impl_every_small_case() {
        let key = [0xA1, 0x52, 0x0C, 0xFF];
        let data: Vec<u8> = (0..700u32).map(|i| (i * 7 + 3) as u8).collect();
        for imp in available() {
            for start in 0..8 {
                for len in (0..300).chain([511, 512, 513, 640]) {
                    for offset in 0..4 {
                        let src = &data[start..start + len];
                        let mut want = src.to_vec();
                        byte_loop(&mut want, key, offset);
                        let mut buf = data.clone();
                        apply_mask_with(imp, &mut buf[start..start + len], key, offset);
                        assert_eq!(&buf[start..start + len], &want[..], "{imp} {start} {len}");
                        let mut dst = vec![0u8; len + 8];
                        copy_and_mask_with(imp, &mut dst[start..start + len], src, key, offset);
                        assert_eq!(&dst[start..start + len], &want[..], "{imp} {start} {len}");
                    }
                }
            }
        }
    }

    /// What `KERNEL` may hold, for every implementation available here (the dispatched
    /// functions reach only the selected one), at every length from `SMALL` past two 512-byte
    /// loop iterations, in place and copying from several source alignments.
    #[test]
    fn dispatched_kernels_from_small_on() {
        let key = [0x5A, 0x01, 0xC3, 0x7E];
        let data: Vec<u8> = (0..1300u32).map(|i| (i * 13 + 5) as u8).collect();
        for imp in available() {
            let kernel = dispatched_kernel(imp);
            for len in SMALL..1200 {
                for start in [0, 3, 8, 17] {
                    let src = &data[start..start + len];
                    let mut want = src.to_vec();
                    byte_loop(&mut want, key, 0);
                    let mut buf = src.to_vec();
                    let p = buf.as_mut_ptr();
                    // SAFETY: `imp` is available, `len >= SMALL`, and `p` is valid for reads and
                    // writes of `len` bytes (masking in place).
                    unsafe { kernel(p, p, len, key) };
                    assert_eq!(buf, want, "{imp} {start} {len}");
                    let mut dst = vec![0u8; len];
                    // SAFETY: as above, with `src` valid for reads and `dst` for writes of `len`
                    // bytes, disjoint.
                    unsafe { kernel(src.as_ptr(), dst.as_mut_ptr(), len, key) };
                    assert_eq!(dst, want, "copy {imp} {start} {len}");
                }
            }
        }
    }

    #[test]
    fn selected_is_the_best_available() {
        assert_eq!(Some(&selected()), available().last());
        assert_eq!(available()[0], Implementation::Scalar);
    }

    #[test]
    #[should_panic(expected = "not available")]
    fn unavailable_impl_panics() {
        // SSE4.1 is a UTF-8 implementation only, so it is never a masking one.
        apply_mask_with(Implementation::Sse41, &mut [0u8; 4], [1, 2, 3, 4], 0);
    }
}
