//! The axum extractor over HTTP/2 (RFC 8441): a real `axum::serve` server on 127.0.0.1 (HTTP/1.1
//! and cleartext HTTP/2 on one port), the `h2` crate as client. An extended CONNECT with
//! `:protocol: websocket` is answered 200 without a key, and the HTTP/2 stream then carries the
//! WebSocket: a masked text frame is echoed, a close is answered.

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::http::{self, Method, StatusCode, Version};
use axum::response::Response;
use axum::routing::any;
use bytes::{Bytes, BytesMut};
use tokio::net::{TcpListener, TcpStream};
use ws_tokio::axum::{WebSocket, WebSocketUpgrade};
use ws_tokio::{Compression, Config};

const TIMEOUT: Duration = Duration::from_secs(10);

async fn echo(mut ws: WebSocket) {
    while let Some(Ok(message)) = ws.recv().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            break;
        }
    }
}

/// Serves `/ws` (subprotocols `a`, `b`; echo) for GET and CONNECT on an ephemeral port.
async fn server() -> SocketAddr {
    async fn handler(upgrade: WebSocketUpgrade) -> Response {
        assert_eq!(upgrade.request().path, "/ws?x=1");
        upgrade.protocols(["a", "b"]).on_upgrade(echo)
    }
    /// permessage-deflate in `Dedicated` mode.
    async fn deflate(upgrade: WebSocketUpgrade) -> Response {
        let config = Config::builder()
            .compression(Compression::Dedicated)
            .build();
        upgrade.config(config).on_upgrade(echo)
    }
    let app = Router::new()
        .route("/ws", any(handler))
        .route("/deflate", any(deflate));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// An HTTP/2 connection (prior knowledge) whose server has allowed extended CONNECT.
async fn h2_client(addr: SocketAddr) -> h2::client::SendRequest<Bytes> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, connection) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = connection.await;
    });
    let mut client = client.ready().await.unwrap();
    // The server's SETTINGS (with SETTINGS_ENABLE_CONNECT_PROTOCOL) arrive right after the
    // preface; wait for them, boundedly.
    for _ in 0..200 {
        if client.is_extended_connect_protocol_enabled() {
            return client;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
        client = client.ready().await.unwrap();
    }
    panic!("the server never enabled the extended CONNECT protocol");
}

/// An extended CONNECT to `/ws?x=1`; `version` is the `Sec-WebSocket-Version` sent, if any.
fn connect_request(addr: SocketAddr, version: Option<&str>) -> http::Request<()> {
    connect_to(addr, "/ws?x=1", version)
}

fn connect_to(addr: SocketAddr, path: &str, version: Option<&str>) -> http::Request<()> {
    let mut builder = http::Request::builder()
        .method(Method::CONNECT)
        .version(Version::HTTP_2)
        .uri(format!("http://{addr}{path}"))
        .header("sec-websocket-protocol", "b, a");
    if let Some(version) = version {
        builder = builder.header("sec-websocket-version", version);
    }
    let mut request = builder.body(()).unwrap();
    request
        .extensions_mut()
        .insert(h2::ext::Protocol::from_static("websocket"));
    request
}

/// A masked client frame with a short payload (< 126 bytes).
fn masked_frame(opcode: u8, payload: &[u8]) -> Bytes {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![0x80 | opcode, 0x80 | payload.len() as u8];
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    Bytes::from(frame)
}

/// Reads from `body` until `len` bytes have arrived (or the stream ends).
async fn read_exact(body: &mut h2::RecvStream, buf: &mut BytesMut, len: usize) {
    while buf.len() < len {
        let Some(chunk) = body.data().await else {
            panic!("the stream ended after {} of {len} bytes", buf.len());
        };
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        buf.extend_from_slice(&chunk);
    }
}

#[tokio::test]
async fn extended_connect_over_h2_echoes_and_closes() {
    tokio::time::timeout(TIMEOUT, async {
        let addr = server().await;
        let mut client = h2_client(addr).await;
        let (response, mut send) = client
            .send_request(connect_request(addr, Some("13")), false)
            .unwrap();
        let response = response.await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let headers = response.headers();
        assert_eq!(headers["sec-websocket-protocol"], "b");
        assert!(!headers.contains_key("sec-websocket-accept"));
        let mut body = response.into_body();

        send.send_data(masked_frame(0x1, b"hello over h2"), false)
            .unwrap();
        let mut buf = BytesMut::new();
        read_exact(&mut body, &mut buf, 2 + 13).await;
        assert_eq!(&buf[..], b"\x81\x0dhello over h2");

        // A close (1000) is answered with a close, then the server ends the stream.
        send.send_data(masked_frame(0x8, &1000u16.to_be_bytes()), false)
            .unwrap();
        let mut buf = BytesMut::new();
        read_exact(&mut body, &mut buf, 4).await;
        assert_eq!(&buf[..], b"\x88\x02\x03\xe8");
    })
    .await
    .expect("timed out");
}

#[tokio::test]
async fn invalid_requests_over_h2_are_refused() {
    tokio::time::timeout(TIMEOUT, async {
        let addr = server().await;
        let mut client = h2_client(addr).await;

        // No Sec-WebSocket-Version: 426 naming 13.
        let (response, _send) = client
            .send_request(connect_request(addr, None), true)
            .unwrap();
        let response = response.await.unwrap();
        assert_eq!(response.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(response.headers()["sec-websocket-version"], "13");

        // A plain GET over HTTP/2 is not a WebSocket handshake.
        let mut client = client.ready().await.unwrap();
        let get = http::Request::get(format!("http://{addr}/ws?x=1"))
            .version(Version::HTTP_2)
            .body(())
            .unwrap();
        let (response, _send) = client.send_request(get, true).unwrap();
        assert_eq!(response.await.unwrap().status(), StatusCode::BAD_REQUEST);
    })
    .await
    .expect("timed out");
}

/// permessage-deflate is negotiated over HTTP/2 as over HTTP/1.1: the same negotiation.
#[tokio::test]
async fn permessage_deflate_is_negotiated_over_h2() {
    tokio::time::timeout(TIMEOUT, async {
        let addr = server().await;
        let mut client = h2_client(addr).await;
        let mut request = connect_to(addr, "/deflate", Some("13"));
        request.headers_mut().insert(
            "sec-websocket-extensions",
            "permessage-deflate; client_max_window_bits"
                .parse()
                .unwrap(),
        );
        let (response, mut send) = client.send_request(request, false).unwrap();
        let response = response.await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let answer = response.headers()["sec-websocket-extensions"]
            .to_str()
            .unwrap();
        assert!(answer.starts_with("permessage-deflate"), "{answer}");
        assert!(!response.headers().contains_key("sec-websocket-protocol"));
        // The stream carries the WebSocket: a close is answered with a close.
        let mut body = response.into_body();
        send.send_data(masked_frame(0x8, &1000u16.to_be_bytes()), false)
            .unwrap();
        let mut buf = BytesMut::new();
        read_exact(&mut body, &mut buf, 4).await;
        assert_eq!(&buf[..], b"\x88\x02\x03\xe8");
    })
    .await
    .expect("timed out");
}
