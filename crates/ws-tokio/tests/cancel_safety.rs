//! Cancel safety, after tokio-websockets' `tests/cancellation_safety.rs`, over real TCP:
//! futures raced against a short timer in `tokio::select!` and dropped mid-read or mid-write
//! must not lose, duplicate, reorder or tear anything.
//!
//! - `recv()` against a peer that trickles its frames one byte at a time: every message arrives
//!   whole, although most `recv()` futures are dropped halfway through a frame.
//! - `send()` / `feed()` / `flush()` against a peer that reads slowly through small socket
//!   buffers: what was queued arrives intact and in order, and we know exactly what was
//!   queued: `send` queues in its first poll when there is room, and `feed` queues exactly
//!   when it returns `Ok`.

mod common;

use std::time::Duration;

use common::{
    Frame, OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RawPeer, TEST_TIMEOUT,
    binary_payload, client_frame, close_payload, pair, parse_frame, within,
};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use ws_tokio::{Config, Message, WebSocketStream};

/// Races `fut` against a timer of `micros`; `None` if the timer won (the future is dropped).
macro_rules! race {
    ($fut:expr, $micros:expr) => {
        tokio::select! {
            biased;
            out = $fut => Some(out),
            _ = tokio::time::sleep(Duration::from_micros($micros)) => None,
        }
    };
}

#[tokio::test]
async fn recv_raced_against_a_timer_loses_nothing() {
    within(TEST_TIMEOUT, async {
        let (mut ws, mut peer) = pair(Config::default(), None).await;

        // The script: every length encoding, text split through a multi-byte character, a
        // ping between fragments, an empty message.
        let big_text = common::text_payload(200, 1);
        let mid_binary = binary_payload(130, 2);
        let mut script = Vec::new();
        script.extend(client_frame(true, OP_TEXT, "héllo".as_bytes()));
        script.extend(client_frame(true, OP_BINARY, &mid_binary));
        script.extend(client_frame(false, OP_TEXT, &"€uro".as_bytes()[..2]));
        script.extend(client_frame(true, OP_PING, b"p"));
        script.extend(client_frame(true, OP_CONT, &"€uro".as_bytes()[2..]));
        script.extend(client_frame(true, OP_TEXT, big_text.as_bytes()));
        script.extend(client_frame(true, OP_BINARY, b""));
        script.extend(client_frame(true, OP_TEXT, "last".as_bytes()));
        let expected = vec![
            Message::text("héllo"),
            Message::binary(mid_binary),
            Message::ping(&b"p"[..]),
            Message::text("€uro"),
            Message::text(big_text),
            Message::binary(Vec::new()),
            Message::text("last"),
        ];

        let trickler = tokio::spawn(async move {
            for byte in script {
                peer.write(&[byte]).await;
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            peer
        });

        let mut received = Vec::new();
        let mut cancelled = 0;
        while received.len() < expected.len() {
            assert!(cancelled < 100_000, "no progress");
            match race!(ws.recv(), 300) {
                Some(item) => received.push(item.expect("stream ended").expect("recv")),
                None => cancelled += 1,
            }
        }
        assert_eq!(received, expected);
        assert!(
            cancelled > 100,
            "only {cancelled} recv futures were cancelled"
        );

        // The pong for the ping went out whole, too.
        let mut peer = trickler.await.unwrap();
        let pong = peer.expect_frame().await;
        assert_eq!((pong.opcode, &pong.payload[..]), (OP_PONG, &b"p"[..]));
    })
    .await;
}

/// Message `i`: its index in the first four bytes; sizes from 4 bytes to ~20 KiB.
fn message(i: u32) -> Vec<u8> {
    let size = 4 + (i as usize * 7919) % 20_000;
    let mut m = binary_payload(size, i as u64);
    m[..4].copy_from_slice(&i.to_be_bytes());
    m
}

/// Reads slowly (at most 4 KiB a millisecond) until the close frame, answers it, and returns
/// the data frames. Any torn frame shows up as a bad opcode, length or payload.
async fn read_slowly(mut peer: RawPeer) -> Vec<Frame> {
    let mut frames = Vec::new();
    let mut chunk = vec![0u8; 4096];
    loop {
        while let Some((frame, used)) = parse_frame(&peer.buf) {
            peer.buf.drain(..used);
            assert!(!frame.masked, "server frames are not masked");
            if frame.opcode == OP_CLOSE {
                peer.send(true, OP_CLOSE, &close_payload(1000, "")).await;
                return frames;
            }
            frames.push(frame);
        }
        let n = peer.tcp.read(&mut chunk).await.expect("read");
        assert!(n > 0, "EOF before the close frame");
        peer.buf.extend_from_slice(&chunk[..n]);
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Checks that `frames` are exactly the messages `ids`, in order and intact.
fn check_frames(frames: &[Frame], ids: &[u32]) {
    let got: Vec<u32> = frames
        .iter()
        .map(|f| u32::from_be_bytes(f.payload[..4].try_into().unwrap()))
        .collect();
    assert_eq!(got, ids, "wrong messages or order");
    for (frame, &id) in frames.iter().zip(ids) {
        assert_eq!((frame.fin, frame.opcode), (true, OP_BINARY));
        assert!(
            frame.payload == message(id),
            "message {id} torn or corrupted"
        );
    }
}

async fn close_cleanly(ws: &mut WebSocketStream<TcpStream>) {
    ws.close(1000u16, "").await.unwrap();
    loop {
        match ws.recv().await {
            Some(Ok(Message::Close(_))) => {}
            Some(other) => panic!("unexpected {other:?}"),
            None => break,
        }
    }
}

/// With room in the output buffer, `send` queues its message in its first poll (the race is
/// biased to poll it first), so a send cancelled while flushing still goes out: every message
/// must arrive, whole and in order.
#[tokio::test]
async fn cancelled_sends_are_queued_whole() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .write_buffer_size(64 << 20)
            .max_backpressure(64 << 20)
            .build();
        let (mut ws, peer) = pair(config, Some(4096)).await;
        let reader = tokio::spawn(read_slowly(peer));

        const N: u32 = 300;
        let mut cancelled = 0;
        for i in 0..N {
            if race!(ws.send(Message::binary(message(i))), 500).is_none() {
                cancelled += 1;
            }
        }
        assert!(
            cancelled > 0,
            "no send was cancelled: the test proves nothing"
        );
        // What the cancelled flushes left behind goes out with this one.
        ws.flush().await.unwrap();
        close_cleanly(&mut ws).await;

        let ids: Vec<u32> = (0..N).collect();
        check_frames(&reader.await.unwrap(), &ids);
    })
    .await;
}

