//! The opening handshake, sans-IO: RFC 6455 section 4 over HTTP/1.1, and the extended CONNECT
//! of RFC 8441 (HTTP/2) and RFC 9220 (HTTP/3).
//!
//! Nothing here reads or writes a socket or looks at a clock: the caller feeds received bytes
//! into a parser and writes the bytes this module produces.
//!
//! - One negotiation for every HTTP version, over the [`http`] crate's types: a
//!   [`HandshakeRequest`] (from an `http::Request<()>` or a parsed HTTP/1.1 [`Request`]) goes
//!   through validation, the application's callback ([`Accept`] / [`Reject`]), subprotocol
//!   selection and the [`ExtensionNegotiator`](crate::extension::ExtensionNegotiator), and comes
//!   out as an `http::Response<()>` and what was [`Negotiated`], or a [`Refusal`]. Two thin
//!   shells frame it: [`negotiate_upgrade`] (HTTP/1.1: `101` + `Sec-WebSocket-Accept`, written
//!   with [`write_response_head`]) and [`negotiate_extended_connect`] (HTTP/2 and HTTP/3: `200`,
//!   no key); [`negotiate`] picks one from the request.
//! - [`RequestParser`] / [`ResponseParser`] read an HTTP/1.1 head incrementally from a
//!   [`BytesMut`](bytes::BytesMut) (httparse underneath), bounded by [`HandshakeLimits`], and
//!   leave whatever follows the head (the first WebSocket frames) in the buffer.
//! - Server, HTTP/1.1 bytes in and out: [`accept`] runs the negotiation on a parsed
//!   [`Request`] and returns the `101 Switching Protocols` bytes, or a [`Rejection`] holding a
//!   complete error response. [`reject_response`] builds a refusal of your own (403, ...).
//! - Client: [`parse_ws_url`] splits a `ws://` / `wss://` URL, [`client_request`] builds the
//!   upgrade request and a [`ClientHandshake`] that checks the server's [`Response`].
//!
//! # Example: a whole handshake, both sides
//!
//! ```
//! use bytes::BytesMut;
//! use ws_proto::handshake::{
//!     accept, client_request, parse_ws_url, AcceptOptions, ClientOptions, RequestParser,
//!     ResponseParser,
//! };
//!
//! // Client: build the request.
//! let url = parse_ws_url("ws://example.com:9001/chat?room=1").unwrap();
//! let client_opts = ClientOptions { subprotocols: &["chat.v2", "chat"], ..Default::default() };
//! let (client, request) = client_request(&url.host_header, &url.path_and_query, &client_opts)?;
//!
//! // Server: the request arrives (possibly in pieces) followed by the first frame.
//! let mut inbound = BytesMut::new();
//! inbound.extend_from_slice(&request);
//! inbound.extend_from_slice(&[0x81, 0x80, 1, 2, 3, 4]); // a masked empty text frame
//! let mut parser = RequestParser::default();
//! let req = parser.parse(&mut inbound)?.expect("complete head");
//! assert_eq!(&inbound[..], &[0x81, 0x80, 1, 2, 3, 4]); // frames stay in the buffer
//! let server_opts = AcceptOptions { subprotocols: &["chat"], ..Default::default() };
//! let accepted = accept(&req, &server_opts).expect("valid request");
//! assert_eq!(accepted.subprotocol.as_deref(), Some("chat"));
//!
//! // Client: check the 101 response.
//! let mut reply = BytesMut::from(&accepted.response[..]);
//! let resp = ResponseParser::default().parse(&mut reply)?.expect("complete head");
//! let done = client.validate_response(&resp, None)?;
//! assert_eq!(done.subprotocol.as_deref(), Some("chat"));
//! # Ok::<(), ws_proto::handshake::HandshakeError>(())
//! ```

mod base64;
mod client;
mod negotiate;
mod parse;
mod server;
mod url;

pub use client::{
    ClientAccepted, ClientHandshake, ClientOptions, ExtendedConnectHandshake, client_request,
    client_request_with_key, extended_connect_request,
};
pub use negotiate::{
    Accept, HandshakeRequest, Negotiated, Refusal, Reject, is_extended_connect, negotiate,
    negotiate_extended_connect, negotiate_upgrade, validate_extended_connect, validate_upgrade,
    write_response_head,
};
pub use parse::{Request, RequestParser, Response, ResponseParser, parse_extensions};
pub use server::{
    AcceptOptions, Accepted, Rejection, ValidatedRequest, accept, reject_response,
    select_subprotocol, validate_request,
};
pub use url::{WsUrl, parse_ws_url};

use crate::extension::ExtensionError;
use std::fmt;

/// The GUID that RFC 6455 appends to `Sec-WebSocket-Key` before hashing.
pub(crate) const WEBSOCKET_GUID: &[u8] = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/// Computes `Sec-WebSocket-Accept` for a `Sec-WebSocket-Key`: base64(SHA-1(key + GUID)).
///
/// `key` is used exactly as given (the header value without surrounding whitespace).
///
/// ```
/// use ws_proto::handshake::generate_accept_key;
/// assert_eq!(generate_accept_key("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// ```
pub fn generate_accept_key(key: impl AsRef<[u8]>) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY);
    ctx.update(key.as_ref());
    ctx.update(WEBSOCKET_GUID);
    base64::encode(ctx.finish().as_ref())
}

