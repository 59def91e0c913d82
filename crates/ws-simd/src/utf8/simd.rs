//! The vectorised UTF-8 validator, generic over a [`Vector`] type: the lookup algorithm of
//! Keiser & Lemire, "Validating UTF-8 in less than one instruction per byte" (2021), with an
//! ASCII fast path over 64-byte chunks.
//!
//! # The algorithm
//!
//! Every error in UTF-8 shows up in a window of at most four consecutive bytes, and most in a
//! pair. For every byte position the validator looks at the previous byte (`prev1`) and the
//! current byte and looks up three 16-entry tables, indexed by `prev1`'s high nibble,
//! `prev1`'s low nibble and the current byte's high nibble. Each table entry is a set of error
//! bits (one bit per error class below); an error class is present at a position exactly when
//! all three lookups contain its bit, so the AND of the three lookups is the set of errors
//! (bit 7 aside, see below).
//!
//! | bit | class          | previous byte          | current byte       |
//! |-----|----------------|------------------------|--------------------|
//! | 0   | `TOO_SHORT`    | lead `11xx_xxxx`       | not a continuation |
//! | 1   | `TOO_LONG`     | ASCII                  | continuation       |
//! | 2   | `OVERLONG_3`   | `E0`                   | `80..=9F`          |
//! | 3   | `TOO_LARGE`    | `F4..=FF`              | `90..=BF`          |
//! | 4   | `SURROGATE`    | `ED`                   | `A0..=BF`          |
//! | 5   | `OVERLONG_2`   | `C0`, `C1`             | continuation       |
//! | 6   | `OVERLONG_4`   | `F0`                   | `80..=8F`          |
//! | 6   | `TOO_LARGE_1000` | `F5..=FF`            | `80..=8F`          |
//! | 7   | `TWO_CONTS`    | continuation           | continuation       |
//!
//! (The two bit-6 classes share a bit because they agree on the tables they differ in.)
//!
//! Two continuations in a row are an error unless the byte two back is a 3- or 4-byte lead, or
//! the byte three back is a 4-byte lead. Those positions are computed with saturating
//! subtractions (`prev2 - 0x60` and `prev3 - 0x70` have their high bit set exactly when
//! `prev2 >= 0xE0` and `prev3 >= 0xF0`), and XOR-ed with the `TWO_CONTS` bit: a continuation
//! pair where none is required is an error, and a required continuation that is missing is an
//! error too.
//!
//! At the end of a non-ASCII chunk, the last three bytes are checked for a sequence that needs
//! more bytes than remain (`is_incomplete`); that is an error only if the next chunk is ASCII
//! (a non-ASCII chunk catches it through `prev1..3`) or the input ends. The final partial chunk
//! is loaded zero-filled (with masked loads where the target has them, without reading past the
//! end), so a sequence cut off by the end of input is followed by a zero byte and caught as
//! `TOO_SHORT`.
//!
//! The ASCII fast path first checks four chunks (256 bytes) at once for a high bit, then one
//! chunk at a time.
//!
//! The vector code only decides valid/invalid, one 64-byte chunk at a time. On the first chunk
//! with an error, everything before the chunk is known to be a valid prefix; the exact
//! `valid_up_to` is found by the scalar validator restarted at the start of the last code point
//! before the chunk (at most 3 bytes back), so it scans at most ~67 bytes more: O(n) overall.

use super::{Utf8Error, scalar};

/// Error classes, see the module documentation.
const TOO_SHORT: u8 = 1 << 0;
const TOO_LONG: u8 = 1 << 1;
const OVERLONG_3: u8 = 1 << 2;
const TOO_LARGE: u8 = 1 << 3;
const SURROGATE: u8 = 1 << 4;
const OVERLONG_2: u8 = 1 << 5;
const TOO_LARGE_1000: u8 = 1 << 6;
const OVERLONG_4: u8 = 1 << 6;
const TWO_CONTS: u8 = 1 << 7;
/// Classes decided by the high nibble of the previous byte alone: present for every low nibble.
const CARRY: u8 = TOO_SHORT | TOO_LONG | TWO_CONTS;

/// Indexed by the high nibble of the previous byte.
static BYTE_1_HIGH: [u8; 16] = [
    // 0_______ ASCII
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    TOO_LONG,
    // 10______ continuation
    TWO_CONTS,
    TWO_CONTS,
    TWO_CONTS,
    TWO_CONTS,
    // 1100____ 2-byte lead (C0, C1 overlong)
    TOO_SHORT | OVERLONG_2,
    // 1101____ 2-byte lead
    TOO_SHORT,
    // 1110____ 3-byte lead (E0 overlong, ED surrogates)
    TOO_SHORT | OVERLONG_3 | SURROGATE,
    // 1111____ 4-byte lead (F0 overlong, F4.. too large)
    TOO_SHORT | TOO_LARGE | TOO_LARGE_1000 | OVERLONG_4,
];

