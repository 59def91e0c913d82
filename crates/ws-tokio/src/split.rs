//! Split halves: a reader and a writer that two tasks drive at once.
//!
//! Both halves share the connection behind a mutex that is held only inside a poll, never across
//! an await, so one half never blocks the other. Only the reader reads the socket. Both may write
//! (the reader flushes pongs and close replies), and a socket keeps only one write waker, so
//! every write parks on a fan-out waker that wakes both halves: whichever registered last, no
//! wake-up is lost.

use std::fmt;
use std::future::poll_fn;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};

use crate::Error;
use bytes::Bytes;
use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use ws_proto::{CloseCode, CloseReason, Message, State, Utf8Bytes};

use crate::core::Core;
use crate::stream::WebSocketStream;

#[derive(Default)]
struct FanOut {
    reader: Mutex<Option<Waker>>,
    writer: Mutex<Option<Waker>>,
}

impl FanOut {
    fn register(slot: &Mutex<Option<Waker>>, waker: &Waker) {
        let mut slot = slot.lock().unwrap_or_else(|p| p.into_inner());
        match &*slot {
            Some(w) if w.will_wake(waker) => {}
            _ => *slot = Some(waker.clone()),
        }
    }

    fn wake_slot(slot: &Mutex<Option<Waker>>) {
        let waker = slot.lock().unwrap_or_else(|p| p.into_inner()).clone();
        if let Some(w) = waker {
            w.wake();
        }
    }
}

impl Wake for FanOut {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        FanOut::wake_slot(&self.reader);
        FanOut::wake_slot(&self.writer);
    }
}

struct Shared<S> {
    core: Mutex<Core<S>>,
    fan_out: Arc<FanOut>,
    write_waker: Waker,
}

impl<S> Shared<S> {
    fn lock(&self) -> MutexGuard<'_, Core<S>> {
        // A panic in another half's poll leaves the connection as it was between two polls,
        // which is a consistent state: keep going.
        self.core.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The reading half of a split [`WebSocketStream`]: a [`Stream`] of messages.
///
/// Keep polling it: it answers pings, replies to close frames and runs the timers.
pub struct SplitReader<S> {
    shared: Arc<Shared<S>>,
}

/// The writing half of a split [`WebSocketStream`]: a [`Sink`] of messages.
pub struct SplitWriter<S> {
    shared: Arc<Shared<S>>,
}

impl<S> fmt::Debug for SplitReader<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplitReader").finish_non_exhaustive()
    }
}

impl<S> fmt::Debug for SplitWriter<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SplitWriter").finish_non_exhaustive()
    }
}

pub(crate) fn split<S>(stream: WebSocketStream<S>) -> (SplitReader<S>, SplitWriter<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let fan_out = Arc::new(FanOut::default());
    let shared = Arc::new(Shared {
        core: Mutex::new(stream.core),
        write_waker: Waker::from(fan_out.clone()),
        fan_out,
    });
    (
        SplitReader {
            shared: shared.clone(),
        },
        SplitWriter { shared },
    )
}

/// The halves given to [`reunite`](crate::reunite) came from different streams.
pub struct ReuniteError<S>(pub SplitReader<S>, pub SplitWriter<S>);

impl<S> fmt::Debug for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ReuniteError(..)")
    }
}

impl<S> fmt::Display for ReuniteError<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("tried to reunite halves of two different WebSocket streams")
    }
}

impl<S> std::error::Error for ReuniteError<S> {}

pub(crate) fn reunite<S>(
    reader: SplitReader<S>,
    writer: SplitWriter<S>,
) -> Result<WebSocketStream<S>, ReuniteError<S>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    if !Arc::ptr_eq(&reader.shared, &writer.shared) {
        return Err(ReuniteError(reader, writer));
    }
    drop(writer);
    let shared = match Arc::try_unwrap(reader.shared) {
        Ok(shared) => shared,
        Err(_) => unreachable!("both halves were given, so no other reference exists"),
    };
    let core = shared.core.into_inner().unwrap_or_else(|p| p.into_inner());
    Ok(WebSocketStream { core })
}

