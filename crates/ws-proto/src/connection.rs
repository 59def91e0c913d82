//! The sans-IO connection state machine.
//!
//! A [`Connection`] owns the receive buffer, the output queue and the protocol state of one
//! WebSocket, and nothing else: no socket, no runtime, no clock. A transport drives it:
//!
//! 1. read bytes into [`Connection::read_buf`] (or copy them in with [`Connection::feed`]) and
//!    report the read with [`Connection::handle_read`]; a completion-based transport instead
//!    takes the buffer out with [`Connection::take_read_buffer`] and hands it back filled with
//!    [`Connection::give_read_buffer`];
//! 2. take messages out with [`Connection::poll_message`] until it returns `Ok(None)`;
//! 3. queue outgoing messages with [`Connection::send`];
//! 4. write out what [`Connection::transmit_slices`] (or [`Connection::pop_transmit`]) offers
//!    and report it with [`Connection::advance_transmit`];
//! 5. sleep until [`Connection::poll_timeout`] and then call [`Connection::handle_timeout`];
//! 6. end the byte stream as [`Connection::transport_action`] says: shut down its sending side
//!    when asked, and drop it once the connection [`is_finished`](Connection::is_finished).
//!
//! The connection never reads a clock: every call that can start a timer or a deadline takes
//! `now` (`handle_read`, `send`, `close`, `handle_timeout`). `now` is the transport's idea of
//! the current time; a transport may pass a time it already knows instead of reading the clock
//! on every call (the time its timer last fired, say), and then deadlines started by that call
//! count from that time. Times never move backwards inside the connection. Deadlines started
//! without a `now` at hand (a close frame or a protocol error found by
//! [`Connection::poll_message`]) are armed at the next `handle_timeout`, which `poll_timeout`
//! asks for at once.
//!
//! Client masking keys come from the operating system's CSPRNG unless another
//! [`MaskKeySource`] is set ([`Connection::set_mask_key_source`]).
//!
//! ```
//! use std::time::Instant;
//! use ws_proto::{Config, Connection, Message, Role};
//!
//! let now = Instant::now();
//! let mut client = Connection::new(Role::Client, Config::default(), now);
//! let mut server = Connection::new(Role::Server, Config::default(), now);
//!
//! client.send(Message::from("hello"), now).unwrap();
//! while let Some(bytes) = client.pop_transmit() {
//!     server.feed(&bytes, now);
//! }
//! assert_eq!(server.poll_message().unwrap(), Some(Message::from("hello")));
//! ```

use crate::config::Config;
use crate::error::{CloseCode, Error, ProtocolError, TimeoutKind};
use crate::extension::Extension;
use crate::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use crate::mask_key::{KeySource, MaskKeySource};
use crate::message::{CloseReason, Message, Utf8Bytes};
use bytes::{Buf, Bytes, BytesMut};
use std::collections::VecDeque;
use std::io::IoSlice;
use std::time::Instant;
use ws_simd::Utf8Validator;

/// Which end of the connection this is. It decides masking: clients mask, servers do not.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// The accepting end.
    Server,
    /// The connecting end.
    Client,
}

/// Where the close handshake stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Messages flow both ways.
    Open,
    /// We sent a close frame and wait for the peer's.
    CloseSent,
    /// Both close frames were exchanged, or the connection failed: nothing more is read or sent.
    /// The transport writes out what is queued and ends the byte stream as
    /// [`Connection::transport_action`] says.
    Closed,
}

/// What the transport should do with its byte stream: see [`Connection::transport_action`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TransportAction {
    /// Carry on: write what is queued, read, and wait until [`Connection::poll_timeout`].
    Continue,
    /// End our sending side of the byte stream, then call [`Connection::handle_shutdown`].
    Shutdown,
    /// Nothing more to write or wait for: drop (close) the byte stream.
    Release,
}

/// Payloads at or below this size are copied into the cork buffer; larger ones are queued as
/// their own `Bytes` segment and written with vectored I/O, without a copy.
const CORK_COPY_MAX: usize = 1024;

/// Room reserved for the rest of a frame ahead of its bytes, in `read_buffer_size`s: the rest
/// of a smaller frame is reserved whole once its header is read; a larger frame's buffer grows
/// with the bytes received (see [`Connection::read_buf`]). So a header announcing a large frame
/// commits at most this much before its bytes arrive.
const GROWTH_STEP_RESTS: usize = 4;

/// A data frame whose header was read and whose payload is still arriving.
#[derive(Debug, Clone, Copy)]
struct FrameInProgress {
    header: FrameHeader,
    len: usize,
    /// Payload bytes already unmasked in place (and fed to the UTF-8 validator when it applies).
    processed: usize,
}

/// A data message being received.
#[derive(Debug)]
struct MessageInProgress {
    text: bool,
    /// The first frame carried the extension's RSV bits: payloads go through `decode`.
    transformed: bool,
    /// Fragments received so far (decoded when transformed); empty while the message is still
    /// a single frame.
    buf: BytesMut,
    /// A message of more than one frame.
    fragmented: bool,
}

/// Output waiting for the transport: frozen segments first, then the cork buffer.
#[derive(Debug, Default)]
struct Output {
    segments: VecDeque<Bytes>,
    cork: BytesMut,
    buffered: usize,
}

impl Output {
    fn freeze_cork(&mut self) {
        if !self.cork.is_empty() {
            self.segments.push_back(self.cork.split().freeze());
        }
    }
}

/// A sans-IO WebSocket connection (RFC 6455) for one role.
#[derive(Debug)]
pub struct Connection {
    role: Role,
    config: Config,
    state: State,
    extension: Option<Box<dyn Extension>>,
    ext_bits: u8,

    rx: BytesMut,
    /// `rx` holds an allocation (possibly all handed out): false when new and after
    /// `release_buffers`. A `BytesMut` of capacity 0 cannot tell a full buffer from none.
    rx_allocated: bool,
    /// `rx` sits in a large allocation (grown for a large frame, over `GROWTH_STEP_RESTS`
    /// resting sizes): payloads up to `read_buffer_size` are copied out of it rather than
    /// sliced, so that holding a small message does not pin the large buffer.
    rx_large: bool,
    /// A payload was handed out as a slice of `rx`'s allocation since it was last allocated or
    /// reclaimed: the allocation may be shared with messages the application holds.
    rx_lent: bool,
    /// The receive buffer is out with the transport ([`Connection::take_read_buffer`]),
    /// holding this many bytes when it was taken.
    rx_taken: Option<usize>,
    frame: Option<FrameInProgress>,
    message: Option<MessageInProgress>,
    utf8: Utf8Validator,

    out: Output,

