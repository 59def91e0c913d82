//! The deflate engine behind a small internal interface, so that another engine (zlib-rs,
//! libdeflate, ...) can be added without touching negotiation, window enforcement or bounds.
//!
//! Only raw DEFLATE (RFC 1951) is used: no zlib header, no checksum.

use miniz_oxide::deflate::core::{
    CompressionStrategy, CompressorOxide, TDEFLFlush, TDEFLStatus, compress,
};
use miniz_oxide::inflate::stream::{InflateState, MinReset, ZeroReset, inflate};
use miniz_oxide::{DataFormat, MZError, MZFlush, MZStatus};

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Inflated {
    pub(crate) consumed: usize,
    pub(crate) written: usize,
    /// The stream ended with a final block (BFINAL); nothing more can be decoded until reset.
    pub(crate) stream_end: bool,
}

/// A raw DEFLATE decompressor with a 32 KiB window.
pub(crate) trait RawInflate: Send + 'static {
    /// A fresh decompressor.
    fn new() -> Self
    where
        Self: Sized;

    /// Decodes from `input` into `out`: stops when `out` is full, the input is used up (and
    /// every byte it produced is written), or the stream ends. Never writes beyond `out`.
    fn inflate(&mut self, input: &[u8], out: &mut [u8]) -> Result<Inflated, String>;

    /// Starts a new stream. With `scrub`, also erases the window, so no byte of a previous
    /// stream can be seen through it (required before another connection uses it).
    fn reset(&mut self, scrub: bool);
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

/// miniz_oxide's streaming decompressor (boxed: about 43 KiB, most of it the 32 KiB window).
pub(crate) struct MinizInflate {
    inner: Box<InflateState>,
}

impl RawInflate for MinizInflate {
    fn new() -> Self {
        MinizInflate {
            inner: InflateState::new_boxed(DataFormat::Raw),
        }
    }

    fn inflate(&mut self, input: &[u8], out: &mut [u8]) -> Result<Inflated, String> {
        let mut step = Inflated {
            consumed: 0,
            written: 0,
            stream_end: false,
        };
        // `inflate` returns after moving buffered output only, or after a partial pass: loop
        // until the output is full or nothing more can happen.
        loop {
            let r = inflate(
                &mut self.inner,
                &input[step.consumed..],
                &mut out[step.written..],
                MZFlush::None,
            );
            step.consumed += r.bytes_consumed;
            step.written += r.bytes_written;
            match r.status {
                Ok(MZStatus::StreamEnd) => {
                    step.stream_end = true;
                    return Ok(step);
                }
                Ok(_) => {}
                // No progress possible: all input used and all output delivered.
                Err(MZError::Buf) => return Ok(step),
                Err(e) => return Err(format!("invalid deflate data ({e:?})")),
            }
            // Full, or stuck (waiting for input it does not have): either way, done for now.
            if step.written == out.len() || (r.bytes_written == 0 && r.bytes_consumed == 0) {
                return Ok(step);
            }
        }
    }

    fn reset(&mut self, scrub: bool) {
        if scrub {
            self.inner.reset_as(ZeroReset);
        } else {
            self.inner.reset_as(MinReset);
        }
    }
}
