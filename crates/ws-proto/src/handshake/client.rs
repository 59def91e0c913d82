//! Client side: build the upgrade request (RFC 6455 section 4.1) and check the server's
//! response.

use super::parse::Response;
use super::{
    HandshakeError, base64, check_extra_headers, generate_accept_key, header_len, is_header_value,
    is_token, parse_extensions, put_header,
};
use crate::extension::{Extension, ExtensionNegotiator, ExtensionOffer};
use bytes::{Bytes, BytesMut};
use ring::rand::{SecureRandom, SystemRandom};

/// What the client asks for.
#[derive(Clone, Copy, Debug, Default)]
pub struct ClientOptions<'a> {
    /// Subprotocols to offer, most preferred first (distinct tokens). Empty: no
    /// `Sec-WebSocket-Protocol` header, and a server choosing one fails the handshake.
    pub subprotocols: &'a [&'a str],
    /// Offers an extension through [`ExtensionNegotiator::client_offer`]. Pass the same
    /// negotiator to [`ClientHandshake::validate_response`].
    pub negotiator: Option<&'a dyn ExtensionNegotiator>,
    /// Headers appended to the request as they are (e.g. `Authorization`). Do not repeat the
    /// handshake headers.
    pub extra_headers: &'a [(&'a str, &'a str)],
    /// The `Origin` header to send (browsers always send one; other clients may).
    pub origin: Option<&'a str>,
}

/// The client's half of a handshake in progress: remembers the key and what was offered, and
/// checks the server's response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientHandshake {
    key: String,
    accept: String,
    subprotocols: Vec<String>,
    extensions: Vec<String>,
}

/// A successful handshake, seen from the client.
#[derive(Debug)]
#[non_exhaustive]
pub struct ClientAccepted {
    /// The subprotocol the server chose, if any (one of those offered).
    pub subprotocol: Option<String>,
    /// The extension negotiated, if any.
    pub extension: Option<Box<dyn Extension>>,
}

/// Builds an upgrade request with a fresh random key (from [`ring::rand::SystemRandom`]).
///
/// `host` is the `Host` header value (`host[:port]`, IPv6 in brackets, e.g.
/// [`WsUrl::host_header`](super::WsUrl::host_header)); `path_and_query` the request target,
/// starting with `/`. Returns the handshake state and the request bytes to send:
///
/// ```text
/// GET <path_and_query> HTTP/1.1
/// Host: <host>
/// Upgrade: websocket
/// Connection: Upgrade
/// Sec-WebSocket-Key: <key>
/// Sec-WebSocket-Version: 13
/// [Origin: <origin>]
/// [Sec-WebSocket-Protocol: a, b]
/// [Sec-WebSocket-Extensions: <negotiator's offer>]
/// [extra headers]
/// ```
///
/// Fails with [`HandshakeError::InvalidInput`] when an argument cannot be written into a valid
/// request (whitespace or control characters in the host or path, a path not starting with `/`,
/// subprotocols that are not distinct tokens, a malformed negotiator offer, bad extra headers),
/// and [`HandshakeError::Random`] if the system's random number generator fails.
///
/// ```
/// use ws_proto::handshake::{client_request, ClientOptions};
///
/// let opts = ClientOptions { origin: Some("https://example.com"), ..Default::default() };
/// let (handshake, request) = client_request("example.com", "/chat", &opts)?;
/// assert!(request.starts_with(b"GET /chat HTTP/1.1\r\nHost: example.com\r\n"));
/// assert_eq!(handshake.key().len(), 24);
/// # Ok::<(), ws_proto::handshake::HandshakeError>(())
/// ```
pub fn client_request(
    host: &str,
    path_and_query: &str,
    opts: &ClientOptions<'_>,
) -> Result<(ClientHandshake, Bytes), HandshakeError> {
    let mut nonce = [0u8; 16];
    SystemRandom::new()
        .fill(&mut nonce)
        .map_err(|_| HandshakeError::Random)?;
    client_request_with_key(host, path_and_query, opts, nonce)
}

