//! The journal's lines: one JSON object per line, each with a `type`. The
//! report is rebuilt from these alone, so this file is also the vocabulary
//! every layer above shares: where a failure came from ([`Origin`]), how a
//! user's answer was classed ([`Class`]), how a run ended ([`Outcome`]),
//! and what an experiment's hypothesis says ([`Hypothesis`]).

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

/// The listener name the load driver's requests carry.
pub const LOAD_LISTENER: &str = "load";

/// The SHA-256 of a file's `text` in lowercase hex, as the journal names
/// which version of an experiment or standards file a run read.
pub fn sha256_hex(text: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// What the journal needs to know of an experiment to judge it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExperimentInfo {
    pub hypothesis: Hypothesis,
    pub guardrails: Vec<String>,
    /// The experiment file as named when it was loaded (`request body` for
    /// one posted to the admin API).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub file: Option<String>,
    /// The SHA-256 of the experiment's text, in hex: which version of the
    /// file ran.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub sha256: Option<String>,
    /// The service the experiment tests, as it names it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub service: Option<String>,
    /// The standards it inherited, if a standards file applied.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub standards: Option<super::standards::StandardsInfo>,
    /// Its schedule, if it has one: when it is due again says whether it is stale.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub schedule: Option<ScheduleInfo>,
}

/// An experiment's cron schedule, as the journal carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScheduleInfo {
    /// Five fields: `0 14 * * TUE`.
    pub cron: String,
    /// `UTC`, a fixed offset or an IANA zone.
    pub timezone: String,
}

/// What must stay true, as the journal carries it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Hypothesis {
    pub slos: Vec<Slo>,
    pub graceful: Vec<GracefulCheck>,
    /// What a degradation no rule covers does to the verdict.
    #[serde(default)]
    pub unchecked: UncheckedPolicy,
}

/// What an unchecked degradation (a user journey that failed or slowed
/// with no rule covering it) does to the verdict.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UncheckedPolicy {
    /// Listed under the verdict; the verdict stands.
    #[default]
    Warn,
    /// Listed, and the run deviates.
    Fail,
}

impl UncheckedPolicy {
    pub const fn as_str(self) -> &'static str {
        match self {
            UncheckedPolicy::Warn => "warn",
            UncheckedPolicy::Fail => "fail",
        }
    }
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
    /// The standard it comes from (`tier.critical`); `None` for the
    /// experiment's own. A standard's objective is judged per route its
    /// pattern classifies, and only where that route saw requests.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub standard: Option<String>,
}

/// A graceful-degradation rule: the route's failures must be graceful.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GracefulCheck {
    pub route: String,
    pub phase: Option<String>,
    /// The share of failures that must be graceful (1.0: all of them).
    pub at_least: f64,
    /// The standard it comes from, as for [`Slo::standard`].
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub standard: Option<String>,
}

impl Request {
    /// True when the user saw a failure: no answer, a failing HTTP status,
    /// or a gRPC status other than OK.
    pub fn failed(&self) -> bool {
        self.error.is_some()
            || self.status.is_none_or(super::classify::is_failure)
            || self.grpc_status.is_some_and(|c| c != 0)
    }
}

/// Where a failure came from. Reports count each origin apart and never mix them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// A fault of brownout's.
    Injected,
    /// The real dependency (or the application, at the observer).
    Upstream,
    /// brownout itself.
    Proxy,
    /// The client gave up or broke the exchange.
    Client,
}

impl Origin {
    pub const ALL: [Origin; 4] = [Origin::Injected, Origin::Upstream, Origin::Proxy, Origin::Client];

    /// The word in the journal, the tracing field and the metrics' label.
    pub const fn as_str(self) -> &'static str {
        match self {
            Origin::Injected => "injected",
            Origin::Upstream => "upstream",
            Origin::Proxy => "proxy",
            Origin::Client => "client",
        }
    }

    pub fn parse(word: &str) -> Option<Origin> {
        Origin::ALL.into_iter().find(|o| o.as_str() == word)
    }
}

/// How a user's answer at the observer is classed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Class {
    Ok,
    /// A failure that meets the graceful-degradation rules.
    Graceful,
    /// A failure that does not: a bare 5xx, a reset, too slow, leaked internals.
    Ungraceful,
}

impl Class {
    pub const ALL: [Class; 3] = [Class::Ok, Class::Graceful, Class::Ungraceful];

