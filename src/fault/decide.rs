//! The pure decision: a request (or connection), the active faults, a seed
//! and the time give the faults to apply, with their sampled values.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::kinds::{HttpKind, Kind, LatencyPoint};
use super::matcher::RequestFacts;
use super::plan::ActiveFault;
use super::rng::{mix, Rng};

/// Where in the life of a request a picked fault acts, in the order the
/// steps are taken. The first picked fault of the stopping steps (outage to
/// hang) ends the request; the rest stack. A gRPC error is an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Step {
    /// Drains the client connection once this request is answered; never stops it.
    GoAway,
    Outage,
    RateLimit,
    Error,
    Reset,
    Hang,
    RequestDelay,
    Pool,
    ResponseDelay,
    Bandwidth,
    Truncate,
}

/// A fault picked for one request, with the delay it sampled (latency only).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Picked {
    pub index: usize,
    pub step: Step,
    pub delay: Duration,
}

/// Picks the faults that apply to `req`, ordered by step (and by position
/// among faults of one step). `seed` is the request's own seed; each fault
/// draws from a stream of `seed` and its id. Each fault whose window and
/// match admit the request counts it as eligible; nothing decided reads
/// that count. `clock` gives the time, read once and only when some fault
/// has a window (`after`, `lasting`).
pub fn decide_http(
    req: &RequestFacts<'_>,
    faults: &[Arc<ActiveFault>],
    seed: u64,
    clock: impl Fn() -> Instant,
) -> Vec<Picked> {
    let mut picked = Vec::new();
    let mut now = None;
    for (index, active) in faults.iter().enumerate() {
        let fault = &active.fault;
        let Kind::Http(kind) = &fault.kind else {
            continue;
        };
        let scope = &fault.scope;
        if scope.windowed() {
            let now = *now.get_or_insert_with(&clock);
            if !scope.in_window(now.saturating_duration_since(active.activated)) {
                continue;
            }
        }
        if !scope.matcher.matches(req) {
            continue;
        }
        // The decision's one side effect: a count for the report, which no
        // decision reads.
        active.count_eligible();
        let mut rng = Rng::new(mix(seed, fault.id));
        if scope.probability < 1.0 && rng.f64() >= scope.probability {
            continue;
        }
        let mut pick = |step, delay| picked.push(Picked { index, step, delay });
        match kind {
            HttpKind::Latency { delay, at } => {
                if matches!(at, LatencyPoint::Request | LatencyPoint::Both) {
                    pick(Step::RequestDelay, delay.sample(&mut rng));
                }
                if matches!(at, LatencyPoint::Response | LatencyPoint::Both) {
                    pick(Step::ResponseDelay, delay.sample(&mut rng));
                }
            }
            HttpKind::Outage { .. } => pick(Step::Outage, Duration::ZERO),
            HttpKind::RateLimit { .. } => pick(Step::RateLimit, Duration::ZERO),
            HttpKind::Error { .. } | HttpKind::GrpcError { .. } => pick(Step::Error, Duration::ZERO),
            HttpKind::Reset { .. } => pick(Step::Reset, Duration::ZERO),
            HttpKind::GoAway => pick(Step::GoAway, Duration::ZERO),
            HttpKind::Hang => pick(Step::Hang, Duration::ZERO),
            HttpKind::PoolExhaustion { .. } => pick(Step::Pool, Duration::ZERO),
            HttpKind::Bandwidth { .. } => pick(Step::Bandwidth, Duration::ZERO),
            HttpKind::Truncate { .. } => pick(Step::Truncate, Duration::ZERO),
        }
    }
    // A stable sort keeps the order of the faults within a step.
    picked.sort_by_key(|p| p.step);
    picked
}

