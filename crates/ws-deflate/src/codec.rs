//! [`PerMessageDeflate`]: the negotiated extension, compressing outgoing messages and
//! inflating incoming ones within a size bound.

use std::cell::RefCell;
use std::fmt;

use bytes::{Bytes, BytesMut};
use ws_proto::Role;
use ws_proto::extension::{Extension, ExtensionError, RSV1};

use crate::backend::{Compressed, Flush, MinizDeflate, MinizInflate, RawDeflate, RawInflate};
use crate::negotiator::DeflateConfig;
use crate::params::{DeflateParams, MAX_WINDOW_BITS, MIN_WINDOW_BITS};
use crate::stats;

/// The engines in use. Another backend plugs in here.
type Deflater = MinizDeflate;
type Inflater = MinizInflate;

/// The four bytes a sender strips from the end of every compressed message (an empty stored
/// block's `LEN`/`NLEN`) and the receiver appends again (RFC 7692 section 7.2.2).
const TAIL: [u8; 4] = [0x00, 0x00, 0xff, 0xff];

/// zlib's `MIN_LOOKAHEAD` (`MAX_MATCH + MIN_MATCH + 1`): a dictionary cleared at least every
/// `2^bits - 262` input bytes never holds a match source further back than `2^bits`, the
/// margin zlib's own deflate keeps for the same window.
const WINDOW_MARGIN: usize = 262;

/// Scratch buffers larger than this are freed after use instead of kept for the next message.
const SCRATCH_KEEP: usize = 256 << 10;

/// Windows narrower than this many bits are honoured with the runs-only compressor rather than
/// dictionary resets: at 9 bits a reset every 250 bytes costs a block header and a table clear
/// each time, for a ratio no better than run-length coding (54% against 56% on JSON, at a
/// twentieth of the speed); from 10 bits on the resets compress clearly better.
const RUNS_ONLY_BELOW: u8 = 10;

thread_local! {
    /// The compressor that every connection compressing without context takeover on this
    /// thread shares. Between messages it holds no connection's data: each message ends with
    /// a full flush (dictionary cleared) or a reset.
    static SHARED_DEFLATER: RefCell<Option<SharedEngine<Deflater>>> = const { RefCell::new(None) };
    /// The same for connections whose window is narrower than [`RUNS_ONLY_BELOW`] bits: a
    /// compressor that only codes runs (distance 1), created by the first such message.
    static SHARED_RUNS_ONLY: RefCell<Option<SharedEngine<Deflater>>> = const { RefCell::new(None) };
    /// A decompressor kept for messages inflated without context takeover. Scrubbed (window
    /// zeroed) before it goes back, so no connection can read another's data through it.
    static SPARE_INFLATER: RefCell<Option<Inflater>> = const { RefCell::new(None) };
    /// Output buffer for compression; the result is copied out at its exact size.
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// A thread's shared compressor and whether it is at a clean message boundary.
struct SharedEngine<D> {
    engine: D,
    clean: bool,
}

/// Runs `f` with this thread's shared compressor at `level` (or its runs-only one), clean. `f`
/// says whether it left the compressor clean; if not (or if it panics), the next user resets it
/// first.
fn with_shared_deflater<R>(
    runs_only: bool,
    level: u8,
    f: impl FnOnce(&mut Deflater) -> (R, bool),
) -> R {
    let run = |slot: &mut Option<SharedEngine<Deflater>>| {
        let shared = slot.get_or_insert_with(|| SharedEngine {
            engine: if runs_only {
                Deflater::runs_only()
            } else {
                Deflater::new(level)
            },
            clean: true,
        });
        if !shared.clean {
            shared.engine.reset();
        }
        shared.engine.set_level(level);
        shared.clean = false;
        let (r, clean) = f(&mut shared.engine);
        shared.clean = clean;
        r
    };
    let mut f = Some(run);
    let slot = if runs_only {
        &SHARED_RUNS_ONLY
    } else {
        &SHARED_DEFLATER
    };
    let r = slot.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut slot) => Some((f.take().expect("called once"))(&mut slot)),
        Err(_) => None,
    });
    match (r, f) {
        (Ok(Some(r)), _) => r,
        // Thread-local storage is being torn down (or, impossibly, in use): a private one.
        (_, Some(run)) => run(&mut None),
        (_, None) => unreachable!("the closure ran but returned no value"),
    }
}

/// Runs `f` with this thread's scratch buffer grown to at least `len` bytes.
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    let run = |buf: &mut Vec<u8>| {
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let r = f(&mut buf[..len]);
        if buf.len() > SCRATCH_KEEP {
            *buf = Vec::new();
        }
        r
    };
    let mut f = Some(run);
    let r = SCRATCH.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => Some((f.take().expect("called once"))(&mut buf)),
        Err(_) => None,
    });
    match (r, f) {
        (Ok(Some(r)), _) => r,
        (_, Some(run)) => run(&mut Vec::new()),
        (_, None) => unreachable!("the closure ran but returned no value"),
    }
}

