//! An ultra-low-latency WebSocket library (RFC 6455) for Rust, built for trading systems and
//! other real-time servers, at home in Tokio and Axum. The protocol lives in a sans-IO core (no
//! sockets, no runtime, no clock) that the transports drive; frames are masked and UTF-8 is
//! validated with SIMD kernels picked at run time; an idle connection holds no buffers; and
//! every connection is bounded (message and frame sizes, backpressure, idle, ping, close and
//! handshake timers) by one [`Config`]. It passes the Autobahn|Testsuite as server and client,
//! and negotiates permessage-deflate (RFC 7692). This crate is the facade: it re-exports the layer
//! crates below under one name and turns them on with feature flags.
//!
//! # Quick start
//!
//! A server that echoes every text and binary message (one task per connection):
//!
//! ```no_run
//! use sockudo_ws::{Config, Error};
//! use tokio::net::{TcpListener, TcpStream};
//!
//! #[tokio::main]
//! async fn main() -> std::io::Result<()> {
//!     let listener = TcpListener::bind("127.0.0.1:9001").await?;
//!     loop {
//!         let (tcp, peer) = listener.accept().await?;
//!         tokio::spawn(async move {
//!             if let Err(e) = echo(tcp).await {
//!                 eprintln!("{peer}: {e}");
//!             }
//!         });
//!     }
//! }
//!
//! async fn echo(tcp: TcpStream) -> Result<(), Error> {
//!     tcp.set_nodelay(true)?;
//!     let mut ws = sockudo_ws::accept(tcp, Config::default()).await?;
//!     // Pings are answered and the close handshake completed inside `recv`; it returns `None`
//!     // once the connection is over.
//!     while let Some(message) = ws.recv().await {
//!         let message = message?;
//!         if message.is_text() || message.is_binary() {
//!             ws.send(message).await?;
//!         }
//!     }
//!     Ok(())
//! }
//! ```
//!
//! A client that sends a text and waits for the answer:
//!
//! ```no_run
//! use sockudo_ws::{CloseCode, Config, Error};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Error> {
//!     let mut ws = sockudo_ws::connect("ws://127.0.0.1:9001/", Config::default()).await?;
//!     ws.send_text("hello").await?;
//!     if let Some(reply) = ws.recv().await {
//!         println!("got {:?}", reply?.as_text());
//!     }
//!     ws.close(CloseCode::NORMAL, "bye").await
//! }
//! ```
//!
//! [`WebSocketStream`] is also a `futures` `Stream` + `Sink`, splits into a reader and a
//! writer for two tasks ([`WebSocketStream::split`]), and runs over any tokio byte stream
//! ([`accept`] and [`client`] take any `AsyncRead + AsyncWrite`; [`tls`] has `wss://`). In axum,
//! the [`axum::WebSocketUpgrade`] extractor (feature `axum-integration`) does the same for
//! HTTP/1.1 upgrades and HTTP/2 extended CONNECT (RFC 8441).
//!
//! Over HTTP/2 (feature `http2`), `H2WebSocketServer` serves WebSockets as streams of one
//! connection, the way browsers open them when a server allows it (RFC 8441), and
//! `H2WebSocketClient` opens many on one connection; each is the same [`WebSocketStream`]
//! over an `H2Stream`. `H2WebSocketServer::serve_auto` (by the connection preface) and
//! `serve_tls` (by ALPN, with `tls`) take HTTP/1.1 and HTTP/2 on one listener. See [`h2`] and
//! `examples/http2_echo.rs`.
//!
//! # Feature flags
//!
//! | feature | default | what it adds | crate |
//! |---|---|---|---|
//! | `simd` | yes | the AVX-512/AVX2/SSE2/NEON kernels for masking and UTF-8, picked at run time (without it, scalar only) | `ws-simd` |
//! | `tokio-runtime` | yes | [`WebSocketStream`], [`accept`], [`connect`], [`Error`]: WebSocket over any tokio byte stream | `ws-tokio` |
//! | `permessage-deflate` | yes | [`deflate`]; [`accept`]/[`connect`] negotiate it when [`Config::compression`] is enabled | `ws-deflate` |
//! | `axum-integration` | no | [`axum::WebSocketUpgrade`], an axum extractor (HTTP/1.1 upgrade and HTTP/2 extended CONNECT); turns on `tokio-runtime` | `ws-tokio` (its `axum` feature) |
//! | `tls` | no | [`tls`]: `wss://` with rustls (ring): `connect_tls`, `accept_tls`, `accept_tls_with`; with `http2`, also `wss://` over HTTP/2; turns on `tokio-runtime` | `ws-tokio` (its `tls` feature), `ws-h2` (its `tls` feature) |
//! | `http2` | no | [`h2`]: WebSocket over HTTP/2 (RFC 8441) as client and server; turns on `tokio-runtime` | `ws-h2` |
//! | `http3` | no | [`h3`]: WebSocket over HTTP/3 (RFC 9220). **Not built yet** (issue #15): brings only the placeholder crate, which exposes nothing | `ws-h3` |
//! | `io-uring` | no | [`uring`]: the io_uring transport, Linux only (a compile error on any other OS). **Not built yet** (issue #14): brings only the placeholder crate, which exposes nothing | `ws-uring` |
//! | `all-transports` | no | `http2` + `http3` + `io-uring` | |
//! | `full` | no | everything above (so, with `io-uring`, Linux only) | |
//!
//! The sans-IO core (`ws-proto`) is always there: [`Connection`], [`Config`], [`Message`],
//! [`handshake`], [`extension`], the error types. `--no-default-features` leaves only it, for
//! driving a connection from your own I/O. (`external-tests` is not for users: it compiles this
//! repository's tests that need Python, Node or Chromium.)
//!
//! # The crates under this one
//!
//! Data flows from the top of this table down, never back; each crate depends only on those
//! above it.
//!
//! | crate | what it does | here as |
//! |---|---|---|
//! | `ws-simd` | frame masking and UTF-8 validation: AVX-512 / AVX2 / SSE2 / NEON picked at run time, scalar fallback | (inside `ws-proto`) |
//! | `ws-proto` | the sans-IO core: frames, messages, the close handshake, limits and timers (told `now`, never reading a clock), the opening handshake (one negotiation over `http` types, framed as an HTTP/1.1 upgrade or an HTTP/2 / HTTP/3 extended CONNECT), the extension hook | the crate root, [`handshake`], [`extension`] |
//! | `ws-deflate` | permessage-deflate (RFC 7692) on `miniz_oxide`: negotiation in both roles, dedicated or per-thread shared compressors, bounded inflation | [`deflate`] |
//! | `ws-tokio` | [`WebSocketStream`] over any `AsyncRead + AsyncWrite`: `Stream` + `Sink`, split / reunite, write corking, the timers; the axum extractor; `wss://` with rustls | the crate root, [`axum`], [`tls`] |
//! | `ws-h2` | the HTTP/2 transport (RFC 8441), on `h2` and `ws-tokio` | [`h2`] |
//! | `ws-h3` | the HTTP/3 transport (RFC 9220): a placeholder today | [`h3`] |
//! | `ws-uring` | the io_uring transport (Linux): a placeholder today | [`uring`] |
//!
//! # Errors
//!
//! Two error types, each naming only what can happen in its layer, both `#[non_exhaustive]`,
//! and both saying whose fault it was (`fault()`: [`Fault::Peer`], [`Fault::Local`] or
//! [`Fault::Io`]) and which close code goes with it (`close_code()`).
//!
//! - [`ConnectionError`] (`ws-proto`'s): how the connection itself fails: a protocol violation
//!   by the peer (close 1002), invalid UTF-8 (1007), a limit exceeded (1009, 1008), a timer, a
//!   closed connection, local misuse, an invalid [`Config`]. Always available.
//! - [`Error`] (`ws-tokio`'s, feature `tokio-runtime`): what [`WebSocketStream`], its halves,
//!   [`accept`], [`connect`] and the axum extractor's stream return. It carries a
//!   [`ConnectionError`] as `Error::Connection` and adds what only the transport meets: I/O, an
//!   invalid opening handshake, a handshake refused with an HTTP status, the handshake timeout.
//!
//! Over HTTP/2, serving or opening a WebSocket fails with [`h2::Error`] (which carries a
//! [`ConnectionError`] too, and adds HTTP/2's own failures); once open, its messages fail with
//! [`Error`], as over HTTP/1.1.
//!
//! # Configuration and security
//!
//! Every option of [`Config`], with its default and meaning, is in the README's
//! [Configuration](https://github.com/sockudo/sockudo-ws#configuration) section. A server that
//! browsers reach and that relies on cookies must check the `Origin` header in the
//! [`accept_with`] callback: see the README's
//! [Security: checking `Origin`](https://github.com/sockudo/sockudo-ws#security-checking-origin).
//! The README also has the
//! [feature flags](https://github.com/sockudo/sockudo-ws#features-of-the-facade),
//! [errors](https://github.com/sockudo/sockudo-ws#errors) and
//! [performance](https://github.com/sockudo/sockudo-ws#performance) sections.
#![cfg_attr(docsrs, feature(doc_cfg))]
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
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-runtime")))]
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
#[cfg_attr(docsrs, doc(cfg(feature = "permessage-deflate")))]
#[doc(inline)]
pub use ws_deflate as deflate;

