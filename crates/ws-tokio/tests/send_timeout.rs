//! A peer that stops reading must not pin a task or its buffers: the timers run on the send
//! path too, `send_timeout` cuts the peer off, `close` ends within `close_timeout`, and the
//! output never holds more than `max_backpressure`.
//!
//! The peer's transport holds a few KiB each way so that the library's own limits decide. The
//! deadline tests run over an in-memory pipe of 16 KiB in virtual time (tokio's paused clock),
//! so each deadline is checked between its value and 5/4 of it; the others run over TCP with
//! socket buffers shrunk to 4 KiB. Every wait is bounded by [`within`].

mod common;

use std::pin::Pin;
use std::time::Duration;

use common::{RawPeer, TEST_TIMEOUT, duplex_server_and_raw_client, pair, within};
use futures_sink::Sink;
use tokio::io::AsyncRead;
use tokio::time::Instant;
use ws_tokio::{Config, ConnectionError, Error, Fault, Message, TimeoutKind};

const SOCKET_BUFFER: u32 = 4096;
/// Bytes the in-memory pipe holds each way: about what the kernel holds with the shrunken
/// socket buffers (it doubles SO_SNDBUF and rounds up), room for a few messages.
const PIPE: usize = 16 << 10;
const SEND_TIMEOUT: Duration = Duration::from_millis(300);
const MAX_BACKPRESSURE: usize = 64 << 10;
const MESSAGE: usize = 4096;

/// No idle timeout and no pings: only the send path's deadlines are under test.
fn config() -> Config {
    Config::builder()
        .write_buffer_size(16 << 10)
        .max_backpressure(MAX_BACKPRESSURE)
        .send_timeout(SEND_TIMEOUT)
        .auto_ping(false)
        .idle_timeout(Duration::ZERO)
        .build()
}

fn is_send_timeout(e: &Error) -> bool {
    matches!(
        e,
        Error::Connection(ConnectionError::Timeout(TimeoutKind::Send))
    )
}

/// Reads what the server wrote until EOF (the server shut its side down, possibly in the middle
/// of a frame: it gave up on the rest). Returns the number of bytes.
async fn bytes_until_eof<T: AsyncRead + Unpin>(peer: RawPeer<T>) -> usize {
    use tokio::io::AsyncReadExt;
    let RawPeer { mut tcp, buf, .. } = peer;
    let mut rest = Vec::new();
    // Bounded: the server wrote a bounded amount and then shut down; `within` bounds the time.
    tcp.read_to_end(&mut rest).await.expect("read until EOF");
    buf.len() + rest.len()
}

/// The regression test: `send(..).await` to a peer that neither reads nor sends used to wait
/// forever. Now it fails with the send timeout, within 5/4 of it (virtual time), the
/// output stays within `max_backpressure`, every later call reports the same error at once,
/// and the socket is shut down (the peer sees EOF after the bytes that did go out).
#[tokio::test(start_paused = true)]
async fn send_to_a_peer_that_never_reads_fails_within_send_timeout() {
    within(TEST_TIMEOUT, async {
        let (mut ws, peer) = duplex_server_and_raw_client(config(), PIPE);
        let payload = vec![7u8; MESSAGE];

        let mut sent = 0u32;
        let mut max_buffered = 0;
        let (err, stalled_at) = loop {
            assert!(sent < 10_000, "send never stalled: the output is unbounded");
            let before = Instant::now();
            match ws.send(Message::binary(payload.clone())).await {
                Ok(()) => sent += 1,
                Err(e) => break (e, before),
            }
            max_buffered = max_buffered.max(ws.connection().buffered_output());
        };
        let waited = stalled_at.elapsed();
        assert!(is_send_timeout(&err), "{err:?}");
        assert_eq!(err.fault(), Fault::Peer);
        assert!(sent > 0, "the first sends fit in the buffers");
        assert!(
            waited >= SEND_TIMEOUT,
            "cut off after {waited:?}, before the timeout"
        );
        assert!(waited <= SEND_TIMEOUT * 5 / 4, "cut off after {waited:?}");
        let held = max_buffered.max(ws.connection().buffered_output());
        assert!(held <= MAX_BACKPRESSURE, "held {held} bytes");

        // Every later call reports the timeout at once.
        for _ in 0..3 {
            let e = ws.send(Message::binary(&b"x"[..])).await.unwrap_err();
            assert!(is_send_timeout(&e), "{e:?}");
        }
        assert!(is_send_timeout(&ws.flush().await.unwrap_err()));
        assert!(is_send_timeout(
            &ws.feed(Message::binary(&b"y"[..])).await.unwrap_err()
        ));
        assert!(is_send_timeout(&ws.close(1000u16, "").await.unwrap_err()));
        match ws.recv().await {
            Some(Err(e)) => assert!(is_send_timeout(&e), "{e:?}"),
            other => panic!("expected the send timeout, got {other:?}"),
        }
        assert!(
            ws.recv().await.is_none(),
            "the stream ends after reporting it"
        );

        // The socket was shut down: the peer reads what went out, then EOF. `send` is feed
        // then flush, so the message whose flush timed out was queued and may have gone out in
        // part: at most one message more than the sends that succeeded.
        let bytes = bytes_until_eof(peer).await;
        assert!(
            bytes <= (sent as usize + 1) * (MESSAGE + 4),
            "{bytes} bytes for {sent} sends"
        );
        drop(ws);
    })
    .await;
}

