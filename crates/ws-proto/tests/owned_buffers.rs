//! A connection driven purely through owned read buffers (`take_read_buffer` /
//! `give_read_buffer`), as a completion-based transport (io_uring) drives it: every read fills
//! the spare capacity of a buffer the transport owns while the read is in flight, and nothing
//! is copied or reallocated on the way in.

use std::time::Instant;
use ws_proto::{Bytes, Config, Connection, Error, Message, Role};

/// A client's output for `messages`: the wire the server reads.
fn client_wire(messages: &[Message], fragment: usize) -> Vec<u8> {
    let config = Config::builder().fragment_size(fragment).build();
    let mut client = Connection::new(Role::Client, config, Instant::now());
    let mut wire = Vec::new();
    for m in messages {
        client.send(m.clone(), Instant::now()).unwrap();
        while let Some(b) = client.pop_transmit() {
            wire.extend_from_slice(&b);
        }
    }
    wire
}

/// Feed `wire` to a server through owned buffers, each read completing with at most
/// `max_read` bytes and never more than the buffer's spare capacity (a kernel read never
/// grows a buffer). Returns the messages and how many reads it took.
fn drive(wire: &[u8], max_read: usize) -> (Vec<Message>, usize) {
    let now = Instant::now();
    let mut server = Connection::new(Role::Server, Config::default(), now);
    let mut messages = Vec::new();
    let mut pos = 0;
    let mut reads = 0;
    // Bounded: each read moves at least one byte (the connection always leaves room).
    while pos < wire.len() {
        let mut buf = server.take_read_buffer();
        let spare = buf.capacity() - buf.len();
        assert!(spare > 0, "the connection must leave room for a read");
        let n = spare.min(max_read).min(wire.len() - pos);
        let capacity = buf.capacity();
        buf.extend_from_slice(&wire[pos..pos + n]);
        assert_eq!(buf.capacity(), capacity, "a read must not reallocate");
        pos += n;
        reads += 1;
        // Meanwhile the connection works without its buffer.
        assert!(matches!(server.poll_message(), Ok(None)));
        server.give_read_buffer(buf, now).unwrap();
        while let Some(m) = server.poll_message().unwrap() {
            messages.push(m);
        }
    }
    // The peer's end: an empty read, then EOF.
    let buf = server.take_read_buffer();
    server.give_read_buffer(buf, now).unwrap();
    server.handle_eof();
    assert!(matches!(server.poll_message(), Err(Error::ConnectionReset)));
    (messages, reads)
}

fn payload(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect::<Vec<u8>>()
        .into()
}

#[test]
fn many_small_frames_per_buffer() {
    let messages: Vec<Message> = (0..2000)
        .map(|i| {
            if i % 2 == 0 {
                Message::text(format!("message {i}"))
            } else {
                Message::Binary(payload(i % 200, i as u8))
            }
        })
        .collect();
    let wire = client_wire(&messages, 1 << 20);
    let (got, reads) = drive(&wire, usize::MAX);
    assert_eq!(got, messages);
    // Whole buffers of frames at a time, not a read per frame.
    assert!(reads * 20 < messages.len(), "{reads} reads");
}

#[test]
fn partial_frames_across_reads() {
    let messages = vec![
        Message::text("split across many reads ".repeat(20)),
        Message::Binary(payload(300, 1)),
        Message::Ping(payload(100, 2)),
        Message::text("after"),
    ];
    let wire = client_wire(&messages, 1 << 20);
    for max_read in [1, 2, 3, 7, 64, 1000] {
        let (got, reads) = drive(&wire, max_read);
        assert_eq!(got, messages, "reads of {max_read}");
        assert!(reads >= wire.len() / max_read);
    }
}

#[test]
fn large_and_fragmented_frames() {
    let messages = vec![
        Message::Binary(payload(3 << 20, 3)),
        Message::text("small in between"),
        Message::Binary(payload(100_000, 4)),
        Message::text("é".repeat(70_000)),
    ];
    // Whole frames, and the same messages in 50,000-byte fragments.
    for fragment in [16 << 20, 50_000] {
        let wire = client_wire(&messages, fragment);
        for max_read in [usize::MAX, 8 << 10, 1500] {
            let (got, _) = drive(&wire, max_read);
            assert_eq!(got, messages, "fragment {fragment}, reads of {max_read}");
        }
    }
}

#[test]
fn misuse_is_an_error_not_a_panic() {
    let now = Instant::now();
    let mut server = Connection::new(Role::Server, Config::default(), now);
    // Giving back without taking.
    let err = server
        .give_read_buffer(ws_proto::BytesMut::new(), now)
        .unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)));
    // A buffer that lost the bytes it held when taken.
    server.feed(&[0x81, 0x85, 0, 0], now); // half a frame stays buffered
    let mut buf = server.take_read_buffer();
    assert_eq!(buf.len(), 4);
    buf.truncate(2);
    let err = server.give_read_buffer(buf, now).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)));
    assert!(matches!(server.poll_message(), Ok(None)));
    // The right buffer is still accepted afterwards.
    let mut buf = ws_proto::BytesMut::from(&[0x81, 0x85, 0, 0][..]);
    buf.extend_from_slice(&[0, 0, b'h', b'e', b'l', b'l', b'o']);
    server.give_read_buffer(buf, now).unwrap();
    assert_eq!(server.poll_message().unwrap(), Some(Message::from("hello")));
}
