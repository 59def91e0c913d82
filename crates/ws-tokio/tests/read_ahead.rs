//! Bytes right behind the handshake: a peer may send its first frames in the same write (the
//! same TCP segment) as its upgrade request or 101 response. The handshake reads past the head;
//! those bytes must become the first messages, not be lost.

mod common;

use std::time::Duration;

use common::{
    OP_CLOSE, OP_PONG, OP_TEXT, RawPeer, TEST_TIMEOUT, binary_payload, client_frame, close_payload,
    find, listener, serve_one, server_frame, switching_protocols, upgrade_request, url, within,
};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use ws_tokio::{Config, Message};

#[tokio::test]
async fn server_delivers_frames_sent_with_the_request() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        // The peer holds TCP open after the close handshake: the server's stream ends
        // `close_timeout` after its FIN (the default, 5 s, would only make this test slow).
        let config = Config::builder()
            .close_timeout(Duration::from_millis(200))
            .build();
        let server = serve_one(listener, config, |mut ws| async move {
            let mut items = Vec::new();
            while let Some(item) = ws.recv().await {
                items.push(item.unwrap());
            }
            items
        });

        let mut bytes = upgrade_request(addr, "/", "").into_bytes();
        bytes.extend(client_frame(true, OP_TEXT, b"first"));
        bytes.extend(client_frame(true, common::OP_PING, b"p"));
        bytes.extend(client_frame(true, common::OP_BINARY, &[9, 8, 7]));
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&bytes).await.unwrap();

        let mut peer = RawPeer::server(tcp);
        peer.is_client = true;
        let head = peer.read_head().await;
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        let pong = peer.expect_frame().await;
        assert_eq!((pong.opcode, &pong.payload[..]), (OP_PONG, &b"p"[..]));
        peer.send(true, OP_CLOSE, &close_payload(1000, "")).await;
        assert_eq!(peer.expect_frame().await.close_code(), Some(1000));
        peer.expect_eof().await;

        let items = server.await.unwrap();
        assert_eq!(
            items,
            [
                Message::text("first"),
                Message::ping(&b"p"[..]),
                Message::binary(vec![9, 8, 7]),
                Message::close(1000u16, ""),
            ]
        );
    })
    .await;
}

/// A frame far larger than the handshake's header limit right behind the request: the limit
/// applies to the head only, and the frame arrives whole (part in the handshake's buffer, the
/// rest from the socket).
#[tokio::test]
async fn large_frame_behind_the_request_is_not_counted_as_header() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let config = Config::builder().max_handshake_header_bytes(1024).build();
        let server = serve_one(listener, config, |mut ws| async move {
            ws.recv().await.unwrap().unwrap()
        });

        let payload = binary_payload(200_000, 3);
        let mut bytes = upgrade_request(addr, "/", "").into_bytes();
        bytes.extend(client_frame(true, common::OP_BINARY, &payload));
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(&bytes).await.unwrap();

        assert_eq!(server.await.unwrap(), Message::binary(payload));
        drop(tcp);
    })
    .await;
}

#[tokio::test]
async fn client_delivers_frames_sent_with_the_response() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut peer = RawPeer::server(tcp);
            let head = peer.read_head().await;
            // The 101 and two frames in one write.
            let mut bytes = switching_protocols(&head).into_bytes();
            bytes.extend(server_frame(true, OP_TEXT, "welcome €".as_bytes()));
            bytes.extend(server_frame(true, OP_CLOSE, &close_payload(1001, "bye")));
            peer.write(&bytes).await;
            let close = peer.expect_frame().await;
            assert!(close.masked);
            assert_eq!(close.close_code(), Some(1001));
            peer.tcp.shutdown().await.unwrap();
            assert!(peer.read_frame().await.is_none());
        });

        let mut ws = ws_tokio::connect(&url(addr, "/"), Config::default())
            .await
            .unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("welcome €")
        );
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::close(1001u16, "bye")
        );
        assert!(ws.recv().await.is_none());
        server.await.unwrap();
    })
    .await;
}

/// The 101 response itself split into single bytes, the frame glued to its last byte.
#[tokio::test]
async fn client_handles_a_response_trickled_byte_by_byte() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut peer = RawPeer::server(tcp);
            let head = peer.read_head().await;
            let mut bytes = switching_protocols(&head).into_bytes();
            let end = find(&bytes, b"\r\n\r\n").unwrap() + 3;
            bytes.extend(server_frame(true, OP_TEXT, b"glued"));
            for b in &bytes[..end] {
                peer.write(&[*b]).await;
            }
            peer.write(&bytes[end..]).await;
            peer
        });
        let mut ws = ws_tokio::connect(&url(addr, "/"), Config::default())
            .await
            .unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("glued"));
        drop(server.await.unwrap());
    })
    .await;
}
