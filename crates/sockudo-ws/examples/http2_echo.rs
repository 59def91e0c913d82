//! WebSocket over HTTP/2 (RFC 8441), and over HTTP/1.1, from one echo handler:
//!
//! - `https://localhost:8443/`: TLS with a self-signed certificate generated at start. ALPN
//!   picks HTTP/2 (`h2`) or HTTP/1.1; over HTTP/2 the page and its WebSocket share one
//!   connection. Open it in a browser (accept the certificate warning): Chromium and Firefox
//!   open the page's WebSocket as an extended CONNECT on that connection, and the page says so.
//! - `ws://127.0.0.1:8080/`: cleartext, HTTP/2 with prior knowledge (h2c) or HTTP/1.1,
//!   told apart by the connection preface.
//!
//! ```sh
//! cargo run --example http2_echo --features http2,tls
//! cargo run --example http2_echo --features http2,tls -- 9443 9080   # other ports
//! ```
//!
//! Every text and binary message comes back as it was sent, whatever the HTTP version; the
//! server logs which version each WebSocket came over.

use std::sync::Arc;
use std::time::Duration;

use sockudo_ws::h2::{ALPN_H2, ALPN_HTTP11, AnyStream};
use sockudo_ws::handshake::HandshakeRequest;
use sockudo_ws::tls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use sockudo_ws::tls::{rustls, tokio_rustls::TlsAcceptor};
use sockudo_ws::{Bytes, Config, H2WebSocketServer, Message, WebSocketStream};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;

const PAGE: &str = r#"<!doctype html>
<meta charset="utf-8">
<title>sockudo-ws over HTTP/2</title>
<pre id="log"></pre>
<script>
const log = (line) => { document.getElementById("log").textContent += line + "\n"; };
const scheme = location.protocol === "https:" ? "wss://" : "ws://";
const ws = new WebSocket(scheme + location.host + "/ws");
ws.onopen = () => { log("open"); ws.send("hello over " + scheme); };
ws.onmessage = (e) => { log("echo: " + e.data); fetch("/version").then(r => r.text()).then(v => log("the server saw: " + v)); };
ws.onclose = (e) => log("closed " + e.code);
</script>
"#;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let mut args = std::env::args().skip(1);
    let tls_port: u16 = args.next().map_or(Ok(8443), |p| p.parse())?;
    let plain_port: u16 = args.next().map_or(Ok(8080), |p| p.parse())?;

    // A self-signed certificate (fine for trying things out, not for production).
    let certified = rcgen::generate_simple_self_signed(["localhost".into(), "127.0.0.1".into()])?;
    let mut tls = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(
        vec![certified.cert.der().clone()],
        PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
            certified.signing_key.serialize_der(),
        )),
    )?;
    // HTTP/2 first: browsers then carry the page and its WebSockets on one connection.
    tls.alpn_protocols = vec![ALPN_H2.to_vec(), ALPN_HTTP11.to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(tls));

    let server = H2WebSocketServer::new(Config::default()).with_fallback(|req| {
        match req.uri.path() {
            "/" => Some(http_response("text/html; charset=utf-8", PAGE.into())),
            // The page's fetch rides the same connection as its WebSocket.
            "/version" => Some(http_response(
                "text/plain",
                Bytes::from(format!("{:?}", req.version)),
            )),
            _ => None,
        }
    });

    let tls_listener = TcpListener::bind(("127.0.0.1", tls_port)).await?;
    let plain_listener = TcpListener::bind(("127.0.0.1", plain_port)).await?;
    println!("https://localhost:{tls_port}/  (HTTP/2 or HTTP/1.1 by ALPN; self-signed)");
    println!("ws://127.0.0.1:{plain_port}/ws  (h2c prior knowledge or HTTP/1.1)");

    let plain = {
        let server = server.clone();
        tokio::spawn(async move {
            loop {
                let Some(tcp) = accept(&plain_listener).await else {
                    continue;
                };
                let server = server.clone();
                tokio::spawn(async move {
                    if let Err(e) = server.serve_auto(tcp, echo).await {
                        eprintln!("cleartext connection: {e}");
                    }
                });
            }
        })
    };
    loop {
        let Some(tcp) = accept(&tls_listener).await else {
            continue;
        };
        let (server, acceptor) = (server.clone(), acceptor.clone());
        tokio::spawn(async move {
            let accept_all = |_: &HandshakeRequest| Ok(Default::default());
            if let Err(e) = server.serve_tls(tcp, &acceptor, accept_all, echo).await {
                eprintln!("TLS connection: {e}");
            }
        });
        if plain.is_finished() {
            return Err("the cleartext listener stopped".into());
        }
    }
}

async fn accept(listener: &TcpListener) -> Option<tokio::net::TcpStream> {
    match listener.accept().await {
        Ok((tcp, _)) => {
            let _ = tcp.set_nodelay(true);
            Some(tcp)
        }
        Err(e) => {
            // E.g. out of file descriptors: wait a little instead of spinning.
            eprintln!("accept failed: {e}");
            tokio::time::sleep(Duration::from_millis(100)).await;
            None
        }
    }
}

fn http_response(content_type: &'static str, body: Bytes) -> http::Response<Bytes> {
    let mut response = http::Response::new(body);
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static(content_type),
    );
    response
}

/// The handler of every WebSocket, whatever carries it.
fn echo<IO>(
    mut ws: WebSocketStream<AnyStream<IO>>,
    req: HandshakeRequest,
) -> impl Future<Output = ()> + Send + 'static
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    println!("{:?} WebSocket on {}", req.version, req.path);
    async move {
        while let Some(Ok(message)) = ws.recv().await {
            if let Message::Text(_) | Message::Binary(_) = message
                && ws.send(message).await.is_err()
            {
                break;
            }
        }
    }
}
