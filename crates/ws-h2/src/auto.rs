//! One listener for HTTP/1.1 upgrades and HTTP/2 extended CONNECTs: chosen by the connection
//! preface (cleartext) or by ALPN (TLS).

use crate::{Error, H2Stream, H2WebSocketServer};
use bytes::{Buf, Bytes, BytesMut};
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, ReadBuf};
use ws_proto::handshake::{Accept, HandshakeRequest, Reject};
use ws_tokio::WebSocketStream;

/// The HTTP/2 connection preface (RFC 9113 section 3.4).
const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";

/// The byte transport of a WebSocket served by [`H2WebSocketServer::serve_auto`] or
/// [`serve_alpn`](H2WebSocketServer::serve_alpn): the connection itself (HTTP/1.1 upgrade)
/// or one of its HTTP/2 streams. `WebSocketStream<AnyStream<IO>>` works the same either way;
/// the handler's request says which (`req.version`).
#[derive(Debug)]
pub enum AnyStream<IO> {
    /// The connection, after an HTTP/1.1 upgrade.
    Http1(Rewind<IO>),
    /// An HTTP/2 stream (extended CONNECT).
    Http2(H2Stream),
}

/// A byte stream with bytes already read from it put back in front: what the server read to
/// tell HTTP/1.1 from HTTP/2 is read again by the protocol that follows.
#[derive(Debug)]
pub struct Rewind<IO> {
    prefix: Bytes,
    io: IO,
}

impl<IO> Rewind<IO> {
    /// `io`, read from after `prefix`.
    pub fn new(prefix: Bytes, io: IO) -> Self {
        Rewind { prefix, io }
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &IO {
        &self.io
    }

    /// The underlying stream, mutably (reading from it directly skips the rest of the
    /// prefix).
    pub fn get_mut(&mut self) -> &mut IO {
        &mut self.io
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for Rewind<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if !this.prefix.is_empty() {
            let n = this.prefix.len().min(buf.remaining());
            buf.put_slice(&this.prefix[..n]);
            this.prefix.advance(n);
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.io).poll_read(cx, buf)
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Rewind<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write(cx, buf)
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }
    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().io).poll_write_vectored(cx, bufs)
    }
    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

impl<IO: AsyncRead + Unpin> AsyncRead for AnyStream<IO> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AnyStream::Http1(s) => Pin::new(s).poll_read(cx, buf),
            AnyStream::Http2(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for AnyStream<IO> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            AnyStream::Http1(s) => Pin::new(s).poll_write(cx, buf),
            AnyStream::Http2(s) => Pin::new(s).poll_write(cx, buf),
        }
    }
    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AnyStream::Http1(s) => Pin::new(s).poll_flush(cx),
            AnyStream::Http2(s) => Pin::new(s).poll_flush(cx),
        }
    }
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            AnyStream::Http1(s) => Pin::new(s).poll_shutdown(cx),
            AnyStream::Http2(s) => Pin::new(s).poll_shutdown(cx),
        }
    }
}

