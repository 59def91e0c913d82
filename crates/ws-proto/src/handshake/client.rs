//! Client side: build the upgrade request (RFC 6455 section 4.1) and check the server's
//! response.

use super::parse::Response;
use super::{
    HandshakeError, base64, check_extra_headers, generate_accept_key, header_len, is_header_value,
    is_token, parse_extensions, put_header,
};
use crate::extension::{Extension, ExtensionNegotiator};
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

        let mut protocols = resp.header_all("sec-websocket-protocol");
        let subprotocol = match (protocols.next(), protocols.next()) {
            (None | Some(""), None) => None,
            (Some(p), None) if self.subprotocols.iter().any(|offered| offered == p) => {
                Some(p.to_owned())
            }
            _ => return Err(HandshakeError::UnexpectedSubprotocol),
        };

        let answers = resp.extension_offers()?;
        if answers
            .iter()
            .any(|answer| !self.extensions.contains(&answer.name))
        {
            return Err(HandshakeError::UnexpectedExtension);
        }
        let extension = match negotiator {
            Some(negotiator) if !self.extensions.is_empty() => {
                negotiator.client_accept(&answers)?
            }
            _ if answers.is_empty() => None,
            _ => return Err(HandshakeError::UnexpectedExtension),
        };

        Ok(ClientAccepted {
            subprotocol,
            extension,
        })
    }
}
