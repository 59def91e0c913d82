//! The fastwebsockets echo server of the end-to-end benchmark (`cargo xtask bench`), as its
//! `echo_server` example writes it: a hyper HTTP/1.1 connection with upgrades, `upgrade::upgrade`
//! in the service, and an unconstrained task reading frames through a `FragmentCollector` and
//! writing text and binary frames back, with automatic pong and close replies on.
//!
//! `echo_fastwebsockets --port P [--exit-after-messages N]`. fastwebsockets has no
//! permessage-deflate, so `--deflate` exits with status 3.

use fastwebsockets::{FragmentCollector, OpCode, WebSocketError, upgrade};
use http_body_util::Empty;
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use sockudo_ws_benches::server::{ServerArgs, announce, echoed};
use tokio::net::TcpListener;

async fn handle_client(fut: upgrade::UpgradeFut) -> Result<(), WebSocketError> {
    let mut ws = fut.await?;
    ws.set_auto_pong(true);
    ws.set_auto_close(true);
    let mut ws = FragmentCollector::new(ws);
    loop {
        let frame = ws.read_frame().await?;
        match frame.opcode {
            OpCode::Close => break,
            OpCode::Text | OpCode::Binary => {
                ws.write_frame(frame).await?;
                echoed();
            }
            _ => {}
        }
    }
    Ok(())
}

async fn server_upgrade(
    mut req: Request<Incoming>,
) -> Result<Response<Empty<Bytes>>, WebSocketError> {
    let (response, fut) = upgrade::upgrade(&mut req)?;
    tokio::spawn(async move {
        let _ = tokio::task::unconstrained(handle_client(fut)).await;
    });
    Ok(response)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let args = ServerArgs::from_env("echo_fastwebsockets", false);
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    announce("echo_fastwebsockets", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            let io = TokioIo::new(tcp);
            let _ = http1::Builder::new()
                .serve_connection(io, service_fn(server_upgrade))
                .with_upgrades()
                .await;
        });
    }
}
