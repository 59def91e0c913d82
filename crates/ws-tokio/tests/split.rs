//! Split halves: a reader task and a writer task on each end, heavy traffic both ways at once
//! (no lost wake-up, no deadlock, everything in order), and `reunite`.

mod common;

use std::time::Duration;

use common::{
    TEST_TIMEOUT, binary_payload, client_and_server, echo, listener, serve_one, url, within,
};
use tokio::sync::mpsc;
use ws_tokio::{Config, Message};

const N: usize = 10_000;

/// Message `i` of stream `tag`: sizes vary from a few bytes to 8 KiB so that writes are often
/// partial; the content encodes the tag and the index.
fn numbered(tag: u8, i: usize) -> Message {
    let size = match i % 7 {
        0 => 8 << 10,
        1 => 1500,
        _ => 16 + i % 100,
    };
    let mut payload = binary_payload(size, (tag as u64) << 32 | i as u64);
    payload[0] = tag;
    payload[1..9].copy_from_slice(&(i as u64).to_be_bytes());
    if i.is_multiple_of(2) {
        Message::Binary(payload.into())
    } else {
        // Text: hex of the payload, still unique and checkable.
        let text: String = payload
            .iter()
            .take(64)
            .map(|b| format!("{b:02x}"))
            .collect();
        Message::text(format!("{tag}:{i}:{text}"))
    }
}

/// `(tag, index)` of a message made by [`numbered`].
fn identify(message: &Message) -> (u8, usize) {
    match message {
        Message::Binary(b) => {
            let mut index = [0u8; 8];
            index.copy_from_slice(&b[1..9]);
            (b[0], u64::from_be_bytes(index) as usize)
        }
        Message::Text(t) => {
            let mut parts = t.split(':');
            let tag = parts.next().unwrap().parse().unwrap();
            let index = parts.next().unwrap().parse().unwrap();
            (tag, index)
        }
        other => panic!("unexpected {other:?}"),
    }
}

const CLIENT: u8 = b'c';
const SERVER: u8 = b's';

/// Both ends split. The client's writer sends N messages while the server echoes each one and
/// interleaves N messages of its own; the client's reader checks both sequences, in order and
/// intact: 2N messages in, N out, both directions busy at the same time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heavy_traffic_both_ways_through_split_halves() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder().write_buffer_size(16 << 10).build();
        let (listener, addr) = listener().await;
        let server = serve_one(listener, config.clone(), |ws| async move {
            let (mut reader, mut writer) = ws.split();
            let (echo_tx, mut echo_rx) = mpsc::unbounded_channel();
            let reading = tokio::spawn(async move {
                let mut count = 0;
                while let Some(message) = reader.recv().await {
                    match message.expect("server recv") {
                        Message::Close(_) => {}
                        m => {
                            let _ = echo_tx.send(m);
                            count += 1;
                        }
                    }
                }
                count
            });
            let writing = tokio::spawn(async move {
                let mut own = 0;
                let mut echoed = 0;
                // No `select!` over `send` futures: a send dropped after it queued its message
                // (as `select!` drops the losing branch) would leave it queued, and sending it
                // again would duplicate it. Echoes go first whenever one is waiting.
                while own < N || echoed < N {
                    let message = match echo_rx.try_recv() {
                        Ok(m) => {
                            echoed += 1;
                            m
                        }
                        Err(_) if own < N => {
                            own += 1;
                            numbered(SERVER, own - 1)
                        }
                        Err(_) => {
                            echoed += 1;
                            echo_rx.recv().await.expect("echo channel")
                        }
                    };
                    writer.send(message).await.expect("server send");
                }
                writer
            });
            let writer = writing.await.unwrap();
            let received = reading.await.unwrap();
            (received, writer)
        });

        let ws = ws_tokio::connect(&url(addr, "/"), config).await.unwrap();
        let (mut reader, mut writer) = ws.split();
        let writing = tokio::spawn(async move {
            for i in 0..N {
                writer.send(numbered(CLIENT, i)).await.expect("client send");
            }
            writer
        });
        let reading = tokio::spawn(async move {
            let mut next = [0usize; 2];
            while next[0] < N || next[1] < N {
                let message = reader
                    .recv()
                    .await
                    .expect("stream ended early")
                    .expect("client recv");
                let (tag, index) = identify(&message);
                let slot = usize::from(tag == SERVER);
                assert_eq!(index, next[slot], "stream {} out of order", tag as char);
                assert_eq!(message, numbered(tag, index), "message {index} corrupted");
                next[slot] += 1;
            }
            reader
        });

        let mut writer = writing.await.unwrap();
        let mut reader = reading.await.unwrap();
        writer.close(1000u16, "").await.unwrap();
        assert!(matches!(reader.recv().await, Some(Ok(Message::Close(_)))));
        assert!(reader.recv().await.is_none());
        let (received, _) = server.await.unwrap();
        assert_eq!(received, N);
    })
    .await;
}

