//! The connection state machine against a scripted peer and against itself.

mod support;

use proptest::prelude::*;
use std::time::Duration;
use support::{Pair, RawFrame, Scripted, parse_frames};
use ws_proto::{
    Bytes, CloseCode, CloseReason, Config, Connection, Error, Fault, Message, ProtocolError, Role,
    State, TimeoutKind,
};

fn ok(events: Vec<Result<Message, Error>>) -> Vec<Message> {
    events.into_iter().map(|e| e.expect("no error")).collect()
}

// ---------------------------------------------------------------------------------------------
// RFC 6455 section 5.7, byte for byte
// ---------------------------------------------------------------------------------------------

#[test]
fn rfc_5_7_single_frame_unmasked_text() {
    let mut c = Scripted::new(Role::Client);
    let ev = c.recv_bytes(&[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(ok(ev), vec![Message::from("Hello")]);
}

#[test]
fn rfc_5_7_single_frame_masked_text() {
    let mut s = Scripted::new(Role::Server);
    let ev = s.recv_bytes(&[
        0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    assert_eq!(ok(ev), vec![Message::from("Hello")]);
}

#[test]
fn rfc_5_7_fragmented_unmasked_text() {
    let mut c = Scripted::new(Role::Client);
    assert!(c.recv_bytes(&[0x01, 0x03, 0x48, 0x65, 0x6c]).is_empty());
    let ev = c.recv_bytes(&[0x80, 0x02, 0x6c, 0x6f]);
    assert_eq!(ok(ev), vec![Message::from("Hello")]);
}

#[test]
fn rfc_5_7_ping_and_masked_pong() {
    let mut c = Scripted::new(Role::Client);
    let ev = c.recv_bytes(&[0x89, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(ok(ev), vec![Message::Ping(Bytes::from_static(b"Hello"))]);
    // The automatic answer: a masked pong with the same payload.
    let sent = c.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].opcode, 0xa);
    assert_eq!(sent[0].payload, b"Hello");

    let mut s = Scripted::new(Role::Server);
    let ev = s.recv_bytes(&[
        0x8a, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58,
    ]);
    assert_eq!(ok(ev), vec![Message::Pong(Bytes::from_static(b"Hello"))]);
}

#[test]
fn rfc_5_7_binary_lengths_16_and_64_bit() {
    let mut c = Scripted::new(Role::Client);
    let mut f = vec![0x82, 0x7e, 0x01, 0x00];
    f.extend(std::iter::repeat_n(0xab, 256));
    let ev = ok(c.recv_bytes(&f));
    assert_eq!(ev, vec![Message::Binary(vec![0xab; 256].into())]);

    let mut f = vec![0x82, 0x7f, 0, 0, 0, 0, 0, 0x01, 0x00, 0x00];
    f.extend(std::iter::repeat_n(0xcd, 65536));
    let ev = ok(c.recv_bytes(&f));
    assert_eq!(ev, vec![Message::Binary(vec![0xcd; 65536].into())]);
}

#[test]
fn server_encodes_rfc_examples_exactly() {
    let mut s = Scripted::new(Role::Server);
    s.conn.send(Message::from("Hello"), s.now).unwrap();
    s.conn
        .send(Message::Binary(vec![7; 256].into()), s.now)
        .unwrap();
    s.conn
        .send(Message::Binary(vec![9; 65536].into()), s.now)
        .unwrap();
    let mut bytes = Vec::new();
    while let Some(b) = s.conn.pop_transmit() {
        bytes.extend_from_slice(&b);
    }
    assert_eq!(&bytes[..7], &[0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f]);
    assert_eq!(&bytes[7..11], &[0x82, 0x7e, 0x01, 0x00]);
    assert_eq!(
        &bytes[11 + 256..11 + 256 + 10],
        &[0x82, 0x7f, 0, 0, 0, 0, 0, 1, 0, 0]
    );
    assert_eq!(bytes.len(), 7 + 4 + 256 + 10 + 65536);
}

#[test]
fn client_masks_every_frame_with_fresh_keys() {
    let mut c = Scripted::new(Role::Client);
    for _ in 0..8 {
        c.conn.send(Message::from("Hello"), c.now).unwrap();
    }
    let frames = c.sent();
    assert_eq!(frames.len(), 8);
    let keys: std::collections::HashSet<_> = frames.iter().map(|f| f.mask.unwrap()).collect();
    assert!(keys.len() >= 7, "masking keys repeat: {keys:?}");
    assert!(frames.iter().all(|f| f.payload == b"Hello"));
}

// ---------------------------------------------------------------------------------------------
// Protocol violations: each one its close code and typed error
// ---------------------------------------------------------------------------------------------

fn violation(role: Role, config: Config, frames: &[RawFrame], raw: bool) -> (Error, Scripted) {
    let mut s = Scripted::with_config(role, config);
    let events = if raw {
        let mut bytes = Vec::new();
        for f in frames {
            bytes.extend(f.bytes());
        }
        s.recv_bytes(&bytes)
    } else {
        s.recv(frames)
    };
    let err = events
        .into_iter()
        .find_map(|e| e.err())
        .expect("the connection must fail");
    (err, s)
}

fn expect_violation(role: Role, frames: &[RawFrame], code: u16, check: impl Fn(&Error) -> bool) {
    let (err, mut s) = violation(role, Config::default(), frames, false);
    assert!(check(&err), "unexpected error {err:?}");
    assert_eq!(err.close_code(), Some(CloseCode(code)));
    assert_eq!(err.fault(), Fault::Peer);
    s.expect_close_sent(code);
    // Once failed it stays closed and sends nothing more.
    assert!(s.recv(&[RawFrame::text("more")]).is_empty());
    assert!(matches!(
        s.conn.send(Message::from("x"), s.now),
        Err(Error::ConnectionClosed)
    ));
}

#[test]
fn reserved_opcodes_fail_with_1002() {
    for op in [3u8, 4, 5, 6, 7, 0xb, 0xc, 0xd, 0xe, 0xf] {
        for role in [Role::Server, Role::Client] {
            expect_violation(
                role,
                &[RawFrame::new(op, b"x")],
                1002,
                |e| matches!(e, Error::Protocol(ProtocolError::ReservedOpcode(o)) if *o == op),
            );
        }
    }
}

#[test]
fn rsv_bits_without_extension_fail_with_1002() {
    for rsv in [0x40u8, 0x20, 0x10, 0x70] {
        expect_violation(Role::Server, &[RawFrame::text("x").rsv(rsv)], 1002, |e| {
            matches!(e, Error::Protocol(ProtocolError::ReservedBits(_)))
        });
        expect_violation(Role::Server, &[RawFrame::ping("x").rsv(rsv)], 1002, |e| {
            matches!(e, Error::Protocol(ProtocolError::ReservedBits(_)))
        });
    }
}

#[test]
fn masking_rules_by_role() {
    let (err, mut s) = violation(
        Role::Server,
        Config::default(),
        &[RawFrame::text("plain")],
        true,
    );
    assert!(matches!(err, Error::Protocol(ProtocolError::UnmaskedFrame)));
    s.expect_close_sent(1002);

    let (err, mut c) = violation(
        Role::Client,
        Config::default(),
        &[RawFrame::text("masked").masked([1, 2, 3, 4])],
        true,
    );
    assert!(matches!(err, Error::Protocol(ProtocolError::MaskedFrame)));
    c.expect_close_sent(1002);
}

#[test]
fn control_frame_rules() {
    expect_violation(Role::Server, &[RawFrame::ping(vec![0u8; 126])], 1002, |e| {
        matches!(e, Error::Protocol(ProtocolError::ControlFrameTooLong(126)))
    });
    expect_violation(
        Role::Client,
        &[RawFrame::pong(b"x").fin(false)],
        1002,
        |e| matches!(e, Error::Protocol(ProtocolError::FragmentedControlFrame)),
    );
    expect_violation(
        Role::Server,
        &[RawFrame::close(1000, b"").fin(false)],
        1002,
        |e| matches!(e, Error::Protocol(ProtocolError::FragmentedControlFrame)),
    );
    // 125 bytes is fine.
    let mut s = Scripted::new(Role::Server);
    let ev = ok(s.recv(&[RawFrame::ping(vec![1u8; 125])]));
    assert_eq!(ev.len(), 1);
}

#[test]
fn fragmentation_rules() {
    expect_violation(Role::Server, &[RawFrame::cont("x")], 1002, |e| {
        matches!(e, Error::Protocol(ProtocolError::UnexpectedContinuation))
    });
    expect_violation(
        Role::Server,
        &[RawFrame::text("a").fin(false), RawFrame::text("b")],
        1002,
        |e| matches!(e, Error::Protocol(ProtocolError::ExpectedContinuation)),
    );
    expect_violation(
        Role::Client,
        &[RawFrame::binary("a").fin(false), RawFrame::text("b")],
        1002,
        |e| matches!(e, Error::Protocol(ProtocolError::ExpectedContinuation)),
    );
}

#[test]
fn control_frames_interleave_with_fragments() {
    let mut s = Scripted::new(Role::Server);
    let ev = ok(s.recv(&[
        RawFrame::text("Hel").fin(false),
        RawFrame::ping("p"),
        RawFrame::cont("lo ").fin(false),
        RawFrame::pong("q"),
        RawFrame::cont("world"),
    ]));
    assert_eq!(
        ev,
        vec![
            Message::Ping(Bytes::from_static(b"p")),
            Message::Pong(Bytes::from_static(b"q")),
            Message::from("Hello world"),
        ]
    );
    let sent = s.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(
        (sent[0].opcode, sent[0].payload.as_slice()),
        (0xa, &b"p"[..])
    );
}

#[test]
fn invalid_utf8_fails_with_1007() {
    expect_violation(
        Role::Server,
        &[RawFrame::text([0xce, 0xba, 0xff])],
        1007,
        |e| matches!(e, Error::InvalidUtf8),
    );
    expect_violation(
        Role::Server,
        &[RawFrame::text([0xce]).fin(false), RawFrame::cont([0x41])],
        1007,
        |e| matches!(e, Error::InvalidUtf8),
    );
    // A code point left incomplete at the end of the message.
    expect_violation(
        Role::Client,
        &[RawFrame::text([0x41, 0xe2, 0x82])],
        1007,
        |e| matches!(e, Error::InvalidUtf8),
    );
}

#[test]
fn invalid_utf8_fails_fast_on_the_fragment_that_breaks_it() {
    // 6.4.1-style: the first fragment is valid; the second makes it invalid. The error must
    // come with the second fragment, before the final one.
    let mut s = Scripted::new(Role::Server);
    let valid = "κόσμε".as_bytes();
    assert!(s.recv(&[RawFrame::text(valid).fin(false)]).is_empty());
    let ev = s.recv(&[RawFrame::cont([0xf4, 0x90, 0x80, 0x80]).fin(false)]);
    assert!(matches!(ev.as_slice(), [Err(Error::InvalidUtf8)]), "{ev:?}");
    s.expect_close_sent(1007);
}

#[test]
fn invalid_utf8_fails_fast_inside_one_frame_arriving_in_pieces() {
    // 6.4.3-style: one text frame arrives in chunks; the second chunk holds the bad byte.
    let mut s = Scripted::new(Role::Server);
    let mut payload = "κόσμε".as_bytes().to_vec();
    payload.extend_from_slice(&[0xf4, 0x90, 0x80, 0x80]);
    payload.extend_from_slice(b"edited");
    let frame = RawFrame::text(&payload).masked([9, 8, 7, 6]).bytes();
    let header = 6;
    let (first, rest) = frame.split_at(header + 10);
    let (second, third) = rest.split_at(2);
    assert!(s.recv_bytes(first).is_empty());
    let ev = s.recv_bytes(second);
    assert!(matches!(ev.as_slice(), [Err(Error::InvalidUtf8)]), "{ev:?}");
    assert!(s.recv_bytes(third).is_empty());
    s.expect_close_sent(1007);
}

#[test]
fn close_frame_rules() {
    expect_violation(Role::Server, &[RawFrame::new(8, [0x03])], 1002, |e| {
        matches!(e, Error::Protocol(ProtocolError::InvalidClosePayload))
    });
    for code in [
        0u16, 999, 1004, 1005, 1006, 1015, 1016, 1100, 2000, 2999, 5000, 65535,
    ] {
        expect_violation(
            Role::Server,
            &[RawFrame::close(code, b"")],
            1002,
            |e| matches!(e, Error::Protocol(ProtocolError::InvalidCloseCode(c)) if *c == code),
        );
    }
    expect_violation(
        Role::Client,
        &[RawFrame::close(1000, &[0xff, 0xfe])],
        1007,
        |e| matches!(e, Error::InvalidUtf8),
    );
}

#[test]
fn valid_close_codes_are_echoed() {
    for code in [
        1000u16, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 3000, 3999, 4000, 4999,
    ] {
        let mut s = Scripted::new(Role::Server);
        let ev = ok(s.recv(&[RawFrame::close(code, b"bye")]));
        assert_eq!(
            ev,
            vec![Message::Close(Some(CloseReason::new(code, "bye")))]
        );
        let sent = s.sent();
        assert_eq!(sent.len(), 1);
        assert_eq!(sent[0].opcode, 8);
        assert_eq!(sent[0].payload, code.to_be_bytes());
        assert_eq!(s.conn.state(), State::Closed);
    }
    // An empty close is answered with an empty close.
    let mut s = Scripted::new(Role::Server);
    assert_eq!(
        ok(s.recv(&[RawFrame::new(8, b"")])),
        vec![Message::Close(None)]
    );
    let sent = s.sent();
    assert_eq!((sent[0].opcode, sent[0].payload.len()), (8, 0));
}

#[test]
fn frame_over_max_frame_size_fails_before_its_payload_is_buffered() {
    let config = Config::builder().max_frame_size(1000).build();
    let mut s = Scripted::with_config(Role::Server, config);
    // Only the header of a 1 MB frame: the error must come now.
    let header = RawFrame::binary(b"")
        .len(1 << 20)
        .masked([1, 2, 3, 4])
        .bytes();
    let ev = s.recv_bytes(&header);
    assert!(
        matches!(
            ev.as_slice(),
            [Err(Error::FrameTooBig {
                size: 1048576,
                limit: 1000
            })]
        ),
        "{ev:?}"
    );
    s.expect_close_sent(1009);
}

#[test]
fn header_claiming_2_pow_63_bytes() {
    let mut s = Scripted::new(Role::Server);
    let mut h = vec![0x82, 0xff];
    h.extend_from_slice(&(1u64 << 63).to_be_bytes());
    h.extend_from_slice(&[1, 2, 3, 4]);
    let ev = s.recv_bytes(&h);
    assert!(matches!(
        ev.as_slice(),
        [Err(Error::Protocol(ProtocolError::InvalidPayloadLength))]
    ));
    s.expect_close_sent(1002);
    // 2^63 - 1 is a valid length, but over any frame limit.
    let mut s = Scripted::new(Role::Server);
    let mut h = vec![0x82, 0xff];
    h.extend_from_slice(&(u64::MAX >> 1).to_be_bytes());
    h.extend_from_slice(&[1, 2, 3, 4]);
    let ev = s.recv_bytes(&h);
    assert!(matches!(ev.as_slice(), [Err(Error::FrameTooBig { .. })]));
    s.expect_close_sent(1009);
}

#[test]
fn message_over_max_message_size_in_many_fragments() {
    let config = Config::builder()
        .max_message_size(10_000)
        .max_frame_size(1000)
        .build();
    let mut s = Scripted::with_config(Role::Server, config);
    let mut frames = vec![RawFrame::binary(vec![0u8; 1000]).fin(false)];
    for _ in 0..20 {
        frames.push(RawFrame::cont(vec![0u8; 1000]).fin(false));
    }
    let ev = s.recv(&frames);
    assert!(
        matches!(
            ev.as_slice(),
            [Err(Error::MessageTooBig {
                size: 10_000..=11_000,
                limit: 10_000
            })]
        ),
        "{ev:?}"
    );
    s.expect_close_sent(1009);
}

#[test]
fn eof_after_complete_messages_delivers_them_then_reports_reset() {
    let mut s = Scripted::new(Role::Server);
    let mut bytes = RawFrame::text("last words").masked([1, 1, 1, 1]).bytes();
    bytes.extend_from_slice(&RawFrame::text("cut off").masked([1, 1, 1, 1]).bytes()[..5]);
    s.conn.feed(&bytes, s.now);
    s.conn.handle_eof();
    assert_eq!(
        s.conn.poll_message().unwrap(),
        Some(Message::from("last words"))
    );
    let err = s.conn.poll_message().unwrap_err();
    assert!(matches!(err, Error::ConnectionReset));
    assert_eq!(err.fault(), Fault::Peer);
    assert!(s.conn.is_closed());
}

// ---------------------------------------------------------------------------------------------
// Close handshake
// ---------------------------------------------------------------------------------------------

#[test]
fn close_handshake_initiated_locally() {
    let mut pair = Pair::new(Config::default());
    pair.client.send(Message::from("before"), pair.now).unwrap();
    pair.client
        .close(Some(CloseReason::new(CloseCode::NORMAL, "done")), pair.now)
        .unwrap();
    assert_eq!(pair.client.state(), State::CloseSent);
    assert!(matches!(
        pair.client.send(Message::from("after"), pair.now),
        Err(Error::ConnectionClosed)
    ));
    pair.drive();
    let server: Vec<_> = pair.server_events.drain(..).map(Result::unwrap).collect();
    assert_eq!(
        server,
        vec![
            Message::from("before"),
            Message::Close(Some(CloseReason::new(1000, "done")))
        ]
    );
    let client: Vec<_> = pair.client_events.drain(..).map(Result::unwrap).collect();
    assert_eq!(
        client,
        vec![Message::Close(Some(CloseReason::new(1000, "")))]
    );
    assert!(pair.client.is_closed() && pair.server.is_closed());
}

#[test]
fn local_close_validates_its_input() {
    let mut c = Scripted::new(Role::Client);
    let err = c
        .conn
        .close(Some(CloseReason::new(1005, "")), c.now)
        .unwrap_err();
    assert_eq!(err.fault(), Fault::Local);
    let long = "x".repeat(124);
    assert!(matches!(
        c.conn
            .close(Some(CloseReason::new(1000, long.as_str())), c.now),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        c.conn.send(Message::Ping(vec![0; 126].into()), c.now),
        Err(Error::InvalidInput(_))
    ));
    assert_eq!(c.conn.state(), State::Open);
}

// ---------------------------------------------------------------------------------------------
// Virtual time
// ---------------------------------------------------------------------------------------------

/// A server whose only timer is an 8-second idle timeout (checked every 2 s).
fn idle_8s_server() -> Scripted {
    let config = Config::builder()
        .idle_timeout(Duration::from_secs(8))
        .auto_ping(false)
        .build();
    Scripted::with_config(Role::Server, config)
}

#[test]
fn idle_timeout_in_virtual_time() {
    let mut s = idle_8s_server();
    let start = s.now;
    let secs = |n: u64| start + Duration::from_secs(n);
    // Checks run every quarter of the idle timeout; reads do not move the deadline.
    assert_eq!(s.conn.poll_timeout(), Some(secs(2)));
    s.now = secs(1);
    ok(s.recv(&[RawFrame::text("hi")]));
    assert_eq!(s.conn.poll_timeout(), Some(secs(2)));
    // The check at 2 s sees the traffic: quiet since 2 s, so the connection may idle until 10 s.
    for t in [2, 4, 6, 8] {
        assert_eq!(s.conn.poll_timeout(), Some(secs(t)));
        s.conn.handle_timeout(secs(t)).unwrap();
    }
    assert_eq!(s.conn.poll_timeout(), Some(secs(10)));
    let err = s.conn.handle_timeout(secs(10)).unwrap_err();
    assert!(matches!(err, Error::Timeout(TimeoutKind::Idle)));
    // Closed 9 s after the last byte: within [idle, idle * 5 / 4].
    s.expect_close_sent(1001);
}

#[test]
fn a_quiet_connection_gives_its_buffers_back() {
    let mut s = idle_8s_server();
    let start = s.now;
    let secs = |n: u64| start + Duration::from_secs(n);
    // A new connection holds no receive buffer until bytes arrive.
    assert!(!s.conn.has_read_buffer());
    s.now = secs(1);
    ok(s.recv(&[RawFrame::binary([7u8; 300])]));
    s.conn
        .send(Message::Binary(vec![1u8; 300].into()), s.now)
        .unwrap();
    assert!(s.conn.has_read_buffer());
    assert_eq!(s.sent().len(), 1);
    // The check at 2 s saw traffic since the last one: the buffers stay.
    s.conn.handle_timeout(secs(2)).unwrap();
    assert!(s.conn.has_read_buffer());
    // Nothing arrived between 2 s and 4 s: they are given back.
    s.conn.handle_timeout(secs(4)).unwrap();
    assert!(!s.conn.has_read_buffer());
    // And allocated again by the next message, which arrives whole.
    s.now = secs(5);
    let echoed = ok(s.recv(&[RawFrame::text("after the quiet")]));
    assert_eq!(echoed, [Message::Text("after the quiet".into())]);
    assert!(s.conn.has_read_buffer());
}

#[test]
fn a_frame_that_fills_the_read_buffer_exactly_leaves_it_allocated() {
    // A large frame's rest is read into room reserved for no more than that rest: once the
    // message is taken the buffer may have no capacity left, yet the connection still holds it
    // (a transport must not take that for a released buffer and read through a small one).
    let mut s = Scripted::new(Role::Server);
    let frame = RawFrame::binary(vec![5u8; 16 << 10])
        .masked_for(Role::Server)
        .bytes();
    let mut rest: &[u8] = &frame;
    let mut messages = Vec::new();
    // Bounded: every read takes at least one byte.
    for _ in 0..frame.len() {
        if rest.is_empty() {
            break;
        }
        let buf = s.conn.read_buf();
        let n = (buf.capacity() - buf.len()).min(rest.len());
        assert!(n > 0, "read_buf offered no room");
        buf.extend_from_slice(&rest[..n]);
        rest = &rest[n..];
        s.conn.handle_read(n, s.now);
        messages.extend(ok(s.drain()));
    }
    assert_eq!(messages, [Message::Binary(vec![5u8; 16 << 10].into())]);
    assert!(s.conn.has_read_buffer());
}

#[test]
fn buffers_holding_a_partial_frame_are_kept_while_quiet() {
    let mut s = idle_8s_server();
    let start = s.now;
    let secs = |n: u64| start + Duration::from_secs(n);
    let frame = RawFrame::text("split across the quiet")
        .masked_for(Role::Server)
        .bytes();
    let (head, tail) = frame.split_at(9);
    assert!(s.recv_bytes(head).is_empty());
    for t in [2, 4, 6] {
        s.conn.handle_timeout(secs(t)).unwrap();
        assert!(s.conn.has_read_buffer(), "released at {t} s");
    }
    let messages = ok(s.recv_bytes(tail));
    assert_eq!(messages, [Message::Text("split across the quiet".into())]);
}

#[test]
fn a_deadline_handled_early_or_late_does_no_harm() {
    let mut s = idle_8s_server();
    let start = s.now;
    // Called before anything is due: nothing happens.
    s.conn
        .handle_timeout(start + Duration::from_millis(10))
        .unwrap();
    assert_eq!(s.conn.state(), State::Open);
    assert!(s.sent().is_empty());
    // Called long after: the idle timeout fires once.
    let err = s
        .conn
        .handle_timeout(start + Duration::from_secs(60))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(TimeoutKind::Idle)));
}

#[test]
fn auto_ping_and_pong_timeout_in_virtual_time() {
    let config = Config::builder()
        .idle_timeout(Duration::ZERO)
        .ping_interval(Duration::from_secs(5))
        .pong_timeout(Duration::from_secs(3))
        .build();
    let mut pair = Pair::new(config);
    // Both sides ping after 5 s of quiet and each answers the other's ping.
    let (ce, se) = pair.advance(Duration::from_secs(7));
    assert!(ce.is_empty() && se.is_empty());
    let pings = pair
        .server_events
        .iter()
        .filter(|e| matches!(e, Ok(Message::Ping(_))))
        .count();
    assert_eq!(pings, 1);
    assert!(pair.client.state() == State::Open && pair.server.state() == State::Open);

    // A peer that never answers: the pong timeout closes with 1001.
    let mut s = Scripted::with_config(
        Role::Server,
        Config::builder()
            .idle_timeout(Duration::ZERO)
            .ping_interval(Duration::from_secs(5))
            .pong_timeout(Duration::from_secs(3))
            .build(),
    );
    let start = s.now;
    assert_eq!(s.conn.poll_timeout(), Some(start + Duration::from_secs(5)));
    s.conn
        .handle_timeout(start + Duration::from_secs(5))
        .unwrap();
    let sent = s.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].opcode, 9);
    assert_eq!(s.conn.poll_timeout(), Some(start + Duration::from_secs(8)));
    let err = s
        .conn
        .handle_timeout(start + Duration::from_secs(8))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(TimeoutKind::Pong)));
    s.expect_close_sent(1001);
}

