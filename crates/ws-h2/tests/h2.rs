//! WebSocket over HTTP/2 (RFC 8441): our client against our server over cleartext HTTP/2 on
//! 127.0.0.1, and raw `h2` peers where the test needs to misbehave or look at the frames.

use bytes::Bytes;
use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use ws_h2::{Error, H2Connection, H2WebSocketClient, H2WebSocketServer};
use ws_proto::handshake::{Accept, Reject};
use ws_proto::{CloseCode, Compression, Config, Message, TimeoutKind};

const TEST_TIMEOUT: Duration = Duration::from_secs(30);

async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, fut)
        .await
        .expect("the test did not finish within its deadline")
}

/// A server on 127.0.0.1 echoing text and binary messages on every WebSocket of every
/// connection, with `config`.
async fn echo_server(config: Config) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let server = H2WebSocketServer::new(config.clone());
            tokio::spawn(async move {
                let _ = server
                    .serve(tcp, |mut ws, _req| async move {
                        while let Some(Ok(msg)) = ws.recv().await {
                            if let Message::Text(_) | Message::Binary(_) = msg
                                && ws.send(msg).await.is_err()
                            {
                                break;
                            }
                        }
                    })
                    .await;
            });
        }
    });
    addr
}

async fn connect(addr: SocketAddr, config: Config) -> H2Connection {
    let tcp = TcpStream::connect(addr).await.unwrap();
    H2WebSocketClient::new(config)
        .connect_multiplexed(tcp)
        .await
        .expect("HTTP/2 connection")
}

fn url(addr: SocketAddr, path: &str) -> String {
    format!("ws://{addr}{path}")
}

fn payload(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

#[tokio::test]
async fn echo_text_and_binary() {
    within(async {
        let addr = echo_server(Config::default()).await;
        let conn = connect(addr, Config::default()).await;
        let mut ws = conn.open_websocket(&url(addr, "/echo"), &[]).await.unwrap();
        ws.send(Message::text("héllo over h2")).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::text("héllo over h2")
        );
        ws.send(Message::binary(payload(1000, 1))).await.unwrap();
        assert_eq!(
            ws.recv().await.unwrap().unwrap(),
            Message::binary(payload(1000, 1))
        );
        ws.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
        assert!(ws.recv().await.is_none());
    })
    .await;
}

#[tokio::test]
async fn the_handler_gets_the_request_and_the_answer_is_200_with_the_subprotocol() {
    within(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (seen_tx, mut seen_rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let server = H2WebSocketServer::new(Config::default());
            let _ = server
                .serve_with(
                    tcp,
                    |req| {
                        assert_eq!(req.header("origin"), Some("https://app.example"));
                        Ok(Accept::subprotocol("chat.v2"))
                    },
                    move |ws, req| {
                        let seen = seen_tx.clone();
                        async move {
                            let _ = seen.send((
                                req.path.clone(),
                                req.version,
                                ws.subprotocol().map(str::to_owned),
                            ));
                            drop(ws);
                        }
                    },
                )
                .await;
        });
        let conn = connect(addr, Config::default()).await;
        let options = ws_proto::handshake::ClientOptions {
            subprotocols: &["chat.v1", "chat.v2"],
            origin: Some("https://app.example"),
            ..Default::default()
        };
        let ws = conn
            .open_websocket_with(&url(addr, "/rooms/1?x=y"), &options)
            .await
            .unwrap();
        assert_eq!(ws.subprotocol(), Some("chat.v2"));
        let (path, version, subprotocol) = seen_rx.recv().await.unwrap();
        assert_eq!(path, "/rooms/1?x=y");
        assert_eq!(version, http::Version::HTTP_2);
        assert_eq!(subprotocol.as_deref(), Some("chat.v2"));
    })
    .await;
}

