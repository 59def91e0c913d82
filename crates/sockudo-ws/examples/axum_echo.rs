//! Axum echo server: `/` serves a page whose script echoes a text, a large compressible text and
//! a binary message over `/ws` (with permessage-deflate) and sets the page title to `PASS` when
//! all come back intact, then reports its verdict to `/result` (the server prints it).
//! `tests/browser.rs` loads it in headless Chromium and reads that report.
//!
//! The one port speaks HTTP/1.1 and cleartext HTTP/2 with prior knowledge (axum's `http2`
//! feature): `/ws` takes an HTTP/1.1 upgrade (`GET`, answered 101) and an RFC 8441 extended
//! CONNECT over HTTP/2 (`:protocol: websocket`, answered 200) alike; `tests/h2_node.rs` drives
//! the latter with Node's `http2` module.
//!
//! ```sh
//! cargo run --release --example axum_echo --features axum-integration
//! # then open http://127.0.0.1:9001/ ; port: first argument, else PORT, else 9001
//! ```

use axum::Router;
use axum::extract::RawQuery;
use axum::response::{Html, Response};
use axum::routing::{any, get};
use axum::serve::ListenerExt;
use sockudo_ws::axum::{WebSocket, WebSocketUpgrade};
use sockudo_ws::{Compression, Config};
use tokio::net::TcpListener;

/// The test page: self-contained (inline script, nothing loaded from elsewhere).
const PAGE: &str = r#"<!doctype html>
<html>
<head>
<meta charset="utf-8">
<title>sockudo-ws axum echo</title>
</head>
<body>
<h1>sockudo-ws axum echo</h1>
<pre id="log"></pre>
<script>
"use strict";
const out = document.getElementById("log");
const log = (line) => { out.textContent += line + "\n"; };
const text = "hello from the browser \u{1F600}";
const big = JSON.stringify(Array.from({ length: 400 }, (_, i) => ({ id: i, price: 100 + i / 8, side: i % 3 ? "buy" : "sell" })));
const bytes = new Uint8Array([0, 1, 2, 127, 128, 255]);
let textOk = false;
let bigOk = false;
let binaryOk = false;
const ws = new WebSocket("ws://" + location.host + "/ws");
ws.binaryType = "arraybuffer";
ws.onopen = () => {
  log("open; extensions: " + (ws.extensions || "none"));
  ws.send(text);
  ws.send(big);
  ws.send(bytes.buffer);
};
ws.onmessage = (event) => {
  if (typeof event.data === "string" && event.data.length > 1000) {
    bigOk = event.data === big;
    log("large text echo: " + event.data.length + " chars" + (bigOk ? " (match)" : " (MISMATCH)"));
  } else if (typeof event.data === "string") {
    textOk = event.data === text;
    log("text echo: " + event.data + (textOk ? " (match)" : " (MISMATCH)"));
  } else {
    const got = new Uint8Array(event.data);
    binaryOk = got.length === bytes.length && got.every((b, i) => b === bytes[i]);
    log("binary echo: [" + Array.from(got).join(", ") + "]" + (binaryOk ? " (match)" : " (MISMATCH)"));
  }
  if (textOk && bigOk && binaryOk) {
    document.title = "PASS";
    log("PASS");
    report("PASS");
    ws.close(1000, "done");
  }
};
const report = (verdict) =>
  fetch("/result?verdict=" + verdict + "&extensions=" + encodeURIComponent(ws.extensions || "none"));
ws.onerror = () => {
  log("error");
  if (document.title !== "PASS") {
    document.title = "FAIL";
    report("FAIL");
  }
};
ws.onclose = (event) => log("closed: " + event.code);
</script>
</body>
</html>
"#;

/// The page at `/`, the WebSocket endpoint at `/ws`, and `/result`, where the page reports its
/// verdict (`verdict=PASS&extensions=...`) to `on_result`.
pub(crate) fn app(on_result: impl Fn(String) + Clone + Send + Sync + 'static) -> Router {
    Router::new()
        .route("/", get(|| async { Html(PAGE) }))
        // GET (HTTP/1.1 upgrade) and CONNECT (HTTP/2 extended CONNECT).
        .route("/ws", any(ws_handler))
        .route(
            "/result",
            get(move |RawQuery(query): RawQuery| async move {
                on_result(query.unwrap_or_default());
            }),
        )
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let app = app(|result| println!("the page reports: {result}"));
    let listener = TcpListener::bind(("127.0.0.1", port())).await?;
    println!(
        "listening on http://127.0.0.1:{}",
        listener.local_addr()?.port()
    );
    // axum::serve reports and survives accept errors itself.
    let listener = listener.tap_io(|tcp| {
        if let Err(e) = tcp.set_nodelay(true) {
            eprintln!("TCP_NODELAY: {e}");
        }
    });
    axum::serve(listener, app).await
}

/// Refuses non-WebSocket requests (400, or 426 for another version) through the extractor's
/// rejection; upgrades the rest, over HTTP/1.1 or HTTP/2.
async fn ws_handler(upgrade: WebSocketUpgrade) -> Response {
    // permessage-deflate with one compressor per connection, when the browser offers it.
    let config = Config::builder()
        .compression(Compression::Dedicated)
        .build();
    upgrade
        .config(config)
        .on_failed_upgrade(|e| eprintln!("upgrade failed: {e}"))
        .on_upgrade(echo)
}

async fn echo(mut ws: WebSocket) {
    while let Some(message) = ws.recv().await {
        let result = match message {
            Ok(message) if message.is_text() || message.is_binary() => ws.send(message).await,
            Ok(_) => Ok(()),
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            eprintln!("connection: {e}");
            break;
        }
    }
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
