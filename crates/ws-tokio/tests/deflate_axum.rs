//! permessage-deflate through the axum extractor: `WebSocketUpgrade::config` with compression
//! enabled answers the client's offer, and compressed messages flow both ways.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use axum::routing::get;
use tokio::net::TcpListener;
use ws_tokio::axum::{WebSocket, WebSocketUpgrade};
use ws_tokio::{Compression, Config, Message};

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
