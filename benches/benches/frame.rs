//! Frame header decode/encode and the connection's per-message work (receive a masked frame,
//! echo it), in isolation from any I/O.

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use std::hint::black_box;
use std::io::IoSlice;
use std::time::Instant;
use ws_proto::frame::{FrameHeader, MAX_HEADER_LEN, OpCode};
use ws_proto::{Config, Connection, Role};

fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x12, 0x34, 0x56, 0x78];
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: OpCode::from_u8(opcode).unwrap(),
        mask: Some(key),
        payload_len: payload.len() as u64,
    };
    let mut out = Vec::new();
    header.encode(&mut out);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn headers(c: &mut Criterion) {
    let mut group = c.benchmark_group("frame_header");
    for (name, len) in [("7bit", 100u64), ("16bit", 1000), ("64bit", 1 << 20)] {
        let header = FrameHeader {
            fin: true,
            rsv: 0,
            opcode: OpCode::Binary,
            mask: Some([1, 2, 3, 4]),
            payload_len: len,
        };
        let mut bytes = [0u8; MAX_HEADER_LEN];
        let n = header.encode_to_array(&mut bytes);
        group.bench_function(BenchmarkId::new("decode", name), |b| {
            b.iter(|| FrameHeader::decode(black_box(&bytes[..n])))
        });
        group.bench_function(BenchmarkId::new("encode", name), |b| {
            let mut out = [0u8; MAX_HEADER_LEN];
            b.iter(|| black_box(&header).encode_to_array(&mut out))
        });
    }
    group.finish();
}

/// One server-side echo: a masked frame arrives, is unmasked (and validated, for text) into a
/// message, and goes back out through the cork buffer.
fn echo(c: &mut Criterion) {
    let mut group = c.benchmark_group("connection_echo");
    for (kind, opcode) in [("binary", 2u8), ("text", 1u8)] {
        for size in [20usize, 512, 1024, 16 * 1024] {
            let payload: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
            let wire = masked_frame(opcode, &payload);
            let now = Instant::now();
            let mut conn = Connection::new(Role::Server, Config::default(), now);
            group.throughput(Throughput::Bytes(size as u64));
            group.bench_function(BenchmarkId::new(kind, size), |b| {
                b.iter(|| {
                    conn.read_buf().extend_from_slice(&wire);
                    conn.handle_read(wire.len(), now);
                    let message = conn.poll_message().unwrap().unwrap();
                    conn.send(message).unwrap();
                    let mut slices = [IoSlice::new(&[]); 4];
                    let n = conn.transmit_slices(&mut slices);
                    let len: usize = slices[..n].iter().map(|s| s.len()).sum();
                    conn.advance_transmit(black_box(len));
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, headers, echo);
criterion_main!(benches);
