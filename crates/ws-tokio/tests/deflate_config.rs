//! The permessage-deflate settings of `Config::deflate` reach the handshake through the plain
//! entry points, with no negotiator plumbing: `accept` and `accept_with` answer with the
//! window bits and context takeover they ask for, `connect` offers them, and deflate settings
//! out of range are refused naming the field.

mod common;

use common::{RawPeer, TEST_TIMEOUT, listener, serve_one, url, within};
use tokio::net::TcpStream;
use ws_tokio::{Accept, Compression, Config, ConnectionError, DeflateSettings, Error, Message};

fn deflate_config(mode: Compression, settings: DeflateSettings) -> Config {
    Config::builder()
        .compression(mode)
        .deflate(settings)
        .try_build()
        .unwrap()
}

/// The value of the response's `Sec-WebSocket-Extensions` header, if any.
fn extensions_header(response: &str) -> Option<&str> {
    response.split("\r\n").find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("sec-websocket-extensions")
            .then(|| value.trim())
    })
}

#[tokio::test]
async fn accept_answers_with_the_configured_peer_window_bits() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let config = deflate_config(
            Compression::Dedicated,
            DeflateSettings::default().peer_max_window_bits(10),
        );
        let server = serve_one(listener, config, |ws| async move {
            format!("{:?}", ws.connection().extension())
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (_peer, response) = RawPeer::handshake_client(
            tcp,
            addr,
            "/",
            "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n",
        )
        .await;
        assert!(response.starts_with("HTTP/1.1 101 "), "{response}");
        assert_eq!(
            extensions_header(&response),
            Some("permessage-deflate; client_max_window_bits=10"),
            "{response}"
        );
        let negotiated = server.await.unwrap();
        assert!(
            negotiated.contains("client_max_window_bits: 10"),
            "{negotiated}"
        );
    })
    .await;
}

#[tokio::test]
async fn accept_with_honours_level_and_context_takeover() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let config = deflate_config(
                Compression::Dedicated,
                DeflateSettings::default()
                    .level(7)
                    .peer_no_context_takeover(true),
            );
            let ws = ws_tokio::accept_with(tcp, config, |_| Ok(Accept::default()))
                .await
                .unwrap();
            format!("{:?}", ws.connection().extension())
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (_peer, response) = RawPeer::handshake_client(
            tcp,
            addr,
            "/",
            "Sec-WebSocket-Extensions: permessage-deflate\r\n",
        )
        .await;
        assert_eq!(
            extensions_header(&response),
            Some("permessage-deflate; client_no_context_takeover"),
            "{response}"
        );
        let negotiated = server.await.unwrap();
        assert!(negotiated.contains("level: 7"), "{negotiated}");
    })
    .await;
}

/// Both ends configured only through `Config`: the client offers what its settings ask, the
/// server narrows it with its own, and compressed messages flow under the agreed windows.
#[tokio::test]
async fn connect_and_accept_agree_from_their_configs() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let server_config = deflate_config(
            Compression::Dedicated,
            DeflateSettings::default().peer_max_window_bits(10),
        );
        let server = serve_one(listener, server_config, |mut ws| async move {
            let negotiated = format!("{:?}", ws.connection().extension());
            while let Some(Ok(m)) = ws.recv().await {
                if (m.is_text() || m.is_binary()) && ws.send(m).await.is_err() {
                    break;
                }
            }
            negotiated
        });
        let client_config = deflate_config(
            Compression::Dedicated,
            DeflateSettings::default()
                .peer_max_window_bits(11)
                .min_message_size(0),
        );
        let mut ws = ws_tokio::connect(&url(addr, "/"), client_config)
            .await
            .unwrap();
        let client_side = format!("{:?}", ws.connection().extension());
        // The client asked the server for 11 bits; the server asked the client for 10.
        assert!(
            client_side.contains("server_max_window_bits: 11"),
            "{client_side}"
        );
        assert!(
            client_side.contains("client_max_window_bits: 10"),
            "{client_side}"
        );
        for i in 0..20usize {
            let text: String = (0..i * 1500)
                .map(|k| ["{\"k\":", "1,", "\"v\":\"x\"},"][k % 3])
                .collect();
            ws.send(Message::from(text.clone())).await.unwrap();
            match ws.recv().await {
                Some(Ok(Message::Text(t))) => assert!(*t == *text, "message {i}"),
                other => panic!("message {i}: {other:?}"),
            }
        }
        ws.close(1000, "").await.unwrap();
        // The server's stream ends when the TCP connection does (it reads until our end).
        drop(ws);
        let server_side = server.await.unwrap();
        assert!(
            server_side.contains("server_max_window_bits: 11"),
            "{server_side}"
        );
        assert!(
            server_side.contains("client_max_window_bits: 10"),
            "{server_side}"
        );
    })
    .await;
}

#[tokio::test]
async fn deflate_settings_out_of_range_are_refused_naming_the_field() {
    within(TEST_TIMEOUT, async {
        let bits = Config::builder()
            .compression(Compression::Dedicated)
            .deflate(DeflateSettings::default().peer_max_window_bits(16))
            .build();
        let (a, _b) = tokio::io::duplex(1024);
        match ws_tokio::accept(a, bits.clone()).await.unwrap_err() {
            Error::Connection(ConnectionError::InvalidConfig(e)) => {
                assert_eq!(e.field(), "deflate.peer_max_window_bits")
            }
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
        match ws_tokio::connect("ws://127.0.0.1:9/", bits)
            .await
            .unwrap_err()
        {
            Error::Connection(ConnectionError::InvalidConfig(e)) => {
                assert_eq!(e.field(), "deflate.peer_max_window_bits")
            }
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
        let level = Config::builder()
            .compression(Compression::Shared)
            .deflate(DeflateSettings::default().level(0))
            .build();
        let (a, _b) = tokio::io::duplex(1024);
        match ws_tokio::accept(a, level).await.unwrap_err() {
            Error::Connection(ConnectionError::InvalidConfig(e)) => {
                assert_eq!(e.field(), "deflate.level");
                assert!(e.to_string().contains("deflate.level"), "{e}");
            }
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
    })
    .await;
}
