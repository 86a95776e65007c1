//! The Markdown report: to paste into a postmortem or a pull request.

use std::fmt::Write;

use super::compute::origins;
use super::model::{Impact, Report, RouteStats, Stats};
use super::standards::StandardsReport;
use super::verdict::{CheckResult, Verdict};
use super::words;

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
    let (one, many) = words::unit(r);
    let p99 = if one == "connection" { "lifetime p99" } else { "p99" };
    let mut text = format!("{} {many} {where_}, {} available, {p99} {}", h.requests, pct(h.availability), ms(h.p99_ms));
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
        "**Outcome:** {} · **Duration:** {} · **Seed:** {seed} · **Started:** {}\n",
        r.outcome,
        secs(r.duration_s),
        words::iso_utc(r.started_ms)
    );
    let _ = writeln!(md, "> {}\n", headline(r));
    if r.dropped > 0 {
        let _ = writeln!(md, "**Warning:** the recorder dropped {} journal lines; counts are incomplete.\n", r.dropped);
    }
    if let Some(spans) = words::spans(r) {
        let _ = writeln!(md, "**Spans:** {spans}.\n");
    }
    if let Some(v) = &r.verdict {
        verdict(&mut md, v);
    }
    if let Some(s) = &r.standards {
        standards(&mut md, s);
    }
    phases(&mut md, r);
    routes(&mut md, r);
    faults(&mut md, r);
    impact(&mut md, r);
    over_time(&mut md, r);
    samples(&mut md, r);
    reproduce(&mut md, r);
    let _ = writeln!(md, "\n---\nbrownout report schema {}", r.schema);
    md
}

fn verdict(md: &mut String, v: &Verdict) {
    let _ = writeln!(md, "## Verdict: {}\n\n{}.\n", v.status, words::verdict_summary(v));
    if let Some(a) = &v.abort {
        let _ = writeln!(md, "Aborted at {:.1} s by guardrail `{}`: {}.\n", a.at_s, a.guardrail, a.value);
    }
    if !v.inconclusive.is_empty() {
        md.push_str("### Why this run proves nothing\n\n");
        for i in &v.inconclusive {
            let _ = writeln!(md, "- {}", i.reason);
        }
        md.push('\n');
    }
    if !v.unchecked.is_empty() {
        md.push_str(
            "### Unchecked degradations\n\nUser journeys that failed or slowed with no rule of the hypothesis covering them.\n\n",
        );
        md.push_str("| route | phase | what no rule covers | requests | a response users got |\n");
        md.push_str("| --- | --- | --- | ---: | --- |\n");
        for u in &v.unchecked {
            let sample = u.sample.as_ref().map_or_else(String::new, |s| {
                let what = s.status.map_or_else(|| s.error.clone().unwrap_or_default(), |c| c.to_string());
                let first = super::words::gist(&s.body);
                format!("`{what}` {}", first.chars().take(160).collect::<String>())
            });
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} |",
                cell(&u.route),
                cell(&u.phase),
                cell(&u.why.join("; ")),
                u.requests,
                cell(&sample)
            );
        }
        md.push('\n');
    }
    let measured: Vec<&CheckResult> = v.measured().collect();
    if !measured.is_empty() {
        md.push_str(
            "| result | check | phase | expected | measured | source |\n| --- | --- | --- | --- | --- | --- |\n",
        );
        for c in measured {
            let result = if c.passed { "passed" } else { "**failed**" };
            let _ = writeln!(
                md,
                "| {result} | {} | {} | {} | {} | {} |",
                cell(&c.check),
                cell(&c.phase),
                cell(&c.expected),
                cell(&c.actual),
                cell(&c.source())
            );
        }
        md.push('\n');
    }
    let vacuous: Vec<String> = v.vacuous().map(|c| format!("{} in {}", c.check, c.phase)).collect();
    if !vacuous.is_empty() {
        let _ = writeln!(
            md,
            "<details><summary>{} with nothing to judge (no failures in the phase)</summary>\n\n{}.\n\n</details>\n",
            words::count(vacuous.len() as u64, ("check passed", "checks passed")),
            vacuous.join("; ")
        );
    }
}

