//! io_uring transport for sockudo-ws (Linux only).
//!
//! **Not built yet** (issue #14). This crate is a placeholder in the workspace: it will drive the
//! sans-IO `ws-proto` connection from `tokio-uring`, whose completion-based I/O takes owned
//! buffers (which is why `ws-proto` takes `BytesMut` in and hands `Bytes` out). It exposes
//! nothing today: the facade's `io-uring` feature brings only this placeholder.
//!
//! io_uring is a Linux interface: on any other OS this crate is a compile error, so that the
//! facade's `io-uring` feature cannot be turned on there and silently do nothing.
#![forbid(unsafe_code)]

#[cfg(not(target_os = "linux"))]
compile_error!(
    "ws-uring (the `io-uring` feature of sockudo-ws): io_uring is Linux-only; use the tokio \
     transport (default) instead, i.e. drop the `io-uring` feature (or `all-transports`/`full`) \
     on this OS. Building the whole sockudo-ws workspace here: add `--exclude ws-uring`."
);