    /// When activity was last seen (at a timer check), or the connection started.
    quiet_since: Instant,
    /// Bytes arrived since the last timer check. Reads only set this flag: the deadlines do
    /// not move on every read, so a transport's timer is not reset on every read either.
    heard: bool,
    /// When the timers were last checked.
    last_check: Instant,
    /// The next deadline, recomputed whenever something it depends on changes.
    deadline: Option<Instant>,
    /// Last `now` the transport told us.
    now: Instant,
    /// When an automatic ping went out and nothing has arrived since.
    ping_sent: Option<Instant>,
    /// Output was written since the last timer check. Like `heard`, writes only set this flag.
    sent: bool,
    /// The timer check since which queued output has made no progress (`send_timeout`).
    stalled_since: Option<Instant>,
    /// Deadline of the close handshake (or, once closed, of waiting for the transport to end).
    close_deadline: Option<Instant>,
    /// The connection closed where no `now` was at hand (inside `poll_message`): the close
    /// deadline is armed at the next `handle_timeout`.
    close_timer_unarmed: bool,
    ping_counter: u32,
    eof: bool,
    /// Where a client's masking keys come from.
    mask_keys: KeySource,
    /// The transport reported that it shut down its sending side.
    shutdown_done: bool,
    /// The close deadline passed while closed: the transport gives up on the rest of its output
    /// and on waiting for the peer.
    close_expired: bool,
}

/// A text message from its complete payload: [`Error::InvalidUtf8`] unless it is UTF-8.
fn text_message(data: Bytes) -> Result<Message, Error> {
    Utf8Bytes::try_from_bytes(data)
        .map(Message::Text)
        .map_err(|_| Error::InvalidUtf8)
}

impl Connection {
    /// A connection whose opening handshake is complete.
    pub fn new(role: Role, mut config: Config, now: Instant) -> Self {
        // The transports refuse an invalid config (`Config::validate`); a caller driving the
        // core directly with one still gets a buffer that can hold a frame header.
        config.read_buffer_size = config.read_buffer_size.max(Config::MIN_READ_BUFFER_SIZE);
        let mut conn = Connection {
            role,
            rx: BytesMut::new(),
            rx_allocated: false,
            rx_large: false,
            rx_lent: false,
            rx_taken: None,
            config,
            state: State::Open,
            extension: None,
            ext_bits: 0,
            frame: None,
            message: None,
            utf8: Utf8Validator::new(),
            out: Output::default(),
            quiet_since: now,
            heard: false,
            last_check: now,
            deadline: None,
            now,
            ping_sent: None,
            sent: false,
            stalled_since: None,
            close_deadline: None,
            close_timer_unarmed: false,
            ping_counter: 0,
            eof: false,
            mask_keys: KeySource::System,
            shutdown_done: false,
            close_expired: false,
        };
        conn.update_deadline();
        conn
    }

    /// Install the extension negotiated in the handshake (e.g. permessage-deflate).
    pub fn set_extension(&mut self, extension: Box<dyn Extension>) {
        self.ext_bits = extension.rsv_bits() & 0x70;
        self.extension = Some(extension);
    }

    /// Draw a client's masking keys from `source` instead of the default
    /// [`SystemMaskKeys`](crate::SystemMaskKeys) (the operating system's CSPRNG through a
    /// per-thread pool). A server sends no masked frames and never calls it.
    ///
    /// When the source fails, the call that needed a key (`send`, `close`, or `poll_message`
    /// answering a ping or a close frame) fails with [`Error::Random`] and the connection is
    /// closed without a close frame. See [`MaskKeySource`] for an example.
    pub fn set_mask_key_source(&mut self, source: Box<dyn MaskKeySource>) {
        self.mask_keys = KeySource::Custom(source);
    }

    /// The negotiated extension, if any.
    pub fn extension(&self) -> Option<&dyn Extension> {
        self.extension.as_deref()
    }

    /// This connection's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Where the close handshake stands.
    pub fn state(&self) -> State {
        self.state
    }

    /// True once nothing more will be read or sent (the queued output may still need writing).
    pub fn is_closed(&self) -> bool {
        self.state == State::Closed
    }

    // ------------------------------------------------------------------------------------------
    // Ending the transport
    // ------------------------------------------------------------------------------------------

    /// What the transport should do with its byte stream now. It encodes the end of a
    /// connection (RFC 6455 section 7.1.1), so that every transport ends it the same way:
    ///
    /// * while open, and once closed while queued output or the peer's end is awaited:
    ///   [`TransportAction::Continue`]: write what is queued, read (once closed, what arrives is
    ///   discarded; report the peer's end with `handle_read(0, now)` or
    ///   [`Connection::handle_eof`]) and wait until [`Connection::poll_timeout`];
    /// * once closed and the output is written, [`TransportAction::Shutdown`]: end our sending
    ///   side (TCP FIN, the end of an HTTP/2 or HTTP/3 stream) and report it with
    ///   [`Connection::handle_shutdown`]. The server does so at once; the client first waits for
    ///   the server's end, at most until the close deadline;
    /// * then, once the peer's end arrived or the close deadline passed,
    ///   [`TransportAction::Release`]: drop the byte stream. Reading until the peer's end first
    ///   matters: closing a socket with unread input makes the kernel send a reset, which can
    ///   destroy our close frame in flight.
    ///
    /// The close deadline bounds all of it: once it passes (`close_timeout` after the close
    /// handshake started or ended, see [`Connection::handle_timeout`]), output still stuck is
    /// given up ([`TransportAction::Release`] at once) and the wait for the peer's end stops.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use ws_proto::{Config, Connection, Role, TransportAction};
    ///
    /// let now = Instant::now();
    /// let mut client = Connection::new(Role::Client, Config::default(), now);
    /// client.close(None, now).unwrap();
    /// while let Some(_bytes) = client.pop_transmit() { /* written to the peer */ }
    /// // The server never answers: the client waits for `close_timeout`...
    /// assert_eq!(client.transport_action(), TransportAction::Continue);
    /// let deadline = client.poll_timeout().unwrap();
    /// assert_eq!(deadline, now + Duration::from_secs(5));
    /// assert!(client.handle_timeout(deadline).is_err());
    /// // ...then ends its side and lets go of the stream.
    /// assert_eq!(client.transport_action(), TransportAction::Shutdown);
    /// client.handle_shutdown();
    /// assert_eq!(client.transport_action(), TransportAction::Release);
    /// assert!(client.is_finished());
    /// ```
    pub fn transport_action(&self) -> TransportAction {
        if self.state != State::Closed {
            return TransportAction::Continue;
        }
        if self.out.buffered > 0 {
            return if self.close_expired {
                // The peer is not taking our output: give up on it.
                TransportAction::Release
            } else {
                TransportAction::Continue
            };
        }
        if !self.shutdown_done && (self.role == Role::Server || self.eof || self.close_expired) {
            return TransportAction::Shutdown;
        }
        if !self.eof && !self.close_expired {
            // Drain: read and discard until the peer's end or the deadline.
            return TransportAction::Continue;
        }
        TransportAction::Release
    }

