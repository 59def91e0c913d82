//! Criterion benchmarks for `ws-simd`: masking and UTF-8 validation, per implementation.
//!
//! Run with `cargo bench -p sockudo-ws-benches --bench simd` (add
//! `-- --warm-up-time 1 --measurement-time 2` for a quick pass).

use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ws_simd::{Utf8Validator, mask, utf8};

const KEY: [u8; 4] = [0x37, 0xFA, 0x21, 0x3D];

/// The naive baseline: one byte at a time.
fn byte_loop(buf: &mut [u8], key: [u8; 4]) {
    for (i, b) in buf.iter_mut().enumerate() {
        *b ^= key[i % 4];
    }
}

/// A small deterministic generator (xorshift) so the inputs are not one short repeated pattern.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: u32) -> u32 {
        (self.next() % u64::from(n)) as u32
    }
}

/// ASCII text of `len` bytes: words, spaces and punctuation.
fn ascii_text(len: usize) -> String {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut s = String::with_capacity(len);
    while s.len() < len {
        let c = match rng.below(10) {
            0 => ' ',
            1 => ['.', ',', '"', ':', '{', '}', '1', '7'][rng.below(8) as usize],
            _ => char::from(b'a' + rng.below(26) as u8),
        };
        s.push(c);
    }
    s.truncate(len);
    s
}

/// Text of about `len` bytes where roughly half the bytes belong to multi-byte characters:
/// ASCII words mixed with Chinese (3 bytes), Cyrillic (2 bytes) and emoji (4 bytes).
fn mixed_text(len: usize) -> String {
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut s = String::with_capacity(len + 4);
    while s.len() < len {
        let c = match rng.below(20) {
            0..=12 => char::from(b'a' + rng.below(26) as u8),
            13 => ' ',
            14..=16 => char::from_u32(0x4E00 + rng.below(0x5000)).unwrap(),
            17..=18 => char::from_u32(0x0410 + rng.below(0x40)).unwrap(),
            _ => char::from_u32(0x1F300 + rng.below(0x250)).unwrap(),
        };
        s.push(c);
    }
    while s.len() > len {
        s.pop();
    }
    s
}

fn bench_mask(c: &mut Criterion) {
    let mut group = c.benchmark_group("mask");
    for size in [64usize, 1024, 64 * 1024] {
        group.throughput(Throughput::Bytes(size as u64));
        let mut buf: Vec<u8> = (0..size).map(|i| i as u8).collect();
        group.bench_function(BenchmarkId::new("byte_loop", size), |b| {
            b.iter(|| byte_loop(black_box(&mut buf), black_box(KEY)))
        });
        for imp in mask::available() {
            group.bench_function(BenchmarkId::new(imp.name(), size), |b| {
                b.iter(|| mask::apply_mask_with(imp, black_box(&mut buf), black_box(KEY), 0))
            });
        }
        group.bench_function(BenchmarkId::new("dispatched", size), |b| {
            b.iter(|| ws_simd::apply_mask(black_box(&mut buf), black_box(KEY)))
        });
        let src = buf.clone();
        group.bench_function(BenchmarkId::new("copy_and_mask", size), |b| {
            b.iter(|| ws_simd::copy_and_mask(black_box(&mut buf), black_box(&src), KEY, 0))
        });
    }
    group.finish();
}

fn bench_utf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8");
    let size = 64 * 1024;
    let inputs = [
        ("ascii_64KiB", ascii_text(size)),
        ("mixed_64KiB", mixed_text(size)),
    ];
    for (name, text) in &inputs {
        let bytes = text.as_bytes();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(BenchmarkId::new("std", name), |b| {
            b.iter(|| std::str::from_utf8(black_box(bytes)).is_ok())
        });
        for imp in utf8::available() {
            group.bench_function(BenchmarkId::new(imp.name(), name), |b| {
                b.iter(|| utf8::validate_with(imp, black_box(bytes)).is_ok())
            });
        }
    }
    group.finish();
}

fn bench_utf8_fragmented(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8_fragmented");
    let size = 4 * 1024 * 1024;
    let inputs = [
        ("ascii_4MiB", ascii_text(size)),
        ("mixed_4MiB", mixed_text(size)),
    ];
    for (name, text) in &inputs {
        let bytes = text.as_bytes();
        group.throughput(Throughput::Bytes(bytes.len() as u64));
        group.bench_function(BenchmarkId::new("pieces_64B", name), |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                for piece in black_box(bytes).chunks(64) {
                    v.feed(piece).unwrap();
                }
                v.finish().is_ok()
            })
        });
        group.bench_function(BenchmarkId::new("one_piece", name), |b| {
            b.iter(|| {
                let mut v = Utf8Validator::new();
                v.feed(black_box(bytes)).unwrap();
                v.finish().is_ok()
            })
        });
    }
    group.finish();
}

/// ws-simd's validator (runtime-dispatched, as the connection calls it) beside `simdutf8` (the
/// crate of the field: `basic` says only valid or not, `compat` also where it failed, which a
/// streaming validator needs to carry a split character to the next fragment), on the message
/// sizes that matter to a WebSocket server.
fn bench_utf8_vs_simdutf8(c: &mut Criterion) {
    let mut group = c.benchmark_group("utf8_vs_simdutf8");
    for size in [64usize, 256, 1024, 4096, 16 * 1024, 64 * 1024] {
        for (kind, text) in [("ascii", ascii_text(size)), ("mixed", mixed_text(size))] {
            let bytes = text.as_bytes();
            let input = format!("{kind}_{size}");
            group.throughput(Throughput::Bytes(bytes.len() as u64));
            group.bench_function(BenchmarkId::new("ws_simd", &input), |b| {
                b.iter(|| ws_simd::validate_utf8(black_box(bytes)).is_ok())
            });
            group.bench_function(BenchmarkId::new("simdutf8_basic", &input), |b| {
                b.iter(|| simdutf8::basic::from_utf8(black_box(bytes)).is_ok())
            });
            group.bench_function(BenchmarkId::new("simdutf8_compat", &input), |b| {
                b.iter(|| simdutf8::compat::from_utf8(black_box(bytes)).is_ok())
            });
            group.bench_function(BenchmarkId::new("std", &input), |b| {
                b.iter(|| std::str::from_utf8(black_box(bytes)).is_ok())
            });
        }
    }
    group.finish();
}

criterion_group!(
    benches,
    bench_mask,
    bench_utf8,
    bench_utf8_fragmented,
    bench_utf8_vs_simdutf8
);
criterion_main!(benches);
