//! permessage-deflate interop with independent implementations, both directions, over loopback
//! TCP: Python's `websockets` (`tests/interop/deflate_py.py`) and Node's `ws`
//! (`tests/interop/deflate_node.mjs`), each as client of our server and as server for our
//! client, with default offers, small window bits and no context takeover. Every message (240
//! of 1 B to 200 KiB, compressible and not, then 1 MiB of text and 4 MiB of binary) is echoed
//! and compared byte for byte, and the bytes on the wire show that compression really happened.
//!
//! The peers must be installed; a missing one FAILS the test with the command that installs it:
//!
//! ```text
//! python3 -m pip install -r crates/ws-tokio/tests/interop/requirements.txt
//! (cd crates/ws-tokio/tests/interop && npm ci)
//! ```

use std::io;
use std::path::PathBuf;
use std::pin::Pin;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, BufReader, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::process::{Child, Command};
use ws_deflate::{DeflateConfig, DeflateNegotiator};
use ws_proto::handshake::ClientOptions;
use ws_tokio::{Compression, Config, Message};

const PYTHON_INSTALL: &str =
    "python3 -m pip install -r crates/ws-tokio/tests/interop/requirements.txt";
const NODE_INSTALL: &str = "cd crates/ws-tokio/tests/interop && npm ci";
const TIMEOUT: Duration = Duration::from_secs(120);

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

#[derive(Clone, Copy, Debug, PartialEq)]
enum Peer {
    Python,
    Node,
}

impl Peer {
    fn program(self) -> &'static str {
        match self {
            Peer::Python => "python3",
            Peer::Node => "node",
        }
    }
    fn script(self) -> &'static str {
        match self {
            Peer::Python => "deflate_py.py",
            Peer::Node => "deflate_node.mjs",
        }
    }

    /// Panics with the install command when the peer is missing.
    async fn require(self) {
        let (args, what, install): (&[&str], _, _) = match self {
            Peer::Python => (
                &[
                    "-c",
                    "import websockets.extensions.permessage_deflate, websockets.sync.client",
                ],
                "the Python package `websockets`",
                PYTHON_INSTALL,
            ),
            Peer::Node => (
                &["-e", "require.resolve('ws')"],
                "the npm package `ws`",
                NODE_INSTALL,
            ),
        };
        let program = self.program();
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
}

/// Counts the bytes that cross a stream, to see compression on the wire.
struct Counted<S> {
    inner: S,
    read: Arc<AtomicUsize>,
    written: Arc<AtomicUsize>,
}

impl<S> Counted<S> {
    fn new(inner: S) -> (Self, Arc<AtomicUsize>, Arc<AtomicUsize>) {
        let read = Arc::new(AtomicUsize::new(0));
        let written = Arc::new(AtomicUsize::new(0));
        (
            Counted {
                inner,
                read: read.clone(),
                written: written.clone(),
            },
            read,
            written,
        )
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Counted<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        self.read
            .fetch_add(buf.filled().len() - before, Ordering::Relaxed);
        r
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Counted<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = r {
            self.written.fetch_add(n, Ordering::Relaxed);
        }
        r
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = r {
            self.written.fetch_add(n, Ordering::Relaxed);
        }
        r
    }
    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

fn config(compression: Compression) -> Config {
    Config::builder()
        .max_message_size(64 << 20)
        .max_frame_size(64 << 20)
        .compression(compression)
        .build()
}

/// What our echo server saw.
#[derive(Debug)]
struct ServerReport {
    extension: String,
    echoed: usize,
    plain: usize,
    wire: usize,
}

/// Our server: one connection, echo until it ends.
fn our_echo_server(
    listener: TcpListener,
    compression: Compression,
) -> tokio::task::JoinHandle<ServerReport> {
    tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        tcp.set_nodelay(true).unwrap();
        let (stream, read, written) = Counted::new(tcp);
        let mut ws = ws_tokio::accept(stream, config(compression))
            .await
            .expect("our server: handshake");
        let extension = format!("{:?}", ws.connection().extension());
        let (mut echoed, mut plain) = (0, 0);
        while let Some(message) = ws.recv().await {
            if let m @ (Message::Text(_) | Message::Binary(_)) = message.expect("our server: recv")
            {
                plain += m.len();
                ws.send(m).await.expect("our server: send");
                echoed += 1;
            }
        }
        ServerReport {
            extension,
            echoed,
            plain,
            wire: read.load(Ordering::Relaxed) + written.load(Ordering::Relaxed),
        }
    })
}

