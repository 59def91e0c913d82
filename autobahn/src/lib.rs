//! Autobahn|Testsuite peers for sockudo-ws: `autobahn-server` (an echo server for the
//! `fuzzingclient` mode) and `autobahn-client` (runs every case of a `fuzzingserver`). Both are
//! written on the public API only, exactly as a user would write them.

use sockudo_ws::{Compression, Config, Message, WebSocketStream};
use tokio::io::{AsyncRead, AsyncWrite};

/// The configuration both peers use: the defaults, with limits large enough for the suite's
/// biggest messages (16 MiB in section 9), and permessage-deflate with a dedicated compressor.
///
/// Compression is negotiated only where the suite asks for it (sections 12 and 13). The server
/// accepts every offer the fuzzing client makes (window bits 9 to 15, with and without context
/// takeover). The client offers `permessage-deflate; client_max_window_bits`, which lets the
/// fuzzing server's 13.x answers choose the client's window (9 or 15) and context takeover.
pub fn config() -> Config {
    Config::builder()
        .max_message_size(64 << 20)
        .max_frame_size(64 << 20)
        .compression(Compression::Dedicated)
        .build()
}

/// Echo every text and binary message until the connection ends.
pub async fn echo<S>(mut ws: WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // The stream ends (None) after the close handshake or an error; every error is followed
    // by the stream finishing its close, so keep polling until then.
    while let Some(message) = ws.recv().await {
        if let Ok(m @ (Message::Text(_) | Message::Binary(_))) = message {
            let _ = ws.send(m).await;
        }
    }
}

/// The value of `--name VALUE` in the process arguments.
pub fn arg(name: &str) -> Option<String> {
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if a == name {
            return args.next();
        }
        if let Some(v) = a.strip_prefix(&format!("{name}=")) {
            return Some(v.to_string());
        }
    }
    None
}
