//! Backpressure against a peer that stops reading, over TCP with shrunken socket buffers (a
//! few KiB each way), so the kernel holds little and the library's own limits decide.
//!
//! - `feed` / `send` wait (`poll_ready` is pending) while the output is over
//!   `write_buffer_size`; the output buffer stays bounded; nothing queued is lost once the peer
//!   reads again.
//! - Pongs the peer provokes but never reads fail the connection with `Error::Connection(ConnectionError::Backpressure)`
//!   (close 1008) once they pass `max_backpressure`.

mod common;

use std::time::Duration;

use common::{
    OP_BINARY, OP_CLOSE, OP_PONG, RawPeer, TEST_TIMEOUT, flood_pings, pair, ping_payload,
    read_frame_from, within,
};
use tokio::sync::mpsc;
use ws_tokio::{CloseCode, Config, ConnectionError, Error, Fault, Message};

const SOCKET_BUFFER: u32 = 4096;
const WRITE_BUFFER: usize = 16 << 10;
const MAX_BACKPRESSURE: usize = 64 << 10;
const MESSAGE: usize = 4096;
/// Header of a server frame with a 16-bit length.
const FRAME: usize = MESSAGE + 4;

fn config() -> Config {
    Config::builder()
        .write_buffer_size(WRITE_BUFFER)
        .max_backpressure(MAX_BACKPRESSURE)
        .auto_ping(false)
        .idle_timeout(Duration::ZERO)
        .build()
}

/// Message `i`: its index in the first four bytes, then a pattern derived from it.
fn message(i: u32) -> Vec<u8> {
    let mut m = common::binary_payload(MESSAGE, i as u64);
    m[..4].copy_from_slice(&i.to_be_bytes());
    m
}

#[tokio::test]
async fn feed_and_send_wait_while_the_peer_does_not_read() {
    within(TEST_TIMEOUT, async {
        let (mut ws, mut peer) = pair(config(), Some(SOCKET_BUFFER)).await;

        // Feed until a feed stays pending. The socket buffers hold a few KiB, so this takes a
        // handful of messages, not thousands.
        let mut fed = 0u32;
        let mut max_buffered = 0;
        loop {
            assert!(fed < 10_000, "feed never waited: the output is unbounded");
            match tokio::time::timeout(Duration::from_millis(200), ws.feed(message(fed))).await {
                Ok(result) => result.expect("feed"),
                Err(_) => break,
            }
            fed += 1;
            max_buffered = max_buffered.max(ws.connection().buffered_output());
        }
        assert!(fed > 0);
        assert!(
            max_buffered <= WRITE_BUFFER + FRAME,
            "output grew to {max_buffered} bytes, over write_buffer_size + one message"
        );
        assert!(max_buffered <= MAX_BACKPRESSURE + FRAME);
        assert!(
            ws.connection().buffered_output() >= WRITE_BUFFER,
            "pending only when full"
        );

        // `send` waits too; `Sink::poll_ready` is what both wait on.
        let pending = tokio::time::timeout(
            Duration::from_millis(200),
            ws.send(Message::binary(message(u32::MAX))),
        )
        .await;
        assert!(
            pending.is_err(),
            "send completed although the peer reads nothing"
        );
        assert!(ws.connection().buffered_output() <= WRITE_BUFFER + FRAME);

        // The pending feed and send were cancelled before queueing (poll_ready never passed).
        // The peer reads again: exactly the fed messages arrive, in order, then one more.
        let sender = tokio::spawn(async move {
            ws.send(Message::binary(&b"after"[..]))
                .await
                .expect("send after drain");
            ws
        });
        for i in 0..fed {
            let frame = peer.expect_frame().await;
            assert_eq!((frame.fin, frame.opcode), (true, OP_BINARY));
            assert!(frame.payload == message(i), "message {i} corrupted");
        }
        let last = peer.expect_frame().await;
        assert_eq!(
            last.payload, b"after",
            "a cancelled send must not be queued"
        );
        let ws = sender.await.unwrap();
        assert_eq!(ws.connection().buffered_output(), 0);
    })
    .await;
}

