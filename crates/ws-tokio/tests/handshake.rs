//! The HTTP/1.1 opening handshake over TCP: refusals seen raw and through `connect`, an
//! `Origin` policy in the `accept_with` callback, subprotocol selection seen by the client, the handshake timeout against a slow-loris client,
//! header limits (431), malformed requests, and a client facing a bad server.

mod common;

use std::time::{Duration, Instant};

use common::{
    DUPLEX_CAPACITY, RawPeer, SAMPLE_KEY, TEST_TIMEOUT, listener, switching_protocols,
    upgrade_request, url, within,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use ws_proto::handshake::{ClientOptions, HandshakeError};
use ws_proto::http::{HeaderName, HeaderValue};
use ws_tokio::{Accept, Config, ConnectionError, Error, Fault, Message, Reject};

/// Reads everything until the server closes the connection.
async fn read_to_end(tcp: &mut TcpStream) -> String {
    let mut out = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        match tcp.read(&mut chunk).await {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&chunk[..n]),
            // A reset after the response (the server closed with our bytes unread) is fine;
            // what was received before it is what counts.
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("read: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Runs `accept_with` refusing every request with 403, in a task.
fn refusing_server(listener: TcpListener) -> tokio::task::JoinHandle<Error> {
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let result = ws_tokio::accept_with(tcp, Config::default(), |req| {
            assert_eq!(req.path, "/private?x=1");
            Err(Reject::new(403, "members only"))
        })
        .await;
        result.expect_err("refused")
    })
}

#[tokio::test]
async fn refusal_403_seen_raw() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let server = refusing_server(listener);

        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(upgrade_request(addr, "/private?x=1", "").as_bytes())
            .await
            .unwrap();
        let response = read_to_end(&mut tcp).await;
        assert!(response.starts_with("HTTP/1.1 403 "), "{response}");
        assert!(response.ends_with("members only\n"), "{response}");
        assert!(!response.contains("Sec-WebSocket-Accept"), "{response}");

        let err = server.await.unwrap();
        assert!(matches!(err, Error::Refused(403)), "{err:?}");
        assert_eq!(err.fault(), Fault::Local);
    })
    .await;
}

#[tokio::test]
async fn refusal_403_seen_by_connect() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let server = refusing_server(listener);

        let err = ws_tokio::connect(&url(addr, "/private?x=1"), Config::default())
            .await
            .expect_err("refused");
        assert!(
            matches!(err, Error::Handshake(HandshakeError::BadStatus(403))),
            "{err:?}"
        );
        assert_eq!(err.fault(), Fault::Peer, "the server refused: its doing");
        assert!(matches!(server.await.unwrap(), Error::Refused(403)));
    })
    .await;
}

/// The origin whose pages may connect in [`origin_policy`].
const ALLOWED_ORIGIN: &str = "https://app.example.com";

/// The `Origin` policy of the `origin_check` example (sockudo-ws): browsers do not apply the
/// same-origin policy to WebSockets, so the callback refuses a foreign `Origin` (or several)
/// with 403; a request without one is not from a browser page and passes.
fn origin_policy(req: &ws_proto::handshake::HandshakeRequest) -> Result<Accept, Reject> {
    let mut origins = req.header_all("origin");
    match (origins.next(), origins.next()) {
        (None, _) => Ok(Accept::default()),
        (Some(origin), None) if origin.eq_ignore_ascii_case(ALLOWED_ORIGIN) => {
            Ok(Accept::default())
        }
        _ => Err(Reject::new(403, "origin not allowed")),
    }
}

