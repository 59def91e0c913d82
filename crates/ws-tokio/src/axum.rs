//! Axum integration: [`WebSocketUpgrade`], an extractor that upgrades an HTTP/1.1 request to a
//! [`WebSocketStream`] (feature `axum`).
//!
//! The request is checked by `ws-proto`'s handshake code, the same rules as [`accept`](crate::accept)
//! (RFC 6455 section 4.2.1): method `GET`, HTTP/1.1, a `Host`, `Upgrade: websocket`,
//! `Connection: upgrade`, a valid `Sec-WebSocket-Key` and `Sec-WebSocket-Version: 13`. A request
//! that breaks them is refused by the extractor with a [`WebSocketUpgradeRejection`]: 400, or 426
//! with `Sec-WebSocket-Version: 13` for another version.
//!
//! ```no_run
//! use axum::{Router, response::Response, routing::get};
//! use ws_tokio::axum::{WebSocket, WebSocketUpgrade};
//!
//! async fn ws_handler(upgrade: WebSocketUpgrade) -> Response {
//!     upgrade
//!         .protocols(["chat.v2", "chat"])
//!         .on_upgrade(|ws: WebSocket| echo(ws))
//! }
//!
//! async fn echo(mut ws: WebSocket) {
//!     while let Some(Ok(message)) = ws.recv().await {
//!         if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
//!             break;
//!         }
//!     }
//! }
//!
//! # async fn run() -> std::io::Result<()> {
//! let app = Router::new().route("/ws", get(ws_handler));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! # Cancel safety
//!
//! Extraction awaits nothing, and [`WebSocketUpgrade::on_upgrade`] is synchronous: it returns the
//! `101 Switching Protocols` response at once and spawns a task that waits for hyper to hand over
//! the connection. That happens only after hyper has written the response, so:
//!
//! - Return the response unchanged (middleware may add headers, but must keep the status): if it
//!   is dropped, replaced or never sent, the upgrade fails and the callback is never called.
//! - The callback runs in its own task: neither dropping the handler's future nor the end of the
//!   HTTP request cancels it. It owns the stream; it ends when the callback's future completes.
//! - Inside the callback the stream's methods keep their own guarantees, e.g.
//!   [`WebSocketStream::recv`] is cancel safe and fits in `tokio::select!`.
//!
//! The handshake timeout of [`Config`] does not apply here: hyper reads the request.

use std::fmt;

use ::axum::body::Body;
use ::axum::extract::FromRequestParts;
use ::axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http::header::{self, HeaderName, HeaderValue};
use http::request::Parts;
use http::{StatusCode, Version};
use hyper::upgrade::OnUpgrade;
use ws_proto::extension::ExtensionNegotiator;
use ws_proto::handshake::{
    self, AcceptOptions, HandshakeError, HandshakeLimits, Request, RequestParser, ResponseParser,
};
use ws_proto::{Config, Role};

use crate::WebSocketStream;

pub use hyper::upgrade::Upgraded;
pub use hyper_util::rt::TokioIo;

/// The stream [`WebSocketUpgrade::on_upgrade`] hands to its callback: a [`WebSocketStream`] over
/// the connection hyper upgraded.
pub type WebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// The request headers ws-proto's validation and negotiation read. Only these are handed to it:
/// the others (cookies, ...) are none of its business and may hold bytes its parser refuses.
const UPGRADE_HEADERS: [HeaderName; 7] = [
    header::HOST,
    header::UPGRADE,
    header::CONNECTION,
    header::SEC_WEBSOCKET_KEY,
    header::SEC_WEBSOCKET_VERSION,
    header::SEC_WEBSOCKET_PROTOCOL,
    header::SEC_WEBSOCKET_EXTENSIONS,
];

/// Extractor that upgrades an HTTP/1.1 request to a WebSocket.
///
/// Extraction validates the request (see the [module docs](self)) and takes hyper's upgrade
/// handle from the request's extensions; configure with [`config`](Self::config) and
/// [`protocols`](Self::protocols), then finish with [`on_upgrade`](Self::on_upgrade), whose
/// response the handler must return.
///
/// Only HTTP/1.1 upgrades are handled; a WebSocket over HTTP/2 (RFC 8441, `CONNECT`) is refused
/// with 400.
#[must_use = "to set up the WebSocket connection, call `on_upgrade` and return its response"]
pub struct WebSocketUpgrade {
    /// ws-proto's view of the upgrade headers, already validated.
    request: Request,
    on_upgrade: OnUpgrade,
    config: Config,
    /// The subprotocol [`protocols`](Self::protocols) selected.
    protocol: Option<String>,
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("request", &self.request)
            .field("config", &self.config)
            .field("protocol", &self.protocol)
            .finish_non_exhaustive()
    }
}

