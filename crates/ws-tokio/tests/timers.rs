//! Timers in virtual time: idle timeout, automatic pings and the pong timeout, the close
//! timeout of either side, and giving back the read buffer of a quiet connection.
//!
//! The streams run over in-memory pipes (`tokio::io::duplex`) with tokio's paused clock: time
//! only moves when every task waits, and then straight to the next deadline, so each deadline
//! is checked tightly (never early, and within 5/4 of its nominal value) and the tests take no
//! real time. (Over real TCP the paused clock would auto-advance while the runtime waits on the
//! sockets, firing every deadline at once; the timers over real TCP are covered by
//! `send_timeout`, `regression_finish_blocks_on_unread_output` and `hostile`.)

mod common;

use std::time::Duration;

use common::{
    DUPLEX_CAPACITY, OP_CLOSE, OP_PING, OP_PONG, OP_TEXT, TEST_TIMEOUT, close_payload,
    duplex_client_and_raw_server, duplex_pair, duplex_server_and_raw_client, within,
};
use tokio::io::AsyncWriteExt;
use tokio::time::Instant;
use ws_proto::TimeoutKind;
use ws_tokio::{CloseCode, Config, ConnectionError, Error, Fault, Message};

/// A deadline of `low` fired after `elapsed` of virtual time: not early, and not later than
/// 5/4 of it.
fn assert_between(elapsed: Duration, low: Duration, what: &str) {
    assert!(
        elapsed >= low,
        "{what} fired early: after {elapsed:?}, expected {low:?}"
    );
    assert!(
        elapsed <= low + low / 4,
        "{what} fired late: after {elapsed:?}, expected {low:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_closes_with_1001() {
    within(TEST_TIMEOUT, async {
        let idle = Duration::from_millis(200);
        let config = Config::builder()
            .idle_timeout(idle)
            .auto_ping(false)
            .build();
        let (mut ws, mut peer) = duplex_server_and_raw_client(config, DUPLEX_CAPACITY);
        let start = Instant::now();

        let reader = tokio::spawn(async move {
            let close = peer.expect_frame().await;
            let at = start.elapsed();
            peer.expect_eof().await;
            (close, at)
        });

        let err = ws.recv().await.expect("an error").unwrap_err();
        assert_between(start.elapsed(), idle, "idle timeout");
        assert!(
            matches!(
                err,
                Error::Connection(ConnectionError::Timeout(TimeoutKind::Idle))
            ),
            "{err:?}"
        );
        assert_eq!(err.close_code(), Some(CloseCode::GOING_AWAY));
        assert_eq!(err.fault(), Fault::Peer);
        assert!(
            ws.recv().await.is_none(),
            "the stream ends after the failure"
        );

        let (close, at) = reader.await.unwrap();
        assert_eq!(close.opcode, OP_CLOSE);
        assert_eq!(close.close_code(), Some(1001));
        assert!(at >= idle);
    })
    .await;
}

/// Traffic pushes the idle deadline back: a peer talking every 50 ms for 600 ms is never idle
/// for 200 ms; once it stops, the timeout fires 200 ms after its last message.
#[tokio::test(start_paused = true)]
async fn traffic_keeps_an_idle_connection_open() {
    within(TEST_TIMEOUT, async {
        let idle = Duration::from_millis(200);
        let config = Config::builder()
            .idle_timeout(idle)
            .auto_ping(false)
            .build();
        let (mut ws, mut peer) = duplex_server_and_raw_client(config, DUPLEX_CAPACITY);

        let talker = tokio::spawn(async move {
            for i in 0..12 {
                peer.send(true, OP_TEXT, format!("tick {i}").as_bytes())
                    .await;
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            (peer, Instant::now())
        });
        for i in 0..12 {
            let message = ws.recv().await.unwrap().expect("no timeout while talking");
            assert_eq!(message.as_text(), Some(format!("tick {i}").as_str()));
        }
        let last = Instant::now();
        let err = ws.recv().await.unwrap().unwrap_err();
        assert!(
            matches!(
                err,
                Error::Connection(ConnectionError::Timeout(TimeoutKind::Idle))
            ),
            "{err:?}"
        );
        assert!(last.elapsed() >= idle - Duration::from_millis(60));
        let (mut peer, _) = talker.await.unwrap();
        assert_eq!(peer.expect_frame().await.close_code(), Some(1001));
    })
    .await;
}

/// `ping_interval` 100 ms: the silent peer gets a ping; it never answers, so the connection
/// fails with a pong timeout `pong_timeout` after the ping, closing with 1001.
#[tokio::test(start_paused = true)]
async fn unanswered_auto_ping_times_out() {
    within(TEST_TIMEOUT, async {
        let interval = Duration::from_millis(100);
        let pong_timeout = Duration::from_millis(200);
        let config = Config::builder()
            .auto_ping(true)
            .ping_interval(interval)
            .pong_timeout(pong_timeout)
            .idle_timeout(Duration::ZERO)
            .build();
        let (mut ws, mut peer) = duplex_server_and_raw_client(config, DUPLEX_CAPACITY);
        let start = Instant::now();

        let reader = tokio::spawn(async move {
            let ping = peer.expect_frame().await;
            let ping_at = start.elapsed();
            let close = peer.expect_frame().await;
            peer.expect_eof().await;
            (ping, ping_at, close)
        });

        let err = ws.recv().await.expect("an error").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Connection(ConnectionError::Timeout(TimeoutKind::Pong))
            ),
            "{err:?}"
        );
        assert_eq!(err.close_code(), Some(CloseCode::GOING_AWAY));
        assert_between(start.elapsed(), interval + pong_timeout, "pong timeout");
        assert!(ws.recv().await.is_none());

        let (ping, ping_at, close) = reader.await.unwrap();
        assert_eq!((ping.fin, ping.opcode), (true, OP_PING));
        assert!(ping.payload.len() <= 125);
        assert_between(ping_at, interval, "auto ping");
        assert_eq!(close.close_code(), Some(1001));
    })
    .await;
}

