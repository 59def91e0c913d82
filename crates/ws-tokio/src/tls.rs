//! `wss://`: WebSocket over TLS with [rustls] (its `ring` provider) through [tokio_rustls]
//! (feature `tls`).
//!
//! - [`connect_tls`] / [`connect_tls_with`]: TCP, TLS and the WebSocket handshake to a
//!   `wss://` URL, all within `handshake_timeout`.
//! - [`accept_tls`] / [`accept_tls_with`]: the TLS handshake on an accepted connection, then
//!   the WebSocket handshake of [`accept`](crate::accept) / [`accept_with`](crate::accept_with),
//!   both within `handshake_timeout`.
//!
//! Both crates are re-exported ([`rustls`], [`tokio_rustls`]) so that configurations are built
//! with the versions this crate uses. Nothing is loaded behind your back: the client trusts
//! exactly the roots in its [`rustls::ClientConfig`] (add your CA, or the platform's roots with
//! `rustls-native-certs`, or Mozilla's with `webpki-roots`), and the server presents the
//! certificate in its [`rustls::ServerConfig`].
//!
//! `rustls::ClientConfig::builder()` and `ServerConfig::builder()` use the process-wide
//! default crypto provider, which is ring when ring is the only provider compiled in; if
//! another crate of your program turns on rustls' `aws_lc_rs` feature, build the configs with
//! `builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))` (or install a
//! default provider) instead.
//!
//! A TLS failure (a certificate that fails verification, an alert from the peer, ...) is
//! [`Error::Tls`], carrying the [`rustls::Error`]; its [`fault`](Error::fault) says whether
//! the peer or this side was wrong.
//!
//! A server:
//!
//! ```no_run
//! use std::sync::Arc;
//! use ws_tokio::tls::{self, rustls, tokio_rustls::TlsAcceptor};
//! use ws_tokio::Config;
//! use rustls::pki_types::{CertificateDer, PrivateKeyDer};
//!
//! # async fn run(
//! #     chain: Vec<CertificateDer<'static>>,
//! #     key: PrivateKeyDer<'static>,
//! # ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! // `chain`: the server's certificate then its intermediates; `key`: its private key.
//! let mut server = rustls::ServerConfig::builder()
//!     .with_no_client_auth()
//!     .with_single_cert(chain, key)?;
//! server.alpn_protocols = vec![b"http/1.1".to_vec()];
//! let acceptor = TlsAcceptor::from(Arc::new(server));
//!
//! let listener = tokio::net::TcpListener::bind("0.0.0.0:443").await?;
//! loop {
//!     let (tcp, _) = listener.accept().await?;
//!     let acceptor = acceptor.clone();
//!     tokio::spawn(async move {
//!         let Ok(mut ws) = tls::accept_tls(tcp, &acceptor, Config::default()).await else {
//!             return;
//!         };
//!         while let Some(Ok(message)) = ws.recv().await {
//!             if message.is_text() || message.is_binary() {
//!                 let _ = ws.send(message).await;
//!             }
//!         }
//!     });
//! }
//! # }
//! ```
//!
//! A client:
//!
//! ```no_run
//! use std::sync::Arc;
//! use ws_tokio::tls::{self, rustls};
//! use ws_tokio::Config;
//!
//! # async fn run(
//! #     ca: rustls::pki_types::CertificateDer<'static>,
//! # ) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let mut roots = rustls::RootCertStore::empty();
//! roots.add(ca)?;
//! let client = rustls::ClientConfig::builder()
//!     .with_root_certificates(roots)
//!     .with_no_client_auth();
//! let mut ws = tls::connect_tls("wss://example.com/chat", Config::default(), Arc::new(client))
//!     .await?;
//! ws.send_text("hello").await?;
//! # Ok(()) }
//! ```

use std::sync::Arc;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector, client, server};
use ws_proto::Config;
use ws_proto::handshake::{self, Accept, ClientOptions, HandshakeError, HandshakeRequest, Reject};

use crate::handshake::{client_handshake, server_handshake, with_timeout};
use crate::{Error, WebSocketStream};

pub use rustls;
pub use tokio_rustls;

/// The ALPN protocol id of HTTP/1.1, the only one the WebSocket handshake of this module
/// speaks.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// Connect to `url` (`wss://host[:port]/path`): TCP, then TLS with `tls`, then the WebSocket
/// client handshake, all within `config.handshake_timeout` (a deadline that passes gives
/// [`Error::HandshakeTimeout`]).
///
/// - The certificate is verified against the roots and verifier in `tls`, for the URL's host:
///   a DNS name, or an IP address (`wss://127.0.0.1:9443/`, `wss://[::1]/`) that the
///   certificate must list as an IP address. The host is also sent as SNI (not for an IP
///   address, as TLS wants).
/// - ALPN: when `tls` names no ALPN protocol, `http/1.1` is offered (on a clone of `tls`;
///   set `alpn_protocols` to `[b"http/1.1"]` yourself to avoid the clone per connection). When
///   it names some, they are offered as they are, and a server that chooses another protocol
///   than `http/1.1` fails the connection with [`HandshakeError::InvalidInput`].
/// - `ws://` is refused ([`ConnectionError::InvalidInput`](crate::ConnectionError), a local
///   error): use [`connect`](crate::connect).
///
/// A certificate that fails verification, or any other TLS failure, is [`Error::Tls`].
/// permessage-deflate is offered when `config.compression` is enabled, as by
/// [`client_with`](crate::client_with).
///
/// Cancel safety: not cancel safe; dropping the future mid-handshake drops the connection
/// with it (nothing is lost that was not already lost).
///
/// ```no_run
/// use std::sync::Arc;
/// use ws_tokio::tls::{connect_tls, rustls};
/// use ws_tokio::Config;
///
/// # async fn run(roots: rustls::RootCertStore) -> Result<(), ws_tokio::Error> {
/// let tls = rustls::ClientConfig::builder()
///     .with_root_certificates(roots)
///     .with_no_client_auth();
/// let ws = connect_tls("wss://127.0.0.1:9443/", Config::default(), Arc::new(tls)).await?;
/// # drop(ws); Ok(()) }
/// ```
pub async fn connect_tls(
    url: &str,
    config: Config,
    tls: Arc<rustls::ClientConfig>,
) -> Result<WebSocketStream<client::TlsStream<TcpStream>>, Error> {
    connect_tls_with(url, config, tls, &ClientOptions::default()).await
}

