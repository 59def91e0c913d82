//! The transport's error: the connection's ([`ws_proto::Error`]) plus what only a transport
//! meets (I/O, TLS, the opening handshake, its deadline).

use std::fmt;
use ws_proto::handshake::HandshakeError;
use ws_proto::{CloseCode, Fault, TimeoutKind};

/// Every way a [`WebSocketStream`](crate::WebSocketStream), its split halves, or
/// [`accept`](crate::accept)/[`connect`](crate::connect) can fail.
///
/// The WebSocket connection's own failures (protocol violations, limits, timers, closed,
/// local misuse, an invalid [`Config`](ws_proto::Config)) are the core's
/// [`ws_proto::Error`], carried in [`Error::Connection`]; the other variants are what only the
/// transport meets.
///
/// ```
/// use ws_tokio::{Error, Fault, TimeoutKind};
///
/// fn describe(e: &Error) -> &'static str {
///     match e.timeout_kind() {
///         Some(TimeoutKind::Idle) => "the peer went quiet",
///         _ if e.fault() == Fault::Peer => "the peer misbehaved",
///         _ => "something else",
///     }
/// }
/// let e = Error::from(ws_proto::Error::Timeout(TimeoutKind::Idle));
/// assert_eq!(describe(&e), "the peer went quiet");
/// assert!(matches!(Error::HandshakeTimeout.fault(), Fault::Peer));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The WebSocket connection failed or was misused: protocol, limits, timers, closed,
    /// invalid input or configuration. [`Error::fault`], [`Error::close_code`] and
    /// [`Error::is_fatal`] are the core error's.
    Connection(ws_proto::Error),
    /// The opening handshake was invalid: a malformed or unacceptable request (server side)
    /// or response (client side), or a URL that cannot be connected to.
    Handshake(HandshakeError),
    /// The application (server side, its `accept_with` callback) or the server (client side)
    /// refused the opening handshake with this HTTP status.
    Refused(u16),
    /// The opening handshake did not complete within `handshake_timeout`.
    HandshakeTimeout,
    /// The transport failed (reset, broken pipe, end of stream during the handshake, ...).
    Io(std::io::Error),
    /// TLS failed (feature `tls`): during the TLS handshake of
    /// [`tls::connect_tls`](crate::tls::connect_tls) or [`tls::accept_tls`](crate::tls::accept_tls)
    /// (a certificate that fails verification, an alert from the peer, no common protocol
    /// version or cipher suite, ...) or later on the stream (a record that fails to decrypt).
    ///
    /// Every I/O error that carries a [`rustls::Error`] (tokio-rustls reports them as
    /// [`std::io::ErrorKind::InvalidData`]) becomes this variant, whichever stream it came
    /// from; plain I/O failures under TLS (a reset, an end of stream mid-handshake) stay
    /// [`Error::Io`]. [`Error::fault`] says who was wrong: [`Fault::Peer`] for what the peer
    /// presented or sent (its certificate, an alert, an invalid or undecryptable message, an
    /// incompatible offer), [`Fault::Local`] for this side's configuration or environment
    /// (its clock, its random source, an invalid revocation list, ...).
    #[cfg(feature = "tls")]
    Tls(rustls::Error),
}

impl Error {
    /// Who was at fault: the connection error's fault; the peer for an invalid handshake from
    /// it or a handshake that timed out; this side for a refused handshake or an invalid URL;
    /// the transport for I/O; for TLS, see `Error::Tls` (feature `tls`).
    pub fn fault(&self) -> Fault {
        match self {
            Error::Connection(e) => e.fault(),
            Error::Handshake(e) if e.is_peer_fault() => Fault::Peer,
            Error::Handshake(_) | Error::Refused(_) => Fault::Local,
            Error::HandshakeTimeout => Fault::Peer,
            Error::Io(_) => Fault::Io,
            #[cfg(feature = "tls")]
            Error::Tls(e) => tls_fault(e),
        }
    }

    /// The close code this error sends to the peer, if it causes a close frame (only
    /// connection errors do).
    pub fn close_code(&self) -> Option<CloseCode> {
        self.as_connection().and_then(ws_proto::Error::close_code)
    }

    /// True when the stream is unusable after this error (everything but local misuse of an
    /// open connection).
    pub fn is_fatal(&self) -> bool {
        self.as_connection().is_none_or(ws_proto::Error::is_fatal)
    }

    /// The connection's error, when this is one.
    pub fn as_connection(&self) -> Option<&ws_proto::Error> {
        match self {
            Error::Connection(e) => Some(e),
            _ => None,
        }
    }