/// A peer that answers every ping stays connected for many intervals, and the user sees no
/// error; the pings also show up as pongs on the peer's side at the configured pace.
#[tokio::test(start_paused = true)]
async fn answered_auto_pings_keep_the_connection_open() {
    within(TEST_TIMEOUT, async {
        let interval = Duration::from_millis(100);
        let config = Config::builder()
            .auto_ping(true)
            .ping_interval(interval)
            .pong_timeout(Duration::from_millis(150))
            .idle_timeout(Duration::from_millis(400))
            .build();
        let (mut ws, mut peer) = duplex_server_and_raw_client(config, DUPLEX_CAPACITY);

        // The peer answers pings for 1 s (10 intervals, 2.5 idle timeouts), then closes.
        let answerer = tokio::spawn(async move {
            let start = Instant::now();
            let mut pings = 0;
            while start.elapsed() < Duration::from_secs(1) {
                let frame = peer.expect_frame().await;
                assert_eq!(frame.opcode, OP_PING, "{frame:?}");
                peer.send(true, OP_PONG, &frame.payload).await;
                pings += 1;
            }
            peer.send(true, OP_CLOSE, &close_payload(1000, "")).await;
            let close = loop {
                let frame = peer.expect_frame().await;
                if frame.opcode == OP_CLOSE {
                    break frame;
                }
            };
            assert_eq!(close.close_code(), Some(1000));
            peer.expect_eof().await;
            pings
        });

        let mut pongs = 0;
        loop {
            match ws.recv().await {
                Some(Ok(Message::Pong(_))) => pongs += 1,
                Some(Ok(Message::Close(reason))) => {
                    assert_eq!(reason.unwrap().code, CloseCode::NORMAL);
                }
                Some(other) => panic!("unexpected {other:?}"),
                None => break,
            }
        }
        let pings = answerer.await.unwrap();
        assert!(pings >= 5, "only {pings} pings in 1 s at a 100 ms interval");
        assert!(pings <= 11, "{pings} pings in 1 s at a 100 ms interval");
        assert!(pongs >= pings - 1, "{pongs} pongs for {pings} pings");
    })
    .await;
}

