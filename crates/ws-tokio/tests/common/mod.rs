//! Shared helpers for the ws-tokio integration tests.
//!
//! - [`within`]: every test body runs under a deadline, so a hang fails instead of blocking CI.
//! - Loopback listeners (optionally with shrunken socket buffers, to reach backpressure with
//!   little data) and a spawned one-connection server.
//! - [`RawPeer`]: a WebSocket peer written by hand over a plain `TcpStream`. Its frames are
//!   encoded and decoded here, independently of `ws_proto::frame`, so the code under test is
//!   never checked against itself.
//! - Deterministic payloads of any size (text and binary).
//! - [`tls`] (feature `tls`): test certificates and rustls configs for `wss://`.
#![allow(dead_code, unreachable_pub)]

#[cfg(feature = "tls")]
pub mod tls;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, DuplexStream};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::JoinHandle;
use ws_tokio::{Config, WebSocketStream};

/// Generous deadline for a whole test: tests take well under a second or two; this only turns
/// a hang into a failure.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(30);

/// The RFC 6455 sample key and its accept value (section 1.3).
pub const SAMPLE_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
pub const SAMPLE_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

/// Runs `fut`, panicking if it takes longer than `limit`.
pub async fn within<F: Future>(limit: Duration, fut: F) -> F::Output {
    match tokio::time::timeout(limit, fut).await {
        Ok(out) => out,
        Err(_) => panic!("did not finish within {limit:?}"),
    }
}

/// A listener on 127.0.0.1, port 0.
pub async fn listener() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local_addr");
    (listener, addr)
}

/// A listener whose accepted sockets inherit small send and receive buffers (Linux copies
/// SO_SNDBUF / SO_RCVBUF from the listening socket). The kernel rounds the sizes up to its
/// minimum, a few KiB.
pub fn small_buffer_listener(size: u32) -> (TcpListener, SocketAddr) {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_send_buffer_size(size).expect("SO_SNDBUF");
    socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
    socket.bind("127.0.0.1:0".parse().unwrap()).expect("bind");
    let listener = socket.listen(16).expect("listen");
    let addr = listener.local_addr().expect("local_addr");
    (listener, addr)
}

/// A TCP connection to `addr` with small send and receive buffers.
pub async fn small_buffer_connect(addr: SocketAddr, size: u32) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_send_buffer_size(size).expect("SO_SNDBUF");
    socket.set_recv_buffer_size(size).expect("SO_RCVBUF");
    socket.connect(addr).await.expect("connect")
}

/// Accepts one connection on `listener` and completes a server handshake with `config`.
pub async fn accept_one(listener: TcpListener, config: Config) -> WebSocketStream<TcpStream> {
    let (tcp, _) = listener.accept().await.expect("accept");
    ws_tokio::accept(tcp, config)
        .await
        .expect("server handshake")
}

/// Accepts one connection on `listener` with [`ws_tokio::accept`] and runs `handler` on it in
/// a task.
pub fn serve_one<F, Fut, T>(listener: TcpListener, config: Config, handler: F) -> JoinHandle<T>
where
    F: FnOnce(WebSocketStream<TcpStream>) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    tokio::spawn(async move { handler(accept_one(listener, config).await).await })
}

/// A client stream with `config`, connected over loopback TCP to a one-connection server
/// with `config` that runs `handler` on its stream (see [`serve_one`]). Returns the client
/// and the server's task.
pub async fn client_and_server<F, Fut, T>(
    config: Config,
    handler: F,
) -> (WebSocketStream<TcpStream>, JoinHandle<T>)
where
    F: FnOnce(WebSocketStream<TcpStream>) -> Fut + Send + 'static,
    Fut: Future<Output = T> + Send + 'static,
    T: Send + 'static,
{
    let (listener, addr) = listener().await;
    let server = serve_one(listener, config.clone(), handler);
    let client = ws_tokio::connect(&url(addr, "/"), config)
        .await
        .expect("connect");
    (client, server)
}

