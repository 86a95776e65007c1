//! The run controller: drives an experiment's phases on their timeline
//! over the [`Controls`] of a bound proxy (swapping each target's faults at
//! phase changes and ramp steps), runs the load, watches the guardrails,
//! and on any ending (the timeline's end, a guardrail, an interrupt, a
//! panic) clears every fault, flushes the journal and writes the reports
//! with the verdict. It binds nothing: the `app` module binds the listeners
//! and hands the controls in.
//!
//! `guardrail.rs` evaluates the guardrails, `progress.rs` draws the live
//! progress line, and `registry.rs` keeps the runs of a process and starts
//! runs for the admin API.

pub mod guardrail;
pub mod progress;
mod registry;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use http::Uri;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use crate::experiment::{Experiment, Timeline};
use crate::fault::FaultSwitch;
use crate::record::classify::GracefulRules;
use crate::record::fields;
use crate::record::inflight::InFlight;
use crate::record::journal::{ExperimentInfo, Outcome};
use crate::record::{Recorder, RunInfo};
use crate::report::{Report, Written};

pub use registry::{Launcher, RunHandle, Runs, StartRunError};

/// How often guardrails are checked: a tripped one clears the faults
/// within this (plus the recorder's half a tick).
const GUARD_EVERY: Duration = Duration::from_millis(25);
/// How long a stopped run's controller may take to wind down (clear its
/// faults, wait for its load) before it is cut off.
const STOP_WITHIN: Duration = Duration::from_millis(800);

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cannot finish the journal: {0}")]
    Journal(#[source] std::io::Error),
    #[error(transparent)]
    Report(#[from] crate::report::RebuildError),
    #[error("load.target {0:?} is not an address brownout can send to")]
    LoadTarget(String),
}

/// What a finished run left behind.
pub struct Finished {
    pub outcome: Outcome,
    /// Why the run failed, when its outcome is `failed`.
    pub error: Option<String>,
    pub report: Report,
    pub journal: PathBuf,
    pub written: Written,
}

impl Finished {
    /// The process exit status: 0 held, 1 deviated, 3 aborted or interrupted.
    pub fn exit_code(&self) -> u8 {
        self.report.verdict.as_ref().map_or(0, |v| v.status.exit_code())
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
            file: Some(exp.file.clone()),
            sha256: Some(exp.sha256.clone()),
            service: exp.service.clone(),
            standards: exp.standards.as_ref().map(|s| s.info(exp.service.as_deref())),
            schedule: exp
                .schedule
                .as_ref()
                .map(|s| crate::record::journal::ScheduleInfo { cron: s.cron.clone(), timezone: s.timezone.clone() }),
        }),
    }
}

/// Clears every fault when dropped, also while unwinding from a panic, so
/// that no ending leaves a fault active.
pub struct FailOpenGuard(Vec<Arc<FaultSwitch>>);

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

/// What a run drives: the fault switches of a bound proxy's targets, the
/// addresses of its listeners, and the observer's classification rules.
#[derive(Clone, Default)]
pub struct Controls {
    pub targets: Vec<ControlledTarget>,
    /// Each listener's name (`observer` or a target's) and address: where
    /// the load driver can send.
    pub addrs: Vec<(String, SocketAddr)>,
    /// The requests in flight at each HTTP listener, for the guardrails.
    pub in_flight: Vec<(String, Arc<InFlight>)>,
    pub rules: Option<Arc<ArcSwap<GracefulRules>>>,
}

/// One target a run can set faults on.
#[derive(Clone)]
pub struct ControlledTarget {
    pub name: String,
    pub protocol: &'static str,
    pub switch: Arc<FaultSwitch>,
}

impl Controls {
    fn switch(&self, name: &str) -> Option<&Arc<FaultSwitch>> {
        self.targets.iter().find(|t| t.name == name).map(|t| &t.switch)
    }

    /// Why `exp` cannot run here: a target it declares that this proxy does
    /// not serve (by name and protocol), or a load target it cannot reach.
    pub fn unfit(&self, exp: &Experiment) -> Option<String> {
        let serving =
            || self.targets.iter().map(|t| format!("{} ({})", t.name, t.protocol)).collect::<Vec<_>>().join(", ");
        for t in &exp.config.targets {
            match self.targets.iter().find(|s| s.name == t.name) {
                None => {
                    return Some(format!(
                        "the experiment's target {:?} is not served by this proxy; it serves {}",
                        t.name,
                        serving()
                    ))
                }
                Some(s) if s.protocol != t.protocol_name() => {
                    return Some(format!(
                        "the experiment's target {:?} is {} but this proxy serves it as {}",
                        t.name,
                        t.protocol_name(),
                        s.protocol
                    ))
                }
                Some(_) => {}
            }
        }
        if exp.config.observer.is_some() && self.rules.is_none() {
            return Some("the experiment has an observer but this proxy serves none".into());
        }
        match &exp.load {
            Some(load) if !load.target.starts_with("http://") && !self.addrs.iter().any(|(n, _)| *n == load.target) => {
                Some(format!("load.target {:?} is not a listener of this proxy", load.target))
            }
            _ => None,
        }
    }
}

