//! The end of a connection, as `Connection::transport_action` tells a transport to carry it out
//! (RFC 6455 section 7.1.1), in virtual time: the server shuts down first, the client waits for
//! that at most `close_timeout`, both read until the peer's end, and a deadline that passes
//! gives up on stuck output.

mod support;

use std::time::{Duration, Instant};
use support::{Pair, RawFrame, Scripted};
use ws_proto::{
    CloseCode, CloseReason, Config, Connection, Error, Message, Role, State, TimeoutKind,
    TransportAction,
};

const CLOSE: Duration = Duration::from_secs(2);

fn config() -> Config {
    Config::builder()
        .close_timeout(CLOSE)
        .idle_timeout(Duration::ZERO)
        .auto_ping(false)
        .build()
}

fn write_all(conn: &mut Connection) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(b) = conn.pop_transmit() {
        out.extend_from_slice(&b);
    }
    out
}

fn poll_all(conn: &mut Connection) -> Vec<Result<Message, Error>> {
    let mut events = Vec::new();
    for _ in 0..100 {
        match conn.poll_message() {
            Ok(Some(m)) => events.push(Ok(m)),
            Ok(None) => return events,
            Err(e) => events.push(Err(e)),
        }
    }
    panic!("poll_message did not settle");
}

use TransportAction::{Continue, Release, Shutdown};

#[test]
fn an_open_connection_carries_on() {
    let pair = Pair::new(config());
    assert_eq!(pair.client.transport_action(), Continue);
    assert_eq!(pair.server.transport_action(), Continue);
    assert!(!pair.client.is_finished());
}

#[test]
fn client_initiated_close_ends_server_first_then_client() {
    let t0 = Instant::now();
    let mut client = Connection::new(Role::Client, config(), t0);
    let mut server = Connection::new(Role::Server, config(), t0);

    client
        .close(Some(CloseReason::new(CloseCode::NORMAL, "bye")), t0)
        .unwrap();
    // The close frame is queued: write it first.
    assert_eq!(client.transport_action(), Continue);
    let wire = write_all(&mut client);
    assert_eq!(client.state(), State::CloseSent);
    assert_eq!(client.transport_action(), Continue);

    // The server receives it and answers; it shuts down only once the answer is written.
    let t1 = t0 + Duration::from_millis(100);
    server.feed(&wire, t1);
    let events = poll_all(&mut server);
    assert_eq!(
        events[0].as_ref().unwrap(),
        &Message::Close(Some(CloseReason::new(1000, "bye")))
    );
    assert!(server.is_closed());
    assert_eq!(server.transport_action(), Continue);
    let reply = write_all(&mut server);
    assert_eq!(server.transport_action(), Shutdown);
    server.handle_shutdown();
    // Then it reads until the client's end.
    assert_eq!(server.transport_action(), Continue);

    // The client receives the reply (and the server's FIN): it now shuts down and lets go.
    client.feed(&reply, t1);
    assert!(matches!(
        poll_all(&mut client)[0],
        Ok(Message::Close(Some(_)))
    ));
    assert!(client.is_closed());
    assert_eq!(
        client.transport_action(),
        Continue,
        "waits for the server's end"
    );
    client.handle_read(0, t1);
    assert_eq!(client.transport_action(), Shutdown);
    client.handle_shutdown();
    assert_eq!(client.transport_action(), Release);
    assert!(client.is_finished());

    // The client's FIN reaches the server: done.
    server.handle_read(0, t1);
    assert_eq!(server.transport_action(), Release);
    assert!(server.is_finished());
    // Nothing more is due on either side.
    assert!(client.handle_timeout(t1 + CLOSE * 2).is_ok());
    assert!(server.handle_timeout(t1 + CLOSE * 2).is_ok());
}

#[test]
fn client_waits_for_the_servers_end_at_most_close_timeout() {
    let mut c = Scripted::with_config(Role::Client, config());
    let t0 = c.now;
    // The server closes; the client answers.
    let events = c.recv(&[RawFrame::close(1000, b"")]);
    assert!(matches!(events[0], Ok(Message::Close(_))));
    write_all(&mut c.conn);
    assert_eq!(c.conn.transport_action(), Continue);
    // No `now` was at hand in `poll_message`: the deadline is armed at the next check, which
    // is asked for at once.
    assert!(c.conn.poll_timeout().unwrap() <= t0);
    let t1 = t0 + Duration::from_millis(10);
    c.conn.handle_timeout(t1).unwrap();
    assert_eq!(c.conn.poll_timeout(), Some(t1 + CLOSE));
    // Bytes that still arrive are read and dropped.
    c.conn.feed(b"garbage after the close", t1);
    assert_eq!(c.conn.buffered_input(), 0);
    assert_eq!(c.conn.transport_action(), Continue);
    // Just before the deadline: still waiting.
    c.conn
        .handle_timeout(t1 + CLOSE - Duration::from_millis(1))
        .unwrap();
    assert_eq!(c.conn.transport_action(), Continue);
    // The server never ends its side: at the deadline the client shuts down and lets go.
    let err = c.conn.handle_timeout(t1 + CLOSE).unwrap_err();
    assert!(matches!(err, Error::Timeout(TimeoutKind::Close)));
    assert_eq!(c.conn.transport_action(), Shutdown);
    c.conn.handle_shutdown();
    assert_eq!(c.conn.transport_action(), Release);
    assert_eq!(c.conn.poll_timeout(), None);
}

