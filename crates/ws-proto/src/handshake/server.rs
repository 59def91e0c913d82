//! Server side: validate the upgrade request (RFC 6455 section 4.2.1) and build the answer
//! (section 4.2.2).

use super::negotiate::{
    Accept, HandshakeRequest, Refusal, negotiate_upgrade, validate_upgrade, write_response_head,
};
use super::parse::Request;
use super::{
    HandshakeError, check_extra_headers, generate_accept_key, header_len, is_header_value,
    is_token, put_header,
};
use crate::extension::{Extension, ExtensionNegotiator};
use bytes::{Bytes, BytesMut};
use std::fmt::{self, Write as _};

/// What [`validate_request`] extracted from a valid upgrade request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ValidatedRequest<'a> {
    key: &'a str,
}

impl<'a> ValidatedRequest<'a> {
    /// The client's `Sec-WebSocket-Key`.
    pub fn key(&self) -> &'a str {
        self.key
    }

    /// The `Sec-WebSocket-Accept` value answering the key.
    pub fn accept_key(&self) -> String {
        generate_accept_key(self.key)
    }
}

/// Checks that `req` is a valid WebSocket upgrade request, in this order:
///
/// 1. the method is `GET` ([`HandshakeError::MethodNotGet`]);
/// 2. the version is HTTP/1.1 or a later 1.x ([`HandshakeError::UnsupportedHttpVersion`]);
/// 3. exactly one non-empty `Host` ([`HandshakeError::MissingHost`]; repeated:
///    [`HandshakeError::Malformed`]);
/// 4. `Upgrade` lists `websocket` ([`HandshakeError::MissingUpgrade`]);
/// 5. `Connection` lists `upgrade` ([`HandshakeError::MissingConnectionUpgrade`]);
/// 6. exactly one `Sec-WebSocket-Key`, the base64 encoding of 16 bytes
///    ([`HandshakeError::BadKey`]);
/// 7. exactly one `Sec-WebSocket-Version`, equal to `13`
///    ([`HandshakeError::UnsupportedVersion`], answered with 426).
///
/// Token lists are compared ASCII case-insensitively, so `Connection: keep-alive, Upgrade` and
/// `Upgrade: WebSocket` pass.
pub fn validate_request(req: &Request) -> Result<ValidatedRequest<'_>, HandshakeError> {
    // Method and version first, as `validate_upgrade` does: the conversion below cannot name
    // every version.
    if req.method() != "GET" {
        return Err(HandshakeError::MethodNotGet);
    }
    if !matches!(req.version(), (1, minor) if minor >= 1) {
        return Err(HandshakeError::UnsupportedHttpVersion);
    }
    validate_upgrade(&HandshakeRequest::try_from(req)?)?;
    // Valid, so there is exactly one key.
    let key = req.key().ok_or(HandshakeError::BadKey)?;
    Ok(ValidatedRequest { key })
}

/// Picks the subprotocol: the first of the client's `offered` protocols (in the client's order)
/// that the server `supported`. Names are compared exactly (case-sensitively).
///
/// ```
/// use ws_proto::handshake::select_subprotocol;
/// assert_eq!(select_subprotocol(&["b", "a"], &["a", "b"]), Some("b"));
/// assert_eq!(select_subprotocol(&["c"], &["a", "b"]), None);
/// ```
pub fn select_subprotocol<'a>(offered: &[&str], supported: &[&'a str]) -> Option<&'a str> {
    offered
        .iter()
        .find_map(|o| supported.iter().find(|s| **s == *o).copied())
}

/// What the server is prepared to accept.
#[derive(Clone, Copy, Debug, Default)]
pub struct AcceptOptions<'a> {
    /// Subprotocols the server speaks; see [`select_subprotocol`]. Empty: never answer
    /// `Sec-WebSocket-Protocol`.
    pub subprotocols: &'a [&'a str],
    /// Negotiates an extension from the client's offers. `None`: offers are ignored.
    pub negotiator: Option<&'a dyn ExtensionNegotiator>,
    /// Headers appended to the 101 response as they are (e.g. `Set-Cookie`). Do not repeat
    /// the handshake headers. A name that is not a token or a value with a control character
    /// rejects the handshake with 500 ([`HandshakeError::InvalidInput`]).
    pub extra_headers: &'a [(&'a str, &'a str)],
}

