//! permessage-deflate (RFC 7692) for sockudo-ws.
//!
//! **Not built yet.** This crate will plug into `ws-proto`'s extension hook (RSV1) with a
//! `miniz_oxide` backend. It exposes nothing today.
#![forbid(unsafe_code)]
