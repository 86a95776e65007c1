//! The serde mirror of a standards file.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

use crate::config::fault::NumberOrName;
use crate::config::Dur;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawStandards {
    /// Product tiers by name: what availability and latency a route of
    /// that tier owes its users.
    #[serde(default)]
    pub tier: BTreeMap<String, Spanned<RawTier>>,
    /// Interaction classes by name: how long a user may wait for that kind of request.
    #[serde(default)]
    pub interaction: BTreeMap<String, Spanned<RawInteraction>>,
    /// What a graceful failure is, everywhere.
    pub graceful: Option<Spanned<RawGraceful>>,
    /// Per service, its routes and the tier and interaction of each.
    #[serde(default)]
    pub service: BTreeMap<String, Spanned<BTreeMap<String, Spanned<RawRoute>>>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTier {
    pub description: Option<String>,
    pub availability: Option<Spanned<String>>,
    pub error_rate: Option<Spanned<String>>,
    pub p50: Option<Spanned<Dur>>,
    pub p95: Option<Spanned<Dur>>,
    pub p99: Option<Spanned<Dur>>,
    /// The share of failures that must be graceful.
    pub graceful: Option<Spanned<String>>,
    /// Whether availability and error rate are judged in phases with faults too.
    pub during_faults: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawInteraction {
    pub description: Option<String>,
    pub p50: Option<Spanned<Dur>>,
    pub p95: Option<Spanned<Dur>>,
    pub p99: Option<Spanned<Dur>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawGraceful {
    pub status: Option<Spanned<Vec<i64>>>,
    pub grpc_status: Option<Spanned<Vec<NumberOrName>>>,
    pub body_contains: Option<Spanned<Vec<String>>>,
    pub body_excludes: Option<Spanned<Vec<String>>>,
    pub required_headers: Option<Spanned<Vec<String>>>,
    pub within: Option<Spanned<Dur>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRoute {
    pub tier: Option<Spanned<String>>,
    pub interaction: Option<Spanned<String>>,
}