/// A successful handshake.
#[derive(Debug)]
#[non_exhaustive]
pub struct Accepted {
    /// The complete `101 Switching Protocols` head to send.
    pub response: Bytes,
    /// The subprotocol chosen, if any.
    pub subprotocol: Option<String>,
    /// The extension negotiated, if any.
    pub extension: Option<Box<dyn Extension>>,
}

/// A refused handshake: what went wrong and the complete HTTP response to send before closing
/// the connection.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Rejection {
    /// The HTTP status (see [`HandshakeError::http_status`]).
    pub status: u16,
    /// Why, for logs (the error's `Display`).
    pub reason: String,
    /// A complete HTTP/1.1 response (see [`reject_response`]); for 426 it carries
    /// `Sec-WebSocket-Version: 13`.
    pub response: Bytes,
    /// The error behind the rejection.
    pub error: HandshakeError,
}

impl Rejection {
    /// The rejection a server sends for `error`, e.g. a parse error from [`RequestParser`]
    /// (`HeadTooLarge` gives 431).
    ///
    /// The body repeats the reason for errors that are the client's fault, and says only
    /// `internal server error` for local ones.
    ///
    /// [`RequestParser`]: super::RequestParser
    ///
    /// ```
    /// use ws_proto::handshake::{HandshakeError, Rejection};
    /// let r = Rejection::from_error(HandshakeError::UnsupportedVersion);
    /// assert_eq!(r.status, 426);
    /// assert!(r.response.windows(23).any(|w| w == b"Sec-WebSocket-Version: "));
    /// ```
    pub fn from_error(error: HandshakeError) -> Rejection {
        let status = error.http_status();
        let reason = error.to_string();
        let extra: &[(&str, &str)] = if status == 426 {
            &[("Sec-WebSocket-Version", "13")]
        } else {
            &[]
        };
        let body = if error.is_peer_fault() {
            reason.as_str()
        } else {
            "internal server error"
        };
        Rejection {
            status,
            response: reject_response(status, body, extra),
            reason,
            error,
        }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "handshake rejected with {}: {}",
            self.status, self.reason
        )
    }
}

impl std::error::Error for Rejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.error)
    }
}

impl From<HandshakeError> for Rejection {
    fn from(error: HandshakeError) -> Self {
        Rejection::from_error(error)
    }
}

/// Validates `req` and builds the `101 Switching Protocols` answer:
///
/// ```text
/// HTTP/1.1 101 Switching Protocols
/// Upgrade: websocket
/// Connection: Upgrade
/// Sec-WebSocket-Accept: <accept key>
/// [Sec-WebSocket-Protocol: <chosen>]
/// [Sec-WebSocket-Extensions: <negotiator's answer>]
/// [extra headers]
/// ```
///
/// The negotiator's [`server_accept`](ExtensionNegotiator::server_accept) is called with every
/// offer of the request (only when there is at least one). A malformed
/// `Sec-WebSocket-Extensions` header or a negotiation error is rejected with 400; an
/// [`ExtensionError::Internal`](crate::extension::ExtensionError::Internal), or an answer that
/// is not a valid header value naming an
/// offered extension, with 500.
///
/// ```
/// use bytes::BytesMut;
/// use ws_proto::handshake::{accept, AcceptOptions, RequestParser};
///
/// let mut buf = BytesMut::from(&b"GET /chat HTTP/1.1\r\nHost: example.com\r\n\
///     Upgrade: websocket\r\nConnection: Upgrade\r\n\
///     Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"[..]);
/// let req = RequestParser::default().parse(&mut buf)?.unwrap();
/// match accept(&req, &AcceptOptions::default()) {
///     Ok(accepted) => assert!(accepted.response.starts_with(b"HTTP/1.1 101 ")),
///     Err(rejection) => panic!("send {:?} and close", rejection.response),
/// }
/// # Ok::<(), ws_proto::handshake::HandshakeError>(())
/// ```
pub fn accept(req: &Request, opts: &AcceptOptions<'_>) -> Result<Accepted, Rejection> {
    accept_inner(req, opts).map_err(Rejection::from_error)
}