/// Our client and our server, both pinging automatically and answering each other's pings,
/// stay connected through ten idle timeouts without a message from the application, then close
/// normally.
#[tokio::test(start_paused = true)]
async fn our_client_and_server_keep_each_other_alive_with_auto_pings() {
    within(TEST_TIMEOUT, async {
        let idle = Duration::from_millis(400);
        let config = Config::builder()
            .auto_ping(true)
            .ping_interval(Duration::from_millis(100))
            .pong_timeout(Duration::from_millis(150))
            .idle_timeout(idle)
            .build();
        let (mut client, mut server) = duplex_pair(config, DUPLEX_CAPACITY);

        // Reading drives the timers; the server reads until its stream ends.
        let server_task = tokio::spawn(async move {
            let mut pongs = 0;
            for _ in 0..10_000 {
                match server.recv().await {
                    Some(Ok(Message::Pong(_))) => pongs += 1,
                    Some(Ok(Message::Ping(_))) => {}
                    Some(Ok(Message::Close(reason))) => {
                        assert_eq!(reason.unwrap().code, CloseCode::NORMAL);
                    }
                    Some(other) => panic!("server: unexpected {other:?}"),
                    None => return pongs,
                }
            }
            panic!("the server's stream never ended");
        });

        let quiet = idle * 10;
        let start = Instant::now();
        let mut pongs = 0;
        for _ in 0..10_000 {
            let left = quiet.saturating_sub(start.elapsed());
            // `recv` is cancel safe: the timeout loses nothing.
            match tokio::time::timeout(left, client.recv()).await {
                Err(_) => break,
                Ok(Some(Ok(Message::Pong(_)))) => pongs += 1,
                Ok(Some(Ok(Message::Ping(_)))) => {}
                Ok(other) => panic!("client: unexpected {other:?} after {:?}", start.elapsed()),
            }
        }
        assert!(start.elapsed() >= quiet, "{:?}", start.elapsed());

        client.close(1000u16, "").await.unwrap();
        // Pings and pongs already on their way may come before the close reply.
        let mut replied = false;
        for _ in 0..100 {
            match client.recv().await {
                Some(Ok(Message::Ping(_) | Message::Pong(_))) => {}
                Some(Ok(Message::Close(reason))) => {
                    assert_eq!(reason.unwrap().code, CloseCode::NORMAL);
                    replied = true;
                    break;
                }
                other => panic!("client: expected the close reply, got {other:?}"),
            }
        }
        assert!(replied, "no close reply");
        assert!(client.recv().await.is_none());
        let server_pongs = server_task.await.unwrap();
        assert!(pongs > 0, "the client's pings were never answered");
        assert!(server_pongs > 0, "the server's pings were never answered");
    })
    .await;
}

/// Automatic pings from the client side are masked.
#[tokio::test(start_paused = true)]
async fn client_auto_ping_is_masked() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .auto_ping(true)
            .ping_interval(Duration::from_millis(50))
            .build();
        let (mut ws, mut peer) = duplex_client_and_raw_server(config, DUPLEX_CAPACITY);
        let client = tokio::spawn(async move {
            // Read until the stream ends: this drives the timers.
            while let Some(item) = ws.recv().await {
                if let Err(e) = item {
                    panic!("client: {e}");
                }
            }
        });
        // `RawPeer::read_frame` asserts the direction's masking rule (masked here).
        let ping = peer.expect_frame().await;
        assert_eq!(ping.opcode, OP_PING);
        assert!(ping.masked);
        peer.send(true, OP_CLOSE, &close_payload(1000, "")).await;
        assert_eq!(peer.expect_frame().await.close_code(), Some(1000));
        drop(peer);
        client.await.unwrap();
    })
    .await;
}

/// Our client sends a close frame; the raw server reads it and never answers (nor ends its side):
/// the client's stream reports the close timeout and ends within `close_timeout`.
#[tokio::test(start_paused = true)]
async fn close_timeout_ends_the_client_stream() {
    within(TEST_TIMEOUT, async {
        let close_timeout = Duration::from_millis(300);
        let config = Config::builder().close_timeout(close_timeout).build();
        let (mut ws, mut peer) = duplex_client_and_raw_server(config, DUPLEX_CAPACITY);
        let server = tokio::spawn(async move {
            let close = peer.expect_frame().await;
            assert!(close.masked);
            assert_eq!(close.close_code(), Some(1000));
            assert_eq!(&close.payload[2..], b"bye");
            // Hold the connection open without answering until the client gives up; then the
            // client ends its side (EOF here, a FIN over TCP).
            assert!(peer.read_frame().await.is_none());
        });

        let start = Instant::now();
        ws.close(1000u16, "bye").await.unwrap();
        let err = ws.recv().await.expect("an error").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Connection(ConnectionError::Timeout(TimeoutKind::Close))
            ),
            "{err:?}"
        );
        assert_eq!(err.fault(), Fault::Peer);
        assert!(ws.recv().await.is_none());
        assert_between(start.elapsed(), close_timeout, "close timeout");
        server.await.unwrap();
    })
    .await;
}

/// The raw server answers the close but keeps its side open: the client waits for the end of
/// the server's stream (its FIN over TCP, RFC 6455 section 7.1.1) no longer than
/// `close_timeout`, then ends its stream.
#[tokio::test(start_paused = true)]
async fn client_waits_for_the_servers_fin_at_most_close_timeout() {
    within(TEST_TIMEOUT, async {
        let close_timeout = Duration::from_millis(300);
        let config = Config::builder().close_timeout(close_timeout).build();
        let (mut ws, mut peer) = duplex_client_and_raw_server(config, DUPLEX_CAPACITY);
        let (done_tx, done_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            assert_eq!(peer.expect_frame().await.close_code(), Some(1000));
            peer.send(true, OP_CLOSE, &close_payload(1000, "")).await;
            let _ = done_rx.await;
        });

        let start = Instant::now();
        ws.close(1000u16, "").await.unwrap();
        match ws.recv().await {
            Some(Ok(Message::Close(Some(reason)))) => assert_eq!(reason.code.0, 1000),
            other => panic!("expected the close reply, got {other:?}"),
        }
        assert!(ws.recv().await.is_none());
        assert_between(
            start.elapsed(),
            close_timeout,
            "waiting for the server's FIN",
        );
        let _ = done_tx.send(());
        server.await.unwrap();
    })
    .await;
}

