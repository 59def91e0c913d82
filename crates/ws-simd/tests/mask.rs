//! Every masking implementation against a plain byte loop.

use proptest::collection::vec;
use proptest::prelude::*;
use ws_simd::{Implementation, apply_mask, apply_mask_offset, copy_and_mask, mask};

/// The reference: one byte at a time.
fn byte_loop(buf: &mut [u8], key: [u8; 4], offset: usize) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[(offset + i) % 4];
    }
}

fn expected(data: &[u8], key: [u8; 4], offset: usize) -> Vec<u8> {
    let mut v = data.to_vec();
    byte_loop(&mut v, key, offset);
    v
}

const GUARD: u8 = 0xA5;
const PAD: usize = 80;

/// `data` copied at `align` into a guarded buffer; returns the buffer.
fn placed(data: &[u8], align: usize) -> Vec<u8> {
    let mut buf = vec![GUARD; align + data.len() + PAD];
    buf[align..align + data.len()].copy_from_slice(data);
    buf
}

fn assert_guards(buf: &[u8], align: usize, len: usize, what: &str) {
    assert!(
        buf[..align].iter().all(|&b| b == GUARD),
        "{what}: wrote before the buffer"
    );
    assert!(
        buf[align + len..].iter().all(|&b| b == GUARD),
        "{what}: wrote past the buffer"
    );
}

/// Checks every path (each implementation forced, and the dispatched functions).
fn check_all(data: &[u8], align: usize, align2: usize, key: [u8; 4], offset: usize) {
    let want = expected(data, key, offset);
    let len = data.len();
    let mut imps: Vec<Option<Implementation>> = mask::available().into_iter().map(Some).collect();
    imps.push(None); // the dispatched functions
    for imp in imps {
        let what = format!("{imp:?} len={len} align={align} offset={offset}");
        // In place.
        let mut buf = placed(data, align);
        match imp {
            Some(imp) => mask::apply_mask_with(imp, &mut buf[align..align + len], key, offset),
            None if offset == 0 => apply_mask(&mut buf[align..align + len], key),
            None => apply_mask_offset(&mut buf[align..align + len], key, offset),
        }
        assert_eq!(&buf[align..align + len], &want[..], "{what}");
        assert_guards(&buf, align, len, &what);
        // Copying, source and destination at different alignments.
        let src = placed(data, align);
        let mut dst = vec![GUARD; align2 + len + PAD];
        match imp {
            Some(imp) => mask::copy_and_mask_with(
                imp,
                &mut dst[align2..align2 + len],
                &src[align..align + len],
                key,
                offset,
            ),
            None => copy_and_mask(
                &mut dst[align2..align2 + len],
                &src[align..align + len],
                key,
                offset,
            ),
        }
        assert_eq!(&dst[align2..align2 + len], &want[..], "copy {what}");
        assert_guards(&dst, align2, len, &format!("copy {what}"));
        assert_eq!(src, placed(data, align), "copy modified its source");
    }
}

proptest! {
    #[test]
    fn small_buffers_match_byte_loop(
        data in vec(any::<u8>(), 0..300),
        align in 0usize..64,
        align2 in 0usize..64,
        key in any::<[u8; 4]>(),
        offset in any::<usize>(),
    ) {
        check_all(&data, align, align2, key, offset);
    }

    /// Splitting a payload anywhere and masking the pieces with their offsets equals masking
    /// it at once, for every implementation.
    #[test]
    fn streaming_pieces_match_at_once(
        data in vec(any::<u8>(), 0..600),
        cuts in vec(any::<prop::sample::Index>(), 0..8),
        key in any::<[u8; 4]>(),
        offset in 0usize..16,
    ) {
        let want = expected(&data, key, offset);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(data.len() + 1)).collect();
        cuts.push(0);
        cuts.push(data.len());
        cuts.sort_unstable();
        for imp in mask::available() {
            let mut buf = data.clone();
            let mut dst = vec![0u8; data.len()];
            for w in cuts.windows(2) {
                let (a, b) = (w[0], w[1]);
                mask::apply_mask_with(imp, &mut buf[a..b], key, offset + a);
                mask::copy_and_mask_with(imp, &mut dst[a..b], &data[a..b], key, offset + a);
            }
            prop_assert_eq!(&buf, &want, "{}", imp);
            prop_assert_eq!(&dst, &want, "copy {}", imp);
        }
        let mut buf = data.clone();
        for w in cuts.windows(2) {
            apply_mask_offset(&mut buf[w[0]..w[1]], key, offset + w[0]);
        }
        prop_assert_eq!(&buf, &want);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn large_buffers_match_byte_loop(
        data in vec(any::<u8>(), 300..5000),
        align in 0usize..64,
        align2 in 0usize..64,
        key in any::<[u8; 4]>(),
        offset in any::<usize>(),
    ) {
        check_all(&data, align, align2, key, offset);
    }
}

