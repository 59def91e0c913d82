//! The version-agnostic server handshake: one negotiation over an [`http`] request, and the
//! shells that frame its answer for HTTP/1.1 (`101` + `Sec-WebSocket-Accept`, RFC 6455) and for
//! extended CONNECT over HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220) (`200`, no key).

use super::parse::{Request, list_items};
use super::{HandshakeError, base64, generate_accept_key, is_header_value, parse_extensions};
use crate::extension::{Extension, ExtensionError, ExtensionNegotiator, ExtensionOffer};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode, Version};
use std::fmt;

/// An opening-handshake request, whatever carried it: the one type every transport hands to the
/// application's callback ([`Accept`] / [`Reject`]) and to the negotiation.
///
/// Build it from an [`http::Request<()>`] or [`http::request::Parts`] (HTTP/2 and HTTP/3
/// transports, hyper, axum) with `From`, or from a parsed HTTP/1.1 [`Request`] with `TryFrom`.
/// An extended CONNECT also sets [`protocol`](Self::protocol) (its `:protocol` pseudo-header,
/// which `http` keeps outside the header map) with [`with_protocol`](Self::with_protocol).
///
/// ```
/// use ws_proto::handshake::HandshakeRequest;
///
/// let request = http::Request::get("ws://example.com/chat?room=1")
///     .header("Sec-WebSocket-Protocol", "chat.v2, chat")
///     .header("Origin", "https://example.com")
///     .body(())
///     .unwrap();
/// let req = HandshakeRequest::from(request);
/// assert_eq!(req.path, "/chat?room=1");
/// assert_eq!(req.authority.as_deref(), Some("example.com"));
/// assert_eq!(req.header("origin"), Some("https://example.com"));
/// assert_eq!(req.subprotocols(), ["chat.v2", "chat"]);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct HandshakeRequest {
    /// The method: `GET` for an HTTP/1.1 upgrade, `CONNECT` for an extended CONNECT.
    pub method: Method,
    /// The HTTP version the request came over.
    pub version: Version,
    /// The request target's path and query as sent, e.g. `/chat?room=1` (`/` when the request
    /// had none).
    pub path: String,
    /// Who the request is for: the `Host` header (HTTP/1.1) or `:authority` (HTTP/2, HTTP/3).
    pub authority: Option<String>,
    /// The `:protocol` pseudo-header of an extended CONNECT (`websocket`); `None` for HTTP/1.1.
    pub protocol: Option<String>,
    /// Every header of the request, names lower-cased, values in order.
    pub headers: HeaderMap,
}

impl HandshakeRequest {
    /// Sets [`protocol`](Self::protocol), the `:protocol` pseudo-header of an extended CONNECT.
    pub fn with_protocol(mut self, protocol: impl Into<String>) -> Self {
        self.protocol = Some(protocol.into());
        self
    }

    /// The first value of the header `name` (ASCII case-insensitive), if it is UTF-8 text.
    /// `headers` has the raw bytes.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.header_all(name).next()
    }

    /// The values of every header called `name` (ASCII case-insensitive), in order; values
    /// that are not UTF-8 text are left out (`headers` has them).
    pub fn header_all<'s>(&'s self, name: &str) -> impl Iterator<Item = &'s str> + use<'s> {
        self.headers
            .get_all(name)
            .into_iter()
            .filter_map(|v| std::str::from_utf8(v.as_bytes()).ok())
            .map(|v| v.trim_matches([' ', '\t']))
    }

    /// Whether the comma-separated lists of all headers called `name` contain `token` (both
    /// compared ASCII case-insensitively).
    pub fn has_token(&self, name: &str, token: &str) -> bool {
        self.header_all(name)
            .flat_map(list_items)
            .any(|item| item.eq_ignore_ascii_case(token))
    }

    /// The subprotocols the client offers (`Sec-WebSocket-Protocol`, split at commas and
    /// trimmed), in its order of preference.
    pub fn subprotocols(&self) -> Vec<&str> {
        self.header_all("sec-websocket-protocol")
            .flat_map(list_items)
            .collect()
    }

    /// Every element of every `Sec-WebSocket-Extensions` header, in order, parsed with
    /// [`parse_extensions`]. A value that is not UTF-8 is [`HandshakeError::Malformed`].
    pub fn extension_offers(&self) -> Result<Vec<ExtensionOffer>, HandshakeError> {
        let mut out = Vec::new();
        for value in self.headers.get_all(header::SEC_WEBSOCKET_EXTENSIONS) {
            let value = std::str::from_utf8(value.as_bytes()).map_err(|_| {
                HandshakeError::Malformed("Sec-WebSocket-Extensions is not UTF-8 text")
            })?;
            out.extend(parse_extensions(value)?);
        }
        Ok(out)
    }
}

