//! Tokio transport for sockudo-ws: [`WebSocketStream`] over any `AsyncRead + AsyncWrite`.
//!
//! The protocol lives in `ws-proto`'s sans-IO [`Connection`](ws_proto::Connection); this crate
//! only moves bytes between it and a tokio byte stream, and turns its deadlines into one tokio
//! timer. Any tokio byte stream works under it (TCP, TLS, a tunnel; the `tls` module, feature
//! `tls`, sets up `wss://` with rustls); the HTTP/2 and HTTP/3 transports are to be byte
//! streams too, and io_uring (whose owned-buffer I/O is not `AsyncRead`) an adapter to one.
//!
//! How a connection ends (close frame, shutdown, reading until the peer's end, all bounded by
//! `close_timeout`) is decided by the connection
//! ([`Connection::transport_action`](ws_proto::Connection::transport_action)); this crate
//! carries it out.
//!
//! Time: ws-proto reads no clock, it is told `now`. This crate reads tokio's clock only when
//! its timer fires, when a close starts and when a send is about to fail with backpressure,
//! never per message: the `now` reported with each read and send is otherwise the time the
//! timer last fired. That is enough because a read only marks the connection active (its
//! deadlines move at the next timer check) and a send starts a deadline only when it fails.
//! (A send failing for another reason, an extension's internal failure, starts its close
//! deadline from the timer's last fire, so that deadline may come early.)
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "axum")]
pub mod axum;
mod core;
mod error;
mod handshake;
mod split;
mod stream;
#[cfg(feature = "tls")]
pub mod tls;

pub use error::Error;
pub use handshake::{accept, accept_with, client, client_with, connect, extension_negotiator};
pub use split::{ReuniteError, SplitReader, SplitWriter};
pub use stream::{WebSocketStream, reunite};
/// How the WebSocket connection itself fails (`ws_proto::Error`): carried in [`Error::Connection`].
pub use ws_proto::Error as ConnectionError;
pub use ws_proto::handshake::{
    Accept, ClientOptions, HandshakeError, HandshakeRequest, Refusal, Reject,
};
pub use ws_proto::{
    CloseCode, CloseReason, Compression, Config, ConfigError, DeflateSettings, Fault, Message,
    ProtocolError, Role, State, TimeoutKind, Utf8Bytes, Utf8Error, http,
};
