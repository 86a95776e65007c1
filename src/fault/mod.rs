//! Faults: each kind is data plus a pure, seeded decision; the protocol
//! layers in `proxy` carry the decisions out.
//!
//! `kinds/` holds the kinds (`mod.rs`) and their table (`table.rs`), `matcher.rs` which traffic a
//! fault touches, `latency.rs` the delay distributions, `rng.rs` the seeded
//! generator, `decide.rs` the decision, and `plan.rs` the switch a target
//! reads its active faults from.
//!
//! Deciding does no I/O and reads no clock: time and randomness come in as
//! arguments, so the same seed and the same traffic give the same decisions.
//! The one clock read is a plan swap's (`FaultSwitch::set`): tokio's clock
//! stamps each new fault with when it became active, where its `after` and
//! `lasting` window and a rate limit's bucket start.

mod decide;
pub mod kinds;
pub mod latency;
pub mod matcher;
mod plan;
pub mod rng;

use std::time::Duration;

pub use decide::{decide_http, tcp_applies, Picked, Step};
pub use kinds::{Direction, HttpKind, HttpWhenFull, Kind, LatencyPoint, OutageMode, TcpKind, TcpWhenFull};
pub use latency::Distribution;
pub use matcher::{Fields, Match, RequestFacts};
pub use plan::{ActiveFault, FaultSwitch, TargetPlan};

/// One fault, as configured: what it does and which traffic it touches.
#[derive(Debug, Clone, PartialEq)]
pub struct Fault {
    /// Unique within a target; the seed stream of the fault derives from it,
    /// so its decisions do not change when other faults come and go.
    pub id: u64,
    pub name: String,
    pub kind: Kind,
    pub scope: Scope,
}

/// Which traffic a fault touches, how often and when.
#[derive(Debug, Clone, PartialEq)]
pub struct Scope {
    pub matcher: Match,
    /// Per request (HTTP) or per connection (TCP), in `0..=1`.
    pub probability: f64,
    /// Only the first N requests or connections the fault applies to.
    pub first: Option<u64>,
    /// The fault starts this long after it becomes active...
    pub after: Duration,
    /// ...and stops this long after it started, if set.
    pub lasting: Option<Duration>,
}

impl Default for Scope {
    fn default() -> Self {
        Scope { matcher: Match::default(), probability: 1.0, first: None, after: Duration::ZERO, lasting: None }
    }
}

impl Scope {
    /// True when `since_active` (the time since the fault became active) falls
    /// inside the fault's window.
    pub fn in_window(&self, since_active: Duration) -> bool {
        since_active >= self.after && self.lasting.is_none_or(|l| since_active < self.after + l)
    }

    /// True when the fault has a window (`after` or `lasting`): otherwise
    /// every instant is inside it and a decision needs no clock.
    pub fn windowed(&self) -> bool {
        !self.after.is_zero() || self.lasting.is_some()
    }
}

impl Fault {
    /// One line: `error-503: error status 503 on POST /v1/charges*, 50%, first 10`.
    pub fn describe(&self) -> String {
        let mut text = format!("{}: {}", self.name, self.kind.name());
        let configured = self.kind.describe();
        if !configured.is_empty() {
            text.push(' ');
            text.push_str(&configured);
        }
        let m = self.scope.matcher.describe();
        if !m.is_empty() {
            text.push_str(" on ");
            text.push_str(&m);
        }
        text.push_str(&format!(", {}%", self.scope.probability * 100.0));
        if let Some(n) = self.scope.first {
            text.push_str(&format!(", first {n}"));
        }
        if !self.scope.after.is_zero() {
            text.push_str(&format!(", from {:?}", self.scope.after));
        }
        if let Some(l) = self.scope.lasting {
            text.push_str(&format!(", for {l:?}"));
        }
        text
    }

    pub fn new(id: u64, name: impl Into<String>, kind: Kind) -> Fault {
        Fault { id, name: name.into(), kind, scope: Scope::default() }
    }
}