#[tokio::test]
async fn many_websockets_on_one_connection() {
    within(async {
        let addr = echo_server(Config::default()).await;
        let conn = connect(addr, Config::default()).await;
        let mut tasks = Vec::new();
        for i in 0..64u8 {
            let conn = conn.clone();
            tasks.push(tokio::spawn(async move {
                let mut ws = conn
                    .open_websocket(&url(addr, &format!("/ws/{i}")), &[])
                    .await
                    .unwrap();
                for round in 0..20u8 {
                    let msg = Message::binary(payload(100 + usize::from(round), i));
                    ws.send(msg.clone()).await.unwrap();
                    assert_eq!(ws.recv().await.unwrap().unwrap(), msg);
                }
                ws.close(CloseCode::NORMAL, "").await.unwrap();
                assert!(matches!(ws.recv().await, Some(Ok(Message::Close(_)))));
                assert!(ws.recv().await.is_none());
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
    })
    .await;
}

#[tokio::test]
async fn messages_larger_than_both_windows_in_both_directions() {
    within(async {
        let config = Config::builder()
            .http2_window_size(65_535)
            .http2_connection_window_size(65_535)
            .build();
        let addr = echo_server(config.clone()).await;
        let conn = connect(addr, config).await;
        let mut a = conn.open_websocket(&url(addr, "/a"), &[]).await.unwrap();
        let mut b = conn.open_websocket(&url(addr, "/b"), &[]).await.unwrap();
        let big_a = Message::binary(payload(3 << 20, 7));
        let big_b = Message::binary(payload((2 << 20) + 12_345, 9));
        // Both streams at once, so that they also compete for the connection window.
        let (ra, rb) = tokio::join!(
            async {
                a.send(big_a.clone()).await.unwrap();
                a.recv().await.unwrap().unwrap()
            },
            async {
                b.send(big_b.clone()).await.unwrap();
                b.recv().await.unwrap().unwrap()
            }
        );
        assert!(ra == big_a, "stream a echoed {} bytes", ra.len());
        assert!(rb == big_b, "stream b echoed {} bytes", rb.len());
    })
    .await;
}

#[tokio::test]
async fn a_reset_stream_does_not_disturb_the_others() {
    within(async {
        let addr = echo_server(Config::default()).await;
        let conn = connect(addr, Config::default()).await;
        let mut keep = conn.open_websocket(&url(addr, "/keep"), &[]).await.unwrap();
        let mut doomed = conn
            .open_websocket(&url(addr, "/doomed"), &[])
            .await
            .unwrap();
        doomed.send(Message::text("before")).await.unwrap();
        assert_eq!(
            doomed.recv().await.unwrap().unwrap(),
            Message::text("before")
        );
        doomed.get_mut().reset(ws_h2::h2::Reason::CANCEL);
        assert!(doomed.send(Message::text("after")).await.is_err());
        for i in 0..10 {
            let msg = Message::text(format!("still here {i}"));
            keep.send(msg.clone()).await.unwrap();
            assert_eq!(keep.recv().await.unwrap().unwrap(), msg);
        }
        // A new stream still opens.
        let mut again = conn
            .open_websocket(&url(addr, "/again"), &[])
            .await
            .unwrap();
        again.send(Message::text("x")).await.unwrap();
        assert_eq!(again.recv().await.unwrap().unwrap(), Message::text("x"));
    })
    .await;
}

#[tokio::test]
async fn a_peer_that_stops_reading_one_stream_stalls_only_that_stream_until_send_timeout() {
    within(async {
        let server_config = Config::builder()
            .http2_window_size(64 << 10)
            .http2_connection_window_size(1 << 20)
            .send_timeout(Duration::from_millis(600))
            .build();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (result_tx, mut result_rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let server = H2WebSocketServer::new(server_config);
            let _ = server
                .serve(tcp, move |mut ws, req| {
                    let result_tx = result_tx.clone();
                    async move {
                        if req.path == "/flood" {
                            // Send until the unread stream pushes back and send_timeout fires.
                            let chunk = Message::binary(payload(16 << 10, 3));
                            let mut sent = 0usize;
                            let error = loop {
                                match ws.send(chunk.clone()).await {
                                    Ok(()) => sent += 1,
                                    Err(e) => break e,
                                }
                                assert!(sent < 10_000, "no backpressure after {sent} messages");
                            };
                            let _ = result_tx.send((sent, error));
                        } else {
                            while let Some(Ok(msg)) = ws.recv().await {
                                if ws.send(msg).await.is_err() {
                                    break;
                                }
                            }
                        }
                    }
                })
                .await;
        });
        let client_config = Config::builder()
            .http2_window_size(64 << 10)
            .http2_connection_window_size(1 << 20)
            .build();
        let conn = connect(addr, client_config).await;
        let flood = conn
            .open_websocket(&url(addr, "/flood"), &[])
            .await
            .unwrap();
        let mut echo = conn.open_websocket(&url(addr, "/echo"), &[]).await.unwrap();
        // `flood` is never read; `echo` keeps working while the server is stuck on it.
        for i in 0..20 {
            let msg = Message::text(format!("ping {i}"));
            echo.send(msg.clone()).await.unwrap();
            assert_eq!(echo.recv().await.unwrap().unwrap(), msg);
        }
        let (sent, error) = result_rx.recv().await.unwrap();
        assert_eq!(error.timeout_kind(), Some(TimeoutKind::Send), "{error}");
        // The stream window (64 KiB) plus the buffers on the way hold a bounded amount.
        assert!(
            sent < 64,
            "{sent} messages of 16 KiB were accepted before backpressure"
        );
        // And `echo` still works after the flood failed.
        echo.send(Message::text("after")).await.unwrap();
        assert_eq!(echo.recv().await.unwrap().unwrap(), Message::text("after"));
        drop(flood);
    })
    .await;
}

#[tokio::test]
async fn the_close_handshake_ends_both_sides() {
    within(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (done_tx, done_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut done_tx = Some(done_tx);
            let _ = H2WebSocketServer::new(Config::default())
                .serve(tcp, move |mut ws, _| {
                    let done_tx = done_tx.take();
                    async move {
                        let mut seen = Vec::new();
                        while let Some(msg) = ws.recv().await {
                            seen.push(msg.map_err(|e| e.to_string()));
                        }
                        let _ = done_tx.unwrap().send(seen);
                    }
                })
                .await;
        });
        let conn = connect(addr, Config::default()).await;
        let mut ws = conn.open_websocket(&url(addr, "/"), &[]).await.unwrap();
        ws.send(Message::text("bye soon")).await.unwrap();
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        assert!(
            matches!(ws.recv().await, Some(Ok(Message::Close(Some(r)))) if r.code == CloseCode::NORMAL),
            "the server's close reply"
        );
        assert!(ws.recv().await.is_none(), "then the end of the stream");
        let seen = done_rx.await.unwrap();
        assert_eq!(seen[0], Ok(Message::text("bye soon")));
        assert!(matches!(&seen[1], Ok(Message::Close(Some(r))) if r.code == CloseCode::NORMAL));
        assert_eq!(seen.len(), 2, "{seen:?}");
    })
    .await;
}

#[tokio::test]
async fn permessage_deflate_over_h2() {
    within(async {
        let config = Config::builder().compression(Compression::Shared).build();
        let addr = echo_server(config.clone()).await;
        let conn = connect(addr, config).await;
        let mut ws = conn.open_websocket(&url(addr, "/z"), &[]).await.unwrap();
        assert!(
            ws.connection().extension().is_some(),
            "permessage-deflate was not negotiated"
        );
        let text = "compress me ".repeat(2000);
        ws.send(Message::text(text.clone())).await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text(text));
    })
    .await;
}

