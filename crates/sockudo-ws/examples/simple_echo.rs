//! Echo server: every text and binary message comes back as it was sent.
//!
//! ```sh
//! cargo run --release --example simple_echo            # ws://127.0.0.1:9001
//! cargo run --release --example simple_echo -- 9002    # or PORT=9002
//! ```
//!
//! One task per connection; a failed connection is reported and the server keeps serving.

use std::time::Duration;

use sockudo_ws::{Config, Error, accept};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port())).await?;
    println!(
        "listening on ws://127.0.0.1:{}",
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
            if let Err(e) = serve(tcp).await {
                eprintln!("{peer}: {e}");
            }
        });
    }
}

async fn serve(tcp: TcpStream) -> Result<(), Error> {
    tcp.set_nodelay(true)?;
    let mut ws = accept(tcp, Config::default()).await?;
    // Pings are answered and the close handshake completed inside `recv`; it returns `None`
    // once the connection is over.
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
