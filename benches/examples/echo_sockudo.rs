//! The sockudo-ws echo server of the end-to-end benchmark (`cargo xtask bench`), written the
//! way the README shows: `accept`, then `recv` and `send` until the stream ends.
//!
//! `echo_sockudo --port P [--deflate] [--exit-after-messages N]`; `--deflate` turns on
//! `Compression::Dedicated` (negotiated once `ws-deflate` lands).

use sockudo_ws::{Compression, Config, Message};
use sockudo_ws_benches::server::{ServerArgs, announce, echoed};
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = ServerArgs::from_env("echo_sockudo", true);
    let config = if args.deflate {
        Config::builder()
            .compression(Compression::Dedicated)
            .build()
    } else {
        Config::default()
    };
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    announce("echo_sockudo", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        let config = config.clone();
        tokio::spawn(async move {
            let Ok(mut ws) = sockudo_ws::accept(tcp, config).await else {
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
