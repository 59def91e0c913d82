//! The four permessage-deflate parameters (RFC 7692 section 7.1): parsing one element of a
//! `Sec-WebSocket-Extensions` header, and the parameters a connection ends up with.

use std::fmt::Write as _;
use ws_proto::extension::ExtensionParam;

/// The extension's registered name.
pub(crate) const NAME: &str = "permessage-deflate";

/// Smallest window we ever agree to. 8 is legal in RFC 7692, but zlib silently compresses
/// with 9 when asked for 8, so a peer inflating with a 256-byte window would break: we never
/// negotiate it.
pub(crate) const MIN_WINDOW_BITS: u8 = 9;
/// The largest (and default) window: 32 KiB.
pub(crate) const MAX_WINDOW_BITS: u8 = 15;

/// The parameters in force on a connection once the handshake has agreed on
/// permessage-deflate.
///
/// "Server" parameters govern what the server compresses (and the client inflates), "client"
/// parameters the other direction, whichever role this end has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct DeflateParams {
    /// The server resets its compression context after every message.
    pub server_no_context_takeover: bool,
    /// The client resets its compression context after every message.
    pub client_no_context_takeover: bool,
    /// The server's LZ77 window is at most `2^server_max_window_bits` bytes (9..=15; 15 when
    /// the handshake did not limit it).
    pub server_max_window_bits: u8,
    /// The client's LZ77 window is at most `2^client_max_window_bits` bytes (9..=15; 15 when
    /// the handshake did not limit it).
    pub client_max_window_bits: u8,
}

impl Default for DeflateParams {
    /// Context takeover both ways, 32 KiB windows: what an offer without parameters gets.
    fn default() -> Self {
        DeflateParams {
            server_no_context_takeover: false,
            client_no_context_takeover: false,
            server_max_window_bits: MAX_WINDOW_BITS,
            client_max_window_bits: MAX_WINDOW_BITS,
        }
    }
}

/// One permessage-deflate element as written in a header, checked for syntax only: every
/// parameter known, none repeated, values well-formed (RFC 7692 section 7.1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Element {
    pub(crate) server_no_context_takeover: bool,
    pub(crate) client_no_context_takeover: bool,
    pub(crate) server_max_window_bits: Option<u8>,
    /// `Some(None)`: present without a value (only valid in an offer).
    pub(crate) client_max_window_bits: Option<Option<u8>>,
}

/// A window-bits value: a decimal integer from 8 to 15 without leading zeros.
fn window_bits(value: &str) -> Option<u8> {
    match value.as_bytes() {
        [d @ b'8'..=b'9'] => Some(d - b'0'),
        [b'1', d @ b'0'..=b'5'] => Some(10 + d - b'0'),
        _ => None,
    }
}

impl Element {
    /// Parses the parameters of one element. Errors say what is wrong, for the handshake
    /// error (client) or a log (server, which only skips the offer).
    pub(crate) fn parse(params: &[ExtensionParam]) -> Result<Element, String> {
        let mut e = Element::default();
        let mut seen = [false; 4];
        for p in params {
            let index = match p.name.as_str() {
                "server_no_context_takeover" => 0,
                "client_no_context_takeover" => 1,
                "server_max_window_bits" => 2,
                "client_max_window_bits" => 3,
                other => return Err(format!("unknown parameter `{other}`")),
            };
            if std::mem::replace(&mut seen[index], true) {
                return Err(format!("parameter `{}` given twice", p.name));
            }
            let bits = || {
                p.value
                    .as_deref()
                    .map(|v| window_bits(v).ok_or(format!("invalid `{}` value `{v}`", p.name)))
                    .transpose()
            };
            match index {
                0 | 1 => {
                    if let Some(v) = &p.value {
                        return Err(format!("`{}` takes no value (got `{v}`)", p.name));
                    }
                    if index == 0 {
                        e.server_no_context_takeover = true;
                    } else {
                        e.client_no_context_takeover = true;
                    }
                }
                2 => {
                    e.server_max_window_bits =
                        Some(bits()?.ok_or("`server_max_window_bits` needs a value")?);
                }
                _ => e.client_max_window_bits = Some(bits()?),
            }
        }
        Ok(e)
    }

    /// Writes the element as a header value, parameters in a fixed order.
    pub(crate) fn to_header(self) -> String {
        let mut s = String::from(NAME);
        if self.server_no_context_takeover {
            s.push_str("; server_no_context_takeover");
        }
        if self.client_no_context_takeover {
            s.push_str("; client_no_context_takeover");
        }
        if let Some(bits) = self.server_max_window_bits {
            let _ = write!(s, "; server_max_window_bits={bits}");
        }
        match self.client_max_window_bits {
            Some(Some(bits)) => {
                let _ = write!(s, "; client_max_window_bits={bits}");
            }
            Some(None) => s.push_str("; client_max_window_bits"),
            None => {}
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, value: Option<&str>) -> ExtensionParam {
        ExtensionParam {
            name: name.into(),
            value: value.map(Into::into),
        }
    }

    #[test]
    fn window_bits_syntax() {
        for (v, want) in [
            ("8", Some(8)),
            ("9", Some(9)),
            ("10", Some(10)),
            ("15", Some(15)),
            ("16", None),
            ("7", None),
            ("08", None),
            ("015", None),
            ("", None),
            ("1", None),
            ("+9", None),
        ] {
            assert_eq!(window_bits(v), want, "{v:?}");
        }
    }

    #[test]
    fn parse_and_write_back() {
        let e = Element::parse(&[
            p("client_max_window_bits", None),
            p("server_max_window_bits", Some("10")),
            p("server_no_context_takeover", None),
            p("client_no_context_takeover", None),
        ])
        .unwrap();
        assert_eq!(
            e.to_header(),
            "permessage-deflate; server_no_context_takeover; client_no_context_takeover; \
             server_max_window_bits=10; client_max_window_bits"
        );
        assert!(Element::parse(&[p("server_max_window_bits", None)]).is_err());
        assert!(Element::parse(&[p("server_no_context_takeover", Some("1"))]).is_err());
        assert!(Element::parse(&[p("x", None)]).is_err());
        assert!(
            Element::parse(&[
                p("client_max_window_bits", None),
                p("client_max_window_bits", Some("9"))
            ])
            .is_err()
        );
    }
}