impl From<http::request::Parts> for HandshakeRequest {
    /// Takes method, version, headers, the URI's path and query, and its authority (else the
    /// `Host` header). `protocol` stays `None`: `http` does not carry `:protocol`; see
    /// [`HandshakeRequest::with_protocol`].
    fn from(parts: http::request::Parts) -> Self {
        let authority = parts
            .uri
            .authority()
            .map(|a| a.as_str().to_owned())
            .or_else(|| {
                parts
                    .headers
                    .get(header::HOST)
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
            });
        let path = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_owned();
        HandshakeRequest {
            method: parts.method,
            version: parts.version,
            path,
            authority,
            protocol: None,
            headers: parts.headers,
        }
    }
}

impl From<http::Request<()>> for HandshakeRequest {
    /// As `From<http::request::Parts>`.
    fn from(request: http::Request<()>) -> Self {
        request.into_parts().0.into()
    }
}

impl TryFrom<&Request> for HandshakeRequest {
    type Error = HandshakeError;

    /// A parsed HTTP/1.x head as a [`HandshakeRequest`]: `authority` is the first `Host`, or
    /// the authority of an absolute-form target (whose path and query are then `path`).
    /// Fails with [`HandshakeError::UnsupportedHttpVersion`] for a version `http` cannot name
    /// (`HTTP/1.x` with x > 1 counts as HTTP/1.1), [`HandshakeError::Malformed`] for a method,
    /// header name or value `http` refuses, and [`HandshakeError::TooManyHeaders`] past the
    /// capacity of a [`HeaderMap`].
    fn try_from(req: &Request) -> Result<Self, HandshakeError> {
        let version = match req.version() {
            (0, 9) => Version::HTTP_09,
            (1, 0) => Version::HTTP_10,
            (1, _) => Version::HTTP_11,
            (2, 0) => Version::HTTP_2,
            (3, 0) => Version::HTTP_3,
            _ => return Err(HandshakeError::UnsupportedHttpVersion),
        };
        let method = Method::from_bytes(req.method().as_bytes())
            .map_err(|_| HandshakeError::Malformed("invalid method"))?;
        // `with_capacity` panics past the map's limit (32,768): never trust a count from the
        // peer with it; `try_append` reports the limit instead.
        let mut headers = HeaderMap::with_capacity(req.header_count().min(256));
        for (name, value) in req.headers() {
            let name = HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| HandshakeError::Malformed("invalid header name"))?;
            let value = HeaderValue::from_str(value)
                .map_err(|_| HandshakeError::Malformed("invalid header value"))?;
            headers
                .try_append(name, value)
                .map_err(|_| HandshakeError::TooManyHeaders)?;
        }
        // An absolute-form target (`GET http://host/path HTTP/1.1`) names the authority and
        // the path itself, and wins over `Host` (RFC 9112 section 3.2.2).
        let absolute = req
            .path()
            .parse::<http::Uri>()
            .ok()
            .filter(|uri| uri.scheme().is_some() && uri.authority().is_some());
        let (path, authority) = match &absolute {
            Some(uri) => (
                uri.path_and_query().map_or("/", |p| p.as_str()).to_owned(),
                uri.authority().map(|a| a.as_str().to_owned()),
            ),
            None => (req.path().to_owned(), req.header("host").map(str::to_owned)),
        };
        Ok(HandshakeRequest {
            method,
            version,
            path,
            authority,
            protocol: None,
            headers,
        })
    }
}

