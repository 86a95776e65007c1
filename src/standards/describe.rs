//! What brownout understood of a standards file, every key of it: printed
//! by `brownout check`.

use super::{Objectives, Standards};

impl Standards {
    /// Each tier, interaction class, the graceful rules and each service's routes.
    pub fn describe(&self) -> Vec<String> {
        let mut lines = Vec::new();
        for t in &self.tiers {
            let mut parts = objectives(&t.objectives);
            if let Some(g) = &t.graceful {
                parts.push(format!("at least {}% of failures graceful", g.value * 100.0));
            }
            let when = if t.during_faults { "in every phase" } else { "availability in phases without faults" };
            lines.push(format!("tier      {}: {} ({when})", t.name, parts.join(", ")));
        }
        for i in &self.interactions {
            lines.push(format!("interaction {}: {} (in every phase)", i.name, objectives(&i.objectives).join(", ")));
        }
        if self.graceful.is_some() {
            lines.push(format!("graceful  a graceful failure everywhere: {}", graceful_words(self).join(", ")));
        }
        for s in &self.services {
            lines.push(format!("service   {}: {} routes", s.name, s.routes.len()));
            for r in &s.routes {
                lines.push(format!("  route   {}: {}", r.route, r.describe()));
            }
        }
        lines
    }
}

/// `availability >= 99.9%, p99 <= 800ms`.
fn objectives(o: &Objectives) -> Vec<String> {
    let mut parts = Vec::new();
    if let Some(a) = &o.availability {
        parts.push(format!("availability >= {}%", a.value * 100.0));
    }
    if let Some(e) = &o.error_rate {
        parts.push(format!("error rate <= {}%", e.value * 100.0));
    }
    for (name, v) in o.latencies() {
        if let Some(v) = v {
            parts.push(format!("{name} <= {}ms", v.value));
        }
    }
    parts
}

/// `status 429 or 503, within 3s, header retry-after, body contains one of "try again"`.
pub fn graceful_words(s: &Standards) -> Vec<String> {
    let Some(g) = &s.graceful else { return Vec::new() };
    let mut parts = Vec::new();
    if let Some(st) = &g.statuses {
        let codes: Vec<String> = st.value.iter().map(u16::to_string).collect();
        parts.push(format!("status {}", codes.join(" or ")));
    }
    if let Some(c) = &g.grpc_codes {
        let names: Vec<String> = c.value.iter().map(|c| crate::grpc::code_name(*c)).collect();
        parts.push(format!("grpc-status {}", names.join(" or ")));
    }
    if let Some(w) = &g.within {
        parts.push(format!("within {:?}", w.value));
    }
    for h in &g.required_headers {
        parts.push(format!("header {h}"));
    }
    if !g.body_contains.is_empty() {
        let words: Vec<String> = g.body_contains.iter().map(|w| format!("{w:?}")).collect();
        parts.push(format!("body contains one of {}", words.join(", ")));
    }
    if !g.body_excludes.is_empty() {
        let words: Vec<String> = g.body_excludes.iter().map(|w| format!("{w:?}")).collect();
        parts.push(format!("body contains none of {}", words.join(", ")));
    }
    parts
}
