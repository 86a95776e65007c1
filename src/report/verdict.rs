//! The verdict on an experiment's hypothesis: checks computed from what the
//! journal recorded, per phase.

use serde::{Deserialize, Serialize};

use super::model::Stats;
use crate::record::journal::{GracefulCheck, Outcome, Slo};

/// How a run ended and whether its hypothesis held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    pub status: Status,
    pub checks: Vec<CheckResult>,
    pub abort: Option<AbortInfo>,
}

/// What a verdict says of the hypothesis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// The run completed and every check passed.
    Held,
    /// The run completed and at least one check failed.
    Deviated,
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
            Status::Aborted => "aborted",
            Status::Interrupted => "interrupted",
            Status::Failed => "failed",
            Status::Unfinished => "unfinished",
        }
    }

    /// The verdict of a run that ended with `outcome`, whose checks all
    /// passed or not.
    pub fn of(outcome: Outcome, all_passed: bool) -> Status {
        match outcome {
            Outcome::Aborted => Status::Aborted,
            Outcome::Interrupted => Status::Interrupted,
            Outcome::Failed => Status::Failed,
            Outcome::Unfinished => Status::Unfinished,
            Outcome::Completed | Outcome::Stopped if all_passed => Status::Held,
            Outcome::Completed | Outcome::Stopped => Status::Deviated,
        }
    }

    /// The process exit status a CI job reads: 0 held, 1 deviated, 3 aborted,
    /// interrupted, failed or unfinished.
    pub fn exit_code(self) -> u8 {
        match self {
            Status::Held => 0,
            Status::Deviated => 1,
            Status::Aborted | Status::Interrupted | Status::Failed | Status::Unfinished => 3,
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
    let (actual, passed) = match s.graceful_share {
        Some(share) => (format!("{} of {failures} failures graceful", pct(share)), share + 1e-12 >= rule.at_least),
        None if s.requests > 0 => ("no failures".into(), true),
        None => ("no requests".into(), true),
    };
    CheckResult {
        check: format!("{} degrades gracefully", rule.route),
        phase: phase.to_string(),
        expected: format!(">= {} of failures graceful", pct(rule.at_least)),
        actual,
        passed,
    }
}
