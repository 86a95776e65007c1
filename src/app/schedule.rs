//! `brownout schedule`: the experiments of a directory run on their cron
//! schedules, one at a time, each in a child process so that a failing run
//! never stops the schedule; with a scoreboard, each run is written under
//! its directory and the scoreboard rebuilt after it.

use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::config::FileError;
use crate::experiment::schedule::{Cron, Zone};
use crate::standards::Lookup;

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

/// Every experiment of `dir` with a schedule, by path, with the standards
/// `standards` finds. Any invalid experiment file in `dir` stops the
/// schedule before it starts; a `standards.toml` there is no experiment.
pub fn schedule(dir: &Path, standards: &Lookup) -> Result<Vec<Scheduled>, ScheduleError> {
    let read = |source| ScheduleError::Read { dir: dir.display().to_string(), source };
    let mut entries = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(read)? {
        let path = entry.map_err(read)?.path();
        if path.extension().is_none_or(|e| e != "toml")
            || path.file_name().is_some_and(|n| n == crate::standards::FILE_NAME)
        {
            continue;
        }
        let exp = crate::experiment::load_with(&path, standards)?;
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

/// Where scheduled runs go and what happens after each.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The `brownout` binary each run is a child process of.
    pub exe: PathBuf,
    /// Each run writes into `<runs>/<UTC time>-<experiment file stem>`.
    pub runs: PathBuf,
    /// Rebuild the scoreboard of `runs` after each run.
    pub scoreboard: bool,
    /// `--standards FILE`, passed on to each run.
    pub standards: Option<PathBuf>,
}

/// Runs due experiments one at a time, for ever (or until none is ever due again).
pub fn run_forever(entries: &[Scheduled], plan: &Plan) -> std::io::Result<()> {
    loop {
        let now = SystemTime::now();
        let Some((when, path)) =
            entries.iter().filter_map(|e| e.next_after(now).map(|t| (t, &e.path))).min_by_key(|(t, _)| *t)
        else {
            return Ok(());
        };
        tracing::info!(experiment = %path.display(), "next run at {}", shown(when));
        std::thread::sleep(when.duration_since(SystemTime::now()).unwrap_or_default());
        run_once(path, plan);
    }
}

/// Runs one experiment as `brownout run FILE --run-dir DIR --quiet`, then
/// rebuilds the scoreboard if the plan says so. Returns the run's
/// directory and exit status (`None`: it could not start, or a signal
/// killed it).
pub fn run_once(path: &Path, plan: &Plan) -> (PathBuf, Option<i32>) {
    let stem = path.file_stem().map_or_else(String::new, |s| format!("-{}", s.to_string_lossy()));
    let name = format!("{}{stem}", super::utc_stamp());
    // Stamps are to the second: a second run within it gets a folder of its own.
    let dir = (1..100)
        .map(|n| plan.runs.join(if n == 1 { name.clone() } else { format!("{name}-{n}") }))
        .find(|d| !d.exists())
        .unwrap_or_else(|| plan.runs.join(format!("{name}-{}", std::process::id())));
    let mut command = std::process::Command::new(&plan.exe);
    command.arg("run").arg(path).arg("--run-dir").arg(&dir).arg("--quiet");
    if let Some(f) = &plan.standards {
        command.arg("--standards").arg(f);
    }
    let code = match command.status() {
        Ok(s) => {
            // A run killed by a signal has no exit code: say so rather than print `None`.
            let status = s.code().map_or_else(|| "killed by a signal".to_string(), |c| c.to_string());
            tracing::info!(experiment = %path.display(), %status, dir = %dir.display(), "run finished");
            s.code()
        }
        Err(e) => {
            tracing::warn!(experiment = %path.display(), error = %e, "run could not start");
            None
        }
    };
    if plan.scoreboard {
        match crate::scoreboard::rebuild(&plan.runs) {
            Ok((_, written)) => tracing::info!(scoreboard = %written.html.display(), "scoreboard rebuilt"),
            // A scoreboard that cannot be written never stops the schedule.
            Err(e) => tracing::warn!(error = %e, "scoreboard not rebuilt"),
        }
    }
    (dir, code)
}

fn shown(t: SystemTime) -> String {
    jiff::Timestamp::try_from(t).map_or_else(|_| "?".into(), |t| t.to_string())
}