#[test]
fn close_timeout_in_virtual_time() {
    let config = Config::builder()
        .close_timeout(Duration::from_secs(2))
        .build();
    let mut s = Scripted::with_config(Role::Client, config);
    let t0 = s.now + Duration::from_millis(500);
    s.conn.close(None, t0).unwrap();
    // The close deadline counts from the `now` given to `close`.
    assert_eq!(s.conn.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    // A check before it changes nothing.
    s.conn.handle_timeout(t0 + Duration::from_secs(1)).unwrap();
    assert_eq!(s.conn.poll_timeout(), Some(t0 + Duration::from_secs(2)));
    let err = s
        .conn
        .handle_timeout(t0 + Duration::from_secs(2))
        .unwrap_err();
    assert!(matches!(err, Error::Timeout(TimeoutKind::Close)));
    assert!(s.conn.is_closed());
}

/// A server whose only timer is an 8-second send timeout (checked every 2 s while output is
/// queued).
fn send_8s_server() -> Scripted {
    let config = Config::builder()
        .send_timeout(Duration::from_secs(8))
        .idle_timeout(Duration::ZERO)
        .auto_ping(false)
        .build();
    Scripted::with_config(Role::Server, config)
}

#[test]
fn send_timeout_cuts_off_a_peer_that_stopped_reading_in_virtual_time() {
    let mut s = send_8s_server();
    let start = s.now;
    let secs = |n: u64| start + Duration::from_secs(n);
    // Nothing queued: no timer at all.
    assert_eq!(s.conn.poll_timeout(), None);
    s.conn
        .send(Message::Binary(vec![1u8; 1000].into()), s.now)
        .unwrap();
    // Output queued: checks every quarter of the send timeout.
    assert_eq!(s.conn.poll_timeout(), Some(secs(2)));
    for t in [2, 4, 6, 8] {
        s.conn.handle_timeout(secs(t)).unwrap();
        assert_eq!(s.conn.poll_timeout(), Some(secs(t + 2)));
    }
    // Stalled since the check at 2 s: cut off at 10 s, within 5/4 of the timeout.
    let err = s.conn.handle_timeout(secs(10)).unwrap_err();
    assert!(matches!(err, Error::Timeout(TimeoutKind::Send)), "{err:?}");
    assert_eq!(err.fault(), Fault::Peer);
    // No close frame is queued behind output that cannot move.
    assert_eq!(err.close_code(), None);
    assert!(s.conn.is_closed());
}

#[test]
fn send_timeout_restarts_whenever_output_moves() {
    let mut s = send_8s_server();
    let start = s.now;
    let secs = |n: u64| start + Duration::from_secs(n);
    s.conn
        .send(Message::Binary(vec![1u8; 1000].into()), s.now)
        .unwrap();
    for t in (2..=40).step_by(2) {
        // A slow reader: one byte every 6 seconds is progress.
        if t % 6 == 0 {
            s.conn.advance_transmit(1);
        }
        s.conn.handle_timeout(secs(t)).unwrap();
    }
    // Once everything is written, the send timer is off.
    let rest = s.conn.buffered_output();
    s.conn.advance_transmit(rest);
    s.conn.handle_timeout(secs(42)).unwrap();
    assert_eq!(s.conn.poll_timeout(), None);
    s.conn.handle_timeout(secs(100)).unwrap();
}

#[test]
fn zero_send_timeout_waits_forever() {
    let config = Config::builder()
        .send_timeout(Duration::ZERO)
        .idle_timeout(Duration::ZERO)
        .auto_ping(false)
        .build();
    let mut s = Scripted::with_config(Role::Server, config);
    s.conn
        .send(Message::Binary(vec![1u8; 1000].into()), s.now)
        .unwrap();
    assert_eq!(s.conn.poll_timeout(), None);
    s.conn
        .handle_timeout(s.now + Duration::from_secs(3600))
        .unwrap();
}

// ---------------------------------------------------------------------------------------------
// Buffers
// ---------------------------------------------------------------------------------------------

#[test]
fn read_buffer_starts_small_grows_for_a_large_frame_and_shrinks_back() {
    let config = Config::builder().read_buffer_size(4096).build();
    let mut s = Scripted::with_config(Role::Server, config);
    assert!(s.conn.read_buf().capacity() < 16 * 1024);
    let big = RawFrame::binary(vec![5u8; 1 << 20])
        .masked([1, 2, 3, 4])
        .bytes();
    let ev = ok(s.recv_bytes(&big));
    assert_eq!(ev.len(), 1);
    drop(ev);
    assert!(s.conn.read_buf().capacity() < 16 * 1024);
}

/// A masked binary frame header (client to server) announcing `len` bytes, with mask key
/// zero so that the payload bytes go on the wire as they are.
fn masked_header(len: u64) -> Vec<u8> {
    let mut h = vec![0x82, 0x80 | 127];
    h.extend_from_slice(&len.to_be_bytes());
    h.extend_from_slice(&[0, 0, 0, 0]);
    h
}

#[test]
fn a_bare_large_frame_header_does_not_reserve_its_announced_length() {
    // Regression (issue #11, defect 4): the read buffer used to reserve the whole announced
    // payload when the header arrived, so peers announcing frames just under `max_frame_size`
    // and then stalling made the server commit that much memory each.
    const ANNOUNCED: usize = 15 << 20;
    let config = Config::builder().max_frame_size(16 << 20).build();
    let mut s = Scripted::with_config(Role::Server, config);
    let payload: Vec<u8> = (0..ANNOUNCED).map(|i| (i % 251) as u8).collect();
    let mut wire = masked_header(ANNOUNCED as u64);
    wire.extend_from_slice(&payload[..5]);
    assert!(s.recv_bytes(&wire).is_empty());
    let capacity = s.conn.read_buf().capacity();
    println!("read buffer capacity after a bare 15 MiB header: {capacity} bytes");
    assert!(capacity <= 64 << 10, "capacity {capacity}");
    assert_eq!(s.conn.buffered_input(), 5);

    // The rest arrives as a transport reads it, into the room `read_buf` offers: the buffer
    // never holds much more than twice what arrived, grows in few steps (so the copies made
    // while growing add up to less than the payload), and the message is whole and intact.
    let mut received = 5;
    let mut growths = 0;
    let mut last_capacity = capacity;
    let mut messages = Vec::new();
    // Bounded: `read_buf` offers at least half the resting size (4 KiB) per read.
    for _ in 0..ANNOUNCED / 4096 + 2 {
        if received == ANNOUNCED {
            break;
        }
        let buf = s.conn.read_buf();
        let capacity = buf.capacity();
        if capacity != last_capacity {
            growths += 1;
            last_capacity = capacity;
        }
        assert!(
            capacity <= 2 * received + (64 << 10),
            "capacity {capacity} with {received} bytes received"
        );
        let room = capacity - buf.len();
        assert!(room >= 4096, "room {room}");
        // Uneven reads, as a socket delivers them.
        let n = room
            .min(ANNOUNCED - received)
            .min(100_000 + received % 7919);
        buf.extend_from_slice(&payload[received..received + n]);
        received += n;
        s.conn.handle_read(n, s.now);
        messages.extend(ok(s.drain()));
    }
    assert_eq!(received, ANNOUNCED);
    println!("{growths} growth steps for 15 MiB");
    assert!(growths <= 16, "{growths} growth steps for 15 MiB");
    assert_eq!(messages.len(), 1);
    assert!(
        messages[0] == Message::Binary(payload.into()),
        "payload differs"
    );
}

#[test]
fn small_frames_split_across_reads_still_fit_in_one_more_read() {
    // Below the resting size, the rest of a frame still fits in the next read whole, as before.
    let mut s = Scripted::new(Role::Server);
    let frame = RawFrame::binary(vec![9u8; 6000])
        .masked_for(Role::Server)
        .bytes();
    let (head, tail) = frame.split_at(3000);
    assert!(s.recv_bytes(head).is_empty());
    let buf = s.conn.read_buf();
    assert!(buf.capacity() - buf.len() >= tail.len());
    buf.extend_from_slice(tail);
    s.conn.handle_read(tail.len(), s.now);
    assert_eq!(ok(s.drain()), [Message::Binary(vec![9u8; 6000].into())]);
}

#[test]
fn outgoing_fragmentation() {
    let config = Config::builder().fragment_size(100).build();
    let mut s = Scripted::with_config(Role::Server, config);
    s.conn
        .send(Message::Binary(vec![1u8; 250].into()), s.now)
        .unwrap();
    let frames = s.sent();
    let shape: Vec<_> = frames
        .iter()
        .map(|f| (f.opcode, f.fin, f.payload.len()))
        .collect();
    assert_eq!(shape, vec![(2, false, 100), (0, false, 100), (0, true, 50)]);
}

#[test]
fn transmit_slices_and_advance_keep_order() {
    let mut s = Scripted::new(Role::Server);
    s.conn.send(Message::from("a"), s.now).unwrap();
    s.conn
        .send(Message::Binary(vec![2u8; 5000].into()), s.now)
        .unwrap();
    s.conn.send(Message::from("b"), s.now).unwrap();
    let mut wire = Vec::new();
    // Write in awkward pieces of 7 bytes through the borrowed-slice interface.
    for _ in 0..10_000 {
        if !s.conn.wants_write() {
            break;
        }
        let mut slices = [std::io::IoSlice::new(&[]); 4];
        let n = s.conn.transmit_slices(&mut slices);
        let mut take = 7;
        let mut written = 0;
        for sl in &slices[..n] {
            let k = sl.len().min(take);
            wire.extend_from_slice(&sl[..k]);
            written += k;
            take -= k;
            if take == 0 {
                break;
            }
        }
        s.conn.advance_transmit(written);
    }
    let frames = parse_frames(&wire);
    let payloads: Vec<_> = frames.iter().map(|f| f.payload.len()).collect();
    assert_eq!(payloads, vec![1, 5000, 1]);
    assert_eq!(s.conn.buffered_output(), 0);
}

// ---------------------------------------------------------------------------------------------
// Properties
// ---------------------------------------------------------------------------------------------

fn arb_message() -> impl Strategy<Value = Message> {
    prop_oneof![
        ".{0,300}".prop_map(Message::from),
        proptest::collection::vec(any::<u8>(), 0..3000).prop_map(Message::from),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(|v| Message::Ping(v.into())),
        proptest::collection::vec(any::<u8>(), 0..=125).prop_map(|v| Message::Pong(v.into())),
    ]
}

fn wire_of(role: Role, fragment: usize, messages: &[Message]) -> Vec<u8> {
    let config = Config::builder().fragment_size(fragment).build();
    let mut c = Connection::new(role, config, std::time::Instant::now());
    for m in messages {
        c.send(m.clone(), std::time::Instant::now()).unwrap();
    }
    let mut wire = Vec::new();
    while let Some(b) = c.pop_transmit() {
        wire.extend_from_slice(&b);
    }
    wire
}

fn receive(role: Role, wire: &[u8], cuts: &[usize]) -> Vec<Message> {
    let mut s = Scripted::new(role);
    let mut events = Vec::new();
    let mut prev = 0;
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (wire.len() + 1)).collect();
    points.sort_unstable();
    points.push(wire.len());
    for p in points {
        events.extend(s.recv_bytes(&wire[prev..p]));
        prev = p;
    }
    ok(events)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn encode_decode_round_trip_both_roles(
        messages in proptest::collection::vec(arb_message(), 0..12),
        fragment in 1usize..4000,
        client_sends in any::<bool>(),
    ) {
        let (sender, receiver) = if client_sends {
            (Role::Client, Role::Server)
        } else {
            (Role::Server, Role::Client)
        };
        let wire = wire_of(sender, fragment, &messages);
        prop_assert_eq!(receive(receiver, &wire, &[]), messages);
    }

    #[test]
    fn any_rechunking_gives_identical_events(
        messages in proptest::collection::vec(arb_message(), 1..8),
        fragment in 1usize..500,
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
        client_sends in any::<bool>(),
    ) {
        let (sender, receiver) = if client_sends {
            (Role::Client, Role::Server)
        } else {
            (Role::Server, Role::Client)
        };
        let wire = wire_of(sender, fragment, &messages);
        let whole = receive(receiver, &wire, &[]);
        prop_assert_eq!(&whole, &messages);
        prop_assert_eq!(receive(receiver, &wire, &cuts), whole);
    }
}