/// Indexed by the low nibble of the previous byte.
static BYTE_1_LOW: [u8; 16] = [
    // ____0000
    CARRY | OVERLONG_2 | OVERLONG_3 | OVERLONG_4,
    // ____0001
    CARRY | OVERLONG_2,
    // ____001_
    CARRY,
    CARRY,
    // ____0100
    CARRY | TOO_LARGE,
    // ____0101 .. ____1100
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    // ____1101
    CARRY | TOO_LARGE | TOO_LARGE_1000 | SURROGATE,
    // ____111_
    CARRY | TOO_LARGE | TOO_LARGE_1000,
    CARRY | TOO_LARGE | TOO_LARGE_1000,
];

/// Indexed by the high nibble of the current byte.
static BYTE_2_HIGH: [u8; 16] = [
    // 0_______ ASCII
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    // 1000____
    TOO_LONG | TWO_CONTS | OVERLONG_2 | OVERLONG_3 | TOO_LARGE_1000 | OVERLONG_4,
    // 1001____
    TOO_LONG | TWO_CONTS | OVERLONG_2 | OVERLONG_3 | TOO_LARGE,
    // 101_____
    TOO_LONG | TWO_CONTS | OVERLONG_2 | SURROGATE | TOO_LARGE,
    TOO_LONG | TWO_CONTS | OVERLONG_2 | SURROGATE | TOO_LARGE,
    // 11______ lead
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
    TOO_SHORT,
];

/// Bytes per chunk: the unit of the ASCII fast path and of error localisation.
pub(crate) const CHUNK: usize = 64;

/// `is_incomplete` thresholds: subtracting these (saturating) leaves a non-zero byte exactly
/// where a lead byte needs more bytes than remain in the vector. Vectors of `n` bytes use the
/// last `n` entries.
static INCOMPLETE_MAX: [u8; CHUNK] = {
    let mut t = [0xFF; CHUNK];
    t[CHUNK - 3] = 0xF0 - 1;
    t[CHUNK - 2] = 0xE0 - 1;
    t[CHUNK - 1] = 0xC0 - 1;
    t
};

/// The byte-vector operations the validator needs.
///
/// # Safety
///
/// Implementations are used from functions compiled with the implementation's target features.
/// Every method is `unsafe` and requires the running CPU to support those features; `load`
/// and `load_partial` also require their pointer to be valid for the bytes they read. The
/// methods are `#[inline(always)]` without `#[target_feature]`, so that they inline into the
/// `#[target_feature]` entry point (the pattern `memchr` uses).
pub(crate) trait Vector: Copy {
    /// Bytes per vector: 16, 32 or 64 (a divisor of [`CHUNK`]).
    const BYTES: usize;
    /// All bytes set to `b`.
    unsafe fn splat(b: u8) -> Self;
    /// Unaligned load of `BYTES` bytes.
    unsafe fn load(p: *const u8) -> Self;
    /// Load of `n` bytes (`0 < n < BYTES`, `p` valid for `n` bytes of reads), the other bytes
    /// zero. Reads nothing past `p + n`. The default copies into a zeroed buffer; targets with
    /// masked loads override it (a copy then a wide load stalls store forwarding).
    #[inline(always)]
    unsafe fn load_partial(p: *const u8, n: usize) -> Self {
        let mut pad = [0u8; CHUNK];
        // SAFETY: the caller guarantees `p` is valid for `n < BYTES <= CHUNK` bytes of reads;
        // `pad` is a distinct local.
        unsafe {
            core::ptr::copy_nonoverlapping(p, pad.as_mut_ptr(), n);
            Self::load(pad.as_ptr())
        }
    }
    /// A 16-byte lookup table repeated in every 128-bit lane.
    unsafe fn table(t: &[u8; 16]) -> Self;
    /// Bitwise AND.
    unsafe fn and(self, o: Self) -> Self;
    /// Bitwise OR.
    unsafe fn or(self, o: Self) -> Self;
    /// Bitwise XOR.
    unsafe fn xor(self, o: Self) -> Self;
    /// Each byte shifted right by 4 (its high nibble, `0..=15`).
    unsafe fn shr4(self) -> Self;
    /// `self[idx[i]]` within each 128-bit lane, for `idx` bytes in `0..=15`.
    unsafe fn lookup(self, idx: Self) -> Self;
    /// Saturating unsigned byte subtraction.
    unsafe fn subs(self, o: Self) -> Self;
    /// The vectors of the bytes 1, 2 and 3 positions earlier, taking the bytes before the
    /// first ones from the end of `prev` (the previous vector of input).
    unsafe fn prev123(self, prev: Self) -> (Self, Self, Self);
    /// Whether any byte has its high bit set.
    unsafe fn any_high_bit(self) -> bool;
    /// Whether any bit is set.
    unsafe fn any_set(self) -> bool;
}

