//! Standards: organisation-wide reliability targets, set once in a
//! `standards.toml` and inherited by every experiment. Named tiers say what
//! availability and latency a route owes its users, interaction classes
//! how long a kind of request may take, `[graceful]` what a graceful
//! failure is everywhere, and each service maps its routes to a tier and an
//! interaction.
//!
//! `raw.rs` mirrors the file for serde, `validate.rs` turns it into the
//! model below (every problem with its position, as for every other file),
//! and `describe.rs` says what was understood. How an experiment inherits
//! them (tightening allowed, loosening refused) is the experiment's
//! validation: `experiment/validate/standards.rs`.

mod describe;
pub(crate) mod raw;
mod validate;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;

pub use describe::graceful_words;

use crate::config::{FileError, Locator};
use crate::record::classify::GracefulRules;
use crate::record::standards::{RouteClass, StandardsInfo};

/// The file name looked for beside an experiment and its config.
pub const FILE_NAME: &str = "standards.toml";
/// The environment variable naming a standards file.
pub const ENV: &str = "BROWNOUT_STANDARDS";

/// A validated standards file.
#[derive(Debug, Clone)]
pub struct Standards {
    /// The file, as named when it was loaded.
    pub file: String,
    /// The SHA-256 of its text, in hex.
    pub sha256: String,
    pub tiers: Vec<Tier>,
    pub interactions: Vec<Interaction>,
    pub graceful: Option<Graceful>,
    pub services: Vec<Service>,
}

/// A value of the file and where it was written (`standards.toml:3:16`),
/// so that a refusal can point at the standard it protects.
#[derive(Debug, Clone, PartialEq)]
pub struct Located<T> {
    pub value: T,
    pub at: String,
}

/// Service-level objectives of a tier or an interaction class.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Objectives {
    /// Fractions.
    pub availability: Option<Located<f64>>,
    pub error_rate: Option<Located<f64>>,
    /// Milliseconds.
    pub p50_ms: Option<Located<f64>>,
    pub p95_ms: Option<Located<f64>>,
    pub p99_ms: Option<Located<f64>>,
}

impl Objectives {
    /// The latency objectives by name.
    pub fn latencies(&self) -> [(&'static str, Option<&Located<f64>>); 3] {
        [("p50", self.p50_ms.as_ref()), ("p95", self.p95_ms.as_ref()), ("p99", self.p99_ms.as_ref())]
    }
}

/// A product tier: `[tier.critical]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Tier {
    pub name: String,
    pub description: Option<String>,
    pub objectives: Objectives,
    /// The share of a route's failures that must be graceful, in every phase.
    pub graceful: Option<Located<f64>>,
    /// Availability and error rate are judged in phases without faults
    /// (the steady state before and after) unless this is set: an outage
    /// of a dependency is expected to cost availability, and what it costs
    /// is judged by the graceful share and shown as the dependency's criticality.
    pub during_faults: bool,
}

/// An interaction class: `[interaction.page_load]`. Its latency
/// objectives are judged in every phase: whatever broke, a user must not
/// wait longer.
#[derive(Debug, Clone, PartialEq)]
pub struct Interaction {
    pub name: String,
    pub description: Option<String>,
    pub objectives: Objectives,
}

/// What a graceful failure is, organisation-wide. Every route inherits it;
/// an experiment's graceful rule may narrow the statuses and the time, and
/// adds its own words and headers on top.
#[derive(Debug, Clone, PartialEq)]
pub struct Graceful {
    /// Failure statuses a degraded application may answer with.
    pub statuses: Option<Located<Vec<u16>>>,
    /// gRPC statuses a degraded application may answer with.
    pub grpc_codes: Option<Located<Vec<u16>>>,
    /// The message must contain one of these (case-insensitive).
    pub body_contains: Vec<String>,
    /// The message must contain none of these (case-insensitive).
    pub body_excludes: Vec<String>,
    /// Every one of these headers must be present.
    pub required_headers: Vec<HeaderName>,
    /// A failure slower than this is ungraceful.
    pub within: Option<Located<Duration>>,
}

/// A service: its routes, each with a tier and an interaction class.
#[derive(Debug, Clone, PartialEq)]
pub struct Service {
    pub name: String,
    /// Alphabetical by route; which class a route has does not depend on
    /// the order (see [`crate::record::standards::class_of`]).
    pub routes: Vec<RouteClass>,
}

