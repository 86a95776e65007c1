//! The run controller: binds the experiment's listeners, drives the phases
//! on their timeline (swapping each target's faults at phase changes and
//! ramp steps), runs the load, watches the guardrails, and on any ending
//! (the timeline's end, a guardrail, an interrupt, a panic) clears every
//! fault, flushes the journal and writes the reports with the verdict.

pub mod guardrail;
pub mod progress;
pub mod schedule;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::experiment::{Experiment, Timeline};
use crate::fault::FaultSwitch;
use crate::proxy::Proxy;
use crate::record::fields;
use crate::record::journal::ExperimentInfo;
use crate::record::{Recorder, RunInfo};
use crate::report::{Report, Written};

/// How often guardrails are checked: a tripped one clears the faults
/// within this (plus the recorder's half a tick).
const GUARD_EVERY: Duration = Duration::from_millis(25);
/// How long in-flight requests may finish once the run is over.
const RUN_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Start(#[from] crate::proxy::StartError),
    #[error("cannot finish the journal: {0}")]
    Journal(#[source] std::io::Error),
    #[error(transparent)]
    Report(#[from] crate::report::JournalError),
    #[error("cannot write the reports: {0}")]
    Write(#[source] std::io::Error),
    #[error("load.target {0:?} is not an address brownout can send to")]
    LoadTarget(String),
}

/// What a finished run left behind.
pub struct Finished {
    /// `completed`, `aborted` or `interrupted`.
    pub outcome: String,
    pub report: Report,
    pub journal: PathBuf,
    pub written: Written,
}

impl Finished {
    /// The process exit status: 0 held, 1 deviated, 3 aborted or interrupted.
    pub fn exit_code(&self) -> u8 {
        match self.report.verdict.as_ref().map(|v| v.status.as_str()) {
            Some("held") | None => 0,
            Some("deviated") => 1,
            _ => 3,
        }
    }
}

/// The journal's first line for an experiment.
pub fn run_info(exp: &Experiment) -> RunInfo {
    let mut listeners: Vec<String> = exp.config.observer.iter().map(|o| o.name.clone()).collect();
    listeners.extend(exp.config.targets.iter().map(|t| t.name.clone()));
    if exp.load.is_some() {
        listeners.push(crate::load::LISTENER.into());
    }
    RunInfo {
        title: exp.title.clone(),
        seed: Some(exp.seed),
        listeners,
        experiment: Some(ExperimentInfo {
            hypothesis: exp.hypothesis.clone(),
            guardrails: exp.guardrails.iter().map(|g| g.describe()).collect(),
        }),
    }
}

/// Clears every fault when dropped, also while unwinding from a panic, so
/// that no ending leaves a fault active.
pub struct FailOpenGuard(Vec<Arc<FaultSwitch>>);

type FailOpen = FailOpenGuard;

impl FailOpenGuard {
    pub fn new(switches: Vec<Arc<FaultSwitch>>) -> Self {
        FailOpenGuard(switches)
    }
}

impl Drop for FailOpenGuard {
    fn drop(&mut self) {
        for s in &self.0 {
            s.clear();
        }
    }
}

/// Runs `exp` to its end. `recorder` must already be installed as a tracing
/// layer (its journal gets everything); `interrupt` stops the run early as
/// interrupted. The reports go next to the journal.
pub async fn run(
    exp: &Experiment,
    recorder: Recorder,
    interrupt: CancellationToken,
    show_progress: bool,
) -> Result<Finished, RunError> {
    let mut config = exp.config.clone();
    config.graceful = exp.graceful.clone();
    config.seed = Some(exp.seed);
    let proxy = Proxy::bind(&config).await?.with_live(recorder.live()).with_run_stop(interrupt.clone());
    let switches: Vec<(String, Arc<FaultSwitch>)> =
        config.targets.iter().filter_map(|t| proxy.switch(&t.name).map(|s| (t.name.clone(), s))).collect();
    let fail_open = FailOpenGuard::new(switches.iter().map(|(_, s)| s.clone()).collect());
    let user = if config.observer.is_some() {
        "observer".to_string()
    } else if exp.load.is_some() {
        crate::load::LISTENER.to_string()
    } else {
        config.targets.first().map_or_else(String::new, |t| t.name.clone())
    };
    let load_base = match &exp.load {
        Some(load) => Some(load_uri(&load.target, &proxy)?),
        None => None,
    };
    let stop_proxy = CancellationToken::new();
    let proxy_task = {
        let stop = stop_proxy.clone();
        tokio::spawn(proxy.run(async move { stop.cancelled().await }))
    };

    let timeline = Timeline::new(exp);
    let changes = timeline.changes(exp);
    let live = recorder.live();
    let start = Instant::now();
    let stop_load = CancellationToken::new();
    let load_task = match (&exp.load, load_base) {
        (Some(load), Some(base)) => Some(tokio::spawn(crate::load::drive(
            Arc::new(load.clone()),
            base,
            start,
            timeline.total,
            exp.seed,
            stop_load.clone(),
        ))),
        _ => None,
    };
    let mut progress = progress::Progress::new(show_progress);
    let mut next = 0;
    let mut phase: Option<usize> = None;
    let mut guard_tick = tokio::time::interval(GUARD_EVERY);
    let mut progress_tick = tokio::time::interval(Duration::from_secs(1));
    let outcome = loop {
        let next_change = changes.get(next).map(|t| start + *t);
        tokio::select! {
            () = async { tokio::time::sleep_until(next_change.expect("guarded by the branch condition")).await }, if next_change.is_some() => {
                let t = changes[next];
                next += 1;
                for (target, faults) in timeline.faults_at(exp, t) {
                    if let Some((_, switch)) = switches.iter().find(|(n, _)| *n == target) {
                        switch.set(faults);
                    }
                }
                let now_phase = timeline.phase_at(t);
                if now_phase != phase {
                    phase = now_phase;
                    if let Some(i) = phase {
                        let p = &exp.phases[i];
                        info!(
                            target: fields::RECORD,
                            record = fields::TYPE_PHASE,
                            { fields::PHASE_NAME } = p.name.as_str(),
                            { fields::PHASE_FAULTS } = p.faults.len() as u64,
                            "phase {} of {}: {}",
                            i + 1,
                            exp.phases.len(),
                            p.name
                        );
                    }
                }
            }
            () = tokio::time::sleep_until(start + timeline.total) => break "completed",
            () = tokio::time::sleep_until(start + exp.max_duration) => {
                abort(&fail_open, "max_duration", &format!("{:?}", exp.max_duration));
                break "aborted";
            }
            _ = guard_tick.tick() => {
                let now_s = (Instant::now() - start).as_secs();
                if let Some(tripped) = guardrail::check(&exp.guardrails, &live, &user, now_s) {
                    abort(&fail_open, &tripped.guardrail, &tripped.value);
                    break "aborted";
                }
            }
            _ = progress_tick.tick() => {
                let name = phase.map_or("", |i| exp.phases[i].name.as_str());
                progress.show(&live, &user, name, Instant::now() - start, timeline.total);
            }
            () = interrupt.cancelled() => {
                warn!("interrupted: clearing every fault and writing the reports");
                break "interrupted";
            }
        }
    };
    progress.finish();
    // Fail open first, then let what is in flight finish and record.
    drop(fail_open);
    stop_load.cancel();
    if let Some(task) = load_task {
        let _ = task.await;
    }
    stop_proxy.cancel();
    let _ = tokio::time::timeout(RUN_GRACE + Duration::from_secs(1), proxy_task).await;
    let journal = recorder.finish(outcome).map_err(RunError::Journal)?;
    let report = crate::report::from_file(&journal)?;
    let dir = journal.parent().map_or_else(|| PathBuf::from("."), PathBuf::from);
    let written = crate::report::write(&report, &dir).map_err(RunError::Write)?;
    Ok(Finished { outcome: outcome.to_string(), report, journal, written })
}

/// Clears every fault at once and records why the run stopped.
fn abort(fail_open: &FailOpen, guardrail: &str, value: &str) {
    for s in &fail_open.0 {
        s.clear();
    }
    warn!(
        target: fields::RECORD,
        record = fields::TYPE_ABORT,
        { fields::GUARDRAIL } = guardrail,
        { fields::GUARDRAIL_VALUE } = value,
        "aborted by guardrail {guardrail}: {value}"
    );
}

fn load_uri(target: &str, proxy: &Proxy) -> Result<Uri, RunError> {
    if target.starts_with("http://") {
        return target.parse().map_err(|_| RunError::LoadTarget(target.into()));
    }
    let addr = proxy.local_addr(target).ok_or_else(|| RunError::LoadTarget(target.into()))?;
    format!("http://{addr}").parse().map_err(|_| RunError::LoadTarget(target.into()))
}
