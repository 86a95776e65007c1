//! Reports: computed purely from a journal, then rendered as JSON, Markdown
//! and a self-contained HTML page.

pub mod compute;
pub mod html;
pub mod markdown;
pub mod model;
pub mod verdict;

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
