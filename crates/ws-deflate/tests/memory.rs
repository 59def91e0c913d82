//! Heap memory per connection for each mode, idle and after traffic, counted by a global
//! allocator. Run with `--nocapture` to see the table:
//! `cargo test -p ws-deflate --test memory -- --nocapture`.

mod common;
use ws_simd::alloc_stats as counting;

use ws_deflate::{DeflateConfig, DeflateNegotiator, DeflateParams, PerMessageDeflate};
use ws_proto::extension::{Extension, ExtensionNegotiator};
use ws_proto::handshake::parse_extensions;
use ws_proto::{Bytes, BytesMut, Compression, Role};

#[global_allocator]
static ALLOC: counting::Counting = counting::Counting;

/// What browsers offer.
const BROWSER_OFFER: &str = "permessage-deflate; client_max_window_bits";

struct Row {
    mode: Compression,
    answer: String,
    per_thread: isize,
    idle: isize,
    after: isize,
}

/// Measures `mode` on a fresh thread, so that its per-thread state is counted from zero.
fn measure(mode: Compression, n: usize) -> Row {
    let message = Bytes::from(common::json_like(1024, 1));
    // The client's first message, compressed without context: valid for any inflater.
    let mut client = PerMessageDeflate::new(
        Role::Client,
        DeflateParams::default(),
        &DeflateConfig::new(Compression::Shared),
    );
    let (_, incoming) = client.encode(&message, true).unwrap();
    drop(client);
    std::thread::spawn(move || measure_here(mode, n, message, incoming))
        .join()
        .unwrap()
}

fn measure_here(mode: Compression, n: usize, message: Bytes, incoming: Bytes) -> Row {
    let negotiator = DeflateNegotiator::new(mode);
    let offers = parse_extensions(BROWSER_OFFER).unwrap();

    // Warm up this thread's shared state (compressor, spare inflater, scratch buffer).
    let base = counting::live();
    {
        let (_, mut ext) = negotiator.server_accept(&offers).unwrap().unwrap();
        let _ = ext.encode(&message, true).unwrap();
        let mut out = BytesMut::new();
        ext.decode(&incoming, true, &mut out, 1 << 20).unwrap();
    }
    let per_thread = counting::live() - base;

    let base = counting::live();
    let mut conns: Vec<Box<dyn Extension>> = Vec::with_capacity(n);
    let vec_bytes = counting::live() - base;
    let mut answer = String::new();
    for _ in 0..n {
        let (a, ext) = negotiator.server_accept(&offers).unwrap().unwrap();
        answer = a;
        conns.push(ext);
    }
    let idle = counting::live() - base - vec_bytes;
    for ext in &mut conns {
        let (_, sent) = ext.encode(&message, true).unwrap();
        drop(sent);
        let mut out = BytesMut::new();
        ext.decode(&incoming, true, &mut out, 1 << 20).unwrap();
        assert_eq!(out.len(), message.len());
    }
    let after = counting::live() - base - vec_bytes;
    drop(conns);
    Row {
        mode,
        answer,
        per_thread,
        idle: idle / n as isize,
        after: after / n as isize,
    }
}

#[test]
fn memory_per_connection_per_mode() {
    let rows: Vec<Row> = [
        (Compression::Dedicated, 200),
        (Compression::Shared, 2000),
        (Compression::Shared4KB, 2000),
        (Compression::Shared8KB, 2000),
        (Compression::Shared16KB, 2000),
    ]
    .into_iter()
    .map(|(mode, n)| measure(mode, n))
    .collect();
    println!("\nheap per connection (server side, browser offer `{BROWSER_OFFER}`):");
    println!(
        "{:<12} {:>12} {:>16} {:>18}  answer",
        "mode", "idle", "after traffic", "per thread (once)"
    );
    for r in &rows {
        println!(
            "{:<12} {:>10} B {:>14} B {:>16} B  {}",
            format!("{:?}", r.mode),
            r.idle,
            r.after,
            r.per_thread,
            r.answer
        );
    }
    for r in &rows {
        // Idle: just the extension struct.
        assert!(r.idle < 512, "{:?} idle {}", r.mode, r.idle);
        if r.mode == Compression::Dedicated {
            // A compressor (~300 KiB) and an inflater (~43 KiB) per connection.
            assert!(r.after < 400 << 10, "{:?} after {}", r.mode, r.after);
        } else {
            // Nothing held between messages.
            assert!(r.after < 512, "{:?} after {}", r.mode, r.after);
        }
    }
}
