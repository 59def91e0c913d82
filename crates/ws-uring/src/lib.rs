//! io_uring transport for sockudo-ws.
//!
//! **Not built yet.** This crate is a placeholder in the workspace: it will drive the sans-IO
//! `ws-proto` connection from `tokio-uring`, whose completion-based I/O takes owned buffers
//! (which is why `ws-proto` takes `BytesMut` in and hands `Bytes` out). It exposes nothing today.
#![forbid(unsafe_code)]
