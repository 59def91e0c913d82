//! The cost of inflating a message is linear in what it produces, however it is fragmented:
//! empty continuation frames cost nothing, tiny ones cost what they bring, and the message
//! buffer never runs ahead of the output by more than a bounded step. Measured with this
//! crate's per-thread inflation counters and a counting allocator, never with a clock.

mod common;
use ws_simd::alloc_stats as counting;

use std::time::Instant;

use ws_deflate::{DeflateConfig, DeflateParams, InflateStats, PerMessageDeflate, inflate_stats};
use ws_proto::extension::{Extension, ExtensionError};
use ws_proto::{Bytes, BytesMut, Compression, Config, Connection, Message, Role};

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

const TAIL: [u8; 4] = [0, 0, 0xff, 0xff];
const MIB: usize = 1 << 20;
/// The message size limit of these tests.
const LIMIT: usize = 16 * MIB;
/// How far the message buffer may run ahead of the output, beyond doubling: one step.
const STEP: usize = 64 << 10;

fn server_ext(takeover: bool) -> PerMessageDeflate {
    let mut p = DeflateParams::default();
    p.client_no_context_takeover = !takeover;
    PerMessageDeflate::new(Role::Server, p, &DeflateConfig::new(Compression::Dedicated))
}

/// `message` compressed by a client as one message, with its tail put back: a prefix of a
/// permessage-deflate stream after which more fragments may follow.
fn compressed_prefix(message: &[u8]) -> Vec<u8> {
    let mut enc = PerMessageDeflate::new(
        Role::Client,
        DeflateParams::default(),
        &DeflateConfig::new(Compression::Shared),
    );
    let (rsv, z) = enc.encode(&Bytes::copy_from_slice(message), false).unwrap();
    assert_ne!(rsv, 0, "the message compresses");
    let mut z = z.to_vec();
    z.extend_from_slice(&TAIL);
    z
}

/// Raw DEFLATE written bit by bit, independent of the code under test.
struct Bits {
    out: Vec<u8>,
    acc: u32,
    n: u32,
}

impl Bits {
    fn new() -> Bits {
        Bits {
            out: Vec::new(),
            acc: 0,
            n: 0,
        }
    }
    /// `count` bits of `value`, least significant first.
    fn put(&mut self, value: u32, count: u32) {
        self.acc |= value << self.n;
        self.n += count;
        while self.n >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.n -= 8;
        }
    }
    /// A Huffman code, most significant bit first.
    fn code(&mut self, code: u32, len: u32) {
        for i in (0..len).rev() {
            self.put((code >> i) & 1, 1);
        }
    }
    /// Ends with the header of an empty stored block and pads to a byte: what a sync flush
    /// leaves before the `00 00 ff ff` that permessage-deflate strips.
    fn finish(mut self) -> Vec<u8> {
        self.put(0, 3);
        if self.n > 0 {
            self.put(0, 8 - self.n);
        }
        self.out
    }
}

/// A non-final fixed-Huffman block of `matches` copies of 258 bytes at distance 1 (repeating
/// the last byte of the output so far), then a stored block header: a stream continuation
/// that inflates to `258 * matches` bytes, ~13 bits per match.
fn runs(matches: usize) -> Vec<u8> {
    let mut bits = Bits::new();
    bits.put(0, 1); // BFINAL = 0
    bits.put(1, 2); // BTYPE = 01, fixed Huffman
    for _ in 0..matches {
        bits.code(0b1100_0101, 8); // length code 285: 258 bytes
        bits.code(0, 5); // distance code 0: distance 1
    }
    bits.code(0, 7); // end of block
    bits.finish()
}

/// `n` empty stored blocks (`00 00 00 ff ff` each): valid continuations that produce nothing.
fn empty_stored_blocks(n: usize) -> Vec<u8> {
    [0u8, 0, 0, 0xff, 0xff].repeat(n)
}

/// What decoding `fragments` (the last one with FIN) cost, and the message it produced.
struct Run {
    message: BytesMut,
    stats: InflateStats,
    /// Peak heap growth while decoding.
    peak: isize,
}

fn decode_all(ext: &mut PerMessageDeflate, fragments: &[&[u8]], limit: usize) -> Run {
    let mut out = BytesMut::new();
    let before = inflate_stats();
    let base = counting::reset_peak();
    for (i, f) in fragments.iter().enumerate() {
        let fin = i + 1 == fragments.len();
        ext.decode(f, fin, &mut out, limit)
            .unwrap_or_else(|e| panic!("fragment {i} of {}: {e:?}", fragments.len()));
    }
    Run {
        peak: counting::peak() - base,
        stats: inflate_stats().since(&before),
        message: out,
    }
}

fn eight_mib() -> Vec<u8> {
    common::json_like(8 * MIB, 7)
}

/// The fragments of a message sent as `first`, then `n` empty continuations, then an empty
/// final frame.
fn with_empty_continuations(first: &[u8], n: usize) -> Vec<&[u8]> {
    let mut f = vec![first];
    f.extend(std::iter::repeat_n(&[][..], n + 1));
    f
}

