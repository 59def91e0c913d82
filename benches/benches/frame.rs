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
                    conn.send(message, now).unwrap();
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

/// A 4 MiB text message received in one frame against the same message in 64-byte fragments:
/// UTF-8 is validated as fragments arrive, so the work must stay linear in the message size.
fn fragmented_text(c: &mut Criterion) {
    const SIZE: usize = 4 << 20;
    let text: Vec<u8> = "sockudo-ws κόσμε 🎉 "
        .as_bytes()
        .iter()
        .copied()
        .cycle()
        .take(SIZE)
        .collect();
    // Cut on a char boundary only where the whole message ends; fragments split code points.
    let text = std::str::from_utf8(&text)
        .map(|s| s.as_bytes().to_vec())
        .unwrap_or_else(|e| text[..e.valid_up_to()].to_vec());
    let key = [0x12, 0x34, 0x56, 0x78];
    let frame = |op: OpCode, fin: bool, payload: &[u8]| {
        let header = FrameHeader {
            fin,
            rsv: 0,
            opcode: op,
            mask: Some(key),
            payload_len: payload.len() as u64,
        };
        let mut out = Vec::new();
        header.encode(&mut out);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        out
    };
    let whole = frame(OpCode::Text, true, &text);
    let mut pieces = Vec::new();
    let chunks: Vec<&[u8]> = text.chunks(64).collect();
    for (i, chunk) in chunks.iter().enumerate() {
        let op = if i == 0 {
            OpCode::Text
        } else {
            OpCode::Continuation
        };
        pieces.extend(frame(op, i + 1 == chunks.len(), chunk));
    }
    let config = Config::builder()
        .max_message_size(8 << 20)
        .max_frame_size(8 << 20)
        .build();
    let mut group = c.benchmark_group("text_4mib");
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.sample_size(10);
    for (name, wire) in [("one_frame", &whole), ("64_byte_fragments", &pieces)] {
        group.bench_function(name, |b| {
            b.iter(|| {
                let now = Instant::now();
                let mut conn = Connection::new(Role::Server, config.clone(), now);
                conn.feed(wire, now);
                let message = conn.poll_message().unwrap().unwrap();
                black_box(message.len())
            })
        });
    }
    group.finish();
}

criterion_group!(benches, headers, echo, fragmented_text);
criterion_main!(benches);