/// The compressing half.
struct Encoder {
    level: u8,
    /// Messages shorter than this are sent as they are.
    min_size: usize,
    /// Keep the dictionary from message to message (a dedicated compressor).
    context_takeover: bool,
    /// The window this end compresses with, in bits.
    window_bits: u8,
    /// The window is narrower than [`RUNS_ONLY_BELOW`]: use the shared runs-only compressor.
    runs_only: bool,
    /// Clear the dictionary at least every this many input bytes (`2^bits - 262`), or
    /// `usize::MAX` when no reset is needed (the full 32 KiB window, which miniz_oxide never
    /// exceeds, or the runs-only compressor).
    window: usize,
    /// The dedicated compressor (context takeover only), created by the first message that is
    /// worth compressing.
    own: Option<Deflater>,
    /// Input bytes since the dedicated compressor's dictionary was last cleared.
    since_reset: usize,
}

/// Compresses `input` into `out` (ending with `00 00 ff ff`), clearing the dictionary at least
/// every `window` input bytes, counted from `since_reset`. `end` is the flush that ends the
/// message. Returns the length written, or `None` when `out` was too small.
fn deflate_windowed<D: RawDeflate>(
    engine: &mut D,
    input: &[u8],
    out: &mut [u8],
    window: usize,
    since_reset: &mut usize,
    end: Flush,
) -> Result<Option<usize>, ExtensionError> {
    let mut rest = input;
    let mut written = 0;
    loop {
        let room = window - *since_reset;
        let n = rest.len().min(room);
        let (piece, after) = rest.split_at(n);
        let boundary = n == room;
        let flush = if boundary { Flush::Full } else { end };
        match engine
            .compress(piece, &mut out[written..], flush)
            .map_err(ExtensionError::Internal)?
        {
            Compressed::Done(w) => written += w,
            Compressed::OutOfSpace => return Ok(None),
        }
        *since_reset = if flush == Flush::Full {
            0
        } else {
            *since_reset + n
        };
        rest = after;
        if rest.is_empty() {
            return Ok(Some(written));
        }
    }
}

impl Encoder {
    fn encode(&mut self, payload: &Bytes) -> Result<(u8, Bytes), ExtensionError> {
        if payload.len() < self.min_size.max(1) {
            return Ok((0, payload.clone()));
        }
        // Compressed output (with its tail) must be shorter than `payload + 4` to be worth
        // sending: give the compressor exactly that much room.
        let cap = payload.len() + TAIL.len();
        let level = self.level;
        let window = self.window;
        let compressed = with_scratch(cap, |out| {
            let len = if self.context_takeover {
                let engine = self.own.get_or_insert_with(|| Deflater::new(level));
                let len = deflate_windowed(
                    engine,
                    payload,
                    out,
                    window,
                    &mut self.since_reset,
                    Flush::Sync,
                );
                if !matches!(len, Ok(Some(n)) if n < cap) {
                    // Not sent compressed (or failed): the peer's inflater never sees this
                    // message, so our dictionary must forget it too.
                    engine.reset();
                    self.since_reset = 0;
                }
                len?
            } else {
                with_shared_deflater(self.runs_only, level, |engine| {
                    let mut since_reset = 0;
                    let len = deflate_windowed(
                        engine,
                        payload,
                        out,
                        window,
                        &mut since_reset,
                        Flush::Full,
                    );
                    // A complete run ended with a full flush: clean. Otherwise reset next time.
                    let clean = matches!(len, Ok(Some(_)));
                    (len, clean)
                })?
            };
            match len {
                Some(n) if n < cap => {
                    if out[..n].ends_with(&TAIL) {
                        Ok(Some(Bytes::copy_from_slice(&out[..n - TAIL.len()])))
                    } else {
                        Err(ExtensionError::Internal(
                            "deflate output does not end with a sync flush".into(),
                        ))
                    }
                }
                _ => Ok(None),
            }
        })?;
        Ok(match compressed {
            Some(bytes) => (RSV1, bytes),
            None => (0, payload.clone()),
        })
    }
}

/// The inflating half.
struct Decoder {
    /// The peer keeps its dictionary from message to message.
    context_takeover: bool,
    /// With context takeover: the connection's decompressor. Without: the one borrowed for the
    /// message in progress (a fragmented message), `None` between messages.
    own: Option<Inflater>,
    /// A message's first fragment has been decoded and its last has not.
    in_message: bool,
    /// The peer ended its deflate stream with a final block: the message must end here, and
    /// the next one starts a new stream.
    stream_ended: bool,
    /// The window the peer compresses with, in bits: the decompressor's window.
    window_bits: u8,
}

