//! The scoreboard: what many runs say together. `brownout scoreboard DIR`
//! reads every run under a directory (its `report.json`, else its journal)
//! and writes `scoreboard.json`, `scoreboard.md` and `scoreboard.html` there:
//! per experiment its verdicts over time, whether it is stale and whether a
//! fix stayed fixed, a score per service, per journey how often and how it
//! failed, per dependency its criticality, per standard its compliance over
//! time, and the routes no standard classifies.
//!
//! `read.rs` finds the runs; `compute.rs`, `criticality.rs` and `trend.rs`
//! (whether a fix stayed fixed) turn them into the model of `model.rs`
//! (pure: the time it is judged at is an argument); `markdown.rs` and
//! `html.rs` render it (`chart.rs` draws the page's SVG).

mod chart;
mod compute;
mod criticality;
mod html;
mod markdown;
pub mod model;
mod read;
mod trend;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

pub use compute::{Staleness, HELD, HELD_STALE, NO_SERVICE, STALE_GRACE, UNSCHEDULED_MAX_AGE};
pub use criticality::effect;
pub use model::Scoreboard;

use crate::report::words::iso_utc;

/// Why a scoreboard could not be built or written.
#[derive(Debug, thiserror::Error)]
pub enum ScoreboardError {
    #[error("cannot read the runs in {dir}: {source}")]
    Read {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write the scoreboard in {dir}: {source}")]
    Write {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

/// The three scoreboard files.
#[derive(Debug, Clone)]
pub struct Written {
    pub json: PathBuf,
    pub markdown: PathBuf,
    pub html: PathBuf,
}

/// The scoreboard of every run under `dir`, judged at `now`.
pub fn build(dir: &Path, now: SystemTime) -> Result<Scoreboard, ScoreboardError> {
    let (runs, skipped) =
        read::runs(dir).map_err(|source| ScoreboardError::Read { dir: dir.display().to_string(), source })?;
    let services: BTreeSet<Option<&str>> =
        runs.iter().map(|r| r.report.standards.as_ref().and_then(|s| s.service.as_deref())).collect();
    // Journeys are named by their route, and by their service too when there are several.
    let many = services.len() > 1;
    let label = |service: Option<&str>, route: &str| match service {
        Some(s) if many => format!("{s}: {route}"),
        None if many => format!("{NO_SERVICE}: {route}"),
        _ => route.to_string(),
    };
    let experiments = compute::experiments(&runs, now);
    let unclassified = compute::unclassified(&runs);
    let dependencies = criticality::dependencies(&runs, label);
    let mut journeys = compute::journeys(&runs);
    for j in &mut journeys {
        let name = label(j.service.as_deref(), &j.route);
        j.hurt_by = dependencies
            .iter()
            .filter(|d| d.journeys.iter().any(|e| e.journey == name && e.effect == model::Effect::Fails))
            .map(|d| d.name.clone())
            .collect();
    }
    let generated_ms = compute::millis(now);
    Ok(Scoreboard {
        schema: model::SCHEMA,
        generated_ms,
        generated: iso_utc(generated_ms),
        dir: dir.display().to_string(),
        runs: runs.len() as u64,
        rules: compute::rules(),
        services: compute::services(&experiments, &unclassified),
        standards: compute::standards(&runs),
        experiments,
        journeys,
        dependencies,
        unclassified,
        skipped,
    })
}

/// Writes `scoreboard.json`, `scoreboard.md` and `scoreboard.html` into `dir`.
pub fn write(board: &Scoreboard, dir: &Path) -> Result<Written, ScoreboardError> {
    let fail = |source| ScoreboardError::Write { dir: dir.display().to_string(), source };
    let written = Written {
        json: dir.join("scoreboard.json"),
        markdown: dir.join("scoreboard.md"),
        html: dir.join("scoreboard.html"),
    };
    let json = serde_json::to_string_pretty(board).map_err(|e| fail(std::io::Error::other(e)))?;
    std::fs::write(&written.json, json + "\n").map_err(fail)?;
    std::fs::write(&written.markdown, markdown::render(board)).map_err(fail)?;
    std::fs::write(&written.html, html::render(board)).map_err(fail)?;
    Ok(written)
}

/// Builds the scoreboard of `dir` as of now and writes it there.
pub fn rebuild(dir: &Path) -> Result<(Scoreboard, Written), ScoreboardError> {
    let board = build(dir, SystemTime::now())?;
    let written = write(&board, dir)?;
    Ok((board, written))
}

/// The scoreboard in a few lines for a terminal, with where its files are.
pub fn summary(board: &Scoreboard, written: &Written) -> String {
    let mut out =
        format!("scoreboard {} runs of {} experiments under {}\n", board.runs, board.experiments.len(), board.dir);
    for s in &board.services {
        out.push_str(&format!(
            "  {:<20} score {:>3}  ({} held, {} stale, {} deviated or aborted, {} never proved)\n",
            s.service, s.score, s.held, s.stale, s.deviated, s.never_proved
        ));
    }
    for e in &board.experiments {
        let stale = if e.stale { ", stale" } else { "" };
        out.push_str(&format!("  {:<40} {}{stale}\n", e.key, e.trend.as_str()));
    }
    for d in &board.dependencies {
        out.push_str(&format!("  {:<20} {}\n", d.name, d.criticality.as_str()));
    }
    out.push_str(&format!(
        "scoreboard {}\n           {}\n           {}\n",
        written.html.display(),
        written.markdown.display(),
        written.json.display()
    ));
    out
}
