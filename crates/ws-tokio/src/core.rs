//! The engine shared by [`WebSocketStream`](crate::WebSocketStream) and the split halves: it
//! moves bytes between a ws-proto [`Connection`] and an `AsyncRead + AsyncWrite`, and turns the
//! connection's deadlines into one tokio timer.
//!
//! Reading parks on the caller's context. Writing done on the reader's behalf (flushing pongs
//! and close replies) parks on `write_waker` when one is given: the split halves pass a fan-out
//! waker there, so that whichever half registered last with the socket, both are woken. The
//! unsplit stream passes `None` and parks on its one context.
//!
//! The timers run on every path that waits: reading, and also writing (`poll_ready`,
//! `poll_flush`, `poll_close`), so a peer that neither reads nor sends cannot hold a task in
//! `send` past `send_timeout` (or `close` past `close_timeout`). The split halves poll the one
//! timer with the fan-out waker, so its expiry wakes whichever half waits.

use std::cell::RefCell;
use std::io::{self, IoSlice};
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker, ready};
use std::time::Instant;

use crate::Error;
use bytes::BytesMut;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::Sleep;
use ws_proto::{Connection, Error as ProtoError, Message, TimeoutKind, TransportAction};

/// How many output chunks one vectored write takes.
const MAX_IOVECS: usize = 16;

/// The size of a read while the connection holds no receive buffer: room for the typical small
/// message that wakes an idle connection.
const PROBE_SIZE: usize = 1024;

