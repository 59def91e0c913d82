//! The HTTP/1.1 opening handshake over a tokio byte stream: [`accept`], [`accept_with`],
//! [`connect`] and [`client`].
//!
//! The parsing and validation are `ws-proto`'s (sans-IO); this module only reads and writes.
//! Bytes the peer sent right behind its handshake stay in the stream's buffer: they are the
//! first WebSocket frames and are never lost.

use crate::Error;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use ws_proto::extension::ExtensionNegotiator;
use ws_proto::handshake::{
    self, Accept, ClientOptions, HandshakeLimits, HandshakeRequest, Refusal, Reject, RequestParser,
    ResponseParser, WsUrl,
};
use ws_proto::{Config, Role};

use crate::WebSocketStream;

/// The extension negotiator for `config`: permessage-deflate in `config.compression`'s mode
/// with the settings of `config.deflate` (feature `deflate`, on by default), or none when
/// compression is disabled. Every entry point (accept, accept_with, client_with, the axum
/// extractor, and the HTTP/2 and HTTP/3 transports built on this crate) builds its negotiator
/// here.
///
/// ```
/// use ws_tokio::{Compression, Config, extension_negotiator};
///
/// assert!(extension_negotiator(&Config::default()).is_none());
/// let deflate = Config::builder().compression(Compression::Shared).build();
/// assert_eq!(extension_negotiator(&deflate).is_some(), cfg!(feature = "deflate"));
/// ```
pub fn extension_negotiator(config: &Config) -> Option<Box<dyn ExtensionNegotiator>> {
    #[cfg(feature = "deflate")]
    if let Some(deflate) = ws_deflate::DeflateNegotiator::for_config(config) {
        return Some(Box::new(deflate));
    }
    let _ = config;
    None
}

fn limits(config: &Config) -> HandshakeLimits {
    HandshakeLimits {
        max_header_bytes: config.max_handshake_header_bytes,
        max_headers: config.max_handshake_headers,
    }
}

/// Runs `fut` within `config.handshake_timeout` (no deadline when it is zero).
pub(crate) async fn with_timeout<T>(
    config: &Config,
    fut: impl Future<Output = Result<T, Error>>,
) -> Result<T, Error> {
    if config.handshake_timeout.is_zero() {
        return fut.await;
    }
    match tokio::time::timeout(config.handshake_timeout, fut).await {
        Ok(result) => result,
        Err(_) => Err(Error::HandshakeTimeout),
    }
}

/// Accept a WebSocket connection on `stream`: read and validate the upgrade request, answer
/// 101 (or 400/426 with the reason), and return the server stream.
///
/// When `config.compression` is enabled, permessage-deflate is negotiated in that mode
/// (feature `deflate`, on by default) with the level, minimum size and peer requests of
/// `config.deflate` ([`DeflateSettings`](ws_proto::DeflateSettings)); a client that does not
/// offer it gets an uncompressed connection.
///
/// The whole handshake is bounded by `config.handshake_timeout` (a slow-loris peer gets
/// [`Error::HandshakeTimeout`]) and the request head by `max_handshake_header_bytes` and
/// `max_handshake_headers`.
///
/// Cancel safety: not cancel safe; dropping the future mid-handshake leaves the stream in an
/// unknown state, so drop the stream with it.
pub async fn accept<S>(stream: S, config: Config) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_with(stream, config, |_| Ok(Accept::default())).await
}

