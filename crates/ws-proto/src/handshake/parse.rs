//! Incremental HTTP/1.1 head parsing for requests and responses, and the header-value
//! grammars the handshake needs (comma lists, `Sec-WebSocket-Extensions`).
//!
//! Two stages:
//! - A scanner finds the end of the head across calls, never looking at a byte twice, and
//!   enforces [`HandshakeLimits`] and the line rules below as the bytes arrive (so a TLS hello
//!   or a slow-loris head fails early).
//! - The complete head is parsed once by [`httparse`]: start line, header names (tokens, no
//!   whitespace before the colon, no obs-fold) and values. httparse reads only `HTTP/1.0` and
//!   `HTTP/1.1`; a start line naming another well-formed version (`HTTP/1.2`, `HTTP/2`, ...)
//!   is read here and its headers by httparse, so that the version check can refuse it with
//!   the right error ([`HandshakeError::UnsupportedHttpVersion`],
//!   [`HandshakeError::BadResponseVersion`]) rather than as malformed.
//!
//! Syntax rules (RFC 9112), applied strictly:
//! - Lines end with CRLF. A bare LF, or a CR not followed by LF, is rejected (no
//!   tolerance: a WebSocket peer has no excuse, and accepting it invites request-smuggling
//!   ambiguities). Empty lines before the start line are rejected too.
//! - Control characters other than HTAB (NUL, DEL, ...) are rejected anywhere in the head.
//! - Header lines are `name ":" OWS value OWS` with `name` a token and no whitespace before
//!   the colon; obs-fold (a line starting with SP or HTAB) is rejected.
//! - The head must be valid UTF-8 (values may hold non-ASCII text, but not arbitrary bytes).

use super::{HandshakeError, HandshakeLimits, is_tchar};
use crate::extension::{ExtensionOffer, ExtensionParam};
use bytes::{Buf, BytesMut};
use std::fmt;
use std::ops::Range;

const fn malformed(what: &'static str) -> HandshakeError {
    HandshakeError::Malformed(what)
}

/// Finds the end of a head across calls without ever looking at a byte twice.
#[derive(Clone, Debug)]
struct Scanner {
    limits: HandshakeLimits,
    /// Bytes of the buffer already examined (none of them ends the head).
    scanned: usize,
    /// Where the line being scanned starts.
    line_start: usize,
    /// Complete lines seen (start line and headers).
    lines: usize,
    /// Total bytes examined over the life of the scanner (test hook).
    work: usize,
}

impl Scanner {
    fn new(limits: HandshakeLimits) -> Self {
        Scanner {
            limits,
            scanned: 0,
            line_start: 0,
            lines: 0,
            work: 0,
        }
    }

    fn restart(&mut self) {
        self.scanned = 0;
        self.line_start = 0;
        self.lines = 0;
    }

    /// Examines the bytes not seen before. `Ok(Some(len))`: the head is `buf[..len]`.
    fn scan(&mut self, buf: &[u8]) -> Result<Option<usize>, HandshakeError> {
        if buf.len() < self.scanned {
            // The caller consumed bytes behind our back; what we knew no longer applies.
            self.restart();
        }
        let max = self.limits.max_header_bytes;
        let end = buf.len().min(max);
        let mut i = self.scanned;
        while i < end {
            let b = buf[i];
            let after_cr = i > 0 && buf[i - 1] == b'\r';
            match b {
                b'\n' => {
                    if !after_cr {
                        return Err(malformed("bare LF line ending"));
                    }
                    if i - 1 == self.line_start {
                        if self.lines == 0 {
                            return Err(malformed("empty line before the start line"));
                        }
                        self.work += i + 1 - self.scanned;
                        self.scanned = i + 1;
                        return Ok(Some(i + 1));
                    }
                    self.lines += 1;
                    if self.lines > self.limits.max_headers.saturating_add(1) {
                        return Err(HandshakeError::TooManyHeaders);
                    }
                    self.line_start = i + 1;
                }
                _ if after_cr => return Err(malformed("CR not followed by LF")),
                b'\r' | b'\t' => {}
                0..=0x1f | 0x7f => return Err(malformed("control character in the head")),
                _ => {}
            }
            i += 1;
        }
        self.work += end.saturating_sub(self.scanned);
        self.scanned = end;
        if buf.len() >= max {
            return Err(HandshakeError::HeadTooLarge);
        }
        Ok(None)
    }
}