/// Bounds on an HTTP head read by [`RequestParser`] or [`ResponseParser`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HandshakeLimits {
    /// Largest head in bytes, start line and final empty line included. Default 8 KiB.
    ///
    /// The parser fails with [`HandshakeError::HeadTooLarge`] as soon as this many bytes have
    /// arrived without the end of the head among them.
    pub max_header_bytes: usize,
    /// Most header lines (not counting the start line). Default 64.
    pub max_headers: usize,
}

impl Default for HandshakeLimits {
    fn default() -> Self {
        HandshakeLimits {
            max_header_bytes: 8 << 10,
            max_headers: 64,
        }
    }
}

/// Why an opening handshake failed.
///
/// On the server every variant except [`BadUrl`](Self::BadUrl),
/// [`InvalidInput`](Self::InvalidInput), [`Random`](Self::Random) and
/// [`Extension`](Self::Extension)`(`[`ExtensionError::Internal`]`)` is the client's fault; turn
/// it into a response with [`Rejection::from_error`] (status from [`http_status`](Self::http_status)).
/// On the client the response checks ([`BadStatus`](Self::BadStatus),
/// [`BadAccept`](Self::BadAccept), ...) are the server's fault.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The head grew past [`HandshakeLimits::max_header_bytes`] without ending.
    HeadTooLarge,
    /// The head has more than [`HandshakeLimits::max_headers`] header lines.
    TooManyHeaders,
    /// The head, a header value or a URL part is not valid syntax; says which rule failed.
    Malformed(&'static str),
    /// The request method is not `GET` (HTTP/1.1 upgrade).
    MethodNotGet,
    /// The request method of an HTTP/2 or HTTP/3 WebSocket is not `CONNECT` (RFC 8441, RFC 9220).
    MethodNotConnect,
    /// An extended CONNECT without `:protocol`, or with another protocol than `websocket`.
    MissingProtocol,
    /// The request is not HTTP/1.1 (or a later HTTP/1.x); for an extended CONNECT, not HTTP/2
    /// or HTTP/3.
    UnsupportedHttpVersion,
    /// The request has no (or an empty) `Host` header (`:authority` for an extended CONNECT).
    MissingHost,
    /// `Upgrade` is missing or does not list `websocket`.
    MissingUpgrade,
    /// `Connection` is missing or does not list `upgrade`.
    MissingConnectionUpgrade,
    /// `Sec-WebSocket-Key` is missing, repeated, or not the base64 encoding of 16 bytes.
    BadKey,
    /// `Sec-WebSocket-Version` is missing or not `13` (answered with 426 and
    /// `Sec-WebSocket-Version: 13`).
    UnsupportedVersion,
    /// Client: the server answered with this status instead of 101.
    BadStatus(u16),
    /// Client: the server answered 101 on a status line of another HTTP version than 1.1
    /// (`HTTP/1.0 101`, `HTTP/2 101`, ...): only an HTTP/1.1 server can switch protocols.
    BadResponseVersion {
        /// The major version of the response, e.g. 1 for `HTTP/1.0`, 2 for `HTTP/2`.
        major: u8,
        /// The minor version of the response (0 when the status line has none).
        minor: u8,
    },
    /// Client: `Sec-WebSocket-Accept` is missing, repeated or wrong.
    BadAccept,
    /// Client: the server chose a subprotocol that was not offered, or more than one.
    UnexpectedSubprotocol,
    /// Client: the server answered with an extension that was not offered.
    UnexpectedExtension,
    /// The extension negotiator refused the offer or answer (or failed).
    Extension(ExtensionError),
    /// [`parse_ws_url`]: the URL is unusable; says why. A local error.
    BadUrl(&'static str),
    /// An argument given to this module is unusable (a host, path, subprotocol name or extra
    /// header that is not valid in an HTTP head, ...); says which. A local error.
    InvalidInput(&'static str),
    /// The system random number generator failed to produce a key. A local error.
    Random,
}

impl HandshakeError {
    /// The HTTP status a server answers this error with: 431 for [`HeadTooLarge`](Self::HeadTooLarge)
    /// and [`TooManyHeaders`](Self::TooManyHeaders), 426 for
    /// [`UnsupportedVersion`](Self::UnsupportedVersion), 500 for local errors
    /// (see [`is_peer_fault`](Self::is_peer_fault)), 400 for everything else.
    ///
    /// For errors found by a client checking a response the value is meaningless (nothing is
    /// sent back to a server); it is 400 there.
    pub fn http_status(&self) -> u16 {
        match self {
            HandshakeError::HeadTooLarge | HandshakeError::TooManyHeaders => 431,
            HandshakeError::UnsupportedVersion => 426,
            _ if !self.is_peer_fault() => 500,
            _ => 400,
        }
    }

    /// True when the peer caused this error: every parse and validation failure, and extension
    /// errors except [`ExtensionError::Internal`]. False for [`BadUrl`](Self::BadUrl),
    /// [`InvalidInput`](Self::InvalidInput), [`Random`](Self::Random) and internal extension
    /// failures, which are this side's problem.
    pub fn is_peer_fault(&self) -> bool {
        !matches!(
            self,
            HandshakeError::BadUrl(_)
                | HandshakeError::InvalidInput(_)
                | HandshakeError::Random
                | HandshakeError::Extension(ExtensionError::Internal(_))
        )
    }
}

impl fmt::Display for HandshakeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HandshakeError::HeadTooLarge => f.write_str("HTTP head too large"),
            HandshakeError::TooManyHeaders => f.write_str("too many HTTP header lines"),
            HandshakeError::Malformed(what) => write!(f, "malformed HTTP head: {what}"),
            HandshakeError::MethodNotGet => {
                f.write_str("the method of a WebSocket upgrade must be GET")
            }
            HandshakeError::MethodNotConnect => f.write_str(
                "the method of a WebSocket over HTTP/2 or HTTP/3 must be CONNECT (RFC 8441)",
            ),
            HandshakeError::MissingProtocol => {
                f.write_str("an extended CONNECT must carry `:protocol: websocket`")
            }
            HandshakeError::UnsupportedHttpVersion => f.write_str(
                "a WebSocket upgrade requires HTTP/1.1 (or CONNECT over HTTP/2 or HTTP/3)",
            ),
            HandshakeError::MissingHost => f.write_str("missing Host header (or :authority)"),
            HandshakeError::MissingUpgrade => f.write_str("Upgrade header does not name websocket"),
            HandshakeError::MissingConnectionUpgrade => {
                f.write_str("Connection header does not contain upgrade")
            }
            HandshakeError::BadKey => f.write_str("missing or invalid Sec-WebSocket-Key"),
            HandshakeError::UnsupportedVersion => {
                f.write_str("unsupported Sec-WebSocket-Version (only 13 is supported)")
            }
            HandshakeError::BadStatus(status) => {
                write!(f, "the server answered with status {status} instead of 101")
            }
            HandshakeError::BadResponseVersion { major, minor } => write!(
                f,
                "the server answered 101 over HTTP/{major}.{minor} instead of HTTP/1.1"
            ),
            HandshakeError::BadAccept => f.write_str("missing or wrong Sec-WebSocket-Accept"),
            HandshakeError::UnexpectedSubprotocol => {
                f.write_str("the server selected a subprotocol that was not offered")
            }
            HandshakeError::UnexpectedExtension => {
                f.write_str("the server answered with an extension that was not offered")
            }
            HandshakeError::Extension(e) => e.fmt(f),
            HandshakeError::BadUrl(why) => write!(f, "invalid WebSocket URL: {why}"),
            HandshakeError::InvalidInput(why) => write!(f, "invalid handshake input: {why}"),
            HandshakeError::Random => f.write_str("the system random number generator failed"),
        }
    }
}

