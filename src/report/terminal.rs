//! The report as lines for a terminal: the headline, each phase, the
//! verdict (why a run proves nothing, what no rule covered, the failed
//! checks), what each user journey went through, and where the report
//! files are.

use std::fmt::Write;

use super::markdown::{headline, ms, pct};
use super::model::{Impact, Report};
use super::words;
use super::Written;

/// The headline, then the paths of the three report files.
pub fn written(report: &Report, files: &Written) -> String {
    let mut out = headline(report);
    out.push('\n');
    out.push_str(&paths(files));
    out
}

fn paths(files: &Written) -> String {
    format!(
        "report    {}\n          {}\n          {}\n",
        files.html.display(),
        files.markdown.display(),
        files.json.display()
    )
}

/// The headline, each phase's figures, why the run stopped early or proves
/// nothing, the unchecked degradations, the failed checks and the verdict,
/// then where the reports are.
pub fn verdict(report: &Report, files: &Written) -> String {
    let mut out = headline(report);
    out.push('\n');
    let (_, many) = words::unit(report);
    for p in &report.phases {
        let s = &p.stats;
        let _ = writeln!(
            out,
            "  {:<30} {:>6} {many:<11} {:>7} available  p99 {:>9}  {} ungraceful",
            p.name,
            s.requests,
            pct(s.availability),
            ms(s.p99_ms),
            s.ungraceful
        );
    }
    if let Some(v) = &report.verdict {
        if let Some(a) = &v.abort {
            let _ = writeln!(out, "aborted at {:.1}s by guardrail {}: {}", a.at_s, a.guardrail, a.value);
        }
        for i in &v.inconclusive {
            let _ = writeln!(out, "no proof  {}", i.reason);
        }
        for u in &v.unchecked {
            let _ = writeln!(out, "unchecked {} in {}: {}", u.route, u.phase, u.why.join("; "));
            if let Some(s) = &u.sample {
                let what = s.status.map_or_else(|| s.error.clone().unwrap_or_default(), |c| c.to_string());
                let first = super::words::gist(&s.body);
                let _ = writeln!(out, "          users got {what}: {}", first.chars().take(160).collect::<String>());
            }
        }
        for c in v.failed() {
            let from = c.standard.as_ref().map_or_else(String::new, |s| format!(" (standard {s})"));
            let _ =
                writeln!(out, "failed    {} in {}: expected {}, got {}{from}", c.check, c.phase, c.expected, c.actual);
        }
        if let Some(s) = &report.standards {
            let _ = writeln!(out, "standards {}", words::standards_sentence(s));
            for r in s.routes.iter().filter(|r| !r.is_classified()) {
                let _ =
                    writeln!(out, "unclassified {} ({})", r.route, words::count(r.requests, ("request", "requests")));
            }
        }
        let _ = writeln!(out, "verdict   {}", words::verdict_summary(v));
    }
    let _ = writeln!(out, "started   {} ({} s)", words::iso_utc(report.started_ms), report.duration_s.round());
    out.push_str(&paths(files));
    out
}

/// The observer's routes: what each user journey went through, with the
/// statuses users got, and the dependency failures that hurt a journey
/// most (faults on together share a row).
pub fn routes(report: &Report) -> String {
    let mut out = format!(
        "\n  {:<18} {:>8} {:>10} {:>10} {:>9} {:>11}  statuses\n",
        "journey", "requests", "available", "p99", "graceful", "ungraceful"
    );
    for r in report.routes.iter().filter(|r| r.listener == "observer") {
        let s = &r.stats;
        let _ = writeln!(
            out,
            "  {:<18} {:>8} {:>10} {:>10} {:>9} {:>11}  {}",
            r.route,
            s.requests,
            pct(s.availability),
            ms(s.p99_ms),
            s.graceful,
            s.ungraceful,
            words::statuses(&r.statuses)
        );
    }
    let mut effects: Vec<&Impact> = report.impact.iter().filter(|i| i.noise.is_none()).collect();
    effects.sort_by(|a, b| super::impact::rank(a, b));
    effects.truncate(5);
    let _ = writeln!(out, "\n  {}", words::worst_effect(report, str::to_string, str::to_string));
    if !effects.is_empty() {
        out.push_str("  which dependency failure hurt which journey most:\n");
        for i in effects {
            let _ = writeln!(
                out,
                "  {:<30} {:<18} {} -> {} available, p99 {} -> {}",
                i.label,
                i.route,
                pct(i.baseline.availability),
                pct(i.during.availability),
                ms(i.baseline.p99_ms),
                ms(i.during.p99_ms)
            );
        }
    }
    let folded = words::noise_rows(&report.impact);
    if folded > 0 {
        let _ = writeln!(out, "  ({folded} more fault and journey pairs showed no measurable effect)");
    }
    out
}
