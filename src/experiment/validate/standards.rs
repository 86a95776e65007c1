//! How an experiment inherits the standards: its own rules may be
//! stricter than a standard, never looser (a looser one is refused, naming
//! the standard and where it is written), and the standards' objectives and
//! graceful shares join its hypothesis for every route of its service.
//!
//! A rule of the experiment is compared with a standard when both are
//! about the same journey: its route is the pattern the service lists, or
//! a route without globs that the pattern classifies. A rule over a glob
//! (`*`, `GET /products*`) sums several journeys and is compared with none:
//! each journey's standard is judged on its own anyway.

use std::path::Path;
use std::sync::Arc;

use super::Validator;
use crate::config::FileError;
use crate::experiment::{raw, Phase};
use crate::record::journal::{GracefulCheck, Hypothesis, Slo};
use crate::record::standards::{class_of, interaction_standard, is_glob, tier_standard, RouteClass};
use crate::standards::{Located, Service, Standards};

/// `99.9%`, `0.5%`, `100%`.
pub fn percent(v: f64) -> String {
    let s = format!("{:.3}", v * 100.0);
    format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
}

/// `800ms`, `3s`, `1.5s`.
pub fn millis(ms: f64) -> String {
    if ms >= 1000.0 {
        let s = format!("{:.3}", ms / 1000.0);
        format!("{}s", s.trim_end_matches('0').trim_end_matches('.'))
    } else {
        format!("{}ms", (ms * 1000.0).round() / 1000.0)
    }
}

/// What a refusal says of the standard it protects.
struct Protected<'a> {
    standard: String,
    what: String,
    route: Option<&'a str>,
    at: &'a str,
}

impl Protected<'_> {
    fn words(&self) -> String {
        let route = self.route.map_or_else(String::new, |r| format!(" for {r}"));
        format!("the standard {} ({}{route}, {})", self.standard, self.what, self.at)
    }
}

