//! `Utf8Validator`: verdicts and fail-fast points against `std::str::from_utf8`.

use proptest::collection::vec;
use proptest::prelude::*;
use ws_simd::Utf8Validator;

/// Whether some continuation could make `b` valid UTF-8.
fn is_valid_prefix(b: &[u8]) -> bool {
    match core::str::from_utf8(b) {
        Ok(_) => true,
        Err(e) => e.error_len().is_none(),
    }
}

/// The oracle: `(first_bad, valid_up_to)` where `first_bad` is the smallest `p` such that
/// `bytes[..p]` is not a valid prefix (so byte `p - 1` is where the input goes wrong), or
/// `None` if the whole input is a valid prefix.
fn oracle(bytes: &[u8]) -> Option<(usize, usize)> {
    let e = core::str::from_utf8(bytes).err()?;
    e.error_len()?;
    let v = e.valid_up_to();
    let p = (v + 1..=bytes.len().min(v + 4))
        .find(|&p| !is_valid_prefix(&bytes[..p]))
        .expect("an invalid sequence shows within 4 bytes");
    Some((p, v))
}

/// Feeds `bytes` cut at `cuts` and checks every step against the oracle.
fn check(bytes: &[u8], cuts: &[usize]) -> Result<(), TestCaseError> {
    let mut cuts = cuts.to_vec();
    cuts.push(0);
    cuts.push(bytes.len());
    cuts.sort_unstable();
    let bad = oracle(bytes);
    let mut v = Utf8Validator::new();
    let mut failed = false;
    for w in cuts.windows(2) {
        let (a, b) = (w[0], w[1]);
        let r = v.feed(&bytes[a..b]);
        match bad {
            // The piece holding the first byte after which no continuation can help fails.
            Some((p, valid)) if a < p && p <= b && !failed => {
                prop_assert_eq!(
                    r.map_err(|e| e.valid_up_to()),
                    Err(valid),
                    "piece {}..{}",
                    a,
                    b
                );
                failed = true;
            }
            Some((_, valid)) if failed => {
                prop_assert_eq!(r.map_err(|e| e.valid_up_to()), Err(valid), "sticky");
            }
            _ => prop_assert_eq!(r, Ok(()), "piece {}..{} of {:x?}", a, b, bytes),
        }
    }
    prop_assert_eq!(v.bytes_seen(), bytes.len());
    let want = core::str::from_utf8(bytes)
        .map(|_| ())
        .map_err(|e| e.valid_up_to());
    prop_assert_eq!(v.finish().map_err(|e| e.valid_up_to()), want);
    Ok(())
}

fn fragment() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        6 => any::<char>().prop_map(|c| c.to_string().into_bytes()),
        3 => "[a-z ]{1,20}".prop_map(String::into_bytes),
        1 => vec(any::<u8>(), 1..3),
    ]
}

fn cut_points(len_hint: usize) -> impl Strategy<Value = Vec<usize>> {
    vec(0..len_hint, 0..12)
}

proptest! {
    #[test]
    fn arbitrary_bytes_split_anywhere(bytes in vec(any::<u8>(), 0..40), cuts in vec(any::<prop::sample::Index>(), 0..10)) {
        let cuts: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        check(&bytes, &cuts)?;
    }

    #[test]
    fn strings_split_anywhere(s in any::<String>(), cuts in vec(any::<prop::sample::Index>(), 0..10)) {
        let bytes = s.as_bytes();
        let cuts: Vec<usize> = cuts.iter().map(|c| c.index(bytes.len() + 1)).collect();
        check(bytes, &cuts)?;
    }

    #[test]
    fn mostly_valid_split_anywhere(frags in vec(fragment(), 0..60), cuts in cut_points(2000)) {
        let bytes = frags.concat();
        let cuts: Vec<usize> = cuts.into_iter().filter(|&c| c <= bytes.len()).collect();
        check(&bytes, &cuts)?;
    }

    #[test]
    fn mostly_valid_byte_by_byte(frags in vec(fragment(), 0..12)) {
        let bytes = frags.concat();
        let cuts: Vec<usize> = (0..=bytes.len()).collect();
        check(&bytes, &cuts)?;
    }

    #[test]
    fn valid_strings_with_one_change_in_fixed_pieces(
        s in any::<String>(),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        piece in 1usize..70,
    ) {
        let mut bytes = s.repeat(4).into_bytes();
        if !bytes.is_empty() {
            let i = at.index(bytes.len());
            bytes[i] = byte;
        }
        let cuts: Vec<usize> = (0..bytes.len()).step_by(piece).collect();
        check(&bytes, &cuts)?;
    }
}

#[test]
fn explicit_fail_fast_cases() {
    for bad in [
        &[0xF4, 0x90][..],
        &[0xED, 0xA0],
        &[0xE0, 0x80],
        &[0xC0],
        &[0xF5],
        &[0xF0, 0x8F],
        &[0xC2, 0x41],
        &[0xE2, 0x82, 0x41],
    ] {
        let mut v = Utf8Validator::new();
        assert_eq!(v.feed(bad).map_err(|e| e.valid_up_to()), Err(0), "{bad:x?}");
        let mut v = Utf8Validator::new();
        v.feed("ab€".as_bytes()).unwrap();
        let (last, head) = bad.split_last().unwrap();
        v.feed(head).unwrap();
        assert_eq!(
            v.feed(&[*last]).map_err(|e| e.valid_up_to()),
            Err(5),
            "{bad:x?}"
        );
    }
}

#[test]
fn four_byte_char_split_one_byte_at_a_time() {
    let mut v = Utf8Validator::new();
    for b in "🦀".as_bytes() {
        assert!(v.finish().is_ok() != v.is_incomplete());
        v.feed(&[*b]).unwrap();
    }
    v.finish().unwrap();
    assert_eq!(v.bytes_seen(), 4);
}

#[test]
fn long_message_in_small_pieces() {
    let text = "Hello, 世界! Здравствуй, мир! 🦀🚀 ".repeat(2000);
    for piece in [1, 2, 3, 5, 63, 64, 65, 1000] {
        let mut v = Utf8Validator::new();
        for p in text.as_bytes().chunks(piece) {
            v.feed(p).unwrap();
        }
        v.finish().unwrap();
        assert_eq!(v.bytes_seen(), text.len());
    }
}