#[test]
fn empty_continuations_cost_nothing() {
    let message = eight_mib();
    let z = compressed_prefix(&message);
    for takeover in [true, false] {
        let whole = decode_all(&mut server_ext(takeover), &[&z], LIMIT);
        assert_eq!(&whole.message[..], &message[..]);
        let fragmented = decode_all(
            &mut server_ext(takeover),
            &with_empty_continuations(&z, 2000),
            LIMIT,
        );
        assert_eq!(&fragmented.message[..], &message[..]);
        println!(
            "8 MiB, takeover {takeover}: whole {:?} peak {} KiB; + 2,000 empty continuations {:?} peak {} KiB",
            whole.stats,
            whole.peak >> 10,
            fragmented.stats,
            fragmented.peak >> 10
        );
        // The 2,000 empty frames add no engine call and no byte written: the message costs
        // what it costs unfragmented.
        assert_eq!(fragmented.stats.engine_calls, whole.stats.engine_calls);
        assert_eq!(
            fragmented.stats.buffer_bytes_written,
            whole.stats.buffer_bytes_written
        );
        // And that is the output, written once.
        assert_eq!(whole.stats.buffer_bytes_written, message.len() as u64);
        assert!(fragmented.peak <= whole.peak + (4 << 10));
    }
}

#[test]
fn tiny_continuations_cost_what_they_bring() {
    // 8 MiB in one fragment, 2,000 empty continuations, then 2,000 one-byte ones: 1,000 bytes
    // of empty stored blocks (no output) and ~1,000 bytes of runs (~160 output bytes each).
    let message = eight_mib();
    let z = compressed_prefix(&message);
    let stored = empty_stored_blocks(200);
    let matches = 614;
    let runs = runs(matches);
    assert_eq!(stored.len() + runs.len(), 2000);
    let mut fragments = vec![&z[..]];
    fragments.extend(std::iter::repeat_n(&[][..], 2000));
    fragments.extend(stored.chunks(1));
    fragments.extend(runs.chunks(1));
    fragments.push(&[]);

    let mut expected = message.clone();
    let last = *message.last().unwrap();
    expected.resize(message.len() + 258 * matches, last);

    let whole = decode_all(&mut server_ext(true), &[&z], LIMIT);
    let run = decode_all(&mut server_ext(true), &fragments, LIMIT);
    assert!(run.message[..] == expected[..], "the output differs");
    println!(
        "8 MiB + 2,000 empty + 2,000 one-byte continuations: {:?}, peak {} KiB (the 8 MiB alone: {:?})",
        run.stats,
        run.peak >> 10,
        whole.stats
    );
    // One engine call per one-byte fragment at most, none for the empty ones.
    assert!(
        run.stats.engine_calls <= whole.stats.engine_calls + 2000,
        "{:?}",
        run.stats
    );
    assert_eq!(run.stats.input_bytes, (z.len() + 2000 + TAIL.len()) as u64);
    // Nothing written into the message but the output.
    assert_eq!(run.stats.output_bytes, expected.len() as u64);
    assert_eq!(run.stats.buffer_bytes_written, expected.len() as u64);
    // The buffer grows with the output: at most doubling, or one step ahead.
    let produced = expected.len() as isize;
    assert!(
        run.peak <= (2 * produced).max(produced + STEP as isize) + (64 << 10),
        "peak {} for {produced} bytes",
        run.peak
    );
}

#[test]
fn memory_follows_the_output_not_the_input() {
    // Small outputs stay small however much compressed input carries them: 100 KiB of empty
    // stored blocks inflate to nothing and allocate (next to) nothing.
    let blocks = empty_stored_blocks(20_000);
    let mut ext = server_ext(true);
    // Create the inflater first, so that only the message buffer is measured.
    decode_all(&mut ext, &[b"\x02\x00"], LIMIT);
    // Each message ends as a sync flush does, with a stored block's header (the receiver
    // appends its LEN and NLEN).
    let one_by_one = blocks.chunks(1).chain([&[0u8][..]]).collect();
    for fragments in [vec![&blocks[..], &[0u8][..]], one_by_one] {
        let run = decode_all(&mut ext, &fragments, LIMIT);
        assert!(
            run.message.is_empty(),
            "{} fragments: {:?}",
            fragments.len(),
            &run.message[..run.message.len().min(16)]
        );
        assert_eq!(run.stats.buffer_bytes_written, 0, "{:?}", run.stats);
        assert!(run.peak <= 1024, "peak {} for no output", run.peak);
    }
    // A run of 258-byte matches: the buffer is never more than twice the output or one step
    // ahead of it.
    let z = runs(4000);
    for chunk in [z.len(), 4096, 7, 1] {
        // A stored block holding "a", then the runs repeating it.
        let lead = [0u8, 1, 0, 0xfe, 0xff, b'a'];
        let mut fragments: Vec<&[u8]> = vec![&lead];
        fragments.extend(z.chunks(chunk));
        fragments.push(&[]);
        let run = decode_all(&mut ext, &fragments, LIMIT);
        let produced = 1 + 258 * 4000;
        assert_eq!(run.message.len(), produced);
        assert!(run.message.iter().all(|&b| b == b'a'));
        assert_eq!(run.stats.buffer_bytes_written, produced as u64);
        let produced = produced as isize;
        assert!(
            run.peak <= (2 * produced).max(produced + STEP as isize),
            "chunks of {chunk}: peak {} for {produced} bytes",
            run.peak
        );
    }
}

