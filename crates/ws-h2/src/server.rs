//! [`H2WebSocketServer`]: serves WebSockets over one HTTP/2 connection.

use crate::{Error, H2Stream};
use bytes::{Bytes, BytesMut};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::{Instant, sleep_until, timeout};
use ws_proto::handshake::{
    Accept, HandshakeError, HandshakeRequest, Refusal, Reject, negotiate_extended_connect,
};
use ws_proto::{Config, Role};
use ws_tokio::WebSocketStream;

/// Serves WebSockets over HTTP/2 connections (RFC 8441): each extended CONNECT with
/// `:protocol = websocket` becomes a [`WebSocketStream`] over an [`H2Stream`], many on one
/// connection.
///
/// The server announces `SETTINGS_ENABLE_CONNECT_PROTOCOL`, answers a valid request `200`
/// with the negotiated `sec-websocket-protocol` and `sec-websocket-extensions`
/// (permessage-deflate when [`Config::compression`] is enabled), and any other request (a
/// `GET`, a `CONNECT` without `:protocol: websocket`, a wrong `sec-websocket-version`) with
/// the proper status and a one-line reason, never a WebSocket.
///
/// From the [`Config`]: `http2_window_size`, `http2_connection_window_size`,
/// `http2_max_streams` (`SETTINGS_MAX_CONCURRENT_STREAMS`), `max_handshake_header_bytes`
/// (`SETTINGS_MAX_HEADER_LIST_SIZE`), `max_handshake_headers`, `write_buffer_size` (the most
/// each stream queues in HTTP/2 beyond the WebSocket's own buffer), `handshake_timeout` (the
/// connection preface, and the wait for the first WebSocket), `idle_timeout` (a connection
/// on which no WebSocket handler has run for this long is closed with GOAWAY, within twice
/// that; so is one whose peer stopped reading, once its WebSockets have failed their
/// `send_timeout`) and `close_timeout` (the wait for that GOAWAY to go out).
///
/// ```no_run
/// use ws_h2::H2WebSocketServer;
/// use ws_proto::{Config, Message};
///
/// # async fn run() -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// loop {
///     let (tcp, _) = listener.accept().await?;
///     tokio::spawn(async move {
///         let server = H2WebSocketServer::new(Config::default());
///         let _ = server
///             .serve(tcp, |mut ws, req| async move {
///                 println!("WebSocket on {}", req.path);
///                 while let Some(Ok(msg)) = ws.recv().await {
///                     if let Message::Text(_) | Message::Binary(_) = msg {
///                         if ws.send(msg).await.is_err() {
///                             break;
///                         }
///                     }
///                 }
///             })
///             .await;
///     });
/// }
/// # }
/// ```
#[derive(Clone)]
pub struct H2WebSocketServer {
    config: Config,
    fallback: Option<Arc<Fallback>>,
}

/// Answers the HTTP/2 requests that are not extended CONNECTs (see
/// [`H2WebSocketServer::with_fallback`]).
type Fallback = dyn Fn(&http::request::Parts) -> Option<http::Response<Bytes>> + Send + Sync;

impl std::fmt::Debug for H2WebSocketServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2WebSocketServer")
            .field("config", &self.config)
            .field("fallback", &self.fallback.is_some())
            .finish()
    }
}

impl H2WebSocketServer {
    /// A server whose WebSockets and HTTP/2 connections follow `config`.
    pub fn new(config: Config) -> Self {
        H2WebSocketServer {
            config,
            fallback: None,
        }
    }