/// What the application's callback decides for a request it accepts.
///
/// ```
/// use ws_proto::handshake::Accept;
/// use ws_proto::http::{HeaderName, HeaderValue};
/// let accept = Accept::default()
///     .with_header(HeaderName::from_static("x-server"), HeaderValue::from_static("sockudo"));
/// assert_eq!(accept.headers["x-server"], "sockudo");
/// ```
#[derive(Clone, Debug, Default)]
pub struct Accept {
    /// The subprotocol to select. Only one the client offered is selected; any other is not
    /// sent, and the connection then has no subprotocol.
    pub subprotocol: Option<String>,
    /// Extra response headers (e.g. `Set-Cookie`). Do not repeat the handshake headers.
    pub headers: HeaderMap,
}

impl Accept {
    /// Accepts, selecting `subprotocol` (if the client offered it).
    pub fn subprotocol(subprotocol: impl Into<String>) -> Self {
        Accept {
            subprotocol: Some(subprotocol.into()),
            headers: HeaderMap::new(),
        }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }
}

/// The application's refusal of a request: the status, headers and reason the transport sends
/// back in its own framing (see [`Refusal::to_response`]).
///
/// ```
/// use ws_proto::handshake::Reject;
/// let reject = Reject::new(401, "log in first")
///     .with_header(http::header::WWW_AUTHENTICATE, "Bearer".parse().unwrap());
/// assert_eq!(reject.status, 401);
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Reject {
    /// HTTP status, e.g. 403 or 404 (meant for 3xx-5xx; one outside 100..=999 is sent as 500).
    pub status: u16,
    /// Text of the response body.
    pub reason: String,
    /// Extra response headers (e.g. `Location`, `WWW-Authenticate`). Boxed: a refusal is the
    /// `Err` of every callback, which stays small this way.
    pub headers: Box<HeaderMap>,
}

impl Reject {
    /// A refusal with this status and reason.
    pub fn new(status: u16, reason: impl Into<String>) -> Self {
        Reject {
            status,
            reason: reason.into(),
            headers: Box::default(),
        }
    }

    /// Adds a response header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.append(name, value);
        self
    }

    fn status_code(&self) -> StatusCode {
        StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// What a successful negotiation settled, beside the response to send.
#[derive(Debug)]
#[non_exhaustive]
pub struct Negotiated {
    /// The subprotocol chosen, if any (one the client offered).
    pub subprotocol: Option<String>,
    /// The extension negotiated, if any.
    pub extension: Option<Box<dyn Extension>>,
}

/// A refused handshake: why, and (through [`to_response`](Self::to_response)) the response the
/// transport sends in its own framing before closing the stream.
#[derive(Debug)]
#[non_exhaustive]
pub enum Refusal {
    /// The request is not a valid WebSocket handshake, or the extension negotiation failed.
    /// [`HandshakeError::is_peer_fault`] says whose fault it is; the status is
    /// [`HandshakeError::http_status`].
    Invalid(HandshakeError),
    /// The application's callback refused a valid request.
    Rejected(Reject),
}

impl Refusal {
    /// The HTTP status of the refusal.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::Invalid(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Refusal::Rejected(r) => r.status_code(),
        }
    }

    /// The response to send, for any HTTP version: the status, `Content-Type: text/plain`, a
    /// one-line body (the reason; `internal server error` for this side's own failures),
    /// `Sec-WebSocket-Version: 13` with a 426, and a [`Reject`]'s headers. An HTTP/1.1
    /// transport adds `Connection: close` (see [`to_http1`](Self::to_http1)).
    ///
    /// ```
    /// use ws_proto::handshake::{HandshakeError, Refusal};
    /// let response = Refusal::Invalid(HandshakeError::UnsupportedVersion).to_response();
    /// assert_eq!(response.status(), 426);
    /// assert_eq!(response.headers()["sec-websocket-version"], "13");
    /// ```
    pub fn to_response(&self) -> http::Response<String> {
        let (body, extra) = match self {
            Refusal::Invalid(e) if e.is_peer_fault() => (format!("{e}\n"), None),
            Refusal::Invalid(_) => ("internal server error\n".to_owned(), None),
            Refusal::Rejected(r) => (format!("{}\n", r.reason), Some(&*r.headers)),
        };
        let mut response = http::Response::new(body);
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if self.status() == StatusCode::UPGRADE_REQUIRED {
            headers.insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
        }
        if let Some(extra) = extra {
            for (name, value) in extra {
                headers.append(name, value.clone());
            }
        }
        response
    }

    /// The complete HTTP/1.1 response: [`Rejection::from_error`](super::Rejection::from_error)
    /// for an invalid request, [`reject_response`](super::reject_response) for the
    /// application's refusal (its headers that are not UTF-8 text are left out).
    pub fn to_http1(&self) -> bytes::Bytes {
        match self {
            Refusal::Invalid(e) => super::Rejection::from_error(e.clone()).response,
            Refusal::Rejected(r) => {
                let names: Vec<String> = r.headers.keys().map(|n| title_case(n.as_str())).collect();
                let headers: Vec<(&str, &str)> = r
                    .headers
                    .keys()
                    .zip(&names)
                    .flat_map(|(name, title)| {
                        r.headers
                            .get_all(name)
                            .iter()
                            .filter_map(move |v| Some((title.as_str(), v.to_str().ok()?)))
                    })
                    .collect();
                super::reject_response(r.status, &r.reason, &headers)
            }
        }
    }
}

