//! RFC 8441 interop with independent HTTP/2 implementations, over cleartext HTTP/2 (prior
//! knowledge) on 127.0.0.1:
//!
//! - Node's built-in `http2` module (nghttp2; no npm packages) as a client of our
//!   [`H2WebSocketServer`] (`tests/interop/h2_client.mjs`: six WebSockets at once on one
//!   session, one of them reset by Node, one closed by our server, one with
//!   permessage-deflate done with Node's `zlib`, one flooded by our server until Node, not
//!   reading, resets it; then one on a session that pads its frames
//!   and one on a session with 1000-byte stream windows) and as a server for our
//!   [`H2WebSocketClient`] (`tests/interop/h2_server.mjs`), with and without
//!   `enableConnectProtocol`, refusing (403), resetting streams and going away (GOAWAY);
//! - Python's `h2` (hyper-h2, sans-IO) as a client of our server
//!   (`tests/interop/h2_py_client.py`: two WebSockets in turn on one connection, the second
//!   half-closed with its close frame) and as a server for our client
//!   (`tests/interop/h2_py_server.py`: two WebSockets at once on one connection).
//!
//! The scripts frame WebSocket messages by hand (`tests/interop/ws_frames.mjs` for Node) and
//! print result lines that the tests compare exactly. Built only with the test-only feature
//! `external-tests`; then a missing peer FAILS the test with the command that installs it:
//!
//! ```text
//! apt-get install -y nodejs     # Node 18 or later
//! python3 -m pip install -r crates/ws-h2/tests/interop/requirements.txt
//! ```

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader, Lines};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, ChildStdout, Command};
use tokio::sync::mpsc;
use ws_h2::{Error, H2Stream, H2WebSocketClient, H2WebSocketServer};
use ws_proto::handshake::Accept;
use ws_proto::{CloseCode, Compression, Config, Message};
use ws_tokio::WebSocketStream;

const NODE_INSTALL: &str = "apt-get install -y nodejs";
const PYTHON_INSTALL: &str =
    "python3 -m pip install -r crates/ws-h2/tests/interop/requirements.txt";
/// The bound on each whole test, and on each peer process.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);

async fn within<F: Future>(fut: F) -> F::Output {
    tokio::time::timeout(TEST_TIMEOUT, fut)
        .await
        .expect("the test did not finish within its deadline")
}

fn interop_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

