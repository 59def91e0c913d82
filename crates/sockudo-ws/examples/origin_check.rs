//! Echo server that only accepts WebSocket upgrades from pages of its own origins.
//!
//! ```sh
//! cargo run --example origin_check                  # ws://127.0.0.1:9001
//! cargo run --example origin_check -- 9002          # or PORT=9002
//! ```
//!
//! Browsers do not apply the same-origin policy to WebSockets: any page the user visits may
//! open a WebSocket to this server, and the browser sends the user's cookies along. A server
//! that authenticates by cookie must therefore check the `Origin` header the browser puts on
//! every handshake, or a foreign page can talk to it as the user (cross-site WebSocket
//! hijacking). The check runs in the `accept_with` callback, which sees the request headers
//! before anything is answered; a foreign origin gets `403 Forbidden` and no WebSocket.
//!
//! `Origin` protects browser users only: a client that is not a browser can send any `Origin`
//! or none, so it is no substitute for authentication. This server lets a request without
//! `Origin` through (it cannot come from a browser page); refuse it too if only browsers may
//! connect.

use std::time::Duration;

use sockudo_ws::handshake::HandshakeRequest;
use sockudo_ws::{Accept, Config, Error, Reject, accept_with};
use tokio::net::{TcpListener, TcpStream};

/// The origins whose pages may connect: scheme, host and port, as browsers send them.
const ALLOWED_ORIGINS: &[&str] = &["http://localhost:8080", "https://app.example.com"];

/// The origin policy: an allowed `Origin`, or none at all (not a browser page); a foreign
/// `Origin`, or more than one, is refused with 403.
fn check_origin(request: &HandshakeRequest) -> Result<Accept, Reject> {
    let mut origins = request.header_all("origin");
    match (origins.next(), origins.next()) {
        (None, _) => Ok(Accept::default()),
        (Some(origin), None)
            if ALLOWED_ORIGINS
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(origin)) =>
        {
            Ok(Accept::default())
        }
        _ => Err(Reject::new(403, "origin not allowed")),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port())).await?;
    println!(
        "listening on ws://127.0.0.1:{} for pages of {ALLOWED_ORIGINS:?}",
        listener.local_addr()?.port()
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
        tokio::spawn(async move {
            match serve(tcp).await {
                Ok(()) => {}
                Err(Error::Refused(status)) => eprintln!("{peer}: refused with {status}"),
                Err(e) => eprintln!("{peer}: {e}"),
            }
        });
    }
}

async fn serve(tcp: TcpStream) -> Result<(), Error> {
    tcp.set_nodelay(true)?;
    let mut ws = accept_with(tcp, Config::default(), check_origin).await?;
    while let Some(message) = ws.recv().await {
        let message = message?;
        if message.is_text() || message.is_binary() {
            ws.send(message).await?;
        }
    }
    Ok(())
}

/// The port: the first argument, else `PORT`, else 9001 (0 picks a free one).
fn port() -> u16 {
    let Some(value) = std::env::args()
        .nth(1)
        .or_else(|| std::env::var("PORT").ok())
    else {
        return 9001;
    };
    value.parse().unwrap_or_else(|_| {
        eprintln!("invalid port {value:?}");
        std::process::exit(2);
    })
}