#[cfg(feature = "tokio-runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio-runtime")))]
pub use ws_tokio::{
    Accept, HandshakeRequest, Reject, ReuniteError, SplitReader, SplitWriter, WebSocketStream,
    accept, accept_with, client, client_with, connect, reunite,
};

/// Axum integration: `WebSocketUpgrade`, an extractor upgrading a request to a
/// [`WebSocketStream`] (feature `axum-integration`).
#[cfg(feature = "axum-integration")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum-integration")))]
pub mod axum {
    pub use ws_tokio::axum::*;
}

/// `wss://` with rustls (ring provider): `connect_tls`, `accept_tls`, `accept_tls_with`, and
/// the `rustls` and `tokio_rustls` crates they use (feature `tls`). `examples/wss_echo.rs` is
/// a whole server.
#[cfg(feature = "tls")]
#[cfg_attr(docsrs, doc(cfg(feature = "tls")))]
pub mod tls {
    pub use ws_tokio::tls::*;
}

/// `ws-h2`, the HTTP/2 transport (feature `http2`).
#[cfg(feature = "http2")]
#[cfg_attr(docsrs, doc(cfg(feature = "http2")))]
#[doc(inline)]
pub use ws_h2 as h2;

#[cfg(feature = "http2")]
#[cfg_attr(docsrs, doc(cfg(feature = "http2")))]
pub use ws_h2::{H2Connection, H2Stream, H2WebSocketClient, H2WebSocketServer};

/// `ws-h3`, the HTTP/3 transport (feature `http3`): **not built yet** (issue #15).
#[cfg(feature = "http3")]
#[cfg_attr(docsrs, doc(cfg(feature = "http3")))]
#[doc(inline)]
pub use ws_h3 as h3;

/// `ws-uring`, the io_uring transport (feature `io-uring`, Linux only): **not built yet**
/// (issue #14).
#[cfg(feature = "io-uring")]
#[cfg_attr(docsrs, doc(cfg(feature = "io-uring")))]
#[doc(inline)]
pub use ws_uring as uring;

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
