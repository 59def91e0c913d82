//! The extension hook: how an extension such as permessage-deflate (RFC 7692) plugs into the
//! protocol core without the core knowing about it.
//!
//! Two pieces:
//! - [`ExtensionNegotiator`] takes part in the HTTP upgrade: it parses the peer's
//!   `Sec-WebSocket-Extensions` offers (server) or answer (client) and yields an [`Extension`].
//! - [`Extension`] claims RSV bits on data frames and transforms whole message payloads,
//!   fragment by fragment on the way in (with an output bound) and per message on the way out.
//!
//! Control frames never pass through an extension.

use bytes::{Bytes, BytesMut};
use std::fmt;

/// RSV1 bit as it stands in the first header byte.
pub const RSV1: u8 = 0x40;
/// RSV2 bit as it stands in the first header byte.
pub const RSV2: u8 = 0x20;
/// RSV3 bit as it stands in the first header byte.
pub const RSV3: u8 = 0x10;

/// One extension offer or answer from a `Sec-WebSocket-Extensions` header:
/// `name; param; param=value`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionParam {
    /// Parameter name (lower-cased ASCII token).
    pub name: String,
    /// Parameter value, with quotes removed, if one was given.
    pub value: Option<String>,
}

/// One element of a `Sec-WebSocket-Extensions` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExtensionOffer {
    /// Extension name (lower-cased ASCII token), e.g. `permessage-deflate`.
    pub name: String,
    /// Its parameters in the order given.
    pub params: Vec<ExtensionParam>,
}

/// What went wrong inside an extension.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExtensionError {
    /// The peer's data is invalid for this extension (e.g. corrupt deflate stream): close 1007.
    InvalidData(String),
    /// The decoded message would exceed the limit: close 1009.
    TooBig,
    /// The negotiation offer or answer is unacceptable (fails the handshake).
    Negotiation(String),
    /// The extension itself failed (a bug or resource problem on our side): close 1011.
    Internal(String),
}

impl fmt::Display for ExtensionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ExtensionError::InvalidData(m) => write!(f, "invalid extension data: {m}"),
            ExtensionError::TooBig => f.write_str("decoded message exceeds the size limit"),
            ExtensionError::Negotiation(m) => write!(f, "extension negotiation failed: {m}"),
            ExtensionError::Internal(m) => write!(f, "extension failure: {m}"),
        }
    }
}

impl std::error::Error for ExtensionError {}

/// A negotiated extension that transforms data message payloads.
///
/// The connection calls [`Extension::decode`] for every fragment of an incoming data message
/// whose first frame carried one of [`Extension::rsv_bits`], and [`Extension::encode`] for every
/// outgoing data message.
pub trait Extension: Send + fmt::Debug + 'static {
    /// The RSV bits (a mask of [`RSV1`], [`RSV2`], [`RSV3`]) this extension may set on the first
    /// frame of a data message. Frames with any other RSV bit set are a protocol error.
    fn rsv_bits(&self) -> u8;

    /// Decode one fragment of a transformed message, appending the result to `out`.
    ///
    /// `fin` is true for the last fragment. `out.len()` must never be driven beyond `limit`:
    /// return [`ExtensionError::TooBig`] as soon as more output would be needed.
    fn decode(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), ExtensionError>;

    /// Encode an outgoing data message. Returns the RSV bits for its first frame and the payload
    /// to send (which may be `payload` itself when the extension leaves this message as it is).
    fn encode(&mut self, payload: &Bytes, is_text: bool) -> Result<(u8, Bytes), ExtensionError>;
}

/// What [`ExtensionNegotiator::server_accept`] returns for an accepted offer: the
/// `Sec-WebSocket-Extensions` response value and the configured extension.
pub type ServerAcceptance = (String, Box<dyn Extension>);

/// Takes part in the opening handshake for one extension (or a family of them).
pub trait ExtensionNegotiator: Send + Sync + fmt::Debug {
    /// Client: the `Sec-WebSocket-Extensions` value to offer, if any.
    fn client_offer(&self) -> Option<String>;

    /// Client: check the server's answer (only the elements addressed to this negotiator's
    /// extension) and build the extension. `Ok(None)` when the server declined.
    fn client_accept(
        &self,
        answer: &[ExtensionOffer],
    ) -> Result<Option<Box<dyn Extension>>, ExtensionError>;

    /// Server: look at the client's offers in order and accept at most one. Returns the
    /// `Sec-WebSocket-Extensions` response value and the extension, or `None` to decline all.
    /// Offers that cannot be accepted are skipped, not errors.
    fn server_accept(
        &self,
        offers: &[ExtensionOffer],
    ) -> Result<Option<ServerAcceptance>, ExtensionError>;
}
