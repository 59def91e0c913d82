//! Axum integration: [`WebSocketUpgrade`], an extractor that upgrades a request to a
//! [`WebSocketStream`] (feature `axum`), over HTTP/1.1 or HTTP/2.
//!
//! - HTTP/1.1 (RFC 6455): `GET` with `Upgrade: websocket`, answered `101 Switching Protocols`.
//! - HTTP/2 (RFC 8441): an extended `CONNECT` with `:protocol: websocket`, answered `200`; the
//!   WebSocket then runs on that one HTTP/2 stream. `axum::serve` announces
//!   `SETTINGS_ENABLE_CONNECT_PROTOCOL` when axum's `http2` feature is on (cleartext HTTP/2 with
//!   prior knowledge is served beside HTTP/1.1 on the same port). Route the path for both
//!   methods, e.g. with [`any`](::axum::routing::any) or `get(handler).connect(handler)`.
//!
//! Both run ws-proto's one negotiation ([`negotiate`](ws_proto::handshake::negotiate)) on the
//! request's own [`http`] types (no re-serialising): the same rules and subprotocol and
//! extension negotiation as [`accept`](crate::accept). A request that breaks them is refused by
//! the extractor with a [`WebSocketUpgradeRejection`]: 400, or 426 with
//! `Sec-WebSocket-Version: 13` for another version.
//!
//! ```no_run
//! use axum::{Router, response::Response, routing::any};
//! use ws_tokio::axum::{WebSocket, WebSocketUpgrade};
//!
//! async fn ws_handler(upgrade: WebSocketUpgrade) -> Response {
//!     println!("WebSocket to {} over {:?}", upgrade.request().path, upgrade.request().version);
//!     upgrade
//!         .protocols(["chat.v2", "chat"])
//!         .on_failed_upgrade(|e| eprintln!("upgrade failed: {e}"))
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
//! // `any`: GET for HTTP/1.1, CONNECT for HTTP/2.
//! let app = Router::new().route("/ws", any(ws_handler));
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
//! axum::serve(listener, app).await
//! # }
//! ```
//!
//! # Cancel safety
//!
//! Extraction awaits nothing, and [`WebSocketUpgrade::on_upgrade`] is synchronous: it returns the
//! `101` (HTTP/1.1) or `200` (HTTP/2) response at once and spawns a task that waits for hyper to
//! hand over the connection or stream. That happens only after hyper has written the response,
//! so:
//!
//! - Return the response unchanged (middleware may add headers, but must keep the status): if it
//!   is dropped, replaced or never sent, the upgrade fails, the callback is never called and the
//!   [`on_failed_upgrade`](WebSocketUpgrade::on_failed_upgrade) hook gets the error.
//! - The callback runs in its own task: neither dropping the handler's future nor the end of the
//!   HTTP request cancels it. It owns the stream; it ends when the callback's future completes.
//! - Inside the callback the stream's methods keep their own guarantees, e.g.
//!   [`WebSocketStream::recv`] is cancel safe and fits in `tokio::select!`.
//!
//! The handshake timeout and head limits of [`Config`] do not apply here: hyper reads the
//! request and bounds it (`max_handshake_header_bytes` and `max_handshake_headers` are for
//! [`accept`](crate::accept)).

use std::fmt;

use ::axum::body::Body;
use ::axum::extract::FromRequestParts;
use ::axum::response::{IntoResponse, Response};
use bytes::BytesMut;
use http::StatusCode;
use http::header::{self, HeaderValue};
use http::request::Parts;
use hyper::upgrade::OnUpgrade;
use ws_proto::extension::ExtensionNegotiator;
use ws_proto::handshake::{self, Accept, HandshakeError, HandshakeRequest, Negotiated, Refusal};
use ws_proto::{Config, ConfigError, Role};

use crate::WebSocketStream;

pub use hyper::upgrade::Upgraded;
pub use hyper_util::rt::TokioIo;

/// The stream [`WebSocketUpgrade::on_upgrade`] hands to its callback: a [`WebSocketStream`] over
/// the connection (HTTP/1.1) or stream (HTTP/2) hyper upgraded.
pub type WebSocket = WebSocketStream<TokioIo<Upgraded>>;

/// What [`WebSocketUpgrade::on_failed_upgrade`] runs.
type FailedUpgrade = Box<dyn FnOnce(hyper::Error) + Send + 'static>;

