//! Criterion benchmarks for `ws-deflate`: compressing and inflating one message, for every
//! compression mode, on 1 KiB JSON-like, 16 KiB and 64 KiB messages.
//!
//! Run with `cargo bench -p sockudo-ws-benches --bench deflate` (add
//! `-- --warm-up-time 1 --measurement-time 2` for a quick pass). Throughput is in plain
//! (uncompressed) bytes. Each iteration handles a different message from a cycle of 64, so a
//! compressor with context takeover sees realistic history, not one message repeated.

use std::hint::black_box;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use ws_deflate::{DeflateConfig, DeflateNegotiator};
use ws_proto::extension::{Extension, ExtensionNegotiator};
use ws_proto::handshake::parse_extensions;
use ws_proto::{Bytes, BytesMut, Compression};

const MODES: [Compression; 5] = [
    Compression::Dedicated,
    Compression::Shared,
    Compression::Shared4KB,
    Compression::Shared8KB,
    Compression::Shared16KB,
];

const SIZES: [(usize, &str); 3] = [(1 << 10, "1KiB"), (16 << 10, "16KiB"), (64 << 10, "64KiB")];

/// Messages in a cycle.
const CYCLE: usize = 64;

/// JSON-like records (an API's event stream), `len` bytes, varying with `seed`.
fn json_like(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 160);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut i = seed * 1000;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let record = format!(
            "{{\"id\":{i},\"event\":\"trade\",\"symbol\":\"SYM{}\",\"price\":{}.{:02},\"qty\":{},\
             \"side\":\"{}\",\"ts\":{}}},",
            x % 500,
            (x >> 12) % 10_000,
            (x >> 30) % 100,
            (x >> 40) % 1000,
            if x & 1 == 0 { "buy" } else { "sell" },
            1_700_000_000_000u64 + (x >> 20) % 1_000_000
        );
        out.extend_from_slice(record.as_bytes());
        i += 1;
    }
    out.truncate(len);
    out
}

/// A server-side extension for `mode`, negotiated from a browser's offer.
fn server(mode: Compression) -> Box<dyn Extension> {
    let offers = parse_extensions("permessage-deflate; client_max_window_bits").unwrap();
    let (_, ext) = DeflateNegotiator::new(mode)
        .server_accept(&offers)
        .unwrap()
        .unwrap();
    ext
}

/// The matching client end: what the server decodes comes from it.
fn client(mode: Compression) -> Box<dyn Extension> {
    let negotiator = DeflateNegotiator::new(mode);
    let offer = negotiator.client_offer().unwrap();
    let (answer, _) = DeflateNegotiator::new(mode)
        .server_accept(&parse_extensions(&offer).unwrap())
        .unwrap()
        .unwrap();
    negotiator
        .client_accept(&parse_extensions(&answer).unwrap())
        .unwrap()
        .unwrap()
}

/// A server-side extension for `mode` at compression `level`.
fn server_at(mode: Compression, level: u8) -> Box<dyn Extension> {
    let offers = parse_extensions("permessage-deflate; client_max_window_bits").unwrap();
    let (_, ext) = DeflateNegotiator::with_config(DeflateConfig::new(mode).level(level))
        .server_accept(&offers)
        .unwrap()
        .unwrap();
    ext
}

fn compress(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate/compress");
    for (size, name) in SIZES {
        let messages: Vec<Bytes> = (0..CYCLE as u64)
            .map(|s| Bytes::from(json_like(size, s)))
            .collect();
        group.throughput(Throughput::Bytes(size as u64));
        // Every mode at the default level (1), and the two base modes at level 6.
        let runs = MODES
            .iter()
            .map(|&m| (m, 1))
            .chain([(Compression::Dedicated, 6), (Compression::Shared, 6)]);
        for (mode, level) in runs {
            let mut ext = server_at(mode, level);
            let mut i = 0;
            let id = if level == 1 {
                format!("{mode:?}")
            } else {
                format!("{mode:?}-L{level}")
            };
            group.bench_function(BenchmarkId::new(id, name), |b| {
                b.iter(|| {
                    let m = &messages[i % CYCLE];
                    i += 1;
                    black_box(ext.encode(m, true).unwrap())
                });
            });
        }
    }
    group.finish();
}

fn decompress(c: &mut Criterion) {
    let mut group = c.benchmark_group("deflate/decompress");
    for (size, name) in SIZES {
        group.throughput(Throughput::Bytes((size * CYCLE) as u64));
        for mode in MODES {
            // The client's compressed stream of a whole cycle, in order (with context
            // takeover each message depends on the ones before it).
            let mut sender = client(mode);
            let wire: Vec<(u8, Bytes)> = (0..CYCLE as u64)
                .map(|s| {
                    sender
                        .encode(&Bytes::from(json_like(size, s)), true)
                        .unwrap()
                })
                .collect();
            assert!(wire.iter().all(|(rsv, _)| *rsv != 0));
            group.bench_function(
                BenchmarkId::new(format!("{mode:?}"), format!("{name} x{CYCLE}")),
                |b| {
                    b.iter_batched(
                        || server(mode),
                        |mut ext| {
                            for (_, payload) in &wire {
                                let mut out = BytesMut::new();
                                ext.decode(payload, true, &mut out, 1 << 20).unwrap();
                                black_box(out);
                            }
                        },
                        BatchSize::SmallInput,
                    );
                },
            );
        }
    }
    group.finish();
}

/// Compressed size per mode, printed once (ratio matters as much as speed).
fn ratios(_: &mut Criterion) {
    println!("\ncompressed size of a {CYCLE}-message cycle (plain -> wire):");
    for (size, name) in SIZES {
        for mode in MODES {
            let mut ext = server(mode);
            let (mut plain, mut wire) = (0, 0);
            for s in 0..CYCLE as u64 {
                let m = Bytes::from(json_like(size, s));
                plain += m.len();
                wire += ext.encode(&m, true).unwrap().1.len();
            }
            println!(
                "  {name:>5} {:<11} {plain:>8} -> {wire:>8} ({:.1}%)",
                format!("{mode:?}"),
                100.0 * wire as f64 / plain as f64
            );
        }
    }
}

criterion_group!(benches, ratios, compress, decompress);
criterion_main!(benches);