    pub const fn as_str(self) -> &'static str {
        match self {
            Class::Ok => "ok",
            Class::Graceful => "graceful",
            Class::Ungraceful => "ungraceful",
        }
    }

    pub fn parse(word: &str) -> Option<Class> {
        Class::ALL.into_iter().find(|c| c.as_str() == word)
    }
}

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A proxy without an experiment was shut down.
    Stopped,
    /// An experiment's timeline ran to its end.
    Completed,
    /// A guardrail tripped, or the run outlived its `max_duration`.
    Aborted,
    /// Stopped early: Ctrl-C, SIGTERM or the admin API.
    Interrupted,
    /// brownout itself failed during the run (a panic, an unreachable load
    /// target); every fault was cleared all the same.
    Failed,
    /// The journal has no stop line: the process was killed. Never written
    /// by a recorder, only concluded by a reader.
    Unfinished,
}

impl Outcome {
    pub const fn as_str(self) -> &'static str {
        match self {
            Outcome::Stopped => "stopped",
            Outcome::Completed => "completed",
            Outcome::Aborted => "aborted",
            Outcome::Interrupted => "interrupted",
            Outcome::Failed => "failed",
            Outcome::Unfinished => "unfinished",
        }
    }
}

impl std::fmt::Display for Outcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
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
    /// The brownout version that wrote the journal.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub version: Option<String>,
    /// The command line of the brownout process that wrote it.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub command: Option<Vec<String>>,
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
    /// A gRPC call's `grpc-status`: 0 is OK, any other code a failure.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub grpc_status: Option<u16>,
    pub latency_ms: f64,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub ttfb_ms: Option<f64>,
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// Where a failure came from; absent for successes.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub origin: Option<Origin>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    /// The faults applied to it, by name, comma-separated.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fault: Option<String>,
    /// At the observer: `ok`, `graceful` or `ungraceful`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub class: Option<Class>,
    /// brownout's span for the request in W3C trace context (32 hex
    /// digits): the trace the request carried, or one the observer
    /// started; absent where the listener reads no trace context.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace_id: Option<String>,
    /// brownout's own span (16 hex digits).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub span_id: Option<String>,
    /// The span of the caller that sent the request's `traceparent`.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub parent_span_id: Option<String>,
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
    pub origin: Option<Origin>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub fault: Option<String>,
    /// The exported span of the connection (a trace of its own), when spans
    /// are exported.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub span_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultOn {
    pub t: f64,
    pub target: String,
    pub fault: String,
    pub kind: String,
    pub configured: String,
    /// True when what the fault does cannot be counted: an outage that
    /// refuses connections closes the listener, so refused clients never
    /// reach brownout.
    #[serde(skip_serializing_if = "std::ops::Not::not", default)]
    pub uncounted: bool,
}

/// A fault went off, or changed (a ramp step, an edit through the admin
/// API): then the same fault's next `fault_on` carries its new value, and
/// the two lines may come in either order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FaultOff {
    pub t: f64,
    pub target: String,
    pub fault: String,
    /// How many requests or connections it was applied to while on.
    pub applied: u64,
    /// How many it was eligible for (in its window and matched), applied
    /// or not; absent in journals written before it was counted.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub eligible: Option<u64>,
}

/// A response kept as evidence (failures at the observer, a few per route and class).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SampleLine {
    pub t: f64,
    pub listener: String,
    pub route: String,
    /// The class at the observer; `failed` (no class) at a target.
    #[serde(with = "class_or_failed")]
    pub class: Option<Class>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub error: Option<String>,
    pub latency_ms: f64,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// The trace of the request, to find its dependency calls.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub trace_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Stop {
    pub t: f64,
    pub outcome: Outcome,
    /// Lines the recorder dropped because it could not keep up.
    pub dropped: u64,
    /// Spans sent to the OpenTelemetry collector during the run, and
    /// dropped (the exporter fell behind, or the collector refused them);
    /// absent without an exporter.
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub spans: Option<SpanTally>,
}

/// What the span exporter did during a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpanTally {
    pub sent: u64,
    pub dropped: u64,
}

/// A sample's class: one of [`Class`]'s words, or `failed` for a failure
/// at a target, where nothing is classed.
pub mod class_or_failed {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::Class;

    pub const FAILED: &str = "failed";

    pub fn serialize<S: Serializer>(class: &Option<Class>, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(class.map_or(FAILED, Class::as_str))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Class>, D::Error> {
        let word = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        match Class::parse(&word) {
            Some(class) => Ok(Some(class)),
            None if word == FAILED => Ok(None),
            None => Err(serde::de::Error::unknown_variant(&word, &["ok", "graceful", "ungraceful", FAILED])),
        }
    }
}
