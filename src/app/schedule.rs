//! `brownout schedule`: the experiments of a directory run on their cron
//! schedules, one at a time, each in a child process so that a failing run
//! never stops the schedule.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::config::FileError;
use crate::experiment::schedule::{Cron, Zone};

/// An experiment file with a `[schedule]`.
pub struct Scheduled {
    pub path: PathBuf,
    cron: Cron,
    zone: Zone,
}

impl Scheduled {
    /// The next time it is due after `now`, if ever.
    pub fn next_after(&self, now: SystemTime) -> Option<SystemTime> {
        self.cron.next_after(now, &self.zone)
    }

    /// The next time it is due, in its own time zone, for people.
    pub fn next_shown(&self, now: SystemTime) -> String {
        self.next_after(now).map_or("never".into(), |t| {
            jiff::Timestamp::try_from(t).map_or("?".into(), |t| t.to_zoned(self.zone.0.clone()).to_string())
        })
    }
}

/// Why a directory could not be scheduled.
#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error("cannot read {dir}: {source}")]
    Read {
        dir: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    File(#[from] FileError),
    #[error("{0}: no experiment has a [schedule]")]
    Nothing(String),
}

/// Every experiment of `dir` with a schedule, by path. Any invalid
/// experiment file in `dir` stops the schedule before it starts.
pub fn schedule(dir: &Path) -> Result<Vec<Scheduled>, ScheduleError> {
    let read = |source| ScheduleError::Read { dir: dir.display().to_string(), source };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let exp = crate::experiment::load(&path)?;
        if let Some(s) = &exp.schedule {
            // Validation has parsed both already; a failure here would be a bug there.
            let (Ok(cron), Ok(zone)) = (Cron::parse(&s.cron), Zone::parse(&s.timezone)) else { continue };
            entries.push(Scheduled { path, cron, zone });
        }
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    if entries.is_empty() {
        return Err(ScheduleError::Nothing(dir.display().to_string()));
    }
    Ok(entries)
}

/// Runs due experiments one at a time, for ever (or until none is ever due
/// again), each as `brownout run FILE --run-dir <runs>/<UTC time> --quiet`.
pub fn run_forever(entries: &[Scheduled], runs: &Path) -> std::io::Result<()> {
    let exe = std::env::current_exe()?;
    loop {
        let now = SystemTime::now();
        let Some((when, path)) =
            entries.iter().filter_map(|e| e.next_after(now).map(|t| (t, &e.path))).min_by_key(|(t, _)| *t)
        else {
            return Ok(());
        };
        tracing::info!(experiment = %path.display(), "next run at {}", shown(when));
        std::thread::sleep(when.duration_since(SystemTime::now()).unwrap_or_default());
        let dir = runs.join(super::utc_stamp());
        let status =
            std::process::Command::new(&exe).arg("run").arg(path).arg("--run-dir").arg(&dir).arg("--quiet").status();
        match status {
            Ok(s) => {
                // A run killed by a signal has no exit code: say so rather than print `None`.
                let status = s.code().map_or_else(|| "killed by a signal".to_string(), |c| c.to_string());
                tracing::info!(experiment = %path.display(), %status, dir = %dir.display(), "run finished")
            }
            Err(e) => tracing::warn!(experiment = %path.display(), error = %e, "run could not start"),
        }
    }
}

fn shown(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).map_or_else(|_| "?".into(), |t| t.to_string())
}
