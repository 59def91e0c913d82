//! Standard base64 (RFC 4648 section 4, alphabet `A-Z a-z 0-9 + /`, `=` padding), just enough
//! for `Sec-WebSocket-Key` and `Sec-WebSocket-Accept`.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes `input` with padding.
pub(crate) fn encode(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b0 = u32::from(chunk[0]);
        let b1 = u32::from(chunk.get(1).copied().unwrap_or(0));
        let b2 = u32::from(chunk.get(2).copied().unwrap_or(0));
        let n = (b0 << 16) | (b1 << 8) | b2;
        out.push(char::from(ALPHABET[(n >> 18) as usize & 63]));
        out.push(char::from(ALPHABET[(n >> 12) as usize & 63]));
        out.push(if chunk.len() > 1 {
            char::from(ALPHABET[(n >> 6) as usize & 63])
        } else {
            '='
        });
        out.push(if chunk.len() > 2 {
            char::from(ALPHABET[n as usize & 63])
        } else {
            '='
        });
    }
    out
}

fn symbol(c: u8) -> Option<u32> {
    Some(u32::from(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => return None,
    }))
}

/// Decodes padded base64 strictly: the length must be a multiple of 4, `=` may only end the
/// input (at most two), no whitespace, and the unused bits before the padding must be zero (the
/// canonical encoding), so every byte string has exactly one accepted encoding.
pub(crate) fn decode(input: &[u8]) -> Option<Vec<u8>> {
    if !input.len().is_multiple_of(4) {
        return None;
    }
    let mut out = Vec::with_capacity(input.len() / 4 * 3);
    let last = input.len() / 4;
    for (index, chunk) in input.chunks_exact(4).enumerate() {
        let pad = if index + 1 == last {
            chunk.iter().rev().take_while(|&&c| c == b'=').count()
        } else {
            0
        };
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &chunk[..4 - pad] {
            n = (n << 6) | symbol(c)?;
        }
        n <<= 6 * pad as u32;
        out.push((n >> 16) as u8);
        match pad {
            0 => {
                out.push((n >> 8) as u8);
                out.push(n as u8);
            }
            1 => {
                if n & 0xff != 0 {
                    return None;
                }
                out.push((n >> 8) as u8);
            }
            _ => {
                if n & 0xffff != 0 {
                    return None;
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::{decode, encode};
    use proptest::prelude::*;

    const RFC4648: &[(&str, &str)] = &[
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];

    #[test]
    fn rfc4648_vectors() {
        for &(plain, encoded) in RFC4648 {
            assert_eq!(encode(plain.as_bytes()), encoded);
            assert_eq!(
                decode(encoded.as_bytes()).as_deref(),
                Some(plain.as_bytes())
            );
        }
    }

    #[test]
    fn all_symbols() {
        let bytes: Vec<u8> = (0..=255).collect();
        let encoded = encode(&bytes);
        assert!(encoded.starts_with("AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8g"));
        assert!(encoded.ends_with("+/w=="));
        assert_eq!(decode(encoded.as_bytes()).unwrap(), bytes);
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "Zg",
            "Zg=",
            "Zg===",
            "====",
            "Z===",
            "Zm9v=",
            "Zm=v",
            "Z=9v",
            "Zg==Zg==",
            "Zm9v Yg==",
            "Zm9v\nYg==",
            "Zm9-",
            "Zm9_",
            "Zh==", /* non-canonical: low bits set */
            "Zm9=", /* non-canonical */
        ] {
            assert_eq!(decode(bad.as_bytes()), None, "{bad:?}");
        }
    }

    proptest! {
        #[test]
        fn roundtrip(bytes in proptest::collection::vec(any::<u8>(), 0..64)) {
            let encoded = encode(&bytes);
            prop_assert_eq!(encoded.len(), bytes.len().div_ceil(3) * 4);
            prop_assert_eq!(decode(encoded.as_bytes()), Some(bytes));
        }
    }
}