/// With a small `write_buffer_size`, `feed` waits for room; a cancelled `feed` queued
/// nothing, a completed one queued its message. Flushes are raced too. Exactly the messages
/// whose `feed` returned arrive, in order, whole.
#[tokio::test]
async fn cancelled_feeds_queue_nothing_and_flushes_lose_nothing() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .write_buffer_size(8 << 10)
            .max_backpressure(1 << 20)
            .build();
        let (mut ws, peer) = pair(config, Some(4096)).await;
        let reader = tokio::spawn(read_slowly(peer));

        const N: u32 = 300;
        let mut queued = Vec::new();
        let mut flushes_cancelled = 0;
        for i in 0..N {
            if let Some(result) = race!(ws.feed(Message::binary(message(i))), 500) {
                result.unwrap();
                queued.push(i);
            }
            if i % 5 == 0 && race!(ws.flush(), 200).is_none() {
                flushes_cancelled += 1;
            }
        }
        assert!(
            queued.len() < N as usize,
            "no feed was cancelled: the test proves nothing"
        );
        assert!(!queued.is_empty());
        assert!(flushes_cancelled > 0, "no flush was cancelled");
        ws.flush().await.unwrap();
        close_cleanly(&mut ws).await;

        check_frames(&reader.await.unwrap(), &queued);
    })
    .await;
}

