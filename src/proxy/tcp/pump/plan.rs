//! What the faults acting on a direction do to one chunk: drop it, delay
//! it (minus the time it already waited), pace it, slice it, or cut the
//! connection after it; and when a connection-wide fault ends it.

use std::time::Duration;

use tokio::time::Instant;

use super::ConnFaults;
use crate::fault::rng::Rng;
use crate::fault::{ActiveFault, Direction, Kind, OutageMode, TcpKind};

/// What the faults of one direction do to one chunk.
#[derive(Default)]
pub(super) struct ChunkPlan {
    pub(super) drop: bool,
    pub(super) due: Option<Instant>,
    pub(super) rate: Option<u64>,
    pub(super) slicer: Option<(usize, usize, Duration)>,
    pub(super) limit: Option<u64>,
}

/// True when a fault applying to this connection (its client matched, its
/// draw fell under its probability) acts on the bytes of `flow` now: a
/// pool's slot was taken at admission and does nothing to bytes, so a
/// connection it let in still passes straight through.
pub(super) fn acts_on(faults: &ConnFaults, flow: Direction) -> bool {
    // No fault at the target, or none that applies to this connection:
    // one load of its plan (and, with faults, of its decided list) says so,
    // without reading the clock.
    let applying = faults.snapshot();
    if applying.is_empty() {
        return false;
    }
    let now = Instant::now();
    applying.iter().any(|a| covering(a, flow, now).is_some_and(|kind| !matches!(kind, TcpKind::PoolExhaustion { .. })))
}

pub(super) fn covering(active: &ActiveFault, flow: Direction, now: Instant) -> Option<&TcpKind> {
    let Kind::Tcp(kind, dir) = &active.fault.kind else { return None };
    let since = now.saturating_duration_since(active.activated);
    (dir.covers(flow) && active.fault.scope.in_window(since)).then_some(kind)
}

pub(super) fn plan_chunk(
    faults: &ConnFaults,
    flow: Direction,
    arrived: Instant,
    sent: u64,
    rng: &mut Rng,
    announced: &mut Vec<u64>,
) -> ChunkPlan {
    let mut plan = ChunkPlan::default();
    let now = Instant::now();
    for active in faults.snapshot().iter() {
        let Some(kind) = covering(active, flow, now) else { continue };
        let what = match *kind {
            TcpKind::Timeout { .. } | TcpKind::Outage { mode: OutageMode::Hang } => {
                plan.drop = true;
                "data dropped".to_string()
            }
            // A reset that is due (an outage's at once) drops what still
            // flows until the supervisor has reset the connection (and
            // counted it).
            TcpKind::Outage { .. } | TcpKind::ResetPeer { .. } => {
                if let Some((at, true)) = ends_at(active, faults.opened) {
                    plan.drop |= now >= at;
                }
                continue;
            }
            TcpKind::LimitData { bytes } => {
                let left = bytes.saturating_sub(sent);
                plan.limit = Some(plan.limit.map_or(left, |l| l.min(left)));
                format!("close after {bytes} bytes")
            }
            TcpKind::Latency { delay, jitter } => {
                let jitter = jitter.as_secs_f64() * (2.0 * rng.f64() - 1.0);
                let d = Duration::try_from_secs_f64((delay.as_secs_f64() + jitter).max(0.0)).unwrap_or(delay);
                let due = arrived + d;
                plan.due = Some(plan.due.map_or(due, |p| p.max(due)));
                format!("delay {delay:?} per chunk")
            }
            TcpKind::Bandwidth { bytes_per_second } => {
                plan.rate = Some(plan.rate.map_or(bytes_per_second, |r| r.min(bytes_per_second)));
                format!("{bytes_per_second} B/s")
            }
            TcpKind::Slicer { average, variation, delay } => {
                plan.slicer = Some((average, variation, delay));
                format!("slices of {average} B")
            }
            _ => continue,
        };
        if !announced.contains(&active.fault.id) {
            announced.push(active.fault.id);
            faults.applied(active, &what);
        }
    }
    plan
}

pub(super) fn slow_close(faults: &ConnFaults, flow: Direction) -> Option<Duration> {
    let now = Instant::now();
    faults
        .snapshot()
        .iter()
        .filter_map(|a| match covering(a, flow, now) {
            Some(TcpKind::SlowClose { delay }) => {
                faults.applied(a, &format!("close delayed {delay:?}"));
                Some(*delay)
            }
            _ => None,
        })
        .max()
}

/// When a connection-wide fault ends a connection opened at `opened`, and
/// whether by a reset (`true`) or a close: a `timeout` that closes,
/// `reset_peer`, or an outage that resets or refuses (at once).
pub(super) fn ends_at(active: &ActiveFault, opened: Instant) -> Option<(Instant, bool)> {
    let Kind::Tcp(kind, _) = &active.fault.kind else { return None };
    let (wait, reset) = match kind {
        TcpKind::Timeout { close_after: Some(after) } => (*after, false),
        TcpKind::ResetPeer { after } => (*after, true),
        TcpKind::Outage { mode: OutageMode::Reset | OutageMode::Refuse } => (Duration::ZERO, true),
        _ => return None,
    };
    Some(((active.activated + active.fault.scope.after).max(opened) + wait, reset))
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::fault::{Fault, FaultSwitch};

    /// A connection from 127.0.0.1 to a target with one fault, both ways.
    fn connection_with(kind: TcpKind, after: Duration) -> ConnFaults {
        let mut fault = Fault::new(1, "f", Kind::Tcp(kind, Direction::Both));
        fault.scope.after = after;
        ConnFaults::new(Arc::new(FaultSwitch::new("t", 1, vec![fault])), [127, 0, 0, 1].into())
    }

    /// A chunk that queued 100 ms behind a slow writer waits only the rest
    /// of its 250 ms, so that latency does not throttle throughput.
    #[tokio::test(start_paused = true)]
    async fn a_chunk_is_due_its_delay_after_it_arrived_not_after_it_queued() {
        let latency = TcpKind::Latency { delay: Duration::from_millis(250), jitter: Duration::ZERO };
        let faults = connection_with(latency, Duration::ZERO);
        let arrived = Instant::now();
        tokio::time::advance(Duration::from_millis(100)).await;
        let plan = plan_chunk(&faults, Direction::Upstream, arrived, 0, &mut Rng::new(1), &mut Vec::new());
        assert_eq!(plan.due, Some(arrived + Duration::from_millis(250)));
    }

    /// Chunks before the fault's `after` pass undelayed.
    #[tokio::test(start_paused = true)]
    async fn a_latency_fault_delays_chunks_only_from_its_after_on() {
        let latency = TcpKind::Latency { delay: Duration::from_millis(250), jitter: Duration::ZERO };
        let faults = connection_with(latency, Duration::from_secs(1));
        let mut due = Vec::new();
        for wait_ms in [0, 999, 1] {
            tokio::time::advance(Duration::from_millis(wait_ms)).await;
            let now = Instant::now();
            let plan = plan_chunk(&faults, Direction::Downstream, now, 0, &mut Rng::new(1), &mut Vec::new());
            due.push(plan.due.map(|d| d - now));
        }
        assert_eq!(due, [None, None, Some(Duration::from_millis(250))]);
    }
}
