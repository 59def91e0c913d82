//! The connection state machine driven by sequences of operations, in both roles: bytes in at
//! arbitrary chunking (half of them well-formed frames, so the fuzzer gets deep), messages
//! out, pings, closes, time passing, the peer vanishing. Invariants: no panic, buffers bounded
//! by the configured limits, an error is reported once and a closed connection stays closed.
//! Also: reads through owned buffers (`take_read_buffer` / `give_read_buffer`), a client
//! masking-key source that may fail, and the transport actions that end the connection.
#![no_main]

use arbitrary::Arbitrary;
use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use std::time::{Duration, Instant};
use ws_proto::frame::{FrameHeader, OpCode};
use ws_proto::{
    CloseReason, Config, Connection, MaskKeySource, Message, RandomError, Role, State,
    TransportAction,
};

const MAX_FRAME: usize = 4096;
const MAX_MESSAGE: usize = 16 * 1024;
const MAX_BACKPRESSURE: usize = 8 * 1024;

#[derive(Arbitrary, Debug)]
enum Op {
    /// Raw bytes from the peer.
    Bytes(Vec<u8>),
    /// A well-formed frame from the peer (masked as the role requires unless `wrong_mask`).
    Frame {
        fin: bool,
        rsv: u8,
        opcode: u8,
        payload: Vec<u8>,
        wrong_mask: bool,
    },
    /// The application sends something.
    Send(SendOp),
    /// The transport writes out up to this many bytes.
    Transmit(u16),
    /// Time passes and deadlines fire.
    Advance(u16),
    /// The peer closes the byte stream.
    Eof,
    /// Raw bytes from the peer, through an owned read buffer.
    Owned(Vec<u8>),
    /// The transport does what `transport_action` asks (a shutdown is reported done).
    Act,
}

/// Masking keys that run out after a number of frames.
#[derive(Debug)]
struct Limited(u8);

impl MaskKeySource for Limited {
    fn fill(&mut self, dst: &mut [u8]) -> Result<(), RandomError> {
        if self.0 == 0 {
            return Err(RandomError::new("fuzz: keys ran out"));
        }
        self.0 -= 1;
        dst.fill(self.0);
        Ok(())
    }
}

#[derive(Arbitrary, Debug)]
enum SendOp {
    Text(String),
    Binary(Vec<u8>),
    Ping(Vec<u8>),
    Close(u16, String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    client: bool,
    /// For a client: masking keys available before its source fails.
    mask_keys: Option<u8>,
    fragment_size: u16,
    ops: Vec<Op>,
}

fn frame_bytes(role: Role, fin: bool, rsv: u8, opcode: u8, payload: &[u8], wrong: bool) -> Vec<u8> {
    let opcode = match OpCode::from_u8(opcode & 0x0f) {
        Ok(op) => op,
        Err(_) => OpCode::Binary,
    };
    let masked = (role == Role::Server) != wrong;
    let key = [0xa1, 0xb2, 0xc3, 0xd4];
    let header = FrameHeader {
        fin,
        rsv: rsv & 0x70,
        opcode,
        mask: masked.then_some(key),
        payload_len: payload.len() as u64,
    };
    let mut out = Vec::new();
    header.encode(&mut out);
    if masked {
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

fuzz_target!(|input: Input| {
    let role = if input.client {
        Role::Client
    } else {
        Role::Server
    };
    let config = Config::builder()
        .max_frame_size(MAX_FRAME)
        .max_message_size(MAX_MESSAGE)
        .max_backpressure(MAX_BACKPRESSURE)
        .fragment_size(usize::from(input.fragment_size).max(1))
        .read_buffer_size(512)
        .idle_timeout(Duration::from_secs(10))
        .ping_interval(Duration::from_secs(3))
        .pong_timeout(Duration::from_secs(2))
        .close_timeout(Duration::from_secs(1))
        .build();
    let start = Instant::now();
    let mut now = start;
    let mut conn = Connection::new(role, config, now);
    if let Some(keys) = input.mask_keys {
        conn.set_mask_key_source(Box::new(Limited(keys)));
    }
    let mut errors = 0usize;

    for op in input.ops.into_iter().take(256) {
        let was_closed = conn.is_closed();
        match op {
            Op::Bytes(b) => conn.feed(&b, now),
            Op::Frame {
                fin,
                rsv,
                opcode,
                payload,
                wrong_mask,
            } => conn.feed(
                &frame_bytes(role, fin, rsv, opcode, &payload, wrong_mask),
                now,
            ),
            Op::Send(s) => {
                let message = match s {
                    SendOp::Text(t) => Message::from(t),
                    SendOp::Binary(b) => Message::from(b),
                    SendOp::Ping(p) => Message::Ping(Bytes::from(p)),
                    SendOp::Close(code, reason) => {
                        Message::Close(Some(CloseReason::new(code, reason.as_str())))
                    }
                };
                let buffered = conn.buffered_output();
                if conn.send(message, now).is_err() && was_closed {
                    // Nothing may be queued once closed.
                    assert_eq!(conn.buffered_output(), buffered);
                }
            }
            Op::Transmit(n) => {
                let mut left = usize::from(n);
                while left > 0 && conn.wants_write() {
                    let chunk = conn.transmit_chunk().len().min(left);
                    conn.advance_transmit(chunk);
                    left -= chunk;
                }
            }
            Op::Advance(ms) => {
                now += Duration::from_millis(u64::from(ms));
                if conn.poll_timeout().is_some_and(|t| t <= now)
                    && conn.handle_timeout(now).is_err()
                {
                    errors += 1;
                }
            }
            Op::Eof => conn.handle_eof(),
            Op::Owned(b) => {
                let mut buf = conn.take_read_buffer();
                buf.extend_from_slice(&b);
                conn.give_read_buffer(buf, now)
                    .expect("the buffer taken, with bytes appended, is accepted");
            }
            Op::Act => {
                if conn.transport_action() == TransportAction::Shutdown {
                    conn.handle_shutdown();
                }
            }
        }

        // Drain messages; each error closes the connection.
        for _ in 0..1024 {
            match conn.poll_message() {
                Ok(Some(m)) => {
                    assert!(!was_closed, "no message after the connection closed");
                    assert!(m.len() <= MAX_MESSAGE);
                    if let Message::Text(t) = &m {
                        assert!(std::str::from_utf8(t.as_bytes()).is_ok());
                    }
                }
                Ok(None) => break,
                Err(_) => {
                    errors += 1;
                    assert!(conn.is_closed());
                }
            }
        }
        if was_closed {
            assert_eq!(
                conn.state(),
                State::Closed,
                "a closed connection stays closed"
            );
        }
        // The transport is told to end the stream only once the connection is closed, and to
        // shut down only once its output is written.
        match conn.transport_action() {
            TransportAction::Continue => {}
            TransportAction::Shutdown => assert!(conn.is_closed() && !conn.wants_write()),
            _ => assert!(conn.is_closed()),
        }
        assert_eq!(
            conn.is_finished(),
            conn.transport_action() == TransportAction::Release
        );
        // Receive memory: at most one frame beyond the resting read buffer.
        assert!(conn.buffered_input() <= MAX_FRAME + 14 + 64 * 1024);
        // Output beyond max_backpressure only by what one send or reply may add.
        assert!(conn.buffered_output() <= MAX_BACKPRESSURE + 2 * (64 * 1024) + 256);
    }
    let _ = errors;
});