#[tokio::test]
async fn foreign_origin_gets_403_and_allowed_origin_gets_101() {
    within(TEST_TIMEOUT, async {
        const CONNECTIONS: usize = 5;
        let (listener, addr) = listener().await;
        // One connection after the other; each one's outcome: the messages echoed, or the
        // handshake's error.
        let server = tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for _ in 0..CONNECTIONS {
                let (tcp, _) = listener.accept().await.unwrap();
                let outcome =
                    match ws_tokio::accept_with(tcp, Config::default(), origin_policy).await {
                        Ok(mut ws) => {
                            // Echo until the stream ends (or the raw peer goes away).
                            let mut echoed = 0;
                            while let Some(Ok(message)) = ws.recv().await {
                                if message.is_text() && ws.send(message).await.is_ok() {
                                    echoed += 1;
                                }
                            }
                            Ok(echoed)
                        }
                        Err(e) => Err(e),
                    };
                outcomes.push(outcome);
            }
            outcomes
        });

        // A page of another origin, seen raw: 403 and no WebSocket.
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        tcp.write_all(upgrade_request(addr, "/", "Origin: https://evil.example\r\n").as_bytes())
            .await
            .unwrap();
        let response = read_to_end(&mut tcp).await;
        assert!(response.starts_with("HTTP/1.1 403 "), "{response}");
        assert!(response.ends_with("origin not allowed\n"), "{response}");
        assert!(!response.contains("Sec-WebSocket-Accept"), "{response}");

        // The same through the client: the refusal is the server's 403.
        let tcp = TcpStream::connect(addr).await.unwrap();
        let foreign = ClientOptions {
            origin: Some("https://evil.example"),
            ..Default::default()
        };
        let err = ws_tokio::client_with(tcp, &url(addr, "/"), Config::default(), &foreign)
            .await
            .expect_err("foreign origin refused");
        assert!(
            matches!(err, Error::Handshake(HandshakeError::BadStatus(403))),
            "{err:?}"
        );

        // An allowed origin next to a foreign one is still refused.
        let mut tcp = TcpStream::connect(addr).await.unwrap();
        let both = format!("Origin: {ALLOWED_ORIGIN}\r\nOrigin: https://evil.example\r\n");
        tcp.write_all(upgrade_request(addr, "/", &both).as_bytes())
            .await
            .unwrap();
        let response = read_to_end(&mut tcp).await;
        assert!(response.starts_with("HTTP/1.1 403 "), "{response}");

        // The allowed origin (in any letter case) gets its 101 and a working WebSocket.
        let tcp = TcpStream::connect(addr).await.unwrap();
        let (mut peer, head) =
            RawPeer::handshake_client(tcp, addr, "/", "Origin: HTTPS://App.Example.com\r\n").await;
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        peer.send(true, common::OP_TEXT, b"from our page").await;
        let echoed = peer.expect_frame().await;
        assert_eq!(
            (echoed.opcode, echoed.payload.as_slice()),
            (common::OP_TEXT, &b"from our page"[..])
        );
        drop(peer);

        // No `Origin` at all: not a browser page, accepted by this policy.
        let tcp = TcpStream::connect(addr).await.unwrap();
        let mut ws = ws_tokio::client_with(
            tcp,
            &url(addr, "/"),
            Config::default(),
            &ClientOptions::default(),
        )
        .await
        .expect("no Origin is accepted");
        ws.close(1000u16, "").await.unwrap();
        while ws.recv().await.is_some() {}

        let outcomes = server.await.unwrap();
        assert_eq!(outcomes.len(), CONNECTIONS);
        for outcome in &outcomes[..3] {
            assert!(matches!(outcome, Err(Error::Refused(403))), "{outcome:?}");
        }
        assert!(matches!(outcomes[3], Ok(1)), "{:?}", outcomes[3]);
        assert!(matches!(outcomes[4], Ok(0)), "{:?}", outcomes[4]);
    })
    .await;
}

/// The client offers two subprotocols; the server's callback picks one, and both ends see the
/// choice (the client from the response, through `WebSocketStream::subprotocol`).
#[tokio::test]
async fn subprotocol_selection_is_seen_by_the_client() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = ws_tokio::accept_with(tcp, Config::default(), |req| {
                assert_eq!(req.subprotocols(), ["chat.v2", "chat.v1"]);
                assert_eq!(req.header("x-token"), Some("secret"));
                Ok(Accept::subprotocol("chat.v1").with_header(
                    HeaderName::from_static("x-server"),
                    HeaderValue::from_static("sockudo"),
                ))
            })
            .await
            .unwrap();
            assert_eq!(ws.subprotocol(), Some("chat.v1"));
            common::echo(ws).await
        });

        let tcp = TcpStream::connect(addr).await.unwrap();
        let options = ClientOptions {
            subprotocols: &["chat.v2", "chat.v1"],
            extra_headers: &[("X-Token", "secret")],
            ..Default::default()
        };
        let mut ws = ws_tokio::client_with(tcp, &url(addr, "/chat"), Config::default(), &options)
            .await
            .unwrap();
        assert_eq!(ws.subprotocol(), Some("chat.v1"));
        // It survives split and reunite.
        let (reader, writer) = ws.split();
        ws = ws_tokio::reunite(reader, writer).unwrap();
        assert_eq!(ws.subprotocol(), Some("chat.v1"));

        ws.send_text("hi").await.unwrap();
        assert_eq!(ws.recv().await.unwrap().unwrap(), Message::text("hi"));
        ws.close(1000u16, "").await.unwrap();
        while ws.recv().await.is_some() {}
        assert_eq!(server.await.unwrap(), 1);
    })
    .await;
}