#[tokio::test]
async fn the_client_refuses_a_server_without_extended_connect() {
    within(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            // A plain HTTP/2 server: no SETTINGS_ENABLE_CONNECT_PROTOCOL.
            let mut conn = h2::server::handshake(tcp).await.unwrap();
            if let Some(Ok(_)) = conn.accept().await {
                panic!("the client must not send a request");
            }
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let err = H2WebSocketClient::new(Config::default())
            .connect(tcp, &url(addr, "/"), &[])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::ExtendedConnectDisabled), "{err}");
    })
    .await;
}

/// A raw h2 client's request to `addr`: the status and body of the answer.
async fn raw_request(addr: SocketAddr, request: http::Request<()>) -> (u16, String) {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.unwrap();
    let (response, _send) = client.send_request(request, false).unwrap();
    let response = response.await.unwrap();
    let status = response.status().as_u16();
    let mut body = response.into_body();
    let mut text = Vec::new();
    while let Some(chunk) = body.data().await {
        let chunk = chunk.unwrap();
        let _ = body.flow_control().release_capacity(chunk.len());
        text.extend_from_slice(&chunk);
    }
    (status, String::from_utf8(text).unwrap())
}

fn connect_request(path: &str, protocol: Option<&'static str>, version: &str) -> http::Request<()> {
    let mut request = http::Request::connect(format!("http://localhost{path}"))
        .version(http::Version::HTTP_2)
        .header("sec-websocket-version", version)
        .body(())
        .unwrap();
    if let Some(p) = protocol {
        request
            .extensions_mut()
            .insert(h2::ext::Protocol::from_static(p));
    }
    request
}