/// A server stream with `config` and a raw client connected to it over loopback TCP (handshake
/// for `/` done). With `socket_buffer`, both ends have shrunken socket buffers (see
/// [`small_buffer_listener`]), so that the kernel holds little and the library's own limits
/// decide.
pub async fn pair(
    config: Config,
    socket_buffer: Option<u32>,
) -> (WebSocketStream<TcpStream>, RawPeer) {
    let (listener, addr) = match socket_buffer {
        Some(size) => small_buffer_listener(size),
        None => listener().await,
    };
    let server = tokio::spawn(accept_one(listener, config));
    let tcp = match socket_buffer {
        Some(size) => small_buffer_connect(addr, size).await,
        None => TcpStream::connect(addr).await.expect("connect"),
    };
    let (peer, _) = RawPeer::handshake_client(tcp, addr, "/", "").await;
    (server.await.expect("server task"), peer)
}

/// Echoes every text and binary message back until the stream ends; returns how many it
/// echoed. Panics on any error.
pub async fn echo<S>(mut ws: WebSocketStream<S>) -> usize
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut count = 0;
    while let Some(message) = ws.recv().await {
        let message = message.expect("echo: recv");
        if message.is_text() || message.is_binary() {
            ws.send(message).await.expect("echo: send");
            count += 1;
        }
    }
    count
}

// ---------------------------------------------------------------------------------------------
// In memory, for tests in virtual time
// ---------------------------------------------------------------------------------------------

/// A roomy capacity for each direction of an in-memory pipe: more than the tests write before
/// the other side reads, so a write waits only where a test makes a side stop reading. (A small
/// capacity models a peer that stops reading, as shrunken socket buffers do over TCP.)
pub const DUPLEX_CAPACITY: usize = 1 << 20;

/// A server stream and a raw client over an in-memory pipe holding `capacity` bytes each way,
/// both already open (no handshake:
/// the handshake is tested over TCP). Nothing here waits on the OS, so tokio's paused clock
/// (`#[tokio::test(start_paused = true)]`) drives the library's timers exactly: time only
/// advances when every task waits, straight to the next deadline.
pub fn duplex_server_and_raw_client(
    config: Config,
    capacity: usize,
) -> (WebSocketStream<DuplexStream>, RawPeer<DuplexStream>) {
    let (ours, theirs) = tokio::io::duplex(capacity);
    let peer = RawPeer {
        tcp: theirs,
        buf: Vec::new(),
        is_client: true,
    };
    (WebSocketStream::server(ours, config), peer)
}

/// A client stream and a raw server over an in-memory pipe; see
/// [`duplex_server_and_raw_client`].
pub fn duplex_client_and_raw_server(
    config: Config,
    capacity: usize,
) -> (WebSocketStream<DuplexStream>, RawPeer<DuplexStream>) {
    let (ours, theirs) = tokio::io::duplex(capacity);
    let peer = RawPeer {
        tcp: theirs,
        buf: Vec::new(),
        is_client: false,
    };
    (WebSocketStream::client(ours, config), peer)
}

/// A client stream and a server stream, both with `config`, over an in-memory pipe holding
/// `capacity` bytes each way, already open; see [`duplex_server_and_raw_client`].
pub fn duplex_pair(
    config: Config,
    capacity: usize,
) -> (WebSocketStream<DuplexStream>, WebSocketStream<DuplexStream>) {
    let (a, b) = tokio::io::duplex(capacity);
    (
        WebSocketStream::client(a, config.clone()),
        WebSocketStream::server(b, config),
    )
}

/// The URL of a local server.
pub fn url(addr: SocketAddr, path: &str) -> String {
    format!("ws://{addr}{path}")
}

/// A config with message and frame limits large enough for `max` bytes.
pub fn big_config(max: usize) -> Config {
    Config::builder()
        .max_message_size(max)
        .max_frame_size(max)
        .build()
}

// ---------------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------------

/// `len` pseudo-random bytes determined by `seed` (xorshift).
pub fn binary_payload(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len);
    while out.len() < len {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        let bytes = state.to_le_bytes();
        let take = (len - out.len()).min(8);
        out.extend_from_slice(&bytes[..take]);
    }
    out
}

