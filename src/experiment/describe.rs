//! What brownout understood of an experiment, timeline first: printed by
//! `brownout check`.

use super::{Experiment, Timeline};

impl Experiment {
    /// The title and seed, the timeline, the hypothesis, the guardrails, the
    /// load and schedule, then the config's own lines.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!("title     {}", self.title), format!("seed      {}", self.seed)];
        lines.extend(Timeline::new(self).describe(self));
        for slo in &self.hypothesis.slos {
            let phase = slo.phase.as_deref().unwrap_or("every phase");
            let mut parts = Vec::new();
            if let Some(a) = slo.availability {
                parts.push(format!("availability >= {}%", a * 100.0));
            }
            if let Some(e) = slo.error_rate {
                parts.push(format!("error rate <= {}%", e * 100.0));
            }
            for (n, v) in [("p50", slo.p50_ms), ("p95", slo.p95_ms), ("p99", slo.p99_ms)] {
                if let Some(v) = v {
                    parts.push(format!("{n} <= {v}ms"));
                }
            }
            lines.push(format!("slo       {} in {phase}: {}", slo.route, parts.join(", ")));
        }
        for g in &self.hypothesis.graceful {
            lines.push(format!("graceful  {}: at least {}% of failures graceful", g.route, g.at_least * 100.0));
        }
        for g in &self.guardrails {
            lines.push(format!("guardrail abort if {}", g.describe()));
        }
        if let Some(load) = &self.load {
            lines.push(format!(
                "load      {} req/s{} to {}, {} request kinds, at most {} in flight",
                load.rate,
                load.ramp_to.map_or(String::new(), |r| format!(" ramped to {r}")),
                load.target,
                load.requests.len(),
                load.concurrency
            ));
        }
        if let Some(s) = &self.schedule {
            lines.push(format!("schedule  {} ({})", s.cron, s.timezone));
        }
        lines.push(format!("stops after at most {:?}", self.max_duration));
        lines.extend(self.config.describe());
        lines
    }
}