/// Flushes the journal with how the run ended and writes the reports next to it.
pub fn finish(recorder: Recorder, ending: Ending) -> Result<Finished, RunError> {
    let journal = recorder.finish(ending.outcome).map_err(RunError::Journal)?;
    let (report, written) = crate::report::rebuild(&journal, None)?;
    Ok(Finished { outcome: ending.outcome, error: ending.error, report, journal, written })
}

/// How a supervised run ended, and why, when it failed.
#[derive(Debug, Clone, PartialEq)]
pub struct Ending {
    pub outcome: Outcome,
    pub error: Option<String>,
}

/// Drives `exp` (see [`drive`]) in a task of its own, so that the run ends
/// whatever happens in it: an error or a panic ends it as `failed` (the
/// fail-open guard clears its faults as the task unwinds), and once
/// `handle.stop` is cancelled the controller has `STOP_WITHIN` to wind
/// down before it is cut off, its faults cleared all the same.
pub async fn supervise(
    exp: Arc<Experiment>,
    controls: Controls,
    handle: Arc<RunHandle>,
    show_progress: bool,
) -> Ending {
    let stop = handle.stop.clone();
    watch(tokio::spawn(async move { drive(&exp, &controls, &handle, show_progress).await }), stop).await
}

/// Waits for a run controller's task: its outcome, or `failed` with why.
async fn watch(mut task: tokio::task::JoinHandle<Result<Outcome, RunError>>, stop: CancellationToken) -> Ending {
    let joined = tokio::select! {
        joined = &mut task => joined,
        () = stop.cancelled() => match tokio::time::timeout(STOP_WITHIN, &mut task).await {
            Ok(joined) => joined,
            Err(_) => {
                warn!("the run did not wind down within {STOP_WITHIN:?} of its stop; cut off, its faults cleared");
                task.abort();
                let _ = task.await;
                return Ending { outcome: Outcome::Interrupted, error: None };
            }
        },
    };
    let failed = |error: String| {
        warn!(%error, "the run failed; every fault was cleared");
        Ending { outcome: Outcome::Failed, error: Some(error) }
    };
    match joined {
        Ok(Ok(outcome)) => Ending { outcome, error: None },
        Ok(Err(e)) => failed(e.to_string()),
        Err(e) if e.is_panic() => failed(format!("the run controller panicked: {}", panic_message(e.into_panic()))),
        Err(e) => failed(format!("the run controller stopped: {e}")),
    }
}

/// The text a panic was raised with, when it was text.
fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    match payload.downcast::<String>() {
        Ok(s) => *s,
        Err(payload) => payload.downcast_ref::<&str>().map_or_else(|| "(no message)".into(), |s| s.to_string()),
    }
}