/// Extractor that upgrades an HTTP/1.1 request or an HTTP/2 extended CONNECT to a WebSocket.
///
/// Extraction validates the request (see the [module docs](self)) and takes hyper's upgrade
/// handle from the request's extensions; configure with [`config`](Self::config),
/// [`protocols`](Self::protocols), [`extension_negotiator`](Self::extension_negotiator) and
/// [`on_failed_upgrade`](Self::on_failed_upgrade), then finish with
/// [`on_upgrade`](Self::on_upgrade), whose response the handler must return.
#[must_use = "to set up the WebSocket connection, call `on_upgrade` and return its response"]
pub struct WebSocketUpgrade {
    /// The request, already validated for its shell (upgrade or extended CONNECT).
    request: HandshakeRequest,
    on_upgrade: OnUpgrade,
    config: Config,
    /// The subprotocol [`protocols`](Self::protocols) selected.
    protocol: Option<String>,
    /// Replaces the negotiator `config.compression` and `config.deflate` imply.
    negotiator: Option<Box<dyn ExtensionNegotiator>>,
    on_failed_upgrade: Option<FailedUpgrade>,
}

impl fmt::Debug for WebSocketUpgrade {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WebSocketUpgrade")
            .field("request", &self.request)
            .field("config", &self.config)
            .field("protocol", &self.protocol)
            .field("negotiator", &self.negotiator)
            .finish_non_exhaustive()
    }
}

impl WebSocketUpgrade {
    /// The request: path, authority, headers, offered subprotocols and extensions, the same
    /// [`HandshakeRequest`] as [`accept_with`](crate::accept_with) callbacks see.
    pub fn request(&self) -> &HandshakeRequest {
        &self.request
    }

    /// Use `config` for the connection (limits, timers, buffer sizes). Default:
    /// [`Config::default`].
    ///
    /// When `config.compression` is enabled, permessage-deflate is negotiated in that mode
    /// with the settings of `config.deflate` (level, minimum size, window bits, context
    /// takeover; feature `deflate`, on by default), as by [`accept`](crate::accept).
    ///
    /// ```
    /// # fn f(upgrade: ws_tokio::axum::WebSocketUpgrade) {
    /// use ws_tokio::{Compression, Config, DeflateSettings};
    ///
    /// let config = Config::builder()
    ///     .compression(Compression::Dedicated)
    ///     .deflate(DeflateSettings::default().peer_max_window_bits(10))
    ///     .build();
    /// let upgrade = upgrade.config(config);
    /// # drop(upgrade); }
    /// ```
    pub fn config(mut self, config: Config) -> Self {
        self.config = config;
        self
    }

