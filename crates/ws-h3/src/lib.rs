//! WebSocket over HTTP/3 (RFC 9220) for sockudo-ws.
//!
//! **Not built yet.** This crate is a placeholder in the workspace: it will carry a byte
//! transport (an HTTP/3 extended-CONNECT stream on `quinn` + `h3`) under the same
//! `WebSocketStream` that `ws-tokio` drives. It exposes nothing today.
#![forbid(unsafe_code)]
