//! The scoreboard as one self-contained HTML page in the report's style:
//! inline CSS and SVG, no script, nothing fetched; on a phone the cards
//! wrap two a row, tables scroll inside their box, the chart is drawn narrow.

use std::fmt::Write;

use super::chart;
use super::model::{Criticality, DependencyRecord, Effect, Scoreboard, Trend};
use crate::report::html::{esc, CSS};
use crate::report::words::{count, fmt_count, fmt_pct};

/// What the scoreboard adds to the report's style sheet.
const EXTRA: &str = r#"
.cards { grid-template-columns: repeat(auto-fill, minmax(180px, 1fr)); }
svg.strip { display: block; }
td.history { white-space: nowrap; }
.earlier { font-size: 12px; color: var(--muted); }
td.state { min-width: 14em; font-size: 12.5px; }
td.journeys { font-size: 12.5px; min-width: 12em; }
.rule { font-size: 13.5px; color: var(--ink); margin: 6px 0 0; }
table.points { width: auto; margin-top: 10px; }
.legend-inline i.dot { margin-left: 10px; }
/* A phone: the long tables become one block per row, each value under its label. */
@media (max-width: 600px) {
  table.stack thead { display: none; }
  table.stack, table.stack tbody, table.stack tr, table.stack td { display: block; width: 100%; }
  table.stack tr { border-bottom: 1px solid var(--line); padding: 8px 0; }
  table.stack td, table.stack td.num { border: 0; padding: 2px 0; text-align: left; white-space: normal; min-width: 0; }
  table.stack td.lead { padding-bottom: 4px; }
  table.stack td[data-label]::before { content: attr(data-label); display: block; color: var(--muted);
    font-size: 11.5px; text-transform: uppercase; letter-spacing: 0.04em; }
  table.stack td.history svg.strip { margin: 2px 0; }
}
"#;

pub fn render(b: &Scoreboard) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n",
    );
    out.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n");
    out.push_str("<title>Scoreboard \u{00b7} brownout</title>\n<style>\n");
    out.push_str(CSS);
    out.push_str(EXTRA);
    out.push_str("</style>\n</head>\n<body>\n<main>\n");
    header(&mut out, b);
    scores(&mut out, b);
    experiments(&mut out, b);
    dependencies(&mut out, b);
    journeys(&mut out, b);
    standards(&mut out, b);
    unclassified(&mut out, b);
    skipped(&mut out, b);
    let _ = writeln!(out, "<footer>brownout scoreboard schema {}</footer>", b.schema);
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

fn header(out: &mut String, b: &Scoreboard) {
    out.push_str(
        "<header class=\"top\">\n<div class=\"brand\">brownout \u{00b7} scoreboard</div>\n<h1>Scoreboard</h1>\n",
    );
    out.push_str("<dl class=\"meta\">\n");
    for (label, value) in [
        ("As of", esc(&b.generated)),
        ("Runs", fmt_count(b.runs)),
        ("Experiments", fmt_count(b.experiments.len() as u64)),
        ("Directory", format!("<code>{}</code>", esc(&b.dir))),
    ] {
        let _ = writeln!(out, "<div><dt>{label}</dt><dd>{value}</dd></div>");
    }
    out.push_str("</dl>\n</header>\n");
}

fn tone(score: u32) -> &'static str {
    match score {
        90.. => "",
        60..=89 => "warn",
        _ => "bad",
    }
}

