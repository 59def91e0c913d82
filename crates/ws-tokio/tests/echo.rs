//! Echo through `accept` / `connect` over loopback TCP: every payload-length encoding boundary
//! (7-bit, 16-bit, 64-bit) and large messages, text and binary, with either side driving.

mod common;

use std::future::poll_fn;
use std::pin::Pin;

use common::{
    TEST_TIMEOUT, big_config, binary_payload, client_and_server, echo, text_payload, within,
};
use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite};
use ws_tokio::{Config, Message, WebSocketStream};

/// Length boundaries of the frame header plus large messages.
const SIZES: [usize; 8] = [0, 1, 125, 126, 65535, 65536, 1 << 20, 16 << 20];

/// Sends a text and a binary message of every size, each followed by a check of its echo.
async fn drive<S>(ws: &mut WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    for (i, &size) in SIZES.iter().enumerate() {
        let text = text_payload(size, i as u64);
        let binary = binary_payload(size, 100 + i as u64);

        ws.send_text(text.clone()).await.expect("send text");
        match ws.recv().await {
            Some(Ok(Message::Text(echoed))) => {
                assert_eq!(
                    echoed.len(),
                    size,
                    "text echo of {size} bytes: wrong length"
                );
                assert!(*echoed == *text, "text echo of {size} bytes differs");
            }
            other => panic!("text echo of {size} bytes: got {other:?}"),
        }

        ws.send_binary(binary.clone()).await.expect("send binary");
        match ws.recv().await {
            Some(Ok(Message::Binary(echoed))) => {
                assert_eq!(
                    echoed.len(),
                    size,
                    "binary echo of {size} bytes: wrong length"
                );
                assert!(
                    echoed[..] == binary[..],
                    "binary echo of {size} bytes differs"
                );
            }
            other => panic!("binary echo of {size} bytes: got {other:?}"),
        }
    }
}

/// Closes and reads until the stream ends; the peer's reply must be a normal close.
async fn close_and_drain<S>(ws: &mut WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    ws.close(1000u16, "done").await.expect("close");
    match ws.recv().await {
        Some(Ok(Message::Close(Some(reason)))) => assert_eq!(reason.code.0, 1000),
        other => panic!("expected the close reply, got {other:?}"),
    }
    assert!(
        ws.recv().await.is_none(),
        "stream must end after the close handshake"
    );
}

#[tokio::test]
async fn client_drives_server_echoes_every_size() {
    within(TEST_TIMEOUT, async {
        let (mut ws, server) = client_and_server(big_config(32 << 20), echo).await;
        drive(&mut ws).await;
        close_and_drain(&mut ws).await;

        assert_eq!(server.await.unwrap(), 2 * SIZES.len());
    })
    .await;
}

#[tokio::test]
async fn server_drives_client_echoes_every_size() {
    within(TEST_TIMEOUT, async {
        let (ws, server) = client_and_server(big_config(32 << 20), |mut ws| async move {
            drive(&mut ws).await;
            close_and_drain(&mut ws).await;
        })
        .await;
        assert_eq!(echo(ws).await, 2 * SIZES.len());
        server.await.unwrap();
    })
    .await;
}

/// Small `fragment_size` on both ends: every message goes out as many frames whose boundaries
/// cut through multi-byte UTF-8 characters; the receiver reassembles and validates them.
#[tokio::test]
async fn fragmented_messages_are_reassembled() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .fragment_size(1000)
            .max_frame_size(1000)
            .max_message_size(2 << 20)
            .build();
        let (mut ws, server) = client_and_server(config, echo).await;
        for (i, size) in [999, 1000, 1001, 4321, 1 << 20].into_iter().enumerate() {
            let text = text_payload(size, 7 + i as u64);
            ws.send_text(text.clone()).await.unwrap();
            let echoed = ws.recv().await.expect("echo").expect("echo ok");
            assert_eq!(echoed.as_text(), Some(text.as_str()), "size {size}");

            let binary = binary_payload(size, 70 + i as u64);
            ws.send_binary(binary.clone()).await.unwrap();
            let echoed = ws.recv().await.expect("echo").expect("echo ok");
            assert_eq!(echoed, Message::Binary(binary.into()), "size {size}");
        }
        close_and_drain(&mut ws).await;
        assert_eq!(server.await.unwrap(), 10);
    })
    .await;
}

/// The `Sink` and `Stream` impls: many small messages fed without flushing (corked) go out
/// with one flush, and come back in order through `Stream::poll_next`.
#[tokio::test]
async fn sink_and_stream_impls_cork_and_deliver_in_order() {
    within(TEST_TIMEOUT, async {
        let (mut ws, server) = client_and_server(Config::default(), echo).await;

        const N: usize = 1000;
        for i in 0..N {
            poll_fn(|cx| Pin::new(&mut ws).poll_ready(cx))
                .await
                .unwrap();
            let message = if i % 2 == 0 {
                Message::text(format!("message {i}"))
            } else {
                Message::binary(binary_payload(i % 300, i as u64))
            };
            Pin::new(&mut ws).start_send(message).unwrap();
        }
        poll_fn(|cx| Pin::new(&mut ws).poll_flush(cx))
            .await
            .unwrap();
        assert_eq!(
            ws.connection().buffered_output(),
            0,
            "flush wrote everything"
        );

        for i in 0..N {
            let message = poll_fn(|cx| Pin::new(&mut ws).poll_next(cx))
                .await
                .expect("stream ended early")
                .expect("message");
            if i % 2 == 0 {
                assert_eq!(message.as_text(), Some(format!("message {i}").as_str()));
            } else {
                assert_eq!(message.as_payload(), &binary_payload(i % 300, i as u64)[..]);
            }
        }

        // Sink::poll_close sends a 1000 close; the stream then ends.
        poll_fn(|cx| Pin::new(&mut ws).poll_close(cx))
            .await
            .unwrap();
        match ws.recv().await {
            Some(Ok(Message::Close(Some(reason)))) => assert_eq!(reason.code.0, 1000),
            other => panic!("expected the close reply, got {other:?}"),
        }
        assert!(ws.recv().await.is_none());
        assert_eq!(server.await.unwrap(), N);
    })
    .await;
}

/// Sending after the close handshake fails locally, and the stream stays ended.
#[tokio::test]
async fn send_after_close_fails_with_connection_closed() {
    within(TEST_TIMEOUT, async {
        let (mut ws, server) = client_and_server(Config::default(), echo).await;
        close_and_drain(&mut ws).await;
        let err = ws.send_text("too late").await.unwrap_err();
        assert!(
            matches!(
                err,
                ws_tokio::Error::Connection(ws_tokio::ConnectionError::ConnectionClosed)
            ),
            "{err:?}"
        );
        assert_eq!(err.fault(), ws_tokio::Fault::Local);
        assert!(ws.recv().await.is_none());
        assert_eq!(server.await.unwrap(), 0);
    })
    .await;
}
