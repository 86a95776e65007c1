//! Reports: computed purely from a journal, then rendered as JSON, Markdown,
//! a self-contained HTML page, and lines for the terminal.
//!
//! - `compute.rs`: journal lines to the [`Report`] model (pure), with
//!   `stats.rs` (the exchanges and their running counts), `faults.rs`
//!   (each fault's timeline: every interval and its value), `impact.rs`
//!   (which faults hurt which journey, by time), `coverage.rs` (what no
//!   rule covers, and why a run proves nothing) and `standards.rs` (each
//!   route's tier and interaction class, unclassified ones listed, and the
//!   standards' checks per route).
//! - `model.rs`: the report, which is also `report.json`'s schema.
//! - `verdict.rs`: the hypothesis's checks and the verdict.
//! - `words.rs`: what every rendering says alike (dates, numbers, the
//!   verdict's summary, the worst effect); `markdown.rs`, `html/`,
//!   `terminal.rs`: the renderings.

pub mod compute;
mod coverage;
mod faults;
pub mod html;
pub mod impact;
pub mod markdown;
pub mod model;
pub mod standards;
mod stats;
pub mod terminal;
pub mod verdict;
pub mod words;

use std::path::{Path, PathBuf};

pub use compute::{compute, from_file, JournalError};
pub use model::Report;

/// The three report files of a run.
#[derive(Debug, Clone)]
pub struct Written {
    pub json: PathBuf,
    pub markdown: PathBuf,
    pub html: PathBuf,
}

/// Why a journal's reports could not be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("cannot write the reports in {dir}: {source}")]
    Write {
        dir: String,
        #[source]
        source: std::io::Error,
    },
}

/// Computes the report of `journal` and writes it next to the journal (or
/// into `out`).
pub fn rebuild(journal: &Path, out: Option<&Path>) -> Result<(Report, Written), RebuildError> {
    let report = from_file(journal)?;
    let dir =
        out.map(Path::to_path_buf).unwrap_or_else(|| journal.parent().map_or_else(|| ".".into(), Path::to_path_buf));
    let written =
        write(&report, &dir).map_err(|source| RebuildError::Write { dir: dir.display().to_string(), source })?;
    Ok((report, written))
}

/// Writes `report.json`, `report.md` and `report.html` into `dir`.
pub fn write(report: &Report, dir: &Path) -> std::io::Result<Written> {
    std::fs::create_dir_all(dir)?;
    let written =
        Written { json: dir.join("report.json"), markdown: dir.join("report.md"), html: dir.join("report.html") };
    let json = serde_json::to_string_pretty(report).map_err(std::io::Error::other)?;
    std::fs::write(&written.json, json + "\n")?;
    std::fs::write(&written.markdown, markdown::render(report))?;
    std::fs::write(&written.html, html::render(report))?;
    Ok(written)
}
