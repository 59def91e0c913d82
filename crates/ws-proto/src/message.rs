//! Messages as users send and receive them.

use crate::error::CloseCode;
use bytes::Bytes;
pub use ws_simd::Utf8Bytes;

/// The code and reason of a close frame.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloseReason {
    /// Status code.
    pub code: CloseCode,
    /// Reason text (UTF-8, at most 123 bytes on the wire).
    pub reason: Utf8Bytes,
}

impl CloseReason {
    /// A close reason from a code and a text.
    pub fn new(code: impl Into<CloseCode>, reason: impl Into<Utf8Bytes>) -> Self {
        CloseReason {
            code: code.into(),
            reason: reason.into(),
        }
    }
}

/// A complete WebSocket message.
///
/// Payloads are reference-counted [`Bytes`]: a received message is a slice of the connection's
/// read buffer (no copy), and echoing it back sends the same memory.
///
/// ```
/// use ws_proto::Message;
///
/// let m = Message::from("hello");
/// assert_eq!(m.as_text(), Some("hello"));
/// let b = Message::binary(vec![1u8, 2, 3]);
/// assert_eq!(b.as_payload().as_ref(), &[1, 2, 3]);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Message {
    /// A text message; its payload is guaranteed UTF-8 and derefs to `&str`.
    Text(Utf8Bytes),
    /// A binary message.
    Binary(Bytes),
    /// A ping (at most 125 bytes). Received pings are answered automatically.
    Ping(Bytes),
    /// A pong (at most 125 bytes).
    Pong(Bytes),
    /// A close frame, with its code and reason when it had one.
    Close(Option<CloseReason>),
}

impl Message {
    /// A text message.
    pub fn text(text: impl Into<Utf8Bytes>) -> Self {
        Message::Text(text.into())
    }

    /// A binary message.
    pub fn binary(data: impl Into<Bytes>) -> Self {
        Message::Binary(data.into())
    }

    /// A ping with a payload of at most 125 bytes.
    pub fn ping(data: impl Into<Bytes>) -> Self {
        Message::Ping(data.into())
    }

    /// A pong with a payload of at most 125 bytes.
    pub fn pong(data: impl Into<Bytes>) -> Self {
        Message::Pong(data.into())
    }

    /// A close message with a code and reason.
    pub fn close(code: impl Into<CloseCode>, reason: impl Into<Utf8Bytes>) -> Self {
        Message::Close(Some(CloseReason::new(code, reason)))
    }

    /// True for `Text`.
    pub fn is_text(&self) -> bool {
        matches!(self, Message::Text(_))
    }

    /// True for `Binary`.
    pub fn is_binary(&self) -> bool {
        matches!(self, Message::Binary(_))
    }

    /// True for `Ping`, `Pong` and `Close`.
    pub fn is_control(&self) -> bool {
        matches!(
            self,
            Message::Ping(_) | Message::Pong(_) | Message::Close(_)
        )
    }

    /// The text of a `Text` message.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Message::Text(t) => Some(t),
            _ => None,
        }
    }

    /// The payload bytes (for `Close`, the reason text).
    pub fn as_payload(&self) -> &[u8] {
        match self {
            Message::Text(t) => t.as_bytes(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b,
            Message::Close(Some(r)) => r.reason.as_bytes(),
            Message::Close(None) => &[],
        }
    }

    /// The payload as `Bytes` (no copy).
    pub fn into_payload(self) -> Bytes {
        match self {
            Message::Text(t) => t.into_bytes(),
            Message::Binary(b) | Message::Ping(b) | Message::Pong(b) => b,
            Message::Close(Some(r)) => r.reason.into_bytes(),
            Message::Close(None) => Bytes::new(),
        }
    }

    /// Payload length in bytes.
    pub fn len(&self) -> usize {
        self.as_payload().len()
    }

    /// True when the payload is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl From<String> for Message {
    fn from(s: String) -> Self {
        Message::Text(s.into())
    }
}

impl From<&str> for Message {
    fn from(s: &str) -> Self {
        Message::Text(s.into())
    }
}

impl From<Utf8Bytes> for Message {
    fn from(s: Utf8Bytes) -> Self {
        Message::Text(s)
    }
}

impl From<Bytes> for Message {
    fn from(b: Bytes) -> Self {
        Message::Binary(b)
    }
}

impl From<Vec<u8>> for Message {
    fn from(b: Vec<u8>) -> Self {
        Message::Binary(b.into())
    }
}

impl From<&[u8]> for Message {
    fn from(b: &[u8]) -> Self {
        Message::Binary(Bytes::copy_from_slice(b))
    }
}