#[tokio::test]
async fn requests_that_are_not_websockets_get_a_status_not_a_websocket() {
    within(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            loop {
                let (tcp, _) = listener.accept().await.unwrap();
                tokio::spawn(async move {
                    let _ = H2WebSocketServer::new(Config::default())
                        .serve_with(
                            tcp,
                            |req| {
                                if req.path == "/private" {
                                    Err(Reject::new(403, "not for you"))
                                } else {
                                    Ok(Accept::default())
                                }
                            },
                            |_ws, _req| async { panic!("no WebSocket may be opened") },
                        )
                        .await;
                });
            }
        });
        let get = http::Request::get("http://localhost/")
            .version(http::Version::HTTP_2)
            .body(())
            .unwrap();
        let (status, _) = raw_request(addr, get).await;
        assert_eq!(status, 400, "a GET");
        // A plain CONNECT (a tunnel) needs an authority-form target.
        let tunnel = http::Request::connect("localhost:443")
            .version(http::Version::HTTP_2)
            .body(())
            .unwrap();
        let (status, _) = raw_request(addr, tunnel).await;
        assert_eq!(status, 400, "CONNECT without :protocol");
        let (status, _) =
            raw_request(addr, connect_request("/", Some("not-websocket"), "13")).await;
        assert_eq!(status, 400, "another :protocol");
        let (status, _) = raw_request(addr, connect_request("/", Some("websocket"), "8")).await;
        assert_eq!(status, 426, "another sec-websocket-version");
        let (status, body) =
            raw_request(addr, connect_request("/private", Some("websocket"), "13")).await;
        assert_eq!((status, body.as_str()), (403, "not for you\n"));
        // Our client reports the refusal with its status.
        let conn = connect(addr, Config::default()).await;
        let err = conn
            .open_websocket(&url(addr, "/private"), &[])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Refused(403)), "{err}");
    })
    .await;
}

#[tokio::test]
async fn settings_follow_the_config() {
    within(async {
        let config = Config::builder().http2_max_streams(3).build();
        let addr = echo_server(config).await;
        let conn = connect(addr, Config::default()).await;
        assert_eq!(conn.max_concurrent_streams(), 3);
        // A fourth WebSocket waits for a free stream instead of failing.
        let mut open = Vec::new();
        for i in 0..3 {
            open.push(
                conn.open_websocket(&url(addr, &format!("/{i}")), &[])
                    .await
                    .unwrap(),
            );
        }
        let fourth = tokio::time::timeout(
            Duration::from_millis(300),
            conn.open_websocket(&url(addr, "/4"), &[]),
        )
        .await;
        assert!(
            fourth.is_err(),
            "a fourth stream opened beyond the server's limit"
        );
        let mut first = open.remove(0);
        first.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(matches!(first.recv().await, Some(Ok(Message::Close(_)))));
        assert!(first.recv().await.is_none());
        drop(first);
        let mut fourth = conn.open_websocket(&url(addr, "/4"), &[]).await.unwrap();
        fourth.send(Message::text("4")).await.unwrap();
        assert_eq!(fourth.recv().await.unwrap().unwrap(), Message::text("4"));
    })
    .await;
}

#[tokio::test]
async fn a_connection_that_opens_no_websocket_is_closed_after_the_handshake_timeout() {
    within(async {
        let config = Config::builder()
            .handshake_timeout(Duration::from_millis(300))
            .build();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            H2WebSocketServer::new(config)
                .serve(tcp, |_ws, _req| async {})
                .await
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (_client, conn) = h2::client::handshake(tcp).await.unwrap();
        let started = std::time::Instant::now();
        // The client's connection ends when the server closes it.
        let _ = conn.await;
        assert!(started.elapsed() >= Duration::from_millis(250));
        assert!(server.await.unwrap().is_ok());
    })
    .await;
}