/// [`accept`] with a callback that sees the request (a [`HandshakeRequest`]: path, authority,
/// headers, offered subprotocols and extensions) and accepts it, choosing a subprotocol and
/// extra headers, or refuses it with a status.
///
/// The request is validated first (RFC 6455 section 4.2.1): the callback only sees valid
/// WebSocket upgrades; the others are answered 400, 426 or 431 without calling it. The
/// negotiation is ws-proto's [`negotiate_upgrade`](handshake::negotiate_upgrade), the same the
/// axum extractor and the HTTP/2 and HTTP/3 transports run.
///
/// ```no_run
/// use ws_tokio::{Accept, Config, Reject, accept_with};
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), ws_tokio::Error> {
/// let ws = accept_with(tcp, Config::default(), |req| {
///     if req.path != "/chat" {
///         return Err(Reject::new(404, "no such endpoint"));
///     }
///     let chosen = req.subprotocols().contains(&"chat.v1").then(|| "chat.v1".to_string());
///     Ok(Accept { subprotocol: chosen, ..Default::default() })
/// })
/// .await?;
/// # drop(ws); Ok(()) }
/// ```
///
/// # Checking `Origin`
///
/// Browsers do not apply the same-origin policy to WebSockets: any page may open one to any
/// server, with the user's cookies. A server that trusts cookies (or other ambient
/// credentials) checks the `Origin` header the browser sends on every handshake, here, and
/// refuses foreign pages (cross-site WebSocket hijacking). `Origin` says nothing about a client
/// that is not a browser, which may send any value or none: it complements authentication and
/// does not replace it. `examples/origin_check.rs` of the `sockudo-ws` crate is a whole server.
///
/// ```no_run
/// use ws_tokio::{Accept, Config, Reject, accept_with};
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), ws_tokio::Error> {
/// let ws = accept_with(tcp, Config::default(), |req| {
///     let mut origins = req.header_all("origin");
///     match (origins.next(), origins.next()) {
///         // Not sent by a browser page.
///         (None, _) => Ok(Accept::default()),
///         (Some(origin), None) if origin.eq_ignore_ascii_case("https://app.example.com") => {
///             Ok(Accept::default())
///         }
///         // A foreign page, or several `Origin` headers.
///         _ => Err(Reject::new(403, "origin not allowed")),
///     }
/// })
/// .await?;
/// # drop(ws); Ok(()) }
/// ```
///
/// Cancel safety: as [`accept`].
pub async fn accept_with<S, F>(
    stream: S,
    config: Config,
    callback: F,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&HandshakeRequest) -> Result<Accept, Reject>,
{
    config.validate()?;
    let cfg = config.clone();
    with_timeout(&cfg, server_handshake(stream, config, callback)).await
}

/// The server handshake of [`accept_with`] on a valid `config`, without its deadline (the
/// caller runs it inside [`with_timeout`], with whatever comes before it, such as TLS).
pub(crate) async fn server_handshake<S, F>(
    mut stream: S,
    config: Config,
    callback: F,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&HandshakeRequest) -> Result<Accept, Reject>,
{
    {
        let mut buf = BytesMut::with_capacity(1024);
        let mut parser = RequestParser::new(limits(&config));
        let request = loop {
            match parser.parse(&mut buf) {
                Ok(Some(request)) => break request,
                Ok(None) => {}
                Err(e) => {
                    let rejection = handshake::Rejection::from_error(e.clone());
                    let _ = stream.write_all(&rejection.response).await;
                    let _ = stream.shutdown().await;
                    return Err(Error::Handshake(e));
                }
            }
            if buf.capacity() - buf.len() < 512 {
                buf.reserve(1024);
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        };

        let negotiator = extension_negotiator(&config);
        let outcome = HandshakeRequest::try_from(&request)
            .map_err(Refusal::Invalid)
            .and_then(|request| {
                handshake::negotiate_upgrade(&request, negotiator.as_deref(), callback)
            });
        let (response, negotiated) = match outcome {
            Ok(accepted) => accepted,
            Err(refusal) => {
                let _ = stream.write_all(&refusal.to_http1()).await;
                let _ = stream.shutdown().await;
                return Err(match &refusal {
                    Refusal::Rejected(reject) => Error::Refused(reject.status),
                    Refusal::Invalid(e) => Error::Handshake(e.clone()),
                    _ => Error::Refused(refusal.status().as_u16()),
                });
            }
        };
        stream
            .write_all(&handshake::write_response_head(&response))
            .await?;
        stream.flush().await?;
        let mut ws =
            WebSocketStream::from_parts(stream, Role::Server, config, buf, negotiated.extension);
        ws.set_subprotocol(negotiated.subprotocol);
        Ok(ws)
    }
}
/// Connect to `url` (`ws://host[:port]/path`) over TCP and run the client handshake.
///
/// When `config.compression` is enabled, permessage-deflate is offered (see [`client_with`]).
///
/// `wss://` needs TLS, which this function does not set up: use `tls::connect_tls` (feature
/// `tls`), or open a TLS stream yourself and use [`client`].
///
/// Cancel safety: not cancel safe (see [`accept`]).
pub async fn connect(url: &str, config: Config) -> Result<WebSocketStream<TcpStream>, Error> {
    config.validate()?;
    let parsed = handshake::parse_ws_url(url)?;
    if parsed.tls {
        return Err(ws_proto::Error::InvalidInput(
            "wss:// needs TLS: use ws_tokio::tls::connect_tls (feature `tls`), \
             or connect a TLS stream yourself and call ws_tokio::client",
        )
        .into());
    }
    let host = parsed.host.trim_start_matches('[').trim_end_matches(']');
    let tcp = with_timeout(&config, async {
        TcpStream::connect((host, parsed.port))
            .await
            .map_err(Error::Io)
    })
    .await?;
    tcp.set_nodelay(true)?;
    client(tcp, url, config).await
}

/// Run the client handshake for `url` over an already connected `stream` (plain TCP, TLS, ...).
///
/// Cancel safety: not cancel safe (see [`accept`]).
pub async fn client<S>(stream: S, url: &str, config: Config) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    client_with(stream, url, config, &ClientOptions::default()).await
}

/// [`client`] with options: subprotocols to offer, extra headers, an `Origin`.
///
/// permessage-deflate is offered when `config.compression` is enabled (feature `deflate`),
/// with the settings of `config.deflate`, unless `options.negotiator` names a negotiator of
/// its own (which then replaces it entirely).
///
/// Cancel safety: not cancel safe (see [`accept`]).
pub async fn client_with<S>(
    stream: S,
    url: &str,
    config: Config,
    options: &ClientOptions<'_>,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    config.validate()?;
    let parsed = handshake::parse_ws_url(url)?;
    let cfg = config.clone();
    with_timeout(&cfg, client_handshake(stream, &parsed, config, options)).await
}

/// The client handshake of [`client_with`] on a valid `config`, without its deadline (the
/// caller runs it inside [`with_timeout`], with whatever comes before it, such as TCP and TLS).
pub(crate) async fn client_handshake<S>(
    mut stream: S,
    parsed: &WsUrl,
    config: Config,
    options: &ClientOptions<'_>,
) -> Result<WebSocketStream<S>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let negotiator = extension_negotiator(&config);
    let mut options = *options;
    if options.negotiator.is_none() {
        options.negotiator = negotiator.as_deref();
    }
    {
        let (client, request) =
            handshake::client_request(&parsed.host_header, &parsed.path_and_query, &options)?;
        stream.write_all(&request).await?;
        stream.flush().await?;
        let mut buf = BytesMut::with_capacity(1024);
        let mut parser = ResponseParser::new(limits(&config));
        let response = loop {
            if let Some(response) = parser.parse(&mut buf)? {
                break response;
            }
            if buf.capacity() - buf.len() < 512 {
                buf.reserve(1024);
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Err(Error::Io(std::io::ErrorKind::UnexpectedEof.into()));
            }
        };
        let accepted = client.validate_response(&response, options.negotiator)?;
        let mut ws =
            WebSocketStream::from_parts(stream, Role::Client, config, buf, accepted.extension);
        ws.set_subprotocol(accepted.subprotocol);
        Ok(ws)
    }
}
