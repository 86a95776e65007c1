//! Finding the runs under a directory: every folder with a `report.json`
//! (else a `journal.jsonl`, whose report is computed), at any depth up to
//! [`DEPTH`]. What cannot be read, or is no experiment's run, is listed
//! with the reason rather than silently left out.

use std::path::{Path, PathBuf};

use super::model::Skipped;
use crate::report::Report;

/// How deep under the directory runs are looked for: a schedule's runs sit
/// one level down, runs started through a proxy's admin API two.
const DEPTH: usize = 6;

/// An experiment's run: its report and where it is.
pub(super) struct Run {
    /// Relative to the scoreboard's directory.
    pub dir: String,
    pub report: Report,
}

/// Every run under `root`, oldest first, and what was skipped.
pub(super) fn runs(root: &Path) -> std::io::Result<(Vec<Run>, Vec<Skipped>)> {
    let mut runs = Vec::new();
    let mut skipped = Vec::new();
    let mut stack: Vec<(PathBuf, usize)> = vec![(root.to_path_buf(), 0)];
    while let Some((dir, depth)) = stack.pop() {
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            // The root must be readable; anything below is reported and passed over.
            Err(e) if depth == 0 => return Err(e),
            Err(e) => {
                skipped.push(Skipped { dir: relative(root, &dir), why: format!("cannot read the directory: {e}") });
                continue;
            }
        };
        for entry in entries.flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            let hidden = entry.file_name().to_string_lossy().starts_with('.');
            // Symbolic links are not followed: a link back up would loop.
            if kind.is_dir() && !hidden && depth < DEPTH {
                stack.push((entry.path(), depth + 1));
            }
        }
        match read_one(&dir) {
            Some(Ok(report)) if report.verdict.is_some() => runs.push(Run { dir: relative(root, &dir), report }),
            Some(Ok(_)) => skipped.push(Skipped {
                dir: relative(root, &dir),
                why: "not an experiment's run (a proxy session): no verdict".into(),
            }),
            Some(Err(why)) => skipped.push(Skipped { dir: relative(root, &dir), why }),
            None => {}
        }
    }
    runs.sort_by(|a, b| (a.report.started_ms, &a.dir).cmp(&(b.report.started_ms, &b.dir)));
    skipped.sort_by(|a, b| a.dir.cmp(&b.dir));
    Ok((runs, skipped))
}

/// The report of the run in `dir`, if `dir` holds one: its `report.json`,
/// else computed from its `journal.jsonl`.
fn read_one(dir: &Path) -> Option<Result<Report, String>> {
    let json = dir.join("report.json");
    let journal = dir.join("journal.jsonl");
    let from_json = json.is_file().then(|| {
        std::fs::read_to_string(&json)
            .map_err(|e| format!("cannot read report.json: {e}"))
            .and_then(|text| serde_json::from_str::<Report>(&text).map_err(|e| format!("report.json: {e}")))
    });
    match from_json {
        Some(Ok(report)) => Some(Ok(report)),
        // A report that cannot be read is rebuilt from the journal, if there is one.
        Some(Err(why)) if !journal.is_file() => Some(Err(why)),
        _ if journal.is_file() => Some(crate::report::from_file(&journal).map_err(|e| e.to_string())),
        _ => None,
    }
}

/// `dir` relative to `root`, `.` for the root itself.
fn relative(root: &Path, dir: &Path) -> String {
    match dir.strip_prefix(root) {
        Ok(p) if p.as_os_str().is_empty() => ".".into(),
        Ok(p) => p.display().to_string(),
        Err(_) => dir.display().to_string(),
    }
}