#[tokio::test]
async fn a_silent_client_is_dropped_at_the_handshake_timeout() {
    within(async {
        let config = Config::builder()
            .handshake_timeout(Duration::from_millis(200))
            .build();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            H2WebSocketServer::new(config)
                .serve(tcp, |_ws, _req| async {})
                .await
        });
        let _silent = TcpStream::connect(addr).await.unwrap();
        let err = server.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::HandshakeTimeout), "{err}");
    })
    .await;
}

/// `serve_auto` on every connection of a listener: an echo that also reports the HTTP version
/// of each WebSocket's request.
async fn auto_echo_server() -> (
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<http::Version>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (version_tx, version_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let version_tx = version_tx.clone();
            tokio::spawn(async move {
                let server = H2WebSocketServer::new(Config::default()).with_fallback(|req| {
                    (req.uri.path() == "/health").then(|| http::Response::new("ok\n".into()))
                });
                let _ = server
                    .serve_auto(tcp, move |mut ws, req| {
                        let _ = version_tx.send(req.version);
                        async move {
                            while let Some(Ok(msg)) = ws.recv().await {
                                if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err()
                                {
                                    break;
                                }
                            }
                        }
                    })
                    .await;
            });
        }
    });
    (addr, version_rx)
}

#[tokio::test]
async fn one_listener_serves_http1_upgrades_and_http2_websockets() {
    within(async {
        let (addr, mut versions) = auto_echo_server().await;
        let mut h1 = ws_tokio::connect(&url(addr, "/one"), Config::default())
            .await
            .unwrap();
        h1.send(Message::text("over HTTP/1.1")).await.unwrap();
        assert_eq!(
            h1.recv().await.unwrap().unwrap(),
            Message::text("over HTTP/1.1")
        );
        assert_eq!(versions.recv().await, Some(http::Version::HTTP_11));

        let conn = connect(addr, Config::default()).await;
        let mut h2a = conn.open_websocket(&url(addr, "/two"), &[]).await.unwrap();
        let mut h2b = conn
            .open_websocket(&url(addr, "/three"), &[])
            .await
            .unwrap();
        for ws in [&mut h2a, &mut h2b] {
            ws.send(Message::binary(payload(70_000, 5))).await.unwrap();
            assert_eq!(
                ws.recv().await.unwrap().unwrap(),
                Message::binary(payload(70_000, 5))
            );
        }
        assert_eq!(versions.recv().await, Some(http::Version::HTTP_2));
        assert_eq!(versions.recv().await, Some(http::Version::HTTP_2));
        h1.close(CloseCode::NORMAL, "").await.unwrap();
        assert!(matches!(h1.recv().await, Some(Ok(Message::Close(_)))));
    })
    .await;
}

#[tokio::test]
async fn the_fallback_answers_other_http2_requests() {
    within(async {
        let (addr, _versions) = auto_echo_server().await;
        let health = http::Request::get("http://localhost/health")
            .version(http::Version::HTTP_2)
            .body(())
            .unwrap();
        assert_eq!(raw_request(addr, health).await, (200, "ok\n".to_owned()));
        let other = http::Request::get("http://localhost/other")
            .version(http::Version::HTTP_2)
            .body(())
            .unwrap();
        assert_eq!(raw_request(addr, other).await.0, 400);
    })
    .await;
}

#[tokio::test]
async fn a_client_that_stops_inside_the_preface_is_dropped_at_the_handshake_timeout() {
    within(async {
        use tokio::io::AsyncWriteExt;
        let config = Config::builder()
            .handshake_timeout(Duration::from_millis(200))
            .build();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            H2WebSocketServer::new(config)
                .serve_auto(tcp, |_ws, _req| async {})
                .await
        });
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(b"PRI * HTTP/2.0\r\n").await.unwrap();
        let err = server.await.unwrap().unwrap_err();
        assert!(matches!(err, Error::HandshakeTimeout), "{err}");
    })
    .await;
}

