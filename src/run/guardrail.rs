//! Guardrails: conditions evaluated continuously over a sliding window of
//! what the recorder has seen; the first that trips aborts the run.

use crate::experiment::{Guardrail, Metric};
use crate::record::live::Live;

/// A guardrail that tripped, with the value that tripped it.
#[derive(Debug, Clone, PartialEq)]
pub struct Tripped {
    pub guardrail: String,
    pub value: String,
}

/// Checks every guardrail at run second `now_s` against `listener`'s
/// recent traffic.
pub fn check(guardrails: &[Guardrail], live: &Live, listener: &str, now_s: u64) -> Option<Tripped> {
    for g in guardrails {
        let from = now_s.saturating_sub(g.window.as_secs().max(1) - 1);
        let tally = live.window(listener, &g.route, from, now_s);
        if tally.requests < g.min_requests {
            continue;
        }
        let (value, shown) = match g.metric {
            Metric::ErrorRate => {
                let v = tally.error_rate();
                (v, format!("{:.1}%", v * 100.0))
            }
            Metric::UngracefulShare => {
                let ungraceful = tally.by_class.get("ungraceful").copied().unwrap_or(0);
                let graceful = tally.by_class.get("graceful").copied().unwrap_or(0);
                if ungraceful + graceful == 0 {
                    continue;
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
        if value > g.above {
            return Some(Tripped {
                guardrail: g.describe(),
                value: format!("{shown} over {} requests", tally.requests),
            });
        }
    }
    None
}