fn scores(out: &mut String, b: &Scoreboard) {
    out.push_str("<section class=\"cards\" aria-label=\"Scores\" id=\"scores\">\n");
    for s in &b.services {
        let mut sub = vec![count(s.experiments, ("experiment", "experiments"))];
        if s.stale > 0 {
            sub.push(format!("{} stale", s.stale));
        }
        if s.deviated > 0 {
            sub.push(format!("{} deviated", s.deviated));
        }
        if s.never_proved > 0 {
            sub.push(format!("{} unproven", s.never_proved));
        }
        let _ = writeln!(
            out,
            "<div class=\"card {}\" data-service=\"{}\"><div class=\"label\">{}</div><div class=\"value\">{}</div>\
             <div class=\"sub\">{}</div></div>",
            tone(s.score),
            esc(&s.service),
            esc(&s.service),
            s.score,
            esc(&sub.join(" \u{00b7} "))
        );
    }
    if b.services.is_empty() {
        out.push_str(
            "<div class=\"card\"><div class=\"label\">No runs</div><div class=\"value\">\u{2013}</div>\
                      <div class=\"sub\">no experiment has run here yet</div></div>\n",
        );
    }
    out.push_str("</section>\n");
    let r = &b.rules;
    out.push_str("<section id=\"score-rule\">\n<h2>How the score is computed</h2>\n");
    let _ = writeln!(out, "<p class=\"rule\">{}</p>", esc(&r.score));
    let _ = writeln!(
        out,
        "<p class=\"rule\">Stale: a scheduled experiment once a rerun was due more than {} ago and none proved \
         anything since; one without a schedule once its last proof is older than {} days.</p>",
        if r.stale_grace_s == 3600 { "an hour".to_string() } else { format!("{} s", r.stale_grace_s) },
        r.unscheduled_max_age_s / 86_400
    );
    out.push_str(
        "<div class=\"table-wrap\"><table class=\"data points\"><thead><tr><th>Latest proof</th>\
                  <th class=\"num\">Points</th></tr></thead><tbody>\n",
    );
    for (what, points) in [
        ("held, fresh", r.held),
        ("held, stale", r.held_stale),
        ("deviated or aborted", r.deviated),
        ("none (never proved anything)", r.never_proved),
    ] {
        let _ = writeln!(out, "<tr><td>{what}</td><td class=\"num\">{points}</td></tr>");
    }
    out.push_str("</tbody></table></div>\n</section>\n");
}

