//! `wss://` (feature `tls`): our client ([`connect_tls`]) and our server ([`accept_tls`])
//! over loopback TCP with certificates generated at run time (`common::tls`).
//!
//! - messages both ways, up to 1 MiB;
//! - certificate verification: an unknown CA and a wrong name are refused with
//!   [`Error::Tls`], the peer's fault, on both sides;
//! - ALPN: `http/1.1` is offered when the client config has none, and a server choosing
//!   another protocol is refused;
//! - one `handshake_timeout` covers TLS and the WebSocket handshake, on both sides;
//! - `ws://` is refused by `connect_tls`, `wss://` by `connect`.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::tls::{HTTP11, TestCa, TestCert, localhost};
use common::{TEST_TIMEOUT, big_config, binary_payload, listener, text_payload, within};
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use ws_tokio::tls::rustls::{self, AlertDescription, CertificateError};
use ws_tokio::tls::tokio_rustls::{TlsAcceptor, TlsConnector, server};
use ws_tokio::tls::{accept_tls, accept_tls_with, connect_tls, connect_tls_with};
use ws_tokio::{
    Accept, ClientOptions, CloseCode, Config, ConnectionError, Error, Fault, HandshakeError,
    Message, Reject, WebSocketStream,
};

fn wss(addr: SocketAddr, path: &str) -> String {
    format!("wss://{addr}{path}")
}

/// Accepts one connection on `listener` and runs the TLS and WebSocket handshakes.
fn accept_one_tls(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    config: Config,
) -> JoinHandle<Result<WebSocketStream<server::TlsStream<TcpStream>>, Error>> {
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.expect("accept");
        accept_tls(tcp, &acceptor, config).await
    })
}

fn is_tls(err: &Error) -> Option<&rustls::Error> {
    match err {
        Error::Tls(e) => Some(e),
        _ => None,
    }
}

#[tokio::test]
async fn echo_text_and_a_mebibyte_over_wss() {
    within(TEST_TIMEOUT, async {
        let (ca, cert) = localhost();
        let config = big_config(2 << 20);
        let (listener, addr) = listener().await;
        let acceptor = cert.acceptor();
        let server_config = config.clone();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = accept_tls(tcp, &acceptor, server_config)
                .await
                .expect("server handshake");
            common::echo(ws).await
        });

        let mut ws = connect_tls(&wss(addr, "/echo"), config, ca.client_config())
            .await
            .expect("client handshake");
        let text = text_payload(1000, 1);
        ws.send_text(text.clone()).await.unwrap();
        match ws.recv().await {
            Some(Ok(Message::Text(echoed))) => assert!(*echoed == *text),
            other => panic!("text echo: {other:?}"),
        }
        let binary = binary_payload(1 << 20, 2);
        ws.send_binary(binary.clone()).await.unwrap();
        match ws.recv().await {
            Some(Ok(Message::Binary(echoed))) => assert!(echoed[..] == binary[..]),
            other => panic!("binary echo: {other:?}"),
        }
        ws.close(CloseCode::NORMAL, "done").await.unwrap();
        match ws.recv().await {
            Some(Ok(Message::Close(Some(reason)))) => assert_eq!(reason.code, CloseCode::NORMAL),
            other => panic!("close reply: {other:?}"),
        }
        assert!(ws.recv().await.is_none(), "the stream ends after the close");
        assert_eq!(server.await.unwrap(), 2);
    })
    .await;
}

