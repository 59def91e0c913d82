//! A `WebSocketStream` whose transport is itself driven by another `WebSocketStream` on the same
//! thread (a tunnel, a proxy, a test harness). Reading the outer stream reads the inner one
//! from inside the outer one's read; the per-thread read probe is then already in use, and the
//! inner read must fall back to its own buffer instead of panicking ("already borrowed").

mod common;

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use common::{TEST_TIMEOUT, duplex_pair, within};
use futures_core::Stream;
use futures_sink::Sink;
use tokio::io::{AsyncRead, AsyncWrite, DuplexStream, ReadBuf};
use ws_tokio::{Config, Message, WebSocketStream};

/// A byte stream carried in the binary messages of a WebSocket: each write is one message.
struct Tunnel {
    ws: WebSocketStream<DuplexStream>,
    /// What the last message brought that the reader has not taken yet.
    pending: Bytes,
}

impl Tunnel {
    fn new(ws: WebSocketStream<DuplexStream>) -> Self {
        Tunnel {
            ws,
            pending: Bytes::new(),
        }
    }
}

fn to_io(e: ws_tokio::Error) -> io::Error {
    io::Error::other(e)
}

impl AsyncRead for Tunnel {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.pending.is_empty() {
            match ready!(Pin::new(&mut self.ws).poll_next(cx)) {
                Some(Ok(Message::Binary(data))) => self.pending = data,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Poll::Ready(Err(to_io(e))),
                None => return Poll::Ready(Ok(())),
            }
        }
        let n = self.pending.len().min(buf.remaining());
        buf.put_slice(&self.pending.split_to(n));
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Tunnel {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let ws = Pin::new(&mut self.ws);
        ready!(Sink::<Message>::poll_ready(ws, cx)).map_err(to_io)?;
        Sink::start_send(
            Pin::new(&mut self.ws),
            Message::Binary(Bytes::copy_from_slice(data)),
        )
        .map_err(to_io)?;
        Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Sink::<Message>::poll_flush(Pin::new(&mut self.ws), cx).map_err(to_io)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Sink::<Message>::poll_close(Pin::new(&mut self.ws), cx).map_err(to_io)
    }
}

/// The regression test: on one thread, messages go both ways through a WebSocket carried inside
/// another WebSocket. The outer streams are new (they hold no read buffer), so every outer read
/// takes the per-thread probe and then reads the inner stream through it.
#[tokio::test(flavor = "current_thread")]
async fn a_stream_nested_in_a_stream_on_one_thread_does_not_panic() {
    within(TEST_TIMEOUT, async {
        let config = Config::default();
        let (inner_client, inner_server) = duplex_pair(config.clone(), 64 << 10);
        let mut outer_client = WebSocketStream::client(Tunnel::new(inner_client), config.clone());
        let mut outer_server = WebSocketStream::server(Tunnel::new(inner_server), config);

        for round in 0..50u32 {
            let text = format!("round {round}");
            outer_client
                .send(Message::text(text.clone()))
                .await
                .unwrap();
            let got = outer_server.recv().await.expect("a message").unwrap();
            assert_eq!(got, Message::text(text.clone()));
            // Large enough to need more than one probe-sized read on the way back.
            let payload = vec![round as u8; 5000];
            outer_server
                .send(Message::binary(payload.clone()))
                .await
                .unwrap();
            let got = outer_client.recv().await.expect("a message").unwrap();
            assert_eq!(got, Message::binary(payload));
        }

        outer_client.close(1000u16, "done").await.unwrap();
        match outer_server.recv().await {
            Some(Ok(Message::Close(Some(reason)))) => assert_eq!(u16::from(reason.code), 1000),
            other => panic!("expected the close, got {other:?}"),
        }
    })
    .await;
}