    /// The transport shut down its sending side (after [`TransportAction::Shutdown`]), or
    /// tried to and failed: either way it is not asked again.
    pub fn handle_shutdown(&mut self) {
        self.shutdown_done = true;
    }

    /// True when nothing more is to be done with the byte stream
    /// ([`TransportAction::Release`]): the transport drops it.
    pub fn is_finished(&self) -> bool {
        self.transport_action() == TransportAction::Release
    }

    // ------------------------------------------------------------------------------------------
    // Receiving
    // ------------------------------------------------------------------------------------------

    /// The receive buffer, with room for the next read reserved. Append received bytes to it
    /// (e.g. with `read_buf`), then call [`Connection::handle_read`].
    ///
    /// It holds `read_buffer_size` bytes of free room at rest. Once a frame's header is read,
    /// room for the rest of the frame is reserved up to four times `read_buffer_size`; a larger
    /// frame's buffer grows with the bytes received, about doubling per step, up to what the
    /// frame still needs. So a header announcing megabytes commits only about what the peer
    /// actually sent, never the announced length up front. The buffer shrinks back once a large
    /// frame is consumed.
    ///
    /// ```
    /// use std::time::Instant;
    /// use ws_proto::{Config, Connection, Role};
    ///
    /// let now = Instant::now();
    /// let mut server = Connection::new(Role::Server, Config::default(), now);
    /// // A masked binary frame announcing 15 MiB, and then only 3 bytes of it.
    /// let mut wire = vec![0x82, 0x80 | 127];
    /// wire.extend_from_slice(&(15u64 << 20).to_be_bytes());
    /// wire.extend_from_slice(&[1, 2, 3, 4, 0xaa, 0xbb, 0xcc]);
    /// server.feed(&wire, now);
    /// assert_eq!(server.poll_message().unwrap(), None);
    /// // The buffer for the next read is sized by what arrived, not by what was announced.
    /// assert!(server.read_buf().capacity() <= 64 << 10);
    /// ```
    #[inline]
    pub fn read_buf(&mut self) -> &mut BytesMut {
        // Between frames with room to spare (nearly every read): nothing to do.
        if self.frame.is_none()
            && self.rx.capacity() - self.rx.len() >= self.config.read_buffer_size / 2
        {
            return &mut self.rx;
        }
        self.reserve_read()
    }

    /// [`Connection::read_buf`] when a frame is in progress or room is short.
    fn reserve_read(&mut self) -> &mut BytesMut {
        self.rx_allocated = true;
        let rest = self.config.read_buffer_size;
        // Room reserved for a frame ahead of its bytes is bounded by this step: beyond it the
        // buffer grows with the bytes that arrive.
        let step = GROWTH_STEP_RESTS * rest;
        // Payload bytes of the frame in progress that have not arrived yet.
        let remaining = match &self.frame {
            Some(f) => f.len - self.rx.len().min(f.len),
            None => 0,
        };
        let room = self.rx.capacity() - self.rx.len();
        let want = if remaining > step {
            // A large frame takes room for its whole rest when the buffer holds that much
            // already (the space of consumed frames, reclaimed without allocating, early while
            // little of the frame has to move): a run of large frames reuses one buffer.
            if room < remaining && self.rx.try_reclaim(remaining) {
                // Reclaimed: the allocation is ours alone again.
                self.rx_lent = false;
                self.rx_large = true;
                return &mut self.rx;
            }
            if room >= rest / 2 {
                return &mut self.rx;
            }
            // Otherwise the buffer grows by what it holds already (at least `step`), capped
            // by what the frame still needs: memory follows the bytes received, never the
            // length the header announced, and the capacity about doubles per step, so a
            // frame costs a logarithmic number of steps whose copies add up to less than its
            // size.
            remaining.min(step.max(self.rx.len()))
        } else {
            // The rest of a frame up to `step` must fit in one read; otherwise half the resting
            // size is room enough, so the buffer is not reserved (and its space reclaimed) on
            // every read of a small message, but about once per `rest / 2` bytes.
            if room >= remaining.max(rest / 2) {
                return &mut self.rx;
            }
            if self.rx_lent && room >= remaining.max(rest / 8) {
                if self.rx.try_reclaim(rest) {
                    // The messages sliced from it are gone: reused in place.
                    self.rx_lent = false;
                }
                // Otherwise messages the application holds share the buffer: leaving it now
                // would free nothing, so its room is used down to an eighth of the resting
                // size first, and held messages pin little more than their own bytes.
                return &mut self.rx;
            }
            remaining.max(rest)
        };
        // Reclaims the space of consumed frames when their `Bytes` are gone, or allocates.
        self.rx.reserve(want);
        if self.rx.is_empty() && self.rx.capacity() > 4 * want.max(remaining) {
            // A large frame has gone through and the next one (if any) is much smaller: give
            // the memory back.
            self.rx = BytesMut::with_capacity(want);
        }
        // Reclaimed or newly allocated: nothing handed out shares it any more.
        self.rx_lent = false;
        self.rx_large = self.rx.capacity() > step;
        &mut self.rx
    }

    /// Report that `n` bytes were appended to [`Connection::read_buf`] at `now`. `n == 0` means
    /// the peer closed the byte stream.
    ///
    /// A read only marks the connection as active; its deadlines move when the timers are
    /// checked. So `now` may be any recent time the transport already knows (the last timer
    /// check, say): reading the clock for every read is not needed.
    pub fn handle_read(&mut self, n: usize, now: Instant) {
        self.now = self.now.max(now);
        if self.state == State::Closed {
            // Nothing more is read once closed: drop what arrives instead of holding it.
            self.rx.clear();
        }
        if n == 0 {
            self.handle_eof();
        } else {
            self.heard = true;
        }
    }

    /// Take the receive buffer out, with room for the next read reserved as
    /// [`Connection::read_buf`] reserves it: for completion-based transports (io_uring, IOCP),
    /// which must own the buffer a read fills while the read is in flight, so nothing is
    /// borrowed across an await and nothing is copied. Append the received bytes to it (e.g.
    /// into its spare capacity) and hand it back with [`Connection::give_read_buffer`].
    ///
    /// Until it is back, the connection has no received bytes to work on: `poll_message`
    /// returns `Ok(None)`, and [`Connection::read_buf`] and [`Connection::feed`] must not be
    /// used. Sending, writing and the timers work as usual.
    ///
    /// ```
    /// use std::time::Instant;
    /// use ws_proto::{Config, Connection, Message, Role};
    ///
    /// let now = Instant::now();
    /// let mut server = Connection::new(Role::Server, Config::default(), now);
    /// let mut buf = server.take_read_buffer();
    /// assert!(buf.capacity() - buf.len() >= 4096);
    /// // ... the kernel completes a read into the buffer's spare capacity ...
    /// buf.extend_from_slice(&[0x81, 0x82, 0, 0, 0, 0, b'h', b'i']);
    /// server.give_read_buffer(buf, now).unwrap();
    /// assert_eq!(server.poll_message().unwrap(), Some(Message::from("hi")));
    /// ```
    pub fn take_read_buffer(&mut self) -> BytesMut {
        let buf = std::mem::take(self.read_buf());
        self.rx_taken = Some(buf.len());
        buf
    }

