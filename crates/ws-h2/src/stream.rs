//! [`H2Stream`]: one HTTP/2 stream as a byte pipe (`AsyncRead + AsyncWrite`).

use crate::client::Lease;
use bytes::Bytes;
use h2::{RecvStream, SendStream};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Most bytes one `poll_write` hands to HTTP/2 at once (and so asks flow control for).
const MAX_WRITE: usize = 64 << 10;

/// An HTTP/2 stream (the request and response bodies of an extended CONNECT) as a byte
/// transport: [`WebSocketStream`](ws_tokio::WebSocketStream) runs over it exactly as over TCP.
///
/// Flow control is HTTP/2's own:
/// - reading: a DATA frame's bytes are given back to the peer's window (stream and
///   connection) as they are copied out to the reader, so the peer can send as much as the
///   application reads, and no more than a window ahead of it;
/// - writing: a write waits until the peer's window (and the local send buffer) has room,
///   so a peer that stops reading makes the writer wait, which is what the WebSocket's
///   `send`/`Sink` backpressure and `send_timeout` see.
///
/// Shutting the write half down (`AsyncWriteExt::shutdown`, which the WebSocket does after
/// its close handshake) ends the stream with END_STREAM; the peer's END_STREAM reads as end of
/// file. Dropping the stream ends it the same way, after what was written (see `Drop`), and
/// `h2` resets it if the peer is still sending; [`reset`](Self::reset) aborts it at once with
/// RST_STREAM, discarding what was not sent yet.
pub struct H2Stream {
    send: SendStream<Bytes>,
    recv: RecvStream,
    /// Received bytes not yet copied out (the rest of the last DATA frame).
    pending: Bytes,
    /// The peer ended its side (END_STREAM).
    read_done: bool,
    /// This side sent END_STREAM or reset the stream.
    write_done: bool,
    /// A client stream keeps its connection's task from its final countdown (see
    /// `H2Connection`).
    _lease: Option<Arc<Lease>>,
}

impl std::fmt::Debug for H2Stream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("H2Stream")
            .field("stream_id", &u32::from(self.recv.stream_id()))
            .field("pending", &self.pending.len())
            .field("read_done", &self.read_done)
            .field("write_done", &self.write_done)
            .finish()
    }
}

impl H2Stream {
    /// The stream of an accepted (server) or opened (client) extended CONNECT: `send` writes
    /// this side's DATA, `recv` reads the peer's.
    pub fn new(send: SendStream<Bytes>, recv: RecvStream) -> Self {
        H2Stream {
            send,
            recv,
            pending: Bytes::new(),
            read_done: false,
            write_done: false,
            _lease: None,
        }
    }

    pub(crate) fn with_lease(mut self, lease: Arc<Lease>) -> Self {
        self._lease = Some(lease);
        self
    }

    /// The HTTP/2 stream identifier.
    pub fn stream_id(&self) -> u32 {
        self.recv.stream_id().into()
    }

    /// Aborts the stream: RST_STREAM with `reason` (e.g. [`h2::Reason::CANCEL`]). Later
    /// reads and writes fail; the other streams of the connection are not touched.
    pub fn reset(&mut self, reason: h2::Reason) {
        self.send.send_reset(reason);
        self.write_done = true;
    }

    /// Why the stream can no longer send: the peer's RST_STREAM (or GOAWAY) as
    /// `ConnectionReset` with its reason, as reads report it, else `BrokenPipe`.
    ///
    /// `h2` answers a stream that was reset while a write waited for its window with "no
    /// more capacity" and no reason; the reason is asked for here. (Asking registers no waker
    /// that matters: the write fails now.)
    fn closed_error(&mut self, cx: &mut Context<'_>) -> io::Error {
        match self.send.poll_reset(cx) {
            Poll::Ready(Ok(reason)) => {
                io::Error::new(io::ErrorKind::ConnectionReset, h2::Error::from(reason))
            }
            Poll::Ready(Err(e)) => to_io(e),
            Poll::Pending => io::ErrorKind::BrokenPipe.into(),
        }
    }
}

/// An `h2` error as an I/O error: the transport's own I/O errors as they were, a reset of this
/// stream as `ConnectionReset`, anything else as `Other`, the `h2::Error` kept as the source.
pub(crate) fn to_io(e: h2::Error) -> io::Error {
    if e.is_io() {
        return e
            .into_io()
            .unwrap_or_else(|| io::Error::other("HTTP/2 I/O error"));
    }
    let kind = if e.is_reset() || e.is_go_away() {
        io::ErrorKind::ConnectionReset
    } else {
        io::ErrorKind::Other
    };
    io::Error::new(kind, e)
}

impl AsyncRead for H2Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if !this.pending.is_empty() {
                let n = this.pending.len().min(buf.remaining());
                buf.put_slice(&this.pending.split_to(n));
                // The bytes are ours now: give them back to the peer's windows. An error means
                // the stream is already gone, which the next poll_data reports.
                let _ = this.recv.flow_control().release_capacity(n);
                return Poll::Ready(Ok(()));
            }
            if this.read_done || buf.remaining() == 0 {
                return Poll::Ready(Ok(()));
            }
            match ready!(this.recv.poll_data(cx)) {
                Some(Ok(data)) => this.pending = data,
                Some(Err(e)) => return Poll::Ready(Err(to_io(e))),
                None => {
                    this.read_done = true;
                    return Poll::Ready(Ok(()));
                }
            }
        }
    }
}

impl Drop for H2Stream {
    /// Ends the stream as a TCP socket's close ends a connection: what was written goes out
    /// first, then END_STREAM (a WebSocket dropped right after an error still delivers the
    /// close frame the error queued). `h2` then resets the stream if the peer is still
    /// sending (`NO_ERROR` from a server, after its complete response, which RFC 9113
    /// section 8.1 tells clients not to treat as a failure; `CANCEL` from a client).
    fn drop(&mut self) {
        if !self.write_done {
            let _ = self.send.send_data(Bytes::new(), true);
        }
    }
}

impl AsyncWrite for H2Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if this.write_done {
            return Poll::Ready(Err(io::ErrorKind::BrokenPipe.into()));
        }
        let want = buf.len().min(MAX_WRITE);
        // h2 wakes a capacity waiter when capacity is assigned; a wake-up with none left
        // (taken back by a window change) asks again. Bounded so that a misbehaving wake-up
        // loop yields to the runtime instead of spinning here.
        for _ in 0..4 {
            let mut capacity = this.send.capacity();
            if capacity == 0 {
                // Assigned at once when the windows have room (h2 assigns in
                // `reserve_capacity`), else later by the connection's task.
                this.send.reserve_capacity(want);
                capacity = this.send.capacity();
            }
            if capacity > 0 {
                let n = capacity.min(want);
                this.send
                    .send_data(Bytes::copy_from_slice(&buf[..n]), false)
                    .map_err(to_io)?;
                return Poll::Ready(Ok(n));
            }
            match ready!(this.send.poll_capacity(cx)) {
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(to_io(e))),
                // The stream can no longer send: say why.
                None => return Poll::Ready(Err(this.closed_error(cx))),
            }
        }
        cx.waker().wake_by_ref();
        Poll::Pending
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        // The connection's task writes DATA frames out as the window allows; there is
        // nothing buffered here.
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.write_done {
            this.write_done = true;
            this.send.send_data(Bytes::new(), true).map_err(to_io)?;
        }
        Poll::Ready(Ok(()))
    }
}