/// [`client_request`] with a caller-chosen 16-byte nonce (base64-encoded into
/// `Sec-WebSocket-Key`). For tests and for callers with their own random source; the nonce
/// must be random for every connection (RFC 6455 section 4.1).
///
/// ```
/// use ws_proto::handshake::{client_request_with_key, ClientOptions};
///
/// let nonce = *b"the sample nonce";
/// let (handshake, _) = client_request_with_key("h", "/", &ClientOptions::default(), nonce)?;
/// assert_eq!(handshake.key(), "dGhlIHNhbXBsZSBub25jZQ==");
/// # Ok::<(), ws_proto::handshake::HandshakeError>(())
/// ```
pub fn client_request_with_key(
    host: &str,
    path_and_query: &str,
    opts: &ClientOptions<'_>,
    nonce: [u8; 16],
) -> Result<(ClientHandshake, Bytes), HandshakeError> {
    let visible = |s: &str| !s.is_empty() && s.bytes().all(|b| (0x21..=0x7e).contains(&b));
    if !visible(host) {
        return Err(HandshakeError::InvalidInput(
            "host must be non-empty visible ASCII",
        ));
    }
    if !path_and_query.starts_with('/') || !visible(path_and_query) {
        return Err(HandshakeError::InvalidInput(
            "path must start with `/` and be visible ASCII",
        ));
    }
    let protocols = opts.subprotocols;
    let (offer, extensions) = check_options(opts)?;

    let key = base64::encode(&nonce);
    let protocol_list = protocols.join(", ");

    let mut len = 4 + path_and_query.len() + 11 // GET <path> HTTP/1.1\r\n
        + header_len("Host", host)
        + 20 + 21 // Upgrade, Connection
        + header_len("Sec-WebSocket-Key", &key)
        + 27 // Sec-WebSocket-Version: 13\r\n
        + 2;
    if let Some(origin) = opts.origin {
        len += header_len("Origin", origin);
    }
    if !protocols.is_empty() {
        len += header_len("Sec-WebSocket-Protocol", &protocol_list);
    }
    if let Some(offer) = &offer {
        len += header_len("Sec-WebSocket-Extensions", offer);
    }
    for (name, value) in opts.extra_headers {
        len += header_len(name, value);
    }

    let mut buf = BytesMut::with_capacity(len);
    buf.extend_from_slice(b"GET ");
    buf.extend_from_slice(path_and_query.as_bytes());
    buf.extend_from_slice(b" HTTP/1.1\r\n");
    put_header(&mut buf, "Host", host);
    buf.extend_from_slice(b"Upgrade: websocket\r\nConnection: Upgrade\r\n");
    put_header(&mut buf, "Sec-WebSocket-Key", &key);
    buf.extend_from_slice(b"Sec-WebSocket-Version: 13\r\n");
    if let Some(origin) = opts.origin {
        put_header(&mut buf, "Origin", origin);
    }
    if !protocols.is_empty() {
        put_header(&mut buf, "Sec-WebSocket-Protocol", &protocol_list);
    }
    if let Some(offer) = &offer {
        put_header(&mut buf, "Sec-WebSocket-Extensions", offer);
    }
    for (name, value) in opts.extra_headers {
        put_header(&mut buf, name, value);
    }
    buf.extend_from_slice(b"\r\n");
    debug_assert_eq!(buf.len(), len);

    let handshake = ClientHandshake {
        accept: generate_accept_key(&key),
        key,
        subprotocols: protocols.iter().map(|p| (*p).to_owned()).collect(),
        extensions,
    };
    Ok((handshake, buf.freeze()))
}

impl ClientHandshake {
    /// The `Sec-WebSocket-Key` sent.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The `Sec-WebSocket-Accept` value the server must answer with.
    pub fn expected_accept(&self) -> &str {
        &self.accept
    }

