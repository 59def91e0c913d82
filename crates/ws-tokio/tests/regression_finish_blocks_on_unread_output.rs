//! Regression: after the connection failed (backpressure, idle or pong timeout), the next
//! `recv()` "finishes closing the transport and returns `None`". Finishing meant writing out
//! everything still queued, with no deadline: against a peer that never reads (exactly the peer
//! that causes these failures) `recv()` stayed pending forever and the connection leaked.
//! Writing out what is queued is now bounded by `close_timeout`, like the rest of the close.

mod common;

use std::time::{Duration, Instant};

use common::{TEST_TIMEOUT, flood_pings, pair, within};
use tokio::net::TcpStream;
use ws_proto::TimeoutKind;
use ws_tokio::{Config, Error, Message, WebSocketStream};

const CLOSE_TIMEOUT: Duration = Duration::from_millis(300);
/// Scheduling slack on a loaded machine.
const SLACK: Duration = Duration::from_secs(3);

/// Fills the socket buffers and the output queue: feeds until a feed waits. The timers run
/// while a feed waits, so a deadline may fire there: that error is returned.
async fn fill_output(ws: &mut WebSocketStream<TcpStream>) -> Option<Error> {
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
async fn failure(ws: &mut WebSocketStream<TcpStream>, seen_by_feed: Option<Error>) -> Error {
    let err = ws.recv().await.expect("an error").unwrap_err();
    if let Some(fed) = seen_by_feed {
        assert_eq!(fed.to_string(), err.to_string());
    }
    err
}

/// After the error, the stream must end within the close timeout although the peer reads
/// nothing and the output cannot be written.
async fn assert_ends_in_time(ws: &mut WebSocketStream<TcpStream>) {
    let start = Instant::now();
    let end = tokio::time::timeout(CLOSE_TIMEOUT + SLACK, ws.recv()).await;
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
        assert!(matches!(err, Error::Backpressure { .. }), "{err:?}");
        assert_ends_in_time(&mut ws).await;
        flood.abort();
    })
    .await;
}

#[tokio::test]
async fn idle_timeout_ends_although_the_peer_never_reads() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .write_buffer_size(4 << 10)
            .auto_ping(false)
            .idle_timeout(Duration::from_millis(200))
            .close_timeout(CLOSE_TIMEOUT)
            .build();
        let (mut ws, _peer) = pair(config, Some(4096)).await;
        let fed = fill_output(&mut ws).await;

        let err = failure(&mut ws, fed).await;
        assert!(matches!(err, Error::Timeout(TimeoutKind::Idle)), "{err:?}");
        assert_ends_in_time(&mut ws).await;
    })
    .await;
}

#[tokio::test]
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
        let (mut ws, _peer) = pair(config, Some(4096)).await;
        let fed = fill_output(&mut ws).await;

        let err = failure(&mut ws, fed).await;
        assert!(matches!(err, Error::Timeout(TimeoutKind::Pong)), "{err:?}");
        assert_ends_in_time(&mut ws).await;
    })
    .await;
}

/// The same through a split reader, whose writes park on the shared waker.
#[tokio::test]
async fn split_reader_ends_although_the_peer_never_reads() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .write_buffer_size(4 << 10)
            .auto_ping(false)
            .idle_timeout(Duration::from_millis(200))
            .close_timeout(CLOSE_TIMEOUT)
            .build();
        let (mut ws, _peer) = pair(config, Some(4096)).await;
        let fed = fill_output(&mut ws).await;
        let (mut reader, _writer) = ws.split();

        let err = reader.recv().await.expect("an error").unwrap_err();
        if let Some(fed) = fed {
            assert_eq!(fed.to_string(), err.to_string());
        }
        assert!(matches!(err, Error::Timeout(TimeoutKind::Idle)), "{err:?}");
        let end = tokio::time::timeout(CLOSE_TIMEOUT + SLACK, reader.recv()).await;
        assert!(matches!(end, Ok(None)), "split reader did not end: {end:?}");
    })
    .await;
}
