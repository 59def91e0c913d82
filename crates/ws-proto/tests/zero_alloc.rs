//! Steady-state echo allocates nothing: received payloads are slices of the read buffer, whose
//! space is reclaimed once they are dropped, and output goes through a reused cork buffer.

use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use std::alloc::System;
use std::io::IoSlice;
use std::time::Instant;
use ws_proto::{Config, Connection, Message, Role};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

fn frame(opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = vec![0x80 | opcode];
    let m = if mask.is_some() { 0x80 } else { 0 };
    if payload.len() < 126 {
        out.push(m | payload.len() as u8);
    } else {
        out.push(m | 126);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    match mask {
        Some(k) => {
            out.extend_from_slice(&k);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ k[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// One echo round: the peer's frame arrives, the message is echoed, the output is written.
fn echo_once(conn: &mut Connection, wire: &[u8], now: Instant) -> usize {
    conn.read_buf().extend_from_slice(wire);
    conn.handle_read(wire.len(), now);
    let message = conn.poll_message().unwrap().expect("a whole frame was fed");
    conn.send(message, now).unwrap();
    let mut written = 0;
    while conn.wants_write() {
        let mut slices = [IoSlice::new(&[]); 4];
        let n = conn.transmit_slices(&mut slices);
        let len: usize = slices[..n].iter().map(|s| s.len()).sum();
        conn.advance_transmit(len);
        written += len;
    }
    written
}

fn assert_no_allocations(role: Role, wire: &[u8]) {
    let now = Instant::now();
    let mut conn = Connection::new(role, Config::default(), now);
    for _ in 0..1000 {
        echo_once(&mut conn, wire, now);
    }
    let region = Region::new(GLOBAL);
    let mut total = 0;
    for _ in 0..10_000 {
        total += echo_once(&mut conn, wire, now);
    }
    let stats = region.change();
    assert!(total > 0);
    assert_eq!(
        (stats.allocations, stats.reallocations),
        (0, 0),
        "{role:?}: {stats:?}"
    );
}

/// One test function: the allocation counter is global to the process, so cases running on
/// parallel test threads would count each other's allocations.
#[test]
fn steady_state_echo_allocates_nothing() {
    let key = Some([0x12, 0x34, 0x56, 0x78]);
    let payload: Vec<u8> = (0..1024u32).map(|i| b'a' + (i % 26) as u8).collect();
    for len in [20, 512, 1024] {
        // Server: masked frames in, plain frames out.
        assert_no_allocations(Role::Server, &frame(2, &payload[..len], key));
        assert_no_allocations(Role::Server, &frame(1, &payload[..len], key));
        // Client: plain frames in, masked frames out.
        assert_no_allocations(Role::Client, &frame(2, &payload[..len], None));
        assert_no_allocations(Role::Client, &frame(1, &payload[..len], None));
    }
    // The echoed messages keep their type.
    let now = Instant::now();
    let mut conn = Connection::new(Role::Server, Config::default(), now);
    conn.feed(&frame(1, b"hi", key), now);
    assert_eq!(conn.poll_message().unwrap(), Some(Message::from("hi")));
}