    /// Negotiate extensions with `negotiator` instead of the one `config.compression` and
    /// `config.deflate` imply, e.g. another extension, or a `ws_deflate::DeflateNegotiator`
    /// built by hand (deflate settings alone need no negotiator: see [`config`](Self::config)).
    ///
    /// ```
    /// # #[cfg(feature = "deflate")]
    /// # fn f(upgrade: ws_tokio::axum::WebSocketUpgrade) {
    /// use ws_deflate::{DeflateConfig, DeflateNegotiator};
    /// use ws_tokio::Compression;
    ///
    /// let deflate = DeflateConfig::new(Compression::Dedicated).level(1).peer_no_context_takeover(true);
    /// let upgrade = upgrade.extension_negotiator(DeflateNegotiator::with_config(deflate));
    /// # drop(upgrade); }
    /// ```
    pub fn extension_negotiator(mut self, negotiator: impl ExtensionNegotiator + 'static) -> Self {
        self.negotiator = Some(Box::new(negotiator));
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

    /// Runs `callback` with hyper's error when the upgrade fails after the response was
    /// returned: the client went away first, or the response was dropped or replaced. Without
    /// it such a failure is silent (the [`on_upgrade`](Self::on_upgrade) callback is simply
    /// never called). Runs in the task `on_upgrade` spawns.
    pub fn on_failed_upgrade<C>(mut self, callback: C) -> Self
    where
        C: FnOnce(hyper::Error) + Send + 'static,
    {
        self.on_failed_upgrade = Some(Box::new(callback));
        self
    }

    /// Finish the handshake: returns the response (`101 Switching Protocols` with
    /// `Sec-WebSocket-Accept` over HTTP/1.1, `200` over HTTP/2; with the selected subprotocol,
    /// and a `Sec-WebSocket-Extensions` answer only for an extension the client offered and the
    /// server accepted) and, once hyper has sent it and handed over the connection, calls
    /// `callback` with the stream in a new task.
    ///
    /// If extension negotiation refuses the client's offers the response is that refusal (400)
    /// and `callback` is never called; so too when the upgrade fails (the client went away, or
    /// the response was not returned: see [`on_failed_upgrade`](Self::on_failed_upgrade) and
    /// the [module docs](self#cancel-safety)).
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
        if let Err(e) = self.config.validate() {
            return WebSocketUpgradeRejection::InvalidConfig(e).into_response();
        }
        let negotiator = match self.negotiator {
            Some(negotiator) => Some(negotiator),
            None => crate::handshake::extension_negotiator(&self.config),
        };
        let protocol = self.protocol;
        let outcome = handshake::negotiate(&self.request, negotiator.as_deref(), |_| {
            Ok(Accept {
                subprotocol: protocol,
                ..Accept::default()
            })
        });
        let (
            response,
            Negotiated {
                subprotocol,
                extension,
                ..
            },
        ) = match outcome {
            Ok(accepted) => accepted,
            Err(Refusal::Invalid(e)) => {
                return WebSocketUpgradeRejection::Handshake(e).into_response();
            }
            Err(refusal) => return refusal.to_response().map(Body::from),
        };

        let on_upgrade = self.on_upgrade;
        let on_failed_upgrade = self.on_failed_upgrade;
        let config = self.config;
        tokio::spawn(async move {
            let upgraded = match on_upgrade.await {
                Ok(upgraded) => upgraded,
                // Never upgraded: nothing to hand over.
                Err(e) => {
                    if let Some(hook) = on_failed_upgrade {
                        hook(e);
                    }
                    return;
                }
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
        response.map(|()| Body::empty())
    }
}

impl<S> FromRequestParts<S> for WebSocketUpgrade
where
    S: Send + Sync,
{
    type Rejection = WebSocketUpgradeRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let request = handshake_request(parts);
        let valid = if handshake::is_extended_connect(&request) {
            handshake::validate_extended_connect(&request)
        } else {
            handshake::validate_upgrade(&request).map(drop)
        };
        valid.map_err(WebSocketUpgradeRejection::Handshake)?;
        let on_upgrade = parts
            .extensions
            .remove::<OnUpgrade>()
            .ok_or(WebSocketUpgradeRejection::ConnectionNotUpgradable)?;
        Ok(WebSocketUpgrade {
            request,
            on_upgrade,
            config: Config::default(),
            protocol: None,
            negotiator: None,
            on_failed_upgrade: None,
        })
    }
}

/// ws-proto's request from axum's: method, version, URI, headers, and the `:protocol` that
/// hyper keeps in the extensions of an HTTP/2 extended CONNECT.
fn handshake_request(parts: &Parts) -> HandshakeRequest {
    let mut request = http::Request::new(());
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = parts.uri.clone();
    *request.version_mut() = parts.version;
    *request.headers_mut() = parts.headers.clone();
    let request = HandshakeRequest::from(request);
    match parts.extensions.get::<hyper::ext::Protocol>() {
        Some(protocol) => request.with_protocol(protocol.as_str()),
        None => request,
    }
}

/// Why [`WebSocketUpgrade`] refused a request. As a response (via [`IntoResponse`]) it carries
/// [`status`](Self::status) and a one-line plain-text reason.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum WebSocketUpgradeRejection {
    /// The request is not a valid WebSocket upgrade (HTTP/1.1) or extended CONNECT (HTTP/2),
    /// or its extension offers were refused. The status is [`HandshakeError::http_status`]: 400,
    /// or 426 (another `Sec-WebSocket-Version`, answered with `Sec-WebSocket-Version: 13`).
    Handshake(HandshakeError),
    /// The request is a valid upgrade, but the connection cannot be upgraded: hyper left no
    /// upgrade handle in the request's extensions (the request did not come through
    /// `axum::serve` or another hyper server with upgrades enabled, or another extractor
    /// already took the handle). This server's fault: 500.
    ConnectionNotUpgradable,
    /// The [`Config`] given with [`WebSocketUpgrade::config`] cannot work
    /// ([`Config::validate`]). This server's fault: 500.
    InvalidConfig(ConfigError),
}

impl WebSocketUpgradeRejection {
    /// The HTTP status this rejection answers with.
    pub fn status(&self) -> StatusCode {
        match self {
            WebSocketUpgradeRejection::Handshake(e) => {
                StatusCode::from_u16(e.http_status()).unwrap_or(StatusCode::BAD_REQUEST)
            }
            WebSocketUpgradeRejection::ConnectionNotUpgradable
            | WebSocketUpgradeRejection::InvalidConfig(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// True when the client caused it (a 4xx status).
    pub fn is_client_fault(&self) -> bool {
        match self {
            WebSocketUpgradeRejection::Handshake(e) => e.is_peer_fault(),
            WebSocketUpgradeRejection::ConnectionNotUpgradable
            | WebSocketUpgradeRejection::InvalidConfig(_) => false,
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
            WebSocketUpgradeRejection::InvalidConfig(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for WebSocketUpgradeRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WebSocketUpgradeRejection::Handshake(e) => Some(e),
            WebSocketUpgradeRejection::ConnectionNotUpgradable => None,
            WebSocketUpgradeRejection::InvalidConfig(e) => Some(e),
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
            // names the protocol to upgrade to, and `Upgrade` is listed in `Connection` (hyper
            // leaves these two out of an HTTP/2 response, where they have no meaning).
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