/// The constant vectors, built once per call.
struct Consts<V> {
    byte_1_high: V,
    byte_1_low: V,
    byte_2_high: V,
    low_nibble: V,
    third_byte: V,
    fourth_byte: V,
    high_bit: V,
    incomplete_max: V,
    zero: V,
}

/// State carried from chunk to chunk.
struct State<V> {
    /// The last vector of input processed.
    prev_input: V,
    /// Non-zero if `prev_input` ends with an incomplete sequence.
    prev_incomplete: V,
}

/// Up to four vectors: one chunk (only the first `CHUNK / V::BYTES` are used).
type Chunk<V> = [V; 4];

/// Chunks checked together by the ASCII fast path before falling back to one at a time.
const ASCII_BLOCK: usize = 4;

/// Validates `buf`.
///
/// # Safety
///
/// The CPU must support `V`'s target features (see [`Vector`]).
#[inline(always)]
pub(crate) unsafe fn validate<V: Vector>(buf: &[u8]) -> Result<(), Utf8Error> {
    // SAFETY: the caller guarantees `V`'s target features; the tables are 16 and 64 bytes, so
    // `INCOMPLETE_MAX[CHUNK - V::BYTES..]` is `V::BYTES` readable bytes.
    let c = unsafe {
        Consts {
            byte_1_high: V::table(&BYTE_1_HIGH),
            byte_1_low: V::table(&BYTE_1_LOW),
            byte_2_high: V::table(&BYTE_2_HIGH),
            low_nibble: V::splat(0x0F),
            third_byte: V::splat(0xE0 - 0x80),
            fourth_byte: V::splat(0xF0 - 0x80),
            high_bit: V::splat(0x80),
            incomplete_max: V::load(INCOMPLETE_MAX.as_ptr().add(CHUNK - V::BYTES)),
            zero: V::splat(0),
        }
    };
    let mut state = State {
        prev_input: c.zero,
        prev_incomplete: c.zero,
    };
    let len = buf.len();
    let ptr = buf.as_ptr();
    let mut i = 0;
    while i + ASCII_BLOCK * CHUNK <= len {
        // SAFETY: `i + ASCII_BLOCK * CHUNK <= len`, so every load below is in bounds; CPU
        // support is the caller's guarantee.
        unsafe {
            let p = ptr.add(i);
            let mut any = V::load(p);
            for j in 1..ASCII_BLOCK * CHUNK / V::BYTES {
                any = any.or(V::load(p.add(j * V::BYTES)));
            }
            if !any.any_high_bit() {
                // All ASCII: an error only if the bytes before ended inside a sequence.
                if state.prev_incomplete.any_set() {
                    return locate(buf, i);
                }
                state.prev_input = V::load(p.add(ASCII_BLOCK * CHUNK - V::BYTES));
                state.prev_incomplete = c.zero;
                i += ASCII_BLOCK * CHUNK;
                continue;
            }
            for _ in 0..ASCII_BLOCK {
                if chunk_has_error(&load_chunk(ptr.add(i)), &c, &mut state) {
                    return locate(buf, i);
                }
                i += CHUNK;
            }
        }
    }
    while i + CHUNK <= len {
        // SAFETY: `i + CHUNK <= len`, so `CHUNK` bytes at `ptr + i` are readable; CPU support
        // is the caller's guarantee.
        if unsafe { chunk_has_error(&load_chunk(ptr.add(i)), &c, &mut state) } {
            return locate(buf, i);
        }
        i += CHUNK;
    }
    if i < len {
        // The last, partial chunk, zero-filled: an incomplete sequence at the end of input is
        // then followed by a zero byte and caught as `TOO_SHORT`.
        // SAFETY: `len - i` bytes at `ptr + i` are readable, `0 < len - i < CHUNK`; CPU
        // support is the caller's guarantee.
        if unsafe { chunk_has_error(&load_chunk_partial(ptr.add(i), len - i), &c, &mut state) } {
            return locate(buf, i);
        }
    } else {
        // The input ends at a chunk boundary: the last chunk must not end inside a sequence.
        // SAFETY: CPU support is the caller's guarantee.
        if unsafe { state.prev_incomplete.any_set() } {
            return locate(buf, i);
        }
    }
    Ok(())
}