#[test]
fn server_shuts_down_after_replying_and_drains_at_most_close_timeout() {
    let mut s = Scripted::with_config(Role::Server, config());
    let t0 = s.now;
    s.recv(&[RawFrame::close(1001, b"")]);
    s.conn.handle_timeout(t0).unwrap();
    // The reply is queued: it goes out before the shutdown.
    assert_eq!(s.conn.transport_action(), Continue);
    s.expect_close_sent(1001);
    assert_eq!(s.conn.transport_action(), Shutdown);
    s.conn.handle_shutdown();
    assert_eq!(s.conn.transport_action(), Continue);
    // The client never ends its side: the server lets go at the deadline (reporting that the
    // peer did not end the connection in time).
    assert_eq!(s.conn.poll_timeout(), Some(t0 + CLOSE));
    let err = s.conn.handle_timeout(t0 + CLOSE).unwrap_err();
    assert!(matches!(err, Error::Timeout(TimeoutKind::Close)));
    assert_eq!(s.conn.transport_action(), Release);
}

#[test]
fn a_close_the_peer_never_answers_ends_at_close_timeout() {
    let mut s = Scripted::with_config(Role::Server, config());
    let t0 = s.now;
    s.conn.close(None, t0).unwrap();
    write_all(&mut s.conn);
    assert_eq!(s.conn.transport_action(), Continue);
    let err = s.conn.handle_timeout(t0 + CLOSE).unwrap_err();
    assert!(matches!(err, Error::Timeout(TimeoutKind::Close)));
    assert!(s.conn.is_closed());
    assert_eq!(s.conn.transport_action(), Shutdown);
    s.conn.handle_shutdown();
    assert_eq!(s.conn.transport_action(), Release);
}

#[test]
fn stuck_output_is_given_up_at_the_deadline_without_a_shutdown() {
    let mut s = Scripted::with_config(Role::Server, config());
    let t0 = s.now;
    s.conn
        .send(Message::Binary(vec![0u8; 10_000].into()), t0)
        .unwrap();
    s.conn.close(None, t0).unwrap();
    // The peer takes a little of it, then nothing.
    s.conn.advance_transmit(100);
    assert_eq!(s.conn.transport_action(), Continue);
    let _ = s.conn.handle_timeout(t0 + CLOSE);
    assert!(s.conn.wants_write());
    assert_eq!(s.conn.transport_action(), Release);
}

#[test]
fn a_reset_writes_what_is_queued_within_the_deadline_then_ends() {
    let mut s = Scripted::with_config(Role::Server, config());
    let t0 = s.now;
    s.conn.send(Message::from("last words"), t0).unwrap();
    s.conn.handle_read(0, t0);
    assert!(matches!(s.conn.poll_message(), Err(Error::ConnectionReset)));
    assert!(s.conn.is_closed());
    // Queued output still gets its chance, bounded by the close deadline.
    assert_eq!(s.conn.transport_action(), Continue);
    let deadline = s.conn.poll_timeout().unwrap();
    s.conn.handle_timeout(deadline).unwrap();
    assert_eq!(s.conn.poll_timeout(), Some(deadline + CLOSE));
    write_all(&mut s.conn);
    // The peer's end was seen: shut down and let go, no waiting.
    assert_eq!(s.conn.transport_action(), Shutdown);
    s.conn.handle_shutdown();
    assert_eq!(s.conn.transport_action(), Release);
}

#[test]
fn a_protocol_error_ends_like_a_close() {
    for role in [Role::Server, Role::Client] {
        let mut s = Scripted::with_config(role, config());
        let t0 = s.now;
        // Reserved opcode 3: 1002.
        let events = s.recv(&[RawFrame::new(3, b"")]);
        assert!(matches!(events[0], Err(Error::Protocol(_))));
        s.conn.handle_timeout(t0).unwrap();
        s.expect_close_sent(1002);
        match role {
            // The server ends its side at once and drains.
            Role::Server => {
                assert_eq!(s.conn.transport_action(), Shutdown);
                s.conn.handle_shutdown();
                assert_eq!(s.conn.transport_action(), Continue);
                s.conn.handle_read(0, t0);
                assert_eq!(s.conn.transport_action(), Release);
            }
            // The client waits for the server's end.
            Role::Client => {
                assert_eq!(s.conn.transport_action(), Continue);
                s.conn.handle_eof();
                assert_eq!(s.conn.transport_action(), Shutdown);
                s.conn.handle_shutdown();
                assert_eq!(s.conn.transport_action(), Release);
            }
        }
    }
}