/// [`connect_tls`] with options: subprotocols to offer, extra headers, an `Origin` (see
/// [`client_with`](crate::client_with)).
///
/// Cancel safety: as [`connect_tls`].
pub async fn connect_tls_with(
    url: &str,
    config: Config,
    tls: Arc<rustls::ClientConfig>,
    options: &ClientOptions<'_>,
) -> Result<WebSocketStream<client::TlsStream<TcpStream>>, Error> {
    config.validate()?;
    let parsed = handshake::parse_ws_url(url)?;
    if !parsed.tls {
        return Err(ws_proto::Error::InvalidInput(
            "connect_tls needs a wss:// URL: use ws_tokio::connect for ws://",
        )
        .into());
    }
    let server_name = rustls::pki_types::ServerName::try_from(parsed.host.clone())
        .map_err(|_| HandshakeError::BadUrl("the host is not a valid DNS name or IP address"))?;
    let connector = TlsConnector::from(offer_http11(tls));
    let cfg = config.clone();
    with_timeout(&cfg, async {
        let tcp = TcpStream::connect((parsed.host.as_str(), parsed.port)).await?;
        tcp.set_nodelay(true)?;
        let stream = connector.connect(server_name, tcp).await?;
        match stream.get_ref().1.alpn_protocol() {
            None => {}
            Some(protocol) if protocol == ALPN_HTTP11 => {}
            Some(_) => {
                return Err(HandshakeError::InvalidInput(
                    "the server chose an ALPN protocol other than http/1.1",
                )
                .into());
            }
        }
        client_handshake(stream, &parsed, config, options).await
    })
    .await
}

/// `tls`, offering `http/1.1` by ALPN when it offers nothing.
fn offer_http11(tls: Arc<rustls::ClientConfig>) -> Arc<rustls::ClientConfig> {
    if !tls.alpn_protocols.is_empty() {
        return tls;
    }
    let mut tls = Arc::unwrap_or_clone(tls);
    tls.alpn_protocols = vec![ALPN_HTTP11.to_vec()];
    Arc::new(tls)
}

/// Accept a `wss://` connection on `stream` (a freshly accepted TCP connection, usually): the
/// TLS handshake with `acceptor`, then the WebSocket handshake of [`accept`](crate::accept),
/// both within `config.handshake_timeout`. A client that connects and sends nothing, or stalls
/// in either handshake, gets [`Error::HandshakeTimeout`] and its connection is dropped.
///
/// Give the acceptor's [`rustls::ServerConfig`] `alpn_protocols = [b"http/1.1"]` (or a list
/// with it): a client that offers ALPN then gets `http/1.1`, and one that offers only other
/// protocols (`h2`) is refused in the TLS handshake instead of failing later. With no ALPN
/// configured, the server ignores the client's offer.
///
/// A TLS failure is [`Error::Tls`] (for instance `AlertReceived` when the client refused our
/// certificate, with [`Fault::Peer`](crate::Fault::Peer)).
///
/// Cancel safety: not cancel safe; dropping the future mid-handshake drops the connection
/// with it.
pub async fn accept_tls<S>(
    stream: S,
    acceptor: &TlsAcceptor,
    config: Config,
) -> Result<WebSocketStream<server::TlsStream<S>>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    accept_tls_with(stream, acceptor, config, |_| Ok(Accept::default())).await
}

/// [`accept_tls`] with a callback that sees the request and accepts it (choosing a
/// subprotocol and extra headers) or refuses it with a status, as in
/// [`accept_with`](crate::accept_with). The callback runs after the TLS handshake; the TLS
/// session (SNI, ALPN, client certificate) is not visible to it, but is on the returned
/// stream: `ws.get_ref().get_ref().1` is the [`rustls::ServerConnection`].
///
/// ```no_run
/// use ws_tokio::tls::{accept_tls_with, tokio_rustls::TlsAcceptor};
/// use ws_tokio::{Accept, Config, Reject};
///
/// # async fn run(tcp: tokio::net::TcpStream, acceptor: TlsAcceptor) -> Result<(), ws_tokio::Error> {
/// let ws = accept_tls_with(tcp, &acceptor, Config::default(), |req| {
///     if req.path != "/chat" {
///         return Err(Reject::new(404, "no such endpoint"));
///     }
///     Ok(Accept::default())
/// })
/// .await?;
/// let sni = ws.get_ref().get_ref().1.server_name();
/// # let _ = sni; Ok(()) }
/// ```
///
/// Cancel safety: as [`accept_tls`].
pub async fn accept_tls_with<S, F>(
    stream: S,
    acceptor: &TlsAcceptor,
    config: Config,
    callback: F,
) -> Result<WebSocketStream<server::TlsStream<S>>, Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
    F: FnOnce(&HandshakeRequest) -> Result<Accept, Reject>,
{
    config.validate()?;
    let cfg = config.clone();
    with_timeout(&cfg, async {
        let stream = acceptor.accept(stream).await?;
        server_handshake(stream, config, callback).await
    })
    .await
}
