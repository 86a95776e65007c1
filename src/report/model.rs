//! The report: everything a run's reports show, computed from the journal
//! alone. It is also the `report.json` schema (versioned by `schema`).

use serde::{Deserialize, Serialize};

use crate::record::journal::{class_or_failed, Class, Origin, Outcome};

/// The version of this schema; bumped on any incompatible change.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub schema: u32,
    /// The run's title (an experiment's, or "brownout proxy").
    pub title: String,
    /// When the run started, in milliseconds since the Unix epoch.
    pub started_ms: u64,
    /// The same instant in ISO 8601, UTC: `2026-12-01T22:41:07Z`.
    #[serde(default)]
    pub started: String,
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
    /// What it takes to run it again: version, seed, experiment file and command line.
    #[serde(default)]
    pub reproduce: Reproduce,
    /// An experiment's standards and the class of each of its routes
    /// (unclassified ones listed): present for every experiment run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standards: Option<super::standards::StandardsReport>,
    /// The experiment's schedule, if it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<crate::record::journal::ScheduleInfo>,
}

/// What identifies a run well enough to repeat it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Reproduce {
    /// The brownout version that recorded the run.
    pub version: Option<String>,
    pub seed: Option<u64>,
    /// The experiment file, as named when it was loaded.
    pub experiment: Option<String>,
    /// The SHA-256 of the experiment's text, in hex.
    pub sha256: Option<String>,
    /// The command line of the brownout process that recorded the run.
    pub command: Option<Vec<String>>,
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RouteStats {
    pub listener: String,
    /// Method and path template: `GET /users/{id}`; `tcp` for TCP
    /// connections, whose `requests` are connections and whose latencies
    /// are connection lifetimes.
    pub route: String,
    #[serde(flatten)]
    pub stats: Stats,
    /// Bytes from the client and to the client.
    #[serde(default)]
    pub bytes_in: u64,
    #[serde(default)]
    pub bytes_out: u64,
    /// The statuses seen, by origin: `28 injected: 429`.
    #[serde(default)]
    pub statuses: Vec<StatusCount>,
    /// gRPC calls: how many ended with each `grpc-status`, by name
    /// (`UNAVAILABLE`), in the order of the codes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grpc_status: Vec<(String, u64)>,
}

impl RouteStats {
    /// True for a TCP listener's row: connections, not requests.
    pub fn is_tcp(&self) -> bool {
        self.route == TCP_ROUTE
    }
}

/// The route of every TCP connection.
pub const TCP_ROUTE: &str = "tcp";

/// How many exchanges of a route ended with one status, from one origin.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct StatusCount {
    pub kind: StatusKind,
    /// The status as its protocol writes it (`429`), or what went wrong
    /// without one (`reset`, `timeout`).
    pub status: String,
    /// Where a failure came from; absent for successes.
    pub origin: Option<Origin>,
    pub count: u64,
}

/// What kind of status a [`StatusCount`] holds: each protocol's statuses are
/// their own kind, so other kinds (a gRPC code) can sit beside HTTP's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusKind {
    /// An HTTP status code.
    Http,
    /// A gRPC call's `grpc-status`, by name (`UNAVAILABLE`).
    Grpc,
    /// No status: the exchange ended with an error (`reset`, `timeout`, ...).
    Error,
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

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultStats {
    pub target: String,
    pub name: String,
    pub kind: String,
    /// The parameters as configured when it first went on:
    /// `normal(200ms, 50ms) before request`; `intervals` has each value.
    pub configured: String,
    /// Seconds since the start when the fault first went on, and when it
    /// last went off (`None`: on until the end).
    pub on_s: f64,
    pub off_s: Option<f64>,
    /// How many requests or connections it was applied to, in all.
    pub applied: u64,
    /// How many it was eligible for (in its window and matched), in all;
    /// `None` when the journal does not say.
    #[serde(default)]
    pub eligible: Option<u64>,
    /// True when what it does cannot be counted (an outage refusing
    /// connections: refused clients never reach brownout).
    #[serde(default)]
    pub uncounted: bool,
    /// Every interval it was on, with the value it had (ramp steps and
    /// edits through the admin API each begin one).
    #[serde(default)]
    pub intervals: Vec<FaultInterval>,
}

/// One stretch of time a fault was on with one value.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FaultInterval {
    pub on_s: f64,
    /// `None`: on until the end.
    pub off_s: Option<f64>,
    pub configured: String,
    pub applied: u64,
    pub eligible: Option<u64>,
}

impl FaultStats {
    /// `target/name`, as the reports name a fault.
    pub fn label(&self) -> String {
        format!("{}/{}", self.target, self.name)
    }
}

/// A fault by target and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct FaultRef {
    pub target: String,
    pub fault: String,
}

/// How one observer route fared while one fault (or several faults on
/// together) was on, against the time when no fault was on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Impact {
    /// The first of `faults` (kept for readers of a single fault).
    pub target: String,
    pub fault: String,
    /// Every fault on during the compared time: more than one for faults
    /// that were on together, whose effects cannot be told apart by time.
    #[serde(default)]
    pub faults: Vec<FaultRef>,
    /// `payments/error-1`, or `payments/error-1 + inventory/latency-2`.
    #[serde(default)]
    pub label: String,
    /// Seconds this set of faults was on, in all.
    #[serde(default)]
    pub on_s: f64,
    pub route: String,
    pub baseline: Stats,
    pub during: Stats,
    /// `during.availability - baseline.availability` (negative is worse).
    pub availability_delta: Option<f64>,
    /// `during.p99_ms - baseline.p99_ms` (positive is worse).
    pub p99_delta_ms: Option<f64>,
    /// Why the difference is not counted as an effect (too few requests,
    /// or under the thresholds); `None` for a measurable effect.
    #[serde(default)]
    pub noise: Option<String>,
}

/// One response kept as evidence: truncated, with secrets redacted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the start, when the request arrived.
    #[serde(default)]
    pub t: f64,
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