    /// Hand back the buffer taken with [`Connection::take_read_buffer`], with the bytes
    /// received since appended (none is fine). The bytes are reported as read at `now`, as by
    /// [`Connection::handle_read`]; a read that found the peer's end is reported with
    /// [`Connection::handle_eof`] after giving the buffer back.
    ///
    /// Fails with [`Error::InvalidInput`] (changing nothing) when no buffer is out, or when the
    /// one given back is shorter than it was when taken (its bytes must stay in place).
    pub fn give_read_buffer(&mut self, buf: BytesMut, now: Instant) -> Result<(), Error> {
        let Some(taken_len) = self.rx_taken else {
            return Err(Error::InvalidInput(
                "give_read_buffer without take_read_buffer",
            ));
        };
        if buf.len() < taken_len {
            return Err(Error::InvalidInput(
                "read buffer given back shorter than it was taken",
            ));
        }
        self.rx_taken = None;
        self.rx = buf;
        self.rx_allocated = true;
        let n = self.rx.len() - taken_len;
        if n > 0 {
            self.handle_read(n, now);
        }
        Ok(())
    }

    /// Copy received bytes in (for transports that own their buffers).
    pub fn feed(&mut self, data: &[u8], now: Instant) {
        if data.is_empty() {
            return;
        }
        self.read_buf().extend_from_slice(data);
        self.handle_read(data.len(), now);
    }

    /// The peer closed the byte stream. Messages already received are still delivered; then
    /// [`Connection::poll_message`] reports [`Error::ConnectionReset`] unless the close
    /// handshake was complete.
    pub fn handle_eof(&mut self) {
        self.eof = true;
    }

    /// Bytes received but not yet turned into messages.
    pub fn buffered_input(&self) -> usize {
        self.rx.len()
    }

    /// Whether the connection holds a receive buffer. It holds none when new, and again once a
    /// quiet connection gave its buffers back (see [`Connection::handle_timeout`]). A transport
    /// that wants waiting connections to hold no buffer memory reads into a small buffer of its
    /// own while this is false and hands what arrives to [`Connection::feed`], instead of
    /// calling [`Connection::read_buf`] (which allocates `read_buffer_size`).
    pub fn has_read_buffer(&self) -> bool {
        self.rx_allocated
    }

    /// The next complete message from the received bytes.
    ///
    /// `Ok(None)` means more bytes are needed, or the connection is closed. Pings are answered
    /// (a pong is queued) and still reported; a close frame is answered and reported as
    /// [`Message::Close`], after which the connection is [`State::Closed`]. On an error the
    /// matching close frame (1002, 1007, 1009, ...) is queued, the connection is closed, and
    /// the error is returned once.
    pub fn poll_message(&mut self) -> Result<Option<Message>, Error> {
        if self.state == State::Closed {
            return Ok(None);
        }
        match self.read_message() {
            Ok(Some(m)) => Ok(Some(m)),
            Ok(None) if self.eof && self.state != State::Closed => {
                // The byte stream ended without a close handshake: nothing can be sent back.
                // What is still queued gets the close deadline to go out.
                self.frame = None;
                self.message = None;
                self.enter_closed(None);
                Err(Error::ConnectionReset)
            }
            Ok(None) => Ok(None),
            Err(e) => {
                // No `now` here: see `close_frame`.
                self.fail(&e, None);
                Err(e)
            }
        }
    }

    fn read_message(&mut self) -> Result<Option<Message>, Error> {
        loop {
            let frame = match self.frame {
                Some(f) => f,
                None => {
                    let Some((header, header_len)) = self.decode_header()? else {
                        return Ok(None);
                    };
                    if let Some(message) = self.whole_message(&header, header_len)? {
                        return Ok(Some(message));
                    }
                    self.begin_frame(header, header_len)?
                }
            };
            let avail = self.rx.len().min(frame.len);
            if avail < frame.len {
                self.process_partial(avail)?;
                return Ok(None);
            }
            self.frame = None;
            if let Some(m) = self.complete_frame(frame)? {
                return Ok(Some(m));
            }
            if self.state == State::Closed {
                return Ok(None);
            }
        }
    }

    /// Parse the next frame header and check what can be checked of it alone: masking,
    /// reserved bits, the frame size limit. The payload of a frame that breaks a limit is never
    /// buffered.
    fn decode_header(&mut self) -> Result<Option<(FrameHeader, usize)>, Error> {
        let Some((header, header_len)) = FrameHeader::decode(&self.rx)? else {
            return Ok(None);
        };
        match (self.role, header.mask.is_some()) {
            (Role::Server, false) => return Err(ProtocolError::UnmaskedFrame.into()),
            (Role::Client, true) => return Err(ProtocolError::MaskedFrame.into()),
            _ => {}
        }
        if header.rsv != 0 {
            let allowed = match header.opcode {
                OpCode::Text | OpCode::Binary => self.ext_bits,
                _ => 0,
            };
            if header.rsv & !allowed != 0 {
                return Err(ProtocolError::ReservedBits(header.rsv).into());
            }
        }
        if header.payload_len > self.config.max_frame_size as u64 {
            return Err(Error::FrameTooBig {
                size: header.payload_len,
                limit: self.config.max_frame_size,
            });
        }
        Ok(Some((header, header_len)))
    }

    /// The common case, taken in one step: a data frame that is a whole message (FIN, no
    /// extension bits, no fragmented message in progress) and whose payload is all here. It
    /// is unmasked, validated and returned without being tracked as a frame or message in
    /// progress. `None` (nothing consumed) for any other frame.
    fn whole_message(
        &mut self,
        header: &FrameHeader,
        header_len: usize,
    ) -> Result<Option<Message>, Error> {
        let len = header.payload_len as usize;
        let data = matches!(header.opcode, OpCode::Text | OpCode::Binary);
        if !data
            || !header.fin
            || header.rsv != 0
            || self.message.is_some()
            || self.rx.len() - header_len < len
        {
            return Ok(None);
        }
        self.check_message_size(len)?;
        self.rx.advance(header_len);
        if let Some(key) = header.mask {
            ws_simd::apply_mask(&mut self.rx[..len], key);
        }
        let payload = self.take_payload(len);
        if header.opcode == OpCode::Binary {
            return Ok(Some(Message::Binary(payload)));
        }
        text_message(payload).map(Some)
    }