/// One header line: byte ranges of the name and the OWS-trimmed value in [`Head::text`].
#[derive(Clone, Debug, PartialEq, Eq)]
struct Span {
    name: Range<usize>,
    value: Range<usize>,
}

/// A parsed head: its text (one allocation) and where everything is in it.
#[derive(Clone, PartialEq, Eq)]
struct Head {
    text: String,
    start_line: Range<usize>,
    headers: Vec<Span>,
}

impl Head {
    /// Checks a complete head (as found by the scanner) and makes it the head's text; `lines`
    /// is where httparse found the headers, as `(name, value)` slices of `bytes`.
    fn new(
        bytes: &[u8],
        start_line: usize,
        lines: &[httparse::Header<'_>],
    ) -> Result<Head, HandshakeError> {
        let text = std::str::from_utf8(bytes).map_err(|_| malformed("head is not valid UTF-8"))?;
        let base = bytes.as_ptr().addr();
        // httparse hands out sub-slices of `bytes`: their offsets are ranges of `text`.
        let range = |slice: &[u8]| {
            let start = slice.as_ptr().addr() - base;
            start..start + slice.len()
        };
        let mut headers = Vec::with_capacity(lines.len());
        for header in lines {
            let name = range(header.name.as_bytes());
            let value = range(header.value);
            // OWS around the value is not part of it.
            let trimmed = text[value.clone()].trim_start_matches([' ', '\t']);
            let start = value.end - trimmed.len();
            let trimmed = trimmed.trim_end_matches([' ', '\t']);
            headers.push(Span {
                name,
                value: start..start + trimmed.len(),
            });
        }
        Ok(Head {
            text: text.to_owned(),
            start_line: 0..start_line,
            headers,
        })
    }

    fn name(&self, span: &Span) -> &str {
        &self.text[span.name.clone()]
    }

    fn value(&self, span: &Span) -> &str {
        &self.text[span.value.clone()]
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).next()
    }

    fn header_all<'s, 'n>(&'s self, name: &'n str) -> impl Iterator<Item = &'s str> + use<'s, 'n> {
        self.headers
            .iter()
            .filter(move |span| self.name(span).eq_ignore_ascii_case(name))
            .map(|span| self.value(span))
    }

    fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
        self.headers
            .iter()
            .map(|span| (self.name(span), self.value(span)))
    }

    /// Items of a comma-separated list spread over all headers named `name`, trimmed, empty
    /// items dropped.
    fn list<'s, 'n>(&'s self, name: &'n str) -> impl Iterator<Item = &'s str> + use<'s, 'n> {
        self.header_all(name).flat_map(list_items)
    }

    fn has_token(&self, name: &str, token: &str) -> bool {
        self.list(name).any(|item| item.eq_ignore_ascii_case(token))
    }

    fn extension_offers(&self) -> Result<Vec<ExtensionOffer>, HandshakeError> {
        let mut out = Vec::new();
        for value in self.header_all("sec-websocket-extensions") {
            parse_extensions_into(value, &mut out)?;
        }
        Ok(out)
    }

    fn debug_headers(&self, f: &mut fmt::DebugStruct<'_, '_>) {
        struct Headers<'h>(&'h Head);
        impl fmt::Debug for Headers<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.headers()).finish()
            }
        }
        f.field("headers", &Headers(self));
    }
}

/// The error for an httparse failure on a complete head.
fn httparse_error(e: httparse::Error) -> HandshakeError {
    match e {
        httparse::Error::HeaderName => malformed("invalid header name"),
        httparse::Error::HeaderValue => malformed("invalid header value"),
        httparse::Error::NewLine => malformed("invalid line ending"),
        httparse::Error::Status => malformed("invalid status code"),
        httparse::Error::Token => malformed("invalid method"),
        httparse::Error::TooManyHeaders => HandshakeError::TooManyHeaders,
        httparse::Error::Version => malformed("invalid HTTP version"),
    }
}