impl From<Refusal> for http::Response<String> {
    fn from(refusal: Refusal) -> Self {
        refusal.to_response()
    }
}

impl From<HandshakeError> for Refusal {
    fn from(e: HandshakeError) -> Self {
        Refusal::Invalid(e)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Invalid(e) => write!(f, "invalid handshake: {e}"),
            Refusal::Rejected(r) => {
                write!(f, "handshake refused with {}: {}", r.status, r.reason)
            }
        }
    }
}

impl std::error::Error for Refusal {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Refusal::Invalid(e) => Some(e),
            Refusal::Rejected(_) => None,
        }
    }
}

/// Checks an HTTP/1.1 upgrade request (RFC 6455 section 4.2.1) and returns its
/// `Sec-WebSocket-Key`, in this order:
///
/// 1. the method is `GET` ([`HandshakeError::MethodNotGet`]);
/// 2. the version is HTTP/1.1 ([`HandshakeError::UnsupportedHttpVersion`]);
/// 3. exactly one non-empty `Host` ([`HandshakeError::MissingHost`]; repeated:
///    [`HandshakeError::Malformed`]);
/// 4. `Upgrade` lists `websocket` ([`HandshakeError::MissingUpgrade`]);
/// 5. `Connection` lists `upgrade` ([`HandshakeError::MissingConnectionUpgrade`]);
/// 6. exactly one `Sec-WebSocket-Key`, the base64 encoding of 16 bytes
///    ([`HandshakeError::BadKey`]);
/// 7. exactly one `Sec-WebSocket-Version`, equal to `13`
///    ([`HandshakeError::UnsupportedVersion`], answered with 426).
pub fn validate_upgrade(req: &HandshakeRequest) -> Result<&str, HandshakeError> {
    if req.method != Method::GET {
        return Err(HandshakeError::MethodNotGet);
    }
    if req.version != Version::HTTP_11 {
        return Err(HandshakeError::UnsupportedHttpVersion);
    }
    let mut hosts = req.headers.get_all(header::HOST).into_iter();
    match (hosts.next(), hosts.next()) {
        (Some(host), None) if !host.is_empty() => {}
        (Some(_), Some(_)) => return Err(HandshakeError::Malformed("repeated Host header")),
        _ => return Err(HandshakeError::MissingHost),
    }
    if !req.has_token("upgrade", "websocket") {
        return Err(HandshakeError::MissingUpgrade);
    }
    if !req.has_token("connection", "upgrade") {
        return Err(HandshakeError::MissingConnectionUpgrade);
    }
    let mut keys = req.headers.get_all(header::SEC_WEBSOCKET_KEY).iter();
    let key = match (keys.next(), keys.next()) {
        (Some(key), None) => key
            .to_str()
            .map(|k| k.trim_matches([' ', '\t']))
            .ok()
            .filter(|k| base64::decode(k.as_bytes()).is_some_and(|k| k.len() == 16))
            .ok_or(HandshakeError::BadKey)?,
        _ => return Err(HandshakeError::BadKey),
    };
    check_version(req)?;
    Ok(key)
}