impl WebSocketUpgrade {
    /// Use `config` for the connection (limits, timers, buffer sizes). Default:
    /// [`Config::default`].
    ///
    /// When `config.compression` is enabled, permessage-deflate is negotiated in that mode
    /// (feature `deflate`, on by default), as by [`accept`](crate::accept).
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// The subprotocols this server speaks. The one selected is the first of the client's
    /// `Sec-WebSocket-Protocol` offers, in the client's order, that is in `protocols` (names
    /// compare exactly); if none is, no subprotocol is selected and the response names none.
    /// [`selected_protocol`](Self::selected_protocol) tells which. A later call replaces the
    /// selection.
    ///
    /// ```
    /// # use ws_tokio::axum::WebSocketUpgrade;
    /// # fn f(upgrade: WebSocketUpgrade) {
    /// // The client sent `Sec-WebSocket-Protocol: b, a`:
    /// let upgrade = upgrade.protocols(["a", "b"]);
    /// assert_eq!(upgrade.selected_protocol(), Some("b"));
    /// # }
    /// ```
    pub fn protocols<I>(mut self, protocols: I) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
    {
        let protocols: Vec<I::Item> = protocols.into_iter().collect();
        let supported: Vec<&str> = protocols.iter().map(AsRef::as_ref).collect();
        self.protocol = handshake::select_subprotocol(&self.request.subprotocols(), &supported)
            .map(str::to_owned);
        self
    }

    /// The subprotocol selected by [`protocols`](Self::protocols), if any.
    pub fn selected_protocol(&self) -> Option<&str> {
        self.protocol.as_deref()
    }

    /// The subprotocols the client offered, in its order.
    pub fn offered_protocols(&self) -> Vec<&str> {
        self.request.subprotocols()
    }

    /// Finish the handshake: returns the `101 Switching Protocols` response (with
    /// `Sec-WebSocket-Accept`, the selected subprotocol, and a `Sec-WebSocket-Extensions` answer
    /// only for an extension the client offered and the server accepted) and, once hyper has
    /// sent it and handed over the connection, calls `callback` with the stream in a new task.
    ///
    /// If extension negotiation refuses the client's offers the response is that refusal (400)
    /// and `callback` is never called; so too when the upgrade fails (the client went away, or
    /// the response was not returned). See the [module docs](self#cancel-safety).
    ///
    /// # Panics
    ///
    /// Outside a tokio runtime (the callback's task is spawned with `tokio::spawn`).
    #[must_use = "to set up the WebSocket connection, this response must be returned"]
    pub fn on_upgrade<F, Fut>(self, callback: F) -> Response
    where
        F: FnOnce(WebSocket) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let negotiator = extension_negotiator(&self.config);
        let subprotocols: Vec<&str> = self.protocol.as_deref().into_iter().collect();
        let options = AcceptOptions {
            subprotocols: &subprotocols,
            negotiator: negotiator.as_deref(),
            extra_headers: &[],
        };
        let accepted = match handshake::accept(&self.request, &options) {
            Ok(accepted) => accepted,
            Err(rejection) => {
                return WebSocketUpgradeRejection::Handshake(rejection.error).into_response();
            }
        };
        let response = match switching_protocols(&accepted.response) {
            Ok(response) => response,
            Err(e) => return WebSocketUpgradeRejection::Handshake(e).into_response(),
        };

        let on_upgrade = self.on_upgrade;
        let config = self.config;
        let extension = accepted.extension;
        let subprotocol = accepted.subprotocol;
        tokio::spawn(async move {
            // An error means the connection was never upgraded: nothing to hand over.
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            // hyper's `Upgraded` replays whatever it read past the request head, so nothing
            // is read ahead here.
            let mut ws = WebSocketStream::from_parts(
                TokioIo::new(upgraded),
                Role::Server,
                config,
                BytesMut::new(),
                extension,
            );
            ws.set_subprotocol(subprotocol);
            callback(ws).await;
        });
        response
    }
}

impl<S> FromRequestParts<S> for WebSocketUpgrade
where
    S: Send + Sync,
{
    type Rejection = WebSocketUpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request = upgrade_request(parts).map_err(WebSocketUpgradeRejection::Handshake)?;
        handshake::validate_request(&request).map_err(WebSocketUpgradeRejection::Handshake)?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(WebSocketUpgradeRejection::ConnectionNotUpgradable)?;
        Ok(WebSocketUpgrade {
            request,
            on_upgrade,
            config: Config::default(),
            protocol: None,
        })
    }
}

/// The extension negotiator for `config`: permessage-deflate from `config.compression`, the
/// same as [`accept`](crate::accept) uses.
fn extension_negotiator(config: &Config) -> Option<Box<dyn ExtensionNegotiator>> {
    crate::handshake::extension_negotiator(config)
}

