//! The verdict on an experiment's hypothesis: checks computed from what the
//! journal recorded, per phase.

use serde::{Deserialize, Serialize};

use super::model::{Sample, Stats};
use crate::record::journal::{GracefulCheck, Outcome, Slo, UncheckedPolicy};

/// How a run ended and whether its hypothesis held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: Status,
    pub checks: Vec<CheckResult>,
    pub abort: Option<AbortInfo>,
    /// User journeys that degraded with no rule covering them.
    #[serde(default)]
    pub unchecked: Vec<Unchecked>,
    /// What they do to the verdict: `warn` (listed) or `fail` (deviated).
    #[serde(default)]
    pub unchecked_policy: UncheckedPolicy,
    /// Why the run proves nothing, when it does not: a fault never applied,
    /// a listener that saw nothing.
    #[serde(default)]
    pub inconclusive: Vec<Inconclusive>,
}

impl Verdict {
    /// The checks that failed.
    pub fn failed(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| !c.passed)
    }

    /// The checks that judged something (the rest passed with nothing to judge).
    pub fn measured(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| !c.vacuous)
    }

    /// The checks that passed only because nothing they judge happened.
    pub fn vacuous(&self) -> impl Iterator<Item = &CheckResult> {
        self.checks.iter().filter(|c| c.vacuous)
    }
}

/// A user journey that failed or slowed in a phase with no rule of the
/// hypothesis covering it: shown under every verdict, never silently held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Unchecked {
    pub route: String,
    pub phase: String,
    pub requests: u64,
    /// Failures users saw that were not graceful.
    pub ungraceful: u64,
    pub failed: u64,
    pub availability: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Each line it crossed that no rule covers: `5 ungraceful failures`,
    /// `availability 64.3%, under 99%`, `p99 1991 ms, over 1000 ms`.
    pub why: Vec<String>,
    /// One response users got, as evidence, when one was kept.
    pub sample: Option<Sample>,
}

/// One reason a run proves nothing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inconclusive {
    /// A sentence: `fault payments/error-1 was never applied: payments saw no requests while it was on`.
    pub reason: String,
    /// The fault it concerns, if any.
    pub fault: Option<super::model::FaultRef>,
    /// The phase it concerns, if any.
    pub phase: Option<String>,
    /// The listener it concerns, if any.
    pub listener: Option<String>,
}

/// What a verdict says of the hypothesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The run completed and every check passed.
    Held,
    /// The run completed and at least one check failed (or, with
    /// `unchecked = "fail"`, a journey degraded with no rule covering it).
    Deviated,
    /// The run completed but proves nothing: a fault never applied, or
    /// nobody used the application. Never reported as held.
    Inconclusive,
    /// A guardrail (or `max_duration`) stopped the run.
    Aborted,
    /// The run was stopped early by a signal or the admin API.
    Interrupted,
    /// brownout failed during the run: nothing can be said of the hypothesis.
    Failed,
    /// The journal ends without a stop line.
    Unfinished,
}

impl Status {
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Held => "held",
            Status::Deviated => "deviated",
            Status::Inconclusive => "inconclusive",
            Status::Aborted => "aborted",
            Status::Interrupted => "interrupted",
            Status::Failed => "failed",
            Status::Unfinished => "unfinished",
        }
    }

    /// The verdict of a run that ended with `outcome`: `deviated` when it
    /// found something wrong (a failed check, or an unchecked degradation
    /// under `unchecked = "fail"`), else `inconclusive` when it proved
    /// nothing, else `held`. A deviation is evidence even from a run that
    /// proved nothing else, so it comes first.
    pub fn of(outcome: Outcome, found_wrong: bool, proves_nothing: bool) -> Status {
        match outcome {
            Outcome::Aborted => Status::Aborted,
            Outcome::Interrupted => Status::Interrupted,
            Outcome::Failed => Status::Failed,
            Outcome::Unfinished => Status::Unfinished,
            Outcome::Completed | Outcome::Stopped if found_wrong => Status::Deviated,
            Outcome::Completed | Outcome::Stopped if proves_nothing => Status::Inconclusive,
            Outcome::Completed | Outcome::Stopped => Status::Held,
        }
    }

    /// The process exit status a CI job reads: 0 held, 1 deviated, 3 aborted,
    /// interrupted, failed or unfinished, 4 inconclusive.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Held => 0,
            Status::Deviated => 1,
            Status::Aborted | Status::Interrupted | Status::Failed | Status::Unfinished => 3,
            Status::Inconclusive => 4,
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    /// `POST /checkout availability >= 99%`.
    pub check: String,
    pub phase: String,
    pub expected: String,
    /// What was measured, or `no requests`.
    pub actual: String,
    pub passed: bool,
    /// True when it passed only because nothing it judges happened (a
    /// graceful rule over a phase without failures): reports fold these so
    /// that the checks that measured something stand out.
    #[serde(default)]
    pub vacuous: bool,
    /// The standard it comes from (`tier.critical`); `None` for the experiment's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standard: Option<String>,
}

impl CheckResult {
    /// Where the check comes from, as reports say it: `experiment`, or
    /// `standard tier.critical`.
    pub fn source(&self) -> String {
        self.standard.as_ref().map_or_else(|| "experiment".to_string(), |s| format!("standard {s}"))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbortInfo {
    pub guardrail: String,
    pub at_s: f64,
    pub value: String,
}

fn pct(v: f64) -> String {
    format!("{:.2}%", v * 100.0)
}

/// Checks one SLO against a phase's stats (already narrowed to the route).
pub fn check_slo(slo: &Slo, phase: &str, s: &Stats) -> Vec<CheckResult> {
    let mut out = Vec::new();
    let mut push = |what: &str, expected: String, actual: Option<String>, passed: bool| {
        out.push(CheckResult {
            check: format!("{} {what}", slo.route),
            phase: phase.to_string(),
            expected,
            actual: actual.unwrap_or_else(|| "no requests".into()),
            passed,
            vacuous: false,
            standard: slo.standard.clone(),
        });
    };
    if let Some(min) = slo.availability {
        let got = s.availability;
        push("availability", format!(">= {}", pct(min)), got.map(pct), got.is_some_and(|g| g + 1e-12 >= min));
    }
    if let Some(max) = slo.error_rate {
        let got = s.error_rate;
        push("error rate", format!("<= {}", pct(max)), got.map(pct), got.is_some_and(|g| g <= max + 1e-12));
    }
    for (name, limit, got) in
        [("p50", slo.p50_ms, s.p50_ms), ("p95", slo.p95_ms, s.p95_ms), ("p99", slo.p99_ms, s.p99_ms)]
    {
        if let Some(limit) = limit {
            push(name, format!("<= {limit:.0} ms"), got.map(|g| format!("{g:.1} ms")), got.is_some_and(|g| g <= limit));
        }
    }
    out
}

/// Checks a graceful rule against a phase's stats (narrowed to the route).
pub fn check_graceful(rule: &GracefulCheck, phase: &str, s: &Stats) -> CheckResult {
    let failures = s.graceful + s.ungraceful;
    let (actual, passed, vacuous) = match s.graceful_share {
        Some(share) => {
            (format!("{} of {failures} failures graceful", pct(share)), share + 1e-12 >= rule.at_least, false)
        }
        None if s.requests > 0 => ("no failures".into(), true, true),
        None => ("no requests".into(), true, true),
    };
    CheckResult {
        check: format!("{} degrades gracefully", rule.route),
        phase: phase.to_string(),
        expected: format!(">= {} of failures graceful", pct(rule.at_least)),
        actual,
        passed,
        vacuous,
        standard: rule.standard.clone(),
    }
}
