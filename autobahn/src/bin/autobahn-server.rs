//! Echo server for `wstest -m fuzzingclient`: `autobahn-server --addr 127.0.0.1:9001`.

use sockudo_ws_autobahn::{arg, config, echo};
use tokio::net::TcpListener;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = arg("--addr").unwrap_or_else(|| "127.0.0.1:9001".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!(
        "autobahn-server listening on ws://{}",
        listener.local_addr()?
    );
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            if let Ok(ws) = sockudo_ws::accept(tcp, config()).await {
                echo(ws).await;
            }
        });
    }
}
