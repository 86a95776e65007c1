//! Validation of what a run is judged by: the hypothesis (SLOs and graceful
//! rules) and the guardrails, each checked against the phases and the load.

use std::sync::Arc;
use std::time::Duration;

use http::HeaderName;
use toml::Spanned;

use super::Validator;
use crate::config;
use crate::experiment::{raw, Guardrail, Load, Metric};
use crate::record::classify::GracefulRules;
use crate::record::journal::{GracefulCheck, Hypothesis, Slo, UncheckedPolicy};
use crate::record::route::matches as route_matches;

pub use crate::config::parse_percent;

/// A guardrail's window: long enough to hold a few requests, short enough
/// to act while the run goes on.
const SHORTEST_WINDOW: Duration = Duration::from_millis(100);
const LONGEST_WINDOW: Duration = Duration::from_secs(600);

pub(super) use crate::record::route::METHODS;

impl Validator<'_> {
    fn route_known(&mut self, route: &Spanned<String>, key: String, load: Option<&Load>) {
        let pattern = route.get_ref();
        if pattern == "*" {
            return;
        }
        if let Some(message) = crate::record::route::pattern_problem(pattern) {
            self.problem(route.span().start, key, message).hint =
                Some(format!("methods: {}; a route reads like \"POST /checkout\"", METHODS.join(", ")));
            return;
        }
        let Some(load) = load else { return };
        let known = load.requests.iter().any(|r| {
            let path = r.path.split('?').next().unwrap_or(&r.path);
            route_matches(pattern, &format!("{} {path}", r.method))
                || route_matches(pattern, &format!("{} {}", r.method, crate::record::route::template(path)))
        });
        if !known {
            let routes: Vec<String> = load.requests.iter().map(|r| format!("{} {}", r.method, r.path)).collect();
            self.problem(route.span().start, key, format!("{pattern:?} matches no request of [load]")).hint =
                Some(format!("routes are METHOD and path globs; the load sends: {}", routes.join(", ")));
        }
    }

    fn phase_known(&mut self, phase: Option<&Spanned<String>>, key: String, names: &[String]) -> Option<String> {
        let p = phase?;
        if !names.iter().any(|n| n == p.get_ref()) {
            self.problem(p.span().start, key, format!("names no phase: {:?}", p.get_ref())).hint =
                Some(format!("phases: {}", names.join(", ")));
        }
        Some(p.get_ref().clone())
    }

    fn percent(&mut self, s: &Spanned<String>, key: String) -> Option<f64> {
        match parse_percent(s.get_ref()) {
            Ok(v) => Some(v),
            Err(why) => {
                self.problem(
                    s.span().start,
                    key,
                    format!("must be a percentage such as \"99.9%\", got {:?} ({why})", s.get_ref()),
                );
                None
            }
        }
    }

    pub(super) fn hypothesis(
        &mut self,
        raw: Option<&raw::RawHypothesis>,
        phases: &[String],
        load: Option<&Load>,
        base: &GracefulRules,
    ) -> (Hypothesis, GracefulRules) {
        let mut h = Hypothesis::default();
        let mut rules = base.clone();
        let Some(raw) = raw else { return (h, rules) };
        if let Some(u) = &raw.unchecked {
            match u.get_ref().as_str() {
                "warn" => h.unchecked = UncheckedPolicy::Warn,
                "fail" => h.unchecked = UncheckedPolicy::Fail,
                other => {
                    self.problem(
                        u.span().start,
                        "hypothesis.unchecked".into(),
                        format!("must be \"warn\" or \"fail\", got {other:?}"),
                    );
                }
            }
        }
        for (i, s) in raw.slo.iter().enumerate() {
            let key = format!("hypothesis.slo[{i}]");
            let slo = s.get_ref();
            self.route_known(&slo.route, format!("{key}.route"), load);
            let phase = self.phase_known(slo.phase.as_ref(), format!("{key}.phase"), phases);
            let availability = slo.availability.as_ref().and_then(|a| self.percent(a, format!("{key}.availability")));
            let error_rate = slo.error_rate.as_ref().and_then(|a| self.percent(a, format!("{key}.error_rate")));
            let ms = |d: &Option<config::Dur>| d.map(|d| d.0.as_secs_f64() * 1000.0);
            let out = Slo {
                route: slo.route.get_ref().clone(),
                phase,
                availability,
                error_rate,
                p50_ms: ms(&slo.p50),
                p95_ms: ms(&slo.p95),
                p99_ms: ms(&slo.p99),
                standard: None,
            };
            if slo.availability.is_none()
                && slo.error_rate.is_none()
                && slo.p50.is_none()
                && slo.p95.is_none()
                && slo.p99.is_none()
            {
                self.problem(s.span().start, key, "sets no objective".into()).hint =
                    Some("add availability, error_rate, p50, p95 or p99".into());
            }
            h.slos.push(out);
        }
        for (i, g) in raw.graceful.iter().enumerate() {
            let key = format!("hypothesis.graceful[{i}]");
            let rule = g.get_ref();
            self.route_known(&rule.route, format!("{key}.route"), load);
            let phase = self.phase_known(rule.phase.as_ref(), format!("{key}.phase"), phases);
            let at_least =
                rule.at_least.as_ref().and_then(|a| self.percent(a, format!("{key}.at_least"))).unwrap_or(1.0);
            // A route's rule starts from what a graceful failure is everywhere.
            let mut r = base.clone();
            if let Some(st) = &rule.status {
                r.statuses.clear();
                for code in st.get_ref() {
                    match u16::try_from(*code).ok().filter(|c| (100..=599).contains(c)) {
                        Some(c) => r.statuses.push(c),
                        None => {
                            self.problem(
                                st.span().start,
                                format!("{key}.status"),
                                format!("must list HTTP statuses, got {code}"),
                            );
                        }
                    }
                }
            }
            if let Some(b) = &rule.body_contains {
                r.body_contains.push(b.clone());
            }
            if let Some(m) = &rule.body_matches {
                match regex_lite::Regex::new(m.get_ref()) {
                    Ok(re) => r.body_matches.push(re),
                    Err(e) => {
                        self.problem(
                            m.span().start,
                            format!("{key}.body_matches"),
                            format!("is not a valid regex: {e}"),
                        );
                    }
                }
            }
            if let Some(hd) = &rule.header {
                match HeaderName::from_bytes(hd.get_ref().to_ascii_lowercase().as_bytes()) {
                    Ok(n) => r.headers.push(n),
                    Err(_) => {
                        self.problem(
                            hd.span().start,
                            format!("{key}.header"),
                            format!("is not a header name: {:?}", hd.get_ref()),
                        );
                    }
                }
            }
            if let Some(w) = rule.within {
                r.within = w.0;
            }
            if let Some(codes) = &rule.grpc_status {
                match crate::config::fault::grpc_codes(codes.get_ref()) {
                    Ok(c) => r.grpc_codes = c,
                    Err(message) => {
                        self.problem(codes.span().start, format!("{key}.grpc_status"), message);
                    }
                }
            }
            rules.by_route.push((rule.route.get_ref().clone(), Arc::new(r)));
            h.graceful.push(GracefulCheck { route: rule.route.get_ref().clone(), phase, at_least, standard: None });
        }
        (h, rules)
    }

    pub(super) fn guardrails(&mut self, raw: Option<&raw::RawGuardrails>, load: Option<&Load>) -> Vec<Guardrail> {
        let mut out = Vec::new();
        let Some(raw) = raw else { return out };
        for (i, g) in raw.abort_if.iter().enumerate() {
            let key = format!("guardrails.abort_if[{i}]");
            let guard = g.get_ref();
            let metrics = ["error_rate", "p50", "p95", "p99", "ungraceful_share"];
            let metric = match guard.metric.get_ref().as_str() {
                "error_rate" => Metric::ErrorRate,
                "p50" => Metric::P50,
                "p95" => Metric::P95,
                "p99" => Metric::P99,
                "ungraceful_share" => Metric::UngracefulShare,
                other => {
                    let p = self.problem(
                        guard.metric.span().start,
                        format!("{key}.metric"),
                        format!("must be one of: {}; got {other:?}", metrics.join(", ")),
                    );
                    p.hint = config::did_you_mean(other, metrics).map(|m| format!("did you mean `{m}`?"));
                    continue;
                }
            };
            let route = guard.route.as_ref().map_or_else(|| "*".to_string(), |r| r.get_ref().clone());
            if let Some(r) = &guard.route {
                self.route_known(r, format!("{key}.route"), load);
            }
            let above = if metric.is_latency() {
                match config::parse_duration(guard.above.get_ref()) {
                    Ok(d) => d.as_secs_f64() * 1000.0,
                    Err(why) => {
                        self.problem(
                            guard.above.span().start,
                            format!("{key}.above"),
                            format!(
                                "must be a duration such as \"2s\" for {}, got {:?} (it {why})",
                                metric.name(),
                                guard.above.get_ref()
                            ),
                        );
                        continue;
                    }
                }
            } else {
                match self.percent(&guard.above, format!("{key}.above")) {
                    Some(v) => v,
                    None => continue,
                }
            };
            let window = guard.window.map_or(Duration::from_secs(10), |w| w.0);
            if window > LONGEST_WINDOW || window < SHORTEST_WINDOW {
                self.problem(
                    g.span().start,
                    format!("{key}.for"),
                    format!("must be from {SHORTEST_WINDOW:?} to {LONGEST_WINDOW:?}, got {window:?}"),
                );
                continue;
            }
            out.push(Guardrail { metric, route, above, window, min_requests: guard.min_requests.unwrap_or(10) });
        }
        out
    }
}
