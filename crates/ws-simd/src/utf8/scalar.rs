//! The reference UTF-8 validator (RFC 3629 table, branching per lead byte, with an ASCII fast
//! path on two `u64` words at a time) and the per-code-point helpers of the incremental
//! validator.

/// High bit of every byte of a word.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// How a byte starts a code point: 1 for ASCII, 2..=4 for a valid lead byte, 0 for a
/// continuation byte or a byte that never appears in UTF-8 (`C0`, `C1`, `F5..=FF`).
#[inline]
pub(crate) const fn lead_width(b: u8) -> usize {
    match b {
        0x00..=0x7F => 1,
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => 0,
    }
}

/// Whether `b` is a continuation byte (`10xx_xxxx`).
#[inline]
pub(crate) const fn is_continuation(b: u8) -> bool {
    b & 0xC0 == 0x80
}

/// The allowed range of the byte after the valid multi-byte lead `lead` (RFC 3629 §4): this is
/// where overlongs (`E0`, `F0`), surrogates (`ED`) and code points above U+10FFFF (`F4`) are
/// excluded. Later bytes are plain continuations.
#[inline]
const fn second_byte_range(lead: u8) -> (u8, u8) {
    match lead {
        0xE0 => (0xA0, 0xBF),
        0xED => (0x80, 0x9F),
        0xF0 => (0x90, 0xBF),
        0xF4 => (0x80, 0x8F),
        _ => (0x80, 0xBF),
    }
}

/// Reads 8 bytes at `i` as a native-endian word.
#[inline(always)]
fn word_at(buf: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf[i..i + 8]);
    u64::from_ne_bytes(w)
}

/// Validates `buf`; on failure returns the length of the longest valid prefix made of complete
/// code points (std's `valid_up_to`). An incomplete code point at the end is an error.
pub(crate) fn validate(buf: &[u8]) -> Result<(), usize> {
    let len = buf.len();
    let mut i = 0;
    while i < len {
        let b = buf[i];
        if b < 0x80 {
            i += 1;
            // ASCII fast path: skip 16 bytes at a time while no byte has its high bit set.
            while i + 16 <= len {
                if (word_at(buf, i) | word_at(buf, i + 8)) & HIGH_BITS != 0 {
                    break;
                }
                i += 16;
            }
            continue;
        }
        let width = lead_width(b);
        if width < 2 || i + width > len {
            return Err(i);
        }
        let (lo, hi) = second_byte_range(b);
        let second = buf[i + 1];
        if second < lo || second > hi {
            return Err(i);
        }
        if width >= 3 && !is_continuation(buf[i + 2]) {
            return Err(i);
        }
        if width == 4 && !is_continuation(buf[i + 3]) {
            return Err(i);
        }
        i += width;
    }
    Ok(())
}

/// What a run of bytes starting at a lead byte is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Prefix {
    /// One whole valid code point.
    Complete,
    /// The start of a valid code point, missing its last bytes.
    Incomplete,
    /// No continuation can make these bytes valid.
    Invalid,
}

/// Classifies `bytes` (1 to 4 bytes, the first one where a code point starts, at most one code
/// point long).
#[inline]
pub(crate) fn classify(bytes: &[u8]) -> Prefix {
    debug_assert!(!bytes.is_empty() && bytes.len() <= 4);
    let width = lead_width(bytes[0]);
    if width == 0 || bytes.len() > width {
        return Prefix::Invalid;
    }
    if width > 1 {
        let (lo, hi) = second_byte_range(bytes[0]);
        if let Some(&second) = bytes.get(1)
            && (second < lo || second > hi)
        {
            return Prefix::Invalid;
        }
        if bytes.iter().skip(2).any(|&b| !is_continuation(b)) {
            return Prefix::Invalid;
        }
    }
    if bytes.len() == width {
        Prefix::Complete
    } else {
        Prefix::Incomplete
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn std_verdict(b: &[u8]) -> Result<(), usize> {
        core::str::from_utf8(b)
            .map(|_| ())
            .map_err(|e| e.valid_up_to())
    }

    #[test]
    fn matches_std_on_all_short_sequences() {
        // Every 1- and 2-byte input, and every 3-byte input over an interesting byte set.
        let interesting: Vec<u8> = vec![
            0x00, 0x41, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0,
            0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF,
        ];
        for a in 0..=255u8 {
            assert_eq!(validate(&[a]), std_verdict(&[a]));
            for b in 0..=255u8 {
                assert_eq!(validate(&[a, b]), std_verdict(&[a, b]), "{a:x} {b:x}");
            }
        }
        for &a in &interesting {
            for &b in &interesting {
                for &c in &interesting {
                    for &d in &interesting {
                        let v = [a, b, c, d];
                        assert_eq!(validate(&v), std_verdict(&v), "{v:x?}");
                        assert_eq!(validate(&v[..3]), std_verdict(&v[..3]), "{v:x?}");
                    }
                }
            }
        }
    }

    #[test]
    fn classify_matches_std() {
        let interesting: Vec<u8> = vec![
            0x00, 0x41, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF, 0xE0, 0xE1,
            0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF,
        ];
        let mut cases: Vec<Vec<u8>> = Vec::new();
        for &a in &interesting {
            cases.push(vec![a]);
            for &b in &interesting {
                cases.push(vec![a, b]);
                for &c in &interesting {
                    cases.push(vec![a, b, c]);
                    for &d in &interesting {
                        cases.push(vec![a, b, c, d]);
                    }
                }
            }
        }
        for v in cases {
            let width = lead_width(v[0]);
            if width == 0 {
                assert_eq!(classify(&v), Prefix::Invalid, "{v:x?}");
                continue;
            }
            if v.len() > width {
                continue; // more than one code point: outside `classify`'s contract
            }
            let want = match core::str::from_utf8(&v) {
                Ok(_) => Prefix::Complete,
                Err(e) if e.error_len().is_none() => Prefix::Incomplete,
                Err(_) => Prefix::Invalid,
            };
            assert_eq!(classify(&v), want, "{v:x?}");
        }
    }
}