/// Valid UTF-8 of exactly `len` bytes determined by `seed`, mixing 1-, 2-, 3- and 4-byte
/// characters (so that any split into frames cuts through characters).
///
/// Large payloads are tiled from 16 distinct blocks of 4093 bytes (a prime, so tiles fall
/// across frame and buffer boundaries everywhere), which keeps building 16 MiB fast in debug.
pub fn text_payload(len: usize, seed: u64) -> String {
    const BLOCK: usize = 4093;
    if len <= 4 * BLOCK {
        return small_text(len, seed);
    }
    let blocks: Vec<String> = (0..16).map(|i| small_text(BLOCK, seed * 16 + i)).collect();
    let mut out = String::with_capacity(len);
    for k in 0..len / BLOCK {
        out.push_str(&blocks[k % blocks.len()]);
    }
    out.push_str(&small_text(len % BLOCK, seed + 1));
    out
}

fn small_text(len: usize, seed: u64) -> String {
    const CHARS: [&str; 6] = ["a", "Z", "é", "ß", "€", "𝄞"];
    let noise = binary_payload(len, seed);
    let mut out = String::with_capacity(len);
    let mut i = 0;
    while out.len() < len {
        let c = CHARS[noise[i] as usize % CHARS.len()];
        // Fill the tail with ASCII so the length is exact.
        if out.len() + c.len() <= len {
            out.push_str(c);
        } else {
            out.push('.');
        }
        i += 1;
    }
    out
}

// ---------------------------------------------------------------------------------------------
// A hand-written WebSocket peer
// ---------------------------------------------------------------------------------------------

pub const OP_CONT: u8 = 0x0;
pub const OP_TEXT: u8 = 0x1;
pub const OP_BINARY: u8 = 0x2;
pub const OP_CLOSE: u8 = 0x8;
pub const OP_PING: u8 = 0x9;
pub const OP_PONG: u8 = 0xA;

/// One frame as read off the wire, payload unmasked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Frame {
    pub fin: bool,
    pub rsv: u8,
    pub opcode: u8,
    pub masked: bool,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The status code of a close frame.
    pub fn close_code(&self) -> Option<u16> {
        assert_eq!(self.opcode, OP_CLOSE, "not a close frame: {self:?}");
        (self.payload.len() >= 2).then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }
}

/// Encodes one frame by hand (RFC 6455 section 5.2). `mask` is applied when given.
pub fn frame_bytes(fin: bool, opcode: u8, payload: &[u8], mask: Option<[u8; 4]>) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 14);
    out.push(if fin { 0x80 } else { 0 } | opcode);
    let mask_bit = if mask.is_some() { 0x80 } else { 0 };
    match payload.len() {
        n @ 0..=125 => out.push(mask_bit | n as u8),
        n @ 126..=0xFFFF => {
            out.push(mask_bit | 126);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        n => {
            out.push(mask_bit | 127);
            out.extend_from_slice(&(n as u64).to_be_bytes());
        }
    }
    match mask {
        Some(key) => {
            out.extend_from_slice(&key);
            out.extend(payload.iter().enumerate().map(|(i, b)| b ^ key[i % 4]));
        }
        None => out.extend_from_slice(payload),
    }
    out
}

/// A client frame: masked with a fixed, non-trivial key.
pub fn client_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_bytes(fin, opcode, payload, Some([0x37, 0xfa, 0x21, 0x3d]))
}

/// A server frame: unmasked.
pub fn server_frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_bytes(fin, opcode, payload, None)
}

/// A close payload: code then reason.
pub fn close_payload(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    p
}

/// Decodes one frame from the front of `buf`, if it is complete: `(frame, bytes used)`.
pub fn parse_frame(buf: &[u8]) -> Option<(Frame, usize)> {
    if buf.len() < 2 {
        return None;
    }
    let fin = buf[0] & 0x80 != 0;
    let rsv = buf[0] & 0x70;
    let opcode = buf[0] & 0x0F;
    let masked = buf[1] & 0x80 != 0;
    let (len, mut pos) = match buf[1] & 0x7F {
        126 => {
            if buf.len() < 4 {
                return None;
            }
            (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4)
        }
        127 => {
            if buf.len() < 10 {
                return None;
            }
            let mut b = [0u8; 8];
            b.copy_from_slice(&buf[2..10]);
            (u64::from_be_bytes(b) as usize, 10)
        }
        n => (n as usize, 2),
    };
    let key = if masked {
        if buf.len() < pos + 4 {
            return None;
        }
        let k = [buf[pos], buf[pos + 1], buf[pos + 2], buf[pos + 3]];
        pos += 4;
        Some(k)
    } else {
        None
    };
    if buf.len() < pos + len {
        return None;
    }
    let mut payload = buf[pos..pos + len].to_vec();
    if let Some(k) = key {
        for (i, b) in payload.iter_mut().enumerate() {
            *b ^= k[i % 4];
        }
    }
    Some((
        Frame {
            fin,
            rsv,
            opcode,
            masked,
            payload,
        },
        pos + len,
    ))
}