    /// The next `len` received bytes, as an owned payload: a slice of the receive buffer (no
    /// copy), or, while the buffer is a large one, a copy of a payload of at most
    /// `read_buffer_size` bytes, so that a small message held by the application pins only its
    /// own bytes and not the large allocation.
    #[inline(always)]
    fn take_payload(&mut self, len: usize) -> Bytes {
        if self.rx_large && len <= self.config.read_buffer_size {
            return self.copy_payload(len);
        }
        self.rx_lent = true;
        self.rx.split_to(len).freeze()
    }

    #[cold]
    #[inline(never)]
    fn copy_payload(&mut self, len: usize) -> Bytes {
        let payload = Bytes::copy_from_slice(&self.rx[..len]);
        self.rx.advance(len);
        payload
    }

    /// A message of `size` bytes is within `max_message_size`.
    fn check_message_size(&self, size: usize) -> Result<(), Error> {
        let limit = self.config.max_message_size;
        if size > limit {
            return Err(Error::MessageTooBig {
                size: size as u64,
                limit,
            });
        }
        Ok(())
    }

    /// Start tracking a frame whose header was decoded (and consume the header): check it
    /// against the message in progress and the message size limit.
    fn begin_frame(
        &mut self,
        header: FrameHeader,
        header_len: usize,
    ) -> Result<FrameInProgress, Error> {
        let len = header.payload_len as usize;
        match header.opcode {
            OpCode::Text | OpCode::Binary => {
                if self.message.is_some() {
                    return Err(ProtocolError::ExpectedContinuation.into());
                }
                let transformed = header.rsv & self.ext_bits != 0;
                if !transformed {
                    self.check_message_size(len)?;
                }
                let text = header.opcode == OpCode::Text;
                if text {
                    self.utf8.reset();
                }
                self.message = Some(MessageInProgress {
                    text,
                    transformed,
                    buf: BytesMut::new(),
                    fragmented: !header.fin,
                });
            }
            OpCode::Continuation => {
                let Some(m) = &self.message else {
                    return Err(ProtocolError::UnexpectedContinuation.into());
                };
                if !m.transformed {
                    self.check_message_size(m.buf.len() + len)?;
                }
            }
            OpCode::Close | OpCode::Ping | OpCode::Pong => {}
        }
        self.rx.advance(header_len);
        let frame = FrameInProgress {
            header,
            len,
            processed: 0,
        };
        self.frame = Some(frame);
        Ok(frame)
    }

    /// Whether the current frame's payload is fed to the UTF-8 validator as it arrives.
    fn validates_incrementally(&self, frame: &FrameInProgress) -> bool {
        !frame.header.opcode.is_control()
            && self
                .message
                .as_ref()
                .is_some_and(|m| m.text && !m.transformed)
    }

    /// Part of a frame's payload is here: unmask it and, for text, validate it now, so invalid
    /// UTF-8 fails as soon as it arrives rather than when the frame is complete.
    fn process_partial(&mut self, avail: usize) -> Result<(), Error> {
        let Some(mut frame) = self.frame else {
            return Ok(());
        };
        if avail <= frame.processed {
            return Ok(());
        }
        let new = frame.processed..avail;
        if let Some(key) = frame.header.mask {
            ws_simd::apply_mask_offset(&mut self.rx[new.clone()], key, frame.processed);
        }
        if self.validates_incrementally(&frame) {
            self.utf8
                .feed(&self.rx[new])
                .map_err(|_| Error::InvalidUtf8)?;
        }
        frame.processed = avail;
        self.frame = Some(frame);
        Ok(())
    }

    /// A whole frame's payload is in `rx`: consume it.
    // Out of line: the common case (a whole message in one read) never gets here, and inlined
    // this grows `poll_message`'s prologue for every message.
    #[inline(never)]
    fn complete_frame(&mut self, frame: FrameInProgress) -> Result<Option<Message>, Error> {
        if let Some(key) = frame.header.mask {
            ws_simd::apply_mask_offset(
                &mut self.rx[frame.processed..frame.len],
                key,
                frame.processed,
            );
        }
        let payload = self.take_payload(frame.len);
        match frame.header.opcode {
            OpCode::Text | OpCode::Binary | OpCode::Continuation => self.data_frame(frame, payload),
            OpCode::Ping => {
                if self.state == State::Open {
                    self.check_backpressure(payload.len())?;
                    self.queue_frame(OpCode::Pong, 0, &payload, true)?;
                }
                Ok(Some(Message::Ping(payload)))
            }
            OpCode::Pong => Ok(Some(Message::Pong(payload))),
            OpCode::Close => self.close_frame(payload).map(Some),
        }
    }

    fn data_frame(
        &mut self,
        frame: FrameInProgress,
        payload: Bytes,
    ) -> Result<Option<Message>, Error> {
        let fin = frame.header.fin;
        let Some(mut m) = self.message.take() else {
            return Err(ProtocolError::UnexpectedContinuation.into());
        };
        if m.transformed {
            let limit = self.config.max_message_size;
            let before = m.buf.len();
            let Some(ext) = self.extension.as_mut() else {
                return Err(ProtocolError::ReservedBits(frame.header.rsv).into());
            };
            ext.decode(&payload, fin, &mut m.buf, limit)?;
            self.check_message_size(m.buf.len())?;
            if m.text {
                self.utf8
                    .feed(&m.buf[before..])
                    .map_err(|_| Error::InvalidUtf8)?;
            }
        } else if m.text && (m.fragmented || frame.processed > 0) {
            // Fed piecewise: validate what has not been seen yet.
            let seen = frame.processed;
            self.utf8
                .feed(&payload[seen..])
                .map_err(|_| Error::InvalidUtf8)?;
        }

        if !fin {
            if !m.transformed {
                m.buf.extend_from_slice(&payload);
            }
            m.fragmented = true;
            self.message = Some(m);
            return Ok(None);
        }

        // The message is complete.
        let data = if m.transformed || m.fragmented {
            if !m.transformed {
                m.buf.extend_from_slice(&payload);
            }
            m.buf.freeze()
        } else {
            payload
        };
        if !m.text {
            return Ok(Some(Message::Binary(data)));
        }
        if m.transformed || m.fragmented || frame.processed > 0 {
            self.utf8.finish().map_err(|_| Error::InvalidUtf8)?;
        }
        // One validation for a text frame that arrived whole; a second (cheap, SIMD) pass for
        // one validated piecewise, as turning bytes into a `&str` needs its own proof.
        text_message(data).map(Some)
    }