#[tokio::test]
async fn alpn_http11_is_offered_and_chosen() {
    within(TEST_TIMEOUT, async {
        let (ca, cert) = localhost();
        // The client config names no ALPN: connect_tls offers http/1.1.
        assert!(ca.client_config().alpn_protocols.is_empty());
        let (listener, addr) = listener().await;
        let server = accept_one_tls(listener, cert.acceptor(), Config::default());
        let ws = connect_tls(&wss(addr, "/"), Config::default(), ca.client_config())
            .await
            .expect("client handshake");
        assert_eq!(ws.get_ref().get_ref().1.alpn_protocol(), Some(HTTP11));
        let server_ws = server.await.unwrap().expect("server handshake");
        assert_eq!(
            server_ws.get_ref().get_ref().1.alpn_protocol(),
            Some(HTTP11)
        );

        // A client config with ALPN of its own is used as it is.
        let (listener, addr) = common::listener().await;
        let server = accept_one_tls(listener, cert.acceptor(), Config::default());
        let tls = Arc::new(ca.client_config_with_alpn(&[HTTP11]));
        let ws = connect_tls(&wss(addr, "/"), Config::default(), tls)
            .await
            .expect("client handshake");
        assert_eq!(ws.get_ref().get_ref().1.alpn_protocol(), Some(HTTP11));
        server.await.unwrap().expect("server handshake");
    })
    .await;
}

#[tokio::test]
async fn a_server_choosing_another_alpn_protocol_is_refused() {
    within(TEST_TIMEOUT, async {
        let (ca, cert) = localhost();
        let (listener, addr) = listener().await;
        let acceptor = TlsAcceptor::from(cert.server_config(&[b"h2"]));
        // A plain TLS server: it chooses h2 and then waits for our (absent) HTTP/2 preface.
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut tls = acceptor.accept(tcp).await.expect("TLS handshake");
            assert_eq!(tls.get_ref().1.alpn_protocol(), Some(&b"h2"[..]));
            let mut rest = Vec::new();
            let _ = tls.read_to_end(&mut rest).await;
            rest
        });
        let tls = Arc::new(ca.client_config_with_alpn(&[b"h2", HTTP11]));
        let err = connect_tls(&wss(addr, "/"), Config::default(), tls)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Handshake(HandshakeError::InvalidInput(_))),
            "{err:?}"
        );
        assert_eq!(err.fault(), Fault::Local);
        assert!(
            server.await.unwrap().is_empty(),
            "no HTTP/1.1 request was sent"
        );
    })
    .await;
}

/// Our client against a server presenting `cert`: returns the client's and the server's
/// errors.
async fn refused(client: Arc<rustls::ClientConfig>, cert: &TestCert) -> (Error, Error) {
    let (listener, addr) = listener().await;
    let server = accept_one_tls(listener, cert.acceptor(), Config::default());
    let client_err = connect_tls(&wss(addr, "/"), Config::default(), client)
        .await
        .map(|_| ())
        .unwrap_err();
    let server_err = server.await.unwrap().map(|_| ()).unwrap_err();
    (client_err, server_err)
}

#[tokio::test]
async fn a_certificate_from_an_unknown_ca_is_refused() {
    within(TEST_TIMEOUT, async {
        let (_, cert) = localhost();
        let stranger = TestCa::new("some other CA");
        let (client_err, server_err) = refused(stranger.client_config(), &cert).await;

        assert_eq!(
            is_tls(&client_err),
            Some(&rustls::Error::InvalidCertificate(
                CertificateError::UnknownIssuer
            )),
            "{client_err:?}"
        );
        assert_eq!(client_err.fault(), Fault::Peer);
        assert!(client_err.to_string().starts_with("TLS error: "));
        assert!(std::error::Error::source(&client_err).is_some());
        assert_eq!(client_err.close_code(), None);
        assert!(client_err.is_fatal());

        // The server hears why: the client's alert.
        assert_eq!(
            is_tls(&server_err),
            Some(&rustls::Error::AlertReceived(AlertDescription::UnknownCA)),
            "{server_err:?}"
        );
        assert_eq!(server_err.fault(), Fault::Peer);
    })
    .await;
}

#[tokio::test]
async fn a_certificate_for_another_name_is_refused() {
    within(TEST_TIMEOUT, async {
        let ca = TestCa::new("sockudo-ws test CA");
        let cert = ca.leaf(&["wrong.example"]);
        let (client_err, server_err) = refused(ca.client_config(), &cert).await;
        assert!(
            matches!(
                is_tls(&client_err),
                Some(rustls::Error::InvalidCertificate(
                    CertificateError::NotValidForName
                        | CertificateError::NotValidForNameContext { .. }
                ))
            ),
            "{client_err:?}"
        );
        assert_eq!(client_err.fault(), Fault::Peer);
        assert_eq!(
            is_tls(&server_err),
            Some(&rustls::Error::AlertReceived(
                AlertDescription::BadCertificate
            )),
            "{server_err:?}"
        );
        assert_eq!(server_err.fault(), Fault::Peer);
    })
    .await;
}

