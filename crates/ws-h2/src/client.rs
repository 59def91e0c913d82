//! [`H2WebSocketClient`] and [`H2Connection`]: WebSockets opened over an HTTP/2 connection.

use crate::{Error, H2Stream};
use bytes::{Bytes, BytesMut};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::timeout;
use ws_proto::handshake::{ClientOptions, extended_connect_request, parse_ws_url};
use ws_proto::{Config, Role};
use ws_tokio::WebSocketStream;

/// Opens WebSockets over HTTP/2 (RFC 8441): one per connection with
/// [`connect`](Self::connect), or many on one connection with
/// [`connect_multiplexed`](Self::connect_multiplexed).
///
/// The client waits for the server's SETTINGS and sends no extended CONNECT unless the
/// server enabled it (else [`Error::ExtendedConnectDisabled`]). The connection follows the
/// [`Config`]'s `http2_*` settings and `max_handshake_header_bytes`; its preface and each
/// WebSocket's opening are bounded by `handshake_timeout`.
///
/// ```no_run
/// # async fn run() -> Result<(), Box<dyn std::error::Error>> {
/// use ws_h2::H2WebSocketClient;
/// use ws_proto::{Config, Message};
///
/// let tcp = tokio::net::TcpStream::connect("127.0.0.1:8080").await?;
/// let client = H2WebSocketClient::new(Config::default());
/// // Cleartext HTTP/2 with prior knowledge; over TLS pass the TLS stream (ALPN `h2`).
/// let conn = client.connect_multiplexed(tcp).await?;
/// let mut chat = conn.open_websocket("ws://127.0.0.1:8080/chat", &["chat"]).await?;
/// let mut feed = conn.open_websocket("ws://127.0.0.1:8080/feed", &[]).await?;
/// chat.send(Message::text("hello")).await?;
/// let first = feed.recv().await;
/// # drop(first); Ok(()) }
/// ```
#[derive(Clone, Debug)]
pub struct H2WebSocketClient {
    config: Config,
}