/// Room for the `count` headers the scanner counted.
fn header_slots(count: usize) -> Vec<httparse::Header<'static>> {
    vec![httparse::EMPTY_HEADER; count]
}

/// The header lines after the start line (`head[line_end..]` starts right after its CRLF),
/// for a start line httparse does not read.
fn parse_headers_after<'h, 'b>(
    head: &'b [u8],
    line_end: usize,
    slots: &'h mut [httparse::Header<'b>],
) -> Result<&'h [httparse::Header<'b>], HandshakeError> {
    match httparse::parse_headers(&head[line_end..], slots).map_err(httparse_error)? {
        httparse::Status::Complete((len, headers)) if line_end + len == head.len() => Ok(headers),
        _ => Err(malformed("head does not end with an empty line")),
    }
}

/// The start line of a complete head, without its CRLF.
fn start_line(head: &[u8]) -> &[u8] {
    let end = head.iter().position(|&b| b == b'\r').unwrap_or(head.len());
    &head[..end]
}

/// `HTTP/d.d` -> (major, minor); `HTTP/d` -> (major, 0), the minor version that RFC 9110
/// section 2.5 implies for a major version without minor ones (`HTTP/2`, `HTTP/3`), so that
/// such a start line is refused by the version check rather than as malformed.
fn parse_version(s: &str) -> Option<(u8, u8)> {
    match s.as_bytes() {
        [b'H', b'T', b'T', b'P', b'/', major, b'.', minor]
            if major.is_ascii_digit() && minor.is_ascii_digit() =>
        {
            Some((major - b'0', minor - b'0'))
        }
        [b'H', b'T', b'T', b'P', b'/', major] if major.is_ascii_digit() => Some((major - b'0', 0)),
        _ => None,
    }
}

/// Splits one comma-separated header value into trimmed, non-empty items.
pub(crate) fn list_items(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(',')
        .map(|item| item.trim_matches([' ', '\t']))
        .filter(|item| !item.is_empty())
}

macro_rules! header_accessors {
    ($example_head:literal, $parser:ident) => {
        /// The value of the first header called `name` (ASCII case-insensitive), without
        /// surrounding whitespace.
        ///
        /// ```
        /// # use bytes::BytesMut;
        #[doc = concat!("# use ws_proto::handshake::", stringify!($parser), ";")]
        #[doc = concat!("let mut buf = BytesMut::from(&", $example_head, "[..]);")]
        #[doc = concat!("let head = ", stringify!($parser), "::default().parse(&mut buf).unwrap().unwrap();")]
        /// assert_eq!(head.header("x-multi"), Some("a"));
        /// assert_eq!(head.header("X-MISSING"), None);
        /// ```
        pub fn header(&self, name: &str) -> Option<&str> {
            self.head.header(name)
        }

        /// The values of every header called `name` (ASCII case-insensitive), in order.
        ///
        /// ```
        /// # use bytes::BytesMut;
        #[doc = concat!("# use ws_proto::handshake::", stringify!($parser), ";")]
        #[doc = concat!("let mut buf = BytesMut::from(&", $example_head, "[..]);")]
        #[doc = concat!("let head = ", stringify!($parser), "::default().parse(&mut buf).unwrap().unwrap();")]
        /// assert_eq!(head.header_all("X-Multi").collect::<Vec<_>>(), ["a", "b, c"]);
        /// ```
        pub fn header_all<'s, 'n>(
            &'s self,
            name: &'n str,
        ) -> impl Iterator<Item = &'s str> + use<'s, 'n> {
            self.head.header_all(name)
        }

        /// Every header as `(name, value)`, in order, names as received.
        pub fn headers(&self) -> impl Iterator<Item = (&str, &str)> {
            self.head.headers()
        }

        /// Number of header lines.
        pub fn header_count(&self) -> usize {
            self.head.headers.len()
        }

        /// Whether the comma-separated lists of all headers called `name` contain `token`
        /// (both compared ASCII case-insensitively), e.g. `has_token("connection", "upgrade")`
        /// for `Connection: keep-alive, Upgrade`.
        pub fn has_token(&self, name: &str, token: &str) -> bool {
            self.head.has_token(name, token)
        }

        /// Every `Sec-WebSocket-Protocol` value, split at commas and trimmed, in order.
        pub fn subprotocols(&self) -> Vec<&str> {
            self.head.list("sec-websocket-protocol").collect()
        }

        /// Every element of every `Sec-WebSocket-Extensions` header, in order, parsed with
        /// [`parse_extensions`].
        pub fn extension_offers(&self) -> Result<Vec<ExtensionOffer>, HandshakeError> {
            self.head.extension_offers()
        }
    };
}