/// A short handshake deadline; the tests check the server waits at least this long, and
/// give it a few seconds more to give up.
const SHORT: Duration = Duration::from_millis(300);

fn short_timeout() -> Config {
    Config::builder().handshake_timeout(SHORT).build()
}

#[tokio::test]
async fn a_client_that_sends_no_client_hello_is_dropped_after_the_handshake_timeout() {
    within(TEST_TIMEOUT, async {
        let (_, cert) = localhost();
        let (listener, addr) = listener().await;
        let acceptor = cert.acceptor();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let start = Instant::now();
            let result = accept_tls(tcp, &acceptor, short_timeout()).await;
            (result.map(|_| ()), start.elapsed())
        });
        let mut silent = TcpStream::connect(addr).await.unwrap();
        // The server drops the connection: we read its end (nothing was sent, no alert).
        let mut buf = Vec::new();
        let read = within(SHORT + Duration::from_secs(5), silent.read_to_end(&mut buf)).await;
        assert!(matches!(read, Ok(0)) || read.is_err(), "{read:?}, {buf:?}");
        let (result, elapsed) = server.await.unwrap();
        let err = result.unwrap_err();
        assert!(matches!(err, Error::HandshakeTimeout), "{err:?}");
        assert_eq!(err.fault(), Fault::Peer);
        assert!(elapsed >= SHORT, "gave up after {elapsed:?}");
    })
    .await;
}

#[tokio::test]
async fn one_deadline_covers_tls_and_the_websocket_handshake() {
    within(TEST_TIMEOUT, async {
        let (ca, cert) = localhost();
        let (listener, addr) = listener().await;
        let server = accept_one_tls(listener, cert.acceptor(), short_timeout());
        // TLS completes, then the client sends no upgrade request.
        let connector = TlsConnector::from(Arc::new(ca.client_config_with_alpn(&[HTTP11])));
        let tcp = TcpStream::connect(addr).await.unwrap();
        let name = rustls::pki_types::ServerName::try_from("localhost").unwrap();
        let mut tls = connector.connect(name, tcp).await.expect("TLS handshake");
        let err = within(SHORT + Duration::from_secs(5), server)
            .await
            .unwrap()
            .map(|_| ())
            .unwrap_err();
        assert!(matches!(err, Error::HandshakeTimeout), "{err:?}");
        let mut buf = Vec::new();
        let _ = within(Duration::from_secs(5), tls.read_to_end(&mut buf)).await;
        assert!(buf.is_empty(), "no response was sent: {buf:?}");
    })
    .await;
}

#[tokio::test]
async fn connect_tls_times_out_on_a_server_that_never_answers() {
    within(TEST_TIMEOUT, async {
        let (ca, _) = localhost();
        let (listener, addr) = listener().await;
        // Accepts the TCP connection and then says nothing; ends when the client gives up.
        let server = tokio::spawn(async move {
            let (mut tcp, _) = listener.accept().await.unwrap();
            let mut hello = Vec::new();
            let _ = tcp.read_to_end(&mut hello).await;
            hello
        });
        let start = Instant::now();
        let err = connect_tls(&wss(addr, "/"), short_timeout(), ca.client_config())
            .await
            .map(|_| ())
            .unwrap_err();
        assert!(matches!(err, Error::HandshakeTimeout), "{err:?}");
        assert!(start.elapsed() >= SHORT);
        let hello = server.await.unwrap();
        assert_eq!(
            hello.first(),
            Some(&0x16),
            "a TLS handshake record was sent"
        );
    })
    .await;
}