/// Their client against our server in `mode`, with their deflate options `opts` (JSON).
async fn their_client(peer: Peer, mode: Compression, opts: &str) -> (ServerReport, String) {
    peer.require().await;
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("ws://{}/deflate", listener.local_addr().unwrap());
    let server = our_echo_server(listener, mode);
    let child = command(peer.program())
        .args([peer.script(), "client", &url, opts])
        .spawn()
        .expect("spawn client script");
    let output = tokio::time::timeout(TIMEOUT, child.wait_with_output())
        .await
        .unwrap_or_else(|_| panic!("{} client did not finish in time", peer.script()))
        .expect("client script");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success() && stdout.starts_with("OK "),
        "{peer:?} client ({opts}) failed ({}):\nstdout: {stdout}\nstderr: {}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    let report = tokio::time::timeout(TIMEOUT, server)
        .await
        .expect("our server finishes")
        .expect("our server task");
    (report, stdout)
}

/// A server script, running; its port was read from its stdout.
struct ServerScript {
    child: Child,
    port: u16,
}

impl ServerScript {
    async fn start(peer: Peer, opts: &str) -> ServerScript {
        peer.require().await;
        let mut child = command(peer.program())
            .args([peer.script(), "server", opts])
            .spawn()
            .expect("spawn server script");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        match tokio::time::timeout(Duration::from_secs(20), lines.next_line()).await {
            Ok(Ok(Some(line))) => ServerScript {
                port: line.trim().parse().expect("a port number"),
                child,
            },
            other => panic!("{} printed no port: {other:?}", peer.script()),
        }
    }

    /// Closes its stdin (it exits) and returns what it printed on stderr.
    async fn stop(mut self) -> String {
        drop(self.child.stdin.take());
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), err.read_to_string(&mut stderr))
                .await;
        }
        if tokio::time::timeout(Duration::from_secs(5), self.child.wait())
            .await
            .is_err()
        {
            let _ = self.child.kill().await;
        }
        stderr
    }
}

fn json_like(len: usize, seed: u64) -> String {
    let mut out = String::with_capacity(len + 128);
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut i = 0;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(&format!(
            "{{\"id\":{i},\"user\":\"user{}\",\"price\":{}.{:02},\"ok\":{}}},",
            x % 1000,
            (x >> 16) % 10000,
            (x >> 40) % 100,
            x & 1 == 0
        ));
        i += 1;
    }
    out.truncate(len);
    out
}

fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|_| {
            x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z >> 56) as u8
        })
        .collect()
}

fn our_messages() -> Vec<Message> {
    let sizes = [1usize, 10, 100, 1000, 5000, 20_000, 70_000, 200_000];
    let mut out: Vec<Message> = (0..240u64)
        .map(|i| {
            let size = sizes[i as usize % sizes.len()] + (i as usize * 7) % 50;
            match i % 6 {
                4 => Message::Binary(noise(size.min(50_000), i).into()),
                5 => Message::Binary(json_like(size, i).into_bytes().into()),
                _ => Message::from(json_like(size, i)),
            }
        })
        .collect();
    out.push(Message::from(
        json_like(1 << 20, 1) + "\u{e9}\u{20ac}\u{1d11e}",
    ));
    out.push(Message::Binary(json_like(4 << 20, 2).into_bytes().into()));
    out
}

/// Our client (with `negotiator`, or the config's default) against their server with `opts`.
/// Returns the extension we negotiated, the bytes on the wire, the plain bytes, and what the
/// server printed.
async fn their_server(
    peer: Peer,
    opts: &str,
    mode: Compression,
    negotiator: Option<DeflateNegotiator>,
) -> (String, usize, usize, String) {
    let script = ServerScript::start(peer, opts).await;
    let url = format!("ws://127.0.0.1:{}/deflate", script.port);
    let tcp = TcpStream::connect(("127.0.0.1", script.port))
        .await
        .unwrap();
    tcp.set_nodelay(true).unwrap();
    let (stream, read, written) = Counted::new(tcp);
    let options = ClientOptions {
        negotiator: negotiator
            .as_ref()
            .map(|n| n as &dyn ws_proto::extension::ExtensionNegotiator),
        ..Default::default()
    };
    let mut ws = tokio::time::timeout(
        Duration::from_secs(20),
        ws_tokio::client_with(stream, &url, config(mode), &options),
    )
    .await
    .expect("handshake in time")
    .unwrap_or_else(|e| panic!("our client against {peer:?} ({opts}): {e}"));
    let extension = format!("{:?}", ws.connection().extension());
    let mut plain = 0;
    for (i, m) in our_messages().into_iter().enumerate() {
        plain += m.len();
        ws.send(m.clone()).await.unwrap();
        match tokio::time::timeout(TIMEOUT, ws.recv()).await {
            Ok(Some(Ok(echoed))) => {
                assert!(echoed == m, "{peer:?} ({opts}): message {i} differs")
            }
            other => panic!("{peer:?} ({opts}): echo of message {i}: {other:?}"),
        }
    }
    ws.close(1000, "").await.unwrap();
    while let Some(Ok(_)) = ws.recv().await {}
    let wire = read.load(Ordering::Relaxed) + written.load(Ordering::Relaxed);
    (extension, wire, plain * 2, script.stop().await)
}

