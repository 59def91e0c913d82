//! [`WebSocketStream`]: a WebSocket over any `AsyncRead + AsyncWrite`.

use std::future::poll_fn;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::{
    CloseCode, CloseReason, Config, Connection, Extension, MaskKeySource, Message, Role, State,
    Utf8Bytes,
};

use crate::Error;
use crate::core::Core;
use crate::split::{self, SplitReader, SplitWriter};

/// A WebSocket connection over a byte stream whose opening handshake is done.
///
/// It is a [`Stream`] of received messages and a [`Sink`] of messages to send, and has inherent
/// async methods for the common cases. Pings are answered and close frames replied to while you
/// read, without your help: keep reading (or hold a [`SplitReader`] that a task polls).
///
/// Output is corked: messages queued with [`Sink::start_send`] (or `SinkExt::feed`) collect in
/// one buffer and go out in one write on flush; large payloads are written with vectored I/O
/// straight from their `Bytes`, without a copy.
///
/// ```no_run
/// use sockudo_ws_doc::*;
/// # mod sockudo_ws_doc { pub use ws_tokio::*; pub use ws_proto::*; }
/// # async fn run(tcp: tokio::net::TcpStream) -> Result<(), ws_tokio::Error> {
/// let mut ws = WebSocketStream::server(tcp, Config::default());
/// while let Some(message) = ws.recv().await {
///     let message = message?;
///     if message.is_text() || message.is_binary() {
///         ws.send(message).await?;
///     }
/// }
/// # Ok(()) }
/// ```
pub struct WebSocketStream<S> {
    pub(crate) core: Core<S>,
}

impl<S> std::fmt::Debug for WebSocketStream<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSocketStream")
            .field("role", &self.core.conn.role())
            .field("state", &self.core.conn.state())
            .finish_non_exhaustive()
    }
}

