//! Which dependencies matter: for each dependency brownout broke, what its
//! failure did to each user journey, run by run, from the reports' impact
//! rows (each journey while the faults were on against the same journey
//! while none was), aggregated over runs into a criticality.
//!
//! Only rows whose faults are all on the one dependency count: faults of
//! two dependencies on together cannot be told apart by time. Rows whose
//! faults were never applied are no evidence, and rows with too few
//! requests on either side are not measurements: the journeys never
//! measured against a dependency are listed as such.

use std::collections::{BTreeMap, BTreeSet};

use super::model::{Criticality, DependencyRecord, Effect, JourneyEffect};
use super::read::Run;
use crate::report::impact::{noise, MIN_AVAILABILITY_DROP_PP, MIN_REQUESTS};
use crate::report::model::Impact;

/// What one impact row says the journey did: `None` when it measured nothing.
pub fn effect(row: &Impact) -> Option<Effect> {
    if row.during.requests < MIN_REQUESTS || row.baseline.requests < MIN_REQUESTS {
        return None;
    }
    if noise(&row.baseline, &row.during, row.attribution).is_some() {
        return Some(Effect::Holds);
    }
    let drop_pp = row.baseline.availability.zip(row.during.availability).map_or(0.0, |(b, d)| (b - d) * 100.0);
    Some(if drop_pp >= MIN_AVAILABILITY_DROP_PP { Effect::Fails } else { Effect::Degrades })
}

/// The effect seen in most runs; a tie goes to the worse.
fn majority(fails: u64, degrades: u64, holds: u64) -> Effect {
    let most = fails.max(degrades).max(holds);
    if fails == most {
        Effect::Fails
    } else if degrades == most {
        Effect::Degrades
    } else {
        Effect::Holds
    }
}

