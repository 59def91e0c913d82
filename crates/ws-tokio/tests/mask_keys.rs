//! A client stream's masking keys from an injected source, end to end over a byte stream: the
//! injected keys are on the wire, and a failing source is a typed error, never a panic.

use tokio::io::AsyncReadExt;
use ws_proto::{Fault, MaskKeySource, RandomError};
use ws_tokio::{Config, ConnectionError, Error, WebSocketStream};

#[derive(Debug)]
struct Counter(u8);

impl MaskKeySource for Counter {
    fn fill(&mut self, dst: &mut [u8]) -> Result<(), RandomError> {
        self.0 += 1;
        dst.fill(self.0);
        Ok(())
    }
}

#[derive(Debug)]
struct Broken;

impl MaskKeySource for Broken {
    fn fill(&mut self, _: &mut [u8]) -> Result<(), RandomError> {
        Err(RandomError::new("broken on purpose"))
    }
}

#[tokio::test]
async fn the_injected_keys_mask_the_clients_frames() {
    let (io, mut peer) = tokio::io::duplex(4096);
    let mut ws = WebSocketStream::client(io, Config::default());
    ws.set_mask_key_source(Box::new(Counter(0)));
    ws.send_text("one").await.unwrap();
    ws.send_binary(vec![9u8; 5]).await.unwrap();
    let mut wire = vec![0u8; (2 + 4 + 3) + (2 + 4 + 5)];
    peer.read_exact(&mut wire).await.unwrap();
    assert_eq!(&wire[..6], &[0x81, 0x83, 1, 1, 1, 1]);
    assert_eq!(&wire[6..9], &[b'o' ^ 1, b'n' ^ 1, b'e' ^ 1]);
    assert_eq!(&wire[9..15], &[0x82, 0x85, 2, 2, 2, 2]);
    assert_eq!(&wire[15..], &[9 ^ 2; 5]);
}

#[tokio::test(start_paused = true)]
async fn a_failing_source_is_a_typed_local_error() {
    let (io, mut peer) = tokio::io::duplex(4096);
    let mut ws = WebSocketStream::client(io, Config::default());
    ws.set_mask_key_source(Box::new(Broken));
    let err = ws.send_text("no key").await.unwrap_err();
    assert!(
        matches!(err, Error::Connection(ConnectionError::Random(_))),
        "{err:?}"
    );
    assert_eq!(err.fault(), Fault::Local);
    assert!(ws.is_closed());
    // The server ends its side; the client's stream then ends too, having sent nothing (no
    // close frame: it could not be masked) and shut down its side.
    tokio::io::AsyncWriteExt::shutdown(&mut peer).await.unwrap();
    let start = tokio::time::Instant::now();
    assert!(ws.recv().await.is_none());
    assert_eq!(start.elapsed(), std::time::Duration::ZERO, "no waiting");
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty(), "nothing may go out: {rest:?}");
}

/// The same failure against a server that never ends its side: the client waits for it at most
/// `close_timeout` (virtual time), as the connection's transport actions say, then ends.
#[tokio::test(start_paused = true)]
async fn after_a_failing_source_the_client_waits_close_timeout_at_most() {
    let close_timeout = std::time::Duration::from_secs(3);
    let config = Config::builder().close_timeout(close_timeout).build();
    let (io, mut peer) = tokio::io::duplex(4096);
    let mut ws = WebSocketStream::client(io, config);
    ws.set_mask_key_source(Box::new(Broken));
    let start = tokio::time::Instant::now();
    assert!(matches!(
        ws.ping(vec![1u8]).await.unwrap_err(),
        Error::Connection(ConnectionError::Random(_))
    ));
    assert!(ws.recv().await.is_none());
    assert_eq!(start.elapsed(), close_timeout);
    // It shut down its side before letting go.
    let mut rest = Vec::new();
    peer.read_to_end(&mut rest).await.unwrap();
    assert!(rest.is_empty());
}
