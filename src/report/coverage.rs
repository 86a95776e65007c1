//! What a verdict must not stay silent about: user journeys that degraded
//! with no rule covering them (unchecked degradations), and runs that
//! prove nothing (inconclusive: a fault never applied, nobody using the
//! application).

use std::collections::{BTreeMap, HashMap};

use super::faults::on_intervals;
use super::model::{FaultRef, FaultStats, Sample, TCP_ROUTE};
use super::stats::{Exchange, StatsBuilder};
use super::verdict::{Inconclusive, Unchecked};
use crate::record::journal::{Class, Hypothesis};
use crate::record::route;

/// A journey whose availability falls under this in a phase degraded.
pub const AVAILABILITY_FLOOR: f64 = 0.99;
/// A journey whose p99 rises over this in a phase degraded (HTTP only: a
/// TCP connection's time is its lifetime, not a wait).
pub const P99_CEILING_MS: f64 = 1000.0;

/// How far apart a phase line and its faults' lines may be.
const MOMENT_S: f64 = 0.010;

/// A phase placed in time.
pub(super) struct Span {
    pub name: String,
    pub start: f64,
    pub end: f64,
    pub faults: u64,
}

/// What the coverage checks read, all from the journal.
pub(super) struct Seen<'a> {
    pub obs: &'a [Exchange],
    pub names: &'a [String],
    /// Up to a few raw `METHOD /path`s per route, so that a rule written
    /// for a raw path (`GET /products/42`) covers its route's template.
    pub raw_paths: &'a HashMap<usize, Vec<String>>,
    pub spans: &'a [Span],
    /// The user-facing listener (the observer, else the load driver); `None`: every listener.
    pub user: Option<&'a str>,
    /// The pattern of the standards' service that classifies each
    /// user-facing route, by name index (empty without standards).
    pub classes: &'a HashMap<usize, String>,
}

impl Seen<'_> {
    pub fn user_facing(&self, o: &Exchange) -> bool {
        self.user.is_none_or(|u| self.names[o.listener] == u)
    }

    fn covers(&self, pattern: &str, route: usize) -> bool {
        route::matches(pattern, &self.names[route])
            || self.raw_paths.get(&route).is_some_and(|paths| paths.iter().any(|p| route::matches(pattern, p)))
    }

    /// True when a rule covers `route`: an experiment's rule by its
    /// pattern, a standard's only on the routes its pattern classifies
    /// (a more specific pattern's routes are that one's).
    fn covered_by(&self, pattern: &str, standard: bool, route: usize) -> bool {
        if standard {
            self.classes.get(&route).is_some_and(|p| p == pattern)
        } else {
            self.covers(pattern, route)
        }
    }
}

/// Every user-facing route that, in some phase, failed ungracefully, fell
/// under [`AVAILABILITY_FLOOR`] or rose over [`P99_CEILING_MS`] with no rule
/// of the hypothesis judging that: ungraceful failures need a graceful rule,
/// failures an availability or error-rate objective (or a graceful rule),
/// slowness a latency objective, each for that route and phase.
pub(super) fn unchecked(seen: &Seen<'_>, h: &Hypothesis, samples: &[Sample]) -> Vec<Unchecked> {
    let mut out = Vec::new();
    for span in seen.spans {
        let mut by_route: BTreeMap<usize, StatsBuilder> = BTreeMap::new();
        for o in seen.obs.iter().filter(|o| seen.user_facing(o) && o.t >= span.start && o.t < span.end) {
            by_route.entry(o.route).or_default().add(o);
        }
        let in_phase = |p: &Option<String>| p.as_ref().is_none_or(|p| *p == span.name);
        for (r, acc) in by_route {
            let s = acc.finish();
            let graceful =
                h.graceful.iter().any(|g| in_phase(&g.phase) && seen.covered_by(&g.route, g.standard.is_some(), r));
            let failures = graceful
                || h.slos.iter().any(|o| {
                    in_phase(&o.phase)
                        && (o.availability.is_some() || o.error_rate.is_some())
                        && seen.covered_by(&o.route, o.standard.is_some(), r)
                });
            let latency = h.slos.iter().any(|o| {
                in_phase(&o.phase)
                    && (o.p50_ms.is_some() || o.p95_ms.is_some() || o.p99_ms.is_some())
                    && seen.covered_by(&o.route, o.standard.is_some(), r)
            });
            let mut why = Vec::new();
            if s.ungraceful > 0 && !graceful {
                why.push(count(s.ungraceful, "ungraceful failure"));
            }
            if let Some(a) = s.availability.filter(|a| *a < AVAILABILITY_FLOOR && !failures) {
                why.push(format!("availability {:.1}%, under {:.0}%", a * 100.0, AVAILABILITY_FLOOR * 100.0));
            }
            let tcp = seen.names[r] == TCP_ROUTE;
            if let Some(p99) = s.p99_ms.filter(|p| *p > P99_CEILING_MS && !latency && !tcp) {
                why.push(format!("p99 {p99:.0} ms, over {P99_CEILING_MS:.0} ms"));
            }
            if why.is_empty() {
                continue;
            }
            let route = seen.names[r].clone();
            out.push(Unchecked {
                sample: evidence(samples, seen.user, &route, span),
                route,
                phase: span.name.clone(),
                requests: s.requests,
                ungraceful: s.ungraceful,
                failed: s.requests - s.succeeded,
                availability: s.availability,
                p99_ms: s.p99_ms,
                why,
            });
        }
    }
    out
}

