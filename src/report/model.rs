//! The report: everything a run's reports show, computed from the journal
//! alone. It is also the `report.json` schema (versioned by `schema`).

use serde::{Deserialize, Serialize};

use crate::record::journal::{class_or_failed, Class, Outcome};

/// The version of this schema; bumped on any incompatible change.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    /// The run's title (an experiment's, or "brownout proxy").
    pub title: String,
    /// When the run started, in milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// Seconds from the start to the last line of the journal.
    pub duration_s: f64,
    pub seed: Option<u64>,
    /// How the run ended (`unfinished` when the journal has no stop line: a
    /// killed process).
    pub outcome: Outcome,
    /// The whole run at the observer (or at every listener without one).
    pub headline: Stats,
    /// Per listener (the observer and each target) and route.
    pub routes: Vec<RouteStats>,
    /// Per listener and time window, in order.
    pub windows: Vec<WindowStats>,
    /// Seconds per window.
    pub window_s: f64,
    pub faults: Vec<FaultStats>,
    /// For each fault, how each observer route fared while it was on.
    pub impact: Vec<Impact>,
    pub samples: Vec<Sample>,
    /// Journal lines the recorder could not keep up with.
    pub dropped: u64,
    /// The phases of an experiment, with the user-facing outcomes in each.
    #[serde(default)]
    pub phases: Vec<PhaseStats>,
    /// An experiment's verdict: its checks per phase, and why it stopped.
    #[serde(default)]
    pub verdict: Option<super::verdict::Verdict>,
    /// The user-facing outcomes in the first phase without faults against the last.
    #[serde(default)]
    pub steady_state: Option<SteadyState>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseStats {
    pub name: String,
    pub start_s: f64,
    pub end_s: f64,
    /// How many faults the phase had.
    pub faults: u64,
    #[serde(flatten)]
    pub stats: Stats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SteadyState {
    pub before_phase: String,
    pub after_phase: String,
    pub before: Stats,
    pub after: Stats,
}

/// Outcomes of a set of requests (or TCP connections).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Stats {
    pub requests: u64,
    /// Requests that succeeded from the user's view: 1xx-4xx except 408 and 429.
    pub succeeded: u64,
    /// Failures (5xx, 408, 429, resets, timeouts, refusals) by origin.
    pub failed: Origins,
    /// Observer only: the graceful classes.
    pub ok: u64,
    pub graceful: u64,
    pub ungraceful: u64,
    /// `succeeded / requests`, or `None` without requests.
    pub availability: Option<f64>,
    pub error_rate: Option<f64>,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// `graceful / (graceful + ungraceful)`: how many failures were graceful.
    pub graceful_share: Option<f64>,
}

/// Failures counted by where they came from. Never mixed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origins {
    /// A fault of brownout's.
    pub injected: u64,
    /// The real dependency (or the application, at the observer).
    pub upstream: u64,
    /// brownout itself.
    pub proxy: u64,
    /// The client gave up or broke the exchange.
    pub client: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RouteStats {
    pub listener: String,
    /// Method and path template: `GET /users/{id}`; `tcp` for TCP connections.
    pub route: String,
    #[serde(flatten)]
    pub stats: Stats,
    /// gRPC calls: how many ended with each `grpc-status`, by name
    /// (`UNAVAILABLE`), in the order of the codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grpc_status: Vec<(String, u64)>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    pub listener: String,
    /// Seconds since the start of the run.
    pub start_s: f64,
    pub end_s: f64,
    #[serde(flatten)]
    pub stats: Stats,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultStats {
    pub target: String,
    pub name: String,
    pub kind: String,
    /// The parameters as configured: `normal(200ms, 50ms) before request`.
    pub configured: String,
    /// Seconds since the start when the fault went on, and off (`None`: on
    /// until the end).
    pub on_s: f64,
    pub off_s: Option<f64>,
    /// How many requests or connections it was applied to.
    pub applied: u64,
}

/// How one observer route fared while one fault was on, against the time
/// when no fault was on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    pub target: String,
    pub fault: String,
    pub route: String,
    pub baseline: Stats,
    pub during: Stats,
    /// `during.availability - baseline.availability` (negative is worse).
    pub availability_delta: Option<f64>,
    /// `during.p99_ms - baseline.p99_ms` (positive is worse).
    pub p99_delta_ms: Option<f64>,
}

/// One response kept as evidence: truncated, with secrets redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    pub listener: String,
    pub route: String,
    /// "ok", "graceful" or "ungraceful" at the observer; "failed" elsewhere.
    #[serde(with = "class_or_failed")]
    pub class: Option<Class>,
    pub status: Option<u16>,
    /// What went wrong without a response: "reset", "timeout", ...
    pub error: Option<String>,
    pub latency_ms: f64,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Sample {
    /// The class as the reports print it: `failed` where nothing is classed.
    pub fn class_word(&self) -> &'static str {
        self.class.map_or(class_or_failed::FAILED, Class::as_str)
    }
}