/// The normal case: the server answers and ends its side; the client ends at once, long before
/// its close timeout.
#[tokio::test(start_paused = true)]
async fn client_ends_promptly_when_the_server_closes() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .close_timeout(Duration::from_secs(10))
            .build();
        let (mut ws, mut peer) = duplex_client_and_raw_server(config, DUPLEX_CAPACITY);
        let server = tokio::spawn(async move {
            assert_eq!(peer.expect_frame().await.close_code(), Some(1000));
            peer.send(true, OP_CLOSE, &close_payload(1000, "")).await;
            peer.tcp.shutdown().await.unwrap();
            assert!(peer.read_frame().await.is_none());
        });

        let start = Instant::now();
        ws.close(1000u16, "").await.unwrap();
        assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
        assert!(ws.recv().await.is_none());
        assert!(
            start.elapsed() < Duration::from_secs(2),
            "{:?}",
            start.elapsed()
        );
        server.await.unwrap();
    })
    .await;
}

/// The server starts the close and the raw client never answers: the server's stream reports
/// the close timeout, then ends and ends its side.
#[tokio::test(start_paused = true)]
async fn close_timeout_ends_the_server_stream() {
    within(TEST_TIMEOUT, async {
        let close_timeout = Duration::from_millis(300);
        let config = Config::builder().close_timeout(close_timeout).build();
        let (mut ws, mut peer) = duplex_server_and_raw_client(config, DUPLEX_CAPACITY);

        let start = Instant::now();
        ws.close(CloseCode::GOING_AWAY, "").await.unwrap();
        let err = ws.recv().await.expect("an error").unwrap_err();
        assert!(
            matches!(
                err,
                Error::Connection(ConnectionError::Timeout(TimeoutKind::Close))
            ),
            "{err:?}"
        );
        assert_eq!(err.close_code(), None, "no second close frame");
        assert!(ws.recv().await.is_none());
        assert_between(start.elapsed(), close_timeout, "close timeout");

        // The peer saw exactly one close frame, then the end of the server's stream (ws is still
        // alive).
        assert_eq!(peer.expect_frame().await.close_code(), Some(1001));
        peer.expect_eof().await;
        drop(ws);
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn a_quiet_connection_holds_no_read_buffer() {
    within(TEST_TIMEOUT, async {
        // Timer checks every second; the idle timeout (4 s) is not reached.
        let config = Config::builder()
            .idle_timeout(Duration::from_secs(4))
            .auto_ping(false)
            .build();
        let (mut ws, mut peer) = duplex_server_and_raw_client(config, DUPLEX_CAPACITY);
        // A new connection has no receive buffer until bytes arrive.
        assert!(!ws.connection().has_read_buffer());
        peer.send(true, OP_TEXT, b"first").await;
        let m = ws.recv().await.unwrap().unwrap();
        assert_eq!(m, Message::text("first"));
        assert!(ws.connection().has_read_buffer());
        // A message still held would share the buffer's memory, and the connection keeps a
        // buffer that dropping would not free (later messages then fill its room instead of
        // each pinning a buffer of its own).
        drop(m);

        // Quiet for two checks (within 2 s; recv is cancel safe): the buffer is given back.
        let start = Instant::now();
        for _ in 0..30 {
            let waited = tokio::time::timeout(Duration::from_millis(100), ws.recv()).await;
            assert!(waited.is_err(), "nothing was sent: {waited:?}");
            if !ws.connection().has_read_buffer() {
                break;
            }
        }
        assert!(
            !ws.connection().has_read_buffer(),
            "still holds its read buffer after {:?} of quiet",
            start.elapsed()
        );

        // Messages larger than the small first read, and small ones, arrive intact after it.
        let big = common::binary_payload(100_000, 7);
        peer.send(true, common::OP_BINARY, &big).await;
        peer.send(true, OP_TEXT, b"second").await;
        let m = ws.recv().await.unwrap().unwrap();
        assert_eq!(m, Message::binary(big));
        let m = ws.recv().await.unwrap().unwrap();
        assert_eq!(m, Message::text("second"));
        assert!(ws.connection().has_read_buffer());
    })
    .await;
}
