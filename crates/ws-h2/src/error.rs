//! The HTTP/2 transport's error.

use std::fmt;
use ws_proto::Fault;
use ws_proto::handshake::HandshakeError;

/// How serving or opening a WebSocket over HTTP/2 fails. Once a WebSocket is open its
/// messages fail with [`ws_tokio::Error`], as over HTTP/1.1.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The WebSocket connection's own failure, e.g. an invalid
    /// [`Config`](ws_proto::Config) ([`ws_proto::Error::InvalidConfig`]).
    Connection(ws_proto::Error),
    /// The opening handshake was invalid: an invalid URL or response (client side).
    Handshake(HandshakeError),
    /// The server answered the extended CONNECT with this (non-2xx) status.
    Refused(u16),
    /// The HTTP/2 connection preface or a WebSocket's opening handshake did not complete
    /// within `handshake_timeout`.
    HandshakeTimeout,
    /// The server did not enable extended CONNECT (`SETTINGS_ENABLE_CONNECT_PROTOCOL`,
    /// RFC 8441 section 3): it cannot carry WebSockets over HTTP/2, and the client sent
    /// nothing.
    ExtendedConnectDisabled,
    /// The HTTP/2 layer failed: a protocol error, a GOAWAY or a stream reset.
    Http2(h2::Error),
    /// The transport failed.
    Io(std::io::Error),
    /// The HTTP/1.1 upgrade of a connection served by
    /// [`serve_auto`](crate::H2WebSocketServer::serve_auto) or
    /// [`serve_alpn`](crate::H2WebSocketServer::serve_alpn) failed, as
    /// [`ws_tokio::accept_with`] reports it.
    Http1(ws_tokio::Error),
    /// TLS failed (feature `tls`): the peer's certificate did not verify, an alert, a
    /// protocol error.
    #[cfg(feature = "tls")]
    Tls(ws_tokio::tls::rustls::Error),
}

impl Error {
    /// Who was at fault: the peer for a refused or timed-out handshake, a server without
    /// extended CONNECT, and an HTTP/2 error the peer sent; this side for an invalid
    /// configuration or URL and an HTTP/2 error it detected in its own use; the transport
    /// for I/O.
    pub fn fault(&self) -> Fault {
        match self {
            Error::Connection(e) => e.fault(),
            Error::Handshake(e) if e.is_peer_fault() => Fault::Peer,
            Error::Handshake(_) => Fault::Local,
            Error::Refused(_) | Error::HandshakeTimeout | Error::ExtendedConnectDisabled => {
                Fault::Peer
            }
            Error::Http2(e) if e.is_io() => Fault::Io,
            Error::Http2(e) if e.is_remote() => Fault::Peer,
            Error::Http2(e) if e.is_library() => Fault::Peer,
            Error::Http2(_) => Fault::Local,
            Error::Io(_) => Fault::Io,
            Error::Http1(e) => e.fault(),
            #[cfg(feature = "tls")]
            Error::Tls(_) => Fault::Peer,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connection(e) => e.fmt(f),
            Error::Handshake(e) => write!(f, "invalid WebSocket handshake over HTTP/2: {e}"),
            Error::Refused(status) => write!(f, "extended CONNECT refused with status {status}"),
            Error::HandshakeTimeout => f.write_str("HTTP/2 WebSocket handshake timed out"),
            Error::ExtendedConnectDisabled => f.write_str(
                "the HTTP/2 server did not enable extended CONNECT (RFC 8441): no WebSockets",
            ),
            Error::Http2(e) => write!(f, "HTTP/2: {e}"),
            Error::Io(e) => write!(f, "I/O: {e}"),
            Error::Http1(e) => write!(f, "HTTP/1.1: {e}"),
            #[cfg(feature = "tls")]
            Error::Tls(e) => write!(f, "TLS: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Connection(e) => Some(e),
            Error::Handshake(e) => Some(e),
            Error::Http2(e) => Some(e),
            Error::Io(e) => Some(e),
            Error::Http1(e) => Some(e),
            #[cfg(feature = "tls")]
            Error::Tls(e) => Some(e),
            Error::Refused(_) | Error::HandshakeTimeout | Error::ExtendedConnectDisabled => None,
        }
    }
}

impl From<ws_proto::Error> for Error {
    fn from(e: ws_proto::Error) -> Self {
        Error::Connection(e)
    }
}

impl From<ws_proto::ConfigError> for Error {
    fn from(e: ws_proto::ConfigError) -> Self {
        Error::Connection(ws_proto::Error::InvalidConfig(e))
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        match e {
            HandshakeError::BadStatus(status) => Error::Refused(status),
            e => Error::Handshake(e),
        }
    }
}

impl From<h2::Error> for Error {
    fn from(e: h2::Error) -> Self {
        if e.is_io() {
            return Error::Io(
                e.into_io()
                    .unwrap_or_else(|| std::io::Error::other("HTTP/2 I/O")),
            );
        }
        Error::Http2(e)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error::Io(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn faults() {
        assert_eq!(Error::Refused(403).fault(), Fault::Peer);
        assert_eq!(Error::ExtendedConnectDisabled.fault(), Fault::Peer);
        assert_eq!(Error::HandshakeTimeout.fault(), Fault::Peer);
        assert_eq!(
            Error::Io(std::io::ErrorKind::BrokenPipe.into()).fault(),
            Fault::Io
        );
        assert_eq!(
            Error::from(HandshakeError::InvalidInput("url")).fault(),
            Fault::Local
        );
        assert_eq!(
            Error::from(h2::Error::from(h2::Reason::PROTOCOL_ERROR)).fault(),
            Fault::Local
        );
        assert!(matches!(
            Error::from(HandshakeError::BadStatus(404)),
            Error::Refused(404)
        ));
    }
}
