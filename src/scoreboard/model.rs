//! The scoreboard: what many runs say together. It is also the
//! `scoreboard.json` schema (versioned by `schema`).

use serde::{Deserialize, Serialize};

/// The version of this schema; bumped on any incompatible change.
pub const SCHEMA: u32 = 1;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scoreboard {
    pub schema: u32,
    /// When it was built (milliseconds since the Unix epoch, and ISO 8601 UTC):
    /// staleness is judged at this instant.
    pub generated_ms: u64,
    pub generated: String,
    /// The directory its runs were read from.
    pub dir: String,
    /// The experiment runs read.
    pub runs: u64,
    /// The rules its figures follow, stated.
    pub rules: Rules,
    /// A score per service, best first.
    pub services: Vec<ServiceScore>,
    /// Per experiment, its verdicts over time and whether it is stale.
    pub experiments: Vec<ExperimentRecord>,
    /// Per user journey, how often and how it failed.
    pub journeys: Vec<JourneyRecord>,
    /// Per dependency, what happens to the journeys when it fails.
    pub dependencies: Vec<DependencyRecord>,
    /// Per standard, its compliance run by run.
    pub standards: Vec<StandardRecord>,
    /// Routes with traffic but no tier, per service.
    pub unclassified: Vec<UnclassifiedRecord>,
    /// Directories under `dir` that were not counted, and why.
    pub skipped: Vec<Skipped>,
}

/// The thresholds and points the scoreboard applies: shown on every rendering.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rules {
    /// A scheduled experiment is stale this long after a run was due and none came.
    pub stale_grace_s: u64,
    /// An experiment without a schedule is stale once its last proof is this old.
    pub unscheduled_max_age_s: u64,
    /// Points of an experiment by its latest run that proved something.
    pub held: u32,
    pub held_stale: u32,
    pub deviated: u32,
    pub never_proved: u32,
    /// The score rule in one sentence.
    pub score: String,
    /// The criticality rule in one sentence.
    pub criticality: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ServiceScore {
    /// The service, as experiments name it; `(no service)` for those that name none.
    pub service: String,
    /// 0 to 100: the mean of its experiments' points, rounded down.
    pub score: u32,
    pub experiments: u64,
    /// Its experiments by state: held and fresh, held but stale, deviated or
    /// aborted, never proved anything.
    pub held: u64,
    pub stale: u64,
    pub deviated: u64,
    pub never_proved: u64,
    /// Routes of its runs with traffic but no tier.
    pub unclassified: u64,
}

/// One run of an experiment, as the history shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunVerdict {
    pub started_ms: u64,
    pub started: String,
    /// `held`, `deviated`, `aborted`, `inconclusive`, `interrupted`, `failed`, `unfinished`.
    pub status: String,
    /// Checks that failed, of those that measured something.
    pub failed: u64,
    pub measured: u64,
    /// The run's directory, relative to the scoreboard's.
    pub dir: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExperimentRecord {
    /// The experiment file as named when it ran (else its title): what
    /// ties its runs together.
    pub key: String,
    /// Its title at its latest run.
    pub title: String,
    pub service: Option<String>,
    /// `0 3 * * * (UTC)`, at its latest run.
    pub schedule: Option<String>,
    /// Oldest first.
    pub runs: Vec<RunVerdict>,
    /// How many runs ended with each verdict, in the order of the words.
    pub counts: Vec<(String, u64)>,
    /// The latest run, and the latest that proved something (held, deviated or aborted).
    pub last_run: String,
    pub last_proved: Option<String>,
    /// When a rerun was due after its last proof, if it has a schedule.
    pub due: Option<String>,
    pub stale: bool,
    /// Why it is fresh, stale or unproven, in words.
    pub state: String,
    /// Its points for the service's score.
    pub points: u32,
    /// Whether a fix stayed fixed, from its runs that proved something.
    pub trend: Trend,
    pub trend_words: String,
}

