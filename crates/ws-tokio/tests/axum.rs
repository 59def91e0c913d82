//! The axum integration against a real `axum::serve` server on 127.0.0.1: subprotocol
//! selection, echo, refused requests and the extractor's rejections.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::{self, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::BytesMut;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws_proto::handshake::{self, ClientOptions, HandshakeError, ResponseParser};
use ws_tokio::axum::{WebSocket, WebSocketUpgrade, WebSocketUpgradeRejection};
use ws_tokio::{Config, Message, Role, WebSocketStream};

const TIMEOUT: Duration = Duration::from_secs(10);

async fn echo(mut ws: WebSocket) {
    while let Some(Ok(message)) = ws.recv().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            break;
        }
    }
}

/// Serves `/ws` (subprotocols `a`, `b`; echo) on an ephemeral port.
async fn server() -> SocketAddr {
    async fn handler(upgrade: WebSocketUpgrade) -> Response {
        upgrade
            .config(Config::default())
            .protocols(["a", "b"])
            .on_upgrade(echo)
    }
    /// Tells the client which subprotocol the server-side stream sees.
    async fn which_protocol(upgrade: WebSocketUpgrade) -> Response {
        upgrade
            .protocols(["a", "b"])
            .on_upgrade(|mut ws| async move {
                let seen = ws.subprotocol().unwrap_or("none").to_string();
                let _ = ws.send_text(seen).await;
                echo(ws).await;
            })
    }
    let app = Router::new()
        .route("/ws", get(handler))
        .route("/protocol", get(which_protocol));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Sends `request` and reads the response head; returns it and the bytes read past it.
async fn exchange(tcp: &mut TcpStream, request: &[u8]) -> (handshake::Response, BytesMut) {
    tcp.write_all(request).await.unwrap();
    let mut buf = BytesMut::with_capacity(1024);
    let mut parser = ResponseParser::default();
    loop {
        if let Some(response) = parser.parse(&mut buf).unwrap() {
            return (response, buf);
        }
        let n = tokio::time::timeout(TIMEOUT, tcp.read_buf(&mut buf))
            .await
            .expect("response in time")
            .unwrap();
        assert_ne!(n, 0, "connection closed before the response head");
    }
}

/// An upgrade request for `/ws` at `addr` with the given extra header lines.
fn request(addr: SocketAddr, version: &str, extra: &str) -> String {
    format!(
        "GET /ws HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: {version}\r\n\
         {extra}\r\n"
    )
}

#[tokio::test]
async fn connect_and_echo() {
    let addr = server().await;
    let mut ws = ws_tokio::connect(&format!("ws://{addr}/ws"), Config::default())
        .await
        .unwrap();
    ws.send_text("hello").await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hello"));
    ws.send_binary(vec![0u8, 1, 2, 255]).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::binary(vec![0u8, 1, 2, 255])
    );
    ws.close(1000, "bye").await.unwrap();
    match ws.recv().await {
        Some(Ok(Message::Close(Some(reason)))) => assert_eq!(reason.code.0, 1000),
        other => panic!("expected the close reply, got {other:?}"),
    }
    assert!(ws.recv().await.is_none());
}

#[tokio::test]
async fn subprotocol_in_client_order_then_echo() {
    let addr = server().await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let options = ClientOptions {
        subprotocols: &["b", "a"],
        ..Default::default()
    };
    let (client, req) = handshake::client_request(&addr.to_string(), "/ws", &options).unwrap();
    let (response, read_ahead) = exchange(&mut tcp, &req).await;
    assert_eq!(response.status(), 101);
    assert_eq!(response.header_all("sec-websocket-protocol").count(), 1);
    assert_eq!(response.header("sec-websocket-protocol"), Some("b"));
    assert_eq!(response.header("sec-websocket-extensions"), None);
    let accepted = client.validate_response(&response, None).unwrap();
    assert_eq!(accepted.subprotocol.as_deref(), Some("b"));

    let mut ws =
        WebSocketStream::from_parts(tcp, Role::Client, Config::default(), read_ahead, None);
    ws.send_text("over b").await.unwrap();
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("over b"));
}