#[tokio::test]
async fn headers_beyond_the_configured_size_are_refused_and_the_connection_goes_on() {
    within(async {
        let config = Config::builder().max_handshake_header_bytes(4096).build();
        let addr = echo_server(config).await;
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (client, conn) = h2::client::handshake(tcp).await.unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut big = connect_request("/", Some("websocket"), "13");
        big.headers_mut()
            .insert("x-padding", "a".repeat(8000).parse().unwrap());
        let mut client = client.ready().await.unwrap();
        let (response, _send) = client.send_request(big, false).unwrap();
        match response.await {
            Ok(response) => assert_eq!(response.status(), 431),
            Err(e) => assert!(e.is_reset(), "{e}"),
        }
        // The same connection still serves a WebSocket of normal size.
        let mut client = client.ready().await.unwrap();
        let (response, _send) = client
            .send_request(connect_request("/", Some("websocket"), "13"), false)
            .unwrap();
        assert_eq!(response.await.unwrap().status(), 200);
    })
    .await;
}

#[tokio::test]
async fn too_many_header_lines_get_431() {
    within(async {
        let config = Config::builder().max_handshake_headers(8).build();
        let addr = echo_server(config).await;
        let mut request = connect_request("/", Some("websocket"), "13");
        for i in 0..10 {
            request.headers_mut().insert(
                format!("x-h{i}").parse::<http::HeaderName>().unwrap(),
                "v".parse().unwrap(),
            );
        }
        assert_eq!(raw_request(addr, request).await.0, 431);
    })
    .await;
}

/// A masked client frame, written by hand (independent of ws-proto's encoder).
fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x37, 0xfa, 0x21, 0x3d];
    let mut frame = vec![(u8::from(fin) << 7) | opcode];
    match payload.len() {
        n if n < 126 => frame.push(0x80 | n as u8),
        n if n <= 0xffff => {
            frame.push(0x80 | 126);
            frame.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            frame.push(0x80 | 127);
            frame.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    frame.extend_from_slice(&mask);
    frame.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i % 4]));
    frame
}

/// The unmasked server frames in `bytes`, (fin, opcode, payload) each; a trailing partial
/// frame is left out.
fn server_frames(mut bytes: &[u8]) -> Vec<(bool, u8, Vec<u8>)> {
    let mut frames = Vec::new();
    while bytes.len() >= 2 {
        let (fin, opcode) = (bytes[0] & 0x80 != 0, bytes[0] & 0x0f);
        assert_eq!(bytes[1] & 0x80, 0, "server frames are not masked");
        let (len, head) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            127 if bytes.len() >= 10 => (
                u64::from_be_bytes(bytes[2..10].try_into().unwrap()) as usize,
                10,
            ),
            126 | 127 => break,
            n => (usize::from(n), 2),
        };
        if bytes.len() < head + len {
            break;
        }
        frames.push((fin, opcode, bytes[head..head + len].to_vec()));
        bytes = &bytes[head + len..];
    }
    frames
}

/// Opens a WebSocket on `addr` with a raw h2 client, sends `frames`, and returns every frame
/// the server sends until it ends the stream (answering its close frame).
async fn raw_websocket(addr: SocketAddr, frames: &[Vec<u8>]) -> Vec<(bool, u8, Vec<u8>)> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    let (client, conn) = h2::client::handshake(tcp).await.unwrap();
    tokio::spawn(async move {
        let _ = conn.await;
    });
    let mut client = client.ready().await.unwrap();
    let (response, mut send) = client
        .send_request(connect_request("/", Some("websocket"), "13"), false)
        .unwrap();
    let response = response.await.unwrap();
    assert_eq!(response.status(), 200);
    for frame in frames {
        send.send_data(Bytes::copy_from_slice(frame), false)
            .unwrap();
    }
    let mut body = response.into_body();
    let mut received = Vec::new();
    let mut answered = false;
    while let Some(chunk) = body.data().await {
        let Ok(chunk) = chunk else { break };
        let _ = body.flow_control().release_capacity(chunk.len());
        received.extend_from_slice(&chunk);
        if !answered && server_frames(&received).iter().any(|f| f.1 == 0x8) {
            answered = true;
            let _ = send.send_data(Bytes::from(client_frame(true, 0x8, &[0x03, 0xe8])), true);
        }
    }
    server_frames(&received)
}