impl H2WebSocketClient {
    /// A client whose connections and WebSockets follow `config`.
    pub fn new(config: Config) -> Self {
        H2WebSocketClient { config }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Runs the HTTP/2 connection preface over `io` (cleartext with prior knowledge, or a TLS
    /// stream that negotiated ALPN `h2`), waits for the server's SETTINGS, and returns a
    /// handle that opens WebSockets on the connection. The connection runs in a task of its
    /// own (`tokio::spawn`) until every handle and WebSocket is dropped.
    ///
    /// Cancel safety: not cancel safe; dropping the future drops the connection.
    pub async fn connect_multiplexed<IO>(&self, io: IO) -> Result<H2Connection, Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.config.validate()?;
        let c = &self.config;
        let mut builder = h2::client::Builder::new();
        builder
            .enable_push(false)
            .initial_window_size(c.http2_window_size)
            .initial_connection_window_size(c.http2_connection_window_size)
            .max_concurrent_streams(c.http2_max_streams)
            .max_header_list_size(u32::try_from(c.max_handshake_header_bytes).unwrap_or(u32::MAX))
            .max_send_buffer_size(c.write_buffer_size);
        let (lease, released) = tokio::sync::oneshot::channel::<()>();
        let close_timeout = c.close_timeout;
        let ready = async {
            let (send_request, mut connection) = builder.handshake::<_, Bytes>(io).await?;
            let mut ping = connection.ping_pong();
            tokio::spawn(async move {
                // The connection ends by itself once every handle and stream is gone and its
                // last frames are out; a server that stops reading would keep it forever, so
                // from the moment nothing of ours uses it, it has `close_timeout` to end.
                // Its errors reach every stream and handle; nothing more to report here.
                tokio::pin!(connection);
                tokio::select! {
                    _ = &mut connection => return,
                    _ = released => {}
                }
                let _ = timeout(close_timeout, connection).await;
            });
            // The server's SETTINGS is the first frame it sends (RFC 9113 section 3.4), so once
            // a PING is answered, its settings are known.
            if let Some(ping) = ping.as_mut() {
                ping.ping(h2::Ping::opaque()).await?;
            }
            if !send_request.is_extended_connect_protocol_enabled() {
                return Err(Error::ExtendedConnectDisabled);
            }
            Ok(send_request)
        };
        let send_request = timeout(c.handshake_timeout, ready)
            .await
            .map_err(|_| Error::HandshakeTimeout)??;
        Ok(H2Connection {
            send_request,
            config: self.config.clone(),
            lease: Arc::new(Lease(lease)),
        })
    }

    /// One WebSocket on a connection of its own: [`connect_multiplexed`] then
    /// [`H2Connection::open_websocket`]. The connection ends with the WebSocket.
    ///
    /// Cancel safety: not cancel safe.
    ///
    /// [`connect_multiplexed`]: Self::connect_multiplexed
    pub async fn connect<IO>(
        &self,
        io: IO,
        url: &str,
        subprotocols: &[&str],
    ) -> Result<WebSocketStream<H2Stream>, Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    {
        self.connect_multiplexed(io)
            .await?
            .open_websocket(url, subprotocols)
            .await
    }
}

/// An HTTP/2 connection that carries WebSockets: clone it freely, each clone opens streams
/// on the same connection. The connection ends when every handle and every WebSocket opened
/// on it are dropped, once its last frames are out, or `close_timeout` after that if the
/// server does not take them.
#[derive(Clone, Debug)]
pub struct H2Connection {
    send_request: h2::client::SendRequest<Bytes>,
    config: Config,
    /// Held by every clone and every WebSocket opened here: when the last one goes, the
    /// connection's task starts its `close_timeout`.
    lease: Arc<Lease>,
}

/// Dropping the last reference tells the connection's task that nothing uses it any more.
#[derive(Debug)]
pub(crate) struct Lease(#[allow(dead_code)] tokio::sync::oneshot::Sender<()>);

impl H2Connection {
    /// Opens a WebSocket to `url` (`ws://` or `wss://host[:port]/path`: its authority and path
    /// go into `:authority` and `:path`, the scheme into `:scheme` as `http` / `https`),
    /// offering `subprotocols` (most preferred first) and permessage-deflate when the
    /// configuration enables it. Waits for a free stream when the server's
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` are all in use.
    ///
    /// Fails with [`Error::Refused`] for a non-2xx answer, [`Error::Handshake`] for an answer
    /// that picks a subprotocol or extension not offered.
    ///
    /// Cancel safety: not cancel safe; dropping the future resets the stream if it was opened.
    pub async fn open_websocket(
        &self,
        url: &str,
        subprotocols: &[&str],
    ) -> Result<WebSocketStream<H2Stream>, Error> {
        let options = ClientOptions {
            subprotocols,
            ..ClientOptions::default()
        };
        self.open_websocket_with(url, &options).await
    }

    /// [`open_websocket`](Self::open_websocket) with every client option: subprotocols,
    /// `Origin`, extra headers, an extension negotiator of its own (which replaces the
    /// configuration's permessage-deflate).
    ///
    /// Cancel safety: as [`open_websocket`](Self::open_websocket).
    pub async fn open_websocket_with(
        &self,
        url: &str,
        options: &ClientOptions<'_>,
    ) -> Result<WebSocketStream<H2Stream>, Error> {
        let config = &self.config;
        let url = parse_ws_url(url)?;
        let scheme = if url.tls { "https" } else { "http" };
        let negotiator = ws_tokio::extension_negotiator(config);
        let mut options = *options;
        if options.negotiator.is_none() {
            options.negotiator = negotiator.as_deref();
        }
        let (handshake, mut request) = extended_connect_request(
            http::Version::HTTP_2,
            scheme,
            &url.host_header,
            &url.path_and_query,
            &options,
        )?;
        request
            .extensions_mut()
            .insert(h2::ext::Protocol::from_static("websocket"));
        let open = async {
            let mut send_request = self.send_request.clone().ready().await?;
            let (response, send) = send_request.send_request(request, false)?;
            let (parts, body) = response.await?.into_parts();
            let response = http::Response::from_parts(parts, ());
            let accepted = handshake.validate_response(&response, options.negotiator)?;
            let mut ws = WebSocketStream::from_parts(
                H2Stream::new(send, body).with_lease(Arc::clone(&self.lease)),
                Role::Client,
                config.clone(),
                BytesMut::new(),
                accepted.extension,
            );
            ws.set_subprotocol(accepted.subprotocol);
            Ok(ws)
        };
        timeout(config.handshake_timeout, open)
            .await
            .map_err(|_| Error::HandshakeTimeout)?
    }

    /// Whether the connection can open another stream now (the server's
    /// `SETTINGS_MAX_CONCURRENT_STREAMS` not reached); [`open_websocket`] waits otherwise.
    ///
    /// [`open_websocket`]: Self::open_websocket
    pub fn max_concurrent_streams(&self) -> usize {
        self.send_request.current_max_send_streams()
    }
}
