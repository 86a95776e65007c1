//! The serde mirror of an experiment file.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::config::fault::RawFault;
use crate::config::raw::{RawAdmin, RawHttp, RawTarget};
use crate::config::{Dur, NonZeroDur};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawExperiment {
    pub title: Spanned<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub tags: Option<Vec<String>>,
    /// The service it tests: which of the standards' services' routes apply.
    pub service: Option<Spanned<String>>,
    pub seed: Option<u64>,
    /// A config file declaring the targets and observer, relative to this file.
    pub config: Option<Spanned<PathBuf>>,
    pub max_duration: Option<Spanned<NonZeroDur>>,
    pub admin: Option<RawAdmin>,
    pub observer: Option<RawHttp>,
    #[serde(default)]
    pub target: Vec<RawTarget>,
    pub shutdown_grace: Option<Dur>,
    pub hypothesis: Option<RawHypothesis>,
    pub guardrails: Option<RawGuardrails>,
    #[serde(default)]
    pub phase: Vec<RawPhase>,
    pub load: Option<Spanned<RawLoad>>,
    pub schedule: Option<Spanned<RawSchedule>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPhase {
    pub name: Spanned<String>,
    pub duration: Spanned<Dur>,
    #[serde(default)]
    pub faults: Vec<RawFault>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawHypothesis {
    #[serde(default)]
    pub slo: Vec<Spanned<RawSlo>>,
    #[serde(default)]
    pub graceful: Vec<Spanned<RawGracefulRule>>,
    /// `"warn"` or `"fail"`: what a degradation no rule covers does.
    pub unchecked: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSlo {
    pub route: Spanned<String>,
    pub phase: Option<Spanned<String>>,
    pub availability: Option<Spanned<String>>,
    pub error_rate: Option<Spanned<String>>,
    pub p50: Option<Dur>,
    pub p95: Option<Dur>,
    pub p99: Option<Dur>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGracefulRule {
    pub route: Spanned<String>,
    pub phase: Option<Spanned<String>>,
    pub status: Option<Spanned<Vec<i64>>>,
    pub body_contains: Option<String>,
    pub body_matches: Option<Spanned<String>>,
    pub header: Option<Spanned<String>>,
    pub within: Option<Dur>,
    pub at_least: Option<Spanned<String>>,
    /// gRPC statuses the route may fail with gracefully (numbers or names).
    pub grpc_status: Option<Spanned<Vec<crate::config::fault::NumberOrName>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuardrails {
    #[serde(default)]
    pub abort_if: Vec<Spanned<RawGuard>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGuard {
    pub metric: Spanned<String>,
    pub route: Option<Spanned<String>>,
    pub above: Spanned<String>,
    #[serde(rename = "for")]
    pub window: Option<NonZeroDur>,
    pub min_requests: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoad {
    pub target: Spanned<String>,
    pub rate: Spanned<String>,
    pub ramp_to: Option<Spanned<String>>,
    #[serde(default)]
    pub spikes: Vec<RawSpike>,
    pub concurrency: Option<usize>,
    pub timeout: Option<NonZeroDur>,
    pub requests: Vec<Spanned<RawLoadRequest>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSpike {
    pub at: Dur,
    #[serde(rename = "for")]
    pub lasting: Dur,
    pub factor: f64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLoadRequest {
    pub method: Option<String>,
    pub path: Spanned<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub body: Option<String>,
    pub weight: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSchedule {
    pub cron: Spanned<String>,
    pub timezone: Option<Spanned<String>>,
}
