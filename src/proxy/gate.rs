//! The accept side of a listener: accepts until shutdown, and closes the
//! listening socket while an outage refuses connections (so clients see
//! "connection refused"), reopening it when the outage ends.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::fault::FaultSwitch;
use crate::record::fields;

/// Open client connections of a listener, for `/metrics`.
pub type ConnGauge = Arc<std::sync::atomic::AtomicI64>;

/// Counts one open connection until dropped.
pub struct Open(ConnGauge);

impl Drop for Open {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

pub struct Gate {
    gauge: ConnGauge,
    /// Connections beyond this many at once are closed as they arrive.
    max: Option<usize>,
    /// Accepts that failed in a row: each waits twice as long, up to a second.
    failures: u32,
    listener: Option<TcpListener>,
    addr: SocketAddr,
    switch: Arc<FaultSwitch>,
    changes: watch::Receiver<u64>,
    name: String,
}

impl Gate {
    pub fn new(
        listener: TcpListener,
        switch: Arc<FaultSwitch>,
        name: &str,
        gauge: ConnGauge,
        max: Option<usize>,
    ) -> Self {
        let addr = listener.local_addr().unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let changes = switch.subscribe();
        Gate { gauge, max, failures: 0, listener: Some(listener), addr, switch, changes, name: name.to_string() }
    }

    /// The next connection, counted open until the returned [`Open`] is
    /// dropped, or `None` once `shutdown` is cancelled. Past `max_connections`
    /// a connection is reset as it arrives.
    pub async fn accept(&mut self, shutdown: &CancellationToken) -> Option<(TcpStream, SocketAddr, Open)> {
        loop {
            let (stream, peer) = self.next(shutdown).await?;
            let now_open = self.gauge.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
            let open = Open(self.gauge.clone());
            if self.max.is_some_and(|max| usize::try_from(now_open).unwrap_or(0) > max) {
                warn!({ fields::TARGET } = %self.name, { fields::PEER } = %peer, max = self.max, "connection refused: max_connections open already");
                let _ = stream.set_zero_linger();
                drop((stream, open));
                continue;
            }
            return Some((stream, peer, open));
        }
    }

    async fn next(&mut self, shutdown: &CancellationToken) -> Option<(TcpStream, SocketAddr)> {
        loop {
            self.follow_outage(shutdown).await;
            if shutdown.is_cancelled() {
                return None;
            }
            let Some(listener) = &self.listener else {
                tokio::select! {
                    _ = self.changes.changed() => continue,
                    () = shutdown.cancelled() => return None,
                }
            };
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok(pair) => {
                        self.failures = 0;
                        return Some(pair);
                    }
                    Err(e) => {
                        self.failures = self.failures.saturating_add(1);
                        super::accept_failed(&self.name, &e, self.failures).await;
                    }
                },
                _ = self.changes.changed() => {}
                () = shutdown.cancelled() => return None,
            }
        }
    }

    async fn follow_outage(&mut self, shutdown: &CancellationToken) {
        let refuse = self.switch.load().refuses_connections();
        if refuse && self.listener.is_some() {
            self.listener = None;
            info!({ fields::TARGET } = %self.name, addr = %self.addr, { fields::ORIGIN } = fields::ORIGIN_INJECTED, "listener closed by an outage");
        }
        while !refuse && self.listener.is_none() && !shutdown.is_cancelled() {
            match super::bind(self.addr) {
                Ok(l) => {
                    self.listener = Some(l);
                    info!({ fields::TARGET } = %self.name, addr = %self.addr, "listener reopened");
                }
                Err(e) => {
                    warn!({ fields::TARGET } = %self.name, addr = %self.addr, error = %e, "cannot reopen the listener yet");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        }
    }
}
