//! A real browser against our server: headless Chromium (Debian's `chromium`) loads the
//! `axum_echo` example's page, which opens a WebSocket back to the server, negotiates
//! permessage-deflate and echoes a short text, a large compressible text and a binary
//! message; the test reads the outcome from the page.

#[path = "../examples/axum_echo.rs"]
#[allow(dead_code)]
mod axum_echo;

use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;

fn chromium() -> PathBuf {
    for candidate in ["/usr/bin/chromium", "/usr/bin/chromium-browser"] {
        let path = PathBuf::from(candidate);
        if path.exists() {
            return path;
        }
    }
    panic!(
        "headless Chromium is needed for this test and was not found: install Debian's \
         package with `apt-get install -y chromium` (scripts/test.sh does)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_echoes_through_the_axum_example_with_permessage_deflate() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, mut results) = tokio::sync::mpsc::unbounded_channel();
    let app = axum_echo::app(move |result| {
        let _ = tx.send(result);
    });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let profile = std::env::temp_dir().join(format!("sockudo-ws-chromium-{}", std::process::id()));
    // Chromium stays up (remote debugging keeps a headless browser alive) until the page has
    // reported its verdict to /result; kill_on_drop ends it.
    let mut browser = tokio::process::Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("http://127.0.0.1:{port}/"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("chromium starts");
    let result = tokio::time::timeout(Duration::from_secs(60), results.recv()).await;
    let _ = browser.kill().await;
    let _ = std::fs::remove_dir_all(&profile);
    let report = result
        .expect("the page reported within 60 s")
        .expect("the server is still running");
    assert!(
        report.starts_with("verdict=PASS"),
        "the page reports: {report}"
    );
    assert!(
        report.contains("extensions=permessage-deflate"),
        "permessage-deflate was not negotiated: {report}"
    );
}
