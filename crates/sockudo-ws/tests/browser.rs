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
    tokio::spawn(async move { axum::serve(listener, axum_echo::app()).await.unwrap() });

    let profile = std::env::temp_dir().join(format!("sockudo-ws-chromium-{}", std::process::id()));
    let output = tokio::time::timeout(
        Duration::from_secs(90),
        tokio::process::Command::new(chromium())
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--virtual-time-budget=10000",
                "--dump-dom",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg(format!("http://127.0.0.1:{port}/"))
            .kill_on_drop(true)
            .output(),
    )
    .await
    .expect("chromium finished in time")
    .expect("chromium ran");
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("<title>PASS</title>"),
        "the page did not pass:\n{dom}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        dom.contains("extensions: permessage-deflate"),
        "permessage-deflate was not negotiated:\n{dom}"
    );
    assert!(dom.contains("large text echo: ") && dom.contains("(match)"));
}