impl Validator<'_> {
    /// The standards this experiment inherits: as looked up, beside the
    /// experiment and beside the config it names.
    pub(super) fn find_standards(&self, raw: &raw::RawExperiment) -> Result<Option<Arc<Standards>>, FileError> {
        let config_dir = raw.config.as_ref().and_then(|p| {
            let full = match self.base_dir {
                Some(dir) if p.get_ref().is_relative() => dir.join(p.get_ref()),
                _ => p.get_ref().clone(),
            };
            full.parent().map(Path::to_path_buf)
        });
        let beside: Vec<&Path> = [self.base_dir, config_dir.as_deref()].into_iter().flatten().collect();
        self.lookup.resolve(&beside)
    }

    /// The service the experiment names, if the standards know it (or
    /// there are no standards, or they list no service).
    pub(super) fn service(&mut self, raw: &raw::RawExperiment, standards: Option<&Standards>) -> Option<String> {
        let s = raw.service.as_ref()?;
        let name = s.get_ref().trim();
        if name.is_empty() {
            self.problem(s.span().start, "service".into(), "must name a service, got an empty name".into());
            return None;
        }
        let Some(standards) = standards.filter(|st| !st.services.is_empty()) else {
            return Some(name.to_string());
        };
        if standards.service(name).is_none() {
            let names: Vec<&str> = standards.services.iter().map(|s| s.name.as_str()).collect();
            let p = self.problem(
                s.span().start,
                "service".into(),
                format!("names no service of the standards ({}): {name:?}", standards.file),
            );
            p.hint = Some(match crate::config::did_you_mean(name, names.iter().copied()) {
                Some(m) => format!("did you mean `{m}`?"),
                None => format!("services: {}", names.join(", ")),
            });
            return None;
        }
        Some(name.to_string())
    }

    /// Refuses every rule of the hypothesis looser than a standard on the
    /// same journey, then adds the standards' own rules for the service.
    pub(super) fn inherit(
        &mut self,
        raw: Option<&raw::RawHypothesis>,
        h: &mut Hypothesis,
        standards: &Standards,
        service: Option<&Service>,
        phases: &[Phase],
    ) {
        let routes = service.map_or(&[][..], |s| &s.routes[..]);
        let steady: Vec<&str> = phases.iter().filter(|p| p.faults.is_empty()).map(|p| p.name.as_str()).collect();
        if let Some(raw) = raw {
            for (i, (slo, raw_slo)) in h.slos.iter().zip(&raw.slo).enumerate() {
                let journey = journey(routes, &slo.route);
                self.slo_not_looser(slo, raw_slo, &format!("hypothesis.slo[{i}]"), standards, journey, phases);
            }
            for (i, (rule, raw_rule)) in h.graceful.iter().zip(&raw.graceful).enumerate() {
                let journey = journey(routes, &rule.route);
                self.graceful_not_looser(rule, raw_rule, &format!("hypothesis.graceful[{i}]"), standards, journey);
            }
        }
        for class in routes {
            add_rules(h, standards, class, &steady);
        }
    }

    fn slo_not_looser(
        &mut self,
        slo: &Slo,
        raw: &toml::Spanned<raw::RawSlo>,
        key: &str,
        standards: &Standards,
        journey: Option<&RouteClass>,
        phases: &[Phase],
    ) {
        let Some(class) = journey else { return };
        let at = raw.span().start;
        let r = raw.get_ref();
        let route = Some(class.route.as_str());
        if let Some(tier) = class.tier.as_deref().and_then(|t| standards.tier(t)) {
            let o = &tier.objectives;
            let judged = applies(slo.phase.as_deref(), tier.during_faults, phases);
            let standard = tier_standard(&tier.name);
            if let (Some(mine), Some(theirs), true) = (slo.availability, &o.availability, judged) {
                if mine + 1e-12 < theirs.value {
                    let offset = r.availability.as_ref().map_or(at, |a| a.span().start);
                    let what = format!("availability >= {}", percent(theirs.value));
                    let p = Protected { standard: standard.clone(), what, route, at: &theirs.at };
                    self.looser(
                        offset,
                        format!("{key}.availability"),
                        &percent(mine),
                        &p,
                        "at least",
                        &percent(theirs.value),
                    );
                }
            }
            if let (Some(mine), Some(theirs), true) = (slo.error_rate, &o.error_rate, judged) {
                if mine > theirs.value + 1e-12 {
                    let offset = r.error_rate.as_ref().map_or(at, |a| a.span().start);
                    let what = format!("error rate <= {}", percent(theirs.value));
                    let p = Protected { standard: standard.clone(), what, route, at: &theirs.at };
                    self.looser(
                        offset,
                        format!("{key}.error_rate"),
                        &percent(mine),
                        &p,
                        "at most",
                        &percent(theirs.value),
                    );
                }
            }
            self.latencies_not_looser(slo, at, key, &standard, &tier.objectives, route);
        }
        if let Some(i) = class.interaction.as_deref().and_then(|i| standards.interaction(i)) {
            self.latencies_not_looser(slo, at, key, &interaction_standard(&i.name), &i.objectives, route);
        }
    }

    fn latencies_not_looser(
        &mut self,
        slo: &Slo,
        at: usize,
        key: &str,
        standard: &str,
        theirs: &crate::standards::Objectives,
        route: Option<&str>,
    ) {
        let mine = [slo.p50_ms, slo.p95_ms, slo.p99_ms];
        for ((name, theirs), mine) in theirs.latencies().into_iter().zip(mine) {
            let (Some(mine), Some(theirs)) = (mine, theirs) else { continue };
            if mine > theirs.value + 1e-9 {
                let what = format!("{name} <= {}", millis(theirs.value));
                let p = Protected { standard: standard.to_string(), what, route, at: &theirs.at };
                self.looser(at, format!("{key}.{name}"), &millis(mine), &p, "at most", &millis(theirs.value));
            }
        }
    }

    fn graceful_not_looser(
        &mut self,
        rule: &GracefulCheck,
        raw: &toml::Spanned<raw::RawGracefulRule>,
        key: &str,
        standards: &Standards,
        journey: Option<&RouteClass>,
    ) {
        let at = raw.span().start;
        let r = raw.get_ref();
        if let Some(g) = &standards.graceful {
            if let (Some(mine), Some(theirs)) = (&r.status, &g.statuses) {
                let extra: Vec<String> = mine
                    .get_ref()
                    .iter()
                    .filter(|c| !theirs.value.iter().any(|t| i64::from(*t) == **c))
                    .map(i64::to_string)
                    .collect();
                if !extra.is_empty() {
                    let allowed: Vec<String> = theirs.value.iter().map(u16::to_string).collect();
                    self.problem(
                        mine.span().start,
                        format!("{key}.status"),
                        format!(
                            "allows {}, which the standard graceful does not (status {}, {})",
                            extra.join(" and "),
                            allowed.join(" or "),
                            theirs.at
                        ),
                    )
                    .hint = Some(
                        "an experiment may tighten a standard, never loosen it: list only statuses the standard allows, or change the standard"
                            .into(),
                    );
                }
            }
            if let (Some(mine), Some(theirs)) = (&r.grpc_status, &g.grpc_codes) {
                let codes = crate::config::fault::grpc_codes(mine.get_ref()).unwrap_or_default();
                let extra: Vec<String> =
                    codes.iter().filter(|c| !theirs.value.contains(c)).map(|c| crate::grpc::code_name(*c)).collect();
                if !extra.is_empty() {
                    let allowed: Vec<String> = theirs.value.iter().map(|c| crate::grpc::code_name(*c)).collect();
                    self.problem(
                        mine.span().start,
                        format!("{key}.grpc_status"),
                        format!(
                            "allows {}, which the standard graceful does not (grpc-status {}, {})",
                            extra.join(" and "),
                            allowed.join(" or "),
                            theirs.at
                        ),
                    )
                    .hint = Some(
                        "an experiment may tighten a standard, never loosen it: list only codes the standard allows, or change the standard"
                            .into(),
                    );
                }
            }
            if let (Some(mine), Some(theirs)) = (r.within, &g.within) {
                if mine.0 > theirs.value {
                    let what = format!("within {:?}", theirs.value);
                    let p = Protected { standard: "graceful".into(), what, route: None, at: &theirs.at };
                    let (mine, theirs) = (format!("{:?}", mine.0), format!("{:?}", theirs.value));
                    self.looser(at, format!("{key}.within"), &mine, &p, "at most", &theirs);
                }
            }
        }
        let Some(class) = journey else { return };
        let Some(tier) = class.tier.as_deref().and_then(|t| standards.tier(t)) else { return };
        if let Some(theirs) = &tier.graceful {
            if rule.at_least + 1e-12 < theirs.value {
                let offset = r.at_least.as_ref().map_or(at, |a| a.span().start);
                let what = format!("at least {} of failures graceful", percent(theirs.value));
                let p =
                    Protected { standard: tier_standard(&tier.name), what, route: Some(&class.route), at: &theirs.at };
                self.looser(
                    offset,
                    format!("{key}.at_least"),
                    &percent(rule.at_least),
                    &p,
                    "at least",
                    &percent(theirs.value),
                );
            }
        }
    }

    /// `hypothesis.slo[0].availability is 95%, looser than the standard
    /// tier.critical (availability >= 99% for POST /checkout, standards.toml:4:16)`.
    fn looser(&mut self, offset: usize, key: String, mine: &str, standard: &Protected<'_>, bound: &str, theirs: &str) {
        self.problem(offset, key, format!("is {mine}, looser than {}", standard.words())).hint = Some(format!(
            "an experiment may tighten a standard, never loosen it: ask for {bound} {theirs}, or change the standard"
        ));
    }
}

