//! Echo server over split halves: a reader task and a writer task drive one connection at once,
//! with a channel between them, and the halves are reunited when the connection is over.
//!
//! ```sh
//! cargo run --release --example split_echo             # ws://127.0.0.1:9001
//! cargo run --release --example split_echo -- 9002     # or PORT=9002
//! ```
//!
//! Splitting is for when reading and writing are driven by different tasks (e.g. a writer fed by
//! a broadcast channel); the reader keeps answering pings while the writer is busy.

use std::time::Duration;

use sockudo_ws::{
    Config, ConnectionError, Error, Message, SplitReader, SplitWriter, accept, reunite,
};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

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

async fn serve(tcp: TcpStream) -> Result<(), BoxError> {
    tcp.set_nodelay(true)?;
    let ws = accept(tcp, Config::default()).await?;
    let (reader, writer) = ws.split();
    // Bounded: a client that sends faster than it reads is slowed down, not buffered forever.
    let (tx, rx) = mpsc::channel(64);
    let reading = tokio::spawn(read_half(reader, tx));
    let writing = tokio::spawn(write_half(writer, rx));
    // Each task hands its half back, so the halves can be reunited whatever happened.
    let (reader, read_result) = reading.await?;
    let (writer, write_result) = writing.await?;
    // One stream again, as `accept` returned it (here only to show how; a server could hand it
    // on to other code). The reader ran until the close handshake was over, so it is closed.
    let ws = reunite(reader, writer)?;
    drop(ws);
    read_result?;
    write_result?;
    Ok(())
}

/// Reads until the connection is over, passing text and binary messages to the writer. Keeps
/// reading when the writer is gone, so that the close handshake still completes. Dropping `tx`
/// at the end stops the writer.
async fn read_half<S>(
    mut reader: SplitReader<S>,
    tx: mpsc::Sender<Message>,
) -> (SplitReader<S>, Result<(), Error>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(message) = reader.recv().await {
        match message {
            Ok(message) if message.is_text() || message.is_binary() => {
                // Fails only when the writer stopped: the message is dropped.
                let _ = tx.send(message).await;
            }
            Ok(_) => {}
            Err(e) => return (reader, Err(e)),
        }
    }
    (reader, Ok(()))
}

/// Sends what the reader passes on, until the reader stops.
async fn write_half<S>(
    mut writer: SplitWriter<S>,
    mut rx: mpsc::Receiver<Message>,
) -> (SplitWriter<S>, Result<(), Error>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    while let Some(message) = rx.recv().await {
        match writer.send(message).await {
            Ok(()) => {}
            // The peer's close frame arrived (the reader answered it) while echoes were
            // still queued: nothing more may be sent, and that is a normal end.
            Err(Error::Connection(ConnectionError::ConnectionClosed)) => break,
            Err(e) => return (writer, Err(e)),
        }
    }
    (writer, Ok(()))
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