/// A WebSocket peer written by hand over TCP (or, for tests in virtual time, over one end of a
/// `tokio::io::duplex` pipe): it sends bytes exactly as told and decodes what it reads with
/// [`parse_frame`].
pub struct RawPeer<T = TcpStream> {
    /// The transport: a `TcpStream` unless the peer was made by a `duplex_*` helper.
    pub tcp: T,
    /// Bytes read but not yet parsed.
    pub buf: Vec<u8>,
    /// Mask outgoing frames (a client must).
    pub is_client: bool,
}

impl RawPeer<TcpStream> {
    /// Connects to `addr` and completes a client handshake for `path` with the RFC sample key;
    /// returns the peer and the response head. Any bytes after the head stay buffered.
    pub async fn connect(addr: SocketAddr, path: &str) -> (RawPeer, String) {
        let tcp = TcpStream::connect(addr).await.expect("raw connect");
        RawPeer::handshake_client(tcp, addr, path, "").await
    }

    /// Client handshake over `tcp`, with extra header lines (each ending in `\r\n`).
    pub async fn handshake_client(
        mut tcp: TcpStream,
        addr: SocketAddr,
        path: &str,
        extra: &str,
    ) -> (RawPeer, String) {
        tcp.set_nodelay(true).unwrap();
        tcp.write_all(upgrade_request(addr, path, extra).as_bytes())
            .await
            .expect("write request");
        let mut peer = RawPeer {
            tcp,
            buf: Vec::new(),
            is_client: true,
        };
        let head = peer.read_head().await;
        assert!(head.starts_with("HTTP/1.1 101 "), "not upgraded: {head}");
        assert!(
            head.contains(&format!("\r\nSec-WebSocket-Accept: {SAMPLE_ACCEPT}\r\n")),
            "wrong accept key: {head}"
        );
        (peer, head)
    }

    /// Accepts one connection and completes a server handshake; returns the peer and the
    /// request head.
    pub async fn accept(listener: &TcpListener) -> (RawPeer, String) {
        let (tcp, _) = listener.accept().await.expect("raw accept");
        let mut peer = RawPeer::server(tcp);
        let head = peer.read_head().await;
        let response = switching_protocols(&head);
        peer.tcp
            .write_all(response.as_bytes())
            .await
            .expect("write 101");
        (peer, head)
    }

    /// A server-side peer over `tcp`, before any handshake.
    pub fn server(tcp: TcpStream) -> RawPeer {
        tcp.set_nodelay(true).unwrap();
        RawPeer {
            tcp,
            buf: Vec::new(),
            is_client: false,
        }
    }
}

impl<T: AsyncRead + AsyncWrite + Unpin> RawPeer<T> {
    /// Reads up to and including the empty line ending an HTTP head; returns the head.
    pub async fn read_head(&mut self) -> String {
        loop {
            if let Some(end) = find(&self.buf, b"\r\n\r\n") {
                let head: Vec<u8> = self.buf.drain(..end + 4).collect();
                return String::from_utf8(head).expect("head is UTF-8");
            }
            let n = self.read_some().await;
            assert!(
                n > 0,
                "EOF inside the HTTP head: {:?}",
                String::from_utf8_lossy(&self.buf)
            );
        }
    }

