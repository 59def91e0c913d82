//! Every UTF-8 implementation against `std::str::from_utf8`.

use proptest::collection::vec;
use proptest::prelude::*;
use ws_simd::{Implementation, Utf8Error, utf8, validate_utf8};

fn std_verdict(b: &[u8]) -> Result<(), usize> {
    core::str::from_utf8(b)
        .map(|_| ())
        .map_err(|e| e.valid_up_to())
}

/// Checks every implementation (forced, and the dispatched function) on `bytes` placed at
/// `align` bytes into a larger buffer.
fn check_all(bytes: &[u8], align: usize) -> Result<(), TestCaseError> {
    let want = std_verdict(bytes);
    let mut buf = vec![b'x'; align];
    buf.extend_from_slice(bytes);
    buf.extend_from_slice(&[0xFF; 70]); // garbage after the end must not be looked at
    let input = &buf[align..align + bytes.len()];
    for imp in utf8::available() {
        let got = utf8::validate_with(imp, input).map_err(|e| e.valid_up_to());
        prop_assert_eq!(got, want, "{} on {:x?}", imp, bytes);
    }
    let got = validate_utf8(input).map_err(|e| e.valid_up_to());
    prop_assert_eq!(got, want, "dispatched on {:x?}", bytes);
    Ok(())
}

/// Byte sequences that exercise every error class and every valid form.
fn fragment() -> impl Strategy<Value = Vec<u8>> {
    let interesting: Vec<Vec<u8>> = vec![
        // valid
        b"a".to_vec(),
        b"hello world, ".to_vec(),
        "é".into(),
        "߿".into(),
        "€".into(),
        "中文".into(),
        "\u{FFFF}".into(),
        "\u{D7FF}".into(),
        "\u{E000}".into(),
        "🦀".into(),
        "\u{10FFFF}".into(),
        "\u{10000}".into(),
        // invalid or incomplete on their own
        vec![0x80],
        vec![0xBF],
        vec![0xC0, 0x80],
        vec![0xC1, 0xBF],
        vec![0xC2],
        vec![0xE0, 0x80, 0x80],
        vec![0xE0, 0x9F, 0xBF],
        vec![0xE0, 0xA0],
        vec![0xED, 0xA0, 0x80],
        vec![0xED, 0xBF, 0xBF],
        vec![0xF0, 0x8F, 0xBF, 0xBF],
        vec![0xF0, 0x90, 0x80],
        vec![0xF4, 0x90, 0x80, 0x80],
        vec![0xF5, 0x80, 0x80, 0x80],
        vec![0xF8, 0x88, 0x80, 0x80, 0x80],
        vec![0xFE],
        vec![0xFF],
    ];
    prop_oneof![
        8 => prop::sample::select(interesting[..12].to_vec()),
        1 => prop::sample::select(interesting[12..].to_vec()),
        1 => vec(any::<u8>(), 1..4),
    ]
}

/// Mostly-valid input with occasional errors anywhere.
fn mixed_bytes(max_fragments: usize) -> impl Strategy<Value = Vec<u8>> {
    vec(fragment(), 0..max_fragments).prop_map(|v| v.concat())
}

/// Strings mixing 1- to 4-byte characters.
fn text(max_chars: usize) -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        4 => prop::char::range('\0', '\u{7F}'),
        1 => prop::char::range('\u{80}', '\u{7FF}'),
        1 => prop::char::range('\u{800}', '\u{FFFF}'),
        1 => prop::char::range('\u{10000}', '\u{10FFFF}'),
        1 => any::<char>(),
    ];
    vec(ch, 0..max_chars).prop_map(|v| v.into_iter().collect())
}

proptest! {
    #[test]
    fn arbitrary_bytes(bytes in vec(any::<u8>(), 0..300), align in 0usize..64) {
        check_all(&bytes, align)?;
    }

    #[test]
    fn mostly_valid_bytes(bytes in mixed_bytes(120), align in 0usize..64) {
        check_all(&bytes, align)?;
    }

    #[test]
    fn valid_strings(s in any::<String>(), t in text(200), align in 0usize..64) {
        check_all(s.as_bytes(), align)?;
        check_all(t.as_bytes(), align)?;
        prop_assert!(validate_utf8(t.as_bytes()).is_ok());
    }

    #[test]
    fn valid_strings_with_one_byte_changed(
        t in text(200),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        align in 0usize..64,
    ) {
        let mut b = t.into_bytes();
        if !b.is_empty() {
            let i = at.index(b.len());
            b[i] = byte;
        }
        check_all(&b, align)?;
    }

    #[test]
    fn valid_strings_truncated(t in text(200), at in any::<prop::sample::Index>(), align in 0usize..64) {
        let b = t.as_bytes();
        let cut = at.index(b.len() + 1);
        check_all(&b[..cut], align)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn large_inputs(
        t in text(2000),
        at in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        align in 0usize..64,
    ) {
        let mut b = t.into_bytes();
        check_all(&b, align)?;
        if !b.is_empty() {
            let i = at.index(b.len());
            b[i] = byte;
        }
        check_all(&b, align)?;
    }

    #[test]
    fn large_mostly_valid(bytes in mixed_bytes(1500), align in 0usize..64) {
        check_all(&bytes, align)?;
    }
}

/// One error placed at every offset of a long ASCII or multi-byte run, so that it lands at
/// every position relative to 16/32/64-byte vector, 64-byte chunk and 256-byte ASCII block
/// boundaries.
#[test]
fn error_at_every_offset_of_long_runs() {
    let errors: &[&[u8]] = &[
        &[0x80],
        &[0xC2],
        &[0xE2, 0x82],
        &[0xF0, 0x9F, 0xA6],
        &[0xED, 0xA0, 0x80],
        &[0xF4, 0x90, 0x80, 0x80],
        &[0xC0, 0xAF],
    ];
    for base in [
        "a".repeat(600),
        "é".repeat(150),
        "€".repeat(100),
        "🦀".repeat(75),
    ] {
        let base = base.as_bytes();
        for e in errors {
            for at in 0..=base.len() {
                let mut v = base[..at].to_vec();
                v.extend_from_slice(e);
                v.extend_from_slice(&base[at..]);
                check_all(&v, 0).unwrap();
                check_all(&v[..at + e.len()], 0).unwrap();
            }
        }
    }
}

#[test]
fn empty_and_exact_chunks() {
    for len in [0, 1, 15, 16, 17, 31, 32, 33, 63, 64, 65, 127, 128, 129, 192] {
        let v = "a".repeat(len);
        check_all(v.as_bytes(), 0).unwrap();
        let mut w = v.clone().into_bytes();
        if len > 0 {
            w[len - 1] = 0xE2; // incomplete at the very end
            check_all(&w, 0).unwrap();
        }
    }
}

#[test]
fn error_type() {
    let e = validate_utf8(b"ab\xFF").unwrap_err();
    assert_eq!(e.valid_up_to(), 2);
    assert_eq!(e, Utf8Error::clone(&e));
    assert!(e.to_string().contains('2'));
    let _: &dyn std::error::Error = &e;
}

#[test]
fn lists_this_cpu() {
    let available = utf8::available();
    println!(
        "utf8 implementations: {available:?}, selected {}",
        utf8::selected()
    );
    assert_eq!(available[0], Implementation::Scalar);
    assert_eq!(available.last(), Some(&utf8::selected()));
}