#[test]
fn every_length_and_alignment_up_to_600() {
    let data: Vec<u8> = (0..600u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    for len in 0..600 {
        for align in [0, 1, 3, 7, 31, 33, 63] {
            check_all(
                &data[..len],
                align,
                64 - align,
                [0xDE, 0xAD, 0xBE, 0xEF],
                len,
            );
        }
    }
}

#[test]
fn masking_twice_is_identity() {
    let data: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    for imp in mask::available() {
        let mut buf = data.clone();
        mask::apply_mask_with(imp, &mut buf, [1, 2, 3, 4], 5);
        assert_ne!(buf, data);
        mask::apply_mask_with(imp, &mut buf, [1, 2, 3, 4], 5);
        assert_eq!(buf, data);
    }
}

#[test]
#[should_panic(expected = "same length")]
fn copy_and_mask_length_mismatch_panics() {
    copy_and_mask(&mut [0u8; 3], &[0u8; 4], [1, 2, 3, 4], 0);
}

#[test]
fn lists_this_cpu() {
    let available = mask::available();
    println!(
        "mask implementations: {available:?}, selected {}",
        mask::selected()
    );
    assert_eq!(available[0], Implementation::Scalar);
    assert_eq!(available.last(), Some(&mask::selected()));
    for imp in &available {
        assert!(mask::is_available(*imp));
    }
}

/// `len` bytes starting `misalign` bytes past a 64-byte boundary inside `backing`.
fn at(backing: &mut [u8], misalign: usize, len: usize) -> &mut [u8] {
    let start = backing.as_ptr().align_offset(64) + misalign;
    &mut backing[start..start + len]
}

/// Lengths that reach every step of the kernels' unrolled loops (one 512-byte iteration plus
/// every remainder) and, past 2048 bytes, of their aligned bulk, with the destination at many
/// positions within a cache line (so that the aligning head takes many values) and the source
/// at another one.
#[test]
fn long_buffers_every_remainder_and_dst_alignment() {
    let data: Vec<u8> = (0..2700u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
        .collect();
    let key = [0x3C, 0xA5, 0x0F, 0x96];
    let size = 2700 + 128;
    let guards = vec![GUARD; size];
    let mut backing = vec![GUARD; size];
    let mut src_backing = vec![0u8; size];
    let mut imps: Vec<Option<Implementation>> = mask::available().into_iter().map(Some).collect();
    imps.push(None); // the dispatched functions
    for len in (500..1100).chain(2030..2600) {
        let offset = len % 7;
        let want = expected(&data[..len], key, offset);
        for misalign in [0, 1, 3, 16, 31, 32, 33, 47, 63] {
            for &imp in &imps {
                let what = format!("{imp:?} len={len} misalign={misalign}");
                // In place.
                backing.copy_from_slice(&guards);
                let buf = at(&mut backing, misalign, len);
                buf.copy_from_slice(&data[..len]);
                match imp {
                    Some(imp) => mask::apply_mask_with(imp, buf, key, offset),
                    None => apply_mask_offset(buf, key, offset),
                }
                assert_eq!(&at(&mut backing, misalign, len)[..], &want[..], "{what}");
                at(&mut backing, misalign, len).copy_from_slice(&guards[..len]);
                assert_eq!(backing, guards, "{what}: wrote outside the buffer");
                // Copying.
                let src = at(&mut src_backing, (misalign + 9) % 64, len);
                src.copy_from_slice(&data[..len]);
                let dst = at(&mut backing, misalign, len);
                match imp {
                    Some(imp) => mask::copy_and_mask_with(imp, dst, src, key, offset),
                    None => copy_and_mask(dst, src, key, offset),
                }
                assert_eq!(
                    &at(&mut backing, misalign, len)[..],
                    &want[..],
                    "copy {what}"
                );
                at(&mut backing, misalign, len).copy_from_slice(&guards[..len]);
                assert_eq!(backing, guards, "copy {what}: wrote outside the buffer");
            }
        }
    }
}
