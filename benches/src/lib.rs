//! Shared helpers for the sockudo-ws benchmarks.
//!
//! The criterion kernels live in `benches/`. The end-to-end echo benchmark (`cargo xtask bench`)
//! has three parts: the echo servers (`examples/echo_*.rs`, one per WebSocket crate, sharing
//! [`server`]), the load generator (`src/bin/loadgen.rs`, raw TCP with the pure parts in
//! [`load`]) and the harness in `xtask/src/bench/`.

pub mod load;
pub mod server;