#[test]
fn the_limit_is_exact_across_fragments() {
    let message = common::json_like(300_000, 3);
    let z = compressed_prefix(&message);
    let one_more = runs(1); // 258 more bytes
    let len = message.len();
    for takeover in [true, false] {
        // Exactly at the limit, then empty and no-output continuations: fine.
        let stored = empty_stored_blocks(3);
        let mut fragments = with_empty_continuations(&z, 10);
        fragments.extend(stored.chunks(1));
        fragments.push(&[0]);
        let run = decode_all(&mut server_ext(takeover), &fragments, len);
        assert_eq!(run.message.len(), len);

        // One byte short: the first fragment already fails.
        let mut ext = server_ext(takeover);
        let mut out = BytesMut::new();
        assert_eq!(
            ext.decode(&z, false, &mut out, len - 1),
            Err(ExtensionError::TooBig)
        );
        assert!(out.len() < len);

        // At the limit, then a continuation that produces more: TooBig, without the buffer
        // passing the limit.
        let mut ext = server_ext(takeover);
        let mut out = BytesMut::new();
        ext.decode(&z, false, &mut out, len).unwrap();
        for _ in 0..100 {
            ext.decode(&[], false, &mut out, len).unwrap();
        }
        assert_eq!(
            ext.decode(&one_more, false, &mut out, len + 257),
            Err(ExtensionError::TooBig)
        );
        assert!(out.len() <= len + 257);
        assert!(out.capacity() <= len + 257);
    }
}

/// A masked client frame.
fn frame(first: u8, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![first];
    let len = payload.len();
    if len < 126 {
        f.push(0x80 | len as u8);
    } else if len <= 0xffff {
        f.push(0x80 | 126);
        f.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        f.push(0x80 | 127);
        f.extend_from_slice(&(len as u64).to_be_bytes());
    }
    let key = [9, 8, 7, 6];
    f.extend_from_slice(&key);
    f.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    f
}

#[test]
fn a_peer_flooding_continuations_costs_what_its_message_produces() {
    // A hostile client: a large compressed first fragment, then a flood of empty and one-byte
    // continuation frames, over a real (sans-IO) connection.
    let config = Config::builder()
        .max_message_size(LIMIT)
        .max_frame_size(4 * MIB)
        .build();
    let now = Instant::now();
    let mut server = Connection::new(Role::Server, config, now);
    server.set_extension(Box::new(server_ext(true)));

    let message = eight_mib();
    let z = compressed_prefix(&message);
    let matches = 3000;
    let runs = runs(matches);
    // 2,000 bytes of empty stored blocks, one byte a frame, among 20,000 empty frames.
    let stored = empty_stored_blocks(400);
    let mut wire = frame(0x40 | 0x2, &z); // binary, RSV1, not FIN
    for i in 0..20_000 {
        wire.extend_from_slice(&frame(0x0, &[]));
        if i % 10 == 0 {
            wire.extend_from_slice(&frame(0x0, &stored[i / 10..i / 10 + 1]));
        }
    }
    // Then runs, one byte a frame, each followed by an empty frame.
    for b in runs.chunks(1) {
        wire.extend_from_slice(&frame(0x0, b));
        wire.extend_from_slice(&frame(0x0, &[]));
    }
    wire.extend_from_slice(&frame(0x80, &[]));

    let before = inflate_stats();
    let base = counting::reset_peak();
    server.feed(&wire, now);
    let got = server.poll_message().expect("a valid message");
    let stats = inflate_stats().since(&before);
    let peak = counting::peak() - base;
    let Some(Message::Binary(got)) = got else {
        panic!("expected a binary message, got {got:?}")
    };
    let produced = message.len() + 258 * matches;
    assert_eq!(got.len(), produced);
    assert!(got[..message.len()] == message[..]);
    println!(
        "{} frames ({} bytes): {stats:?}, peak heap growth {} KiB",
        1 + 20_000 + 2_000 + 2 * runs.len() + 1,
        wire.len(),
        peak >> 10
    );
    // One engine call per frame with compressed bytes (and one for the tail), a few more for
    // the first, none for the 20,000 + empty ones.
    let carrying = 1 + 2_000 + runs.len() as u64;
    assert!(stats.engine_calls <= carrying + 8, "{stats:?}");
    assert_eq!(stats.buffer_bytes_written, produced as u64, "{stats:?}");
    // The received bytes (held by the connection while it parses them) plus the message.
    assert!(
        peak <= (wire.len() + 2 * produced + STEP) as isize,
        "peak {peak}"
    );
}