/// The peer pings (so the server must queue pongs) and never reads: past `max_backpressure`
/// the connection fails with `Backpressure` and a 1008 close is queued behind the pongs.
#[tokio::test]
async fn unread_pongs_fail_with_backpressure_and_close_1008() {
    within(TEST_TIMEOUT, async {
        let max_backpressure = 16 << 10;
        let config = Config::builder()
            .write_buffer_size(4 << 10)
            .max_backpressure(max_backpressure)
            .auto_ping(false)
            .idle_timeout(Duration::ZERO)
            .build();
        let (ws, peer) = pair(config, Some(SOCKET_BUFFER)).await;

        // The server only reads. Its task returns the stream, which keeps the socket open
        // until the test ends: closing a socket with unread input (the flood) sends a RST,
        // which would discard what the server wrote but the peer has not read yet.
        let (tx, mut items) = mpsc::unbounded_channel();
        let server = tokio::spawn(async move {
            let mut ws = ws;
            loop {
                let item = ws.recv().await;
                let end = item.is_none();
                let _ = tx.send(item);
                if end {
                    break;
                }
            }
            ws
        });

        // Another task pings without pause; the server must answer every ping with a pong
        // that the peer never reads.
        let RawPeer { tcp, buf, .. } = peer;
        let (mut rd, wr) = tcp.into_split();
        let flood = tokio::spawn(flood_pings(wr));

        let mut pings_seen = 0u32;
        let err = loop {
            match items.recv().await.expect("server task ended") {
                Some(Ok(Message::Ping(p))) => {
                    assert_eq!(&p[..], &ping_payload(pings_seen)[..]);
                    pings_seen += 1;
                }
                Some(Err(e)) => break e,
                other => panic!("unexpected {other:?}"),
            }
        };
        // The flood may be blocked in a write now that the server stopped reading.
        flood.abort();
        match err {
            Error::Connection(ConnectionError::Backpressure { buffered, limit }) => {
                assert_eq!(limit, max_backpressure);
                // Refused because one more pong (127 bytes) would break the limit: the output
                // never holds more than the limit.
                assert!(buffered <= limit && buffered + 127 > limit, "{buffered}");
            }
            other => panic!("expected Backpressure, got {other:?}"),
        }
        assert_eq!(err.close_code(), Some(CloseCode::POLICY_VIOLATION));
        assert_eq!(err.fault(), Fault::Peer);

        // The peer reads at last: the pongs in order, then the 1008 close, then EOF.
        let mut buf = buf;
        let mut pongs = 0u32;
        let close = loop {
            let frame = read_frame_from(&mut rd, &mut buf, false)
                .await
                .expect("frame");
            if frame.opcode != OP_PONG {
                break frame;
            }
            assert_eq!(&frame.payload[..], &ping_payload(pongs)[..], "pong {pongs}");
            pongs += 1;
        };
        assert_eq!(close.opcode, OP_CLOSE);
        assert_eq!(close.close_code(), Some(1008));
        assert!(
            pongs > 0 && pongs <= pings_seen,
            "{pongs} pongs for {pings_seen} pings"
        );
        assert!(
            read_frame_from(&mut rd, &mut buf, false).await.is_none(),
            "EOF after the close"
        );
        // The server's stream ended after writing its output out.
        loop {
            match items.recv().await.expect("server task") {
                None => break,
                Some(Ok(Message::Ping(_))) => {}
                other => panic!("unexpected {other:?}"),
            }
        }
        drop(server.await.unwrap());
    })
    .await;
}

/// Regression: `send` of a message no larger than `max_backpressure` failed with
/// `Backpressure` (and closed 1008) when a few bytes were queued ahead of it, although it
/// could wait. Seen over HTTP/2, where a pong can sit queued behind another stream's window.
/// Now `send` (and `feed`, and the split writer's) waits for the queue to go out first.
#[tokio::test]
async fn send_waits_for_room_for_the_whole_message_instead_of_failing() {
    within(TEST_TIMEOUT, async {
        let (mut client, mut server) = common::duplex_pair(config(), 1024);
        // Queued, not flushed, and the pipe holds only 1 KiB: the peer has to read it first.
        server.feed(Message::text("ahead")).await.unwrap();
        let reader = tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(Ok(message)) = client.recv().await {
                got.push(message.len());
                if got.len() == 4 {
                    break;
                }
            }
            got
        });
        // Exactly max_backpressure: with "ahead" queued it does not fit beside it.
        server
            .send(Message::binary(vec![7u8; MAX_BACKPRESSURE]))
            .await
            .expect("send waits for room instead of failing");
        server.feed(Message::text("x")).await.unwrap();
        server
            .send(Message::binary(vec![8u8; MAX_BACKPRESSURE]))
            .await
            .expect("feed then send: the same");
        assert_eq!(
            reader.await.unwrap(),
            [5, MAX_BACKPRESSURE, 1, MAX_BACKPRESSURE]
        );
    })
    .await;
}
