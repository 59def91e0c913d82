//! The sockudo-ws echo server over TLS (`wss://`) of the end-to-end benchmark (`cargo xtask
//! bench`, server `sockudo-wss`): HTTP/1.1 over rustls (ring, TLS 1.3 by default) through
//! tokio-rustls' `TlsAcceptor`, with a self-signed certificate for `localhost` and 127.0.0.1
//! generated at start (rcgen), then `sockudo_ws::accept` on the TLS stream and the echo loop of
//! `echo_sockudo`. The load generator (`loadgen --transport wss`) accepts any certificate.
//!
//! `echo_sockudo_wss --port P [--deflate] [--exit-after-messages N]`; `--deflate` turns on
//! `Compression::Dedicated`.

use std::sync::Arc;

use rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
use sockudo_ws::{Compression, Config, Message};
use sockudo_ws_benches::server::{ServerArgs, announce, echoed};
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

/// A TLS acceptor with a fresh self-signed certificate (ECDSA P-256, rcgen's default).
fn acceptor() -> Result<TlsAcceptor, String> {
    let names = vec!["localhost".to_owned(), "127.0.0.1".to_owned()];
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("cannot make a certificate: {e}"))?;
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(
        certified.signing_key.serialize_der(),
    ));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut tls = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS versions: {e}"))?
        .with_no_client_auth()
        .with_single_cert(vec![certified.cert.der().clone()], key)
        .map_err(|e| format!("TLS certificate: {e}"))?;
    tls.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(tls)))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = ServerArgs::from_env("echo_sockudo_wss", true);
    let config = if args.deflate {
        Config::builder()
            .compression(Compression::Dedicated)
            .build()
    } else {
        Config::default()
    };
    let acceptor = acceptor().map_err(std::io::Error::other)?;
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    announce("echo_sockudo_wss", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let (config, acceptor) = (config.clone(), acceptor.clone());
        tokio::spawn(async move {
            let Ok(tls) = acceptor.accept(tcp).await else {
                return;
            };
            let Ok(mut ws) = sockudo_ws::accept(tls, config).await else {
                return;
            };
            while let Some(Ok(message)) = ws.recv().await {
                if let Message::Text(_) | Message::Binary(_) = message {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                    echoed();
                }
            }
        });
    }
}
