//! A response body under faults: throttled to a byte rate, cut after N
//! bytes, and holding a pool slot until it ends.

use std::future::Future;
use std::pin::Pin;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::{Instant, Sleep};

use super::{BoxError, ProxyBody};

/// The body was cut on purpose by a truncate fault.
#[derive(Debug, thiserror::Error)]
#[error("response truncated by a fault after {0} bytes")]
pub struct Truncated(pub u64);

pub struct FaultyBody {
    inner: ProxyBody,
    /// Bytes per second, with the time the first byte went out.
    rate: Option<(u64, Option<Instant>)>,
    /// Bytes still allowed before the cut.
    left: Option<u64>,
    cut_after: u64,
    sent: u64,
    pending: Bytes,
    sleep: Option<Pin<Box<Sleep>>>,
    /// Whether the server has had a chance to flush what went out before the cut.
    flushed: bool,
    _permit: Option<OwnedSemaphorePermit>,
}

impl FaultyBody {
    pub fn new(
        inner: ProxyBody,
        bytes_per_second: Option<u64>,
        truncate_after: Option<u64>,
        permit: Option<OwnedSemaphorePermit>,
    ) -> Self {
        FaultyBody {
            inner,
            rate: bytes_per_second.map(|r| (r.max(1), None)),
            left: truncate_after,
            cut_after: truncate_after.unwrap_or(0),
            sent: 0,
            pending: Bytes::new(),
            sleep: None,
            flushed: false,
            _permit: permit,
        }
    }

    /// The next piece of `pending` that may go out now, or the wait until it may.
    fn next_piece(&mut self) -> Result<Bytes, Instant> {
        let mut size = self.pending.len();
        if let Some(left) = self.left {
            size = size.min(usize::try_from(left).unwrap_or(usize::MAX));
        }
        if let Some((rate, start)) = &mut self.rate {
            // Pieces of about 20 ms of data keep the rate smooth.
            let piece = usize::try_from(*rate / 50).unwrap_or(usize::MAX).clamp(1, 16 * 1024);
            size = size.min(piece);
            let start = *start.get_or_insert_with(Instant::now);
            let due = start + Duration::from_secs_f64(self.sent as f64 / *rate as f64);
            if Instant::now() < due {
                return Err(due);
            }
        }
        let piece = self.pending.split_to(size);
        self.sent += piece.len() as u64;
        if let Some(left) = &mut self.left {
            *left -= piece.len() as u64;
        }
        Ok(piece)
    }
}

impl Body for FaultyBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        loop {
            if this.left == Some(0) {
                if !this.flushed {
                    // A pending body makes the server flush what it holds,
                    // so the bytes before the cut reach the client.
                    this.flushed = true;
                    cx.waker().wake_by_ref();
                    return Poll::Pending;
                }
                return Poll::Ready(Some(Err(Box::new(Truncated(this.cut_after)))));
            }
            if let Some(sleep) = &mut this.sleep {
                ready!(sleep.as_mut().poll(cx));
                this.sleep = None;
            }
            if !this.pending.is_empty() {
                match this.next_piece() {
                    Ok(piece) => return Poll::Ready(Some(Ok(Frame::data(piece)))),
                    Err(due) => {
                        this.sleep = Some(Box::pin(tokio::time::sleep_until(due)));
                        continue;
                    }
                }
            }
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => match frame.into_data() {
                    Ok(data) => this.pending = data,
                    Err(trailers) => return Poll::Ready(Some(Ok(trailers))),
                },
                other => return Poll::Ready(other),
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.pending.is_empty() && self.left != Some(0) && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
