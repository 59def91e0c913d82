//! Hostile peers that announce a frame just under `max_frame_size`, send a few bytes of it and
//! stall (issue #11, defect 4). The server must not commit the announced length per
//! connection: its live heap has to follow the bytes received. Run with `--nocapture` to see
//! the figure: `cargo test -p ws-tokio --test hostile_stalled_frames -- --nocapture`.
//!
//! The heap is counted by ws-simd's counting allocator, per thread: the server runs on this
//! test's single-threaded runtime, the peers on a thread of their own (blocking sockets), so
//! only the server's memory is counted.

mod common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream as StdTcpStream};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};

use common::{SAMPLE_KEY, TEST_TIMEOUT, listener, within};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use ws_simd::alloc_stats as counting;
use ws_tokio::{Config, ConnectionError, Error};

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

const PEERS: usize = 200;
const MAX_FRAME: usize = 16 << 20;
/// What each peer's frame header announces: just under the limit.
const ANNOUNCED: u64 = MAX_FRAME as u64 - 1;
/// Payload bytes each peer sends before stalling.
const SENT: usize = 5;
/// The bound on the server's live heap per stalled connection.
const LIMIT_PER_CONNECTION: isize = 64 << 10;

fn request() -> String {
    format!(
        "GET /stall HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// A masked binary frame header announcing [`ANNOUNCED`] bytes, and [`SENT`] of them.
fn stalled_frame() -> Vec<u8> {
    let mut wire = vec![0x82, 0x80 | 127];
    wire.extend_from_slice(&ANNOUNCED.to_be_bytes());
    wire.extend_from_slice(&[0x11, 0x22, 0x33, 0x44]);
    wire.extend_from_slice(&[0xab; SENT]);
    wire
}

/// How many server connections have read everything their peer sent and wait for more.
#[derive(Default)]
struct Stalled {
    count: AtomicUsize,
    notify: Notify,
}

/// The server's side of a TCP connection, reporting once when a read goes pending after all
/// `expected` bytes arrived: by then the server has taken in the frame header and reserved
/// (with `read_buf`) whatever it reserves for the frame's payload.
struct Watched {
    inner: TcpStream,
    read: usize,
    expected: usize,
    reported: bool,
    stalled: Arc<Stalled>,
}

impl AsyncRead for Watched {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let poll = Pin::new(&mut this.inner).poll_read(cx, buf);
        match &poll {
            Poll::Ready(Ok(())) => this.read += buf.filled().len() - before,
            Poll::Pending if !this.reported && this.read >= this.expected => {
                this.reported = true;
                this.stalled.count.fetch_add(1, Ordering::SeqCst);
                this.stalled.notify.notify_one();
            }
            _ => {}
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

/// The peers, on a thread of their own: each connects, completes the handshake, sends its
/// stalled frame and keeps the connection open until `release` says so.
fn spawn_peers(
    addr: SocketAddr,
    release: std::sync::mpsc::Receiver<()>,
) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        let request = request();
        let frame = stalled_frame();
        let mut peers = Vec::with_capacity(PEERS);
        for _ in 0..PEERS {
            let mut tcp = StdTcpStream::connect(addr).expect("connect");
            tcp.set_read_timeout(Some(TEST_TIMEOUT)).unwrap();
            tcp.write_all(request.as_bytes()).expect("send request");
            // Read the response head (bounded: at most 1 KiB, one byte per pass).
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                assert!(head.len() < 1024, "response head too long");
                let n = tcp.read(&mut byte).expect("read response");
                assert_eq!(n, 1, "server closed during the handshake");
                head.push(byte[0]);
            }
            assert!(head.starts_with(b"HTTP/1.1 101 "), "{head:?}");
            tcp.write_all(&frame).expect("send frame");
            peers.push(tcp);
        }
        // Hold every connection, stalled, until the server's memory was measured.
        let _ = release.recv();
        drop(peers);
    })
}

#[tokio::test]
async fn stalled_frames_just_under_the_limit_do_not_commit_their_announced_length() {
    within(TEST_TIMEOUT, async {
        let config = Config::builder().max_frame_size(MAX_FRAME).build();
        let (listener, addr) = listener().await;
        let stalled = Arc::new(Stalled::default());
        let expected = request().len() + stalled_frame().len();

        let mut tasks = JoinSet::new();
        let base = counting::live();
        let (release, released) = std::sync::mpsc::channel();
        let peers = spawn_peers(addr, released);

        // Accept the peers; each connection task waits for a message that never completes.
        for _ in 0..PEERS {
            let (tcp, _) = listener.accept().await.expect("accept");
            let io = Watched {
                inner: tcp,
                read: 0,
                expected,
                reported: false,
                stalled: stalled.clone(),
            };
            let config = config.clone();
            tasks.spawn(async move {
                let mut ws = ws_tokio::accept(io, config).await.expect("handshake");
                ws.recv().await
            });
        }
        // Bounded by the deadline: every wake-up is a connection reporting its stall.
        while stalled.count.load(Ordering::SeqCst) < PEERS {
            stalled.notify.notified().await;
        }
        let growth = counting::live() - base;
        let per_connection = growth / PEERS as isize;
        println!(
            "{PEERS} connections stalled on a frame announcing {ANNOUNCED} bytes: server heap \
             +{growth} bytes, {per_connection} bytes per connection"
        );

        // Release the peers: every server connection sees the stream end mid-frame.
        release.send(()).unwrap();
        let mut ended = 0;
        while let Some(result) = tasks.join_next().await {
            let outcome = result.expect("connection task");
            assert!(
                matches!(
                    outcome,
                    Some(Err(Error::Connection(ConnectionError::ConnectionReset)))
                ),
                "{outcome:?}"
            );
            ended += 1;
        }
        assert_eq!(ended, PEERS);
        peers.join().expect("peers thread");

        assert!(
            per_connection < LIMIT_PER_CONNECTION,
            "{per_connection} bytes of heap per stalled connection (limit {LIMIT_PER_CONNECTION})"
        );
    })
    .await;
}
