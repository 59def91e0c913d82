//! The deflate engine behind a small internal interface, so that another engine (zlib-rs,
//! libdeflate, ...) can be added without touching negotiation, window enforcement or bounds.
//!
//! Only raw DEFLATE (RFC 1951) is used: no zlib header, no checksum.

use miniz_oxide::DataFormat;
use miniz_oxide::deflate::core::{
    CompressionStrategy, CompressorOxide, TDEFLFlush, TDEFLStatus, compress,
};
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress, inflate_flags};

/// How a [`RawDeflate::compress`] call ends.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Flush {
    /// Emit all pending output, end on a byte boundary with an empty stored block
    /// (`00 00 ff ff`), and keep the dictionary (context takeover).
    Sync,
    /// As [`Flush::Sync`], and forget the dictionary: nothing after this point refers to
    /// anything before it.
    Full,
}

/// Outcome of [`RawDeflate::compress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Compressed {
    /// All input was consumed and flushed; this many bytes were written.
    Done(usize),
    /// The output space ran out first. The engine holds pending state: the caller must
    /// [`RawDeflate::reset`] it before the next use.
    OutOfSpace,
}

/// A raw DEFLATE compressor.
pub(crate) trait RawDeflate: Send + 'static {
    /// A compressor at `level` (1 = fastest ..= 9 = smallest).
    fn new(level: u8) -> Self
    where
        Self: Sized;

    /// A compressor whose only back-references are runs of one byte (distance 1), so it
    /// honours any window, however small, without dictionary resets.
    fn runs_only() -> Self
    where
        Self: Sized;

    /// Changes the level; only called right after a [`Flush::Full`] or a reset.
    fn set_level(&mut self, level: u8);

    /// Compresses all of `input` into `out` and flushes as `flush` says.
    fn compress(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        flush: Flush,
    ) -> Result<Compressed, String>;

    /// Forgets everything: the next output starts a fresh stream (at a block boundary).
    fn reset(&mut self);
}

/// One step of [`RawInflate::inflate`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Inflated {
    /// Compressed bytes used.
    pub(crate) consumed: usize,
    /// Bytes appended to the output.
    pub(crate) written: usize,
    /// The stream ended with a final block (BFINAL); nothing more can be decoded until reset.
    pub(crate) stream_end: bool,
    /// Output was left over: the input makes more than the limit allows.
    pub(crate) over_limit: bool,
}

/// A raw DEFLATE decompressor whose LZ77 window is `2^bits` bytes, the window the peer
/// agreed to compress with.
pub(crate) trait RawInflate: Send + 'static {
    /// A fresh decompressor with a `2^window_bits`-byte window (9..=15).
    fn new(window_bits: u8) -> Self
    where
        Self: Sized;

    /// The window, in bits.
    fn window_bits(&self) -> u8;

    /// Decodes `input`, appending the output to `out` and never letting `out` (its length and
    /// its capacity) grow past `limit` bytes. Stops when the input is used up and all it
    /// produced is appended, when the stream ends, or when more output is pending than
    /// `limit` leaves room for (`over_limit`). Work and memory are proportional to the input
    /// consumed and the output appended: nothing is written ahead of the output.
    fn inflate(
        &mut self,
        input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<Inflated, String>;

    /// Starts a new stream, with a `2^window_bits`-byte window from now on. With `scrub`,
    /// also erases the window, so no byte of a previous stream can be seen through it
    /// (required before another connection uses it).
    fn reset(&mut self, scrub: bool, window_bits: u8);
}

/// Smallest growth of an output buffer.
const MIN_GROWTH: usize = 4 << 10;

/// Appends `bytes` to `out` (the caller has checked that `out.len() + bytes.len() <= limit`).
/// The capacity grows geometrically (doubling, by at least [`MIN_GROWTH`]) so that a
/// message's reallocations copy it a bounded number of times over, but never past `limit`,
/// and only when the output needs it: the capacity stays within `max(2 * len, len + 4 KiB)`
/// of what was appended. Spare capacity is never written.
pub(crate) fn append_within(out: &mut Vec<u8>, bytes: &[u8], limit: usize) {
    let len = out.len();
    let need = len + bytes.len();
    debug_assert!(need <= limit);
    if need > out.capacity() {
        let want = need
            .max(len.saturating_mul(2))
            .max(len + MIN_GROWTH)
            .min(limit)
            .max(need);
        out.reserve_exact(want - len);
    }
    out.extend_from_slice(bytes);
}

/// miniz_oxide's compressor (boxed: it is about 300 KiB).
pub(crate) struct MinizDeflate {
    inner: Box<CompressorOxide>,
    /// 0 for the runs-only compressor, whose level never changes.
    level: u8,
}

impl RawDeflate for MinizDeflate {
    fn new(level: u8) -> Self {
        // Raw DEFLATE. miniz_oxide always uses a 32 KiB window; narrower windows are enforced
        // by the caller (see `compress.rs`).
        let mut inner = Box::<CompressorOxide>::default();
        inner.set_format_and_level(DataFormat::Raw, level.clamp(1, 9));
        MinizDeflate { inner, level }
    }

    fn runs_only() -> Self {
        // RLE matching is implemented in miniz_oxide's normal path (`cur_match_dist = 1`);
        // level 1's fast path ignores the flag, hence level 2.
        let inner = Box::new(CompressorOxide::with_params(
            DataFormat::Raw,
            2,
            CompressionStrategy::RLE,
            15,
        ));
        MinizDeflate { inner, level: 0 }
    }

