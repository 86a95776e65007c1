//! The experiment part of the HTML report: the verdict (why a run proves
//! nothing, what no rule covered, the checks that measured something and,
//! folded, those that had nothing to judge, each with its source), the
//! standards (each route's class, the unclassified ones), the phases, and
//! the steady state before against after.

use super::{esc, fmt_ms, fmt_pct};
use crate::report::model::{PhaseStats, Report, Stats};
use crate::report::standards::StandardsReport;
use crate::report::verdict::{CheckResult, Status, Unchecked, Verdict};
use crate::report::words::{count, standards_sentence, verdict_summary};

/// Writes the verdict, phases and steady state, if the run was an experiment.
pub fn section(out: &mut String, r: &Report) {
    if let Some(v) = &r.verdict {
        verdict(out, v);
    }
    if let Some(s) = &r.standards {
        standards(out, s);
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

fn verdict(out: &mut String, v: &Verdict) {
    let class = match v.status {
        Status::Held => "ok",
        Status::Deviated => "bad",
        Status::Inconclusive | Status::Aborted | Status::Interrupted | Status::Failed | Status::Unfinished => "warn",
    };
    out.push_str("<section id=\"verdict\">\n<h2>Verdict</h2>\n");
    let summary = verdict_summary(v);
    let rest = summary.split_once(": ").map_or("", |(_, rest)| rest);
    out.push_str(&format!("<p class=\"verdict verdict-{class}\"><strong>{}</strong>: {}.</p>\n", v.status, esc(rest)));
    if let Some(a) = &v.abort {
        out.push_str(&format!(
            "<p class=\"verdict verdict-warn\">Aborted at {:.1} s by guardrail <code>{}</code>: {}.</p>\n",
            a.at_s,
            esc(&a.guardrail),
            esc(&a.value)
        ));
    }
    if !v.inconclusive.is_empty() {
        out.push_str("<h3>Why this run proves nothing</h3>\n<ul class=\"reasons\" id=\"inconclusive\">\n");
        for i in &v.inconclusive {
            out.push_str(&format!("<li>{}</li>\n", esc(&i.reason)));
        }
        out.push_str("</ul>\n");
    }
    if !v.unchecked.is_empty() {
        unchecked(out, &v.unchecked);
    }
    let measured: Vec<&CheckResult> = v.measured().collect();
    if !measured.is_empty() {
        out.push_str("<h3>Checks that measured something</h3>\n");
        checks_table(out, "checks", &measured);
    }
    let vacuous: Vec<&CheckResult> = v.vacuous().collect();
    if !vacuous.is_empty() {
        out.push_str(&format!(
            "<details class=\"folded\"><summary>{} with nothing to judge (no failures in the phase)</summary>\n",
            esc(&count(vacuous.len() as u64, ("check passed", "checks passed")))
        ));
        checks_table(out, "checks-vacuous", &vacuous);
        out.push_str("</details>\n");
    }
    out.push_str("</section>\n");
}

fn unchecked(out: &mut String, list: &[Unchecked]) {
    out.push_str(
        "<h3>Unchecked degradations</h3>\n<p class=\"caption\">User journeys that failed or slowed with no \
                  rule of the hypothesis covering them: add a graceful rule or an objective for each.</p>\n",
    );
    out.push_str("<div class=\"table-wrap\">\n<table class=\"data\" id=\"unchecked\">\n<thead><tr><th>Route</th>\
                  <th>Phase</th><th>What no rule covers</th><th class=\"num\">Requests</th><th>A response users got</th>\
                  </tr></thead>\n<tbody>\n");
    for u in list {
        let sample = u.sample.as_ref().map_or_else(String::new, |s| {
            let what = s.status.map_or_else(|| s.error.clone().unwrap_or_default(), |c| c.to_string());
            let first = crate::report::words::gist(&s.body);
            let excerpt: String = first.chars().take(160).collect();
            format!("<code>{}</code> {}", esc(&what), esc(&excerpt))
        });
        out.push_str(&format!(
            "<tr><td class=\"route\">{}</td><td>{}</td><td class=\"bad\">{}</td><td class=\"num\">{}</td>\
             <td class=\"excerpt\">{sample}</td></tr>\n",
            esc(&u.route),
            esc(&u.phase),
            esc(&u.why.join("; ")),
            u.requests
        ));
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// The checks, the result first so that it stays in sight on a narrow screen.
fn checks_table(out: &mut String, id: &str, checks: &[&CheckResult]) {
    out.push_str(&format!(
        "<div class=\"table-wrap\">\n<table class=\"data\" id=\"{id}\">\n<thead><tr><th>Result</th><th>Check</th>\
         <th>Phase</th><th>Expected</th><th>Measured</th><th>Source</th></tr></thead>\n<tbody>\n"
    ));
    for c in checks {
        let (mark, cls) = if c.passed { ("passed", "ok") } else { ("failed", "bad") };
        let source = match &c.standard {
            Some(s) => format!("<span class=\"pill standard\">standard {}</span>", esc(s)),
            None => "<span class=\"pill\">experiment</span>".to_string(),
        };
        out.push_str(&format!(
            "<tr><td class=\"{cls}\"><strong>{mark}</strong></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{source}</td></tr>\n",
            esc(&c.check),
            esc(&c.phase),
            esc(&c.expected),
            esc(&c.actual)
        ));
    }
    out.push_str("</tbody>\n</table>\n</div>\n");
}

/// The standards the run was held to, each route's class, and the
/// unclassified routes, named so that their absence shows.
fn standards(out: &mut String, s: &StandardsReport) {
    out.push_str("<section id=\"standards\">\n<h2>Standards</h2>\n");
    out.push_str(&format!("<p class=\"lede\">{}</p>\n", esc(&standards_sentence(s))));
    if !s.routes.is_empty() {
        out.push_str(
            "<div class=\"table-wrap\">\n<table class=\"data\" id=\"classes\">\n<thead><tr><th>Route</th>\
             <th class=\"num\">Requests</th><th>Tier</th><th>Interaction</th><th>Classified by</th></tr></thead>\n<tbody>\n",
        );
        for r in &s.routes {
            let name = |v: &Option<String>| v.as_deref().map_or_else(|| "\u{2013}".to_string(), esc);
            let by = match &r.pattern {
                Some(p) => format!("<code>{}</code>", esc(p)),
                None => "<span class=\"bad\">unclassified</span>".to_string(),
            };
            out.push_str(&format!(
                "<tr><td class=\"route\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{by}</td></tr>\n",
                esc(&r.route),
                r.requests,
                name(&r.tier),
                name(&r.interaction)
            ));
        }
        out.push_str("</tbody>\n</table>\n</div>\n");
    }
    out.push_str("</section>\n");
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
