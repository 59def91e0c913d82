//! `ws://` and `wss://` URLs (RFC 6455 section 3).

use super::HandshakeError;
use std::net::Ipv6Addr;

/// A parsed `ws://` or `wss://` URL.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct WsUrl {
    /// Host name or IP address to connect to; an IPv6 address without brackets (`::1`).
    pub host: String,
    /// Port: the one given, or 80 for `ws` and 443 for `wss`.
    pub port: u16,
    /// Request target: path (at least `/`) and query, e.g. `/chat?room=1`.
    pub path_and_query: String,
    /// `wss`: the connection must use TLS.
    pub tls: bool,
    /// The `Host` header value: the host (IPv6 in brackets) with `:port` unless the port is
    /// the scheme's default.
    pub host_header: String,
}

fn bad(why: &'static str) -> HandshakeError {
    HandshakeError::BadUrl(why)
}

/// Characters of an RFC 3986 `reg-name` or IPv4 address: unreserved, sub-delims and `%`.
fn is_host_char(b: u8) -> bool {
    b.is_ascii_alphanumeric()
        || matches!(
            b,
            b'-' | b'.'
                | b'_'
                | b'~'
                | b'%'
                | b'!'
                | b'$'
                | b'&'
                | b'\''
                | b'('
                | b')'
                | b'*'
                | b'+'
                | b','
                | b';'
                | b'='
        )
}

/// Parses `ws://host[:port][/path][?query]` or the same with `wss://`.
///
/// The scheme is case-insensitive. The host may be a name, an IPv4 address or an IPv6
/// literal in brackets (`ws://[::1]:9001/`). An empty port means the default. The path
/// defaults to `/`. Rejected ([`HandshakeError::BadUrl`]): other schemes, user info
/// (`user@host`), fragments (`#...`, forbidden by RFC 6455), whitespace, control or non-ASCII
/// characters (percent-encode them), an empty or invalid host, a port of 0 or above 65535.
///
/// ```
/// use ws_proto::handshake::parse_ws_url;
///
/// let url = parse_ws_url("wss://[::1]:9001/chat?room=1")?;
/// assert_eq!((url.host.as_str(), url.port, url.tls), ("::1", 9001, true));
/// assert_eq!(url.host_header, "[::1]:9001");
/// assert_eq!(url.path_and_query, "/chat?room=1");
///
/// let url = parse_ws_url("ws://example.com")?;
/// assert_eq!((url.port, url.path_and_query.as_str(), url.host_header.as_str()), (80, "/", "example.com"));
/// # Ok::<(), ws_proto::handshake::HandshakeError>(())
/// ```
pub fn parse_ws_url(url: &str) -> Result<WsUrl, HandshakeError> {
    let (scheme, rest) = url
        .split_once("://")
        .ok_or(bad("missing `ws://` or `wss://`"))?;
    let (tls, default_port) = if scheme.eq_ignore_ascii_case("ws") {
        (false, 80)
    } else if scheme.eq_ignore_ascii_case("wss") {
        (true, 443)
    } else {
        return Err(bad("scheme must be ws or wss"));
    };
    if !rest.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(bad("whitespace, control or non-ASCII character"));
    }
    if rest.contains('#') {
        return Err(bad("fragments are not allowed"));
    }
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    if authority.contains('@') {
        return Err(bad("user info is not supported"));
    }

    let (host, port, ipv6) = if let Some(inner) = authority.strip_prefix('[') {
        let (addr, after) = inner
            .split_once(']')
            .ok_or(bad("unterminated IPv6 literal"))?;
        addr.parse::<Ipv6Addr>()
            .map_err(|_| bad("invalid IPv6 address"))?;
        let port = match after {
            "" => None,
            _ => Some(
                after
                    .strip_prefix(':')
                    .ok_or(bad("unexpected characters after the IPv6 literal"))?,
            ),
        };
        (addr, port, true)
    } else {
        let (host, port) = match authority.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (authority, None),
        };
        if host.is_empty() || !host.bytes().all(is_host_char) {
            return Err(bad("missing or invalid host"));
        }
        (host, port, false)
    };

    let port = match port {
        None | Some("") => default_port,
        Some(digits) => {
            if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return Err(bad("invalid port"));
            }
            match digits.parse::<u16>() {
                Ok(port) if port != 0 => port,
                _ => return Err(bad("invalid port")),
            }
        }
    };

    let path_and_query = if path.starts_with('/') {
        path.to_owned()
    } else {
        format!("/{path}") // empty, or a query without a path
    };

    let mut host_header = if ipv6 {
        format!("[{host}]")
    } else {
        host.to_owned()
    };
    if port != default_port {
        host_header.push(':');
        host_header.push_str(&port.to_string());
    }

    Ok(WsUrl {
        host: host.to_owned(),
        port,
        path_and_query,
        tls,
        host_header,
    })
}
