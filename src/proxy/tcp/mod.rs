//! The TCP listener: each connection admitted through the connection-level
//! faults (outage, pool), dialed to the upstream in its own task, then
//! pumped both ways: spliced straight through while no fault acts on its
//! bytes, else with the byte-level faults applied per chunk.

mod faults;
mod pass;
mod pump;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use super::{ConnGauge, Gate, Open};
use crate::config::{ClientLimits, TcpUpstream};
use crate::fault::{ActiveFault, FaultSwitch, Kind, OutageMode, TcpKind, TcpWhenFull};
use crate::record::fields;

pub use faults::ConnFaults;

/// Accepts connections on `listener` until `shutdown`. The accept loop never
/// dials: a blackholed upstream stalls only its own connections.
pub async fn serve(
    listener: TcpListener,
    switch: Arc<FaultSwitch>,
    upstream: Arc<TcpUpstream>,
    gauge: ConnGauge,
    limits: ClientLimits,
    shutdown: CancellationToken,
    tracker: TaskTracker,
) {
    let name = switch.target().to_string();
    let mut gate = Gate::new(listener, switch.clone(), &name, gauge, limits.max_connections);
    while let Some((stream, peer, open)) = gate.accept(&shutdown).await {
        // Spawned as is: wrapped in an `async move` block, the future would
        // be stored twice (captured, then awaited), doubling each idle
        // connection's task.
        tracker.spawn(connection(stream, peer, switch.clone(), upstream.clone(), limits.idle_timeout, open));
    }
}

/// One client connection, counted open while `_open` lives. No span: a span
/// per connection would cost each idle connection memory in the subscriber;
/// the few log lines name the target and the peer themselves.
async fn connection(
    client: TcpStream,
    peer: SocketAddr,
    switch: Arc<FaultSwitch>,
    upstream: Arc<TcpUpstream>,
    idle: Option<std::time::Duration>,
    _open: Open,
) {
    let started = Instant::now();
    let _ = client.set_nodelay(true);
    let faults = ConnFaults::new(switch.clone(), peer.ip());
    let Some(_slot) = admit(&client, &faults).await else {
        let reset = client.linger().ok().flatten().is_some_and(|d| d.is_zero());
        let error = if reset { "reset" } else { "closed" };
        record(&switch, started, 0, 0, Some((error, fields::ORIGIN_INJECTED)), faults.applied_names());
        return;
    };
    let dial = tokio::time::timeout(upstream.connect_timeout, TcpStream::connect(upstream.address.as_str()));
    let server = match dial.await {
        Ok(Ok(s)) => s,
        Ok(Err(e)) => {
            warn!({ fields::TARGET } = %switch.target(), { fields::PEER } = %peer, { fields::ORIGIN } = fields::ORIGIN_UPSTREAM, { fields::ERROR_KIND } = "unreachable", upstream = %upstream.address, "upstream failed: {e}");
            record(&switch, started, 0, 0, Some(("unreachable", fields::ORIGIN_UPSTREAM)), None);
            return;
        }
        Err(_) => {
            warn!({ fields::TARGET } = %switch.target(), { fields::PEER } = %peer, { fields::ORIGIN } = fields::ORIGIN_UPSTREAM, { fields::ERROR_KIND } = "timeout", upstream = %upstream.address, "upstream failed: no connection within {:?}", upstream.connect_timeout);
            record(&switch, started, 0, 0, Some(("timeout", fields::ORIGIN_UPSTREAM)), None);
            return;
        }
    };
    let _ = server.set_nodelay(true);
    let pumped = pump::run(&client, &server, &faults, idle).await;
    debug!({ fields::TARGET } = %switch.target(), { fields::PEER } = %peer, { fields::BYTES_IN } = pumped.to_server, { fields::BYTES_OUT } = pumped.to_client, queued = pumped.queued, "connection closed");
    let failure = pumped.ended_by.map(|e| (e, fields::ORIGIN_INJECTED));
    record(&switch, started, pumped.to_server, pumped.to_client, failure, faults.applied_names());
}

/// Emits the connection's record.
fn record(
    switch: &FaultSwitch,
    started: Instant,
    bytes_in: u64,
    bytes_out: u64,
    failure: Option<(&str, &str)>,
    faults: Option<String>,
) {
    tracing::trace!(
        target: fields::RECORD,
        record = fields::TYPE_CONNECTION,
        { fields::TARGET } = switch.target(),
        { fields::LATENCY_US } = started.elapsed().as_micros() as u64,
        { fields::BYTES_IN } = bytes_in,
        { fields::BYTES_OUT } = bytes_out,
        { fields::ERROR_KIND } = failure.map(|f| f.0),
        { fields::ORIGIN } = failure.map(|f| f.1),
        { fields::FAULT_NAME } = faults.as_deref(),
        // A connection has no trace context to read: its exported span is
        // the root of a trace of its own, named in the journal to find it.
        { fields::TRACE_ID } = crate::record::spans_attached().then(crate::trace_context::trace_id),
        { fields::SPAN_ID } = crate::record::spans_attached().then(crate::trace_context::span_id),
    );
}

/// Applies the connection-level faults: an outage refuses, resets or holds
/// the connection; a full pool queues, refuses or holds it. Returns the pool
/// slot to keep while the connection lives, or `None` when it must end.
async fn admit(client: &TcpStream, faults: &ConnFaults) -> Option<Vec<OwnedSemaphorePermit>> {
    let mut slots = Vec::new();
    for active in faults.snapshot().iter() {
        if !active.fault.scope.in_window(Instant::now().saturating_duration_since(active.activated)) {
            continue;
        }
        match &active.fault.kind {
            Kind::Tcp(TcpKind::Outage { mode }, _) => {
                faults.applied(active, &format!("{mode:?}").to_lowercase());
                match mode {
                    OutageMode::Hang => hold(active).await,
                    _ => {
                        let _ = client.set_zero_linger();
                    }
                }
                return None;
            }
            Kind::Tcp(TcpKind::PoolExhaustion { when_full, .. }, _) => {
                let Some(pool) = active.pool.clone() else { continue };
                if let Ok(slot) = pool.clone().try_acquire_owned() {
                    slots.push(slot);
                    continue;
                }
                match when_full {
                    TcpWhenFull::Refuse => {
                        faults.applied(active, "pool full: reset");
                        let _ = client.set_zero_linger();
                        return None;
                    }
                    TcpWhenFull::Hang => {
                        faults.applied(active, "pool full: hold");
                        hold(active).await;
                        return None;
                    }
                    TcpWhenFull::Queue { timeout } => {
                        let queued = Instant::now();
                        tokio::select! {
                            slot = pool.acquire_owned() => {
                                faults.applied(active, &format!("queued {:?}", queued.elapsed()));
                                slots.extend(slot.ok());
                            }
                            () = tokio::time::sleep(*timeout) => {
                                faults.applied(active, &format!("queued {timeout:?}, then closed"));
                                return None;
                            }
                            () = active.ended.cancelled() => {}
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Some(slots)
}

/// Holds a connection without answering until the fault ends.
async fn hold(active: &ActiveFault) {
    active.ended.cancelled().await;
}
