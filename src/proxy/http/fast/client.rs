//! What the plain path needs of a client connection: reading, writing and
//! waiting for bytes without reading them, so that an idle connection
//! holds no buffer. Plain TCP has it, and so has TLS over TCP: an HTTPS
//! listener's HTTP/1.1 requests take the plain path too.

use std::future::Future;
use std::io;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::server::TlsStream;

use crate::proxy::reset::ResettableStream;

/// A client connection the plain path can serve.
pub trait Client: AsyncRead + AsyncWrite + Unpin + Send {
    /// Ready once a read would not wait (bytes, or the end, have come);
    /// nothing is read.
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send;
}

impl Client for ResettableStream {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        self.tcp().readable()
    }
}

impl Client for TlsStream<ResettableStream> {
    fn readable(&self) -> impl Future<Output = io::Result<()>> + Send {
        let (tcp, tls) = self.get_ref();
        // Plaintext already decrypted (or the peer's close_notify) is read
        // at once: rustls wants no more bytes while it holds some.
        let waiting = !tls.wants_read();
        async move {
            if waiting {
                return Ok(());
            }
            tcp.tcp().readable().await
        }
    }
}
