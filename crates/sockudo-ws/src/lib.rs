//! sockudo-ws: an ultra-low-latency WebSocket library.
//!
//! This facade re-exports the layer crates: `ws-proto` (the sans-IO protocol core) and, with the
//! `tokio-runtime` feature, `ws-tokio` (`WebSocketStream` over any tokio byte stream).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub use ws_proto::{
    Bytes, BytesMut, CloseCode, CloseReason, Compression, Config, ConfigBuilder, ConfigError,
    Connection, DeflateSettings, Fault, MaskKeySource, Message, ProtocolError, RandomError, Role,
    State, SystemMaskKeys, TimeoutKind, TransportAction, Utf8Bytes, Utf8Error, http,
};

/// How a WebSocket connection fails: what the sans-IO protocol core reports (protocol
/// violations, limits, timers, a closed connection, local misuse, an invalid [`Config`]).
/// It is `ws_proto::Error`, always available here under this name; a transport's error (with
/// `tokio-runtime`, `sockudo_ws::Error`) carries it as its `Connection` variant.
///
/// ```
/// use sockudo_ws::{CloseCode, ConnectionError, Fault};
///
/// let e = ConnectionError::InvalidUtf8;
/// assert_eq!(e.fault(), Fault::Peer);
/// assert_eq!(e.close_code(), Some(CloseCode::INVALID_PAYLOAD));
/// ```
pub use ws_proto::Error as ConnectionError;

/// How a tokio WebSocket fails (feature `tokio-runtime`): a [`ConnectionError`] (in
/// `Error::Connection`), or what only the transport meets: I/O, an invalid or refused opening
/// handshake, its timeout. Every function and method of [`WebSocketStream`], its split halves,
/// [`accept`], [`connect`] and the axum extractor's stream returns it.
///
/// ```
/// use sockudo_ws::{ConnectionError, Error, Fault, TimeoutKind};
///
/// fn is_idle_timeout(e: &Error) -> bool {
///     e.timeout_kind() == Some(TimeoutKind::Idle)
/// }
/// let e = Error::from(ConnectionError::Timeout(TimeoutKind::Idle));
/// assert!(is_idle_timeout(&e));
/// assert_eq!(e.fault(), Fault::Peer);
/// assert!(matches!(e, Error::Connection(ConnectionError::Timeout(_))));
/// ```
#[cfg(feature = "tokio-runtime")]
pub use ws_tokio::Error;

/// The opening handshake (sans-IO): the HTTP/1.1 upgrade and the extended CONNECT of HTTP/2
/// and HTTP/3, one negotiation over its `HandshakeRequest`.
pub mod handshake {
    pub use ws_proto::handshake::*;
}

/// The extension hook (permessage-deflate plugs in here).
pub mod extension {
    pub use ws_proto::extension::*;
}

/// permessage-deflate (RFC 7692): the negotiator and the extension (feature
/// `permessage-deflate`, on by default). [`accept`] and [`connect`] use it when
/// [`Config::compression`] is enabled, with the settings of [`Config::deflate`].
#[cfg(feature = "permessage-deflate")]
pub use ws_deflate as deflate;

#[cfg(feature = "tokio-runtime")]
pub use ws_tokio::{
    Accept, HandshakeRequest, Reject, ReuniteError, SplitReader, SplitWriter, WebSocketStream,
    accept, accept_with, client, client_with, connect, reunite,
};

/// Axum integration: `WebSocketUpgrade`, an extractor upgrading a request to a
/// [`WebSocketStream`] (feature `axum-integration`).
#[cfg(feature = "axum-integration")]
pub mod axum {
    pub use ws_tokio::axum::*;
}

/// `wss://` with rustls (ring provider): `connect_tls`, `accept_tls`, `accept_tls_with`, and
/// the `rustls` and `tokio_rustls` crates they use (feature `tls`). `examples/wss_echo.rs` is
/// a whole server.
#[cfg(feature = "tls")]
pub mod tls {
    pub use ws_tokio::tls::*;
}

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