    /// Answers requests that are not `CONNECT`s (a page, a health check) with `fallback`'s
    /// response, sent whole with its body; when it returns `None`, or without a fallback,
    /// such a request gets the WebSocket refusal (400). Over HTTP/2 only: an HTTP/1.1
    /// connection of [`serve_auto`](Self::serve_auto) carries one WebSocket upgrade.
    ///
    /// ```
    /// use ws_h2::H2WebSocketServer;
    /// use ws_proto::Config;
    ///
    /// let server = H2WebSocketServer::new(Config::default()).with_fallback(|req| {
    ///     (req.uri.path() == "/health").then(|| http::Response::new("ok\n".into()))
    /// });
    /// # drop(server);
    /// ```
    pub fn with_fallback<F>(mut self, fallback: F) -> Self
    where
        F: Fn(&http::request::Parts) -> Option<http::Response<Bytes>> + Send + Sync + 'static,
    {
        self.fallback = Some(Arc::new(fallback));
        self
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    fn builder(&self) -> h2::server::Builder {
        let c = &self.config;
        let mut builder = h2::server::Builder::new();
        builder
            .enable_connect_protocol()
            .initial_window_size(c.http2_window_size)
            .initial_connection_window_size(c.http2_connection_window_size)
            .max_concurrent_streams(c.http2_max_streams)
            .max_header_list_size(u32::try_from(c.max_handshake_header_bytes).unwrap_or(u32::MAX))
            .max_send_buffer_size(c.write_buffer_size);
        builder
    }

    /// Serves one HTTP/2 connection (cleartext with prior knowledge, or TLS after ALPN `h2`):
    /// every WebSocket it opens is handed to `handler` with its request (the same
    /// [`HandshakeRequest`] as over HTTP/1.1: `req.path`, `req.headers`, ...), each in a
    /// task of its own (`tokio::spawn`). Returns when the connection ends: `Ok` when the peer
    /// closed it or it was idle (see the type's documentation), an [`Error`] when it failed.
    ///
    /// Cancel safety: dropping the future closes the connection, and with it every WebSocket
    /// it carries (their next read or write fails).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (the handlers are spawned with `tokio::spawn`).
    pub async fn serve<IO, H, Fut>(&self, io: IO, handler: H) -> Result<(), Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
        H: FnMut(WebSocketStream<H2Stream>, HandshakeRequest) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.serve_with(io, |_| Ok(Accept::default()), handler)
            .await
    }

