//! Tokio transport for sockudo-ws: [`WebSocketStream`] over any `AsyncRead + AsyncWrite`.
//!
//! The protocol lives in `ws-proto`'s sans-IO [`Connection`](ws_proto::Connection); this crate
//! only moves bytes between it and a tokio byte stream, and turns its deadlines into one tokio
//! timer. Any tokio byte stream works under it (TCP, TLS, a tunnel); the HTTP/2 and HTTP/3
//! transports are to be byte streams too, and io_uring (whose owned-buffer I/O is not
//! `AsyncRead`) an adapter to one.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "axum")]
pub mod axum;
mod core;
mod handshake;
mod split;
mod stream;

pub use handshake::{accept, accept_with, client, client_with, connect};
pub use split::{ReuniteError, SplitReader, SplitWriter};
pub use stream::{WebSocketStream, reunite};
pub use ws_proto::handshake::{
    Accept, ClientOptions, HandshakeError, HandshakeRequest, Refusal, Reject,
};
pub use ws_proto::{
    CloseCode, CloseReason, Compression, Config, ConfigError, Error, Fault, Message, ProtocolError,
    Role, State, TimeoutKind, Utf8Bytes, Utf8Error, http,
};