/// The same with the split halves: the writer is cut off by the send timeout, and the reader,
/// parked waiting for the peer, is woken and ends with the same error.
#[tokio::test(start_paused = true)]
async fn split_writer_send_timeout_ends_the_reader_too() {
    within(TEST_TIMEOUT, async {
        let (ws, peer) = duplex_server_and_raw_client(config(), PIPE);
        let (mut reader, mut writer) = ws.split();
        let reader_task = tokio::spawn(async move {
            let first = reader.recv().await;
            let second = reader.recv().await;
            (first, second, reader)
        });

        let payload = vec![1u8; MESSAGE];
        let mut sent = 0u32;
        let err = loop {
            assert!(sent < 10_000, "send never stalled");
            match writer.send(Message::binary(payload.clone())).await {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
        };
        assert!(is_send_timeout(&err), "{err:?}");
        assert!(is_send_timeout(
            &writer.send(Message::binary(&b"x"[..])).await.unwrap_err()
        ));

        let (first, second, reader) = reader_task.await.unwrap();
        match first {
            Some(Err(e)) => assert!(is_send_timeout(&e), "{e:?}"),
            other => panic!("the reader expected the send timeout, got {other:?}"),
        }
        assert!(second.is_none());
        bytes_until_eof(peer).await;
        drop((reader, writer));
    })
    .await;
}

/// `close()` to a peer that does not read: the close frame cannot go out, and the call ends
/// within `close_timeout` with the close timeout, instead of waiting forever.
#[tokio::test(start_paused = true)]
async fn close_to_a_peer_that_never_reads_ends_within_close_timeout() {
    within(TEST_TIMEOUT, async {
        let close_timeout = Duration::from_millis(300);
        let config = Config::builder()
            .write_buffer_size(16 << 10)
            .max_backpressure(MAX_BACKPRESSURE)
            // Longer than the close timeout, so the close timeout is what ends the wait.
            .send_timeout(Duration::from_secs(20))
            .close_timeout(close_timeout)
            .auto_ping(false)
            .idle_timeout(Duration::ZERO)
            .build();
        let (mut ws, peer) = duplex_server_and_raw_client(config, PIPE);

        // Fill the pipe and the output until a feed waits.
        let mut fed = 0u32;
        loop {
            assert!(fed < 10_000, "feed never waited");
            let feed = ws.feed(Message::binary(vec![2u8; MESSAGE]));
            match tokio::time::timeout(Duration::from_millis(100), feed).await {
                Ok(result) => result.expect("feed"),
                Err(_) => break,
            }
            fed += 1;
        }

        let start = Instant::now();
        let err = ws.close(1000u16, "bye").await.unwrap_err();
        let waited = start.elapsed();
        assert!(
            matches!(
                err,
                Error::Connection(ConnectionError::Timeout(TimeoutKind::Close))
            ),
            "{err:?}"
        );
        assert!(waited >= close_timeout, "ended after {waited:?}");
        assert!(waited <= close_timeout * 5 / 4, "ended after {waited:?}");
        assert!(matches!(
            ws.flush().await.unwrap_err(),
            Error::Connection(ConnectionError::Timeout(TimeoutKind::Close))
        ));
        drop(peer);
    })
    .await;
}

/// A task that only reads while its output is stuck (the peer pings but reads nothing, and
/// the pongs fit within `max_backpressure`) is cut off by the send timeout as well.
#[tokio::test(start_paused = true)]
async fn reader_with_stuck_output_is_cut_off_by_send_timeout() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .write_buffer_size(16 << 10)
            .max_backpressure(4 << 20)
            .send_timeout(SEND_TIMEOUT)
            .auto_ping(false)
            .idle_timeout(Duration::ZERO)
            .build();
        let (mut ws, peer) = duplex_server_and_raw_client(config, PIPE);
        let RawPeer { tcp, .. } = peer;
        let (_rd, wr) = tokio::io::split(tcp);
        // Enough pings (125 bytes each) to fill the small pipe with pongs, and a
        // bounded number of them, so the pongs stay well within `max_backpressure`.
        let pinger = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            let mut wr = wr;
            for i in 0..2_000u32 {
                let frame = common::client_frame(true, common::OP_PING, &common::ping_payload(i));
                if wr.write_all(&frame).await.is_err() {
                    break;
                }
            }
            wr
        });

        let err = loop {
            match ws.recv().await {
                Some(Ok(Message::Ping(_))) => {}
                Some(Err(e)) => break e,
                other => panic!("unexpected {other:?}"),
            }
        };
        assert!(is_send_timeout(&err), "{err:?}");
        assert!(ws.connection().buffered_output() <= 4 << 20);
        assert!(ws.recv().await.is_none());
        pinger.abort();
    })
    .await;
}