    /// [`serve`](Self::serve), with `callback` deciding on each valid request before it is
    /// answered, as `accept_with` does over HTTP/1.1: [`Accept`] (a subprotocol, extra
    /// headers) or [`Reject`] (sent as that status; the stream ends there, the connection
    /// goes on). Check `Origin` here.
    ///
    /// Cancel safety: as [`serve`](Self::serve).
    pub async fn serve_with<IO, C, H, Fut>(
        &self,
        io: IO,
        callback: C,
        handler: H,
    ) -> Result<(), Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
        C: FnMut(&HandshakeRequest) -> Result<Accept, Reject>,
        H: FnMut(WebSocketStream<H2Stream>, HandshakeRequest) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.config.validate()?;
        self.serve_h2(io, |stream| stream, callback, handler).await
    }

    /// Serves an HTTP/2 connection whose WebSockets run over `wrap(stream)`.
    pub(crate) async fn serve_h2<IO, T, W, C, H, Fut>(
        &self,
        io: IO,
        wrap: W,
        mut callback: C,
        mut handler: H,
    ) -> Result<(), Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
        T: AsyncRead + AsyncWrite + Unpin,
        W: Fn(H2Stream) -> T,
        C: FnMut(&HandshakeRequest) -> Result<Accept, Reject>,
        H: FnMut(WebSocketStream<T>, HandshakeRequest) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let config = &self.config;
        let mut conn = timeout(config.handshake_timeout, self.builder().handshake(io))
            .await
            .map_err(|_| Error::HandshakeTimeout)??;
        // Until the first WebSocket, the connection has `handshake_timeout`; then it lives
        // while a handler runs, and is closed once none has run for `idle_timeout` (sampled
        // every `idle_timeout`, so within twice that). Handlers, not h2's open streams: a
        // peer that stops reading the connection keeps streams open (their last frames
        // unsent) after every WebSocket on them failed its `send_timeout`.
        let idle = config.idle_timeout;
        let recheck = if idle.is_zero() {
            config.handshake_timeout
        } else {
            idle
        };
        let live = LiveHandlers::default();
        let mut deadline = Instant::now() + config.handshake_timeout;
        let mut opened_any = false;
        let mut closing = false;
        loop {
            tokio::select! {
                request = conn.accept() => match request {
                    None => return Ok(()),
                    Some(Err(e)) => return Err(e.into()),
                    Some(Ok((request, respond))) => {
                        let opened = self.respond(
                            request,
                            respond,
                            &wrap,
                            &mut callback,
                            &mut handler,
                            &live,
                        );
                        if opened && !opened_any && !closing {
                            // From the first WebSocket on, the check runs every idle period.
                            opened_any = true;
                            deadline = Instant::now() + recheck;
                        }
                    }
                },
                () = sleep_until(deadline) => {
                    if closing {
                        // The GOAWAY did not get out within close_timeout: drop the connection.
                        return Ok(());
                    }
                    let keep = live.running() || (opened_any && idle.is_zero());
                    if keep {
                        deadline = Instant::now() + recheck;
                    } else {
                        conn.graceful_shutdown();
                        closing = true;
                        deadline = Instant::now() + config.close_timeout;
                    }
                }
            }
        }
    }

    /// Answers one request: a WebSocket for a valid extended CONNECT the callback accepts,
    /// else the refusal's status and reason. Whether a WebSocket was opened.
    fn respond<T, W, C, H, Fut>(
        &self,
        request: http::Request<h2::RecvStream>,
        mut respond: h2::server::SendResponse<Bytes>,
        wrap: &W,
        callback: &mut C,
        handler: &mut H,
        live: &LiveHandlers,
    ) -> bool
    where
        T: AsyncRead + AsyncWrite + Unpin,
        W: Fn(H2Stream) -> T,
        C: FnMut(&HandshakeRequest) -> Result<Accept, Reject>,
        H: FnMut(WebSocketStream<T>, HandshakeRequest) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let config = &self.config;
        let (parts, body) = request.into_parts();
        if parts.method != http::Method::CONNECT
            && let Some(response) = self.fallback.as_ref().and_then(|f| f(&parts))
        {
            let (head, content) = response.into_parts();
            let end = content.is_empty();
            if let Ok(mut send) = respond.send_response(http::Response::from_parts(head, ()), end)
                && !end
            {
                let _ = send.send_data(content, true);
            }
            return false;
        }
        let protocol = parts
            .extensions
            .get::<h2::ext::Protocol>()
            .map(|p| p.as_str().to_owned());
        let mut req = HandshakeRequest::from(parts);
        if let Some(protocol) = protocol {
            req = req.with_protocol(protocol);
        }
        let outcome = if req.headers.len() > config.max_handshake_headers {
            Err(Refusal::Invalid(HandshakeError::TooManyHeaders))
        } else {
            let negotiator = ws_tokio::extension_negotiator(config);
            negotiate_extended_connect(&req, negotiator.as_deref(), &mut *callback)
        };
        match outcome {
            Ok((response, negotiated)) => {
                // An error here means the peer already reset the stream: nothing to serve.
                let Ok(send) = respond.send_response(response, false) else {
                    return false;
                };
                let mut ws = WebSocketStream::from_parts(
                    wrap(H2Stream::new(send, body)),
                    Role::Server,
                    config.clone(),
                    BytesMut::new(),
                    negotiated.extension,
                );
                ws.set_subprotocol(negotiated.subprotocol);
                let running = live.start();
                let handling = handler(ws, req);
                tokio::spawn(async move {
                    handling.await;
                    drop(running);
                });
                true
            }
            Err(refusal) => {
                let (parts, reason) = refusal.to_response().into_parts();
                let response = http::Response::from_parts(parts, ());
                if let Ok(mut send) = respond.send_response(response, false) {
                    let _ = send.send_data(Bytes::from(reason), true);
                }
                false
            }
        }
    }
}

/// How many WebSocket handlers of a connection are running.
#[derive(Default)]
struct LiveHandlers(Arc<AtomicUsize>);

/// One running handler; dropped when it ends (or its task is cancelled or panics).
struct Running(Arc<AtomicUsize>);

impl LiveHandlers {
    fn start(&self) -> Running {
        self.0.fetch_add(1, Ordering::Relaxed);
        Running(Arc::clone(&self.0))
    }

    fn running(&self) -> bool {
        self.0.load(Ordering::Relaxed) > 0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}
