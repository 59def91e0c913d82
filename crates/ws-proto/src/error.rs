//! Errors, close codes and who was at fault.

use crate::extension::ExtensionError;
use crate::mask_key::RandomError;
use std::fmt;

/// A WebSocket close status code (RFC 6455 section 7.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CloseCode(pub u16);

impl CloseCode {
    /// 1000: normal closure.
    pub const NORMAL: CloseCode = CloseCode(1000);
    /// 1001: the endpoint is going away (server shutdown, idle timeout, page navigation).
    pub const GOING_AWAY: CloseCode = CloseCode(1001);
    /// 1002: protocol error.
    pub const PROTOCOL_ERROR: CloseCode = CloseCode(1002);
    /// 1003: a data type the endpoint cannot accept.
    pub const UNSUPPORTED_DATA: CloseCode = CloseCode(1003);
    /// 1005: no status code was present (never sent on the wire).
    pub const NO_STATUS: CloseCode = CloseCode(1005);
    /// 1006: the connection dropped without a close frame (never sent on the wire).
    pub const ABNORMAL: CloseCode = CloseCode(1006);
    /// 1007: message data inconsistent with its type (e.g. invalid UTF-8 in a text message).
    pub const INVALID_PAYLOAD: CloseCode = CloseCode(1007);
    /// 1008: the message violates a policy.
    pub const POLICY_VIOLATION: CloseCode = CloseCode(1008);
    /// 1009: the message is too big to process.
    pub const MESSAGE_TOO_BIG: CloseCode = CloseCode(1009);
    /// 1010: the client expected the server to negotiate an extension.
    pub const MANDATORY_EXTENSION: CloseCode = CloseCode(1010);
    /// 1011: the server met an unexpected condition.
    pub const INTERNAL_ERROR: CloseCode = CloseCode(1011);
    /// 1012: the service is restarting.
    pub const SERVICE_RESTART: CloseCode = CloseCode(1012);
    /// 1013: try again later.
    pub const TRY_AGAIN_LATER: CloseCode = CloseCode(1013);
    /// 1014: bad gateway.
    pub const BAD_GATEWAY: CloseCode = CloseCode(1014);

    /// Whether this code may appear in a close frame on the wire: 1000-1003, 1007-1014 and
    /// 3000-4999. 1005, 1006 and 1015 are reserved for reporting and never sent.
    pub const fn is_sendable(self) -> bool {
        matches!(self.0, 1000..=1003 | 1007..=1014 | 3000..=4999)
    }
}

impl From<u16> for CloseCode {
    fn from(code: u16) -> Self {
        CloseCode(code)
    }
}

impl From<CloseCode> for u16 {
    fn from(code: CloseCode) -> u16 {
        code.0
    }
}

impl fmt::Display for CloseCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whose fault an error is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Fault {
    /// The peer sent something invalid, broke a limit, or stopped responding.
    Peer,
    /// This side: the API was used wrongly (e.g. sent after closing), or this endpoint's own
    /// environment failed (its random source, an extension's internal failure).
    Local,
    /// The transport failed (reset, broken pipe, ...). The sans-IO core never reports it: a
    /// transport's own error does (e.g. `ws_tokio::Error::Io`).
    Io,
}

/// A violation of RFC 6455 framing rules by the peer. Every one of them closes with 1002.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProtocolError {
    /// An opcode reserved for future use (3-7, 11-15).
    ReservedOpcode(u8),
    /// An RSV bit that no negotiated extension claims, or on a frame where it is not allowed.
    ReservedBits(u8),
    /// A client sent an unmasked frame to a server.
    UnmaskedFrame,
    /// A server sent a masked frame to a client.
    MaskedFrame,
    /// A control frame with more than 125 bytes of payload.
    ControlFrameTooLong(u64),
    /// A control frame without FIN.
    FragmentedControlFrame,
    /// A continuation frame with no message in progress.
    UnexpectedContinuation,
    /// A new data frame while a fragmented message was still in progress.
    ExpectedContinuation,
    /// A 64-bit payload length with its most significant bit set.
    InvalidPayloadLength,
    /// A close frame with a one-byte payload.
    InvalidClosePayload,
    /// A close frame with a status code that must not be sent.
    InvalidCloseCode(u16),
}

impl fmt::Display for ProtocolError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProtocolError::ReservedOpcode(op) => write!(f, "reserved opcode {op:#x}"),
            ProtocolError::ReservedBits(bits) => write!(f, "reserved bits {bits:#04x} set"),
            ProtocolError::UnmaskedFrame => f.write_str("client frame is not masked"),
            ProtocolError::MaskedFrame => f.write_str("server frame is masked"),
            ProtocolError::ControlFrameTooLong(len) => {
                write!(f, "control frame payload of {len} bytes (max 125)")
            }
            ProtocolError::FragmentedControlFrame => f.write_str("fragmented control frame"),
            ProtocolError::UnexpectedContinuation => {
                f.write_str("continuation frame without a message in progress")
            }
            ProtocolError::ExpectedContinuation => {
                f.write_str("new data frame while a fragmented message is in progress")
            }
            ProtocolError::InvalidPayloadLength => {
                f.write_str("payload length has its top bit set")
            }
            ProtocolError::InvalidClosePayload => f.write_str("close frame with a 1-byte payload"),
            ProtocolError::InvalidCloseCode(code) => write!(f, "invalid close code {code}"),
        }
    }
}

/// Which deadline passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TimeoutKind {
    /// Nothing arrived from the peer for `idle_timeout`.
    Idle,
    /// An automatic ping got no answer within `pong_timeout`.
    Pong,
    /// The peer did not answer our close frame within `close_timeout`.
    Close,
    /// Queued output made no progress for `send_timeout`: the peer stopped reading.
    Send,
}