    fn close_frame(&mut self, payload: Bytes) -> Result<Message, Error> {
        let reason = match payload.len() {
            0 => None,
            1 => return Err(ProtocolError::InvalidClosePayload.into()),
            _ => {
                let code = CloseCode(u16::from_be_bytes([payload[0], payload[1]]));
                if !code.is_sendable() {
                    return Err(ProtocolError::InvalidCloseCode(code.0).into());
                }
                let reason = Utf8Bytes::try_from_bytes(payload.slice(2..))
                    .map_err(|_| Error::InvalidUtf8)?;
                Some(CloseReason { code, reason })
            }
        };
        if self.state == State::Open {
            // Echo the status code (without the reason), as RFC 6455 section 5.5.1 suggests.
            let echo = match &reason {
                Some(r) => Bytes::copy_from_slice(&r.code.0.to_be_bytes()),
                None => Bytes::new(),
            };
            self.queue_frame(OpCode::Close, 0, &echo, true)?;
        }
        // No `now` here: the deadline is armed at the next `handle_timeout`, which
        // `poll_timeout` asks for at once.
        self.enter_closed(None);
        Ok(Message::Close(reason))
    }

    // ------------------------------------------------------------------------------------------
    // Sending
    // ------------------------------------------------------------------------------------------

    /// Queue a message for sending.
    ///
    /// Data messages above `fragment_size` are split into frames; the extension, if any,
    /// encodes data messages first. [`Message::Close`] starts (or answers) the close handshake;
    /// its code must be sendable and its reason at most 123 bytes. Pings and pongs carry at
    /// most 125 bytes.
    ///
    /// Fails with [`Error::ConnectionClosed`] after a close frame was sent, and with
    /// [`Error::Backpressure`] when the message would take the unsent output beyond
    /// `max_backpressure` (the peer is not reading; a message larger than the limit is
    /// accepted when nothing else is queued); that error closes the connection (1008). A client
    /// whose masking-key source fails gets [`Error::Random`] and the connection is closed.
    ///
    /// `now` is the current time: a send can start a deadline (a failing send starts the close
    /// deadline, [`Message::Close`] the close handshake's). It may be a time the transport
    /// already knows rather than a fresh clock reading (e.g. when its timer last fired); a
    /// deadline started here then counts from that time. Time never moves backwards: a `now`
    /// earlier than one already reported counts as the later one. A send that succeeds (and is
    /// not a close) starts nothing and costs no time bookkeeping.
    ///
    /// ```
    /// use std::time::Instant;
    /// use ws_proto::{Config, Connection, Message, Role};
    ///
    /// let now = Instant::now();
    /// let mut server = Connection::new(Role::Server, Config::default(), now);
    /// server.send(Message::from("hello"), now).unwrap();
    /// assert_eq!(&server.pop_transmit().unwrap()[..], b"\x81\x05hello");
    /// ```
    pub fn send(&mut self, message: Message, now: Instant) -> Result<(), Error> {
        if self.state != State::Open {
            return Err(Error::ConnectionClosed);
        }
        // `now` is used only where a deadline starts (a failure, a close): a send that
        // succeeds costs no time bookkeeping.
        match message {
            Message::Text(t) => self.send_data(OpCode::Text, t.into_bytes(), now),
            Message::Binary(b) => self.send_data(OpCode::Binary, b, now),
            Message::Ping(p) => self.send_control(OpCode::Ping, p, now),
            Message::Pong(p) => self.send_control(OpCode::Pong, p, now),
            Message::Close(reason) => self.close(reason, now),
        }
    }

    /// A send at `now` failed with `e`: fail the connection (its close deadline counts from
    /// `now`, or from a later time already reported) and return `e`.
    #[cold]
    #[inline(never)]
    fn send_failed(&mut self, e: Error, now: Instant) -> Error {
        self.now = self.now.max(now);
        let now = self.now;
        self.fail(&e, Some(now));
        e
    }

    fn send_data(&mut self, opcode: OpCode, payload: Bytes, now: Instant) -> Result<(), Error> {
        // Checked before compressing, against the uncompressed size (never smaller than what
        // is queued), so a refused message costs no compression.
        if let Err(e) = self.check_backpressure(payload.len()) {
            return Err(self.send_failed(e, now));
        }
        let (rsv, payload) = match self.extension.as_mut() {
            Some(ext) => match ext.encode(&payload, opcode == OpCode::Text) {
                Ok(encoded) => encoded,
                Err(e) => return Err(self.send_failed(Error::Extension(e), now)),
            },
            None => (0, payload),
        };
        let max = self.config.fragment_size.max(1);
        if payload.len() <= max {
            if let Err(e) = self.queue_frame(opcode, rsv, &payload, true) {
                return Err(self.send_failed(e, now));
            }
            return Ok(());
        }
        let mut offset = 0;
        let mut op = opcode;
        let mut rsv = rsv;
        while offset < payload.len() {
            let end = (offset + max).min(payload.len());
            let fin = end == payload.len();
            if let Err(e) = self.queue_frame(op, rsv, &payload.slice(offset..end), fin) {
                return Err(self.send_failed(e, now));
            }
            op = OpCode::Continuation;
            rsv = 0;
            offset = end;
        }
        Ok(())
    }

    fn send_control(&mut self, opcode: OpCode, payload: Bytes, now: Instant) -> Result<(), Error> {
        if payload.len() > 125 {
            return Err(Error::InvalidInput("control frame payload over 125 bytes"));
        }
        if let Err(e) = self.check_backpressure(payload.len()) {
            return Err(self.send_failed(e, now));
        }
        if let Err(e) = self.queue_frame(opcode, 0, &payload, true) {
            return Err(self.send_failed(e, now));
        }
        Ok(())
    }

    /// Start the close handshake (or do nothing if a close frame already went out).
    ///
    /// `None` sends a close frame without a status code. The close deadline (`close_timeout`)
    /// starts at `now`: the peer's close frame must arrive by then, and once it has, the
    /// transport gets the same time again to end the byte stream (see
    /// [`Connection::transport_action`]). As with [`Connection::send`], `now` may be a time the
    /// transport already knows; the deadline then counts from it.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// use ws_proto::{CloseCode, CloseReason, Config, Connection, Role, State};
    ///
    /// let now = Instant::now();
    /// let mut client = Connection::new(Role::Client, Config::default(), now);
    /// client.close(Some(CloseReason::new(CloseCode::NORMAL, "bye")), now).unwrap();
    /// assert_eq!(client.state(), State::CloseSent);
    /// assert_eq!(client.poll_timeout(), Some(now + Duration::from_secs(5)));
    /// ```
    pub fn close(&mut self, reason: Option<CloseReason>, now: Instant) -> Result<(), Error> {
        if now > self.now {
            self.now = now;
        }
        let now = self.now;
        if self.state != State::Open {
            return Ok(());
        }
        let mut payload = BytesMut::new();
        if let Some(r) = &reason {
            if !r.code.is_sendable() {
                return Err(Error::InvalidInput("close code may not be sent"));
            }
            if r.reason.len() > 123 {
                return Err(Error::InvalidInput("close reason over 123 bytes"));
            }
            payload.extend_from_slice(&r.code.0.to_be_bytes());
            payload.extend_from_slice(r.reason.as_bytes());
        }
        if let Err(e) = self.queue_frame(OpCode::Close, 0, &payload.freeze(), true) {
            self.fail(&e, Some(now));
            return Err(e);
        }
        self.state = State::CloseSent;
        self.close_timer_unarmed = false;
        self.close_deadline = Some(now + self.config.close_timeout);
        self.update_deadline();
        Ok(())
    }

