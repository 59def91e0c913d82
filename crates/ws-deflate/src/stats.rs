//! Counters of the inflation work done on the current thread, for tests and metrics.
//!
//! Every connection inflating on a thread adds to that thread's totals; read them with
//! [`inflate_stats`] before and after the work you want to measure and subtract. The counters
//! are plain per-thread integers: counting costs a few instructions per fragment.

use std::cell::Cell;

/// What the inflating side of permessage-deflate did on one thread (totals since the thread
/// started; see [`inflate_stats`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct InflateStats {
    /// Calls into the deflate engine to inflate (a fragment takes one or a few; a fragment
    /// without compressed bytes that does not end its message takes none).
    pub engine_calls: u64,
    /// Compressed bytes the engine consumed (the `00 00 ff ff` tail appended to each message
    /// included).
    pub input_bytes: u64,
    /// Decompressed bytes appended to messages.
    pub output_bytes: u64,
    /// Bytes written into message buffers: the output itself plus any filler (zeroes) written
    /// ahead of it for the engine to overwrite.
    pub buffer_bytes_written: u64,
}

impl InflateStats {
    /// The counts of `self` minus those of `earlier` (an earlier reading on the same thread).
    pub fn since(&self, earlier: &InflateStats) -> InflateStats {
        InflateStats {
            engine_calls: self.engine_calls - earlier.engine_calls,
            input_bytes: self.input_bytes - earlier.input_bytes,
            output_bytes: self.output_bytes - earlier.output_bytes,
            buffer_bytes_written: self.buffer_bytes_written - earlier.buffer_bytes_written,
        }
    }
}

thread_local! {
    static STATS: Cell<InflateStats> = const {
        Cell::new(InflateStats {
            engine_calls: 0,
            input_bytes: 0,
            output_bytes: 0,
            buffer_bytes_written: 0,
        })
    };
}

/// This thread's inflation totals so far.
pub fn inflate_stats() -> InflateStats {
    STATS.try_with(Cell::get).unwrap_or_default()
}

/// Adds one engine call that consumed `input` bytes, produced `output` bytes and wrote
/// `written` bytes into the message buffer.
pub(crate) fn count_call(input: usize, output: usize, written: usize) {
    let _ = STATS.try_with(|s| {
        let mut v = s.get();
        v.engine_calls += 1;
        v.input_bytes += input as u64;
        v.output_bytes += output as u64;
        v.buffer_bytes_written += written as u64;
        s.set(v);
    });
}
