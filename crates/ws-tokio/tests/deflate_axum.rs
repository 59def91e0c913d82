//! permessage-deflate through the axum extractor: `WebSocketUpgrade::config` with compression
//! enabled answers the client's offer (with the settings of `Config::deflate`), and compressed
//! messages flow both ways.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws_tokio::axum::{WebSocket, WebSocketUpgrade};
use ws_tokio::{Compression, Config, DeflateSettings, Message};

const TIMEOUT: Duration = Duration::from_secs(20);

fn config(compression: Compression) -> Config {
    Config::builder()
        .max_message_size(16 << 20)
        .max_frame_size(16 << 20)
        .compression(compression)
        .build()
}

async fn server(compression: Compression) -> SocketAddr {
    let app = Router::new().route(
        "/ws",
        get(move |upgrade: WebSocketUpgrade| async move {
            let response: Response =
                upgrade
                    .config(config(compression))
                    .on_upgrade(|mut ws: WebSocket| async move {
                        // Tell the client what the server side negotiated, then echo.
                        let negotiated = format!("{:?}", ws.connection().extension());
                        let _ = ws.send_text(negotiated).await;
                        while let Some(Ok(m)) = ws.recv().await {
                            if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                                break;
                            }
                        }
                    });
            response
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn round_trip(server_mode: Compression, client_mode: Compression) -> String {
    let addr = server(server_mode).await;
    let mut ws = ws_tokio::connect(&format!("ws://{addr}/ws"), config(client_mode))
        .await
        .unwrap();
    let server_side = match ws.recv().await {
        Some(Ok(Message::Text(t))) => t.to_string(),
        other => panic!("{other:?}"),
    };
    let client_side = format!("{:?}", ws.connection().extension());
    for i in 0..50usize {
        let text: String = (0..i * 997)
            .map(|k| ["{\"k\":", "1,", "\"v\":\"x\"},"][k % 3])
            .collect();
        ws.send(Message::from(text.clone())).await.unwrap();
        match ws.recv().await {
            Some(Ok(Message::Text(t))) => assert!(*t == *text, "message {i}"),
            other => panic!("message {i}: {other:?}"),
        }
    }
    ws.close(1000, "").await.unwrap();
    format!("{server_side} / {client_side}")
}

#[tokio::test]
async fn axum_negotiates_and_echoes_compressed_messages() {
    let seen = tokio::time::timeout(
        TIMEOUT,
        round_trip(Compression::Shared, Compression::Dedicated),
    )
    .await
    .unwrap();
    assert!(seen.starts_with("Some(PerMessageDeflate"), "{seen}");
    assert!(
        seen.contains("role: Server") && seen.contains("role: Client"),
        "{seen}"
    );
    assert!(seen.contains("server_no_context_takeover: true"), "{seen}");
}

#[tokio::test]
async fn axum_without_compression_negotiates_nothing() {
    let seen = tokio::time::timeout(
        TIMEOUT,
        round_trip(Compression::Disabled, Compression::Dedicated),
    )
    .await
    .unwrap();
    assert_eq!(seen, "None / None");
}

/// An axum server whose `config` asks the client for 10-bit windows and no context takeover:
/// the raw response head and the extension the server ended up with.
async fn raw_handshake_with_deflate_settings(offer: &str) -> (String, String) {
    let (tx, rx) = tokio::sync::oneshot::channel::<String>();
    let tx = std::sync::Arc::new(std::sync::Mutex::new(Some(tx)));
    let app = Router::new().route(
        "/ws",
        get(move |upgrade: WebSocketUpgrade| async move {
            let config = Config::builder()
                .compression(Compression::Dedicated)
                .deflate(
                    DeflateSettings::default()
                        .peer_max_window_bits(10)
                        .peer_no_context_takeover(true),
                )
                .try_build()
                .unwrap();
            let response: Response = upgrade.config(config).on_upgrade(move |ws| async move {
                let negotiated = format!("{:?}", ws.connection().extension());
                if let Some(tx) = tx.lock().unwrap().take() {
                    let _ = tx.send(negotiated);
                }
            });
            response
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\
         Sec-WebSocket-Extensions: {offer}\r\n\r\n"
    );
    tcp.write_all(request.as_bytes()).await.unwrap();
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        assert_eq!(
            tcp.read(&mut byte).await.unwrap(),
            1,
            "response head cut short"
        );
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    (head, rx.await.unwrap())
}

#[tokio::test]
async fn axum_config_carries_the_deflate_settings() {
    let (head, negotiated) = tokio::time::timeout(
        TIMEOUT,
        raw_handshake_with_deflate_settings("permessage-deflate; client_max_window_bits"),
    )
    .await
    .unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    let extensions = head.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-extensions")
            .then(|| value.trim().to_owned())
    });
    assert_eq!(
        extensions.as_deref(),
        Some("permessage-deflate; client_no_context_takeover; client_max_window_bits=10"),
        "{head}"
    );
    assert!(
        negotiated.contains("client_max_window_bits: 10"),
        "{negotiated}"
    );
    assert!(
        negotiated.contains("client_no_context_takeover: true"),
        "{negotiated}"
    );
}
