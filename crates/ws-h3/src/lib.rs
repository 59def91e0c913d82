//! WebSocket over HTTP/3 (RFC 9220) for sockudo-ws.
//!
//! **Not built yet** (issue #15). This crate is a placeholder in the workspace: it will carry a
//! byte transport (an HTTP/3 extended-CONNECT stream on `quinn` + `h3`) under the same
//! `WebSocketStream` that `ws-tokio` drives. It exposes nothing today: the facade's `http3`
//! feature brings only this placeholder.
#![forbid(unsafe_code)]
