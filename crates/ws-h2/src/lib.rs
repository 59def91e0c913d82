//! WebSocket over HTTP/2 (RFC 8441) for sockudo-ws.
//!
//! **Not built yet.** This crate is a placeholder in the workspace so that the layering is
//! visible from the start: it will carry a byte transport (an HTTP/2 extended-CONNECT stream on
//! `h2`) under the same `WebSocketStream` that `ws-tokio` drives. It exposes nothing today.
#![forbid(unsafe_code)]
