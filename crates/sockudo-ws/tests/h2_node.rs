//! The `axum_echo` example's `/ws` over HTTP/2 (RFC 8441 extended CONNECT), opened by Node's
//! built-in `http2` module (`tests/node/h2_client.mjs`, no packages), and over HTTP/1.1 on the
//! same port. Node must be installed (`apt-get install -y nodejs`); without it the test fails.

#[path = "../examples/axum_echo.rs"]
#[allow(dead_code)]
mod axum_echo;

use std::path::PathBuf;
use std::time::Duration;

use sockudo_ws::{Config, Message};
use tokio::net::TcpListener;

const TIMEOUT: Duration = Duration::from_secs(30);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_http2_client_and_http1_client_share_the_example_port() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = axum_echo::app(|_| {});
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/node/h2_client.mjs");
    let child = tokio::process::Command::new("node")
        .arg(&script)
        .arg(port.to_string())
        .kill_on_drop(true)
        .output();
    let output = tokio::time::timeout(TIMEOUT, child)
        .await
        .expect("the Node HTTP/2 client did not finish in time")
        .unwrap_or_else(|e| {
            panic!("Node.js is needed for this test ({e}): apt-get install -y nodejs")
        });
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "h2_client.mjs failed ({}):\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            "status=200",
            "echo=hello over HTTP/2 from node",
            "close=1000"
        ]
    );

    // HTTP/1.1 on the same port.
    let mut ws = tokio::time::timeout(
        TIMEOUT,
        sockudo_ws::connect(&format!("ws://127.0.0.1:{port}/ws"), Config::default()),
    )
    .await
    .unwrap()
    .unwrap();
    ws.send_text("hello over HTTP/1.1").await.unwrap();
    let echo = tokio::time::timeout(TIMEOUT, ws.recv()).await.unwrap();
    assert_eq!(echo.unwrap().unwrap(), Message::text("hello over HTTP/1.1"));
    ws.close(1000u16, "").await.unwrap();
}
