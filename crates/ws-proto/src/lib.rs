//! The sans-IO core of sockudo-ws: RFC 6455 frames, messages, the close handshake, limits,
//! the opening handshake (HTTP/1.1 upgrade, and the extended CONNECT of HTTP/2 and HTTP/3, one
//! negotiation over [`http`] types) and the extension hook.
//!
//! Nothing here does I/O, spawns a task or reads a clock. Bytes and the current time go in;
//! messages, bytes to write and the next deadline come out, as in `quinn-proto`. Any runtime
//! can drive it: `ws-tokio` does so over `AsyncRead + AsyncWrite`, and the HTTP/2, HTTP/3 and
//! io_uring transports are only other byte pipes under the same [`Connection`].
//!
//! Buffers are owned: received bytes go into a `BytesMut` the connection owns, and a message
//! that arrives in one frame comes out as a `Bytes` slice of it (unmasked and UTF-8-checked in
//! place); fragmented messages are assembled, and compressed ones inflated, into a buffer of
//! their own.
//! Output is a queue of `Bytes`, and the receive buffer can be taken out and handed back
//! filled ([`Connection::take_read_buffer`], [`Connection::give_read_buffer`]), so a
//! completion-based transport never has to lend a buffer across an await, nor copy. A message
//! held by the application costs about its own size: small payloads are copied out of a
//! buffer grown for a large frame, and a buffer still shared with held messages is filled
//! before it is left to them.
//!
//! Every size, count and wait the peer controls has a limit in [`Config`]; breaking one closes
//! the connection with the right code (1002, 1007, 1009, ...) and a typed [`Error`] that says
//! whose fault it was ([`Fault`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod config;
mod connection;
pub mod error;
pub mod extension;
pub mod frame;
pub mod handshake;
pub mod mask_key;
pub mod message;

pub use config::{Compression, Config, ConfigBuilder, ConfigError, DeflateSettings};
pub use connection::{Connection, Role, State, TransportAction};
pub use error::{CloseCode, Error, Fault, ProtocolError, TimeoutKind};
pub use extension::{Extension, ExtensionNegotiator};
pub use mask_key::{MaskKeySource, RandomError, SystemMaskKeys};
pub use message::{CloseReason, Message, Utf8Bytes, Utf8Error};

/// The `http` crate, whose types the handshake speaks ([`handshake::HandshakeRequest`],
/// [`handshake::Accept`] headers, responses), re-exported so that users need no direct
/// dependency on it.
pub use http;

/// Re-exported so users of [`Message`] need no direct dependency on `bytes`.
pub use bytes::{Bytes, BytesMut};
