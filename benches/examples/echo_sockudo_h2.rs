//! The sockudo-ws echo server over HTTP/2 (RFC 8441) of the end-to-end benchmark (`cargo xtask
//! bench`, server `sockudo-h2`): cleartext HTTP/2 with prior knowledge (h2c), each TCP
//! connection served by `ws_h2::H2WebSocketServer`, each WebSocket echoed the way
//! `echo_sockudo` does over HTTP/1.1 (`recv`, then `send`), many WebSockets per connection.
//!
//! `echo_sockudo_h2 --port P [--deflate] [--exit-after-messages N]`; `--deflate` turns on
//! `Compression::Dedicated`.

use sockudo_ws::{Compression, Config, Message};
use sockudo_ws_benches::server::{ServerArgs, announce, count_echo};
use std::time::Duration;
use tokio::net::TcpListener;
use ws_h2::H2WebSocketServer;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = ServerArgs::from_env("echo_sockudo_h2", true);
    let config = if args.deflate {
        Config::builder()
            .compression(Compression::Dedicated)
            .build()
    } else {
        Config::default()
    };
    let server = H2WebSocketServer::new(config);
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    announce("echo_sockudo_h2", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let server = server.clone();
        tokio::spawn(async move {
            let _ = server
                .serve(tcp, |mut ws, _request| async move {
                    while let Some(Ok(message)) = ws.recv().await {
                        if let Message::Text(_) | Message::Binary(_) = message {
                            if ws.send(message).await.is_err() {
                                break;
                            }
                            if count_echo() {
                                // `send` hands the echo to the connection's task, which
                                // writes it out: give it time before exiting (also under
                                // callgrind, ~50x slower).
                                tokio::spawn(async {
                                    tokio::time::sleep(Duration::from_millis(500)).await;
                                    std::process::exit(0);
                                });
                            }
                        }
                    }
                })
                .await;
        });
    }
}