    /// Room for `additional` more bytes of output within `max_backpressure`. A message larger
    /// than the limit is accepted when nothing is queued: it could never be sent otherwise.
    fn check_backpressure(&self, additional: usize) -> Result<(), Error> {
        let buffered = self.out.buffered;
        if buffered > 0 && buffered.saturating_add(additional) > self.config.max_backpressure {
            return Err(Error::Backpressure {
                buffered,
                limit: self.config.max_backpressure,
            });
        }
        Ok(())
    }

    /// Append one frame to the output. Fails (queueing nothing) only when a client's masking
    /// key source fails.
    #[inline]
    fn queue_frame(
        &mut self,
        opcode: OpCode,
        rsv: u8,
        payload: &Bytes,
        fin: bool,
    ) -> Result<(), Error> {
        let mask = match self.role {
            Role::Client => Some(self.mask_keys.next()?),
            Role::Server => None,
        };
        let header = FrameHeader {
            fin,
            rsv,
            opcode,
            mask,
            payload_len: payload.len() as u64,
        };
        let mut head = [0u8; MAX_HEADER_LEN];
        let head_len = header.encode_to_array(&mut head);
        let out = &mut self.out;
        out.buffered += head_len + payload.len();
        match mask {
            Some(key) => {
                // Masking needs its own bytes: mask while copying, in one pass.
                out.cork.reserve(head_len + payload.len());
                out.cork.extend_from_slice(&head[..head_len]);
                let start = out.cork.len();
                out.cork.resize(start + payload.len(), 0);
                ws_simd::copy_and_mask(&mut out.cork[start..], payload, key, 0);
            }
            None if payload.len() <= CORK_COPY_MAX => {
                out.cork.reserve(head_len + payload.len());
                // A copy of constant size compiles to a store, not a call to `memcpy`.
                match head_len {
                    2 => out.cork.extend_from_slice(&head[..2]),
                    4 => out.cork.extend_from_slice(&head[..4]),
                    _ => out.cork.extend_from_slice(&head[..head_len]),
                }
                out.cork.extend_from_slice(payload);
            }
            None => {
                out.cork.extend_from_slice(&head[..head_len]);
                out.freeze_cork();
                out.segments.push_back(payload.clone());
            }
        }
        Ok(())
    }

    /// Bytes queued for writing.
    pub fn buffered_output(&self) -> usize {
        self.out.buffered
    }

    /// True when there is output to write.
    pub fn wants_write(&self) -> bool {
        self.out.buffered > 0
    }

    /// Fill `dst` with the queued output in order, for a vectored write; returns how many
    /// slices were filled. Report what was written with [`Connection::advance_transmit`].
    pub fn transmit_slices<'a>(&'a self, dst: &mut [IoSlice<'a>]) -> usize {
        let mut n = 0;
        for seg in &self.out.segments {
            if n == dst.len() {
                return n;
            }
            dst[n] = IoSlice::new(seg);
            n += 1;
        }
        if n < dst.len() && !self.out.cork.is_empty() {
            dst[n] = IoSlice::new(&self.out.cork);
            n += 1;
        }
        n
    }

    /// The first queued chunk of output (borrowed), for transports that write one buffer.
    pub fn transmit_chunk(&self) -> &[u8] {
        match self.out.segments.front() {
            Some(seg) => seg,
            None => &self.out.cork,
        }
    }

    /// `n` bytes of the queued output were written.
    pub fn advance_transmit(&mut self, mut n: usize) {
        self.sent |= n > 0;
        let out = &mut self.out;
        debug_assert!(n <= out.buffered);
        n = n.min(out.buffered);
        if n == out.buffered {
            // Everything went out (the common case): clearing without advancing keeps the cork
            // buffer's start in place, so the next frame needs no reclaiming `reserve`.
            out.buffered = 0;
            out.segments.clear();
            out.cork.clear();
            if out.cork.capacity() > 4 * self.config.write_buffer_size.max(CORK_COPY_MAX) {
                out.cork = BytesMut::new();
            }
            return;
        }
        out.buffered -= n;
        while n > 0 {
            match out.segments.front_mut() {
                Some(seg) if seg.len() <= n => {
                    n -= seg.len();
                    out.segments.pop_front();
                }
                Some(seg) => {
                    seg.advance(n);
                    n = 0;
                }
                None => {
                    out.cork.advance(n);
                    n = 0;
                }
            }
        }
    }

    /// Take the next chunk of output as an owned buffer (for completion-based transports that
    /// must own what they write). Returns `None` when nothing is queued.
    pub fn pop_transmit(&mut self) -> Option<Bytes> {
        let chunk = match self.out.segments.pop_front() {
            Some(seg) => seg,
            None if !self.out.cork.is_empty() => self.out.cork.split().freeze(),
            None => return None,
        };
        self.out.buffered -= chunk.len();
        self.sent = true;
        Some(chunk)
    }

    // ------------------------------------------------------------------------------------------
    // Time
    // ------------------------------------------------------------------------------------------

    /// The next instant at which [`Connection::handle_timeout`] must be called, if any.
    ///
    /// Reads do not move it: they only mark the connection as active, and the timer check sees
    /// the mark. So the idle timeout closes a connection between `idle_timeout` and
    /// `idle_timeout * 5 / 4` after its last byte arrived (checks run at least every quarter of
    /// it), and an automatic ping goes out after between one and two `ping_interval`s of quiet
    /// (at most `ping_interval` plus a quarter of the idle timeout when both are on). A transport
    /// therefore sets its timer a few times per interval, not on every read.
    ///
    /// While output is queued, the timers are also checked at least every quarter of
    /// `send_timeout`, so a peer that stopped reading is cut off between `send_timeout` and
    /// `send_timeout * 5 / 4` after our output last moved.
    ///
    /// Once the close handshake ends or the connection fails inside
    /// [`Connection::poll_message`] (which takes no `now`), the close deadline that bounds the
    /// end of the transport is armed at the next `handle_timeout`: until then this returns the
    /// last `now` reported, a time already past, so the transport calls `handle_timeout` at
    /// once with the current time.
    pub fn poll_timeout(&self) -> Option<Instant> {
        if self.close_timer_unarmed {
            // Arm it at once: the transport calls `handle_timeout` with the current time.
            return Some(self.now);
        }
        match self.send_check() {
            Some(check) => Some(self.deadline.map_or(check, |d| d.min(check))),
            None => self.deadline,
        }
    }