/// Checks an extended CONNECT (RFC 8441 section 4 for HTTP/2, RFC 9220 for HTTP/3), in this
/// order:
///
/// 1. the version is HTTP/2 or HTTP/3 ([`HandshakeError::UnsupportedHttpVersion`]);
/// 2. the method is `CONNECT` ([`HandshakeError::MethodNotConnect`]);
/// 3. `:protocol` is `websocket` ([`HandshakeError::MissingProtocol`]);
/// 4. `:authority` is present and non-empty ([`HandshakeError::MissingHost`]);
/// 5. exactly one `Sec-WebSocket-Version`, equal to `13` ([`HandshakeError::UnsupportedVersion`]).
///
/// There is no `Sec-WebSocket-Key`, `Upgrade` or `Connection` (a key, if sent, is ignored).
pub fn validate_extended_connect(req: &HandshakeRequest) -> Result<(), HandshakeError> {
    if req.version != Version::HTTP_2 && req.version != Version::HTTP_3 {
        return Err(HandshakeError::UnsupportedHttpVersion);
    }
    if req.method != Method::CONNECT {
        return Err(HandshakeError::MethodNotConnect);
    }
    if !req
        .protocol
        .as_deref()
        .is_some_and(|p| p.eq_ignore_ascii_case("websocket"))
    {
        return Err(HandshakeError::MissingProtocol);
    }
    if req.authority.as_deref().is_none_or(str::is_empty) {
        return Err(HandshakeError::MissingHost);
    }
    check_version(req)
}

fn check_version(req: &HandshakeRequest) -> Result<(), HandshakeError> {
    let mut versions = req.headers.get_all(header::SEC_WEBSOCKET_VERSION).iter();
    match (versions.next(), versions.next()) {
        (Some(v), None) if v.as_bytes().trim_ascii() == b"13" => Ok(()),
        _ => Err(HandshakeError::UnsupportedVersion),
    }
}

/// The HTTP/1.1 shell: validates `req` as an upgrade ([`validate_upgrade`]), runs the common
/// negotiation and returns the `101 Switching Protocols` response (`Upgrade: websocket`,
/// `Connection: Upgrade`, `Sec-WebSocket-Accept`, then `Sec-WebSocket-Protocol`,
/// `Sec-WebSocket-Extensions` and the callback's headers) with what was negotiated.
///
/// The common negotiation, the same for every shell:
/// - `callback` sees the validated request and accepts it ([`Accept`]: a subprotocol, kept only
///   if the client offered it, and extra headers) or refuses it ([`Refusal::Rejected`]);
/// - `negotiator`, if any, gets the client's extension offers (only when there is at least
///   one); a malformed `Sec-WebSocket-Extensions` or a negotiation error is the client's fault
///   (400), an [`ExtensionError::Internal`] or an answer that is not a valid header value
///   naming an offered extension this side's (500).
///
/// Write the response with [`write_response_head`](super::write_response_head), or in the
/// transport's own framing; a refusal with [`Refusal::to_http1`].
///
/// ```
/// use ws_proto::handshake::{Accept, HandshakeRequest, negotiate_upgrade};
///
/// let request = http::Request::get("/chat")
///     .header("Host", "example.com")
///     .header("Upgrade", "websocket")
///     .header("Connection", "Upgrade")
///     .header("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
///     .header("Sec-WebSocket-Version", "13")
///     .body(())
///     .unwrap();
/// let (response, negotiated) =
///     negotiate_upgrade(&HandshakeRequest::from(request), None, |_| Ok(Accept::default()))
///         .unwrap();
/// assert_eq!(response.status(), 101);
/// assert_eq!(response.headers()["sec-websocket-accept"], "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
/// assert!(negotiated.subprotocol.is_none());
/// ```
pub fn negotiate_upgrade<F>(
    req: &HandshakeRequest,
    negotiator: Option<&dyn ExtensionNegotiator>,
    callback: F,
) -> Result<(http::Response<()>, Negotiated), Refusal>
where
    F: FnOnce(&HandshakeRequest) -> Result<Accept, Reject>,
{
    let key = validate_upgrade(req)?;
    let accept_key = HeaderValue::from_str(&generate_accept_key(key))
        .map_err(|_| HandshakeError::InvalidInput("accept key"))?;
    let mut response = http::Response::new(());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
    headers.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    headers.insert(header::SEC_WEBSOCKET_ACCEPT, accept_key);
    let negotiated = negotiate_common(req, negotiator, callback, headers)?;
    Ok((response, negotiated))
}

