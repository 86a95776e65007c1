//! The active faults of a target and the state they carry (counters, token
//! buckets, pool slots), swapped atomically so that traffic never waits.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arc_swap::ArcSwap;
use tokio::sync::{watch, Semaphore};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::info;

use super::kinds::{HttpKind, Kind, OutageMode, TcpKind};
use super::rng::{hash_str, mix};
use super::Fault;
use crate::record::fields;

/// A fault in force, with the state its decisions need.
#[derive(Debug)]
pub struct ActiveFault {
    pub fault: Fault,
    pub activated: Instant,
    /// How often the fault was applied (for `first` and for reports).
    applied: AtomicU64,
    /// How many requests or connections it was eligible for (in its window
    /// and matched), applied or not: a report tells a fault that never met
    /// its traffic from one whose draws all missed.
    eligible: AtomicU64,
    /// Cancelled when the fault is removed: whatever it holds (hung
    /// requests, queued connections, delays) is let go.
    pub ended: CancellationToken,
    bucket: Option<Mutex<Bucket>>,
    /// The slots of a pool-exhaustion fault.
    pub pool: Option<Arc<Semaphore>>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl ActiveFault {
    fn new(fault: Fault, now: Instant) -> Self {
        let bucket = match &fault.kind {
            Kind::Http(HttpKind::RateLimit { burst, .. }) => {
                Some(Mutex::new(Bucket { tokens: f64::from(*burst), at: now }))
            }
            _ => None,
        };
        let pool = match &fault.kind {
            Kind::Http(HttpKind::PoolExhaustion { max, .. }) | Kind::Tcp(TcpKind::PoolExhaustion { max, .. }, _) => {
                Some(Arc::new(Semaphore::new(*max)))
            }
            _ => None,
        };
        ActiveFault {
            fault,
            activated: now,
            applied: AtomicU64::new(0),
            eligible: AtomicU64::new(0),
            ended: CancellationToken::new(),
            bucket,
            pool,
        }
    }

    /// A fault that lives for one request (chosen by its headers): its own
    /// state, and `ended` to release whatever it holds.
    pub fn for_request(fault: Fault, now: Instant, ended: CancellationToken) -> Self {
        let mut active = ActiveFault::new(fault, now);
        active.ended = ended;
        active
    }

    /// The same fault with new parameters (a ramp step): what the old one
    /// holds stays held, since the fault has not been removed.
    fn succeed(fault: Fault, now: Instant, old: &ActiveFault) -> Self {
        let mut next = ActiveFault::new(fault, now);
        next.ended = old.ended.clone();
        next
    }

    /// Counts one application; false once a `first = N` fault has been
    /// applied N times.
    pub fn admit(&self) -> bool {
        match self.fault.scope.first {
            None => {
                self.applied.fetch_add(1, Ordering::Relaxed);
                true
            }
            Some(n) => {
                self.applied.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |c| (c < n).then_some(c + 1)).is_ok()
            }
        }
    }

    /// True once a `first = N` fault has been applied N times: it touches
    /// nothing more. A look, not a count: `admit` still decides.
    pub fn spent(&self) -> bool {
        self.fault.scope.first.is_some_and(|n| self.applied.load(Ordering::Relaxed) >= n)
    }

    pub fn applied(&self) -> u64 {
        self.applied.load(Ordering::Relaxed)
    }

    /// Counts one request or connection the fault was eligible for: one
    /// relaxed add, the whole cost of the count on the data path.
    pub fn count_eligible(&self) {
        self.eligible.fetch_add(1, Ordering::Relaxed);
    }

    pub fn eligible(&self) -> u64 {
        self.eligible.load(Ordering::Relaxed)
    }

    /// True when brownout cannot see what this fault does: an outage that
    /// refuses connections closes the listener, so the refused clients never
    /// reach it and are counted nowhere.
    pub fn uncounted(&self) -> bool {
        refuses(&self.fault.kind)
    }

    /// Takes a token from a rate-limit fault's bucket; when it is empty,
    /// returns how long until the next token.
    pub fn take_token(&self, now: Instant) -> Result<(), Duration> {
        let (Some(bucket), Kind::Http(HttpKind::RateLimit { per_second, burst })) = (&self.bucket, &self.fault.kind)
        else {
            return Ok(());
        };
        let mut b = bucket.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let refill = now.saturating_duration_since(b.at).as_secs_f64() * per_second;
        b.tokens = (b.tokens + refill).min(f64::from(*burst));
        b.at = now;
        if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / per_second))
        }
    }
}

/// The faults of one target at one moment.
#[derive(Debug, Default)]
pub struct TargetPlan {
    pub generation: u64,
    pub faults: Vec<Arc<ActiveFault>>,
}

impl TargetPlan {
    /// True while an outage closes the listener.
    pub fn refuses_connections(&self) -> bool {
        self.faults.iter().any(|f| refuses(&f.fault.kind))
    }
}

/// An outage that refuses connections (the listener closes).
fn refuses(kind: &Kind) -> bool {
    matches!(
        kind,
        Kind::Http(HttpKind::Outage { mode: OutageMode::Refuse })
            | Kind::Tcp(TcpKind::Outage { mode: OutageMode::Refuse }, _)
    )
}

