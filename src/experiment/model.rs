//! The validated experiment: phases and their faults, the hypothesis,
//! guardrails, load and schedule, as the run controller reads them.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};

use crate::config::Config;
use crate::fault::Fault;
use crate::record::classify::GracefulRules;
use crate::record::journal::Hypothesis;

/// A validated experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub file: String,
    /// The SHA-256 of the file's text, in hex, for the reports'
    /// reproducibility block.
    pub sha256: String,
    pub title: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    /// The service it tests (the standards' routes of that service apply).
    pub service: Option<String>,
    /// The standards it inherited, if a standards file was found.
    pub standards: Option<std::sync::Arc<crate::standards::Standards>>,
    pub seed: u64,
    pub config: Config,
    pub phases: Vec<Phase>,
    pub hypothesis: Hypothesis,
    /// How the observer classifies responses, from the hypothesis's graceful rules.
    pub graceful: GracefulRules,
    pub guardrails: Vec<Guardrail>,
    /// The run is stopped (as aborted) if it lasts longer than this.
    pub max_duration: Duration,
    pub load: Option<Load>,
    pub schedule: Option<Schedule>,
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub name: String,
    pub duration: Duration,
    pub faults: Vec<PhaseFault>,
}

#[derive(Debug, Clone)]
pub struct PhaseFault {
    pub target: String,
    pub fault: Fault,
    pub ramp: Option<Ramp>,
}

/// A parameter stepped from one value to another through a phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp {
    pub probability: Option<(f64, f64)>,
    pub delay: Option<(Duration, Duration)>,
    pub steps: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    ErrorRate,
    P50,
    P95,
    P99,
    UngracefulShare,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error_rate",
            Metric::P50 => "p50",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::UngracefulShare => "ungraceful_share",
        }
    }

    pub fn is_latency(self) -> bool {
        matches!(self, Metric::P50 | Metric::P95 | Metric::P99)
    }
}

/// Aborts the run when `metric` over the last `window` at `route` is above `above`.
#[derive(Debug, Clone, PartialEq)]
pub struct Guardrail {
    pub metric: Metric,
    pub route: String,
    /// A fraction for rates and shares, milliseconds for latencies.
    pub above: f64,
    pub window: Duration,
    pub min_requests: u64,
}

impl Guardrail {
    pub fn describe(&self) -> String {
        let above =
            if self.metric.is_latency() { format!("{:.0}ms", self.above) } else { format!("{}%", self.above * 100.0) };
        format!("{} at {} above {above} for {:?}", self.metric.name(), self.route, self.window)
    }
}

#[derive(Debug, Clone)]
pub struct Load {
    /// `observer`, a target's name, or an `http://` URL.
    pub target: String,
    /// Requests per second at the start.
    pub rate: f64,
    /// Requests per second at the end, ramped linearly.
    pub ramp_to: Option<f64>,
    pub spikes: Vec<Spike>,
    pub concurrency: usize,
    pub timeout: Duration,
    pub requests: Vec<LoadRequest>,
}

/// The rate multiplied by `factor` from `at` for `lasting`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spike {
    pub at: Duration,
    pub lasting: Duration,
    pub factor: f64,
}

#[derive(Debug, Clone)]
pub struct LoadRequest {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub cron: String,
    pub timezone: String,
}

/// The seed of an experiment that sets none.
pub const DEFAULT_SEED: u64 = 1;
