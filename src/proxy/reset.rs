//! A TCP stream that can be made to close with a reset (RST) instead of a
//! FIN, for the faults that reset connections.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Marks a connection to be reset when it closes. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct ResetHandle(Arc<AtomicBool>);

impl ResetHandle {
    /// From now on, closing the connection sends RST.
    pub fn arm(&self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// A `TcpStream` that sets a zero linger before it is dropped once its
/// [`ResetHandle`] is armed, so the close is abortive.
pub struct ResettableStream {
    stream: TcpStream,
    reset: ResetHandle,
}

impl ResettableStream {
    pub fn new(stream: TcpStream) -> (Self, ResetHandle) {
        let reset = ResetHandle::default();
        (ResettableStream { stream, reset: reset.clone() }, reset)
    }

    pub fn tcp(&self) -> &TcpStream {
        &self.stream
    }
}

impl Drop for ResettableStream {
    fn drop(&mut self) {
        if self.reset.0.load(Ordering::Relaxed) {
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for ResettableStream {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for ResettableStream {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.reset.0.load(Ordering::Relaxed) {
            // A reset connection sends no FIN first.
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}
