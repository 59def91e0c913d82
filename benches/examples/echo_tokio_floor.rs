//! The Tokio floor of the end-to-end benchmark (`cargo xtask bench --servers tokio-floor,...`):
//! the least a WebSocket echo server on Tokio can do per message, so that its instructions and
//! syscalls per message are a floor under any Tokio-based server, ours included.
//!
//! **This is a measurement floor, not a WebSocket implementation.** It skips what a real server
//! must do: no UTF-8 validation of text, no check of RSV bits, opcodes, masking or control
//! frame lengths, no message or frame size limit (the read buffer grows to fit any frame), no
//! close handshake state (a close is echoed and the connection dropped), no timers, no
//! backpressure beyond `write_all`. Never point a client you do not control at it.
//!
//! Why it exists: `cargo xtask bench --instructions` counts user-space instructions per echoed
//! message, and a good part of any server's count is Tokio itself (the reactor's
//! `epoll_wait` turn, waking and polling the task, `Registration::poll_ready`, the coop budget).
//! This server does only that plus the unavoidable WebSocket work, so the difference between a
//! server and this floor is what that server's own code costs.
//!
//! Per connection: the HTTP/1.1 upgrade with ws-proto's sans-IO handshake (`RequestParser`,
//! `accept`), then a loop of one `read` into a fixed 64 KiB buffer (allocated and zeroed once),
//! every complete frame in it parsed by hand, unmasked in place with `ws_simd::apply_mask` and
//! written back unmasked into a reusable output buffer, one `write_all` per read, the partial
//! frame at the end (if any) kept for the next read. Data frames are echoed frame by frame
//! (fragments stay fragments) and counted with [`echoed`] on their final frame, once written;
//! pings are answered with pongs; a close is echoed and ends the connection.
//!
//! Each connection is a plain `tokio::spawn`ed task on a current-thread runtime, as in
//! `echo_sockudo` (coop budget on). Spawning it `unconstrained`, as the fastwebsockets and
//! tokio-websockets servers do, made no measurable difference (within 5 instructions per
//! message under callgrind at 100 x 512 B).
//!
//! `echo_tokio_floor --port P [--exit-after-messages N]`; there is no permessage-deflate, so
//! `--deflate` exits with status 3.

use std::io;

use bytes::BytesMut;
use sockudo_ws_benches::server::{ServerArgs, announce, echoed};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};
use ws_proto::handshake::{AcceptOptions, RequestParser, accept};

/// The read buffer (and the initial capacity of the output buffer).
const BUF: usize = 64 << 10;

#[tokio::main(flavor = "current_thread")]
async fn main() -> io::Result<()> {
    let args = ServerArgs::from_env("echo_tokio_floor", false);
    let listener = TcpListener::bind(("127.0.0.1", args.port)).await?;
    announce("echo_tokio_floor", listener.local_addr()?);
    loop {
        let (tcp, _) = listener.accept().await?;
        tcp.set_nodelay(true)?;
        tokio::spawn(async move {
            let _ = serve(tcp).await;
        });
    }
}

/// One connection: the upgrade, then echo until the peer closes.
async fn serve(mut tcp: TcpStream) -> io::Result<()> {
    let mut buf = vec![0u8; BUF];
    let Some(mut end) = handshake(&mut tcp, &mut buf).await? else {
        return Ok(());
    };
    let mut out = Vec::with_capacity(BUF);
    loop {
        // `buf[..end]` holds what has been read and not yet echoed (after the handshake: the
        // frames that came with the request, if any).
        let batch = echo_frames(&mut buf[..end], &mut out);
        if !out.is_empty() {
            tcp.write_all(&out).await?;
            out.clear();
        }
        for _ in 0..batch.messages {
            echoed();
        }
        if batch.close {
            return Ok(());
        }
        if batch.consumed == end {
            end = 0;
        } else if batch.consumed > 0 {
            buf.copy_within(batch.consumed..end, 0);
            end -= batch.consumed;
        } else if end == buf.len() {
            // One frame larger than the buffer: make room for it (rare, and no limit).
            buf.resize(buf.len() * 2, 0);
        }
        let n = tcp.read(&mut buf[end..]).await?;
        if n == 0 {
            return Ok(());
        }
        end += n;
    }
}