/// The standards the run was held to and each route's class; the
/// unclassified routes named, so that their absence shows.
fn standards(md: &mut String, s: &StandardsReport) {
    md.push_str("## Standards\n\n");
    let _ = writeln!(md, "{}\n", words::standards_sentence(s));
    if s.routes.iter().any(|r| r.is_classified()) {
        md.push_str("| route | requests | tier | interaction | classified by |\n| --- | ---: | --- | --- | --- |\n");
        for r in s.routes.iter().filter(|r| r.is_classified()) {
            let name = |v: &Option<String>| v.clone().unwrap_or_else(|| "–".into());
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | `{}` |",
                cell(&r.route),
                r.requests,
                name(&r.tier),
                name(&r.interaction),
                cell(&name(&r.pattern))
            );
        }
        md.push('\n');
    }
    if !s.unclassified.is_empty() {
        let list: Vec<String> =
            s.routes.iter().filter(|r| !r.is_classified()).map(|r| format!("`{}` ({})", r.route, r.requests)).collect();
        let _ = writeln!(md, "**Unclassified** (traffic but no tier or interaction class): {}.\n", list.join(", "));
    }
}

fn phases(md: &mut String, r: &Report) {
    if r.phases.is_empty() {
        return;
    }
    let (_, many) = words::unit(r);
    let _ = writeln!(
        md,
        "## Phases\n\n| phase | from | to | faults | {many} | availability | p99 | graceful | ungraceful |"
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

fn routes(md: &mut String, r: &Report) {
    let (http, tcp): (Vec<&RouteStats>, Vec<&RouteStats>) = r.routes.iter().partition(|x| !x.is_tcp());
    if !http.is_empty() || tcp.is_empty() {
        md.push_str("## Routes\n\n");
        md.push_str("| listener | route | requests | availability | failed (by origin) | statuses | p50 | p95 | p99 | graceful share |\n");
        md.push_str("| --- | --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: |\n");
        for x in &http {
            let s = &x.stats;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&x.listener),
                cell(&x.route),
                s.requests,
                pct(s.availability),
                failed(s),
                cell(&words::statuses(&x.statuses)),
                ms(s.p50_ms),
                ms(s.p95_ms),
                ms(s.p99_ms),
                pct(s.graceful_share)
            );
        }
        if http.iter().any(|x| x.listener == crate::record::journal::LOAD_LISTENER) {
            let _ = writeln!(md, "\n{}", words::LOAD_NOTE);
        }
        grpc_statuses(md, r);
    }
    if !tcp.is_empty() {
        md.push_str("\n## TCP listeners\n\n");
        md.push_str("| listener | connections | ended without error | failed (by origin) | errors | lifetime p50 | p95 | p99 | bytes in | bytes out |\n");
        md.push_str("| --- | ---: | ---: | --- | --- | ---: | ---: | ---: | ---: | ---: |\n");
        for x in &tcp {
            let s = &x.stats;
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
                cell(&x.listener),
                s.requests,
                pct(s.availability),
                failed(s),
                cell(&words::statuses(&x.statuses)),
                ms(s.p50_ms),
                ms(s.p95_ms),
                ms(s.p99_ms),
                words::fmt_count(x.bytes_in),
                words::fmt_count(x.bytes_out)
            );
        }
        let _ = writeln!(md, "\n{}", words::TCP_NOTE);
    }
}

fn faults(md: &mut String, r: &Report) {
    if r.faults.is_empty() {
        return;
    }
    md.push_str(
        "\n## Faults\n\nEvery interval each fault was on, with the value it had (ramp steps and edits each begin one).\n\n",
    );
    md.push_str("| target | fault | kind | on | off | value | eligible | applied |\n");
    md.push_str("| --- | --- | --- | ---: | ---: | --- | ---: | ---: |\n");
    for f in &r.faults {
        for (i, v) in f.intervals.iter().enumerate() {
            let (target, name, kind) =
                if i == 0 { (f.target.as_str(), f.name.as_str(), f.kind.as_str()) } else { ("", "", "") };
            let eligible =
                if f.uncounted { "not seen".to_string() } else { v.eligible.map_or("–".into(), |e| e.to_string()) };
            let _ = writeln!(
                md,
                "| {} | {} | {kind} | {} | {} | {} | {eligible} | {} |",
                cell(target),
                cell(name),
                secs(v.on_s),
                v.off_s.map_or("end".into(), secs),
                cell(words::value(&f.name, &v.configured)),
                v.applied
            );
        }
    }
    if r.faults.iter().any(|f| f.uncounted) {
        md.push_str("\nAn outage that refuses connections closes the listener: the refused clients never reach brownout, so it counts none.\n");
    }
}

