//! Experiments: one TOML file describes a whole game day (targets, phases
//! with their faults, the hypothesis, guardrails, load and schedule). This
//! module parses and validates it; [`timeline`] says, purely, which faults
//! are in force when.
//!
//! `raw.rs` mirrors the file for serde, `validate/` turns it into the model
//! of `model.rs` (with what it inherits of the [`standards`](crate::standards)),
//! `timeline.rs` places the phases and ramps in time, `schedule.rs` reads
//! cron schedules and time zones, and `describe.rs` says what was
//! understood. This file holds the entry points.

mod describe;
mod model;
pub(crate) mod raw;
pub mod schedule;
pub mod timeline;
mod validate;

use std::path::Path;

use crate::config::{self, Config, FileError, Locator};
use crate::standards::Lookup;

pub use model::*;
pub use timeline::Timeline;
pub use validate::parse_percent;

/// Reads and validates an experiment file, with the standards found the
/// usual way (`BROWNOUT_STANDARDS`, else `standards.toml` beside the
/// experiment or its config).
pub fn load(path: &Path) -> Result<Experiment, FileError> {
    load_with(path, &Lookup::default())
}

/// Reads and validates an experiment file with the standards `lookup` finds.
pub fn load_with(path: &Path, lookup: &Lookup) -> Result<Experiment, FileError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| FileError::Read { file: path.display().to_string(), source })?;
    parse_with(&path.display().to_string(), &text, path.parent(), lookup)
}

/// True when a TOML text looks like an experiment (it has phases or a title).
pub fn looks_like_experiment(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("[[phase]]") || l.starts_with("title")
    })
}

/// Validates experiment text without standards; `file` names it in
/// messages and `base_dir` anchors relative paths such as `config`.
pub fn parse(file: &str, text: &str, base_dir: Option<&Path>) -> Result<Experiment, FileError> {
    parse_with(file, text, base_dir, &Lookup::Off)
}

/// Like [`parse`], inheriting the standards `lookup` finds.
pub fn parse_with(file: &str, text: &str, base_dir: Option<&Path>, lookup: &Lookup) -> Result<Experiment, FileError> {
    let loc = Locator { file, text };
    let raw: raw::RawExperiment = config::deserialize(&loc)?;
    validate::Validator::new(&loc, base_dir, None).with_standards(lookup.clone()).experiment(raw)
}

/// Like [`parse_with`], for a proxy that is already serving `serving`: an
/// experiment that names no config and declares no targets runs on the
/// serving ones.
pub fn parse_for(
    file: &str,
    text: &str,
    base_dir: Option<&Path>,
    serving: &Config,
    lookup: &Lookup,
) -> Result<Experiment, FileError> {
    let loc = Locator { file, text };
    let raw: raw::RawExperiment = config::deserialize(&loc)?;
    validate::Validator::new(&loc, base_dir, Some(serving)).with_standards(lookup.clone()).experiment(raw)
}