/// An experiment's runs that proved something, read as streaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// Every one held.
    Held,
    /// Every one deviated or aborted: it keeps failing.
    Failing,
    /// It deviated or aborted, then held in every run since: the fix stayed fixed.
    Fixed,
    /// It held, then deviated or aborted in every run since.
    Regressed,
    /// None proved anything.
    Unproven,
}

impl Trend {
    pub const fn as_str(self) -> &'static str {
        match self {
            Trend::Held => "held",
            Trend::Failing => "keeps failing",
            Trend::Fixed => "fixed",
            Trend::Regressed => "regressed",
            Trend::Unproven => "unproven",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyRecord {
    pub service: Option<String>,
    /// `POST /checkout`.
    pub route: String,
    /// Runs that saw it, and those in which users got at least one failure.
    pub runs: u64,
    pub runs_failed: u64,
    pub requests: u64,
    pub failed: u64,
    pub graceful: u64,
    pub ungraceful: u64,
    /// `succeeded / requests` over every run.
    pub availability: Option<f64>,
    /// How it failed: the failures' statuses (or errors) by count, the most common first.
    pub how: Vec<(String, u64)>,
    /// Dependencies whose failure made it fail.
    pub hurt_by: Vec<String>,
}

/// What a dependency's failures do to the journeys, aggregated over runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Criticality {
    /// A journey fails when it fails.
    Hard,
    /// No journey fails, some slow down: the application falls back, at a cost.
    Soft,
    /// Every journey measured held.
    None,
    /// Faulted, but never measured against a journey (too few requests,
    /// faults never applied, or only ever together with another dependency's).
    Unknown,
}

impl Criticality {
    pub const fn as_str(self) -> &'static str {
        match self {
            Criticality::Hard => "hard",
            Criticality::Soft => "soft",
            Criticality::None => "no effect",
            Criticality::Unknown => "unknown",
        }
    }
}

/// What one journey did while a dependency failed, in one run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// Its availability fell (by at least the impact table's threshold).
    Fails,
    /// Its availability held but its p99 rose past the threshold.
    Degrades,
    /// Neither.
    Holds,
}

impl Effect {
    pub const fn as_str(self) -> &'static str {
        match self {
            Effect::Fails => "fails",
            Effect::Degrades => "degrades",
            Effect::Holds => "holds",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JourneyEffect {
    /// `POST /checkout`, with its service when the scoreboard has several (`shop: POST /checkout`).
    pub journey: String,
    /// The effect seen in most runs that measured it (ties go to the worse).
    pub effect: Effect,
    /// Runs in which it failed, degraded and held while the dependency failed.
    pub fails: u64,
    pub degrades: u64,
    pub holds: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DependencyRecord {
    /// The target's name.
    pub name: String,
    pub criticality: Criticality,
    /// Runs in which one of its faults was applied.
    pub runs: u64,
    /// The fault kinds tried on it.
    pub kinds: Vec<String>,
    /// Each journey measured while it failed, worst first.
    pub journeys: Vec<JourneyEffect>,
    /// Journeys with traffic in runs where it failed that were never
    /// measured against it (too few requests while it failed, or before).
    pub unmeasured: Vec<String>,
}

/// A standard's checks in one run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CompliancePoint {
    pub started_ms: u64,
    pub started: String,
    pub experiment: String,
    pub passed: u64,
    pub measured: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StandardRecord {
    /// `tier.critical`, `interaction.page_load`.
    pub standard: String,
    /// Oldest first; runs where it measured nothing are left out.
    pub points: Vec<CompliancePoint>,
    pub passed: u64,
    pub measured: u64,
    /// `passed / measured` over every run.
    pub compliance: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UnclassifiedRecord {
    pub service: Option<String>,
    pub route: String,
    /// Runs in which it had traffic and no tier, and when last.
    pub runs: u64,
    pub last_seen: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// The directory, relative to the scoreboard's.
    pub dir: String,
    pub why: String,
}