/// Every way a WebSocket connection can fail: what the sans-IO core itself reports.
///
/// Transports add their own failures (I/O, the opening handshake) in their own error type,
/// e.g. `ws_tokio::Error`, which carries this one. The handshake functions of
/// [`handshake`](crate::handshake) return [`HandshakeError`](crate::handshake::HandshakeError).
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The peer broke the framing rules (close 1002).
    Protocol(ProtocolError),
    /// A text message or a close reason is not valid UTF-8 (close 1007).
    InvalidUtf8,
    /// A frame larger than `max_frame_size` (close 1009).
    FrameTooBig {
        /// Announced payload length.
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// A message larger than `max_message_size` (close 1009).
    MessageTooBig {
        /// Size reached (or announced) so far.
        size: u64,
        /// The configured limit.
        limit: usize,
    },
    /// An extension rejected the data or failed.
    Extension(ExtensionError),
    /// A deadline passed.
    Timeout(TimeoutKind),
    /// The peer stopped reading: our unsent output reached `max_backpressure`.
    Backpressure {
        /// Bytes waiting to be written.
        buffered: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The connection is closed (or closing) and cannot send this message.
    ConnectionClosed,
    /// A local misuse, e.g. a close code that may not be sent or a control payload over 125 bytes.
    InvalidInput(&'static str),
    /// The peer closed the transport without completing the close handshake.
    ConnectionReset,
    /// The [`Config`](crate::Config) cannot work; the transports check it before they start.
    InvalidConfig(crate::ConfigError),
    /// The random source gave no masking key (a client cannot send a frame without one). The
    /// connection is closed without a close frame: one could not be masked either.
    Random(RandomError),
}

impl Error {
    /// Who was at fault.
    pub fn fault(&self) -> Fault {
        match self {
            Error::Protocol(_)
            | Error::InvalidUtf8
            | Error::FrameTooBig { .. }
            | Error::MessageTooBig { .. }
            | Error::Timeout(_)
            | Error::Backpressure { .. }
            | Error::ConnectionReset => Fault::Peer,
            Error::Extension(e) => match e {
                ExtensionError::Internal(_) => Fault::Local,
                _ => Fault::Peer,
            },
            Error::ConnectionClosed
            | Error::InvalidInput(_)
            | Error::InvalidConfig(_)
            | Error::Random(_) => Fault::Local,
        }
    }

    /// The close code this error sends to the peer, if it causes a close frame.
    pub fn close_code(&self) -> Option<CloseCode> {
        Some(match self {
            Error::Protocol(_) => CloseCode::PROTOCOL_ERROR,
            Error::InvalidUtf8 => CloseCode::INVALID_PAYLOAD,
            Error::FrameTooBig { .. } | Error::MessageTooBig { .. } => CloseCode::MESSAGE_TOO_BIG,
            Error::Extension(ExtensionError::TooBig) => CloseCode::MESSAGE_TOO_BIG,
            Error::Extension(ExtensionError::InvalidData(_)) => CloseCode::INVALID_PAYLOAD,
            Error::Extension(ExtensionError::Negotiation(_)) => CloseCode::PROTOCOL_ERROR,
            Error::Extension(_) => CloseCode::INTERNAL_ERROR,
            Error::Timeout(TimeoutKind::Idle | TimeoutKind::Pong) => CloseCode::GOING_AWAY,
            Error::Backpressure { .. } => CloseCode::POLICY_VIOLATION,
            _ => return None,
        })
    }

    /// True when the connection is unusable after this error (everything but local misuse).
    pub fn is_fatal(&self) -> bool {
        !matches!(self, Error::InvalidInput(_))
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Protocol(e) => write!(f, "protocol error: {e}"),
            Error::InvalidUtf8 => f.write_str("invalid UTF-8 in a text message or close reason"),
            Error::FrameTooBig { size, limit } => {
                write!(f, "frame of {size} bytes exceeds max_frame_size {limit}")
            }
            Error::MessageTooBig { size, limit } => {
                write!(
                    f,
                    "message of {size} bytes exceeds max_message_size {limit}"
                )
            }
            Error::Extension(e) => e.fmt(f),
            Error::Timeout(kind) => match kind {
                TimeoutKind::Idle => f.write_str("idle timeout: nothing received"),
                TimeoutKind::Pong => f.write_str("no pong came back for the automatic ping"),
                TimeoutKind::Close => f.write_str("the peer did not answer our close frame"),
                TimeoutKind::Send => {
                    f.write_str("send timeout: the peer stopped reading our output")
                }
            },
            Error::Backpressure { buffered, limit } => write!(
                f,
                "peer is not reading: {buffered} bytes buffered exceed max_backpressure {limit}"
            ),
            Error::ConnectionClosed => f.write_str("the connection is closed"),
            Error::InvalidInput(what) => write!(f, "invalid use: {what}"),
            Error::ConnectionReset => {
                f.write_str("the peer dropped the connection without a close handshake")
            }
            Error::InvalidConfig(e) => e.fmt(f),
            Error::Random(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Extension(e) => Some(e),
            Error::InvalidConfig(e) => Some(e),
            Error::Random(e) => Some(e),
            _ => None,
        }
    }
}

impl From<crate::ConfigError> for Error {
    fn from(e: crate::ConfigError) -> Self {
        Error::InvalidConfig(e)
    }
}

impl From<ProtocolError> for Error {
    fn from(e: ProtocolError) -> Self {
        Error::Protocol(e)
    }
}

impl From<ExtensionError> for Error {
    fn from(e: ExtensionError) -> Self {
        Error::Extension(e)
    }
}

impl From<RandomError> for Error {
    fn from(e: RandomError) -> Self {
        Error::Random(e)
    }
}