/// The journey of the service a rule's route is about, if it is about one.
fn journey<'a>(routes: &'a [RouteClass], route: &str) -> Option<&'a RouteClass> {
    routes.iter().find(|c| c.route == route).or_else(|| (!is_glob(route)).then(|| class_of(routes, route)).flatten())
}

/// True when a tier's availability and error rate are judged in a rule's
/// phase (`None`: every phase): always with `during_faults`, else in
/// phases without faults.
fn applies(phase: Option<&str>, during_faults: bool, phases: &[Phase]) -> bool {
    during_faults
        || match phase {
            Some(name) => phases.iter().any(|p| p.name == name && p.faults.is_empty()),
            None => phases.iter().any(|p| p.faults.is_empty()),
        }
}

/// The standards' rules for one route pattern of the service: a tier's
/// availability and error rate in each phase without faults (or every
/// phase, with `during_faults`), its latencies and graceful share in every
/// phase, and the interaction class's latencies in every phase.
fn add_rules(h: &mut Hypothesis, standards: &Standards, class: &RouteClass, steady: &[&str]) {
    let slo = |standard: String, phase: Option<&str>| Slo {
        route: class.route.clone(),
        phase: phase.map(str::to_string),
        availability: None,
        error_rate: None,
        p50_ms: None,
        p95_ms: None,
        p99_ms: None,
        standard: Some(standard),
    };
    let value = |v: &Option<Located<f64>>| v.as_ref().map(|l| l.value);
    if let Some(tier) = class.tier.as_deref().and_then(|t| standards.tier(t)) {
        let o = &tier.objectives;
        let name = tier_standard(&tier.name);
        if o.availability.is_some() || o.error_rate.is_some() {
            let phases: Vec<Option<&str>> =
                if tier.during_faults { vec![None] } else { steady.iter().map(|p| Some(*p)).collect() };
            for phase in phases {
                h.slos.push(Slo {
                    availability: value(&o.availability),
                    error_rate: value(&o.error_rate),
                    ..slo(name.clone(), phase)
                });
            }
        }
        if o.latencies().iter().any(|(_, v)| v.is_some()) {
            h.slos.push(Slo {
                p50_ms: value(&o.p50_ms),
                p95_ms: value(&o.p95_ms),
                p99_ms: value(&o.p99_ms),
                ..slo(name.clone(), None)
            });
        }
        if let Some(g) = &tier.graceful {
            h.graceful.push(GracefulCheck {
                route: class.route.clone(),
                phase: None,
                at_least: g.value,
                standard: Some(name),
            });
        }
    }
    if let Some(i) = class.interaction.as_deref().and_then(|i| standards.interaction(i)) {
        let o = &i.objectives;
        h.slos.push(Slo {
            p50_ms: value(&o.p50_ms),
            p95_ms: value(&o.p95_ms),
            p99_ms: value(&o.p99_ms),
            ..slo(interaction_standard(&i.name), None)
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_print_as_people_write_them() {
        assert_eq!(percent(0.999), "99.9%");
        assert_eq!(percent(0.99), "99%");
        assert_eq!(percent(1.0), "100%");
        assert_eq!(percent(0.005), "0.5%");
        assert_eq!(millis(800.0), "800ms");
        assert_eq!(millis(3000.0), "3s");
        assert_eq!(millis(1500.0), "1.5s");
    }
}
