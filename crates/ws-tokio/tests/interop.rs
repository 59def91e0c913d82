//! Interop with independent implementations, both directions, over loopback TCP:
//!
//! - Python's `websockets` (`tests/interop/py_client.py`, `py_server.py`),
//! - Node's `ws` (`tests/interop/node_client.mjs`, `node_server.mjs`).
//!
//! Their clients drive our server (echo of text and binary at every length boundary up to
//! 1 MiB, a ping, a normal close); our client drives their echo servers the same way. With
//! feature `tls`, the same again over `wss://` (module `wss`): a test CA and a server
//! certificate generated at run time, written to temporary PEM files for the scripts (Python's
//! `ssl`, Node's `tls`). The peers must be installed; a missing one FAILS the test with the
//! command that installs it:
//!
//! ```text
//! python3 -m pip install -r crates/ws-tokio/tests/interop/requirements.txt
//! (cd crates/ws-tokio/tests/interop && npm ci)
//! ```

mod common;

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use common::{TEST_TIMEOUT, big_config, binary_payload, listener, url, within};
use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, BufReader};
use tokio::process::{Child, Command};
use ws_tokio::{CloseCode, Message, WebSocketStream};

const PYTHON_INSTALL: &str =
    "python3 -m pip install -r crates/ws-tokio/tests/interop/requirements.txt";
const NODE_INSTALL: &str = "cd crates/ws-tokio/tests/interop && npm ci";

