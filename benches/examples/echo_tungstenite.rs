//! The tokio-tungstenite echo server of the end-to-end benchmark (`cargo xtask bench`), as its
//! `autobahn-server` example writes it: `accept_async` with the default configuration, then
//! `next` and `send` (`StreamExt`/`SinkExt`).
//!
//! `echo_tungstenite --port P [--exit-after-messages N]`. tokio-tungstenite has no
//! permessage-deflate, so `--deflate` exits with status 3.

use futures_util::{SinkExt as _, StreamExt as _};
use sockudo_ws_benches::server::{ServerArgs, announce, echoed};
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = ServerArgs::from_env("echo_tungstenite", false);
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    announce("echo_tungstenite", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else {
                return;
            };
            while let Some(Ok(message)) = ws.next().await {
                if message.is_text() || message.is_binary() {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                    echoed();
                }
            }
        });
    }
}