#[tokio::test]
async fn fragmented_text_with_a_split_character_and_a_ping_between_fragments() {
    within(async {
        let addr = echo_server(Config::default()).await;
        let text = "naïve café ☕ — done".as_bytes();
        let split = text.iter().position(|&b| b == 0xe2).unwrap() + 1; // inside '☕'
        let frames = [
            client_frame(false, 0x1, &text[..split]),
            client_frame(true, 0x9, b"are you there"),
            client_frame(false, 0x0, &text[split..split + 2]),
            client_frame(true, 0x0, &text[split + 2..]),
            client_frame(true, 0x8, &[0x03, 0xe8]),
        ];
        let got = raw_websocket(addr, &frames).await;
        assert_eq!(
            got[0],
            (true, 0xa, b"are you there".to_vec()),
            "the pong first"
        );
        assert_eq!(got[1], (true, 0x1, text.to_vec()), "then the whole text");
        assert_eq!(got[2].1, 0x8, "then the close reply");
    })
    .await;
}

/// The echo handler stops at the first error and drops its WebSocket: the close frame the
/// error queued must still reach the peer (as it does over TCP).
#[tokio::test]
async fn invalid_utf8_in_a_text_message_closes_with_1007() {
    within(async {
        let addr = echo_server(Config::default()).await;
        let frames = [
            client_frame(false, 0x1, "ok so far ".as_bytes()),
            client_frame(
                true,
                0x0,
                &[0xce, 0xba, 0xe1, 0xbd, 0xb9, 0xcf, 0x83, 0xff, 0x80],
            ),
        ];
        let got = raw_websocket(addr, &frames).await;
        let close = got.iter().find(|f| f.1 == 0x8).expect("a close frame");
        assert_eq!(u16::from_be_bytes([close.2[0], close.2[1]]), 1007);
        assert!(
            got.iter().all(|f| f.1 != 0x1),
            "nothing of the bad text is echoed"
        );
    })
    .await;
}

/// Regression: a peer's RST_STREAM while a send waits on the stream's window failed the send
/// with `BrokenPipe` (as if this side had shut the stream down) instead of `ConnectionReset`
/// carrying the peer's reason, as reads and every other reset report it. Seen with Node's
/// `http2` resetting a stream it had stopped reading.
#[tokio::test]
async fn a_send_blocked_on_the_window_fails_with_connection_reset_when_the_peer_resets() {
    within(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (error_tx, error_rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut error_tx = Some(error_tx);
            let _ = H2WebSocketServer::new(Config::default())
                .serve(tcp, move |mut ws, _| {
                    let error_tx = error_tx.take().unwrap();
                    async move {
                        let chunk = Message::binary(payload(16 << 10, 5));
                        let error = loop {
                            if let Err(e) = ws.send(chunk.clone()).await {
                                break e;
                            }
                        };
                        let _ = error_tx.send(error);
                    }
                })
                .await;
        });
        // A raw client with a small window that reads nothing, then resets the stream.
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (client, conn) = h2::client::Builder::new()
            .initial_window_size(16 << 10)
            .handshake::<_, Bytes>(tcp)
            .await
            .unwrap();
        tokio::spawn(async move {
            let _ = conn.await;
        });
        let mut client = client.ready().await.unwrap();
        let (response, mut send) = client
            .send_request(connect_request("/flood", Some("websocket"), "13"), false)
            .unwrap();
        let response = response.await.unwrap();
        assert_eq!(response.status(), 200);
        // Let the server fill the window and block.
        tokio::time::sleep(Duration::from_millis(200)).await;
        send.send_reset(h2::Reason::CANCEL);
        let error = tokio::time::timeout(Duration::from_secs(5), error_rx)
            .await
            .expect("the blocked send did not fail within 5 s of the reset")
            .unwrap();
        let ws_tokio::Error::Io(io) = &error else {
            panic!("expected an I/O error, got {error:?}");
        };
        assert_eq!(io.kind(), std::io::ErrorKind::ConnectionReset, "{io:?}");
        let h2_error = io
            .get_ref()
            .and_then(|e| e.downcast_ref::<h2::Error>())
            .unwrap_or_else(|| panic!("no h2::Error in {io:?}"));
        assert_eq!(h2_error.reason(), Some(h2::Reason::CANCEL), "{h2_error:?}");
    })
    .await;
}

