//! wss:// over HTTP/2, and one TLS listener for HTTP/1.1 and HTTP/2 chosen by ALPN (feature
//! `tls`). Certificates: a test CA and a leaf for `localhost` / `127.0.0.1`, made at run time.

#[path = "../../ws-tokio/tests/common/tls.rs"]
mod tls;

use std::net::SocketAddr;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use ws_h2::{ALPN_H2, ALPN_HTTP11, Error, H2WebSocketClient, H2WebSocketServer};
use ws_proto::{Config, Fault, Message};

async fn within<F: std::future::Future>(fut: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(30), fut)
        .await
        .expect("the test did not finish within its deadline")
}

/// A TLS echo server offering `h2` and `http/1.1`; reports each WebSocket's HTTP version.
async fn tls_echo_server(
    cert: &tls::TestCert,
) -> (SocketAddr, mpsc::UnboundedReceiver<http::Version>) {
    let acceptor =
        ws_tokio::tls::tokio_rustls::TlsAcceptor::from(cert.server_config(&[ALPN_H2, ALPN_HTTP11]));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                let _ = H2WebSocketServer::new(Config::default())
                    .serve_tls(
                        tcp,
                        &acceptor,
                        |_| Ok(Default::default()),
                        move |mut ws, req| {
                            let _ = tx.send(req.version);
                            async move {
                                while let Some(Ok(msg)) = ws.recv().await {
                                    if (msg.is_text() || msg.is_binary())
                                        && ws.send(msg).await.is_err()
                                    {
                                        break;
                                    }
                                }
                            }
                        },
                    )
                    .await;
            });
        }
    });
    (addr, rx)
}

#[tokio::test]
async fn wss_over_http2_and_http11_on_one_tls_listener() {
    within(async {
        let (ca, cert) = tls::localhost();
        let (addr, mut versions) = tls_echo_server(&cert).await;
        let url = format!("wss://localhost:{}/echo", addr.port());

        let client = H2WebSocketClient::new(Config::default());
        let mut h2 = client
            .connect_tls(&url, ca.client_config(), &[])
            .await
            .unwrap();
        h2.send(Message::text("over h2 and TLS")).await.unwrap();
        assert_eq!(
            h2.recv().await.unwrap().unwrap(),
            Message::text("over h2 and TLS")
        );
        let big = Message::binary(vec![7u8; 1 << 20]);
        h2.send(big.clone()).await.unwrap();
        assert!(h2.recv().await.unwrap().unwrap() == big);
        assert_eq!(versions.recv().await, Some(http::Version::HTTP_2));

        let mut h1 = ws_tokio::tls::connect_tls(&url, Config::default(), ca.client_config())
            .await
            .unwrap();
        h1.send(Message::text("over HTTP/1.1 and TLS"))
            .await
            .unwrap();
        assert_eq!(
            h1.recv().await.unwrap().unwrap(),
            Message::text("over HTTP/1.1 and TLS")
        );
        assert_eq!(versions.recv().await, Some(http::Version::HTTP_11));
    })
    .await;
}

#[tokio::test]
async fn the_client_refuses_a_certificate_from_an_unknown_ca() {
    within(async {
        let (_ca, cert) = tls::localhost();
        let (addr, _versions) = tls_echo_server(&cert).await;
        let stranger = tls::TestCa::new("another CA");
        let url = format!("wss://localhost:{}/", addr.port());
        let err = H2WebSocketClient::new(Config::default())
            .connect_tls(&url, stranger.client_config(), &[])
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Tls(_)), "{err}");
        assert_eq!(err.fault(), Fault::Peer);
    })
    .await;
}

#[tokio::test]
async fn a_server_that_offers_only_http11_is_refused_by_the_h2_client() {
    within(async {
        let (ca, cert) = tls::localhost();
        let acceptor = cert.acceptor(); // ALPN http/1.1 only
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let _ = acceptor.accept(tcp).await;
        });
        let mut config = ca.client_config_with_alpn(&[ALPN_H2]);
        config.alpn_protocols = vec![ALPN_H2.to_vec()];
        let err = H2WebSocketClient::new(Config::default())
            .connect_tls(
                &format!("wss://localhost:{}/", addr.port()),
                std::sync::Arc::new(config),
                &[],
            )
            .await
            .unwrap_err();
        // rustls refuses a server that picks none of the offered protocols.
        assert!(matches!(err, Error::Tls(_) | Error::Handshake(_)), "{err}");
    })
    .await;
}