/// Same sizes as the scripts' SIZES.
const SIZES: [usize; 7] = [0, 1, 125, 126, 65535, 65536, 1 << 20];

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(interop_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs a short probe; panics with `install` when the program or the package is missing.
async fn require(program: &str, args: &[&str], what: &str, install: &str) {
    let output = match command(program).args(args).output().await {
        Ok(output) => output,
        Err(e) => panic!(
            "interop test needs `{program}` ({e}); install it, then the peer with: {install}"
        ),
    };
    assert!(
        output.status.success(),
        "interop test needs {what}, which is not installed. Install it with:\n    {install}\n\
         probe said: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

async fn require_python() {
    require(
        "python3",
        &[
            "-c",
            "import websockets.sync.client, websockets.sync.server",
        ],
        "the Python package `websockets`",
        PYTHON_INSTALL,
    )
    .await;
}

async fn require_node() {
    require(
        "node",
        &["-e", "require.resolve('ws')"],
        "the npm package `ws`",
        NODE_INSTALL,
    )
    .await;
}

/// Runs a client script against `url`; it must exit 0.
async fn run_client_script(program: &str, script: &str, url: &str) {
    run_client_script_with(program, script, url, &[]).await;
}

/// [`run_client_script`] with more arguments after the URL.
async fn run_client_script_with(program: &str, script: &str, url: &str, args: &[&str]) {
    let child = command(program)
        .arg(script)
        .arg(url)
        .args(args)
        .spawn()
        .expect("spawn client script");
    let output = tokio::time::timeout(Duration::from_secs(60), child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish in 60 s"))
        .expect("client script");
    assert!(
        output.status.success(),
        "{script} failed ({}):\nstdout: {}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Our server: accepts one connection, echoes until the close handshake ends, and returns
/// how many messages it echoed and the close it received.
fn our_echo_server(listener: tokio::net::TcpListener) -> tokio::task::JoinHandle<(usize, Message)> {
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        let ws = ws_tokio::accept(tcp, big_config(64 << 20))
            .await
            .expect("our server: handshake");
        echo_until_close(ws).await
    })
}

/// Echoes until the close handshake ends; returns how many messages it echoed and the close
/// it received.
async fn echo_until_close<S>(mut ws: WebSocketStream<S>) -> (usize, Message)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    assert_eq!(
        ws.connection().extension().map(|_| ()),
        None,
        "no extension negotiated"
    );
    let mut echoed = 0;
    let mut close = None;
    while let Some(message) = ws.recv().await {
        match message.expect("our server: recv") {
            m @ (Message::Text(_) | Message::Binary(_)) => {
                ws.send(m).await.expect("our server: send");
                echoed += 1;
            }
            m @ Message::Close(_) => close = Some(m),
            Message::Ping(_) | Message::Pong(_) => {}
        }
    }
    (echoed, close.expect("a close frame before the end"))
}

/// A server script, running; its port was read from its stdout.
struct ServerScript {
    child: Child,
    port: u16,
}

impl ServerScript {
    async fn start(program: &str, script: &str) -> ServerScript {
        ServerScript::start_with(program, script, &[]).await
    }

    /// [`ServerScript::start`] with arguments.
    async fn start_with(program: &str, script: &str, args: &[&str]) -> ServerScript {
        let mut child = command(program)
            .arg(script)
            .args(args)
            .spawn()
            .expect("spawn server script");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await;
        let port = match line {
            Ok(Ok(Some(line))) => line.trim().parse().expect("a port number"),
            other => {
                let mut stderr = String::new();
                if let Some(mut err) = child.stderr.take() {
                    let _ = tokio::time::timeout(
                        Duration::from_secs(5),
                        err.read_to_string(&mut stderr),
                    )
                    .await;
                }
                panic!("{script} printed no port ({other:?}); stderr: {stderr}");
            }
        };
        ServerScript { child, port }
    }

    /// Closes its stdin (it exits) and waits, killing it if it lingers.
    async fn stop(mut self) {
        drop(self.child.stdin.take());
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
    }
}

/// Our client against an echo server on `port`: every size as text and binary, a ping, and a
/// normal close.
async fn drive_echo_server(port: u16) {
    let url = format!("ws://127.0.0.1:{port}/sockudo");
    let ws = ws_tokio::connect(&url, big_config(64 << 20))
        .await
        .expect("our client: connect");
    drive_echo(ws).await;
}

/// Drives an echo server over `ws`, open: see [`drive_echo_server`].
async fn drive_echo<S>(mut ws: WebSocketStream<S>)
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    for (i, &size) in SIZES.iter().enumerate() {
        let text = common::text_payload(size, i as u64);
        ws.send_text(text.clone()).await.unwrap();
        match ws.recv().await {
            Some(Ok(Message::Text(echoed))) => assert!(*echoed == *text, "text of {size} bytes"),
            other => panic!("text echo of {size} bytes: {other:?}"),
        }
        let binary = binary_payload(size, 100 + i as u64);
        ws.send_binary(binary.clone()).await.unwrap();
        match ws.recv().await {
            Some(Ok(Message::Binary(echoed))) => {
                assert!(echoed[..] == binary[..], "binary of {size} bytes")
            }
            other => panic!("binary echo of {size} bytes: {other:?}"),
        }
    }

    ws.ping(&b"sockudo"[..]).await.unwrap();
    match ws.recv().await {
        Some(Ok(Message::Pong(p))) => assert_eq!(&p[..], b"sockudo"),
        other => panic!("expected the pong, got {other:?}"),
    }

    ws.close(CloseCode::NORMAL, "done").await.unwrap();
    match ws.recv().await {
        Some(Ok(Message::Close(Some(reason)))) => assert_eq!(reason.code, CloseCode::NORMAL),
        other => panic!("expected the close reply, got {other:?}"),
    }
    assert!(
        ws.recv().await.is_none(),
        "the stream ends after the close handshake"
    );
}

fn check_server_result((echoed, close): (usize, Message)) {
    assert_eq!(echoed, 2 * SIZES.len());
    match close {
        Message::Close(Some(reason)) => {
            assert_eq!(reason.code, CloseCode::NORMAL);
            assert_eq!(&*reason.reason, "done");
        }
        other => panic!("expected a 1000 close, got {other:?}"),
    }
}

#[tokio::test]
async fn python_client_against_our_server() {
    within(TEST_TIMEOUT * 2, async {
        require_python().await;
        let (listener, addr) = listener().await;
        let server = our_echo_server(listener);
        run_client_script("python3", "py_client.py", &url(addr, "/python")).await;
        check_server_result(server.await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn our_client_against_python_server() {
    within(TEST_TIMEOUT * 2, async {
        require_python().await;
        let server = ServerScript::start("python3", "py_server.py").await;
        drive_echo_server(server.port).await;
        server.stop().await;
    })
    .await;
}

#[tokio::test]
async fn node_client_against_our_server() {
    within(TEST_TIMEOUT * 2, async {
        require_node().await;
        let (listener, addr) = listener().await;
        let server = our_echo_server(listener);
        run_client_script("node", "node_client.mjs", &url(addr, "/node")).await;
        check_server_result(server.await.unwrap());
    })
    .await;
}

#[tokio::test]
async fn our_client_against_node_server() {
    within(TEST_TIMEOUT * 2, async {
        require_node().await;
        let server = ServerScript::start("node", "node_server.mjs").await;
        drive_echo_server(server.port).await;
        server.stop().await;
    })
    .await;
}

/// The same over `wss://`: our TLS server and client (`ws_tokio::tls`) against theirs.
#[cfg(feature = "tls")]
mod wss {
    use super::*;
    use common::tls::{TempFile, TestCert, localhost};
    use ws_tokio::tls::{accept_tls, connect_tls};

    /// [`our_echo_server`] over TLS, presenting `cert`.
    fn our_wss_echo_server(
        listener: tokio::net::TcpListener,
        cert: &TestCert,
    ) -> tokio::task::JoinHandle<(usize, Message)> {
        let acceptor = cert.acceptor();
        tokio::spawn(async move {
            let (tcp, _) = listener.accept().await.unwrap();
            let ws = accept_tls(tcp, &acceptor, big_config(64 << 20))
                .await
                .expect("our wss server: handshake");
            echo_until_close(ws).await
        })
    }

    /// Their client, trusting the test CA, against our wss server.
    async fn their_client(program: &str, script: &str, path: &str) {
        let (ca, cert) = localhost();
        let ca_file = TempFile::new("sockudo-ws-test-ca", &ca.pem);
        let (listener, addr) = listener().await;
        let server = our_wss_echo_server(listener, &cert);
        let url = format!("wss://{addr}{path}");
        let ca_path = ca_file.path().to_str().expect("a UTF-8 temporary path");
        run_client_script_with(program, script, &url, &[ca_path]).await;
        check_server_result(server.await.unwrap());
    }

    /// Our client, trusting the test CA, against their wss server.
    async fn their_server(program: &str, script: &str) {
        let (ca, cert) = localhost();
        let cert_file = TempFile::new("sockudo-ws-test-cert", &cert.cert_pem);
        let key_file = TempFile::new("sockudo-ws-test-key", &cert.key_pem);
        let args = [
            cert_file.path().to_str().expect("a UTF-8 temporary path"),
            key_file.path().to_str().expect("a UTF-8 temporary path"),
        ];
        let server = ServerScript::start_with(program, script, &args).await;
        let url = format!("wss://127.0.0.1:{}/sockudo", server.port);
        let ws = connect_tls(&url, big_config(64 << 20), ca.client_config())
            .await
            .expect("our wss client: connect");
        drive_echo(ws).await;
        server.stop().await;
    }

    #[tokio::test]
    async fn python_client_against_our_wss_server() {
        within(TEST_TIMEOUT * 2, async {
            require_python().await;
            their_client("python3", "py_client.py", "/python").await;
        })
        .await;
    }

    #[tokio::test]
    async fn our_wss_client_against_python_server() {
        within(TEST_TIMEOUT * 2, async {
            require_python().await;
            their_server("python3", "py_server.py").await;
        })
        .await;
    }

    #[tokio::test]
    async fn node_client_against_our_wss_server() {
        within(TEST_TIMEOUT * 2, async {
            require_node().await;
            their_client("node", "node_client.mjs", "/node").await;
        })
        .await;
    }

    #[tokio::test]
    async fn our_wss_client_against_node_server() {
        within(TEST_TIMEOUT * 2, async {
            require_node().await;
            their_server("node", "node_server.mjs").await;
        })
        .await;
    }
}