/// The raw response names the chosen subprotocol and the extra header; without an offer
/// nothing is chosen.
#[tokio::test]
async fn subprotocol_and_extra_headers_on_the_wire() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let mut protocols = Vec::new();
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                let ws = ws_tokio::accept_with(tcp, Config::default(), |req| {
                    let chosen = req
                        .subprotocols()
                        .contains(&"mqtt")
                        .then(|| "mqtt".to_string());
                    Ok(Accept {
                        subprotocol: chosen,
                        ..Accept::default()
                    }
                    .with_header(
                        HeaderName::from_static("x-server"),
                        HeaderValue::from_static("sockudo"),
                    ))
                })
                .await
                .unwrap();
                protocols.push(ws.subprotocol().map(str::to_owned));
            }
            protocols
        });

        let tcp = TcpStream::connect(addr).await.unwrap();
        let (_, head) =
            RawPeer::handshake_client(tcp, addr, "/", "Sec-WebSocket-Protocol: x, mqtt\r\n").await;
        assert!(
            head.contains("\r\nSec-WebSocket-Protocol: mqtt\r\n"),
            "{head}"
        );
        assert!(head.contains("\r\nX-Server: sockudo\r\n"), "{head}");

        let (_, head) = RawPeer::connect(addr, "/").await;
        assert!(
            !head.to_ascii_lowercase().contains("sec-websocket-protocol"),
            "{head}"
        );

        assert_eq!(server.await.unwrap(), [Some("mqtt".to_owned()), None]);
    })
    .await;
}

/// The callback names a subprotocol the client did not offer: it is not sent (a client must
/// fail a handshake naming one it did not offer), and the connection has none.
#[tokio::test]
async fn subprotocol_not_offered_is_not_selected() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = ws_tokio::accept_with(tcp, Config::default(), |_| {
                Ok(Accept {
                    subprotocol: Some("unoffered".into()),
                    ..Default::default()
                })
            })
            .await
            .unwrap();
            ws.subprotocol().map(str::to_owned)
        });
        let tcp = TcpStream::connect(addr).await.unwrap();
        let options = ClientOptions {
            subprotocols: &["chat"],
            ..Default::default()
        };
        let ws = ws_tokio::client_with(tcp, &url(addr, "/"), Config::default(), &options)
            .await
            .expect("handshake succeeds without a subprotocol");
        assert_eq!(ws.subprotocol(), None);
        assert_eq!(server.await.unwrap(), None);
    })
    .await;
}

/// A client that sends its request one byte every 50 ms never completes it within the
/// handshake timeout: `accept` fails with `Timeout(Handshake)` and the connection is dropped.
/// Over an in-memory pipe in virtual time (tokio's paused clock), so the timeout is checked
/// between its value and 5/4 of it.
#[tokio::test(start_paused = true)]
async fn slow_loris_is_cut_off_after_the_handshake_timeout() {
    within(TEST_TIMEOUT, async {
        let handshake_timeout = Duration::from_millis(300);
        let (ours, mut theirs) = tokio::io::duplex(DUPLEX_CAPACITY);
        let server = tokio::spawn(async move {
            let config = Config::builder()
                .handshake_timeout(handshake_timeout)
                .build();
            let start = tokio::time::Instant::now();
            let result = ws_tokio::accept(ours, config).await;
            (result.map(|_| ()), start.elapsed())
        });

        // Only the Host header: nothing connects to this address.
        let request = upgrade_request("127.0.0.1:9".parse().unwrap(), "/", "");
        let mut cut_off = false;
        for byte in request.as_bytes() {
            if theirs.write_all(&[*byte]).await.is_err() {
                cut_off = true;
                break;
            }
            // The server dropping the connection shows up as EOF on our side.
            let mut probe = [0u8; 1];
            if let Ok(read) =
                tokio::time::timeout(Duration::from_millis(50), theirs.read(&mut probe)).await
            {
                assert!(
                    matches!(read, Ok(0) | Err(_)),
                    "the server answered: {read:?}"
                );
                cut_off = true;
                break;
            }
        }
        assert!(cut_off, "the whole request went through the slow loris");

        let (result, elapsed) = server.await.unwrap();
        let err = result.expect_err("timed out");
        assert!(matches!(err, Error::HandshakeTimeout), "{err:?}");
        assert_eq!(err.fault(), Fault::Peer);
        assert!(elapsed >= handshake_timeout, "{elapsed:?}");
        assert!(elapsed <= handshake_timeout * 5 / 4, "{elapsed:?}");
    })
    .await;
}

