//! Messages as users send and receive them.

use crate::error::CloseCode;
use bytes::Bytes;
pub use ws_simd::{Utf8Bytes, Utf8Error};

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
/// Payloads are reference-counted [`Bytes`]: a message received in one frame is usually a
/// slice of the connection's read buffer (a small one is copied out of a buffer grown for a
/// large frame, so that holding it costs its size), and echoing it back sends the same memory.
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

    /// True for `Ping`.
    pub fn is_ping(&self) -> bool {
        matches!(self, Message::Ping(_))
    }

    /// True for `Pong`.
    pub fn is_pong(&self) -> bool {
        matches!(self, Message::Pong(_))
    }

    /// True for `Close`.
    pub fn is_close(&self) -> bool {
        matches!(self, Message::Close(_))
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

    /// The payload as `Bytes` (no copy): the name tokio-tungstenite users know for
    /// [`Message::into_payload`].
    pub fn into_data(self) -> Bytes {
        self.into_payload()
    }

    /// The payload as text: a `Text` message's text as it is; any other payload (binary, ping,
    /// pong, a close reason) when it is valid UTF-8, without a copy.
    ///
    /// ```
    /// use ws_proto::Message;
    ///
    /// assert_eq!(Message::text("hi").into_text().unwrap(), "hi");
    /// assert_eq!(Message::binary(&b"ok"[..]).into_text().unwrap(), "ok");
    /// assert!(Message::binary(vec![0xff]).into_text().is_err());
    /// ```
    pub fn into_text(self) -> Result<Utf8Bytes, Utf8Error> {
        match self {
            Message::Text(t) => Ok(t),
            Message::Close(Some(r)) => Ok(r.reason),
            other => Utf8Bytes::try_from_bytes(other.into_payload()).map_err(|(_, e)| e),
        }
    }

    /// The payload as `&str` when it is valid UTF-8 (always for `Text`), as
    /// [`Message::into_text`] without taking the message.
    pub fn to_text(&self) -> Result<&str, Utf8Error> {
        match self {
            Message::Text(t) => Ok(t),
            other => ws_simd::from_utf8(other.as_payload()),
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_of_every_kind_of_message() {
        assert_eq!(Message::text("héllo").to_text().unwrap(), "héllo");
        assert_eq!(Message::binary(&b"bin"[..]).to_text().unwrap(), "bin");
        assert_eq!(Message::ping(&b"p"[..]).into_text().unwrap(), "p");
        assert_eq!(Message::close(1000u16, "bye").into_text().unwrap(), "bye");
        assert_eq!(Message::Close(None).into_text().unwrap(), "");
        let bad = Message::binary(vec![b'a', 0xC3]);
        assert_eq!(bad.to_text().unwrap_err().valid_up_to(), 1);
        assert_eq!(bad.into_text().unwrap_err().valid_up_to(), 1);
    }

    #[test]
    fn kind_predicates_and_into_data() {
        let ping = Message::ping(&b"x"[..]);
        assert!(ping.is_ping() && ping.is_control() && !ping.is_pong() && !ping.is_close());
        assert!(Message::pong(Bytes::new()).is_pong());
        assert!(Message::Close(None).is_close());
        assert_eq!(Message::text("abc").into_data(), &b"abc"[..]);
    }
}
