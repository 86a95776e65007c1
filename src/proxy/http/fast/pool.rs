//! The plain pass-through's own pool of idle upstream connections, with a
//! sweeper that closes those the upstream closed.

use std::collections::VecDeque;
use std::io;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::time::Instant;

use crate::proxy::http::dial::MAX_IDLE;

/// An upstream connection idle longer than this is checked for a close
/// before an idempotent request reuses it (other requests always check,
/// with one `recv`); a fresher one is used as it is, and an idempotent
/// request it fails to answer at all is sent again on a new connection.
const CHECK_IDLE_AFTER: Duration = Duration::from_secs(1);
/// How often idle upstream connections are looked over, and how long one
/// may stay idle: those the upstream closed, or idle longer, are closed.
const SWEEP_EVERY: Duration = Duration::from_secs(5);
const MAX_IDLE_TIME: Duration = Duration::from_secs(90);

/// The idle plain upstream connections of one target, oldest first. A
/// sweeper task, started with the first connection put back and ended with
/// the pool, closes those the upstream closed meanwhile.
#[derive(Default)]
pub struct RawPool {
    idle: Mutex<VecDeque<(TcpStream, Instant)>>,
    sweeping: std::sync::atomic::AtomicBool,
}

impl RawPool {
    fn idle(&self) -> std::sync::MutexGuard<'_, VecDeque<(TcpStream, Instant)>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub(super) fn take(&self, idempotent: bool) -> Option<TcpStream> {
        loop {
            let (stream, since) = self.idle().pop_front()?;
            if (idempotent && since.elapsed() < CHECK_IDLE_AFTER) || still_open(&stream) {
                return Some(stream);
            }
        }
    }

    pub(super) fn put_back(self: &Arc<Self>, stream: TcpStream) {
        {
            let mut idle = self.idle();
            if idle.len() < MAX_IDLE {
                idle.push_back((stream, Instant::now()));
            }
        }
        if !self.sweeping.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tokio::spawn(sweep(Arc::downgrade(self)));
        }
    }
}

/// Closes idle connections the upstream closed, or idle too long, until the
/// pool is gone.
async fn sweep(pool: std::sync::Weak<RawPool>) {
    loop {
        tokio::time::sleep(SWEEP_EVERY).await;
        let Some(pool) = pool.upgrade() else { return };
        pool.idle().retain(|(stream, since)| since.elapsed() < MAX_IDLE_TIME && still_open(stream));
    }
}

/// False when an idle connection has been closed by the upstream (or sent
/// bytes nobody asked for). Asks the kernel with a peeking `recv`, not the
/// reactor, which may not have seen the close yet.
fn still_open(stream: &TcpStream) -> bool {
    let mut byte = [std::mem::MaybeUninit::<u8>::uninit()];
    matches!(socket2::SockRef::from(stream).peek(&mut byte), Err(e) if e.kind() == io::ErrorKind::WouldBlock)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The probe asks the kernel: a close the reactor has not been polled
    /// for yet (nothing awaited since) is seen all the same.
    #[tokio::test(flavor = "current_thread")]
    async fn an_idle_connection_closed_by_its_peer_is_seen_closed_at_once() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let near = TcpStream::connect(listener.local_addr().expect("addr")).await.expect("connect");
        let (far, _) = listener.accept().await.expect("accept");
        assert!(still_open(&near), "nothing has happened yet");
        drop(far);
        // Blocking, so the runtime's reactor runs no turn meanwhile.
        let deadline = Instant::now() + Duration::from_secs(5);
        while still_open(&near) {
            assert!(Instant::now() < deadline, "the close was never seen");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