/// Builds ws-proto's [`Request`] from the method, version and WebSocket headers of `parts`, so
/// that the checks and the negotiation are exactly those of [`accept`](crate::accept).
///
/// The head is written out and read back by ws-proto's parser (a few hundred bytes, once per
/// handshake). Values keep their order within each header name. The target is written as `/`:
/// nothing here depends on it.
fn upgrade_request(parts: &Parts) -> Result<Request, HandshakeError> {
    let version: &[u8] = match parts.version {
        Version::HTTP_09 => b"HTTP/0.9",
        Version::HTTP_10 => b"HTTP/1.0",
        Version::HTTP_11 => b"HTTP/1.1",
        Version::HTTP_2 => b"HTTP/2.0",
        _ => b"HTTP/3.0",
    };
    let mut head = BytesMut::with_capacity(256);
    head.extend_from_slice(parts.method.as_str().as_bytes());
    head.extend_from_slice(b" / ");
    head.extend_from_slice(version);
    head.extend_from_slice(b"\r\n");
    for name in &UPGRADE_HEADERS {
        for value in parts.headers.get_all(name) {
            let value = value.as_bytes();
            // `HeaderValue` admits no CR or LF unless built unchecked; such a value must not
            // end its line early here.
            if value.iter().any(|&b| b == b'\r' || b == b'\n') {
                return Err(HandshakeError::Malformed(
                    "control character in a header value",
                ));
            }
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value);
            head.extend_from_slice(b"\r\n");
        }
    }
    head.extend_from_slice(b"\r\n");
    RequestParser::new(HandshakeLimits::default())
        .parse(&mut head)?
        .ok_or(HandshakeError::Malformed("incomplete head"))
}

/// The `101 Switching Protocols` head that ws-proto built, as an axum [`Response`].
fn switching_protocols(head: &[u8]) -> Result<Response, HandshakeError> {
    const INVALID: HandshakeError =
        HandshakeError::InvalidInput("ws-proto built an unusable 101 response");
    let parsed = ResponseParser::default()
        .parse(&mut BytesMut::from(head))?
        .ok_or(INVALID)?;
    let mut response = Response::new(Body::empty());
    *response.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let headers = response.headers_mut();
    headers.reserve(parsed.header_count());
    for (name, value) in parsed.headers() {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| INVALID)?;
        let value = HeaderValue::from_bytes(value.as_bytes()).map_err(|_| INVALID)?;
        headers.append(name, value);
    }
    Ok(response)
}

/// Why [`WebSocketUpgrade`] refused a request. As a response (via [`IntoResponse`]) it carries
/// [`status`](Self::status) and a one-line plain-text reason.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebSocketUpgradeRejection {
    /// The request is not a valid WebSocket upgrade, or its extension offers were refused. The
    /// status is [`HandshakeError::http_status`]: 400, 426 (another `Sec-WebSocket-Version`,
    /// answered with `Sec-WebSocket-Version: 13`) or 431 (too many or too large WebSocket
    /// headers).
    Handshake(HandshakeError),
    /// The request is a valid upgrade, but the connection cannot be upgraded: hyper left no
    /// upgrade handle in the request's extensions (the request did not come through
    /// `axum::serve` or another hyper server with upgrades enabled, or another extractor
    /// already took the handle). This server's fault: 500.
    ConnectionNotUpgradable,
}

impl WebSocketUpgradeRejection {
    /// The HTTP status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            WebSocketUpgradeRejection::Handshake(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            WebSocketUpgradeRejection::ConnectionNotUpgradable => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// True when the client caused it (a 4xx status).
    pub fn is_client_fault(&self) -> bool {
        match self {
            WebSocketUpgradeRejection::Handshake(e) => e.is_peer_fault(),
            WebSocketUpgradeRejection::ConnectionNotUpgradable => false,
        }
    }
}

impl fmt::Display for WebSocketUpgradeRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            WebSocketUpgradeRejection::Handshake(e) => e.fmt(f),
            WebSocketUpgradeRejection::ConnectionNotUpgradable => {
                f.write_str("the connection cannot be upgraded (no hyper upgrade handle)")
            }
        }
    }
}

impl std::error::Error for WebSocketUpgradeRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WebSocketUpgradeRejection::Handshake(e) => Some(e),
            WebSocketUpgradeRejection::ConnectionNotUpgradable => None,
        }
    }
}

impl IntoResponse for WebSocketUpgradeRejection {
    fn into_response(self) -> Response {
        let status = self.status();
        // Local failures are not explained to the client.
        let body = if self.is_client_fault() {
            format!("{self}\n")
        } else {
            "internal server error\n".to_owned()
        };
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        );
        if status == StatusCode::UPGRADE_REQUIRED {
            // RFC 6455 section 4.4: name the version we speak. RFC 9110 section 15.5.22: a 426
            // names the protocol to upgrade to, and `Upgrade` is listed in `Connection`.
            headers.insert(header::UPGRADE, HeaderValue::from_static("websocket"));
            headers.insert(header::CONNECTION, HeaderValue::from_static("upgrade"));
            headers.insert(
                header::SEC_WEBSOCKET_VERSION,
                HeaderValue::from_static("13"),
            );
        }
        response
    }
}
