//! The `now` ws-tokio reports on sends: the timer's last fire, except when a send is about to
//! fail, which then starts the close deadline at the current time (virtual time here).

use std::pin::Pin;
use std::time::Duration;

use futures_sink::Sink;
use ws_tokio::{Config, ConnectionError, Error, Message, WebSocketStream};

#[tokio::test(start_paused = true)]
async fn a_send_failing_with_backpressure_starts_the_close_deadline_now() {
    // No timer at all: the stream's idea of the time stays at its start unless it reads the
    // clock.
    let close_timeout = Duration::from_secs(5);
    let config = Config::builder()
        .idle_timeout(Duration::ZERO)
        .auto_ping(false)
        .send_timeout(Duration::ZERO)
        .max_backpressure(1000)
        .close_timeout(close_timeout)
        .build();
    let (io, _peer) = tokio::io::duplex(64);
    let mut ws = WebSocketStream::server(io, config);
    assert_eq!(ws.next_deadline(), None);

    tokio::time::advance(Duration::from_secs(3600)).await;
    // Queued without waiting for room (`start_send` without `poll_ready`): the second message
    // takes the output past `max_backpressure`.
    Pin::new(&mut ws)
        .start_send(Message::binary(vec![0u8; 800]))
        .unwrap();
    let err = Pin::new(&mut ws)
        .start_send(Message::binary(vec![0u8; 800]))
        .unwrap_err();
    assert!(
        matches!(err, Error::Connection(ConnectionError::Backpressure { .. })),
        "{err:?}"
    );
    let now = tokio::time::Instant::now().into_std();
    assert_eq!(ws.next_deadline(), Some(now + close_timeout));
}

#[tokio::test(start_paused = true)]
async fn a_close_starts_its_deadline_now() {
    let close_timeout = Duration::from_secs(5);
    let config = Config::builder()
        .idle_timeout(Duration::ZERO)
        .auto_ping(false)
        .close_timeout(close_timeout)
        .build();
    let (io, mut peer) = tokio::io::duplex(4096);
    let mut ws = WebSocketStream::server(io, config);
    tokio::time::advance(Duration::from_secs(3600)).await;
    ws.close(1000u16, "").await.unwrap();
    let now = tokio::time::Instant::now().into_std();
    assert_eq!(ws.next_deadline(), Some(now + close_timeout));
    let mut frame = [0u8; 4];
    tokio::io::AsyncReadExt::read_exact(&mut peer, &mut frame)
        .await
        .unwrap();
    assert_eq!(frame, [0x88, 0x02, 0x03, 0xe8]);
}
