//! What a report says of the standards: each user-facing route with its
//! tier and interaction class, or unclassified (the absence made visible in
//! every report), and the standards' checks, judged per route their
//! pattern classifies and only where that route saw requests.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::coverage::{Seen, Span};
use super::model::{Stats, TCP_ROUTE};
use super::stats::StatsBuilder;
use super::verdict::{check_graceful, check_slo, CheckResult};
use crate::record::journal::{ExperimentInfo, Hypothesis, Slo};
use crate::record::standards::{class_of, RouteClass};

/// The standards a run was held to, and its routes' classes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StandardsReport {
    /// The standards file, as named when it was loaded; `None` when no
    /// standards file applied.
    pub file: Option<String>,
    pub sha256: Option<String>,
    /// The service the experiment tests, as it names it.
    pub service: Option<String>,
    /// Every user-facing route that saw requests, with its class.
    pub routes: Vec<ClassifiedRoute>,
    /// The routes of `routes` with neither a tier nor an interaction class.
    pub unclassified: Vec<String>,
}

/// A route with traffic and the class its service gives it, if any.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClassifiedRoute {
    pub route: String,
    pub requests: u64,
    /// The pattern of the service that classifies it.
    pub pattern: Option<String>,
    pub tier: Option<String>,
    pub interaction: Option<String>,
}

impl ClassifiedRoute {
    pub fn is_classified(&self) -> bool {
        self.pattern.is_some()
    }
}

/// The class pattern of each user-facing route (by name index), from the
/// route's template or else one of its raw paths.
pub(super) fn classes(seen: &Seen<'_>, routes: &[RouteClass]) -> HashMap<usize, String> {
    let mut out = HashMap::new();
    if routes.is_empty() {
        return out;
    }
    for o in seen.obs.iter().filter(|o| seen.user_facing(o)) {
        if out.contains_key(&o.route) || seen.names[o.route] == TCP_ROUTE {
            continue;
        }
        let class = class_of(routes, &seen.names[o.route])
            .or_else(|| seen.raw_paths.get(&o.route).and_then(|paths| paths.iter().find_map(|p| class_of(routes, p))));
        if let Some(c) = class {
            out.insert(o.route, c.route.clone());
        }
    }
    out
}

/// The standards part of the report of an experiment run.
pub(super) fn report(seen: &Seen<'_>, exp: &ExperimentInfo, classes: &HashMap<usize, String>) -> StandardsReport {
    let routes_of = exp.standards.as_ref().map_or(&[][..], |s| &s.routes[..]);
    let mut requests: BTreeMap<&str, (usize, u64)> = BTreeMap::new();
    for o in seen.obs.iter().filter(|o| seen.user_facing(o) && seen.names[o.route] != TCP_ROUTE) {
        requests.entry(seen.names[o.route].as_str()).or_insert((o.route, 0)).1 += 1;
    }
    let routes: Vec<ClassifiedRoute> = requests
        .into_iter()
        .map(|(route, (id, requests))| {
            let class = classes.get(&id).and_then(|p| routes_of.iter().find(|c| &c.route == p));
            ClassifiedRoute {
                route: route.to_string(),
                requests,
                pattern: class.map(|c| c.route.clone()),
                tier: class.and_then(|c| c.tier.clone()),
                interaction: class.and_then(|c| c.interaction.clone()),
            }
        })
        .collect();
    StandardsReport {
        file: exp.standards.as_ref().map(|s| s.file.clone()),
        sha256: exp.standards.as_ref().map(|s| s.sha256.clone()),
        service: exp.service.clone(),
        unclassified: routes.iter().filter(|r| !r.is_classified()).map(|r| r.route.clone()).collect(),
        routes,
    }
}

/// The standards' checks: each objective and graceful share for every
/// route its pattern classifies, per phase, where the route saw requests.
pub(super) fn checks(seen: &Seen<'_>, h: &Hypothesis, classes: &HashMap<usize, String>) -> Vec<CheckResult> {
    let mut out = Vec::new();
    let mut of_pattern: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
    for (route, pattern) in classes {
        of_pattern.entry(pattern.as_str()).or_default().push(*route);
    }
    for routes in of_pattern.values_mut() {
        routes.sort_by(|a, b| seen.names[*a].cmp(&seen.names[*b]));
    }
    let in_span = |span: &Span, phase: &Option<String>| phase.as_ref().is_none_or(|p| *p == span.name);
    for slo in h.slos.iter().filter(|s| s.standard.is_some()) {
        for span in seen.spans.iter().filter(|s| in_span(s, &slo.phase)) {
            for &r in of_pattern.get(slo.route.as_str()).into_iter().flatten() {
                let stats = route_stats(seen, span, r);
                if stats.requests > 0 {
                    let one = Slo { route: seen.names[r].clone(), ..slo.clone() };
                    out.extend(check_slo(&one, &span.name, &stats));
                }
            }
        }
    }
    for rule in h.graceful.iter().filter(|g| g.standard.is_some()) {
        for span in seen.spans.iter().filter(|s| in_span(s, &rule.phase)) {
            for &r in of_pattern.get(rule.route.as_str()).into_iter().flatten() {
                let stats = route_stats(seen, span, r);
                if stats.requests > 0 {
                    let one = crate::record::journal::GracefulCheck { route: seen.names[r].clone(), ..rule.clone() };
                    out.push(check_graceful(&one, &span.name, &stats));
                }
            }
        }
    }
    out
}

/// One user-facing route in one phase.
fn route_stats(seen: &Seen<'_>, span: &Span, route: usize) -> Stats {
    let mut acc = StatsBuilder::default();
    for o in seen.obs.iter().filter(|o| o.route == route && seen.user_facing(o) && o.t >= span.start && o.t < span.end)
    {
        acc.add(o);
    }
    acc.finish()
}