impl<S> SplitReader<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    /// The next message, or `None` once the connection has ended.
    ///
    /// Cancel safety: safe, as [`WebSocketStream::recv`].
    pub async fn recv(&mut self) -> Option<Result<Message, Error>> {
        poll_fn(|cx| self.poll_recv(cx)).await
    }

    /// Poll form of [`SplitReader::recv`].
    pub fn poll_recv(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Message, Error>>> {
        let shared = &*self.shared;
        FanOut::register(&shared.fan_out.reader, cx.waker());
        let mut core = shared.lock();
        let before = core.conn.buffered_output();
        let poll = core.poll_next(cx, Some(&shared.write_waker));
        let drained = core.conn.buffered_output() < before;
        drop(core);
        if drained {
            // Room appeared in the output buffer: a writer waiting for it may go on.
            FanOut::wake_slot(&shared.fan_out.writer);
        }
        poll
    }

    /// True once the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().conn.is_closed()
    }
}

impl<S> SplitWriter<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    fn with_core<R>(
        &self,
        cx: &mut Context<'_>,
        f: impl FnOnce(&mut Core<S>, &mut Context<'_>) -> R,
    ) -> R {
        let shared = &*self.shared;
        FanOut::register(&shared.fan_out.writer, cx.waker());
        let mut write_cx = Context::from_waker(&shared.write_waker);
        let mut core = shared.lock();
        f(&mut core, &mut write_cx)
    }

    /// Send a message and flush it. Bounded by `send_timeout` as [`WebSocketStream::send`]; a
    /// send timeout also ends the reader half, with the same error.
    ///
    /// Cancel safety: as [`WebSocketStream::send`].
    pub async fn send(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        poll_fn(|cx| self.with_core(cx, |core, cx| core.poll_ready_for(cx, message.len()))).await?;
        self.shared.lock().start_send(message)?;
        self.flush().await
    }

    /// Send a text message and flush it. Cancel safety: as [`WebSocketStream::send`].
    pub async fn send_text(&mut self, text: impl Into<Utf8Bytes>) -> Result<(), Error> {
        self.send(Message::Text(text.into())).await
    }

    /// Send a binary message and flush it. Cancel safety: as [`WebSocketStream::send`].
    pub async fn send_binary(&mut self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.send(Message::Binary(data.into())).await
    }

    /// Send a ping (at most 125 bytes) and flush it; the reader receives the pong. Cancel
    /// safety: as [`WebSocketStream::send`].
    pub async fn ping(&mut self, data: impl Into<Bytes>) -> Result<(), Error> {
        self.send(Message::Ping(data.into())).await
    }

    /// Queue a message without flushing (corking), as [`WebSocketStream::feed`]: waits only
    /// while the output buffer is over `write_buffer_size`, bounded by `send_timeout`.
    ///
    /// Cancel safety: as [`WebSocketStream::send`].
    pub async fn feed(&mut self, message: impl Into<Message>) -> Result<(), Error> {
        let message = message.into();
        poll_fn(|cx| self.with_core(cx, |core, cx| core.poll_ready_for(cx, message.len()))).await?;
        self.shared.lock().start_send(message)
    }

    /// Write out everything queued, bounded by `send_timeout`. Cancel safety: safe.
    pub async fn flush(&mut self) -> Result<(), Error> {
        poll_fn(|cx| self.with_core(cx, |core, cx| core.poll_flush(cx))).await
    }

    /// Start the close handshake and flush the close frame; the reader receives the reply.
    /// Against a peer that does not read, ends within `close_timeout` as
    /// [`WebSocketStream::close`].
    ///
    /// Cancel safety: as [`WebSocketStream::close`].
    pub async fn close(
        &mut self,
        code: impl Into<CloseCode>,
        reason: impl Into<Utf8Bytes>,
    ) -> Result<(), Error> {
        {
            let mut core = self.shared.lock();
            if core.conn.state() == State::Open {
                core.close(Some(CloseReason::new(code, reason)))?;
            }
        }
        self.flush().await
    }

    /// True once the connection is closed.
    pub fn is_closed(&self) -> bool {
        self.shared.lock().conn.is_closed()
    }
}

impl<S> Stream for SplitReader<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Item = Result<Message, Error>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        self.get_mut().poll_recv(cx)
    }
}

impl<S> Sink<Message> for SplitWriter<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    type Error = Error;

    fn poll_ready(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with_core(cx, |core, cx| core.poll_ready(cx))
    }

    fn start_send(self: Pin<&mut Self>, item: Message) -> Result<(), Error> {
        self.shared.lock().start_send(item)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with_core(cx, |core, cx| core.poll_flush(cx))
    }

    fn poll_close(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        self.with_core(cx, |core, cx| core.poll_close(cx))
    }
}
