//! The connection's per-message work alone, for instruction counting:
//! `valgrind --tool=callgrind target/release/examples/proto_echo_loop N SIZE [text]`.

use std::hint::black_box;
use std::io::IoSlice;
use std::time::Instant;
use ws_proto::frame::{FrameHeader, OpCode};
use ws_proto::{Config, Connection, Role};

fn main() {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let size: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(512);
    let text = args.next().is_some_and(|a| a == "text");
    let payload: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    let key = [0x12, 0x34, 0x56, 0x78];
    let header = FrameHeader {
        fin: true,
        rsv: 0,
        opcode: if text { OpCode::Text } else { OpCode::Binary },
        mask: Some(key),
        payload_len: size as u64,
    };
    let mut wire = Vec::new();
    header.encode(&mut wire);
    wire.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));

    let now = Instant::now();
    let mut conn = Connection::new(Role::Server, Config::default(), now);
    let mut total = 0usize;
    for _ in 0..n {
        conn.read_buf().extend_from_slice(&wire);
        conn.handle_read(wire.len(), now);
        let message = conn.poll_message().unwrap().unwrap();
        conn.send(message, now).unwrap();
        let mut slices = [IoSlice::new(&[]); 4];
        let k = conn.transmit_slices(&mut slices);
        let len: usize = slices[..k].iter().map(|s| s.len()).sum();
        total += black_box(len);
        conn.advance_transmit(len);
    }
    println!("{total}");
}