/// Loads the `CHUNK` bytes at `p`.
///
/// # Safety
///
/// `p` must be valid for `CHUNK` bytes of reads and the CPU must support `V`'s features.
#[inline(always)]
unsafe fn load_chunk<V: Vector>(p: *const u8) -> Chunk<V> {
    // SAFETY: every load is at `p + j * V::BYTES` with `j < CHUNK / V::BYTES`, inside the
    // `CHUNK` readable bytes; CPU support is the caller's guarantee.
    unsafe {
        let mut v = [V::splat(0); 4];
        for (j, x) in v.iter_mut().enumerate().take(CHUNK / V::BYTES) {
            *x = V::load(p.add(j * V::BYTES));
        }
        v
    }
}

/// Loads the `n` bytes at `p` (`0 < n < CHUNK`) as a chunk, zero-filled.
///
/// # Safety
///
/// `p` must be valid for `n` bytes of reads and the CPU must support `V`'s features.
#[inline(always)]
unsafe fn load_chunk_partial<V: Vector>(p: *const u8, n: usize) -> Chunk<V> {
    // SAFETY: full loads only cover `[j * V::BYTES, (j + 1) * V::BYTES) <= n`, the partial
    // load reads `n - j * V::BYTES` bytes from `j * V::BYTES`: all within the `n` readable
    // bytes. CPU support is the caller's guarantee.
    unsafe {
        let mut v = [V::splat(0); 4];
        for (j, x) in v.iter_mut().enumerate().take(CHUNK / V::BYTES) {
            let off = j * V::BYTES;
            if off + V::BYTES <= n {
                *x = V::load(p.add(off));
            } else if off < n {
                *x = V::load_partial(p.add(off), n - off);
            }
        }
        v
    }
}

/// Checks one chunk, continuing from `state`.
///
/// # Safety
///
/// The CPU must support `V`'s features.
#[inline(always)]
unsafe fn chunk_has_error<V: Vector>(
    chunk: &Chunk<V>,
    c: &Consts<V>,
    state: &mut State<V>,
) -> bool {
    let n = CHUNK / V::BYTES;
    // SAFETY: only `V` operations, which need the CPU support the caller guarantees.
    unsafe {
        let mut any = chunk[0];
        for v in &chunk[1..n] {
            any = any.or(*v);
        }
        if !any.any_high_bit() {
            // ASCII: an error only if the previous chunk ended in the middle of a sequence.
            let error = state.prev_incomplete.any_set();
            state.prev_input = chunk[n - 1];
            state.prev_incomplete = c.zero;
            return error;
        }
        let mut error = c.zero;
        for &input in &chunk[..n] {
            error = error.or(check_vector(input, state.prev_input, c));
            state.prev_input = input;
        }
        state.prev_incomplete = state.prev_input.subs(c.incomplete_max);
        error.any_set()
    }
}

/// The error bits of every byte of `input`, given the vector before it.
///
/// # Safety
///
/// The CPU must support `V`'s features.
#[inline(always)]
unsafe fn check_vector<V: Vector>(input: V, prev_input: V, c: &Consts<V>) -> V {
    // SAFETY: only `V` operations, which need the CPU support the caller guarantees.
    unsafe {
        let (prev1, prev2, prev3) = input.prev123(prev_input);
        let special = c
            .byte_1_high
            .lookup(prev1.shr4())
            .and(c.byte_1_low.lookup(prev1.and(c.low_nibble)))
            .and(c.byte_2_high.lookup(input.shr4()));
        let must_be_continuation = prev2
            .subs(c.third_byte)
            .or(prev3.subs(c.fourth_byte))
            .and(c.high_bit);
        special.xor(must_be_continuation)
    }
}

/// Called after the vector code found an error in the chunk starting at `chunk_start`:
/// everything before it is a valid prefix. Restarts the scalar validator at the start of the
/// last code point before the chunk to find the exact position.
#[cold]
#[inline(never)]
fn locate(buf: &[u8], chunk_start: usize) -> Result<(), Utf8Error> {
    // In a valid prefix every non-continuation byte starts a code point, and a run of three
    // continuations ends a 4-byte sequence, so this lands on a code point boundary.
    let mut start = chunk_start.saturating_sub(3);
    while start < chunk_start && scalar::is_continuation(buf[start]) {
        start += 1;
    }
    let result = scalar::validate(&buf[start..]).map_err(|e| Utf8Error::new(start + e));
    debug_assert!(
        result.is_err(),
        "vector validator reported an error that the scalar one did not find"
    );
    result
}