    /// Checks the server's response, in this order:
    ///
    /// 1. status 101 ([`HandshakeError::BadStatus`] with the status otherwise, whatever the
    ///    HTTP version, so that a refusal is reported as such);
    /// 2. an HTTP/1.1 status line ([`HandshakeError::BadResponseVersion`] otherwise, e.g. for
    ///    `HTTP/1.0 101` or `HTTP/2 101`). A later HTTP/1.x is taken as 1.1, as RFC 9110
    ///    section 2.5 asks of a recipient and as the server side does with requests;
    /// 3. `Upgrade` lists `websocket` ([`HandshakeError::MissingUpgrade`]);
    /// 4. `Connection` lists `upgrade` ([`HandshakeError::MissingConnectionUpgrade`]);
    /// 5. exactly one `Sec-WebSocket-Accept`, matching the key ([`HandshakeError::BadAccept`]);
    /// 6. `Sec-WebSocket-Protocol`: absent (or empty), or exactly one of the offered names
    ///    ([`HandshakeError::UnexpectedSubprotocol`]);
    /// 7. `Sec-WebSocket-Extensions`: every element names an offered extension
    ///    ([`HandshakeError::UnexpectedExtension`]; unparsable:
    ///    [`HandshakeError::Malformed`]). When an extension was offered, `negotiator` (the one
    ///    from [`ClientOptions`]) gets the elements through
    ///    [`client_accept`](ExtensionNegotiator::client_accept) (an empty slice when the
    ///    server declined); its errors fail the handshake as [`HandshakeError::Extension`].
    ///
    /// ```
    /// use ws_proto::BytesMut;
    /// use ws_proto::handshake::{
    ///     ClientOptions, HandshakeError, ResponseParser, client_request_with_key,
    /// };
    ///
    /// let nonce = *b"the sample nonce";
    /// let (client, _) = client_request_with_key("h", "/", &ClientOptions::default(), nonce)?;
    /// let head = |version: &str| {
    ///     let mut buf = BytesMut::from(format!(
    ///         "{version} 101 Switching Protocols\r\nUpgrade: websocket\r\n\
    ///          Connection: Upgrade\r\nSec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
    ///     ).as_bytes());
    ///     ResponseParser::default().parse(&mut buf).map(|r| r.expect("a complete head"))
    /// };
    /// assert!(client.validate_response(&head("HTTP/1.1")?, None).is_ok());
    /// assert_eq!(
    ///     client.validate_response(&head("HTTP/1.0")?, None).unwrap_err(),
    ///     HandshakeError::BadResponseVersion { major: 1, minor: 0 },
    /// );
    /// # Ok::<(), HandshakeError>(())
    /// ```
    pub fn validate_response(
        &self,
        resp: &Response,
        negotiator: Option<&dyn ExtensionNegotiator>,
    ) -> Result<ClientAccepted, HandshakeError> {
        if resp.status() != 101 {
            return Err(HandshakeError::BadStatus(resp.status()));
        }
        match resp.version() {
            (1, minor) if minor >= 1 => {}
            (major, minor) => return Err(HandshakeError::BadResponseVersion { major, minor }),
        }
        if !resp.has_token("upgrade", "websocket") {
            return Err(HandshakeError::MissingUpgrade);
        }
        if !resp.has_token("connection", "upgrade") {
            return Err(HandshakeError::MissingConnectionUpgrade);
        }
        let mut accepts = resp.header_all("sec-websocket-accept");
        match (accepts.next(), accepts.next()) {
            (Some(accept), None) if accept == self.accept => {}
            _ => return Err(HandshakeError::BadAccept),
        }

        accept_answer(
            &self.subprotocols,
            &self.extensions,
            resp.header_all("sec-websocket-protocol"),
            resp.extension_offers()?,
            negotiator,
        )
    }
}

/// Checks what every client shell sends beside its framing: distinct token subprotocols, a valid
/// `Origin`, valid extra headers, and the negotiator's offer. Returns the offer (if any) and the
/// names of the extensions it offers.
fn check_options(
    opts: &ClientOptions<'_>,
) -> Result<(Option<String>, Vec<String>), HandshakeError> {
    let protocols = opts.subprotocols;
    if !protocols.iter().all(|p| is_token(p))
        || protocols
            .iter()
            .enumerate()
            .any(|(i, p)| protocols[..i].contains(p))
    {
        return Err(HandshakeError::InvalidInput(
            "subprotocols must be distinct tokens",
        ));
    }
    if let Some(origin) = opts.origin
        && (origin.is_empty() || !is_header_value(origin))
    {
        return Err(HandshakeError::InvalidInput("invalid Origin value"));
    }
    check_extra_headers(opts.extra_headers)?;
    let offer = opts
        .negotiator
        .and_then(|n| n.client_offer())
        .filter(|offer| !offer.is_empty());
    let mut extensions: Vec<String> = Vec::new();
    if let Some(offer) = &offer {
        let offers = parse_extensions(offer)
            .ok()
            .filter(|_| is_header_value(offer))
            .ok_or(HandshakeError::InvalidInput(
                "the negotiator's offer is not a valid Sec-WebSocket-Extensions value",
            ))?;
        for o in offers {
            if !extensions.contains(&o.name) {
                extensions.push(o.name);
            }
        }
    }
    Ok((offer, extensions))
}

