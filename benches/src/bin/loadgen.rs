//! `loadgen`: the load generator of the end-to-end echo benchmark, modelled on uWebSockets'
//! `load_test`.
//!
//! It uses no WebSocket library, so that the server and not the generator is the bottleneck:
//! raw tokio TCP on one thread, the upgrade request with a fixed key, one pre-built masked frame
//! (masked once, then the same bytes for every message), one `write` per message, and reads into
//! one reused buffer of which only the server's 2-10 byte frame headers are parsed.
//!
//! Modes (`--mode`):
//! - `pingpong` (default): every connection sends one message and the next only after the
//!   whole echo came back. Messages per second are sampled each second over `--seconds` after
//!   `--warmup`, with latency percentiles.
//! - `pipeline`: `--depth K` messages in flight per connection; each echo that completes sends
//!   another (the echoes of one read are answered in one write).
//! - `count`: `--messages M` in all, ping-pong, no warm-up; for profiling a server that exits
//!   after M (`--exit-after-messages`).
//! - `idle`: the resident memory of `--server-pid` after one warm connection and after
//!   `--connections` more idle ones; the difference divided by their number.
//!
//! Transports (`--transport`):
//! - `h1` (default): WebSocket over HTTP/1.1 on plain TCP, as above; the baseline.
//! - `wss`: the same over TLS (tokio-rustls, ring). The generator trusts any certificate (a
//!   test-only verifier that still checks the handshake signatures): it is a load generator
//!   on loopback, and the echo server makes a self-signed certificate at start.
//! - `h2`: WebSocket over HTTP/2 (RFC 8441) with the `h2` crate as the client: cleartext
//!   HTTP/2 with prior knowledge, the server's SETTINGS checked for
//!   `SETTINGS_ENABLE_CONNECT_PROTOCOL`, then an extended CONNECT (`:protocol = websocket`)
//!   per WebSocket. The same pre-masked frames go out as DATA; the echoes are read from the
//!   stream (their frame headers counted the same way), and the flow-control capacity is
//!   released as they are read. `--streams-per-connection K` puts K WebSockets on each TCP
//!   connection (`--connections` is the number of WebSockets either way).
//!
//! With `--server-pid`, the server's CPU time over the measured window is read from
//! `/proc/PID/stat`: in all (`server_cpu_s`) and split into user space (`server_user_cpu_s`)
//! and the kernel (`server_sys_cpu_s`). The result is one line on stdout: `RESULT {json}`.

use std::cell::RefCell;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sockudo_ws_benches::load::{
    self, BINARY, EchoCounter, Histogram, TEXT, client_frame, cpu_ticks, parse_response, rss_kib,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

const USAGE: &str = "\
usage: loadgen --port P [--host 127.0.0.1] [--mode pingpong|pipeline|count|idle]
               [--connections N] [--size BYTES] [--text] [--deflate] [--depth K]
               [--warmup SECS] [--seconds SECS] [--messages M] [--server-pid PID]
               [--transport h1|h2|wss] [--streams-per-connection K (h2)]";

/// The flow-control windows the HTTP/2 client announces (per stream, per connection): those
/// of ws-proto's `Config` defaults, ample for the messages in flight of every case.
const H2_STREAM_WINDOW: u32 = 256 << 10;
const H2_CONNECTION_WINDOW: u32 = 1 << 20;

/// Handshakes in flight at once while connecting: under the listen backlog of 128 that tokio
/// servers get, so that a busy server does not overflow its accept queue (a dropped SYN costs
/// a 1 s retransmit).
const CONNECT_BATCH: usize = 100;

/// Echoes completed by all connections.
static ECHOED: AtomicU64 = AtomicU64::new(0);
/// True during the measured window: latencies are recorded.
static MEASURING: AtomicBool = AtomicBool::new(false);
/// Set when the window is over: connections stop after their current message.
static STOP: AtomicBool = AtomicBool::new(false);
/// The first error of any connection.
static FAILURE: Mutex<Option<String>> = Mutex::new(None);

thread_local! {
    /// Ping-pong round trips of the measured window (the runtime has one thread).
    static LATENCY: RefCell<Histogram> = RefCell::new(Histogram::new());
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    PingPong,
    Pipeline,
    Count,
    Idle,
}

/// What carries the WebSockets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Transport {
    /// HTTP/1.1 upgrade on plain TCP.
    H1,
    /// HTTP/2 extended CONNECT on cleartext HTTP/2 (prior knowledge).
    H2,
    /// HTTP/1.1 upgrade over TLS.
    Wss,
}

