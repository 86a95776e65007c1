//! What brownout understood of an experiment, every key of it, timeline
//! first: printed by `brownout check`.

use super::{Experiment, Timeline};
use crate::record::classify::GracefulRules;
use crate::record::journal::GracefulCheck;

impl Experiment {
    /// The title and who owns it, the seed, the timeline, the hypothesis
    /// (each objective and graceful rule with every key it sets), the
    /// guardrails, the load and schedule, then the config's own lines.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = vec![format!("title     {}", self.title)];
        if let Some(d) = &self.description {
            lines.push(format!("about     {d}"));
        }
        if let Some(o) = &self.owner {
            lines.push(format!("owner     {o}"));
        }
        if !self.tags.is_empty() {
            lines.push(format!("tags      {}", self.tags.join(", ")));
        }
        lines.push(format!("seed      {}", self.seed));
        lines.extend(Timeline::new(self).describe(self));
        lines.extend(self.describe_standards());
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
            match &slo.standard {
                None => lines.push(format!("slo       {} in {phase}: {}", slo.route, parts.join(", "))),
                Some(s) => lines.push(format!("standard  {s}: {} in {phase}: {}", slo.route, parts.join(", "))),
            }
        }
        // The experiment's graceful rules and their classification rules come
        // in the same order; the standards' graceful shares follow.
        for (i, g) in self.hypothesis.graceful.iter().enumerate() {
            match &g.standard {
                None => lines.push(graceful_line(g, self.graceful.by_route.get(i).map(|(_, r)| r.as_ref()))),
                Some(s) => lines.push(format!(
                    "standard  {s}: {} in every phase: at least {}% of failures graceful",
                    g.route,
                    g.at_least * 100.0
                )),
            }
        }
        lines.push(format!(
            "unchecked {}: a journey that degrades with no rule covering it is {}",
            self.hypothesis.unchecked.as_str(),
            match self.hypothesis.unchecked {
                crate::record::journal::UncheckedPolicy::Warn => "listed under the verdict",
                crate::record::journal::UncheckedPolicy::Fail => "listed, and the run deviates",
            }
        ));
        for g in &self.guardrails {
            lines.push(format!("guardrail abort if {}, once at least {} requests", g.describe(), g.min_requests));
        }
        if let Some(load) = &self.load {
            lines.push(format!(
                "load      {} req/s{} to {}, at most {} in flight, each given {:?}",
                load.rate,
                load.ramp_to.map_or(String::new(), |r| format!(" ramped to {r}")),
                load.target,
                load.concurrency,
                load.timeout
            ));
            for s in &load.spikes {
                lines.push(format!("  spike   x{} from {:?} for {:?}", s.factor, s.at, s.lasting));
            }
            for r in &load.requests {
                let mut what = format!("  request {} {} weight {}", r.method, r.path, r.weight);
                if !r.headers.is_empty() {
                    let names: Vec<&str> = r.headers.iter().map(|(n, _)| n.as_str()).collect();
                    what.push_str(&format!(", headers {}", names.join(", ")));
                }
                if !r.body.is_empty() {
                    what.push_str(&format!(", body of {} bytes", r.body.len()));
                }
                lines.push(what);
            }
        }
        if let Some(s) = &self.schedule {
            lines.push(format!("schedule  {} ({})", s.cron, s.timezone));
        }
        lines.push(format!("stops after at most {:?}", self.max_duration));
        lines.extend(self.config.describe());
        lines
    }
}

impl Experiment {
    /// Which standards apply, the service, and what a graceful failure is everywhere.
    fn describe_standards(&self) -> Vec<String> {
        let Some(st) = &self.standards else {
            let service = self.service.as_ref().map_or_else(String::new, |s| format!(" (service {s})"));
            return vec![format!(
                "standards none found{service}: no {} beside the experiment or its config, and {} unset",
                crate::standards::FILE_NAME,
                crate::standards::ENV
            )];
        };
        let mut lines = vec![match &self.service {
            Some(s) => format!("standards {} ({}), service {s}", st.file, &st.sha256[..12.min(st.sha256.len())]),
            None => format!("standards {}: the experiment names no service, so its routes have no tier", st.file),
        }];
        if st.graceful.is_some() {
            let words = crate::standards::graceful_words(st).join(", ");
            lines.push(format!("graceful  every route, from the standards: {words}"));
        }
        lines
    }
}

/// `graceful  POST /checkout in every phase: at least 100% of failures
/// graceful: status 503, body contains "try again", header retry-after, within 1s`.
fn graceful_line(g: &GracefulCheck, rules: Option<&GracefulRules>) -> String {
    let phase = g.phase.as_deref().unwrap_or("every phase");
    let mut line = format!("graceful  {} in {phase}: at least {}% of failures graceful", g.route, g.at_least * 100.0);
    if let Some(r) = rules {
        let statuses: Vec<String> = r.statuses.iter().map(u16::to_string).collect();
        line.push_str(&format!(": status {}", statuses.join(" or ")));
        for b in &r.body_contains {
            line.push_str(&format!(", body contains {b:?}"));
        }
        for m in &r.body_matches {
            line.push_str(&format!(", body matches {:?}", m.as_str()));
        }
        for h in &r.headers {
            line.push_str(&format!(", header {h}"));
        }
        line.push_str(&format!(", within {:?}", r.within));
    }
    line
}