/// The server's answer, the same check for every shell: `Sec-WebSocket-Protocol` absent (or
/// empty) or exactly one offered name; every `Sec-WebSocket-Extensions` element an offered
/// extension, handed to the negotiator when one was offered.
fn accept_answer<'a>(
    offered_subprotocols: &[String],
    offered_extensions: &[String],
    mut protocols: impl Iterator<Item = &'a str>,
    answers: Vec<ExtensionOffer>,
    negotiator: Option<&dyn ExtensionNegotiator>,
) -> Result<ClientAccepted, HandshakeError> {
    let subprotocol = match (protocols.next(), protocols.next()) {
        (None | Some(""), None) => None,
        (Some(p), None) if offered_subprotocols.iter().any(|offered| offered == p) => {
            Some(p.to_owned())
        }
        _ => return Err(HandshakeError::UnexpectedSubprotocol),
    };
    if answers
        .iter()
        .any(|answer| !offered_extensions.contains(&answer.name))
    {
        return Err(HandshakeError::UnexpectedExtension);
    }
    let extension = match negotiator {
        Some(negotiator) if !offered_extensions.is_empty() => negotiator.client_accept(&answers)?,
        _ if answers.is_empty() => None,
        _ => return Err(HandshakeError::UnexpectedExtension),
    };
    Ok(ClientAccepted {
        subprotocol,
        extension,
    })
}

/// The client's half of an extended CONNECT (RFC 8441 for HTTP/2, RFC 9220 for HTTP/3) in
/// progress: remembers what was offered and checks the server's response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtendedConnectHandshake {
    subprotocols: Vec<String>,
    extensions: Vec<String>,
}

/// Builds an extended CONNECT request for `version` (HTTP/2 or HTTP/3): method `CONNECT`, the
/// URI `scheme://authority/path_and_query` (so that `:scheme`, `:authority` and `:path` follow
/// from it), `Sec-WebSocket-Version: 13`, then `Origin`, `Sec-WebSocket-Protocol`,
/// `Sec-WebSocket-Extensions` and the extra headers of `opts`. There is no key, `Upgrade` or
/// `Connection`. The transport adds the `:protocol = websocket` pseudo-header in its own way
/// (`http` has no field for it).
///
/// Fails with [`HandshakeError::InvalidInput`] for what [`client_request`] refuses, a version
/// other than HTTP/2 or HTTP/3, or an authority or path that do not make a URI.
///
/// ```
/// use ws_proto::handshake::{ClientOptions, extended_connect_request};
///
/// let opts = ClientOptions { subprotocols: &["chat"], ..Default::default() };
/// let (_, request) =
///     extended_connect_request(http::Version::HTTP_2, "https", "example.com", "/chat", &opts)?;
/// assert_eq!(request.method(), http::Method::CONNECT);
/// assert_eq!(request.uri(), "https://example.com/chat");
/// assert_eq!(request.headers()["sec-websocket-version"], "13");
/// assert_eq!(request.headers()["sec-websocket-protocol"], "chat");
/// # Ok::<(), ws_proto::handshake::HandshakeError>(())
/// ```
pub fn extended_connect_request(
    version: http::Version,
    scheme: &str,
    authority: &str,
    path_and_query: &str,
    opts: &ClientOptions<'_>,
) -> Result<(ExtendedConnectHandshake, http::Request<()>), HandshakeError> {
    if version != http::Version::HTTP_2 && version != http::Version::HTTP_3 {
        return Err(HandshakeError::InvalidInput(
            "extended CONNECT needs HTTP/2 or HTTP/3",
        ));
    }
    if !path_and_query.starts_with('/') {
        return Err(HandshakeError::InvalidInput("path must start with `/`"));
    }
    let (offer, extensions) = check_options(opts)?;
    let uri = http::Uri::builder()
        .scheme(scheme)
        .authority(authority)
        .path_and_query(path_and_query)
        .build()
        .map_err(|_| HandshakeError::InvalidInput("scheme, authority or path is not a URI"))?;
    let mut request = http::Request::new(());
    *request.method_mut() = http::Method::CONNECT;
    *request.uri_mut() = uri;
    *request.version_mut() = version;
    let headers = request.headers_mut();
    let value = |v: &str| {
        http::HeaderValue::from_str(v).map_err(|_| HandshakeError::InvalidInput("header value"))
    };
    headers.insert(
        http::header::SEC_WEBSOCKET_VERSION,
        http::HeaderValue::from_static("13"),
    );
    if let Some(origin) = opts.origin {
        headers.insert(http::header::ORIGIN, value(origin)?);
    }
    if !opts.subprotocols.is_empty() {
        headers.insert(
            http::header::SEC_WEBSOCKET_PROTOCOL,
            value(&opts.subprotocols.join(", "))?,
        );
    }
    if let Some(offer) = &offer {
        headers.insert(http::header::SEC_WEBSOCKET_EXTENSIONS, value(offer)?);
    }
    for (name, v) in opts.extra_headers {
        let name = http::HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| HandshakeError::InvalidInput("header name"))?;
        headers.append(name, value(v)?);
    }
    let handshake = ExtendedConnectHandshake {
        subprotocols: opts.subprotocols.iter().map(|p| (*p).to_owned()).collect(),
        extensions,
    };
    Ok((handshake, request))
}