/// Inflates `input` onto `out`, never letting `out` grow beyond `limit` bytes (nor allocating
/// more than `limit` for it). Returns whether the stream ended (final block).
///
/// The engine appends what it decodes and nothing else: no room is prepared (zero-filled)
/// ahead of the output, so the cost is proportional to the input and the output, whatever the
/// buffer's spare capacity.
fn inflate_bounded<I: RawInflate>(
    engine: &mut I,
    input: &[u8],
    out: &mut Vec<u8>,
    limit: usize,
) -> Result<bool, ExtensionError> {
    let before = out.len();
    let step = engine
        .inflate(input, out, limit)
        .map_err(ExtensionError::InvalidData)?;
    stats::count_call(step.consumed, step.written, out.len() - before);
    if step.over_limit {
        return Err(ExtensionError::TooBig);
    }
    let rest = &input[step.consumed..];
    if step.stream_end {
        return end_of_stream(rest);
    }
    if !rest.is_empty() {
        return Err(ExtensionError::InvalidData(
            "the inflater stopped before the end of its input".into(),
        ));
    }
    Ok(false)
}

/// The stream ended with a final block: nothing may follow it in the message.
fn end_of_stream(rest: &[u8]) -> Result<bool, ExtensionError> {
    if rest.is_empty() {
        Ok(true)
    } else {
        Err(ExtensionError::InvalidData(
            "data after the final deflate block".into(),
        ))
    }
}

impl Decoder {
    fn decode(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), ExtensionError> {
        if self.stream_ended && !input.is_empty() {
            // Data after a final block: not a valid permessage-deflate message.
            return Err(ExtensionError::InvalidData(
                "data after the final deflate block".into(),
            ));
        }
        if input.is_empty() && !fin {
            // Nothing to inflate, and nothing pending: every call hands out all that its input
            // decodes to. The message goes on; the engine and the buffer are not touched.
            self.in_message = true;
            return Ok(());
        }
        let mut engine = match self.own.take() {
            Some(engine) => engine,
            None if self.context_takeover => Inflater::new(self.window_bits),
            None => take_spare_inflater(self.window_bits),
        };
        self.in_message = !fin;

        // Inflate straight into the message buffer, as a Vec so that it grows exactly.
        let mut buf = Vec::from(std::mem::take(out));
        let mut result = Ok(());
        if !input.is_empty() {
            match inflate_bounded(&mut engine, input, &mut buf, limit) {
                Ok(ended) => self.stream_ended = ended,
                Err(e) => result = Err(e),
            }
        }
        if result.is_ok() && fin && !self.stream_ended {
            // The peer stripped the empty stored block's LEN/NLEN; give them back.
            match inflate_bounded(&mut engine, &TAIL, &mut buf, limit) {
                Ok(ended) => self.stream_ended = ended,
                Err(e) => result = Err(e),
            }
        }
        *out = BytesMut::from(Bytes::from(buf));
        if result.is_err() {
            // The connection fails; the engine's state is unusable. Drop it: a later message,
            // if any, starts with a fresh one.
            self.in_message = false;
            self.stream_ended = false;
            return result;
        }

        if fin && self.stream_ended {
            // Next message: a new stream.
            engine.reset(true, self.window_bits);
            self.stream_ended = false;
        }
        if self.context_takeover || self.in_message {
            self.own = Some(engine);
        } else {
            give_back_inflater(engine);
        }
        Ok(())
    }
}

/// This thread's spare decompressor (or a new one), with a `2^window_bits`-byte window.
fn take_spare_inflater(window_bits: u8) -> Inflater {
    match SPARE_INFLATER
        .try_with(|cell| cell.try_borrow_mut().ok().and_then(|mut s| s.take()))
        .ok()
        .flatten()
    {
        Some(mut engine) => {
            if engine.window_bits() != window_bits {
                // Scrubbed when given back; only the window's size changes.
                engine.reset(false, window_bits);
            }
            engine
        }
        None => Inflater::new(window_bits),
    }
}

fn give_back_inflater(mut engine: Inflater) {
    engine.reset(true, engine.window_bits());
    let _ = SPARE_INFLATER.try_with(|cell| {
        if let Ok(mut slot) = cell.try_borrow_mut()
            && slot.is_none()
        {
            *slot = Some(engine);
        }
    });
}