    /// Which connection deadline passed, when this is a connection timeout
    /// ([`ws_proto::Error::Timeout`]). The handshake's own deadline is
    /// [`Error::HandshakeTimeout`].
    pub fn timeout_kind(&self) -> Option<TimeoutKind> {
        match self {
            Error::Connection(ws_proto::Error::Timeout(kind)) => Some(*kind),
            _ => None,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Connection(e) => e.fmt(f),
            Error::Handshake(e) => write!(f, "handshake failed: {e}"),
            Error::Refused(status) => write!(f, "handshake refused with HTTP status {status}"),
            Error::HandshakeTimeout => f.write_str("the opening handshake timed out"),
            Error::Io(e) => write!(f, "I/O error: {e}"),
            #[cfg(feature = "tls")]
            Error::Tls(e) => write!(f, "TLS error: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            // Transparent: its message is this one, so its source comes next.
            Error::Connection(e) => e.source(),
            Error::Handshake(e) => Some(e),
            Error::Io(e) => Some(e),
            #[cfg(feature = "tls")]
            Error::Tls(e) => Some(e),
            Error::Refused(_) | Error::HandshakeTimeout => None,
        }
    }
}

impl From<ws_proto::Error> for Error {
    fn from(e: ws_proto::Error) -> Self {
        Error::Connection(e)
    }
}

/// [`Error::Io`], or (feature `tls`) `Error::Tls` when the I/O error carries a
/// `rustls::Error`.
impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        #[cfg(feature = "tls")]
        if let Some(tls) = e
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        {
            return Error::Tls(tls.clone());
        }
        Error::Io(e)
    }
}

#[cfg(feature = "tls")]
impl From<rustls::Error> for Error {
    fn from(e: rustls::Error) -> Self {
        Error::Tls(e)
    }
}

/// Whose fault a TLS error is: this side's configuration or environment, or else the peer
/// (what it presented, sent or offered).
#[cfg(feature = "tls")]
fn tls_fault(e: &rustls::Error) -> Fault {
    use rustls::Error as E;
    match e {
        E::EncryptError
        | E::InvalidCertRevocationList(_)
        | E::General(_)
        | E::FailedToGetCurrentTime
        | E::FailedToGetRandomBytes
        | E::HandshakeNotComplete
        | E::BadMaxFragmentSize
        | E::InconsistentKeys(_)
        | E::UnsupportedNameType
        | E::Other(_) => Fault::Local,
        // The peer's certificate, an alert it sent, a message it sent that is invalid,
        // unexpected or undecryptable, an offer with nothing in common with ours (and any
        // variant a later rustls adds: most of them are about the peer).
        _ => Fault::Peer,
    }
}

impl From<HandshakeError> for Error {
    fn from(e: HandshakeError) -> Self {
        Error::Handshake(e)
    }
}

impl From<ws_proto::ConfigError> for Error {
    fn from(e: ws_proto::ConfigError) -> Self {
        Error::Connection(ws_proto::Error::InvalidConfig(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn faults_close_codes_and_fatality() {
        let peer = Error::from(ws_proto::Error::InvalidUtf8);
        assert_eq!(peer.fault(), Fault::Peer);
        assert_eq!(peer.close_code(), Some(CloseCode::INVALID_PAYLOAD));
        assert!(peer.is_fatal());

        let misuse = Error::from(ws_proto::Error::InvalidInput("too long"));
        assert_eq!(misuse.fault(), Fault::Local);
        assert!(!misuse.is_fatal());

        let io = Error::from(std::io::Error::from(std::io::ErrorKind::BrokenPipe));
        assert_eq!(io.fault(), Fault::Io);
        assert_eq!(io.close_code(), None);
        assert!(io.is_fatal());
        assert!(io.source().is_some());

        assert_eq!(Error::Refused(403).fault(), Fault::Local);
        assert_eq!(Error::HandshakeTimeout.fault(), Fault::Peer);
        assert_eq!(Error::from(HandshakeError::BadKey).fault(), Fault::Peer);
        assert!(Error::HandshakeTimeout.timeout_kind().is_none());
        assert_eq!(
            Error::from(ws_proto::Error::Timeout(TimeoutKind::Pong)).timeout_kind(),
            Some(TimeoutKind::Pong)
        );
    }

    #[cfg(feature = "tls")]
    #[test]
    fn tls_errors_out_of_io_errors_and_their_faults() {
        use rustls::{AlertDescription, CertificateError};

        // tokio-rustls reports a rustls error inside an InvalidData I/O error.
        let bad_cert = rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer);
        let e = Error::from(std::io::Error::new(
            std::io::ErrorKind::InvalidData,
            bad_cert.clone(),
        ));
        assert!(
            matches!(&e, Error::Tls(inner) if *inner == bad_cert),
            "{e:?}"
        );
        assert_eq!(e.fault(), Fault::Peer);
        assert_eq!(e.close_code(), None);
        assert!(e.is_fatal());
        assert_eq!(e.to_string(), format!("TLS error: {bad_cert}"));
        assert_eq!(e.source().unwrap().to_string(), bad_cert.to_string());

        let alert = Error::from(rustls::Error::AlertReceived(
            AlertDescription::HandshakeFailure,
        ));
        assert_eq!(alert.fault(), Fault::Peer);
        let local = Error::from(rustls::Error::FailedToGetRandomBytes);
        assert_eq!(local.fault(), Fault::Local);

        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<Error>();

        // Other I/O errors, with or without a payload, stay I/O.
        let plain = Error::from(std::io::Error::other("reset"));
        assert!(matches!(plain, Error::Io(_)));
        assert_eq!(plain.fault(), Fault::Io);
    }

    #[test]
    fn a_connection_error_is_transparent() {
        let config = ws_proto::Config::builder()
            .deflate(ws_proto::DeflateSettings::default().level(0))
            .try_build()
            .unwrap_err();
        let e = Error::from(config.clone());
        assert!(matches!(
            e.as_connection(),
            Some(ws_proto::Error::InvalidConfig(_))
        ));
        assert_eq!(e.to_string(), config.to_string());
        assert_eq!(e.source().unwrap().to_string(), config.to_string());
    }
}