impl<S> WebSocketStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// The server end of an upgraded stream.
    pub fn server(io: S, config: Config) -> Self {
        Self::from_parts(io, Role::Server, config, BytesMut::new(), None)
    }

    /// The client end of an upgraded stream.
    pub fn client(io: S, config: Config) -> Self {
        Self::from_parts(io, Role::Client, config, BytesMut::new(), None)
    }

    /// A stream whose handshake read past its end: `read_ahead` holds the first WebSocket bytes,
    /// which are processed before anything is read from `io`. `extension` is what the handshake
    /// negotiated (e.g. permessage-deflate).
    pub fn from_parts(
        io: S,
        role: Role,
        config: Config,
        read_ahead: BytesMut,
        extension: Option<Box<dyn Extension>>,
    ) -> Self {
        let now = tokio::time::Instant::now().into_std();
        let mut conn = Connection::new(role, config, now);
        if let Some(ext) = extension {
            conn.set_extension(ext);
        }
        conn.feed(&read_ahead, now);
        WebSocketStream {
            core: Core::new(io, conn),
        }
    }

    /// The next message, or `None` once the connection has ended.
    ///
    /// Pings are answered and close frames replied to on the way. After an error, the next call
    /// finishes closing the transport and returns `None`.
    ///
    /// Cancel safety: safe. A message is taken out of the connection only in the poll that
    /// returns it, so dropping the future loses nothing.
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Poll form of [`WebSocketStream::recv`].
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        self.core.poll_next(cx, None)
    }

    /// Send a message and flush it.
    ///
    /// Waits for room for the whole message: while `write_buffer_size` bytes or more are
    /// queued, and while what is queued plus this message would go beyond `max_backpressure`
    /// (a message alone is always taken). So it never fails with
    /// [`Backpressure`](crate::ConnectionError::Backpressure) because of output queued ahead
    /// of it (a pong, a close reply).
    ///
    /// Never waits forever: while it waits for the peer to take our output, the connection's
    /// timers run, and a peer that takes nothing for `send_timeout` fails the connection with
    /// a [`TimeoutKind::Send`](crate::TimeoutKind::Send) timeout ([`Error::timeout_kind`]): the transport is
    /// shut down and every later call returns that error at once.
    ///
    /// Cancel safety: the message is queued in the first poll that finds room for it; dropping
    /// the future after that leaves it queued (it goes out with the next write or flush), and
    /// dropping it before leaves nothing queued. Either way no message is torn.
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let mut message = Some(message.into());
        // One poll function for the three steps (room, queue, flush): one state machine
        // instead of three nested ones, on the hottest path of an echo server.
        poll_fn(|cx| {
            if let Some(m) = message.take() {
                if self.core.poll_ready_for(cx, m.len())?.is_pending() {
                    message = Some(m);
                    return Poll::Pending;
                }
                self.core.start_send(m)?;
            }
            self.core.poll_flush(cx)
        })
        .await
    }

    /// Send a text message and flush it. Cancel safety: as [`WebSocketStream::send`].
    pub async fn send_text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
        self.send(Message::Text(text.into())).await
    }

    /// Send a binary message and flush it. Cancel safety: as [`WebSocketStream::send`].
    pub async fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.send(Message::Binary(data.into())).await
    }

    /// Send a ping (at most 125 bytes) and flush it. Cancel safety: as
    /// [`WebSocketStream::send`].
    pub async fn ping(&mut self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.send(Message::Ping(data.into())).await
    }

    /// Queue a message without flushing (corking): many small messages then go out in one
    /// write at the next flush. Waits only for room, as [`WebSocketStream::send`] (the output
    /// buffer over `write_buffer_size`, or no room for this message within
    /// `max_backpressure`), bounded by `send_timeout`.
    ///
    /// Cancel safety: as [`WebSocketStream::send`].
    pub async fn feed(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        poll_fn(|cx| self.core.poll_ready_for(cx, message.len())).await?;
        self.core.start_send(message)
    }

    /// Write out everything queued, bounded by `send_timeout` as [`WebSocketStream::send`].
    ///
    /// Cancel safety: safe; what was written stays written and the rest stays queued.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.core.poll_flush(cx)).await
    }

    /// Start the close handshake with `code` and `reason` and flush the close frame. Keep
    /// reading to receive the peer's reply (the stream then ends).
    ///
    /// Against a peer that does not read, the close frame cannot go out: the wait ends within
    /// `close_timeout` with a [`TimeoutKind::Close`](crate::TimeoutKind::Close) timeout ([`Error::timeout_kind`])
    /// and the transport is shut down.
    ///
    /// Cancel safety: the close frame is queued at the first poll; dropping the future later
    /// leaves it queued for the next flush.
    pub async fn close(
        &mut self,
        code: impl Into<CloseCode>,
        reason: impl Into<Utf8Bytes>,
    ) -> Result<(), Error> {
        let reason = CloseReason::new(code, reason);
        if self.core.conn.state() == State::Open {
            self.core.close(Some(reason))?;
        }
        self.flush().await
    }

    /// The subprotocol the opening handshake selected (`Sec-WebSocket-Protocol`), if any: for
    /// a client, the one the server chose among those offered; for a server, the one it
    /// answered with.
    pub fn subprotocol(&self) -> Option<&str> {
        self.core.subprotocol.as_deref()
    }

    /// Records the subprotocol the handshake selected, for a transport that runs its own
    /// opening handshake (HTTP/2, HTTP/3) and builds the stream with
    /// [`from_parts`](Self::from_parts); [`subprotocol`](Self::subprotocol) reports it.
    pub fn set_subprotocol(&mut self, subprotocol: Option<String>) {
        self.core.subprotocol = subprotocol;
    }

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        self.core.conn.state()
    }

    /// True once the connection is closed (the stream then ends after writing what is queued).
    pub fn is_closed(&self) -> bool {
        self.core.conn.is_closed()
    }

    /// Draw this client's masking keys from `source` instead of the operating system's CSPRNG
    /// (see [`MaskKeySource`]); a server never uses it. A failing source fails the call that
    /// needed a key with [`ws_proto::Error::Random`] (in [`Error::Connection`]) and closes the
    /// connection, without a close frame.
    ///
    /// ```
    /// use ws_proto::{MaskKeySource, RandomError};
    /// use ws_tokio::{Config, WebSocketStream};
    ///
    /// #[derive(Debug)]
    /// struct Zero;
    /// impl MaskKeySource for Zero {
    ///     fn fill(&mut self, dst: &mut [u8]) -> Result<(), RandomError> {
    ///         dst.fill(0); // predictable: tests only
    ///         Ok(())
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let (io, mut peer) = tokio::io::duplex(1024);
    /// let mut ws = WebSocketStream::client(io, Config::default());
    /// ws.set_mask_key_source(Box::new(Zero));
    /// ws.send_text("hi").await.unwrap();
    /// let mut wire = [0u8; 8];
    /// tokio::io::AsyncReadExt::read_exact(&mut peer, &mut wire).await.unwrap();
    /// assert_eq!(wire, [0x81, 0x82, 0, 0, 0, 0, b'h', b'i']);
    /// # }
    /// ```
    pub fn set_mask_key_source(&mut self, source: Box<dyn MaskKeySource>) {
        self.core.conn.set_mask_key_source(source);
    }

    /// The underlying sans-IO connection.
    pub fn connection(&self) -> &Connection {
        &self.core.conn
    }

    /// The underlying byte stream.
    pub fn get_ref(&self) -> &S {
        &self.core.io
    }

    /// The underlying byte stream, mutably. Reading or writing it directly corrupts the
    /// WebSocket stream.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.core.io
    }

    /// Split into a reader (a `Stream`) and a writer (a `Sink`) that two tasks can drive
    /// concurrently. Pings and close frames are still answered by the reader, even while the
    /// writer is busy. [`reunite`] puts them back together.
    pub fn split(self) -> (SplitReader<S>, SplitWriter<S>) {
        split::split(self)
    }

    /// Deadline of the next timer (for diagnostics).
    pub fn next_deadline(&self) -> Option<Instant> {
        self.core.conn.poll_timeout()
    }
}

/// Put split halves back together. Fails (returning both) when they come from different streams.
pub fn reunite<S>(
    reader: SplitReader<S>,
    writer: SplitWriter<S>,
) -> Result<WebSocketStream<S>, split::ReuniteError<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    split::reunite(reader, writer)
}

impl<S> Stream for WebSocketStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<S> Sink<Message> for WebSocketStream<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().core.poll_ready(cx)
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.get_mut().core.start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().core.poll_flush(cx)
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.get_mut().core.poll_close(cx)
    }
}