/// The permessage-deflate extension of one connection (RFC 7692).
///
/// Built by [`DeflateNegotiator`](crate::DeflateNegotiator) during the handshake; install it
/// with [`Connection::set_extension`](ws_proto::Connection::set_extension) (the transports do
/// this). It claims RSV1; the connection hands it every data message (never a control frame).
///
/// - Outgoing: messages shorter than [`DeflateConfig::min_message_size`], and those that
///   compression would not shrink, go out as they are (RSV1 clear); the others are
///   compressed, and the connection fragments the result as usual (RSV1 on the first frame
///   only).
/// - Incoming: fragments are inflated as they arrive, in steps, and the message fails with
///   [`ExtensionError::TooBig`] (close 1009) before it grows past the limit; corrupt data
///   fails with [`ExtensionError::InvalidData`] (close 1007).
///
/// Memory: without context takeover nothing is held between messages (the compressor and a
/// spare decompressor are per thread). With context takeover the connection owns its
/// compressor (about 300 KiB, created by the first compressed message) and/or its
/// decompressor (about 11 KiB of tables plus the peer's window, `2^bits` bytes: 43 KiB at 15
/// bits, 11.5 KiB at 9; created by the first compressed message received).
pub struct PerMessageDeflate {
    role: Role,
    params: DeflateParams,
    enc: Encoder,
    dec: Decoder,
}

impl fmt::Debug for PerMessageDeflate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PerMessageDeflate")
            .field("role", &self.role)
            .field("params", &self.params)
            .field("level", &self.enc.level)
            .field("compressor_allocated", &self.enc.own.is_some())
            .field("decompressor_allocated", &self.dec.own.is_some())
            .finish()
    }
}

impl PerMessageDeflate {
    /// The extension for this end (`role`) of a connection that agreed on `params`, tuned by
    /// `config` (level, minimum size, and the compressor mode, which may narrow this end's
    /// window or drop its context takeover beyond what `params` require).
    ///
    /// The negotiator calls this; call it yourself to pair two connections without a
    /// handshake (tests, custom transports). Window bits below 9 are raised to 9.
    pub fn new(role: Role, params: DeflateParams, config: &DeflateConfig) -> Self {
        let (own_nct, own_bits, peer_nct) = match role {
            Role::Server => (
                params.server_no_context_takeover,
                params.server_max_window_bits,
                params.client_no_context_takeover,
            ),
            Role::Client => (
                params.client_no_context_takeover,
                params.client_max_window_bits,
                params.server_no_context_takeover,
            ),
        };
        let bits = own_bits
            .min(config.window_bits())
            .clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
        // The peer's window is what it agreed to, 8 raised to 9 as zlib does when asked for 8.
        let peer_bits = match role {
            Role::Server => params.client_max_window_bits,
            Role::Client => params.server_max_window_bits,
        }
        .clamp(MIN_WINDOW_BITS, MAX_WINDOW_BITS);
        let runs_only = bits < RUNS_ONLY_BELOW;
        PerMessageDeflate {
            role,
            params,
            enc: Encoder {
                level: config.level,
                min_size: config.min_message_size,
                // Runs-only coding keeps no context worth taking over.
                context_takeover: !own_nct && !config.shares_compressor() && !runs_only,
                window_bits: bits,
                runs_only,
                window: if bits >= MAX_WINDOW_BITS || runs_only {
                    usize::MAX
                } else {
                    (1usize << bits) - WINDOW_MARGIN
                },
                own: None,
                since_reset: 0,
            },
            dec: Decoder {
                context_takeover: !peer_nct,
                own: None,
                in_message: false,
                stream_ended: false,
                window_bits: peer_bits,
            },
        }
    }

    /// The negotiated parameters.
    pub fn params(&self) -> &DeflateParams {
        &self.params
    }

    /// This end's role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Whether this end compresses with context takeover (a dedicated compressor that keeps
    /// its dictionary from message to message).
    pub fn compresses_with_context_takeover(&self) -> bool {
        self.enc.context_takeover
    }

    /// The LZ77 window this end compresses with, in bits (9..=15).
    pub fn compression_window_bits(&self) -> u8 {
        self.enc.window_bits
    }

    /// Whether the peer compresses with context takeover (so this end keeps a decompressor
    /// for the connection's lifetime).
    pub fn decompresses_with_context_takeover(&self) -> bool {
        self.dec.context_takeover
    }

    /// The LZ77 window the peer compresses with, in bits (9..=15): the negotiated
    /// `client_max_window_bits` (server) or `server_max_window_bits` (client). This end's
    /// decompressor has a window of exactly `2^bits` bytes, and a back-reference reaching
    /// further is invalid data (close 1007).
    pub fn decompression_window_bits(&self) -> u8 {
        self.dec.window_bits
    }
}

impl Extension for PerMessageDeflate {
    fn rsv_bits(&self) -> u8 {
        RSV1
    }

    fn decode(
        &mut self,
        input: &[u8],
        fin: bool,
        out: &mut BytesMut,
        limit: usize,
    ) -> Result<(), ExtensionError> {
        self.dec.decode(input, fin, out, limit)
    }

    fn encode(&mut self, payload: &Bytes, _is_text: bool) -> Result<(u8, Bytes), ExtensionError> {
        self.enc.encode(payload)
    }
}