/// Reads the upgrade request and answers it. Returns how many bytes that followed the request
/// (the first frames) were copied to the front of `buf`, or `None` when the connection ended or
/// the request was refused.
async fn handshake(tcp: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
    let mut head = BytesMut::with_capacity(1024);
    let mut parser = RequestParser::default();
    loop {
        if tcp.read_buf(&mut head).await? == 0 {
            return Ok(None);
        }
        let req = match parser.parse(&mut head) {
            Ok(None) => continue,
            Ok(Some(req)) => req,
            Err(e) => {
                let rejection = ws_proto::handshake::Rejection::from_error(e);
                tcp.write_all(&rejection.response).await?;
                return Ok(None);
            }
        };
        match accept(&req, &AcceptOptions::default()) {
            Ok(accepted) => {
                tcp.write_all(&accepted.response).await?;
                break;
            }
            Err(rejection) => {
                tcp.write_all(&rejection.response).await?;
                return Ok(None);
            }
        }
    }
    if head.len() > buf.len() {
        buf.resize(head.len(), 0);
    }
    buf[..head.len()].copy_from_slice(&head);
    Ok(Some(head.len()))
}

/// What [`echo_frames`] did with one read batch.
struct Batch {
    /// Bytes of complete frames at the front of the input (the rest is a partial frame).
    consumed: usize,
    /// Data messages whose final frame was echoed.
    messages: u64,
    /// A close frame was answered: stop.
    close: bool,
}

/// Unmasks every complete frame at the front of `input` in place and appends its answer to
/// `out`: data frames and closes echoed unmasked, pings answered with pongs, pongs dropped.
/// Stops after a close.
fn echo_frames(input: &mut [u8], out: &mut Vec<u8>) -> Batch {
    let mut batch = Batch {
        consumed: 0,
        messages: 0,
        close: false,
    };
    loop {
        let rest = &mut input[batch.consumed..];
        if rest.len() < 2 {
            break;
        }
        let (b0, b1) = (rest[0], rest[1]);
        let (len, mut at) = match b1 & 0x7F {
            126 => {
                if rest.len() < 4 {
                    break;
                }
                (u64::from(u16::from_be_bytes([rest[2], rest[3]])), 4)
            }
            127 => {
                if rest.len() < 10 {
                    break;
                }
                let mut n = [0; 8];
                n.copy_from_slice(&rest[2..10]);
                (u64::from_be_bytes(n), 10)
            }
            n => (u64::from(n), 2),
        };
        // Client frames are masked; an unmasked one is echoed as it is (a real server would
        // fail the connection).
        let key = if b1 & 0x80 != 0 {
            if rest.len() < at + 4 {
                break;
            }
            let key = [rest[at], rest[at + 1], rest[at + 2], rest[at + 3]];
            at += 4;
            Some(key)
        } else {
            None
        };
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        if rest.len() - at < len {
            break;
        }
        let payload = &mut rest[at..at + len];
        if let Some(key) = key {
            ws_simd::apply_mask(payload, key);
        }
        batch.consumed += at + len;
        match b0 & 0x0F {
            0x8 => {
                put_frame(out, 0x88, payload);
                batch.close = true;
                break;
            }
            0x9 => put_frame(out, 0x8A, payload),
            0xA => {}
            _ => {
                put_frame(out, b0, payload);
                if b0 & 0x80 != 0 {
                    batch.messages += 1;
                }
            }
        }
    }
    batch
}

/// Appends an unmasked frame: first byte `b0` (FIN, RSV, opcode), then `payload`.
fn put_frame(out: &mut Vec<u8>, b0: u8, payload: &[u8]) {
    let len = payload.len();
    if len < 126 {
        out.extend_from_slice(&[b0, len as u8]);
    } else if let Ok(len) = u16::try_from(len) {
        let [hi, lo] = len.to_be_bytes();
        out.extend_from_slice(&[b0, 126, hi, lo]);
    } else {
        out.extend_from_slice(&[b0, 127]);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(payload);
}