/// The extended-CONNECT shell for HTTP/2 (RFC 8441) and HTTP/3 (RFC 9220): validates `req`
/// ([`validate_extended_connect`]), runs the same negotiation as [`negotiate_upgrade`] and
/// returns a `200` response carrying only `Sec-WebSocket-Protocol`,
/// `Sec-WebSocket-Extensions` and the callback's headers (no key, no `Upgrade`). The transport
/// sends it as the stream's response headers; the stream's data is then the WebSocket.
///
/// ```
/// use ws_proto::handshake::{Accept, HandshakeRequest, negotiate_extended_connect};
///
/// let request = http::Request::connect("https://example.com/chat")
///     .version(http::Version::HTTP_2)
///     .header("Sec-WebSocket-Version", "13")
///     .header("Sec-WebSocket-Protocol", "chat")
///     .body(())
///     .unwrap();
/// let req = HandshakeRequest::from(request).with_protocol("websocket");
/// let (response, negotiated) = negotiate_extended_connect(&req, None, |req| {
///     assert_eq!(req.path, "/chat");
///     Ok(Accept { subprotocol: Some("chat".into()), ..Default::default() })
/// })
/// .unwrap();
/// assert_eq!(response.status(), 200);
/// assert_eq!(response.headers()["sec-websocket-protocol"], "chat");
/// assert_eq!(negotiated.subprotocol.as_deref(), Some("chat"));
/// ```
pub fn negotiate_extended_connect<F>(
    req: &HandshakeRequest,
    negotiator: Option<&dyn ExtensionNegotiator>,
    callback: F,
) -> Result<(http::Response<()>, Negotiated), Refusal>
where
    F: FnOnce(&HandshakeRequest) -> Result<Accept, Reject>,
{
    validate_extended_connect(req)?;
    let mut response = http::Response::new(());
    let negotiated = negotiate_common(req, negotiator, callback, response.headers_mut())?;
    Ok((response, negotiated))
}

/// [`negotiate_extended_connect`] for a `CONNECT` over HTTP/2 or HTTP/3, else
/// [`negotiate_upgrade`]: for a server that takes both on one port (e.g. behind hyper).
pub fn negotiate<F>(
    req: &HandshakeRequest,
    negotiator: Option<&dyn ExtensionNegotiator>,
    callback: F,
) -> Result<(http::Response<()>, Negotiated), Refusal>
where
    F: FnOnce(&HandshakeRequest) -> Result<Accept, Reject>,
{
    if is_extended_connect(req) {
        negotiate_extended_connect(req, negotiator, callback)
    } else {
        negotiate_upgrade(req, negotiator, callback)
    }
}

/// Whether `req` is a `CONNECT` over HTTP/2 or HTTP/3 (validated by
/// [`validate_extended_connect`]) rather than an HTTP/1.1 upgrade.
pub fn is_extended_connect(req: &HandshakeRequest) -> bool {
    req.method == Method::CONNECT
        && (req.version == Version::HTTP_2 || req.version == Version::HTTP_3)
}

