//! The scoreboard in Markdown: for the monthly review's notes.

use std::fmt::Write;

use super::model::{Scoreboard, StandardRecord};
use crate::report::words::{count, fmt_pct};

/// One character per verdict, for a history that fits a table cell.
pub fn mark(status: &str) -> char {
    match status {
        "held" => '✓',
        "deviated" => '✗',
        "aborted" => '!',
        "inconclusive" => '?',
        _ => '·',
    }
}

fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

pub fn render(b: &Scoreboard) -> String {
    let mut md = String::new();
    let _ = writeln!(md, "# Scoreboard\n");
    let _ = writeln!(
        md,
        "{} of {} under `{}`, as of {}.\n",
        count(b.runs, ("run", "runs")),
        count(b.experiments.len() as u64, ("experiment", "experiments")),
        b.dir,
        b.generated
    );
    md.push_str("## Scores\n\n| service | score | experiments | held | held, stale | deviated or aborted | never proved | unclassified routes |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    for s in &b.services {
        let _ = writeln!(
            md,
            "| {} | **{}** | {} | {} | {} | {} | {} | {} |",
            cell(&s.service),
            s.score,
            s.experiments,
            s.held,
            s.stale,
            s.deviated,
            s.never_proved,
            s.unclassified
        );
    }
    let _ = writeln!(md, "\n{}\n", b.rules.score);

    md.push_str("## Experiments\n\nVerdicts oldest first: ✓ held, ✗ deviated, ! aborted, ? inconclusive, · interrupted, failed or unfinished.\n\n");
    md.push_str("| experiment | service | schedule | verdicts | last run | state | did the fix hold? | points |\n| --- | --- | --- | --- | --- | --- | --- | ---: |\n");
    for e in &b.experiments {
        let history: String = e.runs.iter().map(|r| mark(&r.status)).collect();
        let counts: Vec<String> = e.counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
        let _ = writeln!(
            md,
            "| {} (`{}`) | {} | {} | {history} ({}) | {} | {} | **{}**: {} | {} |",
            cell(&e.title),
            cell(&e.key),
            e.service.as_deref().unwrap_or("–"),
            e.schedule.as_deref().map_or("none".into(), cell),
            counts.join(", "),
            e.last_run,
            cell(&e.state),
            e.trend.as_str(),
            cell(&e.trend_words),
            e.points
        );
    }

    md.push_str("\n## Dependencies\n\n");
    let _ = writeln!(md, "{}\n", b.rules.criticality);
    if b.dependencies.is_empty() {
        md.push_str("No dependency was faulted.\n");
    } else {
        md.push_str("| dependency | criticality | journeys that fail | degrade | hold | runs | faults tried |\n| --- | --- | --- | --- | --- | ---: | --- |\n");
        for d in &b.dependencies {
            let of = |effect: super::model::Effect| {
                let list: Vec<String> = d
                    .journeys
                    .iter()
                    .filter(|j| j.effect == effect)
                    .map(|j| format!("{} ({}/{})", j.journey, runs_with(j, effect), j.fails + j.degrades + j.holds))
                    .collect();
                if list.is_empty() {
                    "–".to_string()
                } else {
                    cell(&list.join(", "))
                }
            };
            let _ = writeln!(
                md,
                "| {} | **{}** | {} | {} | {} | {} | {} |",
                cell(&d.name),
                d.criticality.as_str(),
                of(super::model::Effect::Fails),
                of(super::model::Effect::Degrades),
                if d.unmeasured.is_empty() {
                    of(super::model::Effect::Holds)
                } else {
                    format!("{}; not measured: {}", of(super::model::Effect::Holds), cell(&d.unmeasured.join(", ")))
                },
                d.runs,
                d.kinds.join(", ")
            );
        }
    }

    md.push_str("\n## Journeys\n\n| journey | runs | failed in | requests | availability | graceful | ungraceful | how it failed | hurt by |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |\n");
    let many = b.journeys.iter().map(|j| &j.service).collect::<std::collections::BTreeSet<_>>().len() > 1;
    for j in &b.journeys {
        let how: Vec<String> = j.how.iter().take(3).map(|(s, n)| format!("{s} ×{n}")).collect();
        let route = match &j.service {
            Some(s) if many => format!("{s}: {}", j.route),
            _ => j.route.clone(),
        };
        let _ = writeln!(
            md,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            cell(&route),
            j.runs,
            j.runs_failed,
            j.requests,
            fmt_pct(j.availability),
            j.graceful,
            j.ungraceful,
            if how.is_empty() { "–".into() } else { cell(&how.join(", ")) },
            if j.hurt_by.is_empty() { "–".into() } else { j.hurt_by.join(", ") }
        );
    }

    md.push_str("\n## Standards\n\n");
    if b.standards.is_empty() {
        md.push_str("No run was held to a standard.\n");
    } else {
        md.push_str("Compliance: the share of a standard's checks that measured something and passed, run by run (oldest first).\n\n| standard | compliance | runs | over time |\n| --- | ---: | ---: | --- |\n");
        for s in &b.standards {
            let _ =
                writeln!(md, "| {} | {} | {} | {} |", s.standard, fmt_pct(s.compliance), s.points.len(), over_time(s));
        }
    }

    if !b.unclassified.is_empty() {
        md.push_str("\n## Unclassified routes\n\nTraffic, but no tier or interaction class in the standards.\n\n| service | route | runs | last seen |\n| --- | --- | ---: | --- |\n");
        for u in &b.unclassified {
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} |",
                u.service.as_deref().unwrap_or("–"),
                cell(&u.route),
                u.runs,
                u.last_seen
            );
        }
    }
    if !b.skipped.is_empty() {
        md.push_str("\n## Not counted\n\n");
        for s in &b.skipped {
            let _ = writeln!(md, "- `{}`: {}", s.dir, s.why);
        }
    }
    let _ = writeln!(md, "\n---\nbrownout scoreboard schema {}", b.schema);
    md
}

fn runs_with(j: &super::model::JourneyEffect, effect: super::model::Effect) -> u64 {
    match effect {
        super::model::Effect::Fails => j.fails,
        super::model::Effect::Degrades => j.degrades,
        super::model::Effect::Holds => j.holds,
    }
}

/// `3/3 3/3 2/3`: passed of measured, per run.
fn over_time(s: &StandardRecord) -> String {
    s.points.iter().map(|p| format!("{}/{}", p.passed, p.measured)).collect::<Vec<_>>().join(" ")
}
