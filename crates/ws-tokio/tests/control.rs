//! Control frames over TCP with a hand-written peer: pings are answered and close frames
//! replied to while the application only reads (no send, no flush), also when the stream is
//! split and the writer sits idle in another task; and the server ends TCP after the close
//! handshake by itself, not only when the stream is dropped.

mod common;

use std::time::Duration;

use common::{
    OP_BINARY, OP_CLOSE, OP_CONT, OP_PING, OP_PONG, OP_TEXT, RawPeer, TEST_TIMEOUT, close_payload,
    pair, within,
};
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use ws_tokio::{CloseCode, Config, ConnectionError, Error, Fault, Message, WebSocketStream};

/// How long the server waits for the peer's end of TCP after its own FIN. The raw peer of the
/// tests that wait for the end of the server's stream holds TCP open, so that end comes from
/// this deadline; the default (5 s) would only make them slow.
const CLOSE_TIMEOUT: Duration = Duration::from_millis(200);

/// The default config with [`CLOSE_TIMEOUT`].
fn closing_config() -> Config {
    Config::builder().close_timeout(CLOSE_TIMEOUT).build()
}

/// A server that only reads: every item goes to the channel. After the stream ends the task
/// keeps the stream alive until `release` fires, so a FIN seen by the peer comes from the
/// close handshake, not from a drop.
fn reading_server(
    ws: WebSocketStream<TcpStream>,
    release: oneshot::Receiver<()>,
) -> mpsc::UnboundedReceiver<Option<Result<Message, Error>>> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut ws = ws;
        loop {
            let item = ws.recv().await;
            let end = item.is_none();
            let _ = tx.send(item);
            if end {
                break;
            }
        }
        let _ = release.await;
        drop(ws);
    });
    rx
}

async fn next_item(
    rx: &mut mpsc::UnboundedReceiver<Option<Result<Message, Error>>>,
) -> Option<Result<Message, Error>> {
    rx.recv()
        .await
        .expect("server task ended without reporting the end of the stream")
}

/// The peer's side of the exchange: ping → pong, close → close echo → FIN.
async fn ping_then_close(peer: &mut RawPeer) {
    peer.send(true, OP_PING, b"are you there?").await;
    let pong = peer.expect_frame().await;
    assert_eq!((pong.fin, pong.opcode), (true, OP_PONG));
    assert_eq!(pong.payload, b"are you there?");

    // An empty ping too.
    peer.send(true, OP_PING, b"").await;
    let pong = peer.expect_frame().await;
    assert_eq!((pong.opcode, pong.payload.len()), (OP_PONG, 0));

    peer.send(true, OP_CLOSE, &close_payload(4000, "bye")).await;
    let close = peer.expect_frame().await;
    assert_eq!(close.opcode, OP_CLOSE);
    assert_eq!(close.close_code(), Some(4000), "the close code is echoed");
    peer.expect_eof().await;
}

fn check_server_saw(items: &[Option<Result<Message, Error>>]) {
    let summary: Vec<String> = items.iter().map(|i| format!("{i:?}")).collect();
    assert_eq!(items.len(), 4, "{summary:?}");
    assert!(matches!(&items[0], Some(Ok(Message::Ping(p))) if &p[..] == b"are you there?"));
    assert!(matches!(&items[1], Some(Ok(Message::Ping(p))) if p.is_empty()));
    match &items[2] {
        Some(Ok(Message::Close(Some(reason)))) => {
            assert_eq!(reason.code, CloseCode(4000));
            assert_eq!(&*reason.reason, "bye");
        }
        other => panic!("expected the close, got {other:?}"),
    }
    assert!(items[3].is_none());
}

#[tokio::test]
async fn pong_and_close_reply_while_only_reading() {
    within(TEST_TIMEOUT, async {
        let (ws, mut peer) = pair(closing_config(), None).await;
        let (release, released) = oneshot::channel();
        let mut items = reading_server(ws, released);

        ping_then_close(&mut peer).await;

        let mut seen = Vec::new();
        for _ in 0..4 {
            seen.push(next_item(&mut items).await);
        }
        check_server_saw(&seen);
        drop(release);
    })
    .await;
}