fn accept_inner(req: &Request, opts: &AcceptOptions<'_>) -> Result<Accepted, HandshakeError> {
    check_extra_headers(opts.extra_headers)?;
    if req.method() != "GET" {
        return Err(HandshakeError::MethodNotGet);
    }
    if !matches!(req.version(), (1, minor) if minor >= 1) {
        return Err(HandshakeError::UnsupportedHttpVersion);
    }
    let request = HandshakeRequest::try_from(req)?;
    let (response, negotiated) = negotiate_upgrade(&request, opts.negotiator, |req| {
        let subprotocol = if opts.subprotocols.is_empty() {
            None
        } else {
            select_subprotocol(&req.subprotocols(), opts.subprotocols)
        };
        Ok(Accept {
            subprotocol: subprotocol.map(str::to_owned),
            ..Accept::default()
        })
    })
    .map_err(|refusal| match refusal {
        Refusal::Invalid(e) => e,
        // The callback above never refuses.
        Refusal::Rejected(_) => HandshakeError::InvalidInput("refused"),
    })?;
    let head = write_response_head(&response);
    // The extra headers go out as given (names keep their case).
    let mut len = head.len();
    for (name, value) in opts.extra_headers {
        len += header_len(name, value);
    }
    let mut buf = BytesMut::with_capacity(len);
    buf.extend_from_slice(&head[..head.len() - 2]);
    for (name, value) in opts.extra_headers {
        put_header(&mut buf, name, value);
    }
    buf.extend_from_slice(b"\r\n");
    debug_assert_eq!(buf.len(), len);
    Ok(Accepted {
        response: buf.freeze(),
        subprotocol: negotiated.subprotocol,
        extension: negotiated.extension,
    })
}

/// The standard reason phrase for `status` (`"Error"` for codes without one here).
fn reason_phrase(status: u16) -> &'static str {
    match status {
        300 => "Multiple Choices",
        301 => "Moved Permanently",
        302 => "Found",
        303 => "See Other",
        307 => "Temporary Redirect",
        308 => "Permanent Redirect",
        400 => "Bad Request",
        401 => "Unauthorized",
        402 => "Payment Required",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        406 => "Not Acceptable",
        408 => "Request Timeout",
        409 => "Conflict",
        410 => "Gone",
        413 => "Content Too Large",
        414 => "URI Too Long",
        421 => "Misdirected Request",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Error",
    }
}

/// A complete HTTP/1.1 error response refusing an upgrade, e.g. 403 from an authorization
/// callback:
///
/// ```text
/// HTTP/1.1 <status> <standard reason phrase>
/// Connection: close
/// Content-Type: text/plain; charset=utf-8
/// Content-Length: <n>
/// [extra headers]
///
/// <reason>\n
/// ```
///
/// Meant for 3xx-5xx statuses; a status outside 100..=999 is written as 500. Extra headers
/// whose name is not a token or whose value holds a control character (CR, LF, NUL, ...) are
/// left out, so they cannot inject header lines. Close the connection after sending it.
///
/// ```
/// use ws_proto::handshake::reject_response;
/// let bytes = reject_response(403, "forbidden origin", &[("X-Reason", "origin")]);
/// assert_eq!(
///     &bytes[..],
///     &b"HTTP/1.1 403 Forbidden\r\nConnection: close\r\n\
///        Content-Type: text/plain; charset=utf-8\r\nContent-Length: 17\r\n\
///        X-Reason: origin\r\n\r\nforbidden origin\n"[..]
/// );
/// ```
pub fn reject_response(status: u16, reason: &str, extra_headers: &[(&str, &str)]) -> Bytes {
    let status = if (100..=999).contains(&status) {
        status
    } else {
        500
    };
    let phrase = reason_phrase(status);
    let body_len = reason.len() + 1;
    let valid = |&&(name, value): &&(&str, &str)| is_token(name) && is_header_value(value);
    let extra_len: usize = extra_headers
        .iter()
        .filter(valid)
        .map(|(n, v)| header_len(n, v))
        .sum();
    let mut buf = BytesMut::with_capacity(128 + phrase.len() + extra_len + body_len);
    // Writing to a BytesMut cannot fail.
    let _ = write!(
        buf,
        "HTTP/1.1 {status} {phrase}\r\nConnection: close\r\n\
         Content-Type: text/plain; charset=utf-8\r\nContent-Length: {body_len}\r\n"
    );
    for (name, value) in extra_headers.iter().filter(valid) {
        put_header(&mut buf, name, value);
    }
    buf.extend_from_slice(b"\r\n");
    buf.extend_from_slice(reason.as_bytes());
    buf.extend_from_slice(b"\n");
    buf.freeze()
}
