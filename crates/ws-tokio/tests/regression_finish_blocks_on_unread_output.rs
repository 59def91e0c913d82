//! Regression: after the connection failed (backpressure, idle or pong timeout), the next
//! `recv()` "finishes closing the transport and returns `None`". Finishing meant writing out
//! everything still queued, with no deadline: against a peer that never reads (exactly the peer
//! that causes these failures) `recv()` stayed pending forever and the connection leaked.
//! Writing out what is queued is now bounded by `close_timeout`, like the rest of the close.
//!
//! The backpressure case floods pings over TCP with shrunken socket buffers, in real time. The
//! timeout cases run over an in-memory pipe of 4 KiB each way that the peer never reads, in
//! virtual time (tokio's paused clock), so "within `close_timeout`" is checked exactly.

mod common;

use std::time::Duration;

use common::{TEST_TIMEOUT, duplex_server_and_raw_client, flood_pings, pair, within};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;
use ws_proto::TimeoutKind;
use ws_tokio::{Config, ConnectionError, Error, Message, WebSocketStream};

const CLOSE_TIMEOUT: Duration = Duration::from_millis(300);
/// Scheduling slack on a loaded machine, in real time.
const SLACK: Duration = Duration::from_secs(3);
/// The bound in virtual time: 5/4 of the close timeout.
const VIRTUAL_LIMIT: Duration = Duration::from_millis(375);
/// Bytes the pipe holds each way in the cases in virtual time: like the 4 KiB socket buffers.
const PIPE: usize = 4096;

/// Fills the socket buffers and the output queue: feeds until a feed waits. The timers run
/// while a feed waits, so a deadline may fire there: that error is returned.
async fn fill_output<S>(ws: &mut WebSocketStream<S>) -> Option<Error>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    for _ in 0..10_000 {
        let feed = ws.feed(Message::binary(vec![7u8; 4096]));
        match tokio::time::timeout(Duration::from_millis(100), feed).await {
            Err(_waited) => {
                assert!(ws.connection().buffered_output() > 0);
                return None;
            }
            Ok(Err(e)) => return Some(e),
            Ok(Ok(())) => {}
        }
    }
    panic!("feed never waited");
}

/// The failure, whether a waiting feed saw it first or `recv` does: `recv` reports it either
/// way (once), so that a reading task learns why the connection ended.
async fn failure<S>(ws: &mut WebSocketStream<S>, seen_by_feed: Option<Error>) -> Error
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let err = ws.recv().await.expect("an error").unwrap_err();
    if let Some(fed) = seen_by_feed {
        assert_eq!(fed.to_string(), err.to_string());
    }
    err
}

/// After the error, the stream must end within the close timeout (`limit`: plus the slack the
/// clock needs) although the peer reads nothing and the output cannot be written.
async fn assert_ends_in_time<S>(ws: &mut WebSocketStream<S>, limit: Duration)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let start = Instant::now();
    let end = tokio::time::timeout(limit, ws.recv()).await;
    assert!(
        matches!(end, Ok(None)),
        "the stream did not end within close_timeout after the failure: {end:?} after {:?}",
        start.elapsed()
    );
    assert!(ws.recv().await.is_none(), "the stream stays ended");
}

#[tokio::test]
async fn backpressure_failure_ends_although_the_peer_never_reads() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .write_buffer_size(4 << 10)
            .max_backpressure(16 << 10)
            .auto_ping(false)
            .idle_timeout(Duration::ZERO)
            .close_timeout(CLOSE_TIMEOUT)
            .build();
        let (mut ws, peer) = pair(config, Some(4096)).await;
        let (_rd, wr) = peer.tcp.into_split();
        let flood = tokio::spawn(flood_pings(wr));

        let err = loop {
            match ws.recv().await.expect("stream ended before the failure") {
                Ok(Message::Ping(_)) => {}
                Ok(other) => panic!("unexpected {other:?}"),
                Err(e) => break e,
            }
        };
        assert!(
            matches!(err, Error::Connection(ConnectionError::Backpressure { .. })),
            "{err:?}"
        );
        assert_ends_in_time(&mut ws, CLOSE_TIMEOUT + SLACK).await;
        flood.abort();
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn idle_timeout_ends_although_the_peer_never_reads() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .write_buffer_size(4 << 10)
            .auto_ping(false)
            .idle_timeout(Duration::from_millis(200))
            .close_timeout(CLOSE_TIMEOUT)
            .build();
        let (mut ws, _peer) = duplex_server_and_raw_client(config, PIPE);
        let fed = fill_output(&mut ws).await;

        let err = failure(&mut ws, fed).await;
        assert!(
            matches!(
                err,
                Error::Connection(ConnectionError::Timeout(TimeoutKind::Idle))
            ),
            "{err:?}"
        );
        assert_ends_in_time(&mut ws, VIRTUAL_LIMIT).await;
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn pong_timeout_ends_although_the_peer_never_reads() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .write_buffer_size(4 << 10)
            .auto_ping(true)
            .ping_interval(Duration::from_millis(100))
            .pong_timeout(Duration::from_millis(100))
            .idle_timeout(Duration::ZERO)
            .close_timeout(CLOSE_TIMEOUT)
            .build();
        let (mut ws, _peer) = duplex_server_and_raw_client(config, PIPE);
        let fed = fill_output(&mut ws).await;

        let err = failure(&mut ws, fed).await;
        assert!(
            matches!(
                err,
                Error::Connection(ConnectionError::Timeout(TimeoutKind::Pong))
            ),
            "{err:?}"
        );
        assert_ends_in_time(&mut ws, VIRTUAL_LIMIT).await;
    })
    .await;
}

/// The same through a split reader, whose writes park on the shared waker.
#[tokio::test(start_paused = true)]
async fn split_reader_ends_although_the_peer_never_reads() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .write_buffer_size(4 << 10)
            .auto_ping(false)
            .idle_timeout(Duration::from_millis(200))
            .close_timeout(CLOSE_TIMEOUT)
            .build();
        let (mut ws, _peer) = duplex_server_and_raw_client(config, PIPE);
        let fed = fill_output(&mut ws).await;
        let (mut reader, _writer) = ws.split();

        let err = reader.recv().await.expect("an error").unwrap_err();
        if let Some(fed) = fed {
            assert_eq!(fed.to_string(), err.to_string());
        }
        assert!(
            matches!(
                err,
                Error::Connection(ConnectionError::Timeout(TimeoutKind::Idle))
            ),
            "{err:?}"
        );
        let end = tokio::time::timeout(VIRTUAL_LIMIT, reader.recv()).await;
        assert!(matches!(end, Ok(None)), "split reader did not end: {end:?}");
    })
    .await;
}