#[tokio::test]
async fn subprotocols_and_refusals_through_the_callback() {
    within(TEST_TIMEOUT, async {
        let (ca, cert) = localhost();
        let (listener, addr) = listener().await;
        let acceptor = cert.acceptor();
        let server = tokio::spawn(async move {
            let mut outcomes = Vec::new();
            for _ in 0..2 {
                let (tcp, _) = listener.accept().await.unwrap();
                let outcome = accept_tls_with(tcp, &acceptor, Config::default(), |req| {
                    if req.path != "/chat" {
                        return Err(Reject::new(404, "no such endpoint"));
                    }
                    let chosen = req
                        .subprotocols()
                        .contains(&"chat.v1")
                        .then(|| "chat.v1".to_string());
                    Ok(Accept {
                        subprotocol: chosen,
                        ..Default::default()
                    })
                })
                .await;
                outcomes.push(outcome.map(|ws| ws.subprotocol().map(str::to_owned)));
            }
            outcomes
        });

        let options = ClientOptions {
            subprotocols: &["chat.v1"],
            ..Default::default()
        };
        let ws = connect_tls_with(
            &wss(addr, "/chat"),
            Config::default(),
            ca.client_config(),
            &options,
        )
        .await
        .expect("accepted");
        assert_eq!(ws.subprotocol(), Some("chat.v1"));
        let err = connect_tls(
            &wss(addr, "/elsewhere"),
            Config::default(),
            ca.client_config(),
        )
        .await
        .map(|_| ())
        .unwrap_err();
        assert!(
            matches!(err, Error::Handshake(HandshakeError::BadStatus(404))),
            "{err:?}"
        );

        let outcomes = server.await.unwrap();
        assert_eq!(outcomes[0].as_ref().unwrap().as_deref(), Some("chat.v1"));
        assert!(matches!(outcomes[1], Err(Error::Refused(404))));
    })
    .await;
}

#[tokio::test]
async fn ws_urls_are_refused_by_connect_tls_and_wss_urls_by_connect() {
    within(TEST_TIMEOUT, async {
        let (ca, _) = localhost();
        // Nothing listens: the URL is refused before any connection is made.
        let err = connect_tls("ws://127.0.0.1:1/", Config::default(), ca.client_config())
            .await
            .map(|_| ())
            .unwrap_err();
        assert!(
            matches!(err, Error::Connection(ConnectionError::InvalidInput(_))),
            "{err:?}"
        );
        assert_eq!(err.fault(), Fault::Local);
        assert!(err.to_string().contains("ws_tokio::connect"), "{err}");

        let err = ws_tokio::connect("wss://127.0.0.1:1/", Config::default())
            .await
            .map(|_| ())
            .unwrap_err();
        assert!(err.to_string().contains("connect_tls"), "{err}");
    })
    .await;
}

/// Many servers close TCP without a TLS `close_notify`. Once the WebSocket close handshake
/// is over, that truncation loses nothing: the stream ends cleanly.
#[tokio::test]
async fn a_server_that_closes_without_close_notify_after_the_close_handshake() {
    within(TEST_TIMEOUT, async {
        let (ca, cert) = localhost();
        let (listener, addr) = listener().await;
        let acceptor = cert.acceptor();
        let server = tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let tls = acceptor.accept(tcp).await.expect("TLS handshake");
            let mut peer = common::RawPeer {
                tcp: tls,
                buf: Vec::new(),
                is_client: false,
            };
            let head = peer.read_head().await;
            peer.write(common::switching_protocols(&head).as_bytes())
                .await;
            let close = peer.expect_frame().await;
            assert_eq!(close.close_code(), Some(1000));
            peer.send(true, common::OP_CLOSE, &close.payload).await;
            // Drop the TCP connection under TLS: no close_notify.
            let (tcp, _) = peer.tcp.into_inner();
            drop(tcp);
        });
        let mut ws = connect_tls(&wss(addr, "/"), Config::default(), ca.client_config())
            .await
            .expect("client handshake");
        ws.close(CloseCode::NORMAL, "bye").await.unwrap();
        match ws.recv().await {
            Some(Ok(Message::Close(Some(reason)))) => assert_eq!(reason.code, CloseCode::NORMAL),
            other => panic!("close reply: {other:?}"),
        }
        let end = ws.recv().await;
        assert!(end.is_none(), "{end:?}");
        server.await.unwrap();
    })
    .await;
}
