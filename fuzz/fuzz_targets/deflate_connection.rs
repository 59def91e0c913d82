//! A server connection with permessage-deflate negotiated (any window, with or without context
//! takeover) and small limits, fed compressed messages fragmented at arbitrary points (empty
//! continuation frames included), arbitrary compressed-looking frames, and the wire cut into
//! arbitrary chunks. Invariants: no panic; messages within the limit; while only well-formed
//! compressed messages have arrived, each comes out as it was sent; inflation never writes
//! ahead of its output and costs at most a few engine calls per frame that carries bytes.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use std::time::Instant;
use ws_deflate::{DeflateConfig, DeflateParams, PerMessageDeflate, inflate_stats};
use ws_proto::extension::Extension;
use ws_proto::frame::{FrameHeader, OpCode};
use ws_proto::{Compression, Config, Connection, Message, Role};

const MAX_FRAME: usize = 4096;
const MAX_MESSAGE: usize = 16 * 1024;

#[derive(Arbitrary, Debug)]
enum Op {
    /// A message compressed by a well-behaved client, its compressed bytes cut into frames
    /// of these sizes (0: an empty continuation frame; the rest goes in the last frame).
    Deflated {
        text: bool,
        message: Vec<u8>,
        cuts: Vec<u8>,
    },
    /// A frame with arbitrary payload, RSV1 as given: garbage for the inflater.
    Raw {
        fin: bool,
        rsv1: bool,
        opcode: u8,
        payload: Vec<u8>,
    },
}

#[derive(Arbitrary, Debug)]
struct Input {
    takeover: bool,
    window_bits: u8,
    level: u8,
    ops: Vec<Op>,
    /// Sizes of the chunks the wire is fed in (cycled; 0 counts as 1).
    chunks: Vec<u16>,
}

/// A masked client frame.
fn frame(fin: bool, rsv: u8, opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let key = [0x37, 0xfa, 0x21, 0x3d];
    let header = FrameHeader {
        fin,
        rsv,
        opcode,
        mask: Some(key),
        payload_len: payload.len() as u64,
    };
    let mut out = Vec::new();
    header.encode(&mut out);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fuzz_target!(|input: Input| {
    let mut params = DeflateParams::default();
    params.client_no_context_takeover = !input.takeover;
    params.client_max_window_bits = 9 + input.window_bits % 7;
    let deflate = DeflateConfig::new(Compression::Dedicated)
        .level(1 + input.level % 9)
        .min_message_size(0);
    let mut client = PerMessageDeflate::new(Role::Client, params, &deflate);
    let server_ext = PerMessageDeflate::new(Role::Server, params, &deflate);

    let config = Config::builder()
        .max_frame_size(MAX_FRAME)
        .max_message_size(MAX_MESSAGE)
        .read_buffer_size(512)
        .build();
    let now = Instant::now();
    let mut server = Connection::new(Role::Server, config, now);
    server.set_extension(Box::new(server_ext));

    // Build the wire and what should come out of it.
    let mut wire = Vec::new();
    let mut expected: Vec<Message> = Vec::new();
    let mut well_formed = true;
    let mut carrying_frames = 0u64;
    let mut frames = 0u64;
    for op in input.ops.into_iter().take(64) {
        match op {
            Op::Deflated {
                text,
                mut message,
                cuts,
            } => {
                message.truncate(MAX_MESSAGE);
                let message = if text {
                    Message::from(String::from_utf8_lossy(&message).into_owned())
                } else {
                    Message::from(message)
                };
                if message.len() > MAX_MESSAGE {
                    // Replacement characters made it longer than the limit.
                    continue;
                }
                let payload = Bytes::copy_from_slice(message.as_payload());
                let Ok((rsv, z)) = client.encode(&payload, text) else {
                    return;
                };
                let opcode = if text { OpCode::Text } else { OpCode::Binary };
                if rsv == 0 {
                    // Sent raw.
                    if z.len() > MAX_FRAME {
                        continue;
                    }
                    wire.extend(frame(true, 0, opcode, &z));
                    frames += 1;
                } else {
                    let mut rest = &z[..];
                    let mut first = true;
                    for cut in cuts.iter().take(32) {
                        let n = usize::from(*cut).min(rest.len());
                        let (piece, after) = rest.split_at(n);
                        let op = if first { opcode } else { OpCode::Continuation };
                        wire.extend(frame(false, if first { rsv } else { 0 }, op, piece));
                        carrying_frames += u64::from(!piece.is_empty());
                        frames += 1;
                        first = false;
                        rest = after;
                    }
                    if rest.len() > MAX_FRAME {
                        // Too big for one frame: a FrameTooBig close, not a decoding matter.
                        well_formed = false;
                    }
                    let op = if first { opcode } else { OpCode::Continuation };
                    wire.extend(frame(true, if first { rsv } else { 0 }, op, rest));
                    carrying_frames += 1;
                    frames += 1;
                }
                expected.push(message);
            }
            Op::Raw {
                fin,
                rsv1,
                opcode,
                payload,
            } => {
                let opcode = match opcode % 3 {
                    0 => OpCode::Continuation,
                    1 => OpCode::Text,
                    _ => OpCode::Binary,
                };
                wire.extend(frame(fin, if rsv1 { 0x40 } else { 0 }, opcode, &payload));
                carrying_frames += 1;
                frames += 1;
                well_formed = false;
            }
        }
    }

    // Feed it in chunks.
    let before = inflate_stats();
    let mut got: Vec<Message> = Vec::new();
    let mut failed = false;
    let mut pos = 0;
    let mut i = 0;
    while pos < wire.len() && !failed {
        let size = input
            .chunks
            .get(i % input.chunks.len().max(1))
            .map_or(wire.len(), |&c| usize::from(c).max(1));
        let end = (pos + size).min(wire.len());
        server.feed(&wire[pos..end], now);
        pos = end;
        i += 1;
        loop {
            match server.poll_message() {
                Ok(Some(m)) => {
                    assert!(m.len() <= MAX_MESSAGE);
                    if let Message::Text(t) = &m {
                        assert!(std::str::from_utf8(t.as_bytes()).is_ok());
                    }
                    got.push(m);
                }
                Ok(None) => break,
                Err(_) => {
                    assert!(server.is_closed());
                    failed = true;
                    break;
                }
            }
        }
    }
    let stats = inflate_stats().since(&before);

    // Nothing is ever written ahead of the output.
    assert_eq!(stats.buffer_bytes_written, stats.output_bytes, "{stats:?}");
    // Empty non-final frames cost no engine call; the others one, plus one for the tail.
    assert!(
        stats.engine_calls <= carrying_frames + frames,
        "{stats:?}, {carrying_frames} of {frames} frames carry bytes"
    );
    if well_formed {
        assert!(!failed, "a well-formed stream failed");
        assert_eq!(got.len(), expected.len());
        for (g, e) in got.iter().zip(&expected) {
            assert!(g == e, "a message did not round-trip");
        }
    }
});