fn impact(md: &mut String, r: &Report) {
    md.push_str("\n## Dependency impact\n\n");
    let _ = writeln!(md, "{}\n", words::worst_effect(r, |s| format!("**{s}**"), |s| format!("`{s}`")));
    let mut rows: Vec<&Impact> = r.impact.iter().collect();
    rows.sort_by(|a, b| super::impact::rank(a, b));
    let (effects, noise): (Vec<&Impact>, Vec<&Impact>) = rows.into_iter().partition(|i| i.noise.is_none());
    if !effects.is_empty() {
        md.push_str("Each user-facing route while a fault (or faults on together) was on, against the same route while no fault was on, largest effect first.\n\n");
        md.push_str(
            "| fault | route | attribution | availability (no fault → during) | p99 (no fault → during) | ok / graceful / ungraceful during |\n",
        );
        md.push_str("| --- | --- | --- | --- | --- | ---: |\n");
        for i in &effects {
            let together = if i.faults.len() > 1 { " (on together)" } else { "" };
            let _ = writeln!(
                md,
                "| {}{together} | {} | {} | {} → {} | {} → {} | {} / {} / {} |",
                cell(&i.label),
                cell(&i.route),
                cell(&words::attribution(i)),
                pct(i.baseline.availability),
                pct(i.during.availability),
                ms(i.baseline.p99_ms),
                ms(i.during.p99_ms),
                i.during.ok,
                i.during.graceful,
                i.during.ungraceful
            );
        }
        md.push('\n');
        if let Some(note) = words::attribution_note(&r.impact) {
            let _ = writeln!(md, "{note}\n");
        }
    }
    if !noise.is_empty() {
        let _ = writeln!(
            md,
            "<details><summary>No measurable effect: {} (under {}, or too few requests)</summary>\n",
            words::count(noise.len() as u64, ("row", "rows")),
            words::noise_thresholds()
        );
        for i in noise {
            let _ = writeln!(
                md,
                "- {} on `{}` ({}): {}",
                i.label,
                i.route,
                words::attribution(i),
                i.noise.as_deref().unwrap_or("")
            );
        }
        md.push_str("\n</details>\n");
    }
}

fn over_time(md: &mut String, r: &Report) {
    let main = main_listener(r);
    let rows: Vec<_> = r.windows.iter().filter(|w| Some(w.listener.as_str()) == main.as_deref()).collect();
    if rows.is_empty() {
        return;
    }
    let (_, many) = words::unit(r);
    let _ = writeln!(md, "\n## Over time ({}, {} s windows)\n", main.as_deref().unwrap_or(""), r.window_s);
    let _ = writeln!(md, "| from | {many} | availability | p99 | failed (by origin) | graceful | ungraceful |");
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

fn samples(md: &mut String, r: &Report) {
    if r.samples.is_empty() {
        return;
    }
    md.push_str("\n## Sampled responses\n");
    for s in &r.samples {
        let what = match (s.status, &s.error) {
            (_, Some(e)) => e.clone(),
            (Some(code), None) => code.to_string(),
            (None, None) => "no response".into(),
        };
        let _ = writeln!(md, "\n**{} {}**: {}, {what}, {:.1} ms\n", s.listener, s.route, s.class_word(), s.latency_ms);
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
        sample_trace(md, s);
    }
}

/// The dependency calls in a sampled request's trace, one line each.
fn sample_trace(md: &mut String, s: &crate::report::model::Sample) {
    let Some(trace) = &s.trace_id else { return };
    if s.trace.is_empty() {
        let _ = writeln!(md, "\nTrace `{trace}`: no dependency call was recorded in it.");
        return;
    }
    let _ = writeln!(md, "\nTrace `{trace}`, the dependency calls it made:\n");
    for c in &s.trace {
        let answer = match (c.status, &c.error) {
            (_, Some(e)) => e.clone(),
            (Some(code), None) => code.to_string(),
            (None, None) => "no response".into(),
        };
        let fault = c.fault.as_deref().map_or_else(|| "no fault".to_string(), |f| format!("met **{f}**"));
        let _ = writeln!(md, "- {} {}: {answer}, {:.1} ms, {fault}", c.listener, c.route, c.latency_ms);
    }
}

fn reproduce(md: &mut String, r: &Report) {
    let p = &r.reproduce;
    md.push_str("\n## Reproduce\n\n");
    let or_dash = |v: Option<&str>| v.map_or_else(|| "–".to_string(), |v| format!("`{v}`"));
    let _ = writeln!(md, "- brownout version: {}", or_dash(p.version.as_deref()));
    let _ = writeln!(md, "- seed: {}", or_dash(p.seed.map(|s| s.to_string()).as_deref()));
    let _ = writeln!(md, "- experiment: {}", or_dash(p.experiment.as_deref()));
    let _ = writeln!(md, "- experiment SHA-256: {}", or_dash(p.sha256.as_deref()));
    let _ = writeln!(md, "- started: {}", words::iso_utc(r.started_ms));
    match &p.command {
        Some(command) => {
            let _ = writeln!(md, "- command line:\n\n```sh\n{}\n```", words::shell_words(command));
        }
        None => md.push_str("- command line: –\n"),
    }
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