/// Every dependency that was faulted in some run; `label` names a
/// journey from its service and route.
pub(super) fn dependencies(runs: &[Run], label: impl Fn(Option<&str>, &str) -> String) -> Vec<DependencyRecord> {
    // Per dependency: the runs it was applied in, the kinds tried, and per
    // journey the runs that failed, degraded and held.
    let mut seen: BTreeMap<String, (u64, BTreeSet<String>)> = BTreeMap::new();
    let mut effects: BTreeMap<(String, String), [u64; 3]> = BTreeMap::new();
    // Per dependency, the journeys with traffic in the runs it failed in.
    let mut exposed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for run in runs {
        let r = &run.report;
        let service = r.standards.as_ref().and_then(|s| s.service.as_deref());
        let user = if r.routes.iter().any(|x| x.listener == "observer") {
            "observer"
        } else {
            crate::record::journal::LOAD_LISTENER
        };
        let journeys: Vec<String> = r
            .routes
            .iter()
            .filter(|x| x.listener == user && !x.is_tcp() && x.stats.requests > 0)
            .map(|x| label(service, &x.route))
            .collect();
        let applied = |target: &str, fault: &str| {
            r.faults.iter().any(|f| f.target == target && f.name == fault && (f.applied > 0 || f.uncounted))
        };
        let mut in_run: BTreeSet<&str> = BTreeSet::new();
        for f in r.faults.iter().filter(|f| f.applied > 0 || f.uncounted) {
            let entry = seen.entry(f.target.clone()).or_default();
            entry.1.insert(f.kind.clone());
            if in_run.insert(&f.target) {
                entry.0 += 1;
                exposed.entry(f.target.clone()).or_default().extend(journeys.iter().cloned());
            }
        }
        // The worst effect per dependency and journey in this run.
        let mut worst: BTreeMap<(String, String), Effect> = BTreeMap::new();
        for row in &r.impact {
            let targets: BTreeSet<&str> = row.faults.iter().map(|f| f.target.as_str()).collect();
            let [target] = targets.into_iter().collect::<Vec<_>>()[..] else { continue };
            if !row.faults.iter().all(|f| applied(&f.target, &f.fault)) {
                continue;
            }
            let Some(e) = effect(row) else { continue };
            let key = (target.to_string(), label(service, &row.route));
            worst.entry(key).and_modify(|w| *w = (*w).min(e)).or_insert(e);
        }
        for (key, e) in worst {
            effects.entry(key).or_default()[e as usize] += 1;
        }
    }
    let mut out: Vec<DependencyRecord> = seen
        .into_iter()
        .map(|(name, (runs, kinds))| {
            let mut journeys: Vec<JourneyEffect> = effects
                .iter()
                .filter(|((dep, _), _)| *dep == name)
                .map(|((_, journey), [fails, degrades, holds])| JourneyEffect {
                    journey: journey.clone(),
                    effect: majority(*fails, *degrades, *holds),
                    fails: *fails,
                    degrades: *degrades,
                    holds: *holds,
                })
                .collect();
            journeys.sort_by(|a, b| (a.effect, &a.journey).cmp(&(b.effect, &b.journey)));
            let criticality = match journeys.iter().map(|j| j.effect).min() {
                Some(Effect::Fails) => Criticality::Hard,
                Some(Effect::Degrades) => Criticality::Soft,
                Some(Effect::Holds) => Criticality::None,
                None => Criticality::Unknown,
            };
            let unmeasured = exposed
                .get(&name)
                .into_iter()
                .flatten()
                .filter(|j| !journeys.iter().any(|m| &m.journey == *j))
                .cloned()
                .collect();
            DependencyRecord { name, criticality, runs, kinds: kinds.into_iter().collect(), journeys, unmeasured }
        })
        .collect();
    out.sort_by(|a, b| (a.criticality, &a.name).cmp(&(b.criticality, &b.name)));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::model::Stats;

    fn row(base: (u64, f64, f64), during: (u64, f64, f64)) -> Impact {
        let stats = |(requests, availability, p99_ms): (u64, f64, f64)| Stats {
            requests,
            availability: Some(availability),
            p99_ms: Some(p99_ms),
            ..Stats::default()
        };
        Impact { baseline: stats(base), during: stats(during), ..Impact::default() }
    }

    #[test]
    fn a_row_fails_degrades_holds_or_measures_nothing_by_the_impact_tables_thresholds() {
        assert_eq!(effect(&row((40, 1.0, 5.0), (40, 0.5, 5.0))), Some(Effect::Fails));
        assert_eq!(effect(&row((40, 1.0, 5.0), (40, 0.98, 5.0))), Some(Effect::Fails), "2 pp down");
        assert_eq!(effect(&row((40, 1.0, 5.0), (40, 1.0, 300.0))), Some(Effect::Degrades));
        assert_eq!(effect(&row((40, 1.0, 5.0), (40, 0.995, 30.0))), Some(Effect::Holds), "0.5 pp, +25 ms");
        assert_eq!(effect(&row((40, 1.0, 5.0), (4, 0.0, 5.0))), None, "4 requests while on");
        assert_eq!(effect(&row((3, 1.0, 5.0), (40, 0.0, 5.0))), None, "3 requests while off");
    }

    /// A run of the shop with `faults` applied (target, fault) and `rows`
    /// of impact (target, route, what the journey did).
    fn shop_run(faults: &[(&str, &str)], rows: &[(&str, &str, Option<Effect>)]) -> Run {
        let mut report: crate::report::Report =
            serde_json::from_str(include_str!("../../tests/fixtures/journal-v1/report.json")).expect("a report");
        report.standards = None;
        report.routes = ["POST /checkout", "GET /products/{id}", "POST /signup"]
            .iter()
            .map(|r| crate::report::model::RouteStats {
                listener: "observer".into(),
                route: r.to_string(),
                stats: Stats { requests: 40, ..Stats::default() },
                ..Default::default()
            })
            .collect();
        report.faults = faults
            .iter()
            .map(|(target, name)| crate::report::model::FaultStats {
                target: target.to_string(),
                name: name.to_string(),
                kind: "error".into(),
                applied: u64::from(*name != "never"),
                ..Default::default()
            })
            .collect();
        let shape = |e: Option<Effect>| match e {
            Some(Effect::Fails) => row((40, 1.0, 5.0), (40, 0.5, 5.0)),
            Some(Effect::Degrades) => row((40, 1.0, 5.0), (40, 1.0, 300.0)),
            Some(Effect::Holds) => row((40, 1.0, 5.0), (40, 1.0, 6.0)),
            None => row((40, 1.0, 5.0), (2, 0.0, 5.0)),
        };
        report.impact = rows
            .iter()
            .map(|(targets, route, e)| {
                let faults = targets
                    .split('+')
                    .map(|t| {
                        let fault = faults.iter().find(|f| f.0 == t).map_or("?", |f| f.1);
                        crate::report::model::FaultRef { target: t.into(), fault: fault.into() }
                    })
                    .collect();
                Impact { faults, route: route.to_string(), ..shape(*e) }
            })
            .collect();
        Run { dir: "run".into(), report }
    }

    /// Four runs, figured by hand: payments fails checkout in both its
    /// runs (hard); recommendations slows products in two runs of three
    /// (soft, the majority); the CRM never hurts (no effect, one row too
    /// thin to count); search was only ever on together with the CRM
    /// (unknown, its journeys unmeasured); inventory's fault never applied
    /// (not a dependency that failed at all).
    #[test]
    fn criticality_over_runs_is_the_hand_computed_one() {
        use Effect::*;
        let runs = [
            shop_run(
                &[("payments", "down")],
                &[("payments", "POST /checkout", Some(Fails)), ("payments", "GET /products/{id}", Some(Holds))],
            ),
            shop_run(
                &[("payments", "down"), ("recommendations", "slow")],
                &[
                    ("payments", "POST /checkout", Some(Fails)),
                    ("payments", "GET /products/{id}", Some(Holds)),
                    ("recommendations", "GET /products/{id}", Some(Degrades)),
                ],
            ),
            shop_run(
                &[("recommendations", "slow"), ("crm", "down"), ("inventory", "never")],
                &[
                    ("recommendations", "GET /products/{id}", Some(Holds)),
                    ("crm", "POST /signup", Some(Holds)),
                    ("crm", "POST /checkout", None),
                    ("inventory", "POST /checkout", Some(Fails)),
                ],
            ),
            shop_run(
                &[("recommendations", "slow"), ("crm", "down"), ("search", "quota")],
                &[
                    ("recommendations", "GET /products/{id}", Some(Degrades)),
                    ("crm", "POST /signup", Some(Holds)),
                    ("crm+search", "POST /checkout", Some(Fails)),
                ],
            ),
        ];
        let deps = dependencies(&runs, |_, route| route.to_string());
        let summary: Vec<(&str, Criticality, u64)> =
            deps.iter().map(|d| (d.name.as_str(), d.criticality, d.runs)).collect();
        assert_eq!(
            summary,
            [
                ("payments", Criticality::Hard, 2),
                ("recommendations", Criticality::Soft, 3),
                ("crm", Criticality::None, 2),
                ("search", Criticality::Unknown, 1),
            ]
        );
        let effects = |name: &str| -> Vec<(String, Effect, [u64; 3])> {
            let d = deps.iter().find(|d| d.name == name).expect("listed");
            d.journeys.iter().map(|j| (j.journey.clone(), j.effect, [j.fails, j.degrades, j.holds])).collect()
        };
        assert_eq!(
            effects("payments"),
            [("POST /checkout".into(), Fails, [2, 0, 0]), ("GET /products/{id}".into(), Holds, [0, 0, 2])]
        );
        assert_eq!(effects("recommendations"), [("GET /products/{id}".into(), Degrades, [0, 2, 1])]);
        assert_eq!(effects("crm"), [("POST /signup".into(), Holds, [0, 0, 2])]);
        let crm = deps.iter().find(|d| d.name == "crm").expect("crm");
        assert_eq!(crm.unmeasured, ["GET /products/{id}", "POST /checkout"], "too thin, or only with search");
        let search = deps.iter().find(|d| d.name == "search").expect("search");
        assert!(search.journeys.is_empty());
        assert_eq!(search.unmeasured.len(), 3);
    }

    #[test]
    fn the_majority_decides_and_a_tie_goes_to_the_worse() {
        assert_eq!(majority(1, 0, 2), Effect::Holds);
        assert_eq!(majority(2, 0, 2), Effect::Fails);
        assert_eq!(majority(0, 3, 3), Effect::Degrades);
        assert_eq!(majority(0, 0, 1), Effect::Holds);
    }
}
