//! A request's fault decision, made once before its path is chosen: the
//! faults that picked it (the pure, seeded `decide_http`), and whether any
//! of them acts on it. A request no fault acts on stays on the plain
//! pass-through, so a target's faults cost only the requests they touch.

use std::sync::Arc;

use tokio::sync::OwnedSemaphorePermit;
use tokio::time::Instant;

use crate::fault::{decide_http, FaultSwitch, Picked, RequestFacts, Step, TargetPlan};

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
    /// No fault acts on it: it passes plain, holding these pool slots until
    /// its exchange ends (a pool counts every request in flight).
    Plain(Vec<OwnedSemaphorePermit>),
    /// Some fault acts on it: the injector carries the decision out.
    Faulty(Decision),
}

impl Decision {
    /// Decides `req` against `plan` with the target's next seed, so the n-th
    /// request decided at a target gets the n-th seed, whichever path then
    /// carries it.
    pub fn new(switch: &FaultSwitch, plan: Arc<TargetPlan>, req: &RequestFacts<'_>) -> Decision {
        let picks = decide_http(req, &plan.faults, switch.next_request_seed(), Instant::now());
        Decision { plan, picks, taken: Vec::new() }
    }

    /// Chooses the path. A pick acts on the request unless its fault's
    /// `first` is spent, it is a rate limit with a token to spare, or it is
    /// a pool with a free slot: those take their token and slot here and
    /// leave the request plain. Picks that act by themselves are looked at
    /// first, so that a request they take the faulty way has taken nothing.
    pub fn route(mut self) -> Route {
        let acts_alone =
            |p: &Picked| !matches!(p.step, Step::RateLimit | Step::Pool) && !self.plan.faults[p.index].spent();
        if self.picks.iter().any(acts_alone) {
            return Route::Faulty(self);
        }
        let now = Instant::now();
        for i in 0..self.picks.len() {
            let Picked { index, step, .. } = self.picks[i];
            let active = &self.plan.faults[index];
            // A spent rate limit or pool holds nobody back any more; a
            // spent pool still counts the requests it lets through.
            let spent = active.spent();
            match step {
                Step::RateLimit if spent => {}
                Step::RateLimit if active.take_token(now).is_err() => return Route::Faulty(self),
                Step::RateLimit => self.taken.push(Taken::Token(index)),
                Step::Pool => match active.pool.clone().map(|pool| pool.try_acquire_owned()) {
                    Some(Ok(slot)) => self.taken.push(Taken::Slot(index, slot)),
                    Some(Err(_)) if !spent => return Route::Faulty(self),
                    _ => {}
                },
                _ => {}
            }
        }
        let slots = self.taken.into_iter().filter_map(|t| if let Taken::Slot(_, s) = t { Some(s) } else { None });
        Route::Plain(slots.collect())
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
