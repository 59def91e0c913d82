//! TLS (feature `tls`): `wss://` over HTTP/2, with rustls (ring) through tokio-rustls, and one
//! TLS listener for HTTP/1.1 and HTTP/2 chosen by ALPN.

use crate::{AnyStream, Error, H2Stream, H2WebSocketClient, H2WebSocketServer};
use std::future::Future;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use ws_proto::handshake::{Accept, HandshakeRequest, Reject, parse_ws_url};
use ws_tokio::WebSocketStream;
use ws_tokio::tls::rustls::{self, pki_types::ServerName};
use ws_tokio::tls::tokio_rustls::{TlsAcceptor, TlsConnector, server};

/// The ALPN id of HTTP/2.
pub const ALPN_H2: &[u8] = b"h2";
/// The ALPN id of HTTP/1.1.
pub const ALPN_HTTP11: &[u8] = b"http/1.1";

/// A TLS failure as this crate's error: rustls' own error when the I/O error carries one.
fn tls_error(e: std::io::Error) -> Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(tls) => Error::Tls(tls.clone()),
        None => Error::Io(e),
    }
}

impl H2WebSocketServer {
    /// Accepts TLS on `io` with `acceptor` and serves the connection by the protocol ALPN
    /// chose ([`serve_alpn`](Self::serve_alpn)): HTTP/2 for `h2`, one HTTP/1.1 upgrade for
    /// `http/1.1` or no ALPN. Offer both in the acceptor's `ServerConfig`
    /// (`alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()]`) so that browsers open
    /// their WebSockets over HTTP/2 (RFC 8441) and other clients over HTTP/1.1. The TLS
    /// handshake is bounded by `handshake_timeout`.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use ws_h2::H2WebSocketServer;
    /// use ws_proto::Config;
    /// use ws_tokio::tls::{rustls, tokio_rustls::TlsAcceptor};
    ///
    /// # async fn run(tls_config: rustls::ServerConfig) -> std::io::Result<()> {
    /// let mut tls_config = tls_config; // your certificate and key
    /// tls_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    /// let acceptor = TlsAcceptor::from(Arc::new(tls_config));
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:8443").await?;
    /// loop {
    ///     let (tcp, _) = listener.accept().await?;
    ///     let acceptor = acceptor.clone();
    ///     tokio::spawn(async move {
    ///         let server = H2WebSocketServer::new(Config::default());
    ///         let _ = server
    ///             .serve_tls(tcp, &acceptor, |_| Ok(Default::default()), |mut ws, req| async move {
    ///                 while let Some(Ok(msg)) = ws.recv().await {
    ///                     if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
    ///                         break;
    ///                     }
    ///                 }
    ///                 drop(req);
    ///             })
    ///             .await;
    ///     });
    /// }
    /// # }
    /// ```
    ///
    /// Cancel safety: as [`serve_auto`](Self::serve_auto).
    pub async fn serve_tls<IO, C, H, Fut>(
        &self,
        io: IO,
        acceptor: &TlsAcceptor,
        callback: C,
        handler: H,
    ) -> Result<(), Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
        C: FnMut(&HandshakeRequest) -> Result<Accept, Reject>,
        H: FnMut(WebSocketStream<AnyStream<server::TlsStream<IO>>>, HandshakeRequest) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.config().validate()?;
        let tls = tokio::time::timeout(self.config().handshake_timeout, acceptor.accept(io))
            .await
            .map_err(|_| Error::HandshakeTimeout)?
            .map_err(tls_error)?;
        let alpn = tls.get_ref().1.alpn_protocol().map(<[u8]>::to_vec);
        self.serve_alpn(tls, alpn.as_deref(), callback, handler)
            .await
    }
}

impl H2WebSocketClient {
    /// Connects to a `wss://` URL over TLS with HTTP/2 and opens one WebSocket on it: TCP to
    /// the URL's host and port, TLS verified against the roots in `tls` (ALPN `h2` is offered
    /// when `tls` names no protocol), then [`connect`](Self::connect). Fails with
    /// [`Error::Handshake`] when the server does not choose `h2`. TCP, TLS and the preface are
    /// bounded by `handshake_timeout`, and so is the WebSocket's opening.
    ///
    /// For many WebSockets on the connection, make the TLS stream the same way and call
    /// [`connect_multiplexed`](Self::connect_multiplexed).
    ///
    /// Cancel safety: not cancel safe.
    pub async fn connect_tls(
        &self,
        url: &str,
        tls: Arc<rustls::ClientConfig>,
        subprotocols: &[&str],
    ) -> Result<WebSocketStream<H2Stream>, Error> {
        let parsed = parse_ws_url(url)?;
        if !parsed.tls {
            return Err(ws_proto::handshake::HandshakeError::InvalidInput(
                "connect_tls needs a wss:// URL",
            )
            .into());
        }
        let name = ServerName::try_from(parsed.host.clone()).map_err(|_| {
            ws_proto::handshake::HandshakeError::BadUrl("the host is not a DNS name or IP address")
        })?;
        let tls = if tls.alpn_protocols.is_empty() {
            let mut tls = Arc::unwrap_or_clone(tls);
            tls.alpn_protocols = vec![ALPN_H2.to_vec()];
            Arc::new(tls)
        } else {
            tls
        };
        let host = parsed.host.trim_start_matches('[').trim_end_matches(']');
        let connecting = async {
            let tcp = TcpStream::connect((host, parsed.port)).await?;
            tcp.set_nodelay(true)?;
            TlsConnector::from(tls)
                .connect(name, tcp)
                .await
                .map_err(tls_error)
        };
        let stream = tokio::time::timeout(self.config().handshake_timeout, connecting)
            .await
            .map_err(|_| Error::HandshakeTimeout)??;
        if stream.get_ref().1.alpn_protocol() != Some(ALPN_H2) {
            return Err(ws_proto::handshake::HandshakeError::InvalidInput(
                "the server did not choose HTTP/2 (ALPN h2)",
            )
            .into());
        }
        self.connect(stream, url, subprotocols).await
    }
}