/// The wire carried well under the plain bytes (most messages are JSON-like: about 5x with
/// 32 KiB windows, 2.8x with 512-byte ones; uncompressed would be 1x).
fn assert_compressed(what: &str, wire: usize, plain: usize) {
    println!("{what}: {wire} bytes on the wire for {plain} plain bytes");
    assert!(
        wire * 2 < plain,
        "{what}: {wire} bytes on the wire for {plain} plain bytes: not compressed?"
    );
}

// ---------------------------------------------------------------------------------------------
// Their clients, our server
// ---------------------------------------------------------------------------------------------

async fn client_case(peer: Peer, mode: Compression, opts: &str, expect: &[&str]) {
    let (report, stdout) = their_client(peer, mode, opts).await;
    assert_eq!(report.echoed, 242, "{report:?}");
    assert!(
        report.extension.starts_with("Some(PerMessageDeflate"),
        "{report:?}"
    );
    for e in expect {
        assert!(
            report.extension.contains(e),
            "{opts}: expected {e} in {report:?}"
        );
    }
    assert_compressed(
        &format!(
            "{peer:?} client {opts} -> our {mode:?} server ({})",
            stdout.trim()
        ),
        report.wire,
        report.plain * 2,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_default_offer_dedicated_server() {
    client_case(
        Peer::Python,
        Compression::Dedicated,
        "{}",
        &[
            "server_no_context_takeover: false",
            "client_no_context_takeover: false",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_small_windows_shared4kb_server() {
    client_case(
        Peer::Python,
        Compression::Shared4KB,
        r#"{"server_max_window_bits": 9, "client_max_window_bits": 9}"#,
        &[
            "server_max_window_bits: 9",
            "client_no_context_takeover: true",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_client_no_context_takeover_dedicated_server() {
    client_case(
        Peer::Python,
        Compression::Dedicated,
        r#"{"server_no_context_takeover": true, "client_no_context_takeover": true,
            "server_max_window_bits": 10}"#,
        &[
            "server_no_context_takeover: true",
            "server_max_window_bits: 10",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_default_offer_dedicated_server() {
    client_case(
        Peer::Node,
        Compression::Dedicated,
        r#"{"threshold": 0}"#,
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn node_client_small_windows_no_takeover_shared8kb_server() {
    client_case(
        Peer::Node,
        Compression::Shared8KB,
        r#"{"threshold": 0, "serverNoContextTakeover": true, "clientNoContextTakeover": true,
            "serverMaxWindowBits": 9, "clientMaxWindowBits": 9}"#,
        &[
            "server_max_window_bits: 9",
            "server_no_context_takeover: true",
        ],
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// Our client, their servers
// ---------------------------------------------------------------------------------------------

async fn server_case(
    peer: Peer,
    opts: &str,
    mode: Compression,
    negotiator: Option<DeflateNegotiator>,
    expect: &[&str],
) {
    let (extension, wire, plain, stderr) = their_server(peer, opts, mode, negotiator).await;
    assert!(
        extension.starts_with("Some(PerMessageDeflate"),
        "{extension}"
    );
    for e in expect {
        assert!(extension.contains(e), "{opts}: expected {e} in {extension}");
    }
    assert!(stderr.contains("EXT "), "{stderr}");
    assert_compressed(
        &format!(
            "our {mode:?} client -> {peer:?} server {opts} ({})",
            stderr.trim()
        ),
        wire,
        plain,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_dedicated_client_python_server_default() {
    server_case(Peer::Python, "{}", Compression::Dedicated, None, &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_shared_client_python_server_small_client_window() {
    // The server limits our window to 9 bits and inflates with a 512-byte window.
    server_case(
        Peer::Python,
        r#"{"client_max_window_bits": 9}"#,
        Compression::Shared,
        None,
        &["client_max_window_bits: 9"],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_client_asks_python_server_for_a_small_window_and_no_takeover() {
    let negotiator = DeflateNegotiator::with_config(
        DeflateConfig::new(Compression::Dedicated)
            .peer_max_window_bits(Some(10))
            .peer_no_context_takeover(true),
    );
    server_case(
        Peer::Python,
        "{}",
        Compression::Dedicated,
        Some(negotiator),
        &[
            "server_max_window_bits: 10",
            "server_no_context_takeover: true",
        ],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_dedicated_client_node_server_default() {
    server_case(
        Peer::Node,
        r#"{"threshold": 0}"#,
        Compression::Dedicated,
        None,
        &[],
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn our_shared4kb_client_node_server_small_windows() {
    let negotiator = DeflateNegotiator::with_config(
        DeflateConfig::new(Compression::Shared4KB).peer_max_window_bits(Some(10)),
    );
    server_case(
        Peer::Node,
        r#"{"threshold": 0, "clientMaxWindowBits": 9, "serverMaxWindowBits": 10,
            "serverNoContextTakeover": true}"#,
        Compression::Shared4KB,
        Some(negotiator),
        &[
            "client_max_window_bits: 9",
            "server_no_context_takeover: true",
        ],
    )
    .await;
}