#[tokio::test]
async fn pong_and_close_reply_with_an_idle_split_writer() {
    within(TEST_TIMEOUT, async {
        let (ws, mut peer) = pair(closing_config(), None).await;
        let (mut reader, writer) = ws.split();

        // The writer sits in its own task doing nothing until the end of the test.
        let (release, released) = oneshot::channel::<()>();
        let idle_writer = tokio::spawn(async move {
            let _ = released.await;
            writer
        });
        let reading = tokio::spawn(async move {
            let mut seen = Vec::new();
            loop {
                let item = reader.recv().await;
                let end = item.is_none();
                seen.push(item);
                if end {
                    return (seen, reader);
                }
            }
        });

        ping_then_close(&mut peer).await;

        let (seen, reader) = reading.await.unwrap();
        check_server_saw(&seen);
        assert!(reader.is_closed());
        let _ = release.send(());
        let writer = idle_writer.await.unwrap();
        assert!(writer.is_closed());
    })
    .await;
}

/// Control frames may come between the fragments of a message: they are answered at once and
/// the message is still assembled whole.
#[tokio::test]
async fn ping_between_fragments() {
    within(TEST_TIMEOUT, async {
        let (ws, mut peer) = pair(Config::default(), None).await;
        let (release, released) = oneshot::channel();
        let mut items = reading_server(ws, released);

        peer.send(false, OP_TEXT, "frag".as_bytes()).await;
        peer.send(true, OP_PING, b"mid").await;
        let pong = peer.expect_frame().await;
        assert_eq!((pong.opcode, &pong.payload[..]), (OP_PONG, &b"mid"[..]));
        // A multi-byte character split across the fragments.
        let euro = "€".as_bytes();
        peer.send(false, OP_CONT, &[b"ment ".as_slice(), &euro[..1]].concat())
            .await;
        peer.send(true, OP_CONT, &euro[1..]).await;
        peer.send(true, OP_BINARY, &[1, 2, 3]).await;

        assert!(
            matches!(next_item(&mut items).await, Some(Ok(Message::Ping(p))) if &p[..] == b"mid")
        );
        assert_eq!(
            next_item(&mut items).await.unwrap().unwrap(),
            Message::text("fragment €")
        );
        assert_eq!(
            next_item(&mut items).await.unwrap().unwrap(),
            Message::binary(vec![1, 2, 3])
        );

        peer.send(true, OP_CLOSE, &close_payload(1000, "")).await;
        assert_eq!(peer.expect_frame().await.close_code(), Some(1000));
        peer.expect_eof().await;
        drop(release);
    })
    .await;
}

/// The server starts the close: its frame reaches the peer, the peer's reply completes the
/// handshake, and the server ends TCP.
#[tokio::test]
async fn server_initiated_close() {
    within(TEST_TIMEOUT, async {
        let (mut ws, mut peer) = pair(closing_config(), None).await;

        ws.close(CloseCode::GOING_AWAY, "restart").await.unwrap();
        let close = peer.expect_frame().await;
        assert_eq!(close.close_code(), Some(1001));
        assert_eq!(&close.payload[2..], b"restart");

        let (release, released) = oneshot::channel();
        let mut items = reading_server(ws, released);
        peer.send(true, OP_CLOSE, &close_payload(1001, "")).await;
        match next_item(&mut items).await {
            Some(Ok(Message::Close(Some(reason)))) => assert_eq!(reason.code.0, 1001),
            other => panic!("expected the close reply, got {other:?}"),
        }
        assert!(next_item(&mut items).await.is_none());
        peer.expect_eof().await;
        drop(release);
    })
    .await;
}

/// A protocol violation (an unmasked client frame) closes with 1002 and ends TCP.
#[tokio::test]
async fn protocol_error_closes_with_1002() {
    within(TEST_TIMEOUT, async {
        let (ws, mut peer) = pair(closing_config(), None).await;
        let (release, released) = oneshot::channel();
        let mut items = reading_server(ws, released);

        peer.write(&common::server_frame(true, OP_TEXT, b"unmasked"))
            .await;
        let close = peer.expect_frame().await;
        assert_eq!(close.close_code(), Some(1002));
        peer.expect_eof().await;

        let err = next_item(&mut items).await.unwrap().unwrap_err();
        assert!(
            matches!(err, Error::Connection(ConnectionError::Protocol(_))),
            "{err:?}"
        );
        assert_eq!(err.fault(), Fault::Peer);
        assert_eq!(err.close_code(), Some(CloseCode::PROTOCOL_ERROR));
        assert!(next_item(&mut items).await.is_none());
        drop(release);
    })
    .await;
}

/// Invalid UTF-8 in a text message closes with 1007.
#[tokio::test]
async fn invalid_utf8_closes_with_1007() {
    within(TEST_TIMEOUT, async {
        let (ws, mut peer) = pair(closing_config(), None).await;
        let (release, released) = oneshot::channel();
        let mut items = reading_server(ws, released);

        peer.send(true, OP_TEXT, &[b'o', b'k', 0xff]).await;
        assert_eq!(peer.expect_frame().await.close_code(), Some(1007));
        peer.expect_eof().await;
        let err = next_item(&mut items).await.unwrap().unwrap_err();
        assert!(
            matches!(err, Error::Connection(ConnectionError::InvalidUtf8)),
            "{err:?}"
        );
        assert!(next_item(&mut items).await.is_none());
        drop(release);
    })
    .await;
}

