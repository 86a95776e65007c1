//! The Markdown report: to paste into a postmortem or a pull request.

use std::fmt::Write;

use super::compute::origins;
use super::model::{Report, Stats};

/// A share as a percentage with one decimal, `–` when there is none.
pub fn pct(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| format!("{:.1}%", v * 100.0))
}

/// Milliseconds: two decimals below 10 ms, none above; `–` when there are none.
pub fn ms(v: Option<f64>) -> String {
    v.map_or("–".into(), |v| if v < 10.0 { format!("{v:.2} ms") } else { format!("{v:.0} ms") })
}

fn secs(v: f64) -> String {
    format!("{v:.1} s")
}

/// Escapes a table cell.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn failed(s: &Stats) -> String {
    let parts: Vec<String> =
        origins(&s.failed).iter().filter(|(_, n)| *n > 0).map(|(o, n)| format!("{n} {o}")).collect();
    if parts.is_empty() {
        "0".into()
    } else {
        parts.join(", ")
    }
}

/// The headline in one sentence.
pub fn headline(r: &Report) -> String {
    let h = &r.headline;
    let where_ = if r.routes.iter().any(|x| x.listener == "observer") { "at the observer" } else { "through brownout" };
    let mut text = format!("{} requests {where_}, {} available, p99 {}", h.requests, pct(h.availability), ms(h.p99_ms));
    let failures = h.requests - h.succeeded;
    if failures > 0 {
        let _ = write!(text, "; {failures} failed ({})", failed(h));
        if h.graceful + h.ungraceful > 0 {
            let _ = write!(text, ", {} of failures graceful ({} ungraceful)", pct(h.graceful_share), h.ungraceful);
        }
    }
    text.push('.');
    text
}