/// The writer flushes a large message while the reader receives: the two halves use the same
/// socket at once, and a pong the reader owes goes out between the writer's messages.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reader_answers_pings_while_the_writer_is_busy() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let server = serve_one(listener, common::big_config(8 << 20), |mut ws| async move {
            // Ping, then read the client's big messages until the pong arrives.
            ws.ping(&b"while busy"[..]).await.unwrap();
            let mut big = 0;
            loop {
                match ws.recv().await.unwrap().unwrap() {
                    Message::Pong(p) => {
                        assert_eq!(&p[..], b"while busy");
                        break;
                    }
                    Message::Binary(b) => {
                        assert_eq!(b.len(), 1 << 20);
                        big += 1;
                    }
                    other => panic!("unexpected {other:?}"),
                }
            }
            // Drain the rest, then answer the close.
            while let Some(m) = ws.recv().await {
                if let Message::Binary(_) = m.unwrap() {
                    big += 1;
                }
            }
            big
        });

        let ws = ws_tokio::connect(&url(addr, "/"), common::big_config(8 << 20))
            .await
            .unwrap();
        let (mut reader, mut writer) = ws.split();
        let writing = tokio::spawn(async move {
            for i in 0..20 {
                writer
                    .send_binary(binary_payload(1 << 20, i))
                    .await
                    .expect("send");
            }
            writer
        });
        let ping = reader.recv().await.unwrap().unwrap();
        assert_eq!(ping, Message::ping(&b"while busy"[..]));
        let mut writer = writing.await.unwrap();
        writer.close(1000u16, "").await.unwrap();
        while let Some(m) = reader.recv().await {
            m.unwrap();
        }
        assert_eq!(server.await.unwrap(), 20);
    })
    .await;
}

#[tokio::test]
async fn reunite_gives_back_a_working_stream() {
    within(TEST_TIMEOUT, async {
        let (ws, server) = client_and_server(Config::default(), echo).await;

        let (mut reader, mut writer) = ws.split();
        writer.send_text("before").await.unwrap();
        assert_eq!(
            reader.recv().await.unwrap().unwrap(),
            Message::text("before")
        );

        let mut ws = ws_tokio::reunite(reader, writer).expect("halves of one stream");
        ws.send_text("after").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("after"));

        // And once more, split again.
        let (mut reader, mut writer) = ws.split();
        writer.send_binary(vec![1u8, 2, 3]).await.unwrap();
        assert_eq!(
            reader.recv().await.unwrap().unwrap(),
            Message::binary(vec![1u8, 2, 3])
        );
        let mut ws = ws_tokio::reunite(reader, writer).unwrap();
        ws.close(1000u16, "").await.unwrap();
        assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
        assert!(ws.recv().await.is_none());
        assert_eq!(server.await.unwrap(), 3);
    })
    .await;
}

/// The writer half corks with `feed` (nothing goes out until the flush) and pings; the reader
/// receives the echoes in order and the pong.
#[tokio::test]
async fn split_writer_feeds_and_pings() {
    within(TEST_TIMEOUT, async {
        let (ws, server) = client_and_server(Config::default(), echo).await;
        let (mut reader, mut writer) = ws.split();
        for i in 0..3 {
            writer.feed(format!("corked {i}")).await.unwrap();
        }
        writer.ping(&b"are you there"[..]).await.unwrap();
        for i in 0..3 {
            let m = reader.recv().await.unwrap().unwrap();
            assert_eq!(m.to_text().unwrap(), format!("corked {i}"));
        }
        let pong = reader.recv().await.unwrap().unwrap();
        assert!(pong.is_pong(), "{pong:?}");
        assert_eq!(pong.into_data(), &b"are you there"[..]);
        writer.close(1000u16, "").await.unwrap();
        assert!(reader.recv().await.unwrap().unwrap().is_close());
        assert!(reader.recv().await.is_none());
        assert_eq!(server.await.unwrap(), 3);
    })
    .await;
}

#[tokio::test]
async fn reuniting_halves_of_different_streams_fails() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let mut counts = Vec::new();
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                let ws = ws_tokio::accept(tcp, Config::default()).await.unwrap();
                counts.push(tokio::spawn(echo(ws)));
            }
            let mut total = 0;
            for c in counts {
                total += c.await.unwrap();
            }
            total
        });
        let a = ws_tokio::connect(&url(addr, "/a"), Config::default())
            .await
            .unwrap();
        let b = ws_tokio::connect(&url(addr, "/b"), Config::default())
            .await
            .unwrap();
        let (reader_a, writer_a) = a.split();
        let (reader_b, writer_b) = b.split();

        let err = ws_tokio::reunite(reader_a, writer_b).expect_err("different streams");
        assert!(err.to_string().contains("different"), "{err}");
        let ws_tokio::ReuniteError(reader_a, writer_b) = err;

        // The halves handed back still work and reunite with their own partners.
        let mut a = ws_tokio::reunite(reader_a, writer_a).expect("a");
        let mut b = ws_tokio::reunite(reader_b, writer_b).expect("b");
        for (ws, text) in [(&mut a, "to a"), (&mut b, "to b")] {
            ws.send_text(text).await.unwrap();
            assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(text));
            ws.close(1000u16, "").await.unwrap();
            assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
            assert!(ws.recv().await.is_none());
        }
        assert_eq!(server.await.unwrap(), 2);
    })
    .await;
}

/// After the reader saw the close handshake end, the writer reports `ConnectionClosed`
/// instead of waiting.
#[tokio::test]
async fn writer_fails_fast_after_the_connection_closed() {
    within(TEST_TIMEOUT, async {
        let (ws, server) = client_and_server(Config::default(), |mut ws| async move {
            ws.close(1000u16, "server done").await.unwrap();
            while ws.recv().await.is_some() {}
        })
        .await;
        let (mut reader, mut writer) = ws.split();
        assert!(matches!(reader.recv().await, Some(Ok(Message::Close(_)))));
        assert!(reader.recv().await.is_none());
        assert!(writer.is_closed());
        let err = tokio::time::timeout(Duration::from_secs(2), writer.send_text("late"))
            .await
            .expect("no wait")
            .unwrap_err();
        assert!(
            matches!(
                err,
                ws_tokio::Error::Connection(ws_tokio::ConnectionError::ConnectionClosed)
            ),
            "{err:?}"
        );
        server.await.unwrap();
    })
    .await;
}
