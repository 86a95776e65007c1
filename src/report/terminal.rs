//! The report as lines for a terminal: the headline, each phase, the
//! verdict with its failed checks, what each user journey went through, and
//! where the report files are.

use std::fmt::Write;

use super::markdown::{headline, ms, pct};
use super::model::{Impact, Report};
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

/// The headline, each phase's figures, why the run stopped early, the
/// failed checks and the verdict, then where the reports are.
pub fn verdict(report: &Report, files: &Written) -> String {
    let mut out = headline(report);
    out.push('\n');
    for p in &report.phases {
        let s = &p.stats;
        let _ = writeln!(
            out,
            "  {:<30} {:>6} requests  {:>7} available  p99 {:>9}  {} ungraceful",
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
        for c in v.checks.iter().filter(|c| !c.passed) {
            let _ = writeln!(out, "failed    {} in {}: expected {}, got {}", c.check, c.phase, c.expected, c.actual);
        }
        let failed = v.checks.iter().filter(|c| !c.passed).count();
        let _ = writeln!(out, "verdict   {} ({} checks, {failed} failed)", v.status, v.checks.len());
    }
    out.push_str(&paths(files));
    out
}

/// The observer's routes: what each user journey went through, and the
/// dependency failures that hurt a journey most.
pub fn routes(report: &Report) -> String {
    let mut out = format!(
        "\n  {:<18} {:>8} {:>10} {:>10} {:>9} {:>11}\n",
        "journey", "requests", "available", "p99", "graceful", "ungraceful"
    );
    for r in report.routes.iter().filter(|r| r.listener == "observer") {
        let s = &r.stats;
        let _ = writeln!(
            out,
            "  {:<18} {:>8} {:>10} {:>10} {:>9} {:>11}",
            r.route,
            s.requests,
            pct(s.availability),
            ms(s.p99_ms),
            s.graceful,
            s.ungraceful
        );
    }
    let mut worst: Vec<&Impact> =
        report.impact.iter().filter(|i| i.availability_delta.is_some_and(|d| d < -0.01)).collect();
    worst.truncate(5);
    if !worst.is_empty() {
        out.push_str("\n  which dependency failure hurt which journey most:\n");
        for i in worst {
            let _ = writeln!(
                out,
                "  {:<30} {:<18} {} -> {} available",
                format!("{}/{}", i.target, i.fault),
                i.route,
                pct(i.baseline.availability),
                pct(i.during.availability)
            );
        }
    }
    out
}
