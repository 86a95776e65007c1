//! The runs a process knows of: the one in progress (at most one) and the
//! finished ones, each with its live state for the admin API. A long-running
//! proxy also has a [`Launcher`]: what it takes to start a run on its own
//! targets, recorded in a journal of its own.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use super::guardrail::GuardState;
use super::progress::Figures;
use super::{finish, run_info, supervise, Controls, Finished, RunError};
use crate::experiment::{Experiment, Timeline};
use crate::fault::Fault;
use crate::record::journal::Outcome;
use crate::record::{Live, RecordLayer, Recorder};
use crate::report::verdict::Status;
use crate::report::Written;

/// How long a run started through the API waits, once over, for requests
/// still in flight to reach its journal.
const SETTLE: Duration = Duration::from_millis(250);

/// What a proxy needs to start runs on itself.
pub struct Launcher {
    pub controls: Controls,
    /// The layer installed for the process: each run attaches its recorder.
    pub layer: RecordLayer,
    /// Each run writes into `<dir>/run-<id>`.
    pub dir: PathBuf,
    /// The config being served: an experiment that declares no targets runs on its.
    pub config: crate::config::Config,
    /// Where the standards of experiments started through the API come from.
    pub standards: crate::standards::Lookup,
}

/// Why a run did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartRunError {
    #[error("run {id} ({title:?}) is already in progress; stop it with POST /run/stop or wait for it to end")]
    Busy { id: u64, title: String },
    #[error("this brownout was started for one experiment and cannot start another")]
    NoLauncher,
    #[error("{0}")]
    Unfit(String),
    #[error("cannot write a journal in {dir}: {source}")]
    Journal { dir: String, source: std::io::Error },
}

/// Every run of this process. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct Runs {
    list: Mutex<Vec<Arc<RunHandle>>>,
    launcher: Option<Launcher>,
}

