//! The engine shared by [`WebSocketStream`](crate::WebSocketStream) and the split halves: it
//! moves bytes between a ws-proto [`Connection`] and an `AsyncRead + AsyncWrite`, and turns the
//! connection's deadlines into one tokio timer.
//!
//! Reading parks on the caller's context. Writing done on the reader's behalf (flushing pongs
//! and close replies) parks on `write_waker` when one is given: the split halves pass a fan-out
//! waker there, so that whichever half registered last with the socket, both are woken. The
//! unsplit stream passes `None` and parks on its one context.

use std::io::{self, IoSlice};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker, ready};
use std::time::Instant;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::Sleep;
use ws_proto::{Connection, Error, Message, Role};

/// How many output chunks one vectored write takes.
const MAX_IOVECS: usize = 16;

pub(crate) struct Core<S> {
    pub(crate) io: S,
    pub(crate) conn: Connection,
    /// One timer for every deadline of the connection; allocated on first use.
    timer: Option<Pin<Box<Sleep>>>,
    /// What the timer is set to. It may be earlier than the connection's next deadline (reads
    /// push deadlines later, and resetting a timer on every read costs more than one spurious
    /// wake-up): when it fires, `handle_timeout` does what is due and the timer is set again.
    timer_at: Option<Instant>,
    /// The transport is finished: shut down, failed, or ended by the peer.
    io_done: bool,
    /// The stream reported its end (`None`).
    finished: bool,
}