async fn expect_rejection(extra_or_request: &str, raw: bool, status: &str) -> Error {
    let (listener, addr) = listener().await;
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let config = Config::builder()
            .max_handshake_header_bytes(1024)
            .max_handshake_headers(16)
            .build();
        ws_tokio::accept(tcp, config).await.map(|_| ())
    });
    let mut tcp = TcpStream::connect(addr).await.unwrap();
    let request = if raw {
        extra_or_request.to_owned()
    } else {
        upgrade_request(addr, "/", extra_or_request)
    };
    // The write may fail once the server has answered and closed; the answer still counts.
    let _ = tcp.write_all(request.as_bytes()).await;
    let response = read_to_end(&mut tcp).await;
    assert!(
        response.starts_with(&format!("HTTP/1.1 {status} ")),
        "expected {status}, got {response:?}"
    );
    server.await.unwrap().expect_err("rejected")
}

#[tokio::test]
async fn oversized_header_gets_431() {
    within(TEST_TIMEOUT, async {
        let big = format!("X-Big: {}\r\n", "a".repeat(2000));
        let err = expect_rejection(&big, false, "431").await;
        assert!(
            matches!(err, Error::Handshake(HandshakeError::HeadTooLarge)),
            "{err:?}"
        );
        assert_eq!(err.fault(), Fault::Peer);
    })
    .await;
}

#[tokio::test]
async fn too_many_headers_get_431() {
    within(TEST_TIMEOUT, async {
        let many: String = (0..20).map(|i| format!("X-H{i}: v\r\n")).collect();
        let err = expect_rejection(&many, false, "431").await;
        assert!(
            matches!(err, Error::Handshake(HandshakeError::TooManyHeaders)),
            "{err:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn malformed_requests_get_400_and_426() {
    within(TEST_TIMEOUT, async {
        // No Sec-WebSocket-Key.
        let request = "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
                       Sec-WebSocket-Version: 13\r\n\r\n";
        let err = expect_rejection(request, true, "400").await;
        assert!(
            matches!(err, Error::Handshake(HandshakeError::BadKey)),
            "{err:?}"
        );

        // Not an upgrade at all.
        let request = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";
        let err = expect_rejection(request, true, "400").await;
        assert!(matches!(err, Error::Handshake(_)), "{err:?}");

        // POST.
        let request = format!(
            "POST / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
        );
        let err = expect_rejection(&request, true, "400").await;
        assert!(
            matches!(err, Error::Handshake(HandshakeError::MethodNotGet)),
            "{err:?}"
        );

        // Version 8 gets 426 with the version we speak.
        let request = format!(
            "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {SAMPLE_KEY}\r\nSec-WebSocket-Version: 8\r\n\r\n"
        );
        let err = expect_rejection(&request, true, "426").await;
        assert!(
            matches!(err, Error::Handshake(HandshakeError::UnsupportedVersion)),
            "{err:?}"
        );
    })
    .await;
}

/// The client gives up on a server that accepts TCP but never answers.
#[tokio::test]
async fn client_handshake_timeout() {
    within(TEST_TIMEOUT, async {
        let (listener, addr) = listener().await;
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            // Read the request, answer nothing, and wait for the client to go.
            let mut sink = Vec::new();
            let _ = tcp.read_to_end(&mut sink).await;
        });
        let config = Config::builder()
            .handshake_timeout(Duration::from_millis(300))
            .build();
        let start = Instant::now();
        let err = ws_tokio::connect(&url(addr, "/"), config)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::HandshakeTimeout), "{err:?}");
        assert!(start.elapsed() >= Duration::from_millis(300));
        server.await.unwrap();
    })
    .await;
}