impl H2WebSocketServer {
    /// Serves a cleartext connection whatever its HTTP version: HTTP/2 when it opens with the
    /// HTTP/2 preface (prior knowledge, h2c), else one HTTP/1.1 upgrade. Every WebSocket goes
    /// to `handler` as a `WebSocketStream<AnyStream<IO>>` with its request. HTTP/2
    /// WebSockets each run in a task of their own; the HTTP/1.1 one runs in this future,
    /// which returns when it ends.
    ///
    /// The preface must arrive within `handshake_timeout` (then the HTTP/1.1 handshake or the
    /// HTTP/2 connection has its own).
    ///
    /// Cancel safety: dropping the future closes the connection and its WebSockets.
    ///
    /// ```no_run
    /// use ws_h2::H2WebSocketServer;
    /// use ws_proto::{Config, Message};
    ///
    /// # async fn run() -> std::io::Result<()> {
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:9001").await?;
    /// loop {
    ///     let (tcp, _) = listener.accept().await?;
    ///     tokio::spawn(async move {
    ///         let server = H2WebSocketServer::new(Config::default());
    ///         let _ = server
    ///             .serve_auto(tcp, |mut ws, req| async move {
    ///                 println!("{:?} WebSocket on {}", req.version, req.path);
    ///                 while let Some(Ok(msg)) = ws.recv().await {
    ///                     if (msg.is_text() || msg.is_binary()) && ws.send(msg).await.is_err() {
    ///                         break;
    ///                     }
    ///                 }
    ///             })
    ///             .await;
    ///     });
    /// }
    /// # }
    /// ```
    pub async fn serve_auto<IO, H, Fut>(&self, io: IO, handler: H) -> Result<(), Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
        H: FnMut(WebSocketStream<AnyStream<IO>>, HandshakeRequest) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.serve_auto_with(io, |_| Ok(Accept::default()), handler)
            .await
    }

    /// [`serve_auto`](Self::serve_auto) with a callback deciding on each request (see
    /// [`serve_with`](Self::serve_with)), over either version.
    ///
    /// Cancel safety: as [`serve_auto`](Self::serve_auto).
    pub async fn serve_auto_with<IO, C, H, Fut>(
        &self,
        mut io: IO,
        callback: C,
        handler: H,
    ) -> Result<(), Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
        C: FnMut(&HandshakeRequest) -> Result<Accept, Reject>,
        H: FnMut(WebSocketStream<AnyStream<IO>>, HandshakeRequest) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.config().validate()?;
        let mut seen = BytesMut::with_capacity(PREFACE.len());
        let sniff = async {
            // Until the bytes differ from the preface, or all of it has arrived.
            while seen.len() < PREFACE.len() && PREFACE.starts_with(&seen) {
                let mut byte_budget = (&mut io).take((PREFACE.len() - seen.len()) as u64);
                if byte_budget.read_buf(&mut seen).await? == 0 {
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
                }
            }
            Ok(())
        };
        tokio::time::timeout(self.config().handshake_timeout, sniff)
            .await
            .map_err(|_| Error::HandshakeTimeout)??;
        let http2 = seen[..] == *PREFACE;
        self.serve_version(Rewind::new(seen.freeze(), io), http2, callback, handler)
            .await
    }

    /// Serves a connection whose protocol TLS negotiated: HTTP/2 when `alpn` is `h2`, else
    /// (`http/1.1`, or no ALPN) one HTTP/1.1 upgrade. Give it the TLS stream and the
    /// protocol its handshake selected (with tokio-rustls:
    /// `tls.get_ref().1.alpn_protocol()`); the server's TLS configuration should offer
    /// `h2` and `http/1.1` in its `alpn_protocols`.
    ///
    /// Cancel safety: as [`serve_auto`](Self::serve_auto).
    pub async fn serve_alpn<IO, C, H, Fut>(
        &self,
        io: IO,
        alpn: Option<&[u8]>,
        callback: C,
        handler: H,
    ) -> Result<(), Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
        C: FnMut(&HandshakeRequest) -> Result<Accept, Reject>,
        H: FnMut(WebSocketStream<AnyStream<IO>>, HandshakeRequest) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        self.config().validate()?;
        let http2 = alpn == Some(b"h2");
        self.serve_version(Rewind::new(Bytes::new(), io), http2, callback, handler)
            .await
    }

    async fn serve_version<IO, C, H, Fut>(
        &self,
        io: Rewind<IO>,
        http2: bool,
        mut callback: C,
        mut handler: H,
    ) -> Result<(), Error>
    where
        IO: AsyncRead + AsyncWrite + Unpin,
        C: FnMut(&HandshakeRequest) -> Result<Accept, Reject>,
        H: FnMut(WebSocketStream<AnyStream<IO>>, HandshakeRequest) -> Fut,
        Fut: Future<Output = ()> + Send + 'static,
    {
        if http2 {
            return self.serve_h2(io, AnyStream::Http2, callback, handler).await;
        }
        let mut request = None;
        let ws = ws_tokio::accept_with(
            AnyStream::Http1(io),
            self.config().clone(),
            |req: &HandshakeRequest| {
                let answer = callback(req);
                if answer.is_ok() {
                    request = Some(req.clone());
                }
                answer
            },
        )
        .await
        .map_err(Error::Http1)?;
        let request = request.expect("an accepted upgrade went through the callback");
        handler(ws, request).await;
        Ok(())
    }
}