impl Transport {
    fn name(self) -> &'static str {
        match self {
            Transport::H1 => "h1",
            Transport::H2 => "h2",
            Transport::Wss => "wss",
        }
    }
}

#[derive(Clone, Debug)]
struct Args {
    host: String,
    port: u16,
    mode: Mode,
    connections: usize,
    size: usize,
    text: bool,
    deflate: bool,
    depth: usize,
    warmup: f64,
    seconds: f64,
    messages: u64,
    server_pid: Option<u32>,
    transport: Transport,
    /// WebSockets per TCP connection (h2 only).
    streams_per_connection: usize,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        host: "127.0.0.1".to_owned(),
        port: 0,
        mode: Mode::PingPong,
        connections: 100,
        size: 512,
        text: false,
        deflate: false,
        depth: 16,
        warmup: 2.0,
        seconds: 5.0,
        messages: 0,
        server_pid: None,
        transport: Transport::H1,
        streams_per_connection: 1,
    };
    let mut args = std::env::args().skip(1);
    while let Some(name) = args.next() {
        match name.as_str() {
            "--text" => {
                a.text = true;
                continue;
            }
            "--deflate" => {
                a.deflate = true;
                continue;
            }
            "-h" | "--help" => return Err(String::new()),
            _ => {}
        }
        let value = args.next().ok_or_else(|| format!("{name} needs a value"))?;
        let bad = || format!("bad value '{value}' for {name}");
        match name.as_str() {
            "--host" => a.host = value.clone(),
            "--port" => a.port = value.parse().map_err(|_| bad())?,
            "--mode" => {
                a.mode = match value.as_str() {
                    "pingpong" => Mode::PingPong,
                    "pipeline" => Mode::Pipeline,
                    "count" => Mode::Count,
                    "idle" => Mode::Idle,
                    _ => return Err(format!("unknown mode '{value}'")),
                }
            }
            "--connections" => a.connections = value.parse().map_err(|_| bad())?,
            "--size" => a.size = value.parse().map_err(|_| bad())?,
            "--depth" => a.depth = value.parse().map_err(|_| bad())?,
            "--warmup" => a.warmup = value.parse().map_err(|_| bad())?,
            "--seconds" => a.seconds = value.parse().map_err(|_| bad())?,
            "--messages" => a.messages = value.parse().map_err(|_| bad())?,
            "--server-pid" => a.server_pid = Some(value.parse().map_err(|_| bad())?),
            "--transport" => {
                a.transport = match value.as_str() {
                    "h1" => Transport::H1,
                    "h2" => Transport::H2,
                    "wss" => Transport::Wss,
                    _ => return Err(format!("unknown transport '{value}'")),
                }
            }
            "--streams-per-connection" => {
                a.streams_per_connection = value.parse().map_err(|_| bad())?;
            }
            _ => return Err(format!("unknown argument '{name}'")),
        }
    }
    if a.port == 0 {
        return Err("--port is required".to_owned());
    }
    if a.connections == 0 || a.depth == 0 {
        return Err("--connections and --depth must be at least 1".to_owned());
    }
    if !(a.warmup >= 0.0 && a.seconds > 0.0) {
        return Err("--warmup must be >= 0 and --seconds > 0".to_owned());
    }
    if a.streams_per_connection == 0 {
        return Err("--streams-per-connection must be at least 1".to_owned());
    }
    if a.streams_per_connection > 1 && a.transport != Transport::H2 {
        return Err("--streams-per-connection takes --transport h2".to_owned());
    }
    if a.mode == Mode::Count && a.messages == 0 {
        return Err("--mode count needs --messages".to_owned());
    }
    if a.mode == Mode::Idle && a.server_pid.is_none() {
        return Err("--mode idle needs --server-pid".to_owned());
    }
    Ok(a)
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(e) => {
            if !e.is_empty() {
                eprintln!("loadgen: {e}");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("loadgen: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(&args));
    // Do not wait for the connections to wind down: the result is in.
    std::mem::forget(runtime);
    match result {
        Ok(json) => {
            println!("RESULT {json}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("loadgen: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: &Args) -> Result<String, String> {
    let addr: SocketAddr = format!("{}:{}", args.host, args.port)
        .parse()
        .map_err(|e| format!("bad address {}:{}: {e}", args.host, args.port))?;
    if !addr.ip().is_loopback() {
        return Err(format!("{addr} is not a loopback address"));
    }
    let target = Arc::new(Target {
        addr,
        request: load::request(&args.host, args.port, args.deflate).into(),
        authority: format!("{}:{}", args.host, args.port),
        deflate: args.deflate,
        transport: args.transport,
        tls: (args.transport == Transport::Wss).then(tls_connector),
        streams_per_connection: args.streams_per_connection,
    });
    match args.mode {
        Mode::Idle => idle(args, &target).await,
        Mode::Count => count(args, &target).await,
        Mode::PingPong | Mode::Pipeline => timed(args, &target).await,
    }
}

/// Where and how to open WebSockets.
struct Target {
    addr: SocketAddr,
    /// The HTTP/1.1 upgrade request (h1 and wss).
    request: Arc<[u8]>,
    /// `host:port`, the `:authority` of the extended CONNECT (h2).
    authority: String,
    /// Offer permessage-deflate (h2; in `request` for the others).
    deflate: bool,
    transport: Transport,
    /// The TLS client (wss).
    tls: Option<TlsConnector>,
    /// WebSockets per TCP connection (h2).
    streams_per_connection: usize,
}

/// A WebSocket over a byte stream (TCP or TLS) whose handshake is done.
struct Ws<S> {
    stream: S,
    counter: EchoCounter,
}

/// A WebSocket over an HTTP/2 stream whose extended CONNECT was answered 200.
struct H2Ws {
    send: h2::SendStream<Bytes>,
    recv: h2::RecvStream,
    counter: EchoCounter,
    /// Keeps the connection open while its WebSockets are.
    _connection: h2::client::SendRequest<Bytes>,
}

/// An open WebSocket on one of the transports.
enum Conn {
    Tcp(Ws<TcpStream>),
    Tls(Box<Ws<TlsStream<TcpStream>>>),
    H2(H2Ws),
}

/// An open WebSocket and whether permessage-deflate was negotiated.
type Opened = (Conn, bool);

fn io_error(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn h2_error(what: &str) -> impl Fn(h2::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

async fn connect(addr: SocketAddr) -> Result<TcpStream, String> {
    let stream = TcpStream::connect(addr)
        .await
        .map_err(io_error("connect"))?;
    stream.set_nodelay(true).map_err(io_error("TCP_NODELAY"))?;
    Ok(stream)
}

/// The HTTP/1.1 upgrade over `stream` (TCP or TLS).
async fn handshake<S>(mut stream: S, request: &[u8]) -> Result<(Ws<S>, bool), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    stream
        .write_all(request)
        .await
        .map_err(io_error("handshake write"))?;
    stream.flush().await.map_err(io_error("handshake write"))?;
    let mut head = Vec::with_capacity(512);
    let mut chunk = [0u8; 1024];
    loop {
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(io_error("handshake read"))?;
        if n == 0 {
            return Err("the server closed the connection during the handshake".to_owned());
        }
        head.extend_from_slice(&chunk[..n]);
        if let Some(response) = parse_response(&head)? {
            let mut counter = EchoCounter::new();
            if counter.feed(&head[response.head_len..])? != 0 {
                return Err("the server sent a message before we did".to_owned());
            }
            return Ok((Ws { stream, counter }, response.deflate));
        }
    }
}

/// Opens one TCP connection and the `k` WebSockets it carries (`k` is 1 but for h2).
async fn open(target: Arc<Target>, k: usize) -> Result<Vec<Opened>, String> {
    let stream = connect(target.addr).await?;
    match target.transport {
        Transport::H2 => open_h2(&target, stream, k).await,
        Transport::Wss => {
            let tls = target.tls.as_ref().ok_or("wss without a TLS client")?;
            let name = ServerName::IpAddress(target.addr.ip().into());
            let stream = tls
                .connect(name, stream)
                .await
                .map_err(io_error("TLS handshake"))?;
            let (ws, deflate) = handshake(stream, &target.request).await?;
            Ok(vec![(Conn::Tls(Box::new(ws)), deflate)])
        }
        Transport::H1 => {
            let (ws, deflate) = handshake(stream, &target.request).await?;
            Ok(vec![(Conn::Tcp(ws), deflate)])
        }
    }
}

/// The HTTP/2 connection preface over `stream`, the server's SETTINGS (which must enable
/// extended CONNECT), then `k` extended CONNECTs, all sent before the first answer is awaited.
async fn open_h2(target: &Target, stream: TcpStream, k: usize) -> Result<Vec<Opened>, String> {
    let (send_request, mut connection) = h2::client::Builder::new()
        .enable_push(false)
        .initial_window_size(H2_STREAM_WINDOW)
        .initial_connection_window_size(H2_CONNECTION_WINDOW)
        .handshake::<_, Bytes>(stream)
        .await
        .map_err(h2_error("HTTP/2 handshake"))?;
    let mut ping = connection.ping_pong().ok_or("HTTP/2: no ping handle")?;
    tokio::spawn(async move {
        // Its error reaches every stream, where it is reported.
        let _ = connection.await;
    });
    // The server's SETTINGS is the first frame it sends: once a PING is answered, it is known.
    ping.ping(h2::Ping::opaque())
        .await
        .map_err(h2_error("HTTP/2 ping"))?;
    if !send_request.is_extended_connect_protocol_enabled() {
        return Err("the server did not enable extended CONNECT (RFC 8441)".to_owned());
    }
    let max = send_request.current_max_send_streams();
    if k > max {
        return Err(format!(
            "{k} WebSockets per connection, but the server allows {max} streams"
        ));
    }
    let mut pending = Vec::with_capacity(k);
    for _ in 0..k {
        let mut ready = send_request
            .clone()
            .ready()
            .await
            .map_err(h2_error("HTTP/2 stream"))?;
        let request = h2_request(target)?;
        let (response, send) = ready
            .send_request(request, false)
            .map_err(h2_error("extended CONNECT"))?;
        pending.push((response, send));
    }
    let mut opened = Vec::with_capacity(k);
    for (response, send) in pending {
        let response = response.await.map_err(h2_error("extended CONNECT"))?;
        if response.status() != http::StatusCode::OK {
            return Err(format!(
                "server answered the extended CONNECT {}, not 200",
                response.status()
            ));
        }
        let deflate = response
            .headers()
            .get_all("sec-websocket-extensions")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|ext| ext.split(';').next().unwrap_or("").trim() == "permessage-deflate");
        let ws = H2Ws {
            send,
            recv: response.into_body(),
            counter: EchoCounter::new(),
            _connection: send_request.clone(),
        };
        opened.push((Conn::H2(ws), deflate));
    }
    Ok(opened)
}

/// The extended CONNECT of one WebSocket (RFC 8441 section 4).
fn h2_request(target: &Target) -> Result<http::Request<()>, String> {
    let mut request = http::Request::builder()
        .method(http::Method::CONNECT)
        .uri(format!("http://{}/", target.authority))
        .header("sec-websocket-version", "13");
    if target.deflate {
        request = request.header(
            "sec-websocket-extensions",
            "permessage-deflate; client_no_context_takeover",
        );
    }
    request
        .extension(h2::ext::Protocol::from_static("websocket"))
        .body(())
        .map_err(|e| format!("extended CONNECT request: {e}"))
}

/// The TLS client of `--transport wss`: ring, TLS 1.3 or 1.2, ALPN `http/1.1`, and any
/// certificate trusted ([`AnyCertificate`]).
fn tls_connector() -> TlsConnector {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .expect("ring supports the default TLS versions")
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(provider)))
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    TlsConnector::from(Arc::new(config))
}

/// TEST ONLY: a certificate verifier that trusts every certificate (the echo server's is
/// self-signed, made at start, on loopback). The handshake signatures are still checked, so
/// the TLS work of both ends is that of a real connection.
#[derive(Debug)]
struct AnyCertificate(Arc<CryptoProvider>);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// Opens `n` WebSockets, `CONNECT_BATCH` TCP connections at a time (of
/// `--streams-per-connection` WebSockets each), within a time limit.
async fn open_all(target: &Arc<Target>, n: usize) -> Result<Vec<Opened>, String> {
    let limit = Duration::from_secs(30) + Duration::from_millis(10 * n as u64);
    let k = target.streams_per_connection;
    let work = async {
        let mut conns = Vec::with_capacity(n);
        while conns.len() < n {
            let mut set = JoinSet::new();
            let mut asked = conns.len();
            for _ in 0..CONNECT_BATCH {
                if asked == n {
                    break;
                }
                let streams = k.min(n - asked);
                asked += streams;
                set.spawn(open(target.clone(), streams));
            }
            while let Some(joined) = set.join_next().await {
                let opened = joined.map_err(|e| format!("connect task: {e}"))??;
                conns.extend(opened);
            }
        }
        Ok(conns)
    };
    tokio::time::timeout(limit, work).await.map_err(|_| {
        format!(
            "opening {n} connections took over {}s",
            limit.as_secs_f64().round()
        )
    })?
}

fn fail(e: String) {
    let mut failure = FAILURE.lock().unwrap_or_else(|p| p.into_inner());
    failure.get_or_insert(e);
    STOP.store(true, Ordering::Relaxed);
}

fn failure() -> Result<(), String> {
    match FAILURE.lock().unwrap_or_else(|p| p.into_inner()).clone() {
        Some(e) => Err(format!("a connection failed: {e}")),
        None => Ok(()),
    }
}

/// The message every connection sends, as frame bytes.
fn frame(args: &Args) -> Vec<u8> {
    let payload = load::payload(args.size, args.text);
    let opcode = if args.text { TEXT } else { BINARY };
    if args.deflate {
        client_frame(opcode, true, &load::deflate(&payload))
    } else {
        client_frame(opcode, false, &payload)
    }
}

fn read_buffer(frame_len: usize, depth: usize) -> Vec<u8> {
    vec![0; (2 * frame_len * depth).clamp(4 << 10, 256 << 10)]
}

/// Ping-pong: one message in flight; `limit` messages, or until [`STOP`].
async fn pingpong(conn: Conn, frame: Bytes, limit: Option<u64>) -> Result<(), String> {
    match conn {
        Conn::Tcp(ws) => pingpong_io(ws, frame, limit).await,
        Conn::Tls(ws) => pingpong_io(*ws, frame, limit).await,
        Conn::H2(ws) => pingpong_h2(ws, frame, limit).await,
    }
}

/// Pipelined: `depth` messages in flight; the echoes of each read are replaced in one write.
async fn pipeline(conn: Conn, frames: Bytes, frame_len: usize, depth: usize) -> Result<(), String> {
    match conn {
        Conn::Tcp(ws) => pipeline_io(ws, frames, frame_len, depth).await,
        Conn::Tls(ws) => pipeline_io(*ws, frames, frame_len, depth).await,
        Conn::H2(ws) => pipeline_h2(ws, frames, frame_len, depth).await,
    }
}

/// One message's round trip is over: counted, and its latency recorded when measuring.
fn echo_done(start: Instant) {
    ECHOED.fetch_add(1, Ordering::Relaxed);
    if MEASURING.load(Ordering::Relaxed) {
        let ns = start.elapsed().as_nanos() as u64;
        LATENCY.with(|h| h.borrow_mut().record(ns));
    }
}

/// [`pingpong`] over a byte stream. The flush is free on TCP and sends what TLS still holds.
async fn pingpong_io<S>(mut conn: Ws<S>, frame: Bytes, limit: Option<u64>) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = read_buffer(frame.len(), 1);
    let mut sent = 0;
    while !STOP.load(Ordering::Relaxed) && limit != Some(sent) {
        let start = Instant::now();
        conn.stream
            .write_all(&frame)
            .await
            .map_err(io_error("write"))?;
        conn.stream.flush().await.map_err(io_error("write"))?;
        sent += 1;
        loop {
            let n = conn.stream.read(&mut buf).await.map_err(io_error("read"))?;
            if n == 0 {
                return Err("the server closed the connection".to_owned());
            }
            match conn.counter.feed(&buf[..n])? {
                0 => continue,
                1 => break,
                more => return Err(format!("{more} echoes for one message")),
            }
        }
        echo_done(start);
    }
    Ok(())
}

/// [`pipeline`] over a byte stream.
async fn pipeline_io<S>(
    mut conn: Ws<S>,
    frames: Bytes,
    frame_len: usize,
    depth: usize,
) -> Result<(), String>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut buf = read_buffer(frame_len, depth);
    conn.stream
        .write_all(&frames)
        .await
        .map_err(io_error("write"))?;
    conn.stream.flush().await.map_err(io_error("write"))?;
    loop {
        let n = conn.stream.read(&mut buf).await.map_err(io_error("read"))?;
        if n == 0 {
            return Err("the server closed the connection".to_owned());
        }
        let done = conn.counter.feed(&buf[..n])? as usize;
        if done == 0 {
            continue;
        }
        if done > depth {
            return Err(format!("{done} echoes with {depth} messages in flight"));
        }
        ECHOED.fetch_add(done as u64, Ordering::Relaxed);
        if STOP.load(Ordering::Relaxed) {
            return Ok(());
        }
        conn.stream
            .write_all(&frames[..done * frame_len])
            .await
            .map_err(io_error("write"))?;
        conn.stream.flush().await.map_err(io_error("write"))?;
    }
}

/// The next DATA of an HTTP/2 WebSocket, its flow-control capacity given back at once.
async fn h2_read(ws: &mut H2Ws) -> Result<Bytes, String> {
    match ws.recv.data().await {
        None => Err("the server ended the stream".to_owned()),
        Some(Err(e)) => Err(format!("read: {e}")),
        Some(Ok(data)) => {
            ws.recv
                .flow_control()
                .release_capacity(data.len())
                .map_err(h2_error("release capacity"))?;
            Ok(data)
        }
    }
}

/// [`pingpong`] over an HTTP/2 stream: the frame as one DATA frame, the echo read back.
async fn pingpong_h2(mut ws: H2Ws, frame: Bytes, limit: Option<u64>) -> Result<(), String> {
    let mut sent = 0;
    while !STOP.load(Ordering::Relaxed) && limit != Some(sent) {
        let start = Instant::now();
        ws.send
            .send_data(frame.clone(), false)
            .map_err(h2_error("write"))?;
        sent += 1;
        loop {
            let data = h2_read(&mut ws).await?;
            match ws.counter.feed(&data)? {
                0 => continue,
                1 => break,
                more => return Err(format!("{more} echoes for one message")),
            }
        }
        echo_done(start);
    }
    Ok(())
}

/// [`pipeline`] over an HTTP/2 stream.
async fn pipeline_h2(
    mut ws: H2Ws,
    frames: Bytes,
    frame_len: usize,
    depth: usize,
) -> Result<(), String> {
    ws.send
        .send_data(frames.clone(), false)
        .map_err(h2_error("write"))?;
    loop {
        let data = h2_read(&mut ws).await?;
        let done = ws.counter.feed(&data)? as usize;
        if done == 0 {
            continue;
        }
        if done > depth {
            return Err(format!("{done} echoes with {depth} messages in flight"));
        }
        ECHOED.fetch_add(done as u64, Ordering::Relaxed);
        if STOP.load(Ordering::Relaxed) {
            return Ok(());
        }
        ws.send
            .send_data(frames.slice(..done * frame_len), false)
            .map_err(h2_error("write"))?;
    }
}

fn clock_ticks_per_second() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

fn json_f64(v: f64) -> String {
    if v.is_finite() {
        format!("{v:.3}")
    } else {
        "null".to_owned()
    }
}

async fn timed(args: &Args, target: &Arc<Target>) -> Result<String, String> {
    let conns = open_all(target, args.connections).await?;
    let negotiated = conns.iter().all(|c| c.1);
    if args.deflate && !negotiated {
        return Err("the server did not negotiate permessage-deflate".to_owned());
    }
    let frame = frame(args);
    let frame_len = frame.len();
    let pipelined = args.mode == Mode::Pipeline;
    let frames = Bytes::from(if pipelined {
        frame.repeat(args.depth)
    } else {
        frame
    });
    let mut workers = JoinSet::new();
    for (conn, _) in conns {
        let frames = frames.clone();
        let depth = args.depth;
        workers.spawn(async move {
            let result = if pipelined {
                pipeline(conn, frames, frame_len, depth).await
            } else {
                pingpong(conn, frames, None).await
            };
            if let Err(e) = result {
                fail(e);
            }
        });
    }

    let tck = clock_ticks_per_second();
    let server_cpu = |pid: Option<u32>| pid.map(cpu_ticks).transpose();
    let me = std::process::id();
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    failure()?;

    MEASURING.store(true, Ordering::Relaxed);
    let server0 = server_cpu(args.server_pid)?;
    let self0 = cpu_ticks(me)?.total();
    let start = Instant::now();
    let count0 = ECHOED.load(Ordering::Relaxed);
    let window = Duration::from_secs_f64(args.seconds);
    let mut samples = Vec::new();
    let (mut last_t, mut last_c) = (start, count0);
    while last_t - start < window {
        let next = (last_t + Duration::from_secs(1)).min(start + window);
        tokio::time::sleep_until(next.into()).await;
        let (t, c) = (Instant::now(), ECHOED.load(Ordering::Relaxed));
        samples.push((c - last_c) as f64 / (t - last_t).as_secs_f64());
        (last_t, last_c) = (t, c);
    }
    let elapsed = (last_t - start).as_secs_f64();
    let messages = last_c - count0;
    let server1 = server_cpu(args.server_pid)?;
    let self1 = cpu_ticks(me)?.total();
    MEASURING.store(false, Ordering::Relaxed);
    STOP.store(true, Ordering::Relaxed);
    failure()?;

    // Whole ticks, so that user + system is exactly the total.
    let server = match (server0, server1) {
        (Some(a), Some(b)) => Some(b.since(a)),
        _ => None,
    };
    let seconds =
        |ticks: Option<u64>| ticks.map_or_else(|| "null".to_owned(), |t| json_f64(t as f64 / tck));
    let server_cpu_s = seconds(server.map(|t| t.total()));
    let server_user_cpu_s = seconds(server.map(|t| t.user));
    let server_sys_cpu_s = seconds(server.map(|t| t.system));
    let latency = LATENCY.with(|h| h.borrow().clone());
    let us = |q: f64| latency.quantile(q) as f64 / 1000.0;
    let samples: Vec<String> = samples.iter().map(|s| format!("{s:.1}")).collect();
    Ok(format!(
        "{{\"mode\":\"{}\",\"transport\":\"{}\",\"streams_per_connection\":{},\
         \"connections\":{},\"size\":{},\"frame_bytes\":{frame_len},\
         \"depth\":{},\"deflate\":{negotiated},\"window_s\":{},\"messages\":{messages},\
         \"msgs_per_sec\":{},\"samples\":[{}],\"server_cpu_s\":{server_cpu_s},\
         \"server_user_cpu_s\":{server_user_cpu_s},\"server_sys_cpu_s\":{server_sys_cpu_s},\
         \"loadgen_cpu_s\":{},\"latency_count\":{},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{}}}",
        if pipelined { "pipeline" } else { "pingpong" },
        args.transport.name(),
        args.streams_per_connection,
        args.connections,
        args.size,
        if pipelined { args.depth } else { 1 },
        json_f64(elapsed),
        json_f64(messages as f64 / elapsed),
        samples.join(","),
        json_f64((self1 - self0) as f64 / tck),
        latency.len(),
        json_f64(us(0.5)),
        json_f64(us(0.99)),
        json_f64(us(0.999)),
    ))
}

async fn count(args: &Args, target: &Arc<Target>) -> Result<String, String> {
    let conns = open_all(target, args.connections).await?;
    if args.deflate && !conns.iter().all(|c| c.1) {
        return Err("the server did not negotiate permessage-deflate".to_owned());
    }
    let frame = Bytes::from(frame(args));
    let n = conns.len() as u64;
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for (i, (conn, _)) in conns.into_iter().enumerate() {
        let share = args.messages / n + u64::from((i as u64) < args.messages % n);
        workers.spawn(pingpong(conn, frame.clone(), Some(share)));
    }
    while let Some(joined) = workers.join_next().await {
        joined.map_err(|e| format!("connection task: {e}"))??;
    }
    Ok(format!(
        "{{\"mode\":\"count\",\"connections\":{n},\"size\":{},\"messages\":{},\"elapsed_s\":{}}}",
        args.size,
        ECHOED.load(Ordering::Relaxed),
        json_f64(start.elapsed().as_secs_f64()),
    ))
}

async fn idle(args: &Args, target: &Arc<Target>) -> Result<String, String> {
    let pid = args.server_pid.expect("checked by parse_args");
    let settle = Duration::from_secs(1);
    let warm = open_all(target, 1).await?;
    tokio::time::sleep(settle).await;
    let before = rss_kib(pid)?;
    let start = Instant::now();
    let conns = open_all(target, args.connections).await?;
    let connect_s = start.elapsed().as_secs_f64();
    tokio::time::sleep(settle).await;
    let after = rss_kib(pid)?;
    drop((warm, conns));
    let per_conn = (after as f64 - before as f64) * 1024.0 / args.connections as f64;
    Ok(format!(
        "{{\"mode\":\"idle\",\"connections\":{},\"rss_before_kib\":{before},\
         \"rss_after_kib\":{after},\"bytes_per_connection\":{},\"connect_s\":{}}}",
        args.connections,
        json_f64(per_conn),
        json_f64(connect_s),
    ))
}