    fn set_level(&mut self, level: u8) {
        if self.level != 0 && level != self.level {
            self.inner
                .set_format_and_level(DataFormat::Raw, level.clamp(1, 9));
            self.level = level;
        }
    }

    fn compress(
        &mut self,
        input: &[u8],
        out: &mut [u8],
        flush: Flush,
    ) -> Result<Compressed, String> {
        let flush = match flush {
            Flush::Sync => TDEFLFlush::Sync,
            Flush::Full => TDEFLFlush::Full,
        };
        let mut input = input;
        let mut written = 0;
        loop {
            if written == out.len() {
                return Ok(Compressed::OutOfSpace);
            }
            let (status, consumed, n) =
                compress(&mut self.inner, input, &mut out[written..], flush);
            match status {
                TDEFLStatus::Okay => {}
                other => return Err(format!("miniz_oxide deflate failed: {other:?}")),
            }
            input = &input[consumed..];
            written += n;
            // A call that left room in the output emitted everything it had, flush included
            // (miniz_oxide only keeps output back when the buffer is full).
            if written < out.len() && input.is_empty() {
                return Ok(Compressed::Done(written));
            }
            if consumed == 0 && n == 0 {
                return Err("miniz_oxide deflate made no progress".into());
            }
        }
    }

    fn reset(&mut self) {
        self.inner.reset();
    }
}

/// miniz_oxide's decompressor, driven directly: it decodes into a ring of `2^bits` bytes
/// that is the LZ77 window (a back-reference further than the ring is invalid data), and the
/// output is copied from the ring onto the message. Boxed tables (about 11 KiB) plus the ring:
/// 11.5 KiB at 9 bits, 43 KiB at 15.
pub(crate) struct MinizInflate {
    decomp: Box<DecompressorOxide>,
    /// The window; its length is a power of two.
    ring: Box<[u8]>,
    /// Where the next decoded byte goes in `ring`.
    pos: usize,
    /// Decoded bytes not yet appended to the output: `ring[pos - pending..pos]`.
    pending: usize,
    /// The stream ended (final block).
    ended: bool,
    /// The data was invalid; the engine refuses everything until reset.
    failed: bool,
}

/// A ring of `2^bits` zero bytes, `bits` clamped to 9..=15.
fn ring(bits: u8) -> Box<[u8]> {
    vec![0u8; 1 << bits.clamp(9, 15)].into_boxed_slice()
}

impl RawInflate for MinizInflate {
    fn new(window_bits: u8) -> Self {
        MinizInflate {
            decomp: Box::default(),
            ring: ring(window_bits),
            pos: 0,
            pending: 0,
            ended: false,
            failed: false,
        }
    }

    fn window_bits(&self) -> u8 {
        self.ring.len().trailing_zeros() as u8
    }

    fn inflate(
        &mut self,
        mut input: &[u8],
        out: &mut Vec<u8>,
        limit: usize,
    ) -> Result<Inflated, String> {
        let mut step = Inflated::default();
        if self.failed {
            return Err("invalid deflate data".into());
        }
        let mut input_used = false;
        loop {
            // Hand out what the ring holds, as far as the limit allows.
            if self.pending > 0 {
                let n = self.pending.min(limit.saturating_sub(out.len()));
                let start = self.pos - self.pending;
                append_within(out, &self.ring[start..start + n], limit);
                self.pending -= n;
                step.written += n;
                if self.pending > 0 {
                    step.over_limit = true;
                    return Ok(step);
                }
            }
            if self.ended {
                step.stream_end = true;
                return Ok(step);
            }
            if input_used {
                return Ok(step);
            }
            if self.pos == self.ring.len() {
                self.pos = 0;
            }
            // Raw DEFLATE, more input may follow: decode into the ring from `pos`, up to its
            // end at most (the engine does not wrap within a call).
            let (status, consumed, produced) = decompress(
                &mut self.decomp,
                input,
                &mut self.ring,
                self.pos,
                inflate_flags::TINFL_FLAG_HAS_MORE_INPUT | inflate_flags::TINFL_FLAG_IGNORE_ADLER32,
            );
            input = &input[consumed..];
            step.consumed += consumed;
            self.pos += produced;
            self.pending = produced;
            match status {
                TINFLStatus::Done => self.ended = true,
                // Everything decodable from the input is in the ring.
                TINFLStatus::NeedsMoreInput => input_used = true,
                // The ring's end was reached: hand out and go on from its start.
                TINFLStatus::HasMoreOutput if produced > 0 || consumed > 0 => {}
                TINFLStatus::HasMoreOutput => {
                    self.failed = true;
                    return Err("miniz_oxide inflate made no progress".into());
                }
                other => {
                    self.failed = true;
                    return Err(format!("invalid deflate data ({other:?})"));
                }
            }
        }
    }

    fn reset(&mut self, scrub: bool, window_bits: u8) {
        self.decomp.init();
        self.pos = 0;
        self.pending = 0;
        self.ended = false;
        self.failed = false;
        if self.window_bits() != window_bits.clamp(9, 15) {
            self.ring = ring(window_bits);
        } else if scrub {
            self.ring.fill(0);
        }
    }
}
