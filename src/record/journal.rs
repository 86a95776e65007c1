//! The journal's lines: one JSON object per line, each with a `type`. The
//! report is rebuilt from these alone.

use serde::{Deserialize, Serialize};

/// The version of the journal's line format.
pub const JOURNAL_SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Line {
    Start(Start),
    Request(Request),
    Connection(Connection),
    FaultOn(FaultOn),
    FaultOff(FaultOff),
    Sample(SampleLine),
    Phase(PhaseLine),
    Abort(AbortLine),
    Stop(Stop),
}

/// A phase of an experiment began.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhaseLine {
    pub t: f64,
    pub name: String,
    /// How many faults the phase has (0 for a baseline or recovery).
    pub faults: u64,
}

/// A guardrail tripped and the run was aborted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AbortLine {
    pub t: f64,
    pub guardrail: String,
    pub value: String,
}

/// What the journal needs to know of an experiment to judge it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExperimentInfo {
    pub hypothesis: crate::report::verdict::Hypothesis,
    pub guardrails: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Start {
    /// Milliseconds since the Unix epoch.
    pub ts: u64,
    pub schema: u32,
    pub title: String,
    pub seed: Option<u64>,
    /// Every listener: `observer` and the targets.
    pub listeners: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub experiment: Option<ExperimentInfo>,
}

/// One HTTP exchange as the client experienced it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Request {
    /// Seconds since the run started, when the request arrived.
    pub t: f64,
    pub listener: String,
    pub method: String,
    pub path: String,
    /// Method and path template: `GET /users/{id}`.
    pub route: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<u16>,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ttfb_ms: Option<f64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Where a failure came from; absent for successes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// The faults applied to it, by name, comma-separated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fault: Option<String>,
    /// At the observer: `ok`, `graceful` or `ungraceful`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub class: Option<String>,
}

/// One TCP connection, recorded when it ends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Connection {
    /// Seconds since the run started, when the connection was accepted.
    pub t: f64,
    pub listener: String,
    pub duration_ms: f64,
    pub bytes_in: u64,
    pub bytes_out: u64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub origin: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fault: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultOn {
    pub t: f64,
    pub target: String,
    pub fault: String,
    pub kind: String,
    pub configured: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultOff {
    pub t: f64,
    pub target: String,
    pub fault: String,
    pub applied: u64,
}

/// A response kept as evidence (failures at the observer, a few per route and class).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleLine {
    pub t: f64,
    pub listener: String,
    pub route: String,
    pub class: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    pub latency_ms: f64,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stop {
    pub t: f64,
    pub outcome: String,
    /// Lines the recorder dropped because it could not keep up.
    pub dropped: u64,
}
