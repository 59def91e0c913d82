//! A real browser over RFC 8441: headless Chromium loads a page from our TLS server over
//! HTTP/2 (ALPN `h2`, the page served by the server's fallback), the page opens a WebSocket to
//! the same origin, and Chromium, seeing `SETTINGS_ENABLE_CONNECT_PROTOCOL`, opens it as an
//! extended CONNECT on that HTTP/2 connection. The test checks the echo and that the
//! WebSocket's request really came over HTTP/2 (a fallback to HTTP/1.1 would show as
//! `HTTP/1.1` in the handler's request).

#[path = "../../ws-tokio/tests/common/tls.rs"]
mod tls;

use std::path::PathBuf;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use ws_h2::{ALPN_H2, ALPN_HTTP11, H2WebSocketServer};
use ws_proto::Config;

const PAGE: &str = r#"<!doctype html>
<title>sockudo-ws over HTTP/2</title>
<script>
const report = (q) => fetch('/result?' + q);
const ws = new WebSocket(`wss://${location.host}/ws`);
ws.binaryType = 'arraybuffer';
let verdict = 'FAIL:no-echo';
ws.onopen = () => { ws.send('hello over RFC 8441'); ws.send(new Uint8Array([1, 2, 3, 250])); };
let texts = 0, binaries = 0;
ws.onmessage = (e) => {
  if (typeof e.data === 'string') {
    texts += e.data === 'hello over RFC 8441' ? 1 : 100;
  } else {
    const b = new Uint8Array(e.data);
    binaries += (b.length === 4 && b[3] === 250) ? 1 : 100;
  }
  if (texts + binaries === 2) {
    verdict = (texts === 1 && binaries === 1) ? 'PASS' : `FAIL:texts=${texts},binaries=${binaries}`;
    ws.close(1000, 'done');
  }
};
ws.onclose = (e) => report(`verdict=${verdict}&code=${e.code}`);
ws.onerror = () => report('verdict=FAIL:error');
</script>
"#;

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
async fn chromium_opens_its_websocket_over_http2() {
    let (_ca, cert) = tls::localhost();
    let acceptor =
        ws_tokio::tls::tokio_rustls::TlsAcceptor::from(cert.server_config(&[ALPN_H2, ALPN_HTTP11]));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (result_tx, mut results) = mpsc::unbounded_channel::<String>();
    let (version_tx, mut versions) = mpsc::unbounded_channel::<http::Version>();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let result_tx = result_tx.clone();
            let version_tx = version_tx.clone();
            tokio::spawn(async move {
                let server = H2WebSocketServer::new(Config::default()).with_fallback(move |req| {
                    match req.uri.path() {
                        "/" => Some(
                            http::Response::builder()
                                .header("content-type", "text/html; charset=utf-8")
                                .body(PAGE.into())
                                .unwrap(),
                        ),
                        "/result" => {
                            let _ = result_tx.send(req.uri.query().unwrap_or("").to_owned());
                            Some(http::Response::new(bytes::Bytes::new()))
                        }
                        _ => None,
                    }
                });
                let _ = server
                    .serve_tls(
                        tcp,
                        &acceptor,
                        |_| Ok(Default::default()),
                        move |mut ws, req| {
                            let _ = version_tx.send(req.version);
                            async move {
                                while let Some(Ok(msg)) = ws.recv().await {
                                    if (msg.is_text() || msg.is_binary())
                                        && ws.send(msg).await.is_err()
                                    {
                                        break;
                                    }
                                }
                            }
                        },
                    )
                    .await;
            });
        }
    });

    let profile =
        std::env::temp_dir().join(format!("sockudo-ws-chromium-h2-{}", std::process::id()));
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
            // The test CA is not in the system's trust store.
            "--ignore-certificate-errors",
            "--remote-debugging-port=0",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("https://localhost:{port}/"))
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
    assert!(report.ends_with("code=1000"), "the page reports: {report}");
    assert_eq!(
        versions.try_recv().ok(),
        Some(http::Version::HTTP_2),
        "Chromium's WebSocket did not come over HTTP/2"
    );
}