impl std::error::Error for HandshakeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            HandshakeError::Extension(e) => Some(e),
            _ => None,
        }
    }
}

impl From<ExtensionError> for HandshakeError {
    fn from(e: ExtensionError) -> Self {
        HandshakeError::Extension(e)
    }
}

/// `tchar` from RFC 9110 section 5.6.2.
pub(crate) fn is_tchar(b: u8) -> bool {
    matches!(b,
        b'!' | b'#' | b'$' | b'%' | b'&' | b'\'' | b'*' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`'
        | b'|' | b'~' | b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z')
}

/// A non-empty HTTP token.
pub(crate) fn is_token(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(is_tchar)
}

/// Safe to write as a header value: no control characters except HTAB (so no CR, LF or NUL
/// that could end the line or inject another), no surrounding whitespace.
pub(crate) fn is_header_value(s: &str) -> bool {
    s.bytes().all(|b| b == b'\t' || (b >= 0x20 && b != 0x7f))
        && !s.starts_with([' ', '\t'])
        && !s.ends_with([' ', '\t'])
}

/// Appends `name: value\r\n`.
pub(crate) fn put_header(buf: &mut bytes::BytesMut, name: &str, value: &str) {
    buf.extend_from_slice(name.as_bytes());
    buf.extend_from_slice(b": ");
    buf.extend_from_slice(value.as_bytes());
    buf.extend_from_slice(b"\r\n");
}

/// Bytes `put_header` writes.
pub(crate) fn header_len(name: &str, value: &str) -> usize {
    name.len() + value.len() + 4
}

/// Checks caller-supplied extra headers before they are written.
pub(crate) fn check_extra_headers(headers: &[(&str, &str)]) -> Result<(), HandshakeError> {
    if headers
        .iter()
        .all(|(name, value)| is_token(name) && is_header_value(value))
    {
        Ok(())
    } else {
        Err(HandshakeError::InvalidInput(
            "extra header with an invalid name or a control character in its value",
        ))
    }
}
