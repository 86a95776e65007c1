//! An HTTP/2 connection's streams run inside the connection's own task, as
//! nginx runs a connection's streams in the one worker that owns it: hyper
//! hands each stream to an executor, and this one keeps it beside the
//! connection instead of spawning a task for it. A stream then costs no
//! task of its own, and the frames it answers with are written by the same
//! thread that polled it, not by a connection task woken on another worker.
//! The streams of one connection share a thread in turn; they wait for
//! their upstreams and delays together, as before.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use futures_util::stream::{FuturesUnordered, StreamExt};

type Stream = Pin<Box<dyn Future<Output = ()> + Send>>;

/// How many rounds of streams and connection one poll runs before letting
/// other tasks have the thread.
const ROUNDS: usize = 8;

/// The executor hyper's HTTP/2 server is built with: it only collects the
/// streams hyper starts, for the connection's [`WithStreams`] to run.
/// hyper starts a stream only while its connection is polled, and
/// `WithStreams` takes what was started right after each such poll, so a
/// stream never waits here for a wakeup.
#[derive(Clone, Default)]
pub struct InConnection {
    started: Arc<Mutex<Vec<Stream>>>,
}

impl<F> hyper::rt::Executor<F> for InConnection
where
    F: Future<Output = ()> + Send + 'static,
{
    fn execute(&self, stream: F) {
        self.started.lock().unwrap_or_else(|p| p.into_inner()).push(Box::pin(stream));
    }
}

pin_project_lite::pin_project! {
    /// A connection future and the streams it started, done when the
    /// connection is and every stream has ended. The connection is dropped
    /// as soon as it ends, so that its streams learn it is gone.
    pub struct WithStreams<F, T> {
        #[pin]
        conn: Option<F>,
        ended: Option<T>,
        started: Arc<Mutex<Vec<Stream>>>,
        streams: FuturesUnordered<Stream>,
    }
}

impl<F, T> WithStreams<F, T> {
    /// Runs `conn`, built with `executor`, and the streams it starts.
    pub fn new(conn: F, executor: &InConnection) -> Self {
        WithStreams {
            conn: Some(conn),
            ended: None,
            started: executor.started.clone(),
            streams: FuturesUnordered::new(),
        }
    }

    /// The connection, while it has not ended.
    pub fn conn(self: Pin<&mut Self>) -> Option<Pin<&mut F>> {
        self.project().conn.as_pin_mut()
    }
}

impl<F, T> Future for WithStreams<F, T>
where
    F: Future<Output = T>,
{
    type Output = T;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<T> {
        let mut this = self.project();
        for _ in 0..ROUNDS {
            // Streams first: the frames they queue are then written by the
            // connection's poll below, in this same poll.
            while let Poll::Ready(Some(())) = this.streams.poll_next_unpin(cx) {}
            if let Some(conn) = this.conn.as_mut().as_pin_mut() {
                if let Poll::Ready(ended) = conn.poll(cx) {
                    *this.ended = Some(ended);
                    this.conn.set(None);
                }
            }
            let started = std::mem::take(&mut *this.started.lock().unwrap_or_else(|p| p.into_inner()));
            if started.is_empty() {
                if this.conn.is_none() && this.streams.is_empty() {
                    return match this.ended.take() {
                        Some(ended) => Poll::Ready(ended),
                        None => Poll::Pending,
                    };
                }
                return Poll::Pending;
            }
            // New streams are polled on the next round.
            this.streams.extend(started);
        }
        // Streams are left to poll: come back after the other tasks.
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::rt::Executor;

    /// A connection that starts `n` streams, one per poll, then ends.
    struct Starting {
        executor: InConnection,
        left: usize,
        done: Arc<Mutex<Vec<usize>>>,
    }

    impl Future for Starting {
        type Output = &'static str;

        fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<&'static str> {
            if self.left == 0 {
                return Poll::Ready("ended");
            }
            self.left -= 1;
            let (n, done) = (self.left, self.done.clone());
            self.executor.execute(async move {
                tokio::time::sleep(std::time::Duration::from_millis(5 * n as u64)).await;
                done.lock().unwrap().push(n);
            });
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }

    #[tokio::test]
    async fn ends_after_the_connection_and_every_stream_it_started() {
        let executor = InConnection::default();
        let done = Arc::new(Mutex::new(Vec::new()));
        let conn = Starting { executor: executor.clone(), left: 20, done: done.clone() };
        let ended = tokio::time::timeout(std::time::Duration::from_secs(10), WithStreams::new(conn, &executor)).await;
        assert_eq!(ended, Ok("ended"));
        let mut done = done.lock().unwrap().clone();
        // The shortest sleeps end first; every stream ran to its end.
        assert_eq!(done[..3], [0, 1, 2]);
        done.sort_unstable();
        assert_eq!(done, (0..20).collect::<Vec<_>>());
    }

    #[tokio::test]
    async fn drops_the_connection_when_it_ends_while_streams_run_on() {
        struct Dropped(Arc<Mutex<bool>>);
        impl Drop for Dropped {
            fn drop(&mut self) {
                *self.0.lock().unwrap() = true;
            }
        }
        let executor = InConnection::default();
        let dropped = Arc::new(Mutex::new(false));
        let flag = Dropped(dropped.clone());
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let seen = dropped.clone();
        executor.execute(async move {
            let _ = rx.await;
            // By the time the stream ends, the connection has been dropped.
            assert!(*seen.lock().unwrap());
        });
        let conn = async move {
            let _flag = flag;
            tokio::task::yield_now().await;
        };
        let mut served = Box::pin(WithStreams::new(conn, &executor));
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(served.as_mut().poll(&mut cx).is_pending());
        assert!(served.as_mut().poll(&mut cx).is_pending(), "the stream has not ended yet");
        assert!(*dropped.lock().unwrap(), "the connection is dropped once it ends");
        tx.send(()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), served).await.unwrap();
    }
}
