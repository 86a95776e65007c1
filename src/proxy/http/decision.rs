//! A request's fault decision, made once before its path is chosen: the
//! faults that picked it (the pure, seeded `decide_http`), and whether any
//! of them needs the injector. A request no fault acts on, or only latency
//! does, stays on the plain pass-through (which waits the delays out
//! itself), so a target's faults cost only the requests they touch, and a
//! delayed request costs its delay and no more.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use crate::fault::{decide_http, ActiveFault, FaultSwitch, Picked, RequestFacts, Step, TargetPlan};

/// The faults picked for one request under the plan in force when it came.
pub struct Decision {
    pub plan: Arc<TargetPlan>,
    pub picks: Vec<Picked>,
    /// What choosing the plain path already took for the request before a
    /// later pick sent it the faulty way after all: the injector must not
    /// take it twice.
    taken: Vec<Taken>,
}

/// A rate limit's token or a pool's slot, by the fault's index in the plan.
enum Taken {
    Token(usize),
    Slot(usize, OwnedSemaphorePermit),
}

/// Where a decided request goes.
pub enum Route {
    /// No fault but latency acts on it: it passes plain.
    Plain(Plain),
    /// Some other fault acts on it: the injector carries the decision out.
    Faulty(Decision),
}

/// What a request on the plain path carries of its faults.
#[derive(Default)]
pub struct Plain {
    /// Slots of pools with room, held until the exchange ends (a pool
    /// counts every request in flight).
    pub held: Vec<OwnedSemaphorePermit>,
    /// Latency to wait out, when some fault delays the request.
    pub delays: Option<Delays>,
}

/// The latency picks of a request on the plain path, each already counted
/// (`admit`), in the injector's order: the waits before the request goes,
/// one after another, then the waits before its response is passed on,
/// added up.
pub struct Delays {
    plan: Arc<TargetPlan>,
    picks: Vec<Picked>,
}

impl Decision {
    /// The picks of `req` under `plan`, decided with the target's next
    /// seed, so the n-th request decided at a target gets the n-th seed,
    /// whichever path then carries it. Most requests get none and need no
    /// `Decision` (nor a count on the plan).
    pub fn picks(switch: &FaultSwitch, plan: &TargetPlan, req: &RequestFacts<'_>) -> Vec<Picked> {
        decide_http(req, &plan.faults, switch.next_request_seed(), Instant::now)
    }

    /// The decision made of `picks`, under the plan they were picked in.
    pub fn new(plan: Arc<TargetPlan>, picks: Vec<Picked>) -> Decision {
        Decision { plan, picks, taken: Vec::new() }
    }

    /// Chooses the path. A pick needs the injector unless its fault's
    /// `first` is spent, it is a rate limit with a token to spare, a pool
    /// with a free slot, or a latency (the plain path waits it out). Rate
    /// limits and pools take their token and slot here. Picks that need the
    /// injector by themselves are looked at first, so that a request they
    /// take the faulty way has taken nothing. A delay and a pool together
    /// go to the injector, which takes the slot only after the request's
    /// delay.
    pub fn route(mut self) -> Route {
        let plan = &self.plan;
        let needs_injector = |p: &Picked| {
            !matches!(p.step, Step::RateLimit | Step::Pool | Step::RequestDelay | Step::ResponseDelay)
                && !plan.faults[p.index].spent()
        };
        let delayed = self.picks.iter().any(|p| matches!(p.step, Step::RequestDelay | Step::ResponseDelay));
        let pooled = self.picks.iter().any(|p| p.step == Step::Pool);
        if self.picks.iter().any(needs_injector) || (delayed && pooled) {
            return Route::Faulty(self);
        }
        // Read once, and only when a rate limit is picked.
        let mut now = None;
        for i in 0..self.picks.len() {
            let Picked { index, step, .. } = self.picks[i];
            let active = &self.plan.faults[index];
            // A spent rate limit or pool holds nobody back any more; a
            // spent pool still counts the requests it lets through.
            let spent = active.spent();
            match step {
                Step::RateLimit if spent => {}
                Step::RateLimit if active.take_token(*now.get_or_insert_with(Instant::now)).is_err() => {
                    return Route::Faulty(self)
                }
                Step::RateLimit => self.taken.push(Taken::Token(index)),
                Step::Pool => match active.pool.clone().map(|pool| pool.try_acquire_owned()) {
                    Some(Ok(slot)) => self.taken.push(Taken::Slot(index, slot)),
                    Some(Err(_)) if !spent => return Route::Faulty(self),
                    _ => {}
                },
                _ => {}
            }
        }
        let mut plain = Plain::default();
        if delayed {
            // Counted as the injector counts them: each latency pick in turn.
            let picks: Vec<Picked> = self
                .picks
                .iter()
                .filter(|p| matches!(p.step, Step::RequestDelay | Step::ResponseDelay))
                .filter(|p| self.plan.faults[p.index].admit())
                .copied()
                .collect();
            if !picks.is_empty() {
                plain.delays = Some(Delays { plan: self.plan.clone(), picks });
            }
        }
        if !self.taken.is_empty() {
            plain.held =
                self.taken.into_iter().filter_map(|t| if let Taken::Slot(_, s) = t { Some(s) } else { None }).collect();
        }
        Route::Plain(plain)
    }

    /// True when choosing the path already took a token of the rate limit
    /// at `index`.
    pub fn took_token(&self, index: usize) -> bool {
        self.taken.iter().any(|t| matches!(t, Taken::Token(i) if *i == index))
    }

    /// The slot choosing the path already took from the pool at `index`.
    pub fn take_slot(&mut self, index: usize) -> Option<OwnedSemaphorePermit> {
        let at = self.taken.iter().position(|t| matches!(t, Taken::Slot(i, _) if *i == index))?;
        match self.taken.swap_remove(at) {
            Taken::Slot(_, slot) => Some(slot),
            Taken::Token(_) => None,
        }
    }
}

impl Delays {
    /// The waits before the request goes: each delay, ended early when its
    /// fault is removed.
    pub fn before(&self) -> impl Iterator<Item = (Duration, &ActiveFault)> {
        self.of(Step::RequestDelay)
    }

    /// The wait before the response is passed on (the delays added up, ended
    /// early when the last of their faults is removed), if any.
    pub fn after(&self) -> Option<(Duration, &ActiveFault)> {
        self.of(Step::ResponseDelay).reduce(|(sum, _), (delay, active)| (sum + delay, active))
    }

    /// The names of the delaying faults, in order, as a record names them.
    pub fn names(&self) -> String {
        let names: Vec<&str> = self.picks.iter().map(|p| self.plan.faults[p.index].fault.name.as_str()).collect();
        names.join(",")
    }

    fn of(&self, step: Step) -> impl Iterator<Item = (Duration, &ActiveFault)> {
        self.picks.iter().filter(move |p| p.step == step).map(|p| (p.delay, &*self.plan.faults[p.index]))
    }
}