impl ExtendedConnectHandshake {
    /// Checks the server's response to the extended CONNECT: a 2xx status
    /// ([`HandshakeError::BadStatus`] otherwise: RFC 8441 section 5 takes any 2xx as success),
    /// then the subprotocol and extensions as in [`ClientHandshake::validate_response`].
    ///
    /// ```
    /// use ws_proto::handshake::{ClientOptions, HandshakeError, extended_connect_request};
    ///
    /// let opts = ClientOptions { subprotocols: &["chat"], ..Default::default() };
    /// let (handshake, _) =
    ///     extended_connect_request(http::Version::HTTP_2, "https", "h", "/", &opts)?;
    /// let ok = http::Response::builder().status(200).header("sec-websocket-protocol", "chat");
    /// let accepted = handshake.validate_response(&ok.body(()).unwrap(), None)?;
    /// assert_eq!(accepted.subprotocol.as_deref(), Some("chat"));
    /// let refused = http::Response::builder().status(403).body(()).unwrap();
    /// assert_eq!(
    ///     handshake.validate_response(&refused, None).unwrap_err(),
    ///     HandshakeError::BadStatus(403),
    /// );
    /// # Ok::<(), HandshakeError>(())
    /// ```
    pub fn validate_response<B>(
        &self,
        resp: &http::Response<B>,
        negotiator: Option<&dyn ExtensionNegotiator>,
    ) -> Result<ClientAccepted, HandshakeError> {
        if !resp.status().is_success() {
            return Err(HandshakeError::BadStatus(resp.status().as_u16()));
        }
        let protocols = resp
            .headers()
            .get_all(http::header::SEC_WEBSOCKET_PROTOCOL)
            .iter()
            .map(header_text)
            .collect::<Result<Vec<_>, _>>()?;
        let mut answers = Vec::new();
        for value in resp
            .headers()
            .get_all(http::header::SEC_WEBSOCKET_EXTENSIONS)
        {
            answers.extend(parse_extensions(header_text(value)?)?);
        }
        accept_answer(
            &self.subprotocols,
            &self.extensions,
            protocols.into_iter(),
            answers,
            negotiator,
        )
    }
}

/// A response header's value as text, without surrounding whitespace.
fn header_text(value: &http::HeaderValue) -> Result<&str, HandshakeError> {
    std::str::from_utf8(value.as_bytes())
        .map(|s| s.trim_matches([' ', '\t']))
        .map_err(|_| HandshakeError::Malformed("a handshake header is not UTF-8 text"))
}