pub fn render(r: &Report) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# {}\n", r.title);
    let seed = r.seed.map_or("none".into(), |s| s.to_string());
    let _ = writeln!(
        md,
        "**Outcome:** {} · **Duration:** {} · **Seed:** {seed} · **Started:** {} ms since the epoch\n",
        r.outcome,
        secs(r.duration_s),
        r.started_ms
    );
    let _ = writeln!(md, "> {}\n", headline(r));
    if r.dropped > 0 {
        let _ = writeln!(md, "**Warning:** the recorder dropped {} journal lines; counts are incomplete.\n", r.dropped);
    }
    if let Some(v) = &r.verdict {
        let failed = v.checks.iter().filter(|c| !c.passed).count();
        let _ = writeln!(md, "## Verdict: {}\n\n{} checks, {failed} failed.\n", v.status, v.checks.len());
        if let Some(a) = &v.abort {
            let _ = writeln!(md, "Aborted at {:.1} s by guardrail `{}`: {}.\n", a.at_s, a.guardrail, a.value);
        }
        if !v.checks.is_empty() {
            md.push_str("| check | phase | expected | measured | result |\n| --- | --- | --- | --- | --- |\n");
            for c in &v.checks {
                let result = if c.passed { "passed" } else { "**failed**" };
                let _ = writeln!(
                    md,
                    "| {} | {} | {} | {} | {result} |",
                    cell(&c.check),
                    cell(&c.phase),
                    cell(&c.expected),
                    cell(&c.actual)
                );
            }
            md.push('\n');
        }
    }
    if !r.phases.is_empty() {
        md.push_str(
            "## Phases\n\n| phase | from | to | faults | requests | availability | p99 | graceful | ungraceful |\n",
        );
        md.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
        for p in &r.phases {
            let s = &p.stats;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&p.name),
                secs(p.start_s),
                secs(p.end_s),
                p.faults,
                s.requests,
                pct(s.availability),
                ms(s.p99_ms),
                s.graceful,
                s.ungraceful
            );
        }
        if let Some(s) = &r.steady_state {
            let _ = writeln!(
                md,
                "\nSteady state: {} before ({} available, p99 {}) against {} after ({} available, p99 {}).",
                s.before_phase,
                pct(s.before.availability),
                ms(s.before.p99_ms),
                s.after_phase,
                pct(s.after.availability),
                ms(s.after.p99_ms)
            );
        }
        md.push('\n');
    }

    md.push_str("## Routes\n\n");
    md.push_str(
        "| listener | route | requests | availability | failed (by origin) | p50 | p95 | p99 | graceful share |\n",
    );
    md.push_str("| --- | --- | ---: | ---: | --- | ---: | ---: | ---: | ---: |\n");
    for x in &r.routes {
        let s = &x.stats;
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&x.listener),
            cell(&x.route),
            s.requests,
            pct(s.availability),
            failed(s),
            ms(s.p50_ms),
            ms(s.p95_ms),
            ms(s.p99_ms),
            pct(s.graceful_share)
        );
    }

    grpc_statuses(&mut md, r);

    if !r.faults.is_empty() {
        md.push_str("\n## Faults\n\n| target | fault | kind | configured | on | off | applied |\n");
        md.push_str("| --- | --- | --- | --- | ---: | ---: | ---: |\n");
        for f in &r.faults {
            let off = f.off_s.map_or("end".into(), secs);
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {off} | {} |",
                cell(&f.target),
                cell(&f.name),
                f.kind,
                cell(&f.configured),
                secs(f.on_s),
                f.applied
            );
        }
    }

    if !r.impact.is_empty() {
        md.push_str("\n## Dependency impact\n\nEach user-facing route while a fault was on, against the same route while no fault was on.\n\n");
        md.push_str(
            "| fault | route | availability (no fault → during) | p99 (no fault → during) | ungraceful during |\n",
        );
        md.push_str("| --- | --- | --- | --- | ---: |\n");
        for i in &r.impact {
            let _ = writeln!(
                md,
                "| {}/{} | {} | {} → {} | {} → {} | {} |",
                cell(&i.target),
                cell(&i.fault),
                cell(&i.route),
                pct(i.baseline.availability),
                pct(i.during.availability),
                ms(i.baseline.p99_ms),
                ms(i.during.p99_ms),
                i.during.ungraceful
            );
        }
    }

    let main = main_listener(r);
    let rows: Vec<_> = r.windows.iter().filter(|w| Some(w.listener.as_str()) == main.as_deref()).collect();
    if !rows.is_empty() {
        let _ = writeln!(md, "\n## Over time ({}, {} s windows)\n", main.as_deref().unwrap_or(""), r.window_s);
        md.push_str("| from | requests | availability | p99 | failed (by origin) | graceful | ungraceful |\n");
        md.push_str("| ---: | ---: | ---: | ---: | --- | ---: | ---: |\n");
        for w in rows {
            let s = &w.stats;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                secs(w.start_s),
                s.requests,
                pct(s.availability),
                ms(s.p99_ms),
                failed(s),
                s.graceful,
                s.ungraceful
            );
        }
    }

    if !r.samples.is_empty() {
        md.push_str("\n## Sampled responses\n");
        for s in &r.samples {
            let what = match (s.status, &s.error) {
                (_, Some(e)) => e.clone(),
                (Some(code), None) => code.to_string(),
                (None, None) => "no response".into(),
            };
            let _ =
                writeln!(md, "\n**{} {}**: {}, {what}, {:.1} ms\n", s.listener, s.route, s.class_word(), s.latency_ms);
            md.push_str("```text\n");
            for (k, v) in &s.headers {
                let _ = writeln!(md, "{k}: {v}");
            }
            if !s.headers.is_empty() {
                md.push('\n');
            }
            md.push_str(&s.body.replace("```", "'''"));
            if !s.body.ends_with('\n') {
                md.push('\n');
            }
            md.push_str("```\n");
        }
    }
    let _ = writeln!(md, "\n---\nbrownout report schema {}", r.schema);
    md
}

/// The listener the charts follow: the observer, else the busiest.
pub fn main_listener(r: &Report) -> Option<String> {
    if r.windows.iter().any(|w| w.listener == "observer") {
        return Some("observer".into());
    }
    let mut counts: std::collections::BTreeMap<&str, u64> = Default::default();
    for w in &r.windows {
        *counts.entry(&w.listener).or_default() += w.stats.requests;
    }
    counts.into_iter().max_by_key(|(_, n)| *n).map(|(l, _)| l.to_string())
}

/// The gRPC statuses each route's calls ended with, if any route had gRPC calls.
fn grpc_statuses(md: &mut String, r: &Report) {
    let rows: Vec<_> = r.routes.iter().filter(|x| !x.grpc_status.is_empty()).collect();
    if rows.is_empty() {
        return;
    }
    md.push_str("\n## gRPC statuses\n\n| listener | route | statuses seen |\n| --- | --- | --- |\n");
    for x in rows {
        let seen: Vec<String> = x.grpc_status.iter().map(|(code, n)| format!("{code} {n}")).collect();
        let _ = writeln!(md, "| {} | {} | {} |", cell(&x.listener), cell(&x.route), cell(&seen.join(", ")));
    }
}