/// Each of the client's checks of the 101 response, against a scripted server.
#[tokio::test]
async fn client_rejects_a_bad_upgrade_response() {
    within(TEST_TIMEOUT, async {
        type Mangle = fn(String) -> String;
        type Check = fn(&HandshakeError) -> bool;
        let cases: [(Mangle, Check); 6] = [
            (
                |r| r.replace("HTTP/1.1 101", "HTTP/1.0 101"),
                |e| matches!(e, HandshakeError::BadResponseVersion { major: 1, minor: 0 }),
            ),
            (
                |r| r.replace("HTTP/1.1 101", "HTTP/2 101"),
                |e| matches!(e, HandshakeError::BadResponseVersion { major: 2, minor: 0 }),
            ),
            (
                |r| r.replace("Sec-WebSocket-Accept: ", "Sec-WebSocket-Accept: x"),
                |e| matches!(e, HandshakeError::BadAccept),
            ),
            (
                |r| r.replace("Upgrade: websocket\r\n", ""),
                |e| matches!(e, HandshakeError::MissingUpgrade),
            ),
            (
                |r| r.replace("\r\n\r\n", "\r\nSec-WebSocket-Protocol: nope\r\n\r\n"),
                |e| matches!(e, HandshakeError::UnexpectedSubprotocol),
            ),
            (
                |r| {
                    r.replace(
                        "\r\n\r\n",
                        "\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n",
                    )
                },
                |e| matches!(e, HandshakeError::UnexpectedExtension),
            ),
        ];
        for (mangle, expected) in cases {
            let (listener, addr) = listener().await;
            let server = tokio::spawn(async move {
                let (tcp, _) = listener.accept().await.unwrap();
                let mut peer = RawPeer::server(tcp);
                let head = peer.read_head().await;
                peer.write(mangle(switching_protocols(&head)).as_bytes())
                    .await;
                peer
            });
            let err = ws_tokio::connect(&url(addr, "/"), Config::default())
                .await
                .unwrap_err();
            match &err {
                Error::Handshake(e) => assert!(expected(e), "{e:?}"),
                other => panic!("expected a handshake error, got {other:?}"),
            }
            assert_eq!(err.fault(), Fault::Peer);
            drop(server.await.unwrap());
        }
    })
    .await;
}

#[tokio::test]
async fn connect_errors_are_local_or_io() {
    within(TEST_TIMEOUT, async {
        let err = ws_tokio::connect("wss://127.0.0.1:1/", Config::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Connection(ConnectionError::InvalidInput(_))),
            "{err:?}"
        );
        assert_eq!(err.fault(), Fault::Local);

        let err = ws_tokio::connect("http://127.0.0.1/", Config::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Handshake(HandshakeError::BadUrl(_))),
            "{err:?}"
        );
        assert_eq!(err.fault(), Fault::Local);

        // A port nobody listens on: bind one, then free it.
        let (listener, addr) = listener().await;
        drop(listener);
        let err = ws_tokio::connect(&url(addr, "/"), Config::default())
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Io(_)), "{err:?}");
        assert_eq!(err.fault(), Fault::Io);
    })
    .await;
}

/// A config that cannot work is refused before a byte is read or written, naming its field.
#[tokio::test]
async fn an_invalid_config_is_refused_by_accept_and_connect() {
    within(TEST_TIMEOUT, async {
        let bad = Config::builder().fragment_size(0).build();
        let (a, _b) = tokio::io::duplex(1024);
        let err = ws_tokio::accept(a, bad.clone()).await.unwrap_err();
        match &err {
            Error::Connection(ConnectionError::InvalidConfig(e)) => {
                assert_eq!(e.field(), "fragment_size")
            }
            other => panic!("expected InvalidConfig, got {other:?}"),
        }
        assert_eq!(err.fault(), Fault::Local);
        let err = ws_tokio::connect("ws://127.0.0.1:9/", bad)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Connection(ConnectionError::InvalidConfig(_))),
            "{err:?}"
        );
    })
    .await;
}
