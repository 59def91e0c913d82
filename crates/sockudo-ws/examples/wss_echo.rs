//! `wss://` echo server: every text and binary message comes back as it was sent, over TLS.
//!
//! ```sh
//! cargo run --example wss_echo --features tls            # wss://127.0.0.1:9443
//! cargo run --example wss_echo --features tls -- 9444    # or PORT=9444
//! ```
//!
//! At start it generates a self-signed certificate for `localhost` and `127.0.0.1` (rcgen;
//! fine for trying things out, not for production) and writes it to a PEM file whose path it
//! prints: a client trusts that file, e.g.
//!
//! ```sh
//! python3 -c 'import ssl, sys; from websockets.sync.client import connect
//! with connect("wss://127.0.0.1:9443/", ssl=ssl.create_default_context(cafile=sys.argv[1])) as ws:
//!     ws.send("hello"); print(ws.recv())' /tmp/sockudo-ws-wss-echo.pem  # the printed path
//! ```
//!
//! With `sockudo_ws::tls::connect_tls`, put the certificate in the client's
//! `rustls::RootCertStore`.

use std::sync::Arc;
use std::time::Duration;

use sockudo_ws::tls::rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use sockudo_ws::tls::tokio_rustls::TlsAcceptor;
use sockudo_ws::tls::{accept_tls, rustls};
use sockudo_ws::{Config, Error};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    // A self-signed certificate (not a CA) for the names a local client uses.
    let certified = rcgen::generate_simple_self_signed(["localhost".into(), "127.0.0.1".into()])?;
    let pem_path = std::env::temp_dir().join("sockudo-ws-wss-echo.pem");
    std::fs::write(&pem_path, certified.cert.pem())?;

    // ring named explicitly: `ServerConfig::builder()` would use the process default
    // provider, which is ambiguous when another crate also compiles in aws-lc-rs.
    let mut server = rustls::ServerConfig::builder_with_provider(Arc::new(
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
    // The WebSocket handshake is HTTP/1.1: say so to clients that offer ALPN.
    server.alpn_protocols = vec![b"http/1.1".to_vec()];
    let acceptor = TlsAcceptor::from(Arc::new(server));

    let listener = TcpListener::bind(("127.0.0.1", port())).await?;
    println!(
        "listening on wss://127.0.0.1:{}",
        listener.local_addr()?.port()
    );
    println!(
        "certificate (trust it in the client): {}",
        pem_path.display()
    );
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // E.g. out of file descriptors: wait a little instead of spinning.
                eprintln!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        tokio::spawn(async move {
            if let Err(e) = serve(tcp, &acceptor).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

async fn serve(tcp: TcpStream, acceptor: &TlsAcceptor) -> Result<(), Error> {
    tcp.set_nodelay(true)?;
    // The TLS and WebSocket handshakes, both within `Config::handshake_timeout`.
    let mut ws = accept_tls(tcp, acceptor, Config::default()).await?;
    while let Some(message) = ws.recv().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

/// The port: the first argument, else `PORT`, else 9443 (0 picks a free one).
fn port() -> u16 {
    let Some(value) = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok())
    else {
        return 9443;
    };
    value.parse().unwrap_or_else(|_| {
        eprintln!("invalid port {value:?}");
        std::process::exit(2);
    })
}