/// Drives `exp` on `controls` until its timeline ends, a guardrail trips, it
/// outlives `max_duration` or `handle.stop` is cancelled; then clears every
/// fault and waits for the load to finish. Returns the outcome.
pub async fn drive(
    exp: &Experiment,
    controls: &Controls,
    handle: &RunHandle,
    show_progress: bool,
) -> Result<Outcome, RunError> {
    let live = handle.live.clone();
    let switches: Vec<(String, Arc<FaultSwitch>)> = exp
        .config
        .targets
        .iter()
        .filter_map(|t| controls.switch(&t.name).map(|s| (t.name.clone(), s.clone())))
        .collect();
    let load_base = match &exp.load {
        Some(load) => Some(load_uri(&load.target, controls)?),
        None => None,
    };
    for (_, switch) in &switches {
        switch.reseed(exp.seed);
    }
    let rules_before = controls.rules.as_ref().map(|r| r.swap(Arc::new(exp.graceful.clone())));
    let fail_open = FailOpenGuard::new(switches.iter().map(|(_, s)| s.clone()).collect());
    let timeline = Timeline::new(exp);
    let changes = timeline.changes(exp);
    let start = Instant::now();
    handle.started(start);
    // The load driver's requests in flight, for guardrails on its listener.
    let load_in_flight = InFlight::new();
    let in_flight = if handle.listener == crate::load::LISTENER {
        Some(load_in_flight.clone())
    } else {
        controls.in_flight.iter().find(|(name, _)| *name == handle.listener).map(|(_, f)| f.clone())
    };
    let guards = guardrail::Guards::watch(&exp.guardrails, &live, &handle.listener, in_flight);
    let stop_load = CancellationToken::new();
    // The load stops with the controller, whichever way it ends (a panic included).
    let _stop_load_on_drop = stop_load.clone().drop_guard();
    let load_task = match (&exp.load, load_base) {
        (Some(load), Some(base)) => Some(tokio::spawn(crate::load::drive(
            Arc::new(load.clone()),
            base,
            start,
            timeline.total,
            exp.seed,
            load_in_flight,
            stop_load.clone(),
        ))),
        _ => None,
    };
    let interrupt = handle.stop.clone();
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
                    handle.phase(phase);
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
            () = tokio::time::sleep_until(start + timeline.total) => break Outcome::Completed,
            () = tokio::time::sleep_until(start + exp.max_duration) => {
                abort(&fail_open, "max_duration", &format!("{:?}", exp.max_duration));
                break Outcome::Aborted;
            }
            _ = guard_tick.tick() => {
                let states = guards.evaluate();
                let tripped = states.iter().find(|g| g.tripped).cloned();
                handle.guardrails(states);
                if let Some(tripped) = tripped {
                    abort(&fail_open, &tripped.guardrail, tripped.value.as_deref().unwrap_or(""));
                    break Outcome::Aborted;
                }
            }
            _ = progress_tick.tick() => {
                let name = phase.map_or("", |i| exp.phases[i].name.as_str());
                let began = phase.map_or(Duration::ZERO, |i| timeline.spans[i].start);
                progress.show(&live, &handle.listener, name, began, Instant::now() - start, timeline.total);
            }
            () = interrupt.cancelled() => {
                warn!("interrupted: clearing every fault and writing the reports");
                break Outcome::Interrupted;
            }
        }
    };
    progress.finish();
    handle.stopping();
    // Fail open first, then let what is in flight finish and record.
    drop(fail_open);
    if let (Some(rules), Some(before)) = (&controls.rules, rules_before) {
        rules.store(before);
    }
    stop_load.cancel();
    if let Some(task) = load_task {
        let _ = task.await;
    }
    Ok(outcome)
}

/// Clears every fault at once and records why the run stopped.
fn abort(fail_open: &FailOpenGuard, guardrail: &str, value: &str) {
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

fn load_uri(target: &str, controls: &Controls) -> Result<Uri, RunError> {
    if target.starts_with("http://") {
        return target.parse().map_err(|_| RunError::LoadTarget(target.into()));
    }
    let addr = controls
        .addrs
        .iter()
        .find(|(n, _)| n == target)
        .map(|(_, a)| *a)
        .ok_or_else(|| RunError::LoadTarget(target.into()))?;
    format!("http://{addr}").parse().map_err(|_| RunError::LoadTarget(target.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_controller_that_panics_ends_the_run_as_failed_with_the_panic_message() {
        let task = tokio::spawn(async {
            if std::hint::black_box(true) {
                panic!("overflow when adding duration to instant");
            }
            Ok(Outcome::Completed)
        });
        let ending = watch(task, CancellationToken::new()).await;
        assert_eq!(ending.outcome, Outcome::Failed);
        assert_eq!(
            ending.error.as_deref(),
            Some("the run controller panicked: overflow when adding duration to instant")
        );
    }

    #[tokio::test]
    async fn a_controller_that_fails_ends_the_run_as_failed_with_the_error() {
        let task = tokio::spawn(async { Err(RunError::LoadTarget("nowhere".into())) });
        let ending = watch(task, CancellationToken::new()).await;
        assert_eq!(ending.outcome, Outcome::Failed);
        assert_eq!(ending.error.as_deref(), Some("load.target \"nowhere\" is not an address brownout can send to"));
    }

    #[tokio::test(start_paused = true)]
    async fn a_stopped_controller_that_does_not_wind_down_is_cut_off_within_a_second() {
        let stop = CancellationToken::new();
        let task = tokio::spawn(async {
            // A controller wedged on something that never comes.
            std::future::pending::<()>().await;
            Ok(Outcome::Completed)
        });
        let started = tokio::time::Instant::now();
        stop.cancel();
        let ending = watch(task, stop).await;
        assert_eq!(ending.outcome, Outcome::Interrupted);
        assert!(started.elapsed() <= Duration::from_secs(1), "took {:?}", started.elapsed());
    }
}