fn experiments(out: &mut String, b: &Scoreboard) {
    out.push_str(
        "<section id=\"experiments\">\n<h2>Experiments</h2>\n<p class=\"caption legend-inline\">Verdicts oldest first:",
    );
    for status in ["held", "deviated", "aborted", "inconclusive", "interrupted"] {
        let _ = write!(out, "<i class=\"dot\" style=\"background:{}\"></i>{status}", chart::verdict_color(status));
    }
    out.push_str(" (or failed, unfinished).</p>\n<div class=\"table-wrap\">\n<table class=\"data stack\" id=\"experiment-table\">\n");
    out.push_str(
        "<thead><tr><th>Experiment</th><th>Service</th><th>Verdicts over time</th><th>Runs</th>\
                  <th>Last run</th><th>State</th><th>Did the fix hold?</th><th class=\"num\">Points</th></tr></thead>\n<tbody>\n",
    );
    for e in &b.experiments {
        let counts: Vec<String> = e.counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        let state_class = if e.stale { "warn" } else { "good" };
        let schedule = e.schedule.as_deref().map_or_else(|| "no schedule".to_string(), |s| format!("schedule {s}"));
        let _ = writeln!(
            out,
            "<tr data-key=\"{}\"><td class=\"lead\"><strong>{}</strong><br><code>{}</code><br>\
             <span class=\"earlier\">{}</span></td><td data-label=\"Service\">{}</td>\
             <td class=\"history\" data-label=\"Verdicts\">{}</td><td data-label=\"Runs\">{}</td>\
             <td class=\"num\" data-label=\"Last run\">{}</td><td class=\"state {state_class}\" data-label=\"State\">{}</td>\
             <td class=\"state\" data-label=\"Did the fix hold?\" data-trend=\"{}\">{} {}</td>\
             <td class=\"num\" data-label=\"Points\">{}</td></tr>",
            esc(&e.key),
            esc(&e.title),
            esc(&e.key),
            esc(&schedule),
            esc(e.service.as_deref().unwrap_or("\u{2013}")),
            chart::strip(&e.runs),
            esc(&counts.join(", ")),
            esc(&e.last_run),
            esc(&e.state),
            e.trend.as_str(),
            trend_badge(e.trend),
            esc(&e.trend_words),
            e.points
        );
    }
    if b.experiments.is_empty() {
        out.push_str("<tr><td colspan=\"8\" class=\"empty-row\">No experiment run was found.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
}

fn trend_badge(t: Trend) -> String {
    let class = match t {
        Trend::Held | Trend::Fixed => "good",
        Trend::Failing | Trend::Regressed => "bad",
        Trend::Unproven => "neutral",
    };
    format!("<span class=\"badge {class}\">{}</span>", t.as_str())
}

fn criticality_badge(c: Criticality) -> String {
    let class = match c {
        Criticality::Hard => "bad",
        Criticality::Soft => "warn",
        Criticality::None => "good",
        Criticality::Unknown => "neutral",
    };
    format!("<span class=\"badge {class}\">{}</span>", c.as_str())
}

fn effect_list(d: &DependencyRecord, effect: Effect) -> String {
    let list: Vec<String> = d
        .journeys
        .iter()
        .filter(|j| j.effect == effect)
        .map(|j| {
            let of = j.fails + j.degrades + j.holds;
            let n = match effect {
                Effect::Fails => j.fails,
                Effect::Degrades => j.degrades,
                Effect::Holds => j.holds,
            };
            format!("<code>{}</code> <span class=\"earlier\">{n}/{of} runs</span>", esc(&j.journey))
        })
        .collect();
    if list.is_empty() {
        "\u{2013}".into()
    } else {
        list.join("<br>")
    }
}

/// The journeys that held, then those never measured against it.
fn holds_and_unmeasured(d: &DependencyRecord) -> String {
    let held = effect_list(d, Effect::Holds);
    if d.unmeasured.is_empty() {
        return held;
    }
    let list: Vec<String> = d.unmeasured.iter().map(|j| format!("<code>{}</code>", esc(j))).collect();
    format!("{held}<br><span class=\"earlier\">not measured (too few requests):</span><br>{}", list.join("<br>"))
}

fn dependencies(out: &mut String, b: &Scoreboard) {
    out.push_str("<section id=\"dependencies\">\n<h2>Which dependencies matter</h2>\n");
    let _ = writeln!(out, "<p class=\"caption\">{}</p>", esc(&b.rules.criticality));
    out.push_str("<div class=\"table-wrap\">\n<table class=\"data stack\" id=\"dependency-table\">\n<thead><tr><th>Dependency</th>\
                  <th>Journeys that fail</th><th>Degrade</th><th>Hold</th><th class=\"num\">Runs</th>\
                  <th>Faults tried</th></tr></thead>\n<tbody>\n");
    for d in &b.dependencies {
        let _ = writeln!(
            out,
            "<tr data-dependency=\"{}\"><td class=\"lead\"><strong>{}</strong> {}</td>\
             <td class=\"journeys\" data-label=\"Fail\">{}</td><td class=\"journeys\" data-label=\"Degrade\">{}</td>\
             <td class=\"journeys\" data-label=\"Hold\">{}</td><td class=\"num\" data-label=\"Runs\">{}</td>\
             <td data-label=\"Faults tried\">{}</td></tr>",
            esc(&d.name),
            esc(&d.name),
            criticality_badge(d.criticality),
            effect_list(d, Effect::Fails),
            effect_list(d, Effect::Degrades),
            holds_and_unmeasured(d),
            d.runs,
            esc(&d.kinds.join(", "))
        );
    }
    if b.dependencies.is_empty() {
        out.push_str("<tr><td colspan=\"6\" class=\"empty-row\">No dependency was faulted.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
}

fn journeys(out: &mut String, b: &Scoreboard) {
    out.push_str("<section id=\"journeys\">\n<h2>Journeys</h2>\n<p class=\"caption\">Each user journey over every run: \
                  how often it failed, how (the failures' statuses), and which dependencies' failures made it fail.</p>\n");
    out.push_str(
        "<div class=\"table-wrap\">\n<table class=\"data stack\" id=\"journey-table\">\n<thead><tr><th>Journey</th>\
                  <th class=\"num\">Runs</th><th class=\"num\">Failed in</th><th class=\"num\">Requests</th>\
                  <th class=\"num\">Availability</th><th class=\"num\">Graceful</th><th class=\"num\">Ungraceful</th>\
                  <th>How it failed</th><th>Hurt by</th></tr></thead>\n<tbody>\n",
    );
    // The service is named when there are several.
    let many = b.journeys.iter().map(|j| &j.service).collect::<std::collections::BTreeSet<_>>().len() > 1;
    for j in &b.journeys {
        let how: Vec<String> = j.how.iter().take(3).map(|(s, n)| format!("{} \u{00d7}{n}", esc(s))).collect();
        let service = match &j.service {
            Some(s) if many => format!("<span class=\"pill\">{}</span> ", esc(s)),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "<tr><td class=\"route lead\">{service}{}</td><td class=\"num\" data-label=\"Runs\">{}</td>\
             <td class=\"num{}\" data-label=\"Failed in\">{}</td><td class=\"num\" data-label=\"Requests\">{}</td>\
             <td class=\"num\" data-label=\"Availability\">{}</td><td class=\"num\" data-label=\"Graceful\">{}</td>\
             <td class=\"num{}\" data-label=\"Ungraceful\">{}</td><td data-label=\"How it failed\">{}</td>\
             <td data-label=\"Hurt by\">{}</td></tr>",
            esc(&j.route),
            j.runs,
            if j.runs_failed > 0 { " warn" } else { "" },
            j.runs_failed,
            fmt_count(j.requests),
            fmt_pct(j.availability),
            fmt_count(j.graceful),
            if j.ungraceful > 0 { " bad" } else { "" },
            fmt_count(j.ungraceful),
            if how.is_empty() { "\u{2013}".into() } else { how.join(", ") },
            if j.hurt_by.is_empty() { "\u{2013}".into() } else { esc(&j.hurt_by.join(", ")) }
        );
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
}

fn standards(out: &mut String, b: &Scoreboard) {
    out.push_str(
        "<section id=\"standards\">\n<h2>Standards</h2>\n<p class=\"caption\">Compliance: the share of a \
                  standard's checks that measured something and passed, run by run.</p>\n",
    );
    // The report's widths: a desktop's section, and about a phone's in CSS pixels.
    out.push_str(&chart::compliance(&b.standards, 1120.0, "wide"));
    out.push_str(&chart::compliance(&b.standards, 360.0, "narrow"));
    out.push_str(
        "<div class=\"table-wrap\">\n<table class=\"data\" id=\"standard-table\">\n<thead><tr><th>Standard</th>\
                  <th class=\"num\">Compliance</th><th class=\"num\">Checks</th><th class=\"num\">Runs</th>\
                  <th>Latest</th></tr></thead>\n<tbody>\n",
    );
    for s in &b.standards {
        let latest =
            s.points.last().map_or_else(String::new, |p| format!("{}/{} on {}", p.passed, p.measured, p.started));
        let full = s.compliance.is_some_and(|c| c >= 1.0);
        let _ = writeln!(
            out,
            "<tr data-standard=\"{}\"><td><code>{}</code></td><td class=\"num {}\">{}</td><td class=\"num\">{}/{}</td>\
             <td class=\"num\">{}</td><td>{}</td></tr>",
            esc(&s.standard),
            esc(&s.standard),
            if full { "ok" } else { "bad" },
            fmt_pct(s.compliance),
            s.passed,
            s.measured,
            s.points.len(),
            esc(&latest)
        );
    }
    if b.standards.is_empty() {
        out.push_str("<tr><td colspan=\"5\" class=\"empty-row\">No run was held to a standard.</td></tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</div>\n</section>\n");
}

fn unclassified(out: &mut String, b: &Scoreboard) {
    out.push_str("<section id=\"unclassified\">\n<h2>Unclassified routes</h2>\n");
    if b.unclassified.is_empty() {
        out.push_str("<p class=\"empty-note\">Every route with traffic has a tier or an interaction class.</p>\n");
    } else {
        out.push_str("<p class=\"caption\">Traffic, but no tier or interaction class in the standards: nobody has \
                      decided what these owe their users.</p>\n<div class=\"table-wrap\">\n<table class=\"data\">\n\
                      <thead><tr><th>Service</th><th>Route</th><th class=\"num\">Runs</th><th>Last seen</th></tr></thead>\n<tbody>\n");
        for u in &b.unclassified {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"route\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
                esc(u.service.as_deref().unwrap_or("\u{2013}")),
                esc(&u.route),
                u.runs,
                esc(&u.last_seen)
            );
        }
        out.push_str("</tbody>\n</table>\n</div>\n");
    }
    out.push_str("</section>\n");
}

fn skipped(out: &mut String, b: &Scoreboard) {
    if b.skipped.is_empty() {
        return;
    }
    out.push_str("<section id=\"skipped\">\n<details class=\"folded\"><summary>");
    out.push_str(&esc(&count(b.skipped.len() as u64, ("directory not counted", "directories not counted"))));
    out.push_str("</summary>\n<ul class=\"reasons\">\n");
    for s in &b.skipped {
        let _ = writeln!(out, "<li><code>{}</code>: {}</li>", esc(&s.dir), esc(&s.why));
    }
    out.push_str("</ul>\n</details>\n</section>\n");
}