/// True when a TCP fault applies to a connection from `client` with the
/// connection's seed: the client matches and the per-connection draw falls
/// under the probability. The time window is checked per chunk by the caller.
pub fn tcp_applies(active: &ActiveFault, client: IpAddr, conn_seed: u64) -> bool {
    let fault = &active.fault;
    if !matches!(fault.kind, Kind::Tcp(..)) || !fault.scope.matcher.matches_client(client) {
        return false;
    }
    active.count_eligible();
    fault.scope.probability >= 1.0 || Rng::new(mix(conn_seed, fault.id)).f64() < fault.scope.probability
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fault::latency::Distribution;
    use crate::fault::matcher::Fields;
    use crate::fault::{Fault, FaultSwitch};
    use http::{HeaderMap, Method, StatusCode};

    fn error_fault(id: u64, p: f64) -> Fault {
        let mut f = Fault::new(
            id,
            format!("e{id}"),
            Kind::Http(HttpKind::Error { status: StatusCode::SERVICE_UNAVAILABLE, headers: vec![], body: "x".into() }),
        );
        f.scope.probability = p;
        f
    }

    /// `GET /` from 127.0.0.1.
    fn get_root(headers: &HeaderMap) -> RequestFacts<'_> {
        RequestFacts {
            method: &Method::GET,
            path: "/",
            query: None,
            headers: Fields::Map(headers),
            client: "127.0.0.1".parse().unwrap(),
        }
    }

    fn run(switch: &FaultSwitch, n: u64) -> Vec<bool> {
        let headers = HeaderMap::new();
        let req = get_root(&headers);
        let plan = switch.load();
        let now = Instant::now();
        (0..n).map(|_| !decide_http(&req, &plan.faults, switch.next_request_seed(), || now).is_empty()).collect()
    }

    #[test]
    fn a_probability_holds_over_ten_thousand_seeded_decisions() {
        let switch = FaultSwitch::new("t", 7, vec![error_fault(1, 0.3)]);
        let hits = run(&switch, 10_000).iter().filter(|h| **h).count();
        let share = hits as f64 / 10_000.0;
        assert!((0.28..=0.32).contains(&share), "{share}");
    }

    #[test]
    fn the_same_seed_makes_the_same_decisions_and_another_seed_does_not() {
        let a = run(&FaultSwitch::new("t", 7, vec![error_fault(1, 0.5)]), 1000);
        let b = run(&FaultSwitch::new("t", 7, vec![error_fault(1, 0.5)]), 1000);
        let c = run(&FaultSwitch::new("t", 8, vec![error_fault(1, 0.5)]), 1000);
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn adding_a_fault_does_not_change_another_faults_decisions() {
        let alone = FaultSwitch::new("t", 7, vec![error_fault(1, 0.5)]);
        let both = FaultSwitch::new("t", 7, vec![error_fault(2, 0.5), error_fault(1, 0.5)]);
        let headers = HeaderMap::new();
        let req = get_root(&headers);
        let now = Instant::now();
        for _ in 0..500 {
            let (pa, pb) = (alone.load(), both.load());
            let da = decide_http(&req, &pa.faults, alone.next_request_seed(), || now);
            let db = decide_http(&req, &pb.faults, both.next_request_seed(), || now);
            let hit_a = !da.is_empty();
            let hit_b = db.iter().any(|p| pb.faults[p.index].fault.id == 1);
            assert_eq!(hit_a, hit_b);
        }
    }

    #[test]
    fn steps_come_out_in_their_defined_order() {
        let latency = Fault::new(
            1,
            "slow",
            Kind::Http(HttpKind::Latency {
                delay: Distribution::Fixed(Duration::from_millis(5)),
                at: LatencyPoint::Both,
            }),
        );
        let truncate = Fault::new(2, "cut", Kind::Http(HttpKind::Truncate { after_bytes: 10 }));
        let error = error_fault(3, 1.0);
        let switch = FaultSwitch::new("t", 1, vec![truncate, latency, error]);
        let headers = HeaderMap::new();
        let req = get_root(&headers);
        let plan = switch.load();
        let steps: Vec<Step> = decide_http(&req, &plan.faults, 1, Instant::now).iter().map(|p| p.step).collect();
        assert_eq!(steps, [Step::Error, Step::RequestDelay, Step::ResponseDelay, Step::Truncate]);
    }

    #[test]
    fn a_fault_outside_its_window_is_not_picked() {
        let mut f = error_fault(1, 1.0);
        f.scope.after = Duration::from_secs(10);
        f.scope.lasting = Some(Duration::from_secs(5));
        let switch = FaultSwitch::new("t", 1, vec![f]);
        let plan = switch.load();
        let at = plan.faults[0].activated;
        let headers = HeaderMap::new();
        let req = get_root(&headers);
        let picks = |secs| decide_http(&req, &plan.faults, 1, || at + Duration::from_secs(secs)).len();
        assert_eq!((picks(5), picks(10), picks(14), picks(15)), (0, 1, 1, 0));
    }

    /// The clock is read once for a request, and only when some fault has a
    /// window: a target of faults without one decides without the time.
    #[test]
    fn the_clock_is_read_once_and_only_for_a_fault_with_a_window() {
        let reads = std::cell::Cell::new(0);
        let clock = || {
            reads.set(reads.get() + 1);
            Instant::now()
        };
        let headers = HeaderMap::new();
        let req = get_root(&headers);
        let plain = FaultSwitch::new("t", 1, vec![error_fault(1, 1.0), error_fault(2, 0.5)]);
        assert!(!decide_http(&req, &plain.load().faults, 1, clock).is_empty());
        assert_eq!(reads.get(), 0);
        let mut after = error_fault(3, 1.0);
        after.scope.after = Duration::from_millis(1);
        let mut lasting = error_fault(4, 1.0);
        lasting.scope.lasting = Some(Duration::from_secs(60));
        let windowed = FaultSwitch::new("t", 1, vec![error_fault(1, 1.0), after, lasting]);
        decide_http(&req, &windowed.load().faults, 1, clock);
        assert_eq!(reads.get(), 1);
    }

    /// The window counts from the plan swap on tokio's clock, however long
    /// the clock ran before it.
    #[tokio::test(start_paused = true)]
    async fn a_fault_acts_from_its_after_until_its_lasting_ends_on_tokios_clock() {
        tokio::time::advance(Duration::from_secs(3600)).await;
        let mut f = error_fault(1, 1.0);
        f.scope.after = Duration::from_secs(10);
        f.scope.lasting = Some(Duration::from_secs(5));
        let switch = FaultSwitch::new("t", 1, vec![f]);
        let headers = HeaderMap::new();
        let req = get_root(&headers);
        let mut picked = Vec::new();
        for wait_ms in [0, 9_999, 1, 4_999, 1] {
            tokio::time::advance(Duration::from_millis(wait_ms)).await;
            picked.push(decide_http(&req, &switch.load().faults, 1, Instant::now).len());
        }
        assert_eq!(picked, [0, 0, 1, 1, 0]);
    }
}