impl Runs {
    pub fn new(launcher: Option<Launcher>) -> Arc<Runs> {
        Arc::new(Runs { list: Mutex::default(), launcher })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Arc<RunHandle>>> {
        self.list.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The run in progress, if any.
    pub fn current(&self) -> Option<Arc<RunHandle>> {
        self.lock().iter().find(|r| !r.is_over()).cloned()
    }

    pub fn get(&self, id: u64) -> Option<Arc<RunHandle>> {
        self.lock().iter().find(|r| r.id == id).cloned()
    }

    /// Every run, oldest first.
    pub fn all(&self) -> Vec<Arc<RunHandle>> {
        self.lock().clone()
    }

    /// Adds the run `make` builds with the next id, unless one is in progress.
    pub fn register(&self, make: impl FnOnce(u64) -> RunHandle) -> Result<Arc<RunHandle>, StartRunError> {
        let mut list = self.lock();
        if let Some(busy) = list.iter().find(|r| !r.is_over()) {
            return Err(StartRunError::Busy { id: busy.id, title: busy.title.clone() });
        }
        let handle = Arc::new(make(list.len() as u64 + 1));
        list.push(handle.clone());
        Ok(handle)
    }

    /// The config being served, if this process can start runs.
    pub fn serving(&self) -> Option<&crate::config::Config> {
        self.launcher.as_ref().map(|l| &l.config)
    }

    /// Where the standards of runs started through the API come from (none
    /// for a registry without a launcher, which starts no runs).
    pub fn standards(&self) -> &crate::standards::Lookup {
        const OFF: &crate::standards::Lookup = &crate::standards::Lookup::Off;
        self.launcher.as_ref().map_or(OFF, |l| &l.standards)
    }

    /// Stops a run started through the API and waits (up to `limit`) for
    /// its reports, so that shutting the proxy down loses no run.
    pub async fn stop_launched(&self, limit: Duration) {
        let Some(run) = self.launcher.as_ref().and_then(|_| self.current()) else {
            return;
        };
        run.stop.cancel();
        let deadline = Instant::now() + limit;
        while !run.is_over() && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Starts `exp` on this proxy's own targets and returns at once; the
    /// run goes on in a task of its own and writes its reports when over.
    pub fn launch(&self, exp: Experiment) -> Result<Arc<RunHandle>, StartRunError> {
        let launcher = self.launcher.as_ref().ok_or(StartRunError::NoLauncher)?;
        if let Some(why) = launcher.controls.unfit(&exp) {
            return Err(StartRunError::Unfit(why));
        }
        let mut recorder = None;
        let handle = self.register(|id| {
            let dir = launcher.dir.join(format!("run-{id}"));
            let started = Recorder::start(&dir, run_info(&exp))
                .map_err(|source| StartRunError::Journal { dir: dir.display().to_string(), source });
            let live = started.as_ref().map_or_else(|_| Arc::new(Live::default()), Recorder::live);
            recorder = Some(started);
            RunHandle::new(id, &exp, dir, live, CancellationToken::new())
        })?;
        let recorder = match recorder.expect("set by register") {
            Ok(recorder) => recorder,
            Err(e) => {
                handle.end_with_error(&e.to_string());
                return Err(e);
            }
        };
        let (controls, layer, run) = (launcher.controls.clone(), launcher.layer.clone(), handle.clone());
        info!(run = run.id, title = %exp.title, dir = %run.dir.display(), "run started through the admin API");
        tokio::spawn(async move {
            // The faults standing before the run come back after it.
            let before: Vec<(Arc<crate::fault::FaultSwitch>, Vec<Fault>)> = exp
                .config
                .targets
                .iter()
                .filter_map(|t| controls.targets.iter().find(|s| s.name == t.name))
                .map(|t| (t.switch.clone(), t.switch.load().faults.iter().map(|a| a.fault.clone()).collect()))
                .collect();
            let sink = recorder.sink();
            layer.attach(sink.clone());
            let ending = supervise(Arc::new(exp.clone()), controls, run.clone(), false).await;
            tokio::time::sleep(SETTLE).await;
            layer.detach(&sink);
            for (switch, faults) in before {
                if !faults.is_empty() {
                    switch.set(faults);
                }
            }
            let finished = tokio::task::spawn_blocking(move || finish(recorder, ending))
                .await
                .unwrap_or_else(|e| Err(RunError::Journal(std::io::Error::other(e.to_string()))));
            if let Err(e) = &finished {
                warn!(run = run.id, error = %e, "the run could not finish its reports");
            }
            run.end(&finished);
        });
        Ok(handle)
    }
}

/// One run: what it is, and where it stands.
pub struct RunHandle {
    pub id: u64,
    pub title: String,
    pub file: String,
    pub seed: u64,
    /// Where its journal and reports go.
    pub dir: PathBuf,
    pub live: Arc<Live>,
    /// Cancelled to stop the run early (as interrupted).
    pub stop: CancellationToken,
    /// The listener whose figures stand for the users: the observer, the
    /// load driver or the first target.
    pub listener: String,
    total: Duration,
    phases: Vec<(String, Duration)>,
    created: SystemTime,
    state: Mutex<RunState>,
}

#[derive(Default)]
struct RunState {
    started: Option<Instant>,
    phase: Option<usize>,
    stopping: bool,
    guardrails: Vec<GuardState>,
    ended: Option<Ended>,
}

struct Ended {
    /// `None`: the run failed before it could finish its reports.
    outcome: Option<Outcome>,
    verdict: Option<Status>,
    reports: Option<Written>,
    error: Option<String>,
    took: Duration,
}

impl RunHandle {
    pub fn new(id: u64, exp: &Experiment, dir: PathBuf, live: Arc<Live>, stop: CancellationToken) -> RunHandle {
        let listener = if exp.config.observer.is_some() {
            "observer".to_string()
        } else if exp.load.is_some() {
            crate::load::LISTENER.to_string()
        } else {
            exp.config.targets.first().map_or_else(String::new, |t| t.name.clone())
        };
        RunHandle {
            id,
            title: exp.title.clone(),
            file: exp.file.clone(),
            seed: exp.seed,
            dir,
            live,
            stop,
            listener,
            total: Timeline::new(exp).total,
            phases: exp.phases.iter().map(|p| (p.name.clone(), p.duration)).collect(),
            created: SystemTime::now(),
            state: Mutex::default(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, RunState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Over: its reports are written (or could not be).
    pub fn is_over(&self) -> bool {
        self.lock().ended.is_some()
    }

    pub(super) fn started(&self, at: Instant) {
        self.lock().started = Some(at);
    }

    pub(super) fn phase(&self, phase: Option<usize>) {
        self.lock().phase = phase;
    }

    pub(super) fn stopping(&self) {
        self.lock().stopping = true;
    }

    pub(super) fn guardrails(&self, states: Vec<GuardState>) {
        self.lock().guardrails = states;
    }

    pub fn end(&self, finished: &Result<Finished, RunError>) {
        let mut state = self.lock();
        let took = state.started.map_or(Duration::ZERO, |s| s.elapsed());
        state.ended = Some(match finished {
            Ok(f) => Ended {
                outcome: Some(f.outcome),
                verdict: f.report.verdict.as_ref().map(|v| v.status),
                reports: Some(f.written.clone()),
                error: f.error.clone(),
                took,
            },
            Err(e) => Ended { outcome: None, verdict: None, reports: None, error: Some(e.to_string()), took },
        });
    }

    fn end_with_error(&self, error: &str) {
        self.lock().ended = Some(Ended {
            outcome: None,
            verdict: None,
            reports: None,
            error: Some(error.to_string()),
            took: Duration::ZERO,
        });
    }

    /// The journal, for a report of the run so far.
    pub fn journal(&self) -> PathBuf {
        self.dir.join("journal.jsonl")
    }

    /// The written reports, once the run is over.
    pub fn reports(&self) -> Option<Written> {
        self.lock().ended.as_ref().and_then(|e| e.reports.clone())
    }

    /// Where the run stands, as the admin API shows it.
    pub fn status(&self) -> Value {
        let state = self.lock();
        let elapsed = match (&state.ended, state.started) {
            (Some(e), _) => e.took,
            (None, Some(s)) => s.elapsed(),
            (None, None) => Duration::ZERO,
        };
        let status = match (&state.ended, state.stopping) {
            (Some(e), _) => e.outcome.map_or("failed", Outcome::as_str),
            (None, true) => "stopping",
            (None, false) => "running",
        };
        let phase = state.phase.map(|i| json!({"name": self.phases[i].0, "index": i + 1, "of": self.phases.len()}));
        let created = self.created.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
        let mut v = json!({
            "id": self.id,
            "title": self.title,
            "file": self.file,
            "seed": self.seed,
            "dir": self.dir.display().to_string(),
            "started_ms": created,
            "status": status,
            "phase": phase,
            "phases": self.phases.iter().map(|(n, d)| json!({"name": n, "duration_s": d.as_secs_f64()})).collect::<Vec<_>>(),
            "elapsed_s": round(elapsed.as_secs_f64()),
            "total_s": round(self.total.as_secs_f64()),
            "left_s": round(self.total.saturating_sub(elapsed).as_secs_f64()),
            "figures": self.figures(state.phase, elapsed),
            "guardrails": state.guardrails,
            "reports": {
                "json": format!("/runs/{}/report", self.id),
                "markdown": format!("/runs/{}/report.md", self.id),
                "html": format!("/runs/{}/report.html", self.id),
            },
        });
        if let Some(e) = &state.ended {
            v["verdict"] = json!(e.verdict);
            if let Some(error) = &e.error {
                v["error"] = json!(error);
            }
        }
        v
    }

    /// The last seconds' figures of the phase in progress (the window
    /// restarts at each phase boundary, as on the terminal; `null` while
    /// the phase has no whole second yet); before and after the phases,
    /// the run's last seconds.
    fn figures(&self, phase: Option<usize>, elapsed: Duration) -> Value {
        let Some(index) = phase else {
            return json!(Figures::recent(&self.live, &self.listener, elapsed.as_secs()));
        };
        let start: Duration = self.phases.iter().take(index).map(|(_, d)| *d).sum();
        json!(Figures::in_phase(&self.live, &self.listener, start, elapsed))
    }
}

fn round(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}