/// The switch through which a target's faults change: one writer at a time
/// swaps in a new plan; the data path loads the current one without locking.
#[derive(Debug)]
pub struct FaultSwitch {
    target: String,
    seed: AtomicU64,
    plan: ArcSwap<TargetPlan>,
    changed: watch::Sender<u64>,
    requests: AtomicU64,
    write: Mutex<()>,
}

impl FaultSwitch {
    pub fn new(target: &str, seed: u64, faults: Vec<Fault>) -> Self {
        let switch = FaultSwitch {
            target: target.to_string(),
            seed: AtomicU64::new(mix(seed, hash_str(target))),
            plan: ArcSwap::from_pointee(TargetPlan::default()),
            changed: watch::channel(0).0,
            requests: AtomicU64::new(0),
            write: Mutex::new(()),
        };
        if !faults.is_empty() {
            switch.set(faults);
        }
        switch
    }

    pub fn target(&self) -> &str {
        &self.target
    }

    /// The plan in force now, as an owned handle (for holding across awaits).
    pub fn load_full(&self) -> Arc<TargetPlan> {
        self.plan.load_full()
    }

    /// The plan in force now.
    pub fn load(&self) -> arc_swap::Guard<Arc<TargetPlan>> {
        self.plan.load()
    }

    /// A fresh seed for the next request or connection: the n-th one at this
    /// target always gets the same seed for the same run seed.
    pub fn next_request_seed(&self) -> u64 {
        mix(self.seed.load(Ordering::Relaxed), self.requests.fetch_add(1, Ordering::Relaxed))
    }

    /// Starts the decisions over from `seed`, as if the target had just
    /// started: a run started on a running proxy repeats with its own seed.
    pub fn reseed(&self, seed: u64) {
        self.seed.store(mix(seed, hash_str(&self.target)), Ordering::Relaxed);
        self.requests.store(0, Ordering::Relaxed);
    }

    /// Notified with the new generation after every change.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Makes `faults` the active set. A fault equal to one already active
    /// keeps its state (counters, buckets, pools); every other old fault
    /// ends, releasing what it held.
    pub fn set(&self, faults: Vec<Fault>) {
        let _writer = self.write.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        let old = self.plan.load_full();
        let now = Instant::now();
        let mut next = Vec::with_capacity(faults.len());
        for fault in faults {
            match old.faults.iter().find(|a| a.fault == fault) {
                Some(kept) => next.push(kept.clone()),
                None => {
                    let successor = old.faults.iter().find(|a| a.fault.id == fault.id);
                    info!(
                        target: fields::RECORD,
                        record = fields::TYPE_FAULT_ON,
                        { fields::TARGET } = %self.target,
                        { fields::FAULT_NAME } = %fault.name,
                        { fields::FAULT_KIND } = fault.kind.name(),
                        { fields::FAULT_CONFIGURED } = %fault.describe(),
                        { fields::FAULT_UNCOUNTED } = refuses(&fault.kind),
                        "fault on"
                    );
                    next.push(Arc::new(match successor {
                        Some(prior) => ActiveFault::succeed(fault, now, prior),
                        None => ActiveFault::new(fault, now),
                    }));
                }
            }
        }
        let generation = old.generation + 1;
        self.plan.store(Arc::new(TargetPlan { generation, faults: next.clone() }));
        for gone in old.faults.iter().filter(|a| !next.iter().any(|n| Arc::ptr_eq(n, a))) {
            info!(
                target: fields::RECORD,
                record = fields::TYPE_FAULT_OFF,
                { fields::TARGET } = %self.target,
                { fields::FAULT_NAME } = %gone.fault.name,
                { fields::FAULT_KIND } = gone.fault.kind.name(),
                { fields::FAULT_COUNT } = gone.applied(),
                { fields::FAULT_ELIGIBLE } = gone.eligible(),
                "fault off"
            );
            // A fault that continues under new parameters shares its token.
            if !next.iter().any(|n| n.fault.id == gone.fault.id) {
                gone.ended.cancel();
            }
        }
        self.changed.send_replace(generation);
    }

    /// Removes every fault: traffic passes untouched from now on.
    pub fn clear(&self) {
        self.set(Vec::new());
    }
}

impl Drop for FaultSwitch {
    /// Fail open: whatever still waits on a fault is released.
    fn drop(&mut self) {
        for f in &self.plan.load().faults {
            f.ended.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The bucket refills on tokio's clock from the plan swap on.
    #[tokio::test(start_paused = true)]
    async fn a_rate_limit_refills_its_bucket_as_tokios_clock_moves() {
        let limit = Fault::new(1, "quota", Kind::Http(HttpKind::RateLimit { per_second: 2.0, burst: 1 }));
        let switch = FaultSwitch::new("t", 1, vec![limit]);
        let active = switch.load_full().faults[0].clone();
        assert_eq!(active.take_token(Instant::now()), Ok(()));
        assert_eq!(active.take_token(Instant::now()), Err(Duration::from_millis(500)));
        tokio::time::advance(Duration::from_millis(499)).await;
        assert!(active.take_token(Instant::now()).is_err(), "a token came early");
        tokio::time::advance(Duration::from_millis(2)).await;
        assert_eq!(active.take_token(Instant::now()), Ok(()));
    }
}