/// A peer that stops reading the connection altogether (its TCP receive window fills): the
/// WebSocket's send fails at `send_timeout` as over TCP, and then the connection, which can
/// carry nothing more, is closed (GOAWAY, `close_timeout`) instead of lingering with its
/// unflushed streams.
#[tokio::test]
async fn a_peer_that_stops_reading_the_connection_is_let_go() {
    within(async {
        let config = Config::builder()
            .send_timeout(Duration::from_millis(300))
            .idle_timeout(Duration::from_millis(400))
            .close_timeout(Duration::from_millis(200))
            .build();
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (error_tx, error_rx) = tokio::sync::oneshot::channel();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut error_tx = Some(error_tx);
            H2WebSocketServer::new(config)
                .serve(tcp, move |mut ws, _| {
                    let error_tx = error_tx.take().unwrap();
                    async move {
                        let chunk = Message::binary(payload(16 << 10, 1));
                        let error = loop {
                            if let Err(e) = ws.send(chunk.clone()).await {
                                break e;
                            }
                        };
                        let _ = error_tx.send(error);
                    }
                })
                .await
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (client, mut conn) = h2::client::Builder::new()
            .initial_window_size(8 << 20)
            .initial_connection_window_size(8 << 20)
            .handshake::<_, Bytes>(tcp)
            .await
            .unwrap();
        let (freeze_tx, freeze_rx) = tokio::sync::oneshot::channel::<()>();
        let frozen = tokio::spawn(async move {
            tokio::select! {
                _ = &mut conn => {}
                _ = freeze_rx => {}
            }
            // Held, never polled again: the socket stays open and unread.
            tokio::time::sleep(TEST_TIMEOUT).await;
            drop(conn);
        });
        let mut client = client.ready().await.unwrap();
        let (response, _send) = client
            .send_request(connect_request("/", Some("websocket"), "13"), false)
            .unwrap();
        assert_eq!(response.await.unwrap().status(), 200);
        let _ = freeze_tx.send(());
        let error = error_rx.await.unwrap();
        assert_eq!(error.timeout_kind(), Some(TimeoutKind::Send), "{error}");
        let served = tokio::time::timeout(Duration::from_secs(5), server)
            .await
            .expect("the server still holds a connection that can carry nothing");
        assert!(served.unwrap().is_ok());
        frozen.abort();
    })
    .await;
}

/// The client's side of the same: a server that stops reading the connection. The WebSocket
/// fails at `send_timeout`; once it and the connection handle are dropped, the connection's
/// task (which would wait forever to flush its last frames) ends within `close_timeout`.
#[tokio::test(flavor = "current_thread")]
async fn the_client_lets_go_of_a_server_that_stopped_reading() {
    within(async {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (frozen_tx, frozen_rx) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut builder = h2::server::Builder::new();
            // Windows wide enough that the client's writes fill the TCP buffers, not the
            // windows: its last frames then cannot be written at all.
            builder
                .enable_connect_protocol()
                .initial_window_size(64 << 20)
                .initial_connection_window_size(64 << 20);
            let mut conn = builder.handshake::<_, Bytes>(tcp).await.unwrap();
            let (_request, mut respond) = conn.accept().await.unwrap().unwrap();
            let _send = respond
                .send_response(http::Response::new(()), false)
                .unwrap();
            // Flush the response, then never poll the connection again.
            let _ = tokio::time::timeout(Duration::from_millis(100), conn.accept()).await;
            let _ = frozen_tx.send(());
            tokio::time::sleep(TEST_TIMEOUT).await;
            drop(conn);
        });
        let config = Config::builder()
            .send_timeout(Duration::from_millis(300))
            .close_timeout(Duration::from_millis(200))
            .build();
        let conn = connect(addr, config).await;
        let mut ws = conn.open_websocket(&url(addr, "/"), &[]).await.unwrap();
        frozen_rx.await.unwrap();
        let chunk = Message::binary(payload(16 << 10, 2));
        let error = loop {
            if let Err(e) = ws.send(chunk.clone()).await {
                break e;
            }
        };
        assert_eq!(error.timeout_kind(), Some(TimeoutKind::Send), "{error}");
        drop(ws);
        drop(conn);
        // The frozen server's task is the only one left once the connection's task has ended.
        let metrics = tokio::runtime::Handle::current().metrics();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
        while metrics.num_alive_tasks() > 1 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(
            metrics.num_alive_tasks(),
            1,
            "the client's connection task outlived close_timeout"
        );
        server.abort();
    })
    .await;
}