/// Output queued without waiting (`start_send` without `poll_ready`) never grows past
/// `max_backpressure`: the message that would break it is refused with `Backpressure`.
#[tokio::test]
async fn start_send_without_waiting_stops_at_max_backpressure() {
    within(TEST_TIMEOUT, async {
        let (mut ws, _peer) = pair(config(), Some(SOCKET_BUFFER)).await;
        let mut queued = 0u32;
        let err = loop {
            assert!(queued < 10_000, "never refused: the output is unbounded");
            match Pin::new(&mut ws).start_send(Message::binary(vec![3u8; MESSAGE])) {
                Ok(()) => queued += 1,
                Err(e) => break e,
            }
        };
        match err {
            Error::Connection(ConnectionError::Backpressure { buffered, limit }) => {
                assert_eq!(limit, MAX_BACKPRESSURE);
                assert!(buffered <= limit, "{buffered}");
                assert!(buffered + MESSAGE > limit, "{buffered}");
            }
            other => panic!("expected Backpressure, got {other:?}"),
        }
        assert!(ws.connection().buffered_output() <= MAX_BACKPRESSURE + 4);
    })
    .await;
}

/// One message larger than `max_backpressure` still goes out when nothing else is queued.
#[tokio::test]
async fn a_message_larger_than_max_backpressure_is_sent_when_the_output_is_empty() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .max_backpressure(16 << 10)
            .write_buffer_size(16 << 10)
            .build();
        let (mut ws, mut peer) = pair(config, Some(SOCKET_BUFFER)).await;
        let big = vec![5u8; 256 << 10];
        let sender = tokio::spawn(async move {
            ws.send(Message::binary(big)).await.expect("send");
            ws
        });
        let frame = peer.expect_frame().await;
        assert_eq!(frame.payload.len(), 256 << 10);
        drop(sender.await.unwrap());
    })
    .await;
}