    /// When the send timeout needs the next timer check: while output is queued on an open
    /// connection. (Once a close frame is queued, the close timeout bounds the wait instead.)
    #[inline]
    fn send_check(&self) -> Option<Instant> {
        let timeout = self.config.send_timeout;
        if self.out.buffered == 0 || timeout.is_zero() || self.state != State::Open {
            return None;
        }
        Some(self.last_check + timeout / 4)
    }

    fn update_deadline(&mut self) {
        self.deadline = match self.state {
            State::Open => {
                let mut next: Option<Instant> = None;
                let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
                let idle = self.config.idle_timeout;
                if !idle.is_zero() {
                    consider(self.quiet_since + idle);
                    consider(self.last_check + idle / 4);
                }
                if self.config.auto_ping && !self.config.ping_interval.is_zero() {
                    consider(match self.ping_sent {
                        Some(sent) => sent + self.config.pong_timeout,
                        None => self.quiet_since + self.config.ping_interval,
                    });
                }
                next
            }
            State::CloseSent | State::Closed => self.close_deadline,
        };
    }

    /// Handle the deadlines that have passed at `now`: send an automatic ping, or fail the
    /// connection on an idle, pong or close-handshake timeout (the error is returned here and
    /// the matching close frame, if any, is queued). A connection on which nothing arrived
    /// since the previous check also gives back the memory of its empty buffers (see
    /// [`Connection::has_read_buffer`]).
    pub fn handle_timeout(&mut self, now: Instant) -> Result<(), Error> {
        let result = self.check_timers(now);
        self.update_deadline();
        result
    }

    fn check_timers(&mut self, now: Instant) -> Result<(), Error> {
        let now = now.max(self.now);
        self.now = now;
        if self.close_timer_unarmed {
            self.close_timer_unarmed = false;
            self.close_deadline = Some(now + self.config.close_timeout);
        }
        match self.state {
            State::Open => {
                if self.heard {
                    self.heard = false;
                    self.quiet_since = now;
                    self.ping_sent = None;
                } else {
                    // Nothing arrived since the last check: a quiet connection holds no
                    // buffer memory while it waits.
                    self.release_buffers();
                }
                self.last_check = now;
                self.check_send_progress(now)?;
                let idle = self.config.idle_timeout;
                if !idle.is_zero() && now >= self.quiet_since + idle {
                    let e = Error::Timeout(TimeoutKind::Idle);
                    self.fail(&e, Some(now));
                    return Err(e);
                }
                if self.config.auto_ping && !self.config.ping_interval.is_zero() {
                    match self.ping_sent {
                        Some(sent) if now >= sent + self.config.pong_timeout => {
                            let e = Error::Timeout(TimeoutKind::Pong);
                            self.fail(&e, Some(now));
                            return Err(e);
                        }
                        None if now >= self.quiet_since + self.config.ping_interval => {
                            self.ping_counter = self.ping_counter.wrapping_add(1);
                            let payload = Bytes::copy_from_slice(&self.ping_counter.to_be_bytes());
                            // On failure the connection is failed already.
                            self.send_control(OpCode::Ping, payload, now)?;
                            self.ping_sent = Some(now);
                        }
                        _ => {}
                    }
                }
                Ok(())
            }
            State::CloseSent | State::Closed => match self.close_deadline {
                Some(deadline) if now >= deadline => {
                    self.close_deadline = None;
                    self.close_expired = true;
                    let was_open = self.state == State::CloseSent;
                    self.state = State::Closed;
                    if was_open || !self.eof {
                        Err(Error::Timeout(TimeoutKind::Close))
                    } else {
                        Ok(())
                    }
                }
                _ => Ok(()),
            },
        }
    }

    /// The send timeout: fail when output has been queued, with nothing written, since a timer
    /// check at least `send_timeout` ago.
    fn check_send_progress(&mut self, now: Instant) -> Result<(), Error> {
        let sent = std::mem::take(&mut self.sent);
        let timeout = self.config.send_timeout;
        match self.stalled_since {
            _ if self.out.buffered == 0 || timeout.is_zero() => self.stalled_since = None,
            Some(since) if !sent => {
                if now >= since + timeout {
                    let e = Error::Timeout(TimeoutKind::Send);
                    self.fail(&e, Some(now));
                    return Err(e);
                }
            }
            // Output moved since the last check, or is newly queued: the clock starts now.
            _ => self.stalled_since = Some(now),
        }
        Ok(())
    }

    /// Give back the memory of empty buffers: the receive buffer when no frame or message is
    /// in progress, the output buffers when nothing is queued. They are allocated again by the
    /// next read or send.
    ///
    /// A receive buffer whose allocation messages the application still holds share is kept:
    /// dropping it would free nothing, and keeping it lets the next messages use its room
    /// instead of each pinning a fresh buffer of its own.
    fn release_buffers(&mut self) {
        if self.rx_taken.is_none()
            && self.rx.is_empty()
            && self.rx_allocated
            && self.frame.is_none()
            && self.message.is_none()
            && (!self.rx_lent || self.rx.try_reclaim(self.rx.capacity() + 1))
        {
            self.rx = BytesMut::new();
            self.rx_allocated = false;
            self.rx_lent = false;
            self.rx_large = false;
        }
        if self.out.buffered == 0 {
            self.out = Output::default();
        }
    }

    // ------------------------------------------------------------------------------------------

    /// Fail the connection: queue the error's close frame (when the handshake allows one) and
    /// close. `now`, when known, starts the close deadline; otherwise the next `handle_timeout`
    /// does.
    #[cold]
    #[inline(never)]
    fn fail(&mut self, e: &Error, now: Option<Instant>) {
        if self.state == State::Open
            && let Some(code) = e.close_code()
        {
            let payload = Bytes::copy_from_slice(&code.0.to_be_bytes());
            // A close frame that cannot be masked is not sent: the stream just ends.
            let _ = self.queue_frame(OpCode::Close, 0, &payload, true);
        }
        self.frame = None;
        self.message = None;
        self.enter_closed(now);
    }

    /// Both close frames were exchanged, or the connection failed. The transport keeps the byte
    /// stream at most `close_timeout` longer, counted from `now` or, without it, from the next
    /// `handle_timeout` (which `poll_timeout` then asks for at once).
    fn enter_closed(&mut self, now: Option<Instant>) {
        if self.state != State::Closed {
            self.state = State::Closed;
            match now {
                Some(now) => {
                    self.close_timer_unarmed = false;
                    self.close_deadline = Some(now + self.config.close_timeout);
                }
                None => self.close_timer_unarmed = true,
            }
            self.update_deadline();
        }
    }
}