/// Callback, subprotocol and extension: the part every shell shares. Appends the answer's
/// headers to `headers`.
fn negotiate_common<F>(
    req: &HandshakeRequest,
    negotiator: Option<&dyn ExtensionNegotiator>,
    callback: F,
    headers: &mut HeaderMap,
) -> Result<Negotiated, Refusal>
where
    F: FnOnce(&HandshakeRequest) -> Result<Accept, Reject>,
{
    let accept = callback(req).map_err(Refusal::Rejected)?;
    let subprotocol = accept
        .subprotocol
        .filter(|chosen| req.subprotocols().contains(&chosen.as_str()));

    let mut negotiated = None;
    if let Some(negotiator) = negotiator {
        let offers = req.extension_offers()?;
        if !offers.is_empty()
            && let Some((answer, extension)) = negotiator
                .server_accept(&offers)
                .map_err(HandshakeError::Extension)?
        {
            let valid = is_header_value(&answer)
                && parse_extensions(&answer).is_ok_and(|answered| {
                    !answered.is_empty()
                        && answered
                            .iter()
                            .all(|a| offers.iter().any(|o| o.name == a.name))
                });
            let value = HeaderValue::from_str(&answer)
                .ok()
                .filter(|_| valid)
                .ok_or(HandshakeError::Extension(ExtensionError::Internal(
                    "the negotiator answered with an invalid or unoffered extension".into(),
                )))?;
            negotiated = Some((value, extension));
        }
    }

    if let Some(p) = &subprotocol {
        // Offered, so it came from a valid header value.
        let value = HeaderValue::from_str(p)
            .map_err(|_| HandshakeError::InvalidInput("subprotocol is not a header value"))?;
        headers.append(header::SEC_WEBSOCKET_PROTOCOL, value);
    }
    let extension = negotiated.map(|(value, extension)| {
        headers.append(header::SEC_WEBSOCKET_EXTENSIONS, value);
        extension
    });
    for (name, value) in &accept.headers {
        headers.append(name, value.clone());
    }
    Ok(Negotiated {
        subprotocol,
        extension,
    })
}

/// Writes `response`'s status line and headers as an HTTP/1.1 head (`HTTP/1.1 101 Switching
/// Protocols\r\n...\r\n\r\n`), header names in their usual capitalisation
/// (`Sec-WebSocket-Accept`). For the answer of [`negotiate_upgrade`].
///
/// ```
/// let mut response = http::Response::new(());
/// *response.status_mut() = http::StatusCode::SWITCHING_PROTOCOLS;
/// response.headers_mut().insert("sec-websocket-accept", "x".parse().unwrap());
/// let head = ws_proto::handshake::write_response_head(&response);
/// assert_eq!(&head[..], b"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: x\r\n\r\n");
/// ```
pub fn write_response_head<B>(response: &http::Response<B>) -> bytes::Bytes {
    let status = response.status();
    let reason = status.canonical_reason().unwrap_or("Error");
    let mut len = 17 + reason.len();
    for (name, value) in response.headers() {
        len += name.as_str().len() + value.len() + 4;
    }
    let mut buf = bytes::BytesMut::with_capacity(len);
    buf.extend_from_slice(b"HTTP/1.1 ");
    buf.extend_from_slice(status.as_str().as_bytes());
    buf.extend_from_slice(b" ");
    buf.extend_from_slice(reason.as_bytes());
    buf.extend_from_slice(b"\r\n");
    for (name, value) in response.headers() {
        put_title_case(&mut buf, name.as_str());
        buf.extend_from_slice(b": ");
        buf.extend_from_slice(value.as_bytes());
        buf.extend_from_slice(b"\r\n");
    }
    buf.extend_from_slice(b"\r\n");
    buf.freeze()
}

/// [`put_title_case`] into a `String`.
fn title_case(name: &str) -> String {
    let mut buf = bytes::BytesMut::with_capacity(name.len() + 2);
    put_title_case(&mut buf, name);
    // Header names are ASCII.
    String::from_utf8_lossy(&buf).into_owned()
}

/// `sec-websocket-accept` -> `Sec-WebSocket-Accept`, `set-cookie` -> `Set-Cookie`.
fn put_title_case(buf: &mut bytes::BytesMut, name: &str) {
    for (i, part) in name.split('-').enumerate() {
        if i > 0 {
            buf.extend_from_slice(b"-");
        }
        if part == "websocket" {
            buf.extend_from_slice(b"WebSocket");
            continue;
        }
        let mut bytes = part.bytes();
        if let Some(first) = bytes.next() {
            buf.extend_from_slice(&[first.to_ascii_uppercase()]);
        }
        buf.extend(bytes);
    }
}