pub(crate) struct Core<S> {
    pub(crate) io: S,
    pub(crate) conn: Connection,
    /// One timer for every deadline of the connection; allocated on first use.
    timer: Option<Pin<Box<Sleep>>>,
    /// The deadline the timer is set to. The connection's deadline moves only when its timers
    /// are checked (reads do not move it), so the timer is reset a few times per interval.
    timer_at: Option<Instant>,
    /// The waker the timer was last polled with.
    timer_waker: Option<Waker>,
    /// The time the timer last fired (or the stream was made, or a close started, or a send
    /// was about to fail with backpressure): the `now` reads and sends report. The clock is
    /// never read per message: a read only marks the connection active, and a send starts a
    /// deadline only when it fails.
    now: Instant,
    /// The transport is finished: shut down, failed, or ended by the peer.
    io_done: bool,
    /// The stream reported its end (`None`).
    finished: bool,
    /// Our side of the byte stream is shut down (FIN sent).
    shut_down: bool,
    /// The subprotocol the opening handshake selected. Kept here so split halves carry it.
    pub(crate) subprotocol: Option<String>,
    /// A deadline tore the connection down while output was stuck (the peer stopped reading):
    /// the transport is shut down and every later call reports this at once.
    failure: Option<TimeoutKind>,
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
            timer_waker: None,
            now: tokio::time::Instant::now().into_std(),
            io_done: false,
            finished: false,
            shut_down: false,
            subprotocol: None,
            failure: None,
        }
    }

    /// Write out everything queued, then flush the transport.
    pub(crate) fn poll_write_out(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.conn.wants_write() {
            let chunk = self.conn.transmit_chunk();
            let n = if chunk.len() == self.conn.buffered_output() {
                // One contiguous chunk (the corked small frames): a plain write, without
                // building an iovec array.
                ready!(Pin::new(&mut self.io).poll_write(cx, chunk))?
            } else if self.io.is_write_vectored() {
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
            return Err(Error::from(e));
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
        // The timer wakes both halves of a split stream (the fan-out waker), else this task.
        let timer_waker = write_waker.unwrap_or(cx.waker());
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
                    return Poll::Ready(Some(Err(e.into())));
                }
            }

            if self.conn.is_closed() {
                if let Some(kind) = self.failure {
                    // Torn down on the send path (by the other half, or an earlier call; a
                    // teardown always leaves the connection closed): report it once, then end.
                    self.finished = true;
                    return Poll::Ready(Some(Err(ProtoError::Timeout(kind).into())));
                }
                return self.poll_finish(cx, write_waker, timer_waker);
            }

            if let Err(e) = self.write_opportunistically(cx, write_waker) {
                self.finished = true;
                return Poll::Ready(Some(Err(e)));
            }

            match self.poll_read(cx) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(e)) => {
                    self.finished = true;
                    self.io_done = true;
                    return Poll::Ready(Some(Err(Error::from(e))));
                }
                Poll::Pending => {}
            }

            // Nothing to read: before sleeping, handle what is due and arm the timer. (A peer
            // that never lets reads go pending still reaches this: tokio's cooperative budget
            // makes a read pending after a while.)
            match self.poll_timers(timer_waker) {
                Poll::Ready(Ok(())) => continue,
                Poll::Ready(Err(ProtoError::Timeout(TimeoutKind::Send))) => {
                    // Our output is stuck: nothing more can be written, so no close handshake.
                    self.finished = true;
                    let e = self.tear_down(TimeoutKind::Send, timer_waker);
                    return Poll::Ready(Some(Err(e)));
                }
                Poll::Ready(Err(e)) => {
                    let _ = self.write_opportunistically(cx, write_waker);
                    return Poll::Ready(Some(Err(e.into())));
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// Read once into the connection's buffer.
    fn poll_read(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if !self.conn.has_read_buffer() {
            return self.poll_read_probe(cx);
        }
        let buf = self.conn.read_buf();
        let n = ready!(pin!(self.io.read_buf(buf)).poll(cx))?;
        // A read only marks the connection active (its deadlines move when the timer is
        // checked), so the time last seen does and the clock is not read per message.
        self.conn.handle_read(n, self.now);
        Poll::Ready(Ok(()))
    }

    /// Read once while the connection holds no receive buffer (it is new, or gave its buffers
    /// back while quiet): into a small buffer shared by the connections of this thread, so that
    /// a connection waiting for its peer holds no buffer memory. What arrives is copied in,
    /// which allocates the connection's buffer; the next read goes straight into it.
    ///
    /// It reads through the same `read_buf` path as [`Core::poll_read`] (a `BytesMut`), which
    /// keeps the compiler's inlining of the hot path as it was without this one.
    #[cold]
    #[inline(never)]
    fn poll_read_probe(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        thread_local! {
            static PROBE: RefCell<BytesMut> = RefCell::new(BytesMut::new());
        }
        PROBE.with(|probe| {
            let Ok(mut probe) = probe.try_borrow_mut() else {
                // The probe is in use further up this thread's stack: our transport is itself
                // driven by another stream reading through it (a tunnel, a proxy). Read into
                // this connection's own buffer instead.
                let buf = self.conn.read_buf();
                let n = ready!(pin!(self.io.read_buf(buf)).poll(cx))?;
                self.conn.handle_read(n, self.now);
                return Poll::Ready(Ok(()));
            };
            probe.clear();
            probe.reserve(PROBE_SIZE);
            let n = ready!(pin!(self.io.read_buf(&mut *probe)).poll(cx))?;
            if n == 0 {
                self.conn.handle_read(0, self.now);
            } else {
                self.conn.feed(&probe[..n], self.now);
            }
            probe.clear();
            Poll::Ready(Ok(()))
        })
    }

    /// Fire what is due. `Ready(Ok)` when something was handled (poll again), `Pending` when
    /// the timer is armed for the next deadline (or there is none).
    ///
    /// The clock is read only when the timer fires: a deadline in the past makes the timer fire
    /// at once.
    fn poll_timers(&mut self, waker: &Waker) -> Poll<Result<(), ProtoError>> {
        let Some(deadline) = self.conn.poll_timeout() else {
            return Poll::Pending;
        };
        let timer = match &mut self.timer {
            Some(timer) if self.timer_at == Some(deadline) => {
                // Armed for this deadline already. Polling a tokio timer costs a couple of
                // hundred instructions, which the echo path would pay on every message: skip
                // it while it has not fired and our task is the one it will wake.
                let same_task = self
                    .timer_waker
                    .as_ref()
                    .is_some_and(|w| w.will_wake(waker));
                if same_task && !timer.is_elapsed() {
                    return Poll::Pending;
                }
                timer
            }
            Some(timer) => {
                timer
                    .as_mut()
                    .reset(tokio::time::Instant::from_std(deadline));
                self.timer_at = Some(deadline);
                timer
            }
            None => {
                let at = tokio::time::Instant::from_std(deadline);
                self.timer_at = Some(deadline);
                self.timer.insert(Box::pin(tokio::time::sleep_until(at)))
            }
        };
        if timer
            .as_mut()
            .poll(&mut Context::from_waker(waker))
            .is_ready()
        {
            self.timer_at = None;
            self.now = tokio::time::Instant::now().into_std();
            return Poll::Ready(self.conn.handle_timeout(self.now));
        }
        if !self
            .timer_waker
            .as_ref()
            .is_some_and(|w| w.will_wake(waker))
        {
            self.timer_waker = Some(waker.clone());
        }
        Poll::Pending
    }

    /// The close handshake is over (or the connection failed): end the transport as the
    /// connection's [`TransportAction`]s say (write out what is queued, shut down, read until
    /// the peer's end, all bounded by the close deadline). The sequence itself lives in
    /// ws-proto ([`Connection::transport_action`]); this only carries it out.
    fn poll_finish(
        &mut self,
        cx: &mut Context<'_>,
        write_waker: Option<&Waker>,
        timer_waker: &Waker,
    ) -> Poll<Option<Result<Message, Error>>> {
        // Bounded: every pass writes, reads, shuts down, or handles a deadline (the close
        // deadline ends the waiting; tokio's cooperative budget makes a peer that never stops
        // sending go pending, which reaches the timer).
        while !self.io_done {
            match self.conn.transport_action() {
                TransportAction::Continue => {
                    if self.conn.wants_write() {
                        match self.poll_write_with(cx, write_waker) {
                            Poll::Ready(Ok(())) => continue,
                            Poll::Ready(Err(_)) => {
                                self.io_done = true;
                                break;
                            }
                            // The peer is not taking our output: the close deadline bounds it.
                            Poll::Pending => {}
                        }
                    } else {
                        // Read and discard (the connection drops what arrives once closed)
                        // until the peer's end.
                        let buf = self.conn.read_buf();
                        match pin!(self.io.read_buf(buf)).poll(cx) {
                            Poll::Ready(Ok(n)) => {
                                self.conn.handle_read(n, self.now);
                                continue;
                            }
                            Poll::Ready(Err(_)) => {
                                self.conn.handle_eof();
                                continue;
                            }
                            Poll::Pending => {}
                        }
                    }
                    if self.poll_timers(timer_waker).is_pending() {
                        return Poll::Pending;
                    }
                    // A deadline was handled (the close deadline ending the wait, say): ask
                    // again.
                }
                TransportAction::Shutdown => {
                    // A failed shutdown changes nothing: the stream is released next.
                    let _ = ready!(self.poll_shutdown_with(cx, write_waker));
                    self.shut_down = true;
                    self.conn.handle_shutdown();
                }
                _ => self.io_done = true,
            }
        }
        self.finished = true;
        Poll::Ready(None)
    }

    fn poll_shutdown_with(
        &mut self,
        cx: &mut Context<'_>,
        write_waker: Option<&Waker>,
    ) -> Poll<io::Result<()>> {
        match write_waker {
            Some(waker) => Pin::new(&mut self.io).poll_shutdown(&mut Context::from_waker(waker)),
            None => Pin::new(&mut self.io).poll_shutdown(cx),
        }
    }

    /// Room for another message: waits while `write_buffer_size` bytes or more are queued,
    /// until they are written out (or a deadline fails the connection).
    ///
    /// A teardown (`failure`) always leaves the connection closed, so it is looked for only on
    /// the paths a closed connection takes: nothing is added to the echo path.
    pub(crate) fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.conn.state() != ws_proto::State::Open {
            return Poll::Ready(Err(self.closed_error()));
        }
        if self.conn.buffered_output() >= self.conn.config().write_buffer_size {
            ready!(self.poll_write_timed(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    /// Room for a message of `len` bytes: [`poll_ready`](Self::poll_ready), and, when what is
    /// queued plus the message would go beyond `max_backpressure`, until the queue is written
    /// out (a message alone is always taken). So a task that waits before sending never fails
    /// with `Backpressure` because of a few bytes queued ahead of it (a pong, a close reply,
    /// output held up behind another HTTP/2 stream's window). Nothing on the echo path: the
    /// queue is empty when it sends.
    pub(crate) fn poll_ready_for(
        &mut self,
        cx: &mut Context<'_>,
        len: usize,
    ) -> Poll<Result<(), Error>> {
        ready!(self.poll_ready(cx))?;
        let buffered = self.conn.buffered_output();
        if buffered > 0 && buffered.saturating_add(len) > self.conn.config().max_backpressure {
            ready!(self.poll_write_timed(cx))?;
        }
        Poll::Ready(Ok(()))
    }

    pub(crate) fn start_send(&mut self, message: Message) -> Result<(), Error> {
        match message {
            // A close starts a deadline: it reads the clock.
            Message::Close(reason) if self.conn.state() == ws_proto::State::Open => {
                self.close(reason)
            }
            message => {
                let buffered = self.conn.buffered_output();
                if buffered > 0
                    && buffered.saturating_add(message.len()) > self.conn.config().max_backpressure
                {
                    // This send fails with `Backpressure` (the peer stopped reading) and starts
                    // the close deadline: give it the current time, not the timer's last fire.
                    // Never taken on the echo path (nothing queued when it sends).
                    self.refresh_now();
                }
                self.conn.send(message, self.now).map_err(|e| match e {
                    ProtoError::ConnectionClosed => self.closed_error(),
                    e => e.into(),
                })
            }
        }
    }

    /// Why nothing more can be sent: the teardown's timeout, or the connection is closed.
    #[cold]
    fn closed_error(&self) -> Error {
        match self.failure {
            Some(kind) => ProtoError::Timeout(kind).into(),
            None => ProtoError::ConnectionClosed.into(),
        }
    }

    /// Read the clock (cold: once per close, or per failing send).
    #[cold]
    fn refresh_now(&mut self) {
        self.now = self.now.max(tokio::time::Instant::now().into_std());
    }

    /// Start the close handshake. Its deadline counts from now: the clock is read (once per
    /// connection, unlike per message).
    pub(crate) fn close(&mut self, reason: Option<ws_proto::CloseReason>) -> Result<(), Error> {
        if let Some(kind) = self.failure {
            return Err(ProtoError::Timeout(kind).into());
        }
        self.refresh_now();
        Ok(self.conn.close(reason, self.now)?)
    }

    pub(crate) fn poll_flush(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if self.io_done {
            // A teardown also ends the transport.
            if let Some(kind) = self.failure {
                return Poll::Ready(Err(ProtoError::Timeout(kind).into()));
            }
            return if self.conn.wants_write() {
                Poll::Ready(Err(ProtoError::ConnectionClosed.into()))
            } else {
                Poll::Ready(Ok(()))
            };
        }
        self.poll_write_timed(cx)
    }

    /// Write out everything queued, running the timers while the transport does not take it:
    /// a deadline that passes meanwhile (the send timeout, or the close timeout once a close
    /// frame is queued) tears the connection down and is returned.
    #[inline]
    fn poll_write_timed(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        match self.poll_write_out(cx) {
            Poll::Ready(Ok(())) => Poll::Ready(Ok(())),
            Poll::Ready(Err(e)) => Poll::Ready(Err(self.io_error(e))),
            Poll::Pending => self.poll_write_stalled(cx),
        }
    }

    /// [`Core::poll_write_timed`] once the transport stopped taking bytes: off the echo path.
    #[cold]
    #[inline(never)]
    fn poll_write_stalled(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        // Bounded: every ready pass of the timers handles a deadline or fails.
        loop {
            match self.poll_timers(cx.waker()) {
                // A deadline was handled (it may have queued a frame): write again.
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(ProtoError::Timeout(kind))) => {
                    return Poll::Ready(Err(self.tear_down(kind, cx.waker())));
                }
                // Another failure queued its close frame: try to write it, then report.
                Poll::Ready(Err(e)) => {
                    let _ = self.poll_write_out(cx);
                    return Poll::Ready(Err(e.into()));
                }
                Poll::Pending => return Poll::Pending,
            }
            match self.poll_write_out(cx) {
                Poll::Ready(Ok(())) => return Poll::Ready(Ok(())),
                Poll::Ready(Err(e)) => return Poll::Ready(Err(self.io_error(e))),
                Poll::Pending => {}
            }
        }
    }

    /// A deadline passed while our output was stuck: give up on the transport (shut it down
    /// without waiting: the peer is not taking our bytes) and make every later call report
    /// `kind`. Wakes `waker` (the fan-out waker of split halves) so that a half parked
    /// elsewhere sees it.
    fn tear_down(&mut self, kind: TimeoutKind, waker: &Waker) -> Error {
        self.failure = Some(kind);
        if !self.io_done && !self.shut_down {
            let _ = Pin::new(&mut self.io).poll_shutdown(&mut Context::from_waker(waker));
            self.shut_down = true;
        }
        self.io_done = true;
        waker.wake_by_ref();
        ProtoError::Timeout(kind).into()
    }

    /// Send a close frame (1000) if none went out yet, and write everything out.
    pub(crate) fn poll_close(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Error>> {
        if let Some(kind) = self.failure {
            return Poll::Ready(Err(ProtoError::Timeout(kind).into()));
        }
        if self.conn.state() == ws_proto::State::Open {
            self.close(Some(ws_proto::CloseReason::new(
                ws_proto::CloseCode::NORMAL,
                "",
            )))?;
        }
        self.poll_flush(cx)
    }

    fn io_error(&mut self, e: io::Error) -> Error {
        self.io_done = true;
        Error::from(e)
    }
}