/// A message over `max_message_size` closes with 1009 before its payload is buffered.
#[tokio::test]
async fn too_big_closes_with_1009() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder()
            .max_message_size(1000)
            .close_timeout(CLOSE_TIMEOUT)
            .build();
        let (ws, mut peer) = pair(config, None).await;
        let (release, released) = oneshot::channel();
        let mut items = reading_server(ws, released);

        // Two frames within the frame limit (max_message_size lowered it to 1000 too) whose
        // message is one byte over.
        peer.send(false, OP_BINARY, &[0u8; 600]).await;
        peer.send(true, OP_CONT, &[0u8; 401]).await;
        assert_eq!(peer.expect_frame().await.close_code(), Some(1009));
        let err = next_item(&mut items).await.unwrap().unwrap_err();
        assert!(
            matches!(
                err,
                Error::Connection(ConnectionError::MessageTooBig { .. })
            ),
            "{err:?}"
        );
        assert_eq!(err.close_code(), Some(CloseCode::MESSAGE_TOO_BIG));
        assert!(next_item(&mut items).await.is_none());
        drop(release);
    })
    .await;
}

/// The peer drops TCP without a close frame: the messages it sent first are delivered, then
/// `ConnectionReset`, then the end.
#[tokio::test]
async fn peer_vanishing_is_a_connection_reset() {
    within(TEST_TIMEOUT, async {
        let (ws, mut peer) = pair(Config::default(), None).await;
        let (release, released) = oneshot::channel();
        let mut items = reading_server(ws, released);

        peer.send(true, OP_TEXT, b"last words").await;
        drop(peer);

        assert_eq!(
            next_item(&mut items).await.unwrap().unwrap(),
            Message::text("last words")
        );
        let err = next_item(&mut items).await.unwrap().unwrap_err();
        assert!(
            matches!(err, Error::Connection(ConnectionError::ConnectionReset)),
            "{err:?}"
        );
        assert_eq!(err.fault(), Fault::Peer);
        assert!(next_item(&mut items).await.is_none());
        drop(release);
    })
    .await;
}

/// Pings from our side: the peer's pong comes back as `Message::Pong`.
#[tokio::test]
async fn our_ping_gets_the_peers_pong() {
    within(TEST_TIMEOUT, async {
        let (mut ws, mut peer) = pair(Config::default(), None).await;

        ws.ping(&b"hello"[..]).await.unwrap();
        let ping = peer.expect_frame().await;
        assert_eq!((ping.opcode, &ping.payload[..]), (OP_PING, &b"hello"[..]));
        peer.send(true, OP_PONG, &ping.payload).await;
        let pong = tokio::time::timeout(Duration::from_secs(5), ws.recv())
            .await
            .expect("pong in time");
        assert_eq!(pong.unwrap().unwrap(), Message::pong(&b"hello"[..]));

        // A ping payload over 125 bytes is a local error and sends nothing.
        let err = ws.ping(vec![0u8; 126]).await.unwrap_err();
        assert!(
            matches!(err, Error::Connection(ConnectionError::InvalidInput(_))),
            "{err:?}"
        );
        assert_eq!(err.fault(), Fault::Local);
        assert!(!err.is_fatal());
        ws.send_text("still open").await.unwrap();
        assert_eq!(peer.expect_frame().await.payload, b"still open");
    })
    .await;
}

/// Local misuse of `close` (a reserved code, an over-long reason) is refused without closing
/// anything: the connection stays open.
#[tokio::test]
async fn invalid_close_is_refused_and_leaves_the_connection_open() {
    within(TEST_TIMEOUT, async {
        let (mut ws, mut peer) = pair(Config::default(), None).await;

        for (code, reason) in [(1005u16, String::new()), (1000, "x".repeat(124))] {
            let err = ws.close(code, reason).await.unwrap_err();
            assert!(
                matches!(err, Error::Connection(ConnectionError::InvalidInput(_))),
                "{err:?}"
            );
            assert_eq!(err.fault(), Fault::Local);
            assert_eq!(ws.state(), ws_tokio::State::Open);
        }
        ws.send_text("still open").await.unwrap();
        let frame = peer.expect_frame().await;
        assert_eq!(
            (frame.opcode, &frame.payload[..]),
            (OP_TEXT, &b"still open"[..])
        );
    })
    .await;
}
