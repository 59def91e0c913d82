//! The tokio-websockets echo server of the end-to-end benchmark (`cargo xtask bench`), as its
//! `echo_server` example writes it: `ServerBuilder::accept` in an unconstrained task, then
//! `next` and `send` (`StreamExt`/`SinkExt`), with the default configuration and limits.
//!
//! `echo_tokio_websockets --port P [--exit-after-messages N]`. tokio-websockets has no
//! permessage-deflate, so `--deflate` exits with status 3.

use futures_util::{SinkExt as _, StreamExt as _};
use sockudo_ws_benches::server::{ServerArgs, announce, echoed};
use tokio::net::TcpListener;
use tokio_websockets::ServerBuilder;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = ServerArgs::from_env("echo_tokio_websockets", false);
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    announce("echo_tokio_websockets", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(tokio::task::unconstrained(async move {
            let Ok((_request, mut ws)) = ServerBuilder::new().accept(tcp).await else {
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
        }));
    }
}