/// A parsed HTTP/1.x request head.
#[derive(Clone, PartialEq, Eq)]
pub struct Request {
    head: Head,
    method: Range<usize>,
    path: Range<usize>,
    version: (u8, u8),
}

impl Request {
    /// Parses a complete request head of `header_count` header lines.
    fn parse_head(bytes: &[u8], header_count: usize) -> Result<Request, HandshakeError> {
        let mut slots = header_slots(header_count);
        let mut parsed = httparse::Request::new(&mut slots);
        let (method, path, version, headers) = match parsed.parse(bytes) {
            Ok(httparse::Status::Complete(len)) if len == bytes.len() => {
                let (Some(method), Some(path), Some(minor)) =
                    (parsed.method, parsed.path, parsed.version)
                else {
                    return Err(malformed("incomplete request line"));
                };
                (method, path, (1, minor), &*parsed.headers)
            }
            Ok(_) => return Err(malformed("head does not end with an empty line")),
            Err(httparse::Error::Version) => {
                // Another version than HTTP/1.0 or 1.1: read the line here, so that a
                // well-formed one is refused by the version check.
                let line = std::str::from_utf8(start_line(bytes))
                    .map_err(|_| malformed("head is not valid UTF-8"))?;
                let mut parts = line.split(' ');
                let (Some(method), Some(path), Some(version), None) =
                    (parts.next(), parts.next(), parts.next(), parts.next())
                else {
                    return Err(malformed(
                        "request line is not `METHOD SP target SP version`",
                    ));
                };
                if method.is_empty() || !method.bytes().all(is_tchar) {
                    return Err(malformed("invalid method"));
                }
                let version = parse_version(version).ok_or(malformed("invalid HTTP version"))?;
                let mut slots = header_slots(header_count);
                let headers = parse_headers_after(bytes, line.len() + 2, &mut slots)?;
                let head = Head::new(bytes, line.len(), headers)?;
                return Request::from_parts(head, method.len(), path.len(), version);
            }
            Err(e) => return Err(httparse_error(e)),
        };
        let line_len = start_line(bytes).len();
        let head = Head::new(bytes, line_len, headers)?;
        // `METHOD SP target SP HTTP/1.x`, single spaces (httparse's strict default).
        if line_len != method.len() + path.len() + 10 {
            return Err(malformed(
                "request line is not `METHOD SP target SP version`",
            ));
        }
        Request::from_parts(head, method.len(), path.len(), version)
    }

    /// The request line is `METHOD SP target SP version` with a valid method and version.
    fn from_parts(
        head: Head,
        method_len: usize,
        path_len: usize,
        version: (u8, u8),
    ) -> Result<Request, HandshakeError> {
        let path_start = method_len + 1;
        let path = &head.text[path_start..path_start + path_len];
        if path.is_empty() || !path.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
            return Err(malformed("invalid request target"));
        }
        Ok(Request {
            method: 0..method_len,
            path: path_start..path_start + path_len,
            version,
            head,
        })
    }

    /// The method, e.g. `GET` (case-sensitive, as sent).
    pub fn method(&self) -> &str {
        &self.head.text[self.method.clone()]
    }

    /// The request target as sent, e.g. `/chat?room=1`.
    pub fn path(&self) -> &str {
        &self.head.text[self.path.clone()]
    }

    /// The HTTP version as `(major, minor)`, e.g. `(1, 1)`.
    pub fn version(&self) -> (u8, u8) {
        self.version
    }

    /// The `Sec-WebSocket-Key` value (the first one, if repeated).
    pub fn key(&self) -> Option<&str> {
        self.head.header("sec-websocket-key")
    }

    header_accessors!(
        "b\"GET / HTTP/1.1\\r\\nX-Multi: a\\r\\nx-multi:  b, c \\r\\n\\r\\n\"",
        RequestParser
    );
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Request");
        s.field("method", &self.method())
            .field("path", &self.path())
            .field("version", &self.version);
        self.head.debug_headers(&mut s);
        s.finish()
    }
}