#[test]
fn one_byte_at_a_time_equals_all_at_once() {
    let messages = vec![
        Message::from("héllo wörld ✓ 🎉"),
        Message::Binary(vec![3u8; 70_000].into()),
        Message::Ping(Bytes::from_static(b"ping")),
        Message::from("x".repeat(200)),
    ];
    for (sender, receiver) in [(Role::Client, Role::Server), (Role::Server, Role::Client)] {
        let wire = wire_of(sender, 97, &messages);
        let cuts: Vec<usize> = (0..wire.len()).collect();
        assert_eq!(receive(receiver, &wire, &cuts), messages);
    }
}

#[test]
fn bytes_fed_after_close_are_dropped_not_held() {
    // Found while writing the connection fuzz target: a closed connection kept appending what
    // a transport fed it, so a peer that went on sending after its close grew memory.
    let mut s = Scripted::new(Role::Server);
    ok(s.recv(&[RawFrame::close(1000, b"")]));
    assert!(s.conn.is_closed());
    let junk = RawFrame::binary(vec![7u8; 60_000])
        .masked([1, 2, 3, 4])
        .bytes();
    for _ in 0..20 {
        assert!(s.recv_bytes(&junk).is_empty());
        assert!(s.conn.buffered_input() <= junk.len());
    }
}

