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

use sockudo_ws_benches::load::{
    self, BINARY, EchoCounter, Histogram, TEXT, client_frame, cpu_ticks, parse_response, rss_kib,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::task::JoinSet;

const USAGE: &str = "\
usage: loadgen --port P [--host 127.0.0.1] [--mode pingpong|pipeline|count|idle]
               [--connections N] [--size BYTES] [--text] [--deflate] [--depth K]
               [--warmup SECS] [--seconds SECS] [--messages M] [--server-pid PID]";

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
    let request: Arc<[u8]> = load::request(&args.host, args.port, args.deflate).into();
    match args.mode {
        Mode::Idle => idle(args, addr, request).await,
        Mode::Count => count(args, addr, request).await,
        Mode::PingPong | Mode::Pipeline => timed(args, addr, request).await,
    }
}

/// A connection whose handshake is done.
struct Conn {
    stream: TcpStream,
    counter: EchoCounter,
    deflate: bool,
}

fn io_error(what: &str) -> impl Fn(std::io::Error) -> String + '_ {
    move |e| format!("{what}: {e}")
}

async fn open(addr: SocketAddr, request: Arc<[u8]>) -> Result<Conn, String> {
    let mut stream = TcpStream::connect(addr)
        .await
        .map_err(io_error("connect"))?;
    stream.set_nodelay(true).map_err(io_error("TCP_NODELAY"))?;
    stream
        .write_all(&request)
        .await
        .map_err(io_error("handshake write"))?;
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
            return Ok(Conn {
                stream,
                counter,
                deflate: response.deflate,
            });
        }
    }
}

/// Opens `n` connections, `CONNECT_BATCH` handshakes at a time, within a time limit.
async fn open_all(addr: SocketAddr, request: &Arc<[u8]>, n: usize) -> Result<Vec<Conn>, String> {
    let limit = Duration::from_secs(30) + Duration::from_millis(10 * n as u64);
    let work = async {
        let mut conns = Vec::with_capacity(n);
        while conns.len() < n {
            let batch = CONNECT_BATCH.min(n - conns.len());
            let mut set = JoinSet::new();
            for _ in 0..batch {
                set.spawn(open(addr, request.clone()));
            }
            while let Some(joined) = set.join_next().await {
                let conn = joined.map_err(|e| format!("connect task: {e}"))??;
                conns.push(conn);
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
async fn pingpong(mut conn: Conn, frame: Arc<[u8]>, limit: Option<u64>) -> Result<(), String> {
    let mut buf = read_buffer(frame.len(), 1);
    let mut sent = 0;
    while !STOP.load(Ordering::Relaxed) && limit != Some(sent) {
        let start = Instant::now();
        conn.stream
            .write_all(&frame)
            .await
            .map_err(io_error("write"))?;
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
        ECHOED.fetch_add(1, Ordering::Relaxed);
        if MEASURING.load(Ordering::Relaxed) {
            let ns = start.elapsed().as_nanos() as u64;
            LATENCY.with(|h| h.borrow_mut().record(ns));
        }
    }
    Ok(())
}

/// Pipelined: `depth` messages in flight; the echoes of each read are replaced in one write.
async fn pipeline(
    mut conn: Conn,
    frames: Arc<[u8]>,
    frame_len: usize,
    depth: usize,
) -> Result<(), String> {
    let mut buf = read_buffer(frame_len, depth);
    conn.stream
        .write_all(&frames)
        .await
        .map_err(io_error("write"))?;
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

async fn timed(args: &Args, addr: SocketAddr, request: Arc<[u8]>) -> Result<String, String> {
    let conns = open_all(addr, &request, args.connections).await?;
    let negotiated = conns.iter().all(|c| c.deflate);
    if args.deflate && !negotiated {
        return Err("the server did not negotiate permessage-deflate".to_owned());
    }
    let frame = frame(args);
    let frame_len = frame.len();
    let pipelined = args.mode == Mode::Pipeline;
    let frames: Arc<[u8]> = if pipelined {
        frame.repeat(args.depth).into()
    } else {
        frame.into()
    };
    let mut workers = JoinSet::new();
    for conn in conns {
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
        "{{\"mode\":\"{}\",\"connections\":{},\"size\":{},\"frame_bytes\":{frame_len},\
         \"depth\":{},\"deflate\":{negotiated},\"window_s\":{},\"messages\":{messages},\
         \"msgs_per_sec\":{},\"samples\":[{}],\"server_cpu_s\":{server_cpu_s},\
         \"server_user_cpu_s\":{server_user_cpu_s},\"server_sys_cpu_s\":{server_sys_cpu_s},\
         \"loadgen_cpu_s\":{},\"latency_count\":{},\"p50_us\":{},\"p99_us\":{},\"p999_us\":{}}}",
        if pipelined { "pipeline" } else { "pingpong" },
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

async fn count(args: &Args, addr: SocketAddr, request: Arc<[u8]>) -> Result<String, String> {
    let conns = open_all(addr, &request, args.connections).await?;
    if args.deflate && !conns.iter().all(|c| c.deflate) {
        return Err("the server did not negotiate permessage-deflate".to_owned());
    }
    let frame: Arc<[u8]> = frame(args).into();
    let n = conns.len() as u64;
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for (i, conn) in conns.into_iter().enumerate() {
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

async fn idle(args: &Args, addr: SocketAddr, request: Arc<[u8]>) -> Result<String, String> {
    let pid = args.server_pid.expect("checked by parse_args");
    let settle = Duration::from_secs(1);
    let warm = open_all(addr, &request, 1).await?;
    tokio::time::sleep(settle).await;
    let before = rss_kib(pid)?;
    let start = Instant::now();
    let conns = open_all(addr, &request, args.connections).await?;
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