/// A parsed HTTP/1.x response head.
#[derive(Clone, PartialEq, Eq)]
pub struct Response {
    head: Head,
    status: u16,
    reason: Range<usize>,
    version: (u8, u8),
}

impl Response {
    /// Parses a complete response head of `header_count` header lines.
    fn parse_head(bytes: &[u8], header_count: usize) -> Result<Response, HandshakeError> {
        let line_len = start_line(bytes).len();
        let mut slots = header_slots(header_count);
        let mut parsed = httparse::Response::new(&mut slots);
        match parsed.parse(bytes) {
            Ok(httparse::Status::Complete(len)) if len == bytes.len() => {
                let (Some(minor), Some(status)) = (parsed.version, parsed.code) else {
                    return Err(malformed("incomplete status line"));
                };
                let reason = parsed.reason.unwrap_or("").len();
                let head = Head::new(bytes, line_len, parsed.headers)?;
                Response::from_parts(head, status, reason, (1, minor))
            }
            Ok(_) => Err(malformed("head does not end with an empty line")),
            Err(httparse::Error::Version) => {
                // Another version than HTTP/1.0 or 1.1 (`HTTP/2 101`, `HTTP/0.9 200`): read the
                // line here, so that the client reports the version (or the refusal).
                let line = std::str::from_utf8(&bytes[..line_len])
                    .map_err(|_| malformed("head is not valid UTF-8"))?;
                let (version, rest) = line.split_once(' ').ok_or(malformed(
                    "status line is not `version SP status SP reason`",
                ))?;
                let version = parse_version(version).ok_or(malformed("invalid HTTP version"))?;
                let (code, reason) = match rest.split_once(' ') {
                    Some((code, reason)) => (code, reason),
                    None => (rest, ""), // `HTTP/2 101` without the space before an empty reason
                };
                let status = match code.as_bytes() {
                    [a @ b'0'..=b'9', b @ b'0'..=b'9', c @ b'0'..=b'9'] => {
                        u16::from(a - b'0') * 100 + u16::from(b - b'0') * 10 + u16::from(c - b'0')
                    }
                    _ => return Err(malformed("invalid status code")),
                };
                let mut slots = header_slots(header_count);
                let headers = parse_headers_after(bytes, line_len + 2, &mut slots)?;
                let head = Head::new(bytes, line_len, headers)?;
                Response::from_parts(head, status, reason.len(), version)
            }
            Err(e) => Err(httparse_error(e)),
        }
    }

    /// `reason_len` bytes of reason phrase end the status line.
    fn from_parts(
        head: Head,
        status: u16,
        reason_len: usize,
        version: (u8, u8),
    ) -> Result<Response, HandshakeError> {
        if !(100..=999).contains(&status) {
            return Err(malformed("invalid status code"));
        }
        let line_len = head.start_line.end;
        Ok(Response {
            status,
            reason: line_len - reason_len..line_len,
            version,
            head,
        })
    }

    /// The status code, e.g. 101.
    pub fn status(&self) -> u16 {
        self.status
    }

    /// The reason phrase as sent (may be empty).
    pub fn reason(&self) -> &str {
        &self.head.text[self.reason.clone()]
    }

    /// The HTTP version as `(major, minor)`.
    pub fn version(&self) -> (u8, u8) {
        self.version
    }

    header_accessors!(
        "b\"HTTP/1.1 101 Switching Protocols\\r\\nX-Multi: a\\r\\nx-multi:  b, c \\r\\n\\r\\n\"",
        ResponseParser
    );
}

impl fmt::Debug for Response {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Response");
        s.field("status", &self.status)
            .field("reason", &self.reason())
            .field("version", &self.version);
        self.head.debug_headers(&mut s);
        s.finish()
    }
}