// ---------------------------------------------------------------------------------------------
// `now` on the send path
// ---------------------------------------------------------------------------------------------

#[test]
fn a_send_that_fails_starts_the_close_deadline_at_its_now() {
    let config = Config::builder()
        .max_backpressure(100)
        .close_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::ZERO)
        .auto_ping(false)
        .send_timeout(Duration::ZERO)
        .build();
    let mut s = Scripted::with_config(Role::Server, config);
    s.conn
        .send(Message::Binary(vec![0u8; 80].into()), s.now)
        .unwrap();
    let later = s.now + Duration::from_secs(7);
    let err = s
        .conn
        .send(Message::Binary(vec![0u8; 80].into()), later)
        .unwrap_err();
    assert!(matches!(err, Error::Backpressure { .. }));
    assert!(s.conn.is_closed());
    // The deadline counts from the `now` of the failing send, without a timer check between.
    assert_eq!(s.conn.poll_timeout(), Some(later + Duration::from_secs(3)));
}

#[test]
fn now_never_moves_backwards() {
    let config = Config::builder()
        .close_timeout(Duration::from_secs(3))
        .idle_timeout(Duration::ZERO)
        .auto_ping(false)
        .build();
    let mut s = Scripted::with_config(Role::Server, config);
    let later = s.now + Duration::from_secs(10);
    s.conn.handle_timeout(later).unwrap();
    // A close reported with an older time than one already seen counts from the newer one.
    s.conn.close(None, s.now).unwrap();
    assert_eq!(s.conn.poll_timeout(), Some(later + Duration::from_secs(3)));
}

#[test]
fn ws_proto_reads_no_clock() {
    // Every time comes from the caller: no `Instant::now` or `SystemTime` outside doc examples.
    let src = concat!(env!("CARGO_MANIFEST_DIR"), "/src");
    let mut stack = vec![std::path::PathBuf::from(src)];
    let mut files = 0;
    while let Some(path) = stack.pop() {
        for entry in std::fs::read_dir(&path).unwrap() {
            let p = entry.unwrap().path();
            if p.is_dir() {
                stack.push(p);
                continue;
            }
            files += 1;
            for (i, line) in std::fs::read_to_string(&p).unwrap().lines().enumerate() {
                let code = line.trim_start();
                if code.starts_with("//") {
                    continue;
                }
                assert!(
                    !code.contains("Instant::now") && !code.contains("SystemTime"),
                    "{}:{}: {line}",
                    p.display(),
                    i + 1
                );
            }
        }
    }
    assert!(files > 5);
}