fn command(program: &str) -> Command {
    let mut cmd = Command::new(program);
    cmd.current_dir(interop_dir())
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

/// Runs a short probe; panics with `install` when the program or the module is missing.
async fn require(program: &str, args: &[&str], what: &str, install: &str) {
    let probe = tokio::time::timeout(TEST_TIMEOUT, command(program).args(args).output())
        .await
        .unwrap_or_else(|_| panic!("`{program}` did not answer its probe in time"));
    let output = match probe {
        Ok(output) => output,
        Err(e) => {
            panic!("this interop test needs `{program}` ({e}). Install it with:\n    {install}")
        }
    };
    assert!(
        output.status.success(),
        "this interop test needs {what}, which is not installed. Install it with:\n    \
         {install}\nprobe said: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Node with `http2` and its extended CONNECT setting (Node 18 or later).
async fn require_node() {
    require(
        "node",
        &[
            "-e",
            "const h=require('node:http2'); \
             if (!('enableConnectProtocol' in h.getDefaultSettings())) process.exit(1)",
        ],
        "Node.js with `http2` extended CONNECT",
        NODE_INSTALL,
    )
    .await;
}

async fn require_python_h2() {
    require(
        "python3",
        &[
            "-c",
            "import h2.connection, h2.config, h2.events, h2.settings",
        ],
        "the Python package `h2`",
        PYTHON_INSTALL,
    )
    .await;
}

/// Runs a client script with `args`; it must exit 0. Its standard output's lines.
async fn run_script(program: &str, script: &str, args: &[&str]) -> Vec<String> {
    let child = command(program)
        .arg(script)
        .args(args)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {program} {script}: {e}"));
    let output = tokio::time::timeout(TEST_TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{script} did not finish in {TEST_TIMEOUT:?}"))
        .expect("client script");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{script} failed ({}):\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout.lines().map(str::to_owned).collect()
}

/// How one WebSocket on our server went: its path, the messages it echoed, and the close
/// code it received.
type Served = (String, usize, Option<CloseCode>);

/// Our server's configuration: the default, with permessage-deflate (no context takeover)
/// for the clients that offer it.
fn server_config() -> Config {
    Config::builder().compression(Compression::Shared).build()
}

/// Our server on 127.0.0.1: accepts the subprotocol `chat` when offered, echoes text and
/// binary on every WebSocket of every connection (at `/server-closes` it closes with 1001
/// after the first echo, at `/flood` it sends until the stream fails), reports each WebSocket
/// when it ends, and counts the connections.
async fn our_server() -> (
    SocketAddr,
    Arc<AtomicUsize>,
    mpsc::UnboundedReceiver<Served>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let connections = Arc::new(AtomicUsize::new(0));
    let (served_tx, served_rx) = mpsc::unbounded_channel();
    let count = connections.clone();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            count.fetch_add(1, Ordering::SeqCst);
            let served_tx = served_tx.clone();
            tokio::spawn(async move {
                let _ = H2WebSocketServer::new(server_config())
                    .serve_with(
                        tcp,
                        |req| {
                            let offered = req.header("sec-websocket-protocol").unwrap_or("");
                            Ok(if offered.split(',').any(|p| p.trim() == "chat") {
                                Accept::subprotocol("chat")
                            } else {
                                Accept::default()
                            })
                        },
                        move |ws, req| echo(ws, req.path, served_tx.clone()),
                    )
                    .await;
            });
        }
    });
    (addr, connections, served_rx)
}

/// One WebSocket of [`our_server`], reported to `served` when it ends.
async fn echo(
    mut ws: WebSocketStream<H2Stream>,
    path: String,
    served: mpsc::UnboundedSender<Served>,
) {
    if path == "/flood" {
        // Sends until the client, which reads nothing, resets the stream: the send waiting on
        // its window must fail then (not at send_timeout).
        let chunk = Message::binary(Bytes::from(vec![0x5a; 16 << 10]));
        let mut sent = 0usize;
        let error = loop {
            match ws.send(chunk.clone()).await {
                Ok(()) => sent += 1,
                Err(e) => break e,
            }
            assert!(sent < 10_000, "no backpressure after {sent} messages");
        };
        let reset = matches!(&error, ws_tokio::Error::Io(e)
            if e.kind() == std::io::ErrorKind::ConnectionReset);
        // 1: it sent some, then failed on the client's reset.
        let _ = served.send((path, usize::from(sent > 0 && reset), None));
        return;
    }
    let mut echoed = 0;
    let mut close = None;
    while let Some(msg) = ws.recv().await {
        match msg {
            Ok(msg @ (Message::Text(_) | Message::Binary(_))) => {
                if ws.send(msg).await.is_err() {
                    break;
                }
                echoed += 1;
                if path == "/server-closes" && ws.close(CloseCode::GOING_AWAY, "bye").await.is_err()
                {
                    break;
                }
            }
            Ok(Message::Close(frame)) => close = frame.map(|f| f.code),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = served.send((path, echoed, close));
}

/// The WebSockets our server served, sorted by path, once `n` have ended.
async fn served(rx: &mut mpsc::UnboundedReceiver<Served>, n: usize) -> Vec<Served> {
    let mut all = Vec::new();
    while all.len() < n {
        all.push(rx.recv().await.expect("the server stopped"));
    }
    all.sort_by(|a, b| a.0.cmp(&b.0));
    all
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_http2_client_websockets_at_once_padded_and_narrow() {
    within(async {
        require_node().await;
        let (addr, connections, mut served_rx) = our_server().await;
        let port = addr.port().to_string();
        let lines = run_script("node", "h2_client.mjs", &[&port]).await;
        let full = |name: &str| {
            [
                format!("{name} status=200 protocol=chat"),
                format!("{name} text=hello over HTTP/2 from node {name}"),
                format!("{name} binary={} same=true", 100 * 1024),
                format!("{name} pong=ping {name}"),
                format!("{name} close=1000"),
                format!("{name} end"),
                // Both sides ended the stream (END_STREAM), no RST_STREAM: NO_ERROR.
                format!("{name} rst=0"),
            ]
        };
        let mut expected = vec!["enableConnectProtocol=true".to_owned()];
        expected.extend(full("a"));
        expected.extend(full("b"));
        expected.extend([
            "c status=200 protocol=chat".to_owned(),
            "c text=hello over HTTP/2 from node c".to_owned(),
            "c rst=8".to_owned(),
        ]);
        expected.extend([
            "x status=200 protocol=chat".to_owned(),
            "x text=hello over HTTP/2 from node x".to_owned(),
            "x close=1001 reason=bye".to_owned(),
            "x end".to_owned(),
            "x rst=0".to_owned(),
        ]);
        expected.extend([
            "z status=200 extensions=permessage-deflate; server_no_context_takeover; \
             client_no_context_takeover"
                .to_owned(),
            "z text compressed=true smaller=true same=true".to_owned(),
            "z binary compressed=true smaller=true same=true".to_owned(),
            "z close=1000".to_owned(),
            "z end".to_owned(),
            "z rst=0".to_owned(),
        ]);
        expected.extend([
            "f status=200 protocol=chat".to_owned(),
            "f rst=8".to_owned(),
        ]);
        expected.push("enableConnectProtocol=true".to_owned());
        expected.extend(full("p"));
        expected.push("enableConnectProtocol=true".to_owned());
        expected.extend(full("w"));
        assert_eq!(lines, expected);
        // The flood's blocked send failed on the reset, long before send_timeout (30 s).
        let served = tokio::time::timeout(Duration::from_secs(5), served(&mut served_rx, 8))
            .await
            .expect("a WebSocket of our server still running 5 s after the client left");
        assert_eq!(
            served,
            [
                ("/chat".to_owned(), 2, Some(CloseCode::NORMAL)),
                ("/chat".to_owned(), 2, Some(CloseCode::NORMAL)),
                ("/deflate".to_owned(), 2, Some(CloseCode::NORMAL)),
                // Sent some, then failed on the reset (ConnectionReset).
                ("/flood".to_owned(), 1, None),
                ("/narrow".to_owned(), 2, Some(CloseCode::NORMAL)),
                ("/padded".to_owned(), 2, Some(CloseCode::NORMAL)),
                // Reset by the client after one echo: no close frame.
                ("/reset".to_owned(), 1, None),
                // Closed by the server, the client's reply received.
                ("/server-closes".to_owned(), 1, Some(CloseCode::GOING_AWAY)),
            ]
        );
        assert_eq!(
            connections.load(Ordering::SeqCst),
            3,
            "three HTTP/2 sessions"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_h2_client() {
    within(async {
        require_python_h2().await;
        let (addr, connections, mut served_rx) = our_server().await;
        let port = addr.port().to_string();
        let lines = run_script("python3", "h2_py_client.py", &[&port]).await;
        let config = server_config();
        assert_eq!(
            lines,
            [
                "enable_connect_protocol=1",
                &format!(
                    "initial_window_size={} max_concurrent_streams={} max_header_list_size={}",
                    config.http2_window_size,
                    config.http2_max_streams,
                    config.max_handshake_header_bytes
                ),
                "/chat status=200 protocol=chat",
                &format!("connection_window={}", config.http2_connection_window_size),
                "/chat text=hello over HTTP/2 from python h2",
                &format!("/chat binary={} same=True", 300 * 1024),
                "/chat close=1000",
                "/chat end",
                "/half status=200 protocol=chat",
                "/half text=half",
                "/half close=1000",
                "/half end",
            ]
        );
        assert_eq!(
            served(&mut served_rx, 2).await,
            [
                ("/chat".to_owned(), 2, Some(CloseCode::NORMAL)),
                // The close came with END_STREAM: still a clean close for the server.
                ("/half".to_owned(), 1, Some(CloseCode::NORMAL)),
            ]
        );
        assert_eq!(connections.load(Ordering::SeqCst), 1);
    })
    .await;
}

/// A peer server running (`h2_server.mjs` or `h2_py_server.py`): its port and its output, line
/// by line.
struct PeerServer {
    script: &'static str,
    child: Child,
    stdout: Lines<BufReader<ChildStdout>>,
    port: u16,
}

impl PeerServer {
    /// `node h2_server.mjs MODE`.
    async fn node(mode: &str) -> PeerServer {
        require_node().await;
        PeerServer::start("node", "h2_server.mjs", &[mode]).await
    }

    /// `python3 h2_py_server.py`.
    async fn python() -> PeerServer {
        require_python_h2().await;
        PeerServer::start("python3", "h2_py_server.py", &[]).await
    }

    async fn start(program: &str, script: &'static str, args: &[&str]) -> PeerServer {
        let mut child = command(program)
            .arg(script)
            .args(args)
            .stdin(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {program} {script}: {e}"));
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut server = PeerServer {
            script,
            child,
            stdout,
            port: 0,
        };
        let first = server.next_line().await;
        server.port = first
            .strip_prefix("listening ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("{script} said {first:?}"));
        server
    }

    /// The next line it prints; panics with its standard error if it ended instead.
    async fn next_line(&mut self) -> String {
        let script = self.script;
        let line = tokio::time::timeout(TEST_TIMEOUT, self.stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("{script} printed nothing in time"))
            .unwrap_or_else(|e| panic!("read {script} output: {e}"));
        match line {
            Some(line) => line,
            None => {
                let mut stderr = String::new();
                if let Some(mut err) = self.child.stderr.take() {
                    let _ = err.read_to_string(&mut stderr).await;
                }
                panic!("{script} ended early: {stderr}");
            }
        }
    }

    /// Lines until one equal to `last` (included).
    async fn lines_until(&mut self, last: &str) -> Vec<String> {
        let mut lines = Vec::new();
        loop {
            let line = self.next_line().await;
            let done = line == last;
            lines.push(line);
            if done {
                return lines;
            }
        }
    }

    /// Ends its standard input (the Node server's cue to stop; the Python server stops when
    /// its connection ends) and waits for it to print `requests=N` and exit 0. Its remaining
    /// lines.
    async fn finish(mut self) -> Vec<String> {
        let script = self.script;
        drop(self.child.stdin.take());
        let mut lines = Vec::new();
        while let Some(line) = tokio::time::timeout(TEST_TIMEOUT, self.stdout.next_line())
            .await
            .unwrap_or_else(|_| panic!("{script} did not end in time"))
            .unwrap_or_else(|e| panic!("read {script} output: {e}"))
        {
            lines.push(line);
        }
        let status = tokio::time::timeout(TEST_TIMEOUT, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("{script} did not exit in time"))
            .unwrap();
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr).await;
        }
        assert!(status.success(), "{script} failed ({status}): {stderr}");
        lines
    }

    fn url(&self, path: &str) -> String {
        format!("ws://127.0.0.1:{}{path}", self.port)
    }
}

fn payload(len: usize, seed: u8) -> Bytes {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

/// The binary message our client sends a peer server: larger than every HTTP/2 window on the
/// way, and below `max_backpressure` (1 MiB) with room to spare, since the pong to the peer's
/// ping may still be queued when it is sent behind another stream's data (a message that takes
/// the queue past the limit fails the send).
const BIG: usize = 512 << 10;

/// One WebSocket's exchange with a peer server (`node` or `python`) at `/{name}`: text, the
/// peer's own ping (answered), binary larger than every window, our ping and its pong, the
/// close handshake, the end of the stream.
async fn exchange(mut ws: WebSocketStream<H2Stream>, peer: &str, name: &str) {
    assert_eq!(ws.subprotocol(), Some("chat"), "{name}: the subprotocol");
    let text = Message::text(format!("hello from sockudo {name}"));
    ws.send(text.clone()).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        text,
        "{name}: the text echo"
    );
    // The peer's own ping (reported; the pong goes out by itself, masked).
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Ping(Bytes::from(format!("from {peer} /{name}"))),
        "{name}: the peer's ping"
    );
    let big = Message::binary(payload(BIG, name.as_bytes()[0]));
    ws.send(big.clone()).await.unwrap();
    let echo = ws.recv().await.unwrap().unwrap();
    assert!(
        echo == big,
        "{name}: the binary echo ({} bytes)",
        echo.len()
    );
    ws.ping(format!("ping {name}")).await.unwrap();
    assert_eq!(
        ws.recv().await.unwrap().unwrap(),
        Message::Pong(Bytes::from(format!("ping {name}"))),
        "{name}: the pong"
    );
    ws.close(CloseCode::NORMAL, "bye").await.unwrap();
    match ws.recv().await {
        Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::NORMAL),
        other => panic!("{name}: expected the close reply, got {other:?}"),
    }
    assert!(ws.recv().await.is_none(), "{name}: then the end");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_node_http2_server() {
    within(async {
        let mut node = PeerServer::node("ws").await;
        let tcp = TcpStream::connect(("127.0.0.1", node.port)).await.unwrap();
        let conn = H2WebSocketClient::new(Config::default())
            .connect_multiplexed(tcp)
            .await
            .expect("HTTP/2 connection to Node");
        // Two WebSockets at once on the one connection.
        let (url_a, url_b) = (node.url("/a"), node.url("/b"));
        let (a, b) = tokio::join!(
            conn.open_websocket(&url_a, &["superchat", "chat"]),
            conn.open_websocket(&url_b, &["chat"]),
        );
        let (a, b) = (a.expect("WebSocket /a"), b.expect("WebSocket /b"));
        tokio::join!(exchange(a, "node", "a"), exchange(b, "node", "b"));
        // Node saw both streams end cleanly (END_STREAM both ways, no reset).
        let mut lines = node.lines_until("/a closed rst=0").await;
        if !lines.iter().any(|l| l == "/b closed rst=0") {
            lines.extend(node.lines_until("/b closed rst=0").await);
        }
        drop(conn);
        lines.extend(node.finish().await);
        for (path, offered) in [("/a", "superchat, chat"), ("/b", "chat")] {
            let of_path: Vec<&str> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(path)?.strip_prefix(' '))
                .collect();
            assert_eq!(
                of_path,
                [
                    format!(
                        "request method=CONNECT protocol=websocket scheme=http version=13 \
                         subprotocols={offered}"
                    )
                    .as_str(),
                    &format!("text=hello from sockudo {}", &path[1..]),
                    &format!("pong=from node {path}"),
                    &format!("binary={BIG}"),
                    &format!("ping=ping {}", &path[1..]),
                    "close=1000",
                    "end",
                    "closed rst=0",
                ],
                "{lines:#?}"
            );
        }
        assert_eq!(lines.last().map(String::as_str), Some("requests=2"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_refuses_a_node_http2_server_without_extended_connect() {
    within(async {
        let node = PeerServer::node("plain").await;
        let tcp = TcpStream::connect(("127.0.0.1", node.port)).await.unwrap();
        let err = H2WebSocketClient::new(Config::default())
            .connect(tcp, &node.url("/chat"), &["chat"])
            .await
            .expect_err("a WebSocket over a server without extended CONNECT");
        assert!(matches!(err, Error::ExtendedConnectDisabled), "{err}");
        // And Node saw no request at all.
        assert_eq!(node.finish().await, ["requests=0"]);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_with_a_node_http2_server_that_refuses_and_resets() {
    within(async {
        let mut node = PeerServer::node("ws").await;
        let tcp = TcpStream::connect(("127.0.0.1", node.port)).await.unwrap();
        let conn = H2WebSocketClient::new(Config::default())
            .connect_multiplexed(tcp)
            .await
            .expect("HTTP/2 connection to Node");
        // A 403 is reported with its status.
        let err = conn
            .open_websocket(&node.url("/forbidden"), &["chat"])
            .await
            .expect_err("a WebSocket answered 403");
        assert!(matches!(err, Error::Refused(403)), "{err}");
        // A stream reset mid-WebSocket fails its reads, promptly, and only that WebSocket.
        let mut reset = conn
            .open_websocket(&node.url("/reset"), &["chat"])
            .await
            .expect("WebSocket /reset");
        reset.send(Message::text("reset me")).await.unwrap();
        let after_reset = tokio::time::timeout(Duration::from_secs(5), reset.recv())
            .await
            .expect("the reset was not seen within 5 s");
        assert!(
            matches!(
                &after_reset,
                Some(Err(ws_tokio::Error::Connection(
                    ws_proto::Error::ConnectionReset
                )))
            ),
            "a reset stream must read as a connection reset, not {after_reset:?}"
        );
        assert!(reset.send(Message::text("after")).await.is_err());
        drop(reset);
        // The connection goes on.
        let after = conn
            .open_websocket(&node.url("/after"), &["chat"])
            .await
            .expect("WebSocket /after");
        exchange(after, "node", "after").await;
        let mut lines = node.lines_until("/after closed rst=0").await;
        drop(conn);
        lines.extend(node.finish().await);
        let of = |path: &str| -> Vec<String> {
            lines
                .iter()
                .filter_map(|l| Some(l.strip_prefix(path)?.strip_prefix(' ')?.to_owned()))
                .filter(|l| !l.starts_with("request "))
                .collect()
        };
        // (Node answers 403 and ends the stream before it would log anything more.)
        assert_eq!(of("/forbidden"), [] as [&str; 0], "{lines:#?}");
        // Node's own reset ends its readable side too ('end'), which is not ours to check.
        let reset: Vec<String> = of("/reset").into_iter().filter(|l| l != "end").collect();
        assert_eq!(
            reset,
            ["text=reset me", "reset", "closed rst=8"],
            "{lines:#?}"
        );
        assert_eq!(lines.last().map(String::as_str), Some("requests=3"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_with_a_node_http2_server_that_goes_away() {
    within(async {
        let mut node = PeerServer::node("ws").await;
        let tcp = TcpStream::connect(("127.0.0.1", node.port)).await.unwrap();
        let conn = H2WebSocketClient::new(Config::default())
            .connect_multiplexed(tcp)
            .await
            .expect("HTTP/2 connection to Node");
        let ws = conn
            .open_websocket(&node.url("/goaway"), &["chat"])
            .await
            .expect("WebSocket /goaway");
        // The WebSocket open when the GOAWAY came goes on to its end.
        exchange(ws, "node", "goaway").await;
        // A new one fails, promptly.
        let refused = tokio::time::timeout(
            Duration::from_secs(5),
            conn.open_websocket(&node.url("/late"), &["chat"]),
        )
        .await
        .expect("a WebSocket after GOAWAY neither opened nor failed within 5 s");
        let err = refused.expect_err("a WebSocket opened after GOAWAY");
        assert!(
            matches!(&err, Error::Http2(e) if e.is_go_away() && e.is_remote()),
            "{err:?}"
        );
        let mut lines = node.lines_until("/goaway closed rst=0").await;
        lines.extend(node.finish().await);
        let of_goaway: Vec<&str> = lines
            .iter()
            .filter_map(|l| l.strip_prefix("/goaway "))
            .collect();
        assert_eq!(
            of_goaway,
            [
                "request method=CONNECT protocol=websocket scheme=http version=13 \
                 subprotocols=chat",
                "session closing",
                "text=hello from sockudo goaway",
                "pong=from node /goaway",
                &format!("binary={BIG}"),
                "ping=ping goaway",
                "close=1000",
                "end",
                "closed rst=0",
            ],
            "{lines:#?}"
        );
        assert_eq!(
            lines.last().map(String::as_str),
            Some("requests=1"),
            "{lines:#?}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_against_python_h2_server() {
    within(async {
        let mut python = PeerServer::python().await;
        let tcp = TcpStream::connect(("127.0.0.1", python.port))
            .await
            .unwrap();
        let conn = H2WebSocketClient::new(Config::default())
            .connect_multiplexed(tcp)
            .await
            .expect("HTTP/2 connection to Python");
        // Two WebSockets at once on the one connection.
        let (url_a, url_b) = (python.url("/a"), python.url("/b"));
        let (a, b) = tokio::join!(
            conn.open_websocket(&url_a, &["superchat", "chat"]),
            conn.open_websocket(&url_b, &["chat"]),
        );
        let (a, b) = (a.expect("WebSocket /a"), b.expect("WebSocket /b"));
        tokio::join!(exchange(a, "python", "a"), exchange(b, "python", "b"));
        // Python saw both streams end (our END_STREAM after the close handshake).
        let mut lines = python.lines_until("/a end").await;
        if !lines.iter().any(|l| l == "/b end") {
            lines.extend(python.lines_until("/b end").await);
        }
        // Closing the connection ends the Python server.
        drop(conn);
        lines.extend(python.finish().await);
        for (path, offered) in [("/a", "superchat, chat"), ("/b", "chat")] {
            let of_path: Vec<&str> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(path)?.strip_prefix(' '))
                .collect();
            assert_eq!(
                of_path,
                [
                    format!(
                        "request method=CONNECT protocol=websocket scheme=http version=13 \
                         subprotocols={offered}"
                    )
                    .as_str(),
                    &format!("text=hello from sockudo {}", &path[1..]),
                    &format!("pong=from python {path}"),
                    &format!("binary={BIG}"),
                    &format!("ping=ping {}", &path[1..]),
                    "close=1000",
                    "end",
                ],
                "{lines:#?}"
            );
        }
        assert_eq!(
            lines.last().map(String::as_str),
            Some("requests=2"),
            "{lines:#?}"
        );
    })
    .await;
}