macro_rules! parser {
    ($(#[$doc:meta])* $name:ident, $output:ident, $example:literal) => {
        $(#[$doc])*
        #[derive(Clone, Debug)]
        pub struct $name {
            scanner: Scanner,
            failed: Option<HandshakeError>,
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new(HandshakeLimits::default())
            }
        }

        impl $name {
            /// A parser enforcing `limits`.
            pub fn new(limits: HandshakeLimits) -> Self {
                $name {
                    scanner: Scanner::new(limits),
                    failed: None,
                }
            }

            /// Looks for a complete head in `buf`.
            ///
            /// Call again with the same buffer after appending more received bytes; bytes
            /// examined before are not examined again (the buffer must only grow at its end
            /// between calls; if it shrank, scanning starts over).
            ///
            /// - `Ok(None)`: the head is not complete yet; `buf` is untouched.
            /// - `Ok(Some(head))`: the head has been removed from the front of `buf`; whatever
            ///   followed it (e.g. the first frames) stays in `buf`. The parser is reset and may
            ///   be reused for another head.
            /// - `Err(_)`: the head is invalid or over the limits; `buf` is untouched and every
            ///   later call returns the same error. [`HandshakeError::HeadTooLarge`] comes as
            ///   soon as `max_header_bytes` have arrived without the end of the head.
            ///
            /// ```
            /// use bytes::BytesMut;
            #[doc = concat!("use ws_proto::handshake::", stringify!($name), ";")]
            ///
            #[doc = concat!("let mut parser = ", stringify!($name), "::default();")]
            #[doc = concat!("let mut buf = BytesMut::from(&", $example, "[..15]);")]
            /// assert!(parser.parse(&mut buf)?.is_none());
            #[doc = concat!("buf.extend_from_slice(&", $example, "[15..]);")]
            /// buf.extend_from_slice(b"\x81\x00"); // bytes after the head
            /// let head = parser.parse(&mut buf)?.unwrap();
            /// assert_eq!(head.header("x-example"), Some("yes"));
            /// assert_eq!(&buf[..], b"\x81\x00");
            /// # Ok::<(), ws_proto::handshake::HandshakeError>(())
            /// ```
            pub fn parse(&mut self, buf: &mut BytesMut) -> Result<Option<$output>, HandshakeError> {
                if let Some(e) = &self.failed {
                    return Err(e.clone());
                }
                let result = self
                    .scanner
                    .scan(buf)
                    .and_then(|end| match end {
                        None => Ok(None),
                        Some(len) => {
                            let header_count = self.scanner.lines.saturating_sub(1);
                            $output::parse_head(&buf[..len], header_count)
                                .map(|head| Some((head, len)))
                        }
                    });
                match result {
                    Ok(None) => Ok(None),
                    Ok(Some((head, len))) => {
                        buf.advance(len);
                        self.scanner.restart();
                        Ok(Some(head))
                    }
                    Err(e) => {
                        self.failed = Some(e.clone());
                        Err(e)
                    }
                }
            }

            /// The limits this parser enforces.
            pub fn limits(&self) -> HandshakeLimits {
                self.scanner.limits
            }

            /// Total bytes examined while looking for the end of heads over the life of this
            /// parser. Test hook proving that no byte is examined twice.
            #[doc(hidden)]
            pub fn scanned_bytes(&self) -> usize {
                self.scanner.work
            }
        }
    };
}

parser!(
    /// Reads an HTTP/1.x request head incrementally (server side). See [`parse`](Self::parse).
    RequestParser,
    Request,
    "b\"GET /chat HTTP/1.1\\r\\nX-Example: yes\\r\\n\\r\\n\""
);

parser!(
    /// Reads an HTTP/1.x response head incrementally (client side). See [`parse`](Self::parse).
    ResponseParser,
    Response,
    "b\"HTTP/1.1 101 Switching Protocols\\r\\nX-Example: yes\\r\\n\\r\\n\""
);

/// Parses one `Sec-WebSocket-Extensions` header value (RFC 6455 section 9.1):
/// `name *( ";" param [ "=" ( token / quoted-string ) ] )`, elements separated by commas.
///
/// Names and parameter names are lower-cased; quoted values are unquoted (and must then be
/// tokens, as RFC 6455 requires). Whitespace around `;`, `,` and `=` is allowed, empty list
/// elements are skipped; anything else is [`HandshakeError::Malformed`].
///
/// ```
/// use ws_proto::handshake::parse_extensions;
///
/// let offers = parse_extensions("permessage-deflate; client_max_window_bits, foo; x=\"10\"")?;
/// assert_eq!(offers[0].name, "permessage-deflate");
/// assert_eq!(offers[0].params[0].name, "client_max_window_bits");
/// assert_eq!(offers[0].params[0].value, None);
/// assert_eq!(offers[1].params[0].value.as_deref(), Some("10"));
/// assert!(parse_extensions("foo; =1").is_err());
/// # Ok::<(), ws_proto::handshake::HandshakeError>(())
/// ```
pub fn parse_extensions(value: &str) -> Result<Vec<ExtensionOffer>, HandshakeError> {
    let mut out = Vec::new();
    parse_extensions_into(value, &mut out)?;
    Ok(out)
}

fn skip_ows(s: &[u8], mut i: usize) -> usize {
    while i < s.len() && (s[i] == b' ' || s[i] == b'\t') {
        i += 1;
    }
    i
}

/// A token starting at `i`, and the index after it.
fn token(s: &str, i: usize) -> Option<(&str, usize)> {
    let len = s.as_bytes()[i..]
        .iter()
        .take_while(|&&b| is_tchar(b))
        .count();
    (len > 0).then(|| (&s[i..i + len], i + len))
}

/// A quoted-string starting at `i` (which holds `"`), unescaped, and the index after it.
fn quoted_string(s: &[u8], mut i: usize) -> Result<(String, usize), HandshakeError> {
    let mut out = Vec::new();
    i += 1;
    loop {
        match s.get(i) {
            None => return Err(malformed("unterminated quoted string")),
            Some(b'"') => break,
            Some(b'\\') => {
                match s.get(i + 1) {
                    Some(&c) if c == b'\t' || (c >= 0x20 && c != 0x7f) => out.push(c),
                    _ => return Err(malformed("invalid escape in a quoted string")),
                }
                i += 2;
            }
            Some(&c) if c == b'\t' || (c >= 0x20 && c != 0x7f) => {
                out.push(c);
                i += 1;
            }
            Some(_) => return Err(malformed("invalid character in a quoted string")),
        }
    }
    let value = String::from_utf8(out).map_err(|_| malformed("quoted string is not UTF-8"))?;
    Ok((value, i + 1))
}

fn parse_extensions_into(value: &str, out: &mut Vec<ExtensionOffer>) -> Result<(), HandshakeError> {
    let s = value.as_bytes();
    let mut i = 0;
    loop {
        i = skip_ows(s, i);
        if i == s.len() {
            return Ok(());
        }
        if s[i] == b',' {
            i += 1; // empty list element
            continue;
        }
        let (name, next) = token(value, i).ok_or(malformed("expected an extension name"))?;
        i = skip_ows(s, next);
        let mut params = Vec::new();
        while s.get(i) == Some(&b';') {
            i = skip_ows(s, i + 1);
            let (param, next) =
                token(value, i).ok_or(malformed("expected an extension parameter name"))?;
            i = skip_ows(s, next);
            let mut param_value = None;
            if s.get(i) == Some(&b'=') {
                i = skip_ows(s, i + 1);
                let (v, next) = if s.get(i) == Some(&b'"') {
                    let (v, next) = quoted_string(s, i)?;
                    if !super::is_token(&v) {
                        return Err(malformed("quoted extension parameter value is not a token"));
                    }
                    (v, next)
                } else {
                    let (v, next) = token(value, i)
                        .ok_or(malformed("expected an extension parameter value"))?;
                    (v.to_owned(), next)
                };
                param_value = Some(v);
                i = skip_ows(s, next);
            }
            params.push(ExtensionParam {
                name: param.to_ascii_lowercase(),
                value: param_value,
            });
        }
        out.push(ExtensionOffer {
            name: name.to_ascii_lowercase(),
            params,
        });
        match s.get(i) {
            None => return Ok(()),
            Some(b',') => i += 1,
            Some(_) => return Err(malformed("expected `,` or `;` in an extension list")),
        }
    }
}
