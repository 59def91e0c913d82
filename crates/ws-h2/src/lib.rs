//! WebSocket over HTTP/2 (RFC 8441) for sockudo-ws, on the `h2` crate.
//!
//! An HTTP/2 stream opened with an extended CONNECT (`:protocol = websocket`) is a byte pipe,
//! [`H2Stream`], under the same [`WebSocketStream`](ws_tokio::WebSocketStream) as TCP: the
//! WebSocket API, limits, timers and permessage-deflate are the ones of HTTP/1.1, and many
//! WebSockets share one connection (one TCP and TLS handshake).
//!
//! - [`H2WebSocketServer`] serves one HTTP/2 connection: every valid extended CONNECT is
//!   handed to your handler with its request (the [`HandshakeRequest`] of every transport).
//! - [`H2WebSocketServer::serve_auto`] (cleartext, by the connection preface) and
//!   [`H2WebSocketServer::serve_alpn`] (TLS, by ALPN) serve HTTP/1.1 upgrades and HTTP/2
//!   WebSockets on one listener, to one handler ([`AnyStream`]).
//! - [`H2WebSocketClient`] opens WebSockets, one per connection or many on one
//!   ([`H2Connection::open_websocket`]).
//! - The opening handshake is ws-proto's (`negotiate_extended_connect`,
//!   `extended_connect_request`), shared with HTTP/1.1 and HTTP/3.
//!
//! Flow control is HTTP/2's: what a peer may send unread is bounded by
//! `Config::http2_window_size` per WebSocket and `Config::http2_connection_window_size` per
//! connection, and a peer that stops reading makes writers wait (`send_timeout` applies).
//!
//! [`HandshakeRequest`]: ws_proto::handshake::HandshakeRequest
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod auto;
mod client;
mod error;
mod server;
mod stream;
#[cfg(feature = "tls")]
mod tls;

pub use auto::{AnyStream, Rewind};
pub use client::{H2Connection, H2WebSocketClient};
pub use error::Error;
/// The `h2` crate this transport is built on (for [`h2::Reason`] in [`H2Stream::reset`]).
pub use h2;
pub use server::H2WebSocketServer;
pub use stream::H2Stream;
#[cfg(feature = "tls")]
pub use tls::{ALPN_H2, ALPN_HTTP11};