#[tokio::test]
async fn no_common_subprotocol_and_no_compression_offered() {
    let addr = server().await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let extra = "Sec-WebSocket-Protocol: c\r\n\
                 Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
    let (response, _) = exchange(&mut tcp, request(addr, "13", extra).as_bytes()).await;
    assert_eq!(response.status(), 101);
    assert_eq!(
        response.header("sec-websocket-accept"),
        Some("s3pPLMBiTxaQ9kYGzzhZRbK+xOo=")
    );
    assert_eq!(response.header("sec-websocket-protocol"), None);
    assert_eq!(response.header("sec-websocket-extensions"), None);
}

#[tokio::test]
async fn plain_get_is_refused_with_400() {
    let addr = server().await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let req = format!("GET /ws HTTP/1.1\r\nHost: {addr}\r\n\r\n");
    let (response, _) = exchange(&mut tcp, req.as_bytes()).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn version_8_is_refused_with_426() {
    let addr = server().await;
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let (response, _) = exchange(&mut tcp, request(addr, "8", "").as_bytes()).await;
    assert_eq!(response.status(), 426);
    assert_eq!(response.header("sec-websocket-version"), Some("13"));
    assert!(response.has_token("upgrade", "websocket"));
}

/// An edit to a valid upgrade request.
type Change = fn(&mut http::request::Parts);

/// Extracts from a valid upgrade request that `change` edits, built with `http` (no server, so
/// no hyper upgrade handle).
async fn extract(change: Change) -> Result<WebSocketUpgrade, WebSocketUpgradeRejection> {
    let (mut parts, ()) = http::Request::get("/ws")
        .header("host", "example.com")
        .header("upgrade", "websocket")
        .header("connection", "keep-alive, Upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap()
        .into_parts();
    change(&mut parts);
    WebSocketUpgrade::from_request_parts(&mut parts, &()).await
}

#[tokio::test]
async fn rejections_name_the_cause() {
    // Valid, but nothing can upgrade it: the server's fault.
    let rejection = extract(|_| {}).await.unwrap_err();
    assert_eq!(
        rejection,
        WebSocketUpgradeRejection::ConnectionNotUpgradable
    );
    assert_eq!(rejection.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(!rejection.is_client_fault());

    let cases: [(Change, HandshakeError, u16); 7] = [
        (
            |p| p.method = http::Method::POST,
            HandshakeError::MethodNotGet,
            400,
        ),
        (
            |p| p.version = http::Version::HTTP_10,
            HandshakeError::UnsupportedHttpVersion,
            400,
        ),
        (
            |p| p.version = http::Version::HTTP_2,
            HandshakeError::UnsupportedHttpVersion,
            400,
        ),
        (
            |p| {
                p.headers.insert("upgrade", "h2c".parse().unwrap());
            },
            HandshakeError::MissingUpgrade,
            400,
        ),
        (
            |p| {
                p.headers.remove("connection");
            },
            HandshakeError::MissingConnectionUpgrade,
            400,
        ),
        (
            |p| {
                p.headers
                    .append("sec-websocket-key", "again".parse().unwrap());
            },
            HandshakeError::BadKey,
            400,
        ),
        (
            |p| {
                p.headers
                    .insert("sec-websocket-version", "8".parse().unwrap());
            },
            HandshakeError::UnsupportedVersion,
            426,
        ),
    ];
    for (change, expected, status) in cases {
        let rejection = extract(change).await.unwrap_err();
        assert_eq!(rejection, WebSocketUpgradeRejection::Handshake(expected));
        assert_eq!(rejection.status().as_u16(), status);
        assert!(rejection.is_client_fault());
    }
}

/// A CONNECT over HTTP/2 is validated as an extended CONNECT (RFC 8441): `:protocol` (which
/// hyper keeps in the extensions) must be `websocket`.
#[tokio::test]
async fn extended_connect_is_validated_by_its_own_rules() {
    fn h2_connect(p: &mut http::request::Parts) {
        p.method = http::Method::CONNECT;
        p.version = http::Version::HTTP_2;
        p.uri = "http://example.com/ws".parse().unwrap();
        p.headers.clear();
        p.headers
            .insert("sec-websocket-version", "13".parse().unwrap());
    }
    let rejection = extract(|p| {
        h2_connect(p);
        p.extensions
            .insert(hyper::ext::Protocol::from_static("websocket"));
    })
    .await
    .unwrap_err();
    // Valid: only the upgrade handle is missing.
    assert_eq!(
        rejection,
        WebSocketUpgradeRejection::ConnectionNotUpgradable
    );
    let rejection = extract(h2_connect).await.unwrap_err();
    assert_eq!(
        rejection,
        WebSocketUpgradeRejection::Handshake(HandshakeError::MissingProtocol)
    );
    assert_eq!(rejection.status(), StatusCode::BAD_REQUEST);
}

/// When hyper cannot hand over the connection, `on_failed_upgrade` gets its error and the
/// `on_upgrade` callback never runs.
#[tokio::test]
async fn a_failed_upgrade_reaches_the_hook() {
    let mut request = http::Request::get("/ws")
        .header("host", "example.com")
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    // A handle that no server will ever fulfil: it fails at once.
    let handle = hyper::upgrade::on(&mut request);
    request.extensions_mut().insert(handle);
    let (mut parts, ()) = request.into_parts();
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .unwrap();
    assert_eq!(upgrade.request().path, "/ws");
    let (tx, rx) = tokio::sync::oneshot::channel();
    let response = upgrade
        .on_failed_upgrade(move |e| {
            let _ = tx.send(e.to_string());
        })
        .on_upgrade(|_| async { panic!("never upgraded") });
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    let error = tokio::time::timeout(TIMEOUT, rx).await.unwrap().unwrap();
    assert!(!error.is_empty());
}

/// The server's own misconfiguration is a 500 that names nothing to the client, and the
/// callback never runs.
#[tokio::test]
async fn an_invalid_config_is_a_500() {
    let mut request = http::Request::get("/ws")
        .header("host", "example.com")
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
        .header("sec-websocket-version", "13")
        .body(())
        .unwrap();
    let handle = hyper::upgrade::on(&mut request);
    request.extensions_mut().insert(handle);
    let (mut parts, ()) = request.into_parts();
    let upgrade = WebSocketUpgrade::from_request_parts(&mut parts, &())
        .await
        .unwrap();
    let bad = Config::builder().write_buffer_size(8 << 20).build();
    let response = upgrade
        .config(bad)
        .on_upgrade(|_| async { panic!("never upgraded") });
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn rejection_response_426_names_version_13() {
    let response =
        WebSocketUpgradeRejection::Handshake(HandshakeError::UnsupportedVersion).into_response();
    assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
    assert_eq!(response.headers()["sec-websocket-version"], "13");
    let response = WebSocketUpgradeRejection::ConnectionNotUpgradable.into_response();
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    assert!(response.headers().get("sec-websocket-version").is_none());
}

#[tokio::test]
async fn the_server_stream_knows_the_selected_subprotocol() {
    let addr = server().await;
    let options = ClientOptions {
        subprotocols: &["b", "a"],
        ..Default::default()
    };
    let url = format!("ws://{addr}/protocol");
    let mut ws = tokio::time::timeout(
        TIMEOUT,
        ws_tokio::client_with(
            TcpStream::connect(addr).await.unwrap(),
            &url,
            Config::default(),
            &options,
        ),
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(ws.subprotocol(), Some("b"));
    assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("b"));
}
