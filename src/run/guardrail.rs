//! Guardrails: conditions evaluated continuously over a sliding window;
//! the first that trips aborts the run.
//!
//! What a guardrail measures, exactly: the requests of the run's user-facing
//! listener (the observer, else the load driver, else the first target)
//! whose route matches the guardrail's, that **ended** within the last
//! `for` (a sliding window, to the millisecond), plus, for a latency
//! metric, every such request **still in flight** that has already waited
//! longer than the threshold, counted at the time it has waited so far. So
//! a stall trips a latency guardrail while it is happening. `min_requests`
//! counts the same requests. Error rates count failures among the ended
//! requests; the ungraceful share counts classed failures among them.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde::Serialize;
use tokio::time::Instant;

use crate::experiment::{Guardrail, Metric};
use crate::record::inflight::{InFlight, Watching};
use crate::record::live::Live;

/// Where one guardrail stands at one moment.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GuardState {
    /// The condition, as written: `error_rate > 50% over 5s`.
    pub guardrail: String,
    /// The current value with its unit; `None` while the window holds
    /// fewer requests than the guardrail's minimum (or no failures to share).
    pub value: Option<String>,
    /// Requests in the window (ended, and in flight past a latency threshold).
    pub requests: u64,
    pub tripped: bool,
}

/// The guardrails of one run, watching one listener from creation until dropped.
pub struct Guards {
    live: Arc<Live>,
    watched: Vec<(Guardrail, usize)>,
    in_flight: Option<Arc<InFlight>>,
    _watching: Option<Watching>,
}

impl Guards {
    /// Starts a window per guardrail over `listener`'s requests, and tracks
    /// its requests in flight (`in_flight`) if any guardrail is on latency.
    pub fn watch(guardrails: &[Guardrail], live: &Arc<Live>, listener: &str, in_flight: Option<Arc<InFlight>>) -> Self {
        let watched = guardrails.iter().map(|g| (g.clone(), live.watch(listener, &g.route, g.window))).collect();
        let in_flight = in_flight.filter(|_| guardrails.iter().any(|g| g.metric.is_latency()));
        let _watching = in_flight.as_ref().map(InFlight::watch);
        Guards { live: live.clone(), watched, in_flight, _watching }
    }

    /// Where every guardrail stands now.
    pub fn evaluate(&self) -> Vec<GuardState> {
        let (now, now_wall) = (Instant::now(), SystemTime::now());
        self.watched.iter().map(|(g, id)| self.state(g, *id, now, now_wall)).collect()
    }

    fn state(&self, g: &Guardrail, id: usize, now: Instant, now_wall: SystemTime) -> GuardState {
        let mut window = self.live.window_at(id, now_wall);
        if g.metric.is_latency() {
            if let Some(in_flight) = &self.in_flight {
                let threshold = Duration::from_secs_f64((g.above / 1000.0).max(0.0));
                for waited in in_flight.waited_over(&g.route, threshold, now) {
                    window.requests += 1;
                    window.latency.add(waited.as_micros() as u64);
                }
            }
        }
        let mut state = GuardState { guardrail: g.describe(), value: None, requests: window.requests, tripped: false };
        if window.requests < g.min_requests || window.requests == 0 {
            return state;
        }
        let (value, shown) = match g.metric {
            Metric::ErrorRate => {
                let v = window.failed as f64 / window.requests as f64;
                (v, format!("{:.1}%", v * 100.0))
            }
            Metric::UngracefulShare => {
                let classed = window.graceful + window.ungraceful;
                if classed == 0 {
                    return state;
                }
                let v = window.ungraceful as f64 / classed as f64;
                (v, format!("{:.1}%", v * 100.0))
            }
            Metric::P50 | Metric::P95 | Metric::P99 => {
                let q = match g.metric {
                    Metric::P50 => 0.50,
                    Metric::P95 => 0.95,
                    _ => 0.99,
                };
                let ms = window.latency.quantile_ms(q).unwrap_or(0.0);
                (ms, format!("{ms:.0}ms"))
            }
        };
        state.tripped = value > g.above;
        state.value = Some(format!("{shown} over {} requests", window.requests));
        state
    }
}

impl Drop for Guards {
    fn drop(&mut self) {
        for (_, id) in &self.watched {
            self.live.unwatch(*id);
        }
    }
}
