//! The experiment part of the HTML report: the verdict with every check,
//! the phases, and the steady state before against after.

use super::{esc, fmt_ms, fmt_pct};
use crate::report::model::{PhaseStats, Report, Stats};
use crate::report::verdict::Status;

/// Writes the verdict, phases and steady state, if the run was an experiment.
pub fn section(out: &mut String, r: &Report) {
    if let Some(v) = &r.verdict {
        let class = match v.status {
            Status::Held => "ok",
            Status::Deviated => "bad",
            Status::Aborted | Status::Interrupted | Status::Failed | Status::Unfinished => "warn",
        };
        let failed = v.checks.iter().filter(|c| !c.passed).count();
        out.push_str("<section id=\"verdict\">\n<h2>Verdict</h2>\n");
        out.push_str(&format!(
            "<p class=\"verdict verdict-{class}\"><strong>{}</strong>: {} checks, {failed} failed.</p>\n",
            v.status,
            v.checks.len()
        ));
        if let Some(a) = &v.abort {
            out.push_str(&format!(
                "<p class=\"verdict verdict-warn\">Aborted at {:.1} s by guardrail <code>{}</code>: {}.</p>\n",
                a.at_s,
                esc(&a.guardrail),
                esc(&a.value)
            ));
        }
        if !v.checks.is_empty() {
            out.push_str("<div class=\"table-wrap\">\n<table class=\"data\" id=\"checks\">\n<thead><tr><th>Check</th><th>Phase</th><th>Expected</th><th>Measured</th><th>Result</th></tr></thead>\n<tbody>\n");
            for c in &v.checks {
                let (mark, cls) = if c.passed { ("passed", "ok") } else { ("failed", "bad") };
                out.push_str(&format!(
                    "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"{cls}\"><strong>{mark}</strong></td></tr>\n",
                    esc(&c.check),
                    esc(&c.phase),
                    esc(&c.expected),
                    esc(&c.actual)
                ));
            }
            out.push_str("</tbody>\n</table>\n</div>\n");
        }
        out.push_str("</section>\n");
    }
    if !r.phases.is_empty() {
        out.push_str("<section id=\"phases\">\n<h2>Phases</h2>\n<div class=\"table-wrap\">\n<table class=\"data\">\n<thead><tr><th>Phase</th><th class=\"num\">From (s)</th><th class=\"num\">To (s)</th><th class=\"num\">Faults</th><th class=\"num\">Requests</th><th class=\"num\">Availability</th><th class=\"num\">p99</th><th class=\"num\">Graceful</th><th class=\"num\">Ungraceful</th></tr></thead>\n<tbody>\n");
        for p in &r.phases {
            phase_row(out, p);
        }
        out.push_str("</tbody>\n</table>\n</div>\n");
        if let Some(s) = &r.steady_state {
            out.push_str(&format!(
                "<p>Steady state: <strong>{}</strong> before ({}) against <strong>{}</strong> after ({}).</p>\n",
                esc(&s.before_phase),
                summary(&s.before),
                esc(&s.after_phase),
                summary(&s.after)
            ));
        }
        out.push_str("</section>\n");
    }
}

fn phase_row(out: &mut String, p: &PhaseStats) {
    let s = &p.stats;
    out.push_str(&format!(
        "<tr><td>{}</td><td class=\"num\">{:.1}</td><td class=\"num\">{:.1}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td></tr>\n",
        esc(&p.name),
        p.start_s,
        p.end_s,
        p.faults,
        s.requests,
        fmt_pct(s.availability),
        fmt_ms(s.p99_ms),
        s.graceful,
        s.ungraceful
    ));
}

fn summary(s: &Stats) -> String {
    format!("{} available, p99 {}", fmt_pct(s.availability), fmt_ms(s.p99_ms))
}
