//! Guardrails: conditions evaluated continuously over a sliding window of
//! what the recorder has seen; the first that trips aborts the run.

use serde::Serialize;

use crate::experiment::{Guardrail, Metric};
use crate::record::journal::Class;
use crate::record::live::Live;

/// Where one guardrail stands at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardState {
    /// The condition, as written: `error_rate > 50% over 5s`.
    pub guardrail: String,
    /// The current value with its unit; `None` while the window holds
    /// fewer requests than the guardrail's minimum (or no failures to share).
    pub value: Option<String>,
    /// Requests in the window.
    pub requests: u64,
    pub tripped: bool,
}

/// Evaluates every guardrail at run second `now_s` against `listener`'s
/// recent traffic.
pub fn evaluate(guardrails: &[Guardrail], live: &Live, listener: &str, now_s: u64) -> Vec<GuardState> {
    guardrails.iter().map(|g| state(g, live, listener, now_s)).collect()
}

fn state(g: &Guardrail, live: &Live, listener: &str, now_s: u64) -> GuardState {
    let from = now_s.saturating_sub(g.window.as_secs().max(1) - 1);
    let tally = live.window(listener, &g.route, from, now_s);
    let mut state = GuardState { guardrail: g.describe(), value: None, requests: tally.requests, tripped: false };
    if tally.requests < g.min_requests {
        return state;
    }
    let (value, shown) = match g.metric {
        Metric::ErrorRate => {
            let v = tally.error_rate();
            (v, format!("{:.1}%", v * 100.0))
        }
        Metric::UngracefulShare => {
            let ungraceful = tally.classed(Class::Ungraceful);
            let graceful = tally.classed(Class::Graceful);
            if ungraceful + graceful == 0 {
                return state;
            }
            let v = ungraceful as f64 / (ungraceful + graceful) as f64;
            (v, format!("{:.1}%", v * 100.0))
        }
        Metric::P50 | Metric::P95 | Metric::P99 => {
            let q = match g.metric {
                Metric::P50 => 0.50,
                Metric::P95 => 0.95,
                _ => 0.99,
            };
            let ms = tally.latency.value_at_quantile(q) as f64 / 1000.0;
            (ms, format!("{ms:.0}ms"))
        }
    };
    state.tripped = value > g.above;
    state.value = Some(format!("{shown} over {} requests", tally.requests));
    state
}