/// `send` with a small `write_buffer_size` may be cancelled before or after queueing. What
/// arrives is then, in order and whole, every message whose `send` completed plus some of the
/// cancelled ones; never a torn or repeated one.
#[tokio::test]
async fn cancelled_sends_with_little_room_never_tear() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .write_buffer_size(8 << 10)
            .max_backpressure(1 << 20)
            .build();
        let (mut ws, peer) = pair(config, Some(4096)).await;
        let reader = tokio::spawn(read_slowly(peer));

        const N: u32 = 300;
        let mut completed = Vec::new();
        for i in 0..N {
            if let Some(result) = race!(ws.send(Message::binary(message(i))), 500) {
                result.unwrap();
                completed.push(i);
            }
        }
        assert!(completed.len() < N as usize, "no send was cancelled");
        ws.flush().await.unwrap();
        close_cleanly(&mut ws).await;

        let frames = reader.await.unwrap();
        let got: Vec<u32> = frames
            .iter()
            .map(|f| u32::from_be_bytes(f.payload[..4].try_into().unwrap()))
            .collect();
        assert!(
            got.windows(2).all(|w| w[0] < w[1]),
            "reordered or repeated: {got:?}"
        );
        for id in &completed {
            assert!(got.contains(id), "completed send {id} lost");
        }
        check_frames(&frames, &got);
    })
    .await;
}

/// The same for a `SplitWriter` while its reader runs in another task.
#[tokio::test]
async fn cancelled_split_writer_sends_are_queued_whole() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .write_buffer_size(64 << 20)
            .max_backpressure(64 << 20)
            .build();
        let (ws, peer) = pair(config, Some(4096)).await;
        let peer_task = tokio::spawn(read_slowly(peer));
        let (mut reader, mut writer) = ws.split();
        let reading = tokio::spawn(async move {
            let mut items = Vec::new();
            while let Some(item) = reader.recv().await {
                items.push(item.expect("reader"));
            }
            items
        });

        const N: u32 = 300;
        let mut cancelled = 0;
        for i in 0..N {
            if race!(writer.send(Message::binary(message(i))), 500).is_none() {
                cancelled += 1;
            }
        }
        assert!(cancelled > 0, "no send was cancelled");
        writer.flush().await.unwrap();
        writer.close(1000u16, "").await.unwrap();

        let items = reading.await.unwrap();
        assert!(matches!(items[..], [Message::Close(_)]), "{items:?}");
        let ids: Vec<u32> = (0..N).collect();
        check_frames(&peer_task.await.unwrap(), &ids);
    })
    .await;
}

/// A `close()` raced against a timer still sends exactly one close frame.
#[tokio::test]
async fn cancelled_close_still_closes_once() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .write_buffer_size(64 << 20)
            .max_backpressure(64 << 20)
            .build();
        let (mut ws, peer) = pair(config, Some(4096)).await;
        let reader = tokio::spawn(async move {
            let mut peer = peer;
            let mut frames = Vec::new();
            let mut chunk = vec![0u8; 4096];
            // Read slowly until EOF; count close frames.
            loop {
                while let Some((frame, used)) = parse_frame(&peer.buf) {
                    peer.buf.drain(..used);
                    if frame.opcode == OP_CLOSE {
                        peer.send(true, OP_CLOSE, &close_payload(1000, "")).await;
                    }
                    frames.push(frame);
                }
                let n = peer.tcp.read(&mut chunk).await.expect("read");
                if n == 0 {
                    return frames;
                }
                peer.buf.extend_from_slice(&chunk[..n]);
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        });

        // Enough output that the close frame waits behind it.
        for i in 0..50 {
            ws.feed(Message::binary(message(i))).await.unwrap();
        }
        let mut attempts = 0;
        while race!(ws.close(1000u16, "bye"), 500).is_none() {
            attempts += 1;
            assert!(attempts < 100_000);
        }
        assert!(attempts > 0, "close was never cancelled");
        loop {
            match ws.recv().await {
                Some(Ok(Message::Close(_))) => {}
                Some(other) => panic!("unexpected {other:?}"),
                None => break,
            }
        }

        let frames = reader.await.unwrap();
        let closes = frames.iter().filter(|f| f.opcode == OP_CLOSE).count();
        assert_eq!(closes, 1, "exactly one close frame");
        assert_eq!(frames.last().unwrap().close_code(), Some(1000));
        assert_eq!(&frames.last().unwrap().payload[2..], b"bye");
        let ids: Vec<u32> = (0..50).collect();
        check_frames(&frames[..50], &ids);
    })
    .await;
}