impl<S> Core<S>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    pub(crate) fn new(io: S, conn: Connection) -> Self {
        Core {
            io,
            conn,
            timer: None,
            timer_at: None,
            io_done: false,
            finished: false,
        }
    }

    /// Write out everything queued, then flush the transport.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            let n = if self.io.is_write_vectored() {
                let mut slices = [IoSlice::new(&[]); MAX_IOVECS];
                let count = self.conn.transmit_slices(&mut slices);
                if count == 1 {
                    ready!(Pin::new(&mut self.io).poll_write(cx, &slices[0]))?
                } else {
                    ready!(Pin::new(&mut self.io).poll_write_vectored(cx, &slices[..count]))?
                }
            } else {
                ready!(Pin::new(&mut self.io).poll_write(cx, self.conn.transmit_chunk()))?
            };
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.conn.advance_transmit(n);
        }
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_write_with(
        &mut self,
        cx: &mut Context<'_>,
        write_waker: Option<&Waker>,
    ) -> Poll<io::Result<()>> {
        match write_waker {
            Some(waker) => self.poll_write_out(&mut Context::from_waker(waker)),
            None => self.poll_write_out(cx),
        }
    }

    /// Write what is queued without waiting; an I/O error ends the connection.
    fn write_opportunistically(
        &mut self,
        cx: &mut Context<'_>,
        write_waker: Option<&Waker>,
    ) -> Result<(), Error> {
        if self.conn.wants_write()
            && let Poll::Ready(Err(e)) = self.poll_write_with(cx, write_waker)
        {
            self.io_done = true;
            return Err(Error::Io(e));
        }
        Ok(())
    }

    /// The next message, answering pings and close frames and running the timers on the way.
    pub(crate) fn poll_next(
        &mut self,
        cx: &mut Context<'_>,
        write_waker: Option<&Waker>,
    ) -> Poll<Option<Result<Message, Error>>> {
        if self.finished {
            return Poll::Ready(None);
        }
        // Bounded: every pass either returns or makes progress (a read, a timer, a write).
        loop {
            match self.conn.poll_message() {
                Ok(Some(message)) => {
                    if let Err(e) = self.write_opportunistically(cx, write_waker) {
                        self.finished = true;
                        return Poll::Ready(Some(Err(e)));
                    }
                    return Poll::Ready(Some(Ok(message)));
                }
                Ok(None) => {}
                Err(e) => {
                    // The close frame for this error is queued; try to get it out now. The
                    // next poll finishes the shutdown.
                    let _ = self.write_opportunistically(cx, write_waker);
                    return Poll::Ready(Some(Err(e)));
                }
            }

            if self.conn.is_closed() {
                return self.poll_finish(cx, write_waker);
            }

            if let Err(e) = self.write_opportunistically(cx, write_waker) {
                self.finished = true;
                return Poll::Ready(Some(Err(e)));
            }

            match self.poll_timers(cx) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(e)) => {
                    let _ = self.write_opportunistically(cx, write_waker);
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Pending => {}
            }

            match ready!(self.poll_read(cx)) {
                Ok(()) => {}
                Err(e) => {
                    self.finished = true;
                    self.io_done = true;
                    return Poll::Ready(Some(Err(Error::Io(e))));
                }
            }
        }
    }

    /// Read once into the connection's buffer.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let buf = self.conn.read_buf();
        let n = ready!(pin!(self.io.read_buf(buf)).poll(cx))?;
        let now = tokio::time::Instant::now().into_std();
        self.conn.handle_read(n, now);
        Poll::Ready(Ok(()))
    }

    /// Fire what is due. `Ready(Ok)` when something was handled (poll again), `Pending` when
    /// the timer is armed for the next deadline (or there is none).
    ///
    /// The clock is read only when the timer fires: a deadline in the past makes the timer fire
    /// at once.
    fn poll_timers(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        let Some(deadline) = self.conn.poll_timeout() else {
            return Poll::Pending;
        };
        if self.timer_at.is_none_or(|at| deadline < at) {
            let at = tokio::time::Instant::from_std(deadline);
            match &mut self.timer {
                Some(timer) => timer.as_mut().reset(at),
                None => self.timer = Some(Box::pin(tokio::time::sleep_until(at))),
            }
            self.timer_at = Some(deadline);
        }
        if let Some(timer) = &mut self.timer
            && timer.as_mut().poll(cx).is_ready()
        {
            self.timer_at = None;
            let now = tokio::time::Instant::now().into_std();
            return Poll::Ready(self.conn.handle_timeout(now));
        }
        Poll::Pending
    }

    /// The close handshake is over (or the connection failed): write out what is queued and end
    /// the transport. The server ends it at once; a client first waits for the server to end it
    /// (RFC 6455 section 7.1.1), at most until the close deadline.
    fn poll_finish(
        &mut self,
        cx: &mut Context<'_>,
        write_waker: Option<&Waker>,
    ) -> Poll<Option<Result<Message, Error>>> {
        if !self.io_done {
            if self.conn.wants_write() && ready!(self.poll_write_with(cx, write_waker)).is_err() {
                self.io_done = true;
            }
            if !self.io_done && self.conn.role() == Role::Client {
                // Wait for the server's FIN (or the deadline), discarding anything else.
                loop {
                    match self.poll_timers(cx) {
                        Poll::Ready(Ok(())) => continue,
                        Poll::Ready(Err(_)) => break,
                        Poll::Pending => {}
                    }
                    if self.conn.poll_timeout().is_none() {
                        break;
                    }
                    let buf = self.conn.read_buf();
                    buf.clear();
                    match ready!(pin!(self.io.read_buf(buf)).poll(cx)) {
                        Ok(0) | Err(_) => break,
                        Ok(_) => continue,
                    }
                }
            }
            if !self.io_done {
                let _ = match write_waker {
                    Some(waker) => {
                        ready!(
                            Pin::new(&mut self.io).poll_shutdown(&mut Context::from_waker(waker))
                        )
                    }
                    None => ready!(Pin::new(&mut self.io).poll_shutdown(cx)),
                };
                self.io_done = true;
            }
        }
        self.finished = true;
        Poll::Ready(None)
    }

    /// Room for another message: waits while more than `write_buffer_size` bytes are queued.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.conn.state() != ws_proto::State::Open {
            return Poll::Ready(Err(Error::ConnectionClosed));
        }
        if self.conn.buffered_output() >= self.conn.config().write_buffer_size {
            ready!(self.poll_write_out(cx)).map_err(|e| self.io_error(e))?;
        }
        Poll::Ready(Ok(()))
    }

    pub(crate) fn start_send(&mut self, message: Message) -> Result<(), Error> {
        self.conn.send(message)
    }

    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.io_done {
            return if self.conn.wants_write() {
                Poll::Ready(Err(Error::ConnectionClosed))
            } else {
                Poll::Ready(Ok(()))
            };
        }
        ready!(self.poll_write_out(cx)).map_err(|e| self.io_error(e))?;
        Poll::Ready(Ok(()))
    }

    /// Send a close frame (1000) if none went out yet, and write everything out.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.conn.state() == ws_proto::State::Open {
            self.conn.close(Some(ws_proto::CloseReason::new(
                ws_proto::CloseCode::NORMAL,
                "",
            )))?;
        }
        self.poll_flush(cx)
    }

    fn io_error(&mut self, e: io::Error) -> Error {
        self.io_done = true;
        Error::Io(e)
    }
}