impl Standards {
    /// The rules every route's failures are classified by: the standards'
    /// `[graceful]` on top of brownout's defaults.
    pub fn graceful_rules(&self) -> GracefulRules {
        let mut rules = GracefulRules::default();
        let Some(g) = &self.graceful else { return rules };
        if let Some(s) = &g.statuses {
            rules.statuses = s.value.clone();
        }
        if let Some(c) = &g.grpc_codes {
            rules.grpc_codes = c.value.clone();
        }
        if let Some(w) = &g.within {
            rules.within = w.value;
        }
        rules.required_words = g.body_contains.clone();
        rules.excluded_words = g.body_excludes.clone();
        rules.required_headers = g.required_headers.clone();
        rules
    }

    pub fn service(&self, name: &str) -> Option<&Service> {
        self.services.iter().find(|s| s.name == name)
    }

    pub fn tier(&self, name: &str) -> Option<&Tier> {
        self.tiers.iter().find(|t| t.name == name)
    }

    pub fn interaction(&self, name: &str) -> Option<&Interaction> {
        self.interactions.iter().find(|i| i.name == name)
    }

    /// What the journal carries of these standards for a run of `service`.
    pub fn info(&self, service: Option<&str>) -> StandardsInfo {
        StandardsInfo {
            file: self.file.clone(),
            sha256: self.sha256.clone(),
            routes: service.and_then(|s| self.service(s)).map(|s| s.routes.clone()).unwrap_or_default(),
        }
    }
}

/// Where an experiment's standards come from.
#[derive(Debug, Clone)]
pub enum Lookup {
    /// None apply.
    Off,
    /// These, already loaded (the demo's own).
    Given(Arc<Standards>),
    /// This file (`--standards FILE`).
    File(PathBuf),
    /// The file `BROWNOUT_STANDARDS` names, else `standards.toml` beside
    /// the experiment, beside its config, or in one of these directories
    /// (a proxy's config's), the first found.
    Find(Vec<PathBuf>),
}

impl Default for Lookup {
    fn default() -> Self {
        Lookup::Find(Vec::new())
    }
}

impl Lookup {
    /// `--standards FILE` if given, else the usual places.
    pub fn from_flag(file: Option<PathBuf>) -> Lookup {
        file.map_or_else(Lookup::default, Lookup::File)
    }

    /// The standards, loaded, for an experiment whose own directory and
    /// config's directory come first among the places looked in.
    pub fn resolve(&self, beside: &[&Path]) -> Result<Option<Arc<Standards>>, FileError> {
        match self {
            Lookup::Off => Ok(None),
            Lookup::Given(s) => Ok(Some(s.clone())),
            Lookup::File(path) => load_named(path, "--standards").map(Some),
            Lookup::Find(dirs) => {
                if let Some(named) = std::env::var_os(ENV).filter(|v| !v.is_empty()) {
                    return load_named(Path::new(&named), ENV).map(Some);
                }
                let found = beside
                    .iter()
                    .copied()
                    .chain(dirs.iter().map(PathBuf::as_path))
                    .map(|dir| dir.join(FILE_NAME))
                    .find(|p| p.is_file());
                found.map(|p| load(&p).map(Arc::new)).transpose()
            }
        }
    }
}

/// Loads a file that `by` (a flag, a variable) names: a file that cannot be
/// read says who named it.
fn load_named(path: &Path, by: &str) -> Result<Arc<Standards>, FileError> {
    load(path).map(Arc::new).map_err(|e| match e {
        FileError::Read { file, source } => {
            FileError::Read { file: format!("{file} (the standards {by} names)"), source }
        }
        other => other,
    })
}

/// Reads and validates a standards file.
pub fn load(path: &Path) -> Result<Standards, FileError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| FileError::Read { file: path.display().to_string(), source })?;
    parse(&path.display().to_string(), &text)
}

/// Validates standards text; `file` names it in messages.
pub fn parse(file: &str, text: &str) -> Result<Standards, FileError> {
    let loc = Locator { file, text };
    let raw: raw::RawStandards = crate::config::deserialize(&loc)?;
    validate::Validator::new(&loc).standards(raw)
}

/// True when a TOML text looks like a standards file: it has a tier, an
/// interaction class or a service table.
pub fn looks_like_standards(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        ["[tier.", "[interaction.", "[service."].iter().any(|p| l.starts_with(p))
    })
}