/// A kept response of `route` as users saw it: an ungraceful one from the
/// phase if there is one, else one from any phase, else any failure.
fn evidence(samples: &[Sample], user: Option<&str>, route: &str, span: &Span) -> Option<Sample> {
    let ours: Vec<&Sample> =
        samples.iter().filter(|s| s.route == route && user.is_none_or(|u| s.listener == u)).collect();
    let in_span = |s: &&&Sample| s.t >= span.start && s.t < span.end;
    let ungraceful = |s: &&&Sample| s.class == Some(Class::Ungraceful);
    ours.iter()
        .find(|s| ungraceful(s) && in_span(s))
        .or_else(|| ours.iter().find(|s| in_span(s) && s.class != Some(Class::Graceful)))
        .or_else(|| ours.iter().find(ungraceful))
        .map(|s| (*s).clone())
}

/// Why a completed run proves nothing: nobody used the application, a
/// fault phase without users, or a fault that was never applied (each
/// named, with what its target saw while it was on). Faults whose effect
/// cannot be counted (an outage refusing connections) are left out.
pub(super) fn inconclusive(seen: &Seen<'_>, faults: &[FaultStats], end: f64) -> Vec<Inconclusive> {
    let mut out = Vec::new();
    let user_word = match seen.user {
        Some("observer") => "the observer",
        Some(_) => "the load driver",
        None => "no listener",
    };
    if !seen.obs.iter().any(|o| seen.user_facing(o)) {
        let reason = match seen.user {
            Some(_) => format!("{user_word} saw no requests: nobody used the application"),
            None => "no listener saw a request or a connection".to_string(),
        };
        out.push(Inconclusive { reason, fault: None, phase: None, listener: seen.user.map(str::to_string) });
        return out;
    }
    for span in seen.spans.iter().filter(|s| s.faults > 0) {
        // A phase whose every fault refuses connections sees nobody by design.
        let on: Vec<&FaultStats> = faults.iter().filter(|f| overlaps(f, span, end)).collect();
        if !on.is_empty() && on.iter().all(|f| f.uncounted) {
            continue;
        }
        if !seen.obs.iter().any(|o| seen.user_facing(o) && o.t >= span.start && o.t < span.end) {
            let reason = match seen.user {
                Some(_) => format!("phase {:?}: {user_word} saw no requests while its faults were on", span.name),
                None => {
                    format!("phase {:?}: no listener saw a request or a connection while its faults were on", span.name)
                }
            };
            out.push(Inconclusive {
                reason,
                fault: None,
                phase: Some(span.name.clone()),
                listener: seen.user.map(str::to_string),
            });
        }
    }
    for f in faults.iter().filter(|f| f.applied == 0 && !f.uncounted) {
        let intervals: Vec<(f64, f64)> = on_intervals(f, end).collect();
        let during = |t: f64| intervals.iter().any(|(a, b)| t >= *a && t < *b);
        let at_target = |o: &&Exchange| seen.names[o.listener] == f.target;
        let saw = seen.obs.iter().filter(at_target).filter(|o| during(o.t)).count() as u64;
        // A TCP target counts connections: known from any it recorded.
        let tcp = seen.obs.iter().filter(at_target).any(|o| seen.names[o.route] == TCP_ROUTE);
        let unit = if tcp { "connection" } else { "request" };
        let what = match f.eligible {
            _ if saw == 0 => format!(
                "{} saw no {unit}s while it was on (the application never called it, or called it another way)",
                f.target
            ),
            Some(0) => format!("it matched none of the {} {} saw while it was on", count(saw, unit), f.target),
            Some(e) => format!(
                "it matched {e} of the {} {} saw while it was on, and was applied to none of them",
                count(saw, unit),
                f.target
            ),
            None => format!("{} saw {} while it was on", f.target, count(saw, unit)),
        };
        let phases: Vec<&str> = seen.spans.iter().filter(|s| overlaps(f, s, end)).map(|s| s.name.as_str()).collect();
        let phase = (!phases.is_empty()).then(|| phases.join(", "));
        let in_phase = phase.as_ref().map_or_else(String::new, |p| format!(" (phase {p:?})"));
        out.push(Inconclusive {
            reason: format!("fault {}{in_phase} was never applied: {what}", f.label()),
            fault: Some(FaultRef { target: f.target.clone(), fault: f.name.clone() }),
            phase,
            listener: Some(f.target.clone()),
        });
    }
    out
}

/// True when `f` was on during `span`. A phase's faults go on a moment
/// before its phase line is written: an overlap of less than that moment
/// is no overlap.
fn overlaps(f: &FaultStats, span: &Span, end: f64) -> bool {
    on_intervals(f, end).any(|(a, b)| a < span.end - MOMENT_S && b > span.start + MOMENT_S)
}

/// `1 ungraceful failure`, `5 ungraceful failures`.
fn count(n: u64, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
