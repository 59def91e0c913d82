//! Holding received messages costs about their size: a message's `Bytes` does not pin a whole
//! read buffer. Measured with a counting allocator (live heap of this thread).

use std::time::{Duration, Instant};
use ws_proto::{Config, Connection, Message, Role};
use ws_simd::alloc_stats as counting;

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

fn masked_frame(opcode: u8, payload: &[u8]) -> Vec<u8> {
    let key = [0x11, 0x22, 0x33, 0x44];
    let mut out = vec![0x80 | opcode];
    if payload.len() < 126 {
        out.push(0x80 | payload.len() as u8);
    } else if payload.len() <= 0xffff {
        out.push(0x80 | 126);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    } else {
        out.push(0x80 | 127);
        out.extend_from_slice(&(payload.len() as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
    out
}

fn deliver(conn: &mut Connection, wire: &[u8], now: Instant) {
    let buf = conn.read_buf();
    buf.extend_from_slice(wire);
    conn.handle_read(wire.len(), now);
}

fn take_all(conn: &mut Connection, held: &mut Vec<Message>) {
    for _ in 0..10_000 {
        match conn.poll_message().unwrap() {
            Some(m) => held.push(m),
            None => return,
        }
    }
    panic!("did not settle");
}

/// Live heap after receiving `count` messages as `pattern` says and holding them all, minus
/// the live heap once they are dropped (the connection and the `held` vector stay).
fn held_cost(size: usize, count: usize, pattern: &str) -> (isize, usize) {
    let t0 = Instant::now();
    let config = Config::builder()
        .idle_timeout(Duration::from_secs(60))
        .auto_ping(false)
        .build();
    let mut conn = Connection::new(Role::Server, config, t0);
    let mut held: Vec<Message> = Vec::with_capacity(count);
    let payload: Vec<u8> = (0..size).map(|i| b'a' + (i % 26) as u8).collect();
    let frame = masked_frame(2, &payload);
    let mut now = t0;
    match pattern {
        // One message per read.
        "one per read" => {
            for _ in 0..count {
                deliver(&mut conn, &frame, now);
                take_all(&mut conn, &mut held);
            }
        }
        // A quiet connection: every message arrives after the connection gave its buffers
        // back (two timer checks without input in between).
        "quiet between" => {
            for _ in 0..count {
                deliver(&mut conn, &frame, now);
                take_all(&mut conn, &mut held);
                for _ in 0..2 {
                    now = conn.poll_timeout().unwrap();
                    conn.handle_timeout(now).unwrap();
                }
            }
        }
        // Many messages per read.
        "50 per read" => {
            let batch: Vec<u8> = frame.repeat(50);
            for _ in 0..count / 50 {
                deliver(&mut conn, &batch, now);
                take_all(&mut conn, &mut held);
            }
        }
        // A large frame went through just before: the small ones must not pin its buffer.
        "after a large frame" => {
            for _ in 0..count {
                let big = masked_frame(2, &vec![0u8; 128 << 10]);
                let mut wire = big.clone();
                wire.extend_from_slice(&frame);
                for chunk in wire.chunks(64 << 10) {
                    deliver(&mut conn, chunk, now);
                    let mut tmp = Vec::new();
                    take_all(&mut conn, &mut tmp);
                    // Keep the small message, drop the large one.
                    held.extend(tmp.into_iter().filter(|m| m.as_payload().len() == size));
                }
            }
        }
        _ => unreachable!(),
    }
    assert_eq!(held.len(), count, "{pattern}");
    assert!(held.iter().all(|m| m.as_payload().len() == size));
    // What the connection itself holds stays allocated in both measurements: subtract it by
    // dropping the messages and measuring again.
    let with_messages = counting::live();
    held.clear();
    let without = counting::live();
    (with_messages - without, size * count)
}

/// Before: every message arriving on a quiet connection pinned a fresh 8 KiB buffer (8,280 B
/// held per 20-byte message), and one sliced from a buffer grown for a large frame pinned that
/// whole buffer (524 KB per message here). Now: within 1.3x of the payload in every pattern
/// (the frame headers between held payloads and the unused tail of each buffer).
#[test]
fn held_small_messages_cost_about_their_size() {
    for size in [20, 100, 500] {
        for (pattern, count) in [
            ("one per read", 1000),
            ("quiet between", 1000),
            ("50 per read", 1000),
            ("after a large frame", 200),
        ] {
            let (cost, payload) = held_cost(size, count, pattern);
            let per_message = cost as f64 / count as f64;
            println!(
                "{size:>4} B x {count}, {pattern:<20}: {cost:>9} B held ({per_message:.0} B per message, {:.2}x payload)",
                cost as f64 / payload as f64
            );
            // About the payload: half again at most, plus one resting buffer.
            let bound = payload * 3 / 2 + (8 << 10);
            assert!(
                cost <= bound as isize,
                "{size} B x {count}, {pattern}: {cost} B held for {payload} B of payload"
            );
        }
    }
}

/// Holding nothing costs nothing either: an echo-style application that drops each message
/// before the next leaves the buffer reusable in place (the zero-allocation path of
/// `zero_alloc.rs`), and a quiet connection then gives its buffer back.
#[test]
fn dropped_messages_leave_the_buffer_free_to_release() {
    let t0 = Instant::now();
    let config = Config::builder()
        .idle_timeout(Duration::from_secs(60))
        .auto_ping(false)
        .build();
    let mut conn = Connection::new(Role::Server, config, t0);
    let frame = masked_frame(1, b"hello");
    for _ in 0..1000 {
        deliver(&mut conn, &frame, t0);
        let m = conn.poll_message().unwrap().unwrap();
        assert_eq!(m.as_text(), Some("hello"));
    }
    assert!(conn.has_read_buffer());
    let mut now = t0;
    for _ in 0..2 {
        now = conn.poll_timeout().unwrap();
        conn.handle_timeout(now).unwrap();
    }
    assert!(!conn.has_read_buffer());

    // Whereas a held message keeps the buffer (dropping it would free nothing) until it is
    // dropped.
    deliver(&mut conn, &frame, now);
    let held = conn.poll_message().unwrap().unwrap();
    for _ in 0..2 {
        now = conn.poll_timeout().unwrap();
        conn.handle_timeout(now).unwrap();
    }
    assert!(conn.has_read_buffer());
    drop(held);
    now = conn.poll_timeout().unwrap();
    conn.handle_timeout(now).unwrap();
    assert!(!conn.has_read_buffer());
}