    async fn read_some(&mut self) -> usize {
        let mut chunk = [0u8; 16 * 1024];
        let n = self.tcp.read(&mut chunk).await.expect("raw read");
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Encodes (masked for a client) and writes one frame.
    pub async fn send(&mut self, fin: bool, opcode: u8, payload: &[u8]) {
        let bytes = self.encode(fin, opcode, payload);
        self.tcp.write_all(&bytes).await.expect("raw write");
    }

    /// The bytes of one frame as this peer sends it.
    pub fn encode(&self, fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
        if self.is_client {
            client_frame(fin, opcode, payload)
        } else {
            server_frame(fin, opcode, payload)
        }
    }

    /// Writes raw bytes.
    pub async fn write(&mut self, bytes: &[u8]) {
        self.tcp.write_all(bytes).await.expect("raw write");
    }

    /// The next frame; `None` on a clean EOF between frames. Checks the masking rule for the
    /// direction.
    pub async fn read_frame(&mut self) -> Option<Frame> {
        read_frame_from(&mut self.tcp, &mut self.buf, !self.is_client).await
    }

    /// The next frame, which must exist.
    pub async fn expect_frame(&mut self) -> Frame {
        self.read_frame().await.expect("a frame, got EOF")
    }

    /// Asserts that the next read is EOF (the other side closed TCP) with nothing before it.
    pub async fn expect_eof(&mut self) {
        assert!(
            self.buf.is_empty(),
            "unread bytes before EOF: {:?}",
            self.buf
        );
        let mut chunk = [0u8; 1024];
        match self.tcp.read(&mut chunk).await {
            Ok(0) => {}
            Ok(n) => panic!("expected EOF, read {n} bytes: {:?}", &chunk[..n]),
            Err(e) => panic!("expected EOF, got {e}"),
        }
    }
}

/// The next frame from `reader` (with `buf` holding bytes read before); `None` on a clean EOF
/// between frames. `masked`: whether frames in this direction must be masked.
pub async fn read_frame_from<R>(reader: &mut R, buf: &mut Vec<u8>, masked: bool) -> Option<Frame>
where
    R: tokio::io::AsyncRead + Unpin,
{
    loop {
        if let Some((frame, used)) = parse_frame(buf) {
            buf.drain(..used);
            assert_eq!(
                frame.masked, masked,
                "frame masking is wrong for its direction: {frame:?}"
            );
            return Some(frame);
        }
        let mut chunk = [0u8; 16 * 1024];
        let n = reader.read(&mut chunk).await.expect("raw read");
        if n == 0 {
            assert!(buf.is_empty(), "EOF inside a frame: {} bytes", buf.len());
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// The payload of flood ping `i`: 125 bytes starting with `i`.
pub fn ping_payload(i: u32) -> [u8; 125] {
    let mut payload = [0u8; 125];
    payload[..4].copy_from_slice(&i.to_be_bytes());
    payload[4..].fill(i as u8);
    payload
}

/// Writes masked pings with [`ping_payload`] 0, 1, 2, ... in batches, never stopping mid-frame
/// on its own; stops after a million pings or a write error. Abort the task to stop it (a
/// frame may then be torn, which only matters to a server still reading).
pub async fn flood_pings(mut wr: tokio::net::tcp::OwnedWriteHalf) -> u32 {
    let mut sent = 0u32;
    while sent < 1_000_000 {
        let batch: Vec<u8> = (sent..sent + 32)
            .flat_map(|i| client_frame(true, OP_PING, &ping_payload(i)))
            .collect();
        if wr.write_all(&batch).await.is_err() {
            break;
        }
        sent += 32;
    }
    sent
}

/// A client upgrade request with the RFC sample key.
pub fn upgrade_request(addr: SocketAddr, path: &str, extra: &str) -> String {
    format!(
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {SAMPLE_KEY}\r\nSec-WebSocket-Version: 13\r\n{extra}\r\n"
    )
}

/// The 101 answer to a request head.
pub fn switching_protocols(request_head: &str) -> String {
    let key = request_head
        .split("\r\n")
        .find_map(|line| {
            let (name, value) = line.split_once(':')?;
            name.eq_ignore_ascii_case("sec-websocket-key")
                .then(|| value.trim().to_owned())
        })
        .expect("request has a Sec-WebSocket-Key");
    let accept = ws_proto::handshake::generate_accept_key(&key);
    format!(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Accept: {accept}\r\n\r\n"
    )
}

pub fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
