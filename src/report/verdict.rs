//! The hypothesis of an experiment and its verdict: checks computed from
//! what the journal recorded, per phase.

use serde::{Deserialize, Serialize};

use super::model::Stats;

/// What must stay true, as the journal carries it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hypothesis {
    pub slos: Vec<Slo>,
    pub graceful: Vec<GracefulCheck>,
}

/// A service-level objective for a route, in every phase or in one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Slo {
    /// `POST /checkout`, a glob such as `GET /products/*`, or `*` for all.
    pub route: String,
    /// One phase by name; `None` for every phase.
    pub phase: Option<String>,
    pub availability: Option<f64>,
    pub error_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
}

/// A graceful-degradation rule: the route's failures must be graceful.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GracefulCheck {
    pub route: String,
    pub phase: Option<String>,
    /// The share of failures that must be graceful (1.0: all of them).
    pub at_least: f64,
}

/// How a run ended and whether its hypothesis held.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// `held`, `deviated`, `aborted` or `interrupted`.
    pub status: String,
    pub checks: Vec<CheckResult>,
    pub abort: Option<AbortInfo>,
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

/// True when `route` (`POST /checkout`) matches `pattern`.
pub fn route_matches(pattern: &str, route: &str) -> bool {
    pattern == "*" || crate::fault::matcher::Glob(pattern.to_string()).matches(route)
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
