//! Experiments: one TOML file describes a whole game day (targets, phases
//! with their faults, the hypothesis, guardrails, load and schedule). This
//! module parses and validates it; [`timeline`] says, purely, which faults
//! are in force when.

mod describe;
mod raw;
pub mod schedule;
pub mod timeline;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use toml::Spanned;

use crate::config::fault::{parse_request_rate, validate as validate_fault, Number};
use crate::config::{self, Config, FileError, Locator, Problem, Protocol, RawConfig};
use crate::fault::Fault;
use crate::record::classify::GracefulRules;
use crate::record::journal::{GracefulCheck, Hypothesis, Slo};
use crate::record::route::matches as route_matches;

pub use timeline::Timeline;

/// A validated experiment.
#[derive(Debug, Clone)]
pub struct Experiment {
    pub file: String,
    pub title: String,
    pub description: Option<String>,
    pub owner: Option<String>,
    pub tags: Vec<String>,
    pub seed: u64,
    pub config: Config,
    pub phases: Vec<Phase>,
    pub hypothesis: Hypothesis,
    /// How the observer classifies responses, from the hypothesis's graceful rules.
    pub graceful: GracefulRules,
    pub guardrails: Vec<Guardrail>,
    /// The run is stopped (as aborted) if it lasts longer than this.
    pub max_duration: Duration,
    pub load: Option<Load>,
    pub schedule: Option<Schedule>,
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub name: String,
    pub duration: Duration,
    pub faults: Vec<PhaseFault>,
}

#[derive(Debug, Clone)]
pub struct PhaseFault {
    pub target: String,
    pub fault: Fault,
    pub ramp: Option<Ramp>,
}

/// A parameter stepped from one value to another through a phase.
#[derive(Debug, Clone, PartialEq)]
pub struct Ramp {
    pub probability: Option<(f64, f64)>,
    pub delay: Option<(Duration, Duration)>,
    pub steps: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Metric {
    ErrorRate,
    P50,
    P95,
    P99,
    UngracefulShare,
}

impl Metric {
    pub fn name(self) -> &'static str {
        match self {
            Metric::ErrorRate => "error_rate",
            Metric::P50 => "p50",
            Metric::P95 => "p95",
            Metric::P99 => "p99",
            Metric::UngracefulShare => "ungraceful_share",
        }
    }

    pub fn is_latency(self) -> bool {
        matches!(self, Metric::P50 | Metric::P95 | Metric::P99)
    }
}

/// Aborts the run when `metric` over the last `window` at `route` is above `above`.
#[derive(Debug, Clone, PartialEq)]
pub struct Guardrail {
    pub metric: Metric,
    pub route: String,
    /// A fraction for rates and shares, milliseconds for latencies.
    pub above: f64,
    pub window: Duration,
    pub min_requests: u64,
}

impl Guardrail {
    pub fn describe(&self) -> String {
        let above =
            if self.metric.is_latency() { format!("{:.0}ms", self.above) } else { format!("{}%", self.above * 100.0) };
        format!("{} at {} above {above} for {:?}", self.metric.name(), self.route, self.window)
    }
}

#[derive(Debug, Clone)]
pub struct Load {
    /// `observer`, a target's name, or an `http://` URL.
    pub target: String,
    /// Requests per second at the start.
    pub rate: f64,
    /// Requests per second at the end, ramped linearly.
    pub ramp_to: Option<f64>,
    pub spikes: Vec<Spike>,
    pub concurrency: usize,
    pub timeout: Duration,
    pub requests: Vec<LoadRequest>,
}

/// The rate multiplied by `factor` from `at` for `lasting`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spike {
    pub at: Duration,
    pub lasting: Duration,
    pub factor: f64,
}

#[derive(Debug, Clone)]
pub struct LoadRequest {
    pub method: Method,
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Bytes,
    pub weight: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    pub cron: String,
    pub timezone: String,
}

pub const DEFAULT_SEED: u64 = 1;
/// Extra time the run may take beyond its phases before it is stopped.
pub(crate) const SLACK: Duration = Duration::from_secs(60);

/// Reads and validates an experiment file.
pub fn load(path: &Path) -> Result<Experiment, FileError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| FileError::Read { file: path.display().to_string(), source })?;
    parse(&path.display().to_string(), &text, path.parent())
}

/// True when a TOML text looks like an experiment (it has phases or a title).
pub fn looks_like_experiment(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim_start();
        l.starts_with("[[phase]]") || l.starts_with("title")
    })
}

pub fn parse(file: &str, text: &str, base_dir: Option<&Path>) -> Result<Experiment, FileError> {
    let loc = Locator { file, text };
    let raw: raw::RawExperiment = config::deserialize(&loc)?;
    Validator { loc: &loc, base_dir, serving: None, problems: Vec::new() }.experiment(raw)
}

/// Like [`parse`], for a proxy that is already serving `serving`: an
/// experiment that names no config and declares no targets runs on the
/// serving ones.
pub fn parse_for(file: &str, text: &str, base_dir: Option<&Path>, serving: &Config) -> Result<Experiment, FileError> {
    let loc = Locator { file, text };
    let raw: raw::RawExperiment = config::deserialize(&loc)?;
    Validator { loc: &loc, base_dir, serving: Some(serving), problems: Vec::new() }.experiment(raw)
}

/// `"99%"`, `"99.9%"` or `"0.5%"` as a fraction.
pub fn parse_percent(text: &str) -> Result<f64, String> {
    let n = text.trim().strip_suffix('%').ok_or("it does not end in %")?;
    let v: f64 = n.trim().parse().map_err(|_| format!("{n:?} is not a number"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err("it is not between 0% and 100%".into());
    }
    Ok(v / 100.0)
}

struct Validator<'a> {
    loc: &'a Locator<'a>,
    base_dir: Option<&'a Path>,
    serving: Option<&'a Config>,
    problems: Vec<Problem>,
}

impl Validator<'_> {
    fn problem(&mut self, offset: usize, key: String, message: String) -> &mut Problem {
        self.problems.push(self.loc.problem(offset, key, message));
        self.problems.last_mut().expect("a problem was just pushed")
    }

    fn experiment(mut self, raw: raw::RawExperiment) -> Result<Experiment, FileError> {
        let config = self.config(&raw)?;
        let title = raw.title.get_ref().trim().to_string();
        if title.is_empty() {
            self.problem(raw.title.span().start, "title".into(), "must say what the experiment tests".into());
        }
        let phases = self.phases(&raw, &config);
        let total: Duration = phases.iter().map(|p| p.duration).sum();
        let max_duration = match &raw.max_duration {
            Some(m) => {
                if m.get_ref().0 < total {
                    self.problem(
                        m.span().start,
                        "max_duration".into(),
                        format!("is {:?}, shorter than the phases ({total:?})", m.get_ref().0),
                    )
                    .hint = Some("raise max_duration or shorten the phases".into());
                }
                m.get_ref().0
            }
            None => total + SLACK,
        };
        let phase_names: Vec<String> = phases.iter().map(|p| p.name.clone()).collect();
        let load = raw.load.as_ref().and_then(|l| self.load(l, &config));
        let (hypothesis, graceful) = self.hypothesis(raw.hypothesis.as_ref(), &phase_names, load.as_ref());
        let guardrails = self.guardrails(raw.guardrails.as_ref(), load.as_ref());
        let schedule = raw.schedule.as_ref().and_then(|s| self.schedule(s));
        if !self.problems.is_empty() {
            self.problems.sort_by_key(|p| (p.line, p.column));
            return Err(FileError::Invalid(self.problems));
        }
        Ok(Experiment {
            file: self.loc.file.to_string(),
            title,
            description: raw.description,
            owner: raw.owner,
            tags: raw.tags.unwrap_or_default(),
            seed: raw.seed.unwrap_or(DEFAULT_SEED),
            config,
            phases,
            hypothesis,
            graceful,
            guardrails,
            max_duration,
            load,
            schedule,
        })
    }

    /// The targets and observer: from the referenced config file or inline.
    fn config(&mut self, raw: &raw::RawExperiment) -> Result<Config, FileError> {
        let inline =
            raw.admin.is_some() || raw.observer.is_some() || !raw.target.is_empty() || raw.shutdown_grace.is_some();
        match &raw.config {
            Some(path) => {
                if inline {
                    let p = self.problem(
                        path.span().start,
                        "config".into(),
                        "cannot be combined with inline [admin], [observer] or [[target]]".into(),
                    );
                    p.hint = Some("declare the targets in one place".into());
                    return Err(FileError::Invalid(std::mem::take(&mut self.problems)));
                }
                let full: PathBuf = match self.base_dir {
                    Some(dir) if path.get_ref().is_relative() => dir.join(path.get_ref()),
                    _ => path.get_ref().clone(),
                };
                let mut config = config::load(&full)?;
                config.seed = raw.seed.or(config.seed);
                Ok(config)
            }
            None if !inline && self.serving.is_some() => {
                let mut config = self.serving.expect("checked by the guard").clone();
                config.seed = raw.seed.or(config.seed);
                Ok(config)
            }
            None => {
                // Re-read the inline part as a config: the same rules, the same messages.
                let inline_raw: InlineConfig = config::deserialize(self.loc)?;
                let raw_config = RawConfig {
                    admin: inline_raw.admin,
                    observer: inline_raw.observer,
                    target: inline_raw.target,
                    shutdown_grace: inline_raw.shutdown_grace,
                    seed: raw.seed,
                    graceful: None,
                };
                config::validate(self.loc, self.base_dir, raw_config)
            }
        }
    }

    fn phases(&mut self, raw: &raw::RawExperiment, config: &Config) -> Vec<Phase> {
        if raw.phase.is_empty() {
            self.problem(
                raw.title.span().start,
                "phase".into(),
                "is missing: an experiment needs at least one [[phase]]".into(),
            )
            .hint = Some("add [[phase]] name = \"baseline\" duration = \"30s\"".into());
        }
        let mut phases: Vec<Phase> = Vec::new();
        for (i, p) in raw.phase.iter().enumerate() {
            let key = format!("phase[{i}]");
            let name = p.name.get_ref().trim().to_string();
            if name.is_empty() {
                self.problem(p.name.span().start, format!("{key}.name"), "must not be empty".into());
            } else if phases.iter().any(|q| q.name == name) {
                self.problem(
                    p.name.span().start,
                    format!("{key}.name"),
                    format!("{name:?} is already the name of an earlier phase"),
                );
            }
            let duration = p.duration.get_ref().0;
            if duration.is_zero() {
                self.problem(
                    p.duration.span().start,
                    format!("{key}.duration"),
                    "must be more than zero, got \"0s\"".into(),
                );
            }
            let mut faults = Vec::new();
            for (j, f) in p.faults.iter().enumerate() {
                let fkey = format!("{key}.faults[{j}]");
                let Some(target_name) = &f.target else {
                    self.problem(
                        f.kind.span().start,
                        format!("{fkey}.target"),
                        "is required: which target does this fault break?".into(),
                    )
                    .hint = Some(format!("targets: {}", target_names(config)));
                    continue;
                };
                let Some(target) = config.targets.iter().find(|t| &t.name == target_name.get_ref()) else {
                    let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
                    let p = self.problem(
                        target_name.span().start,
                        format!("{fkey}.target"),
                        format!("names no target: {:?}", target_name.get_ref()),
                    );
                    p.hint = Some(match config::did_you_mean(target_name.get_ref(), names.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("targets: {}", target_names(config)),
                    });
                    continue;
                };
                let http = matches!(target.protocol, Protocol::Http(_));
                let default_name = format!("{}-{}", f.kind.get_ref(), j + 1);
                let id = (i as u64 + 1) * 1000 + j as u64 + 1;
                match validate_fault(f, http, id, &default_name) {
                    Ok(fault) => {
                        let ramp = f.ramp.as_ref().and_then(|r| self.ramp(r, &fkey, &fault));
                        faults.push(PhaseFault { target: target.name.clone(), fault, ramp });
                    }
                    Err(p) => {
                        let hint = p.hint.clone();
                        self.problem(p.offset, format!("{fkey}.{}", p.key), p.message).hint = hint;
                    }
                }
            }
            phases.push(Phase { name, duration, faults });
        }
        phases
    }

    fn ramp(&mut self, r: &Spanned<crate::config::fault::RawRamp>, key: &str, fault: &Fault) -> Option<Ramp> {
        let at = r.span().start;
        let raw = r.get_ref();
        let probability = match raw.probability {
            Some([Number(a), Number(b)]) => {
                if !(0.0..=1.0).contains(&a) || !(0.0..=1.0).contains(&b) {
                    self.problem(
                        at,
                        format!("{key}.ramp.probability"),
                        format!("must go between values from 0 to 1, got [{a}, {b}]"),
                    );
                    return None;
                }
                Some((a, b))
            }
            None => None,
        };
        let delay = raw.delay.map(|[a, b]| (a.0, b.0));
        if delay.is_some()
            && !matches!(
                fault.kind,
                crate::fault::Kind::Http(crate::fault::HttpKind::Latency {
                    delay: crate::fault::Distribution::Fixed(_),
                    ..
                }) | crate::fault::Kind::Tcp(crate::fault::TcpKind::Latency { .. }, _)
            )
        {
            self.problem(at, format!("{key}.ramp.delay"), "applies only to a latency fault with a fixed delay".into());
            return None;
        }
        if probability.is_none() && delay.is_none() {
            self.problem(at, format!("{key}.ramp"), "must ramp probability or delay".into()).hint =
                Some("ramp = { probability = [0.1, 1.0], steps = 10 }".into());
            return None;
        }
        let steps = raw.steps.unwrap_or(10);
        if steps < 2 {
            self.problem(at, format!("{key}.ramp.steps"), format!("must be at least 2, got {steps}"));
            return None;
        }
        Some(Ramp { probability, delay, steps })
    }

    fn route_known(&mut self, route: &Spanned<String>, key: String, load: Option<&Load>) {
        let pattern = route.get_ref();
        let Some(load) = load else { return };
        if pattern == "*" {
            return;
        }
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

    fn hypothesis(
        &mut self,
        raw: Option<&raw::RawHypothesis>,
        phases: &[String],
        load: Option<&Load>,
    ) -> (Hypothesis, GracefulRules) {
        let mut h = Hypothesis::default();
        let mut rules = GracefulRules::default();
        let Some(raw) = raw else { return (h, rules) };
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
            let mut r = GracefulRules::default();
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
            rules.by_route.push((rule.route.get_ref().clone(), Arc::new(r)));
            h.graceful.push(GracefulCheck { route: rule.route.get_ref().clone(), phase, at_least });
        }
        (h, rules)
    }

    fn guardrails(&mut self, raw: Option<&raw::RawGuardrails>, load: Option<&Load>) -> Vec<Guardrail> {
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
            let longest = Duration::from_secs(crate::record::live::RECENT_SECONDS);
            if window > longest || window.is_zero() {
                self.problem(
                    g.span().start,
                    format!("{key}.for"),
                    format!("must be from 1s to {longest:?}, got {window:?}"),
                );
                continue;
            }
            out.push(Guardrail { metric, route, above, window, min_requests: guard.min_requests.unwrap_or(10) });
        }
        out
    }

    fn load(&mut self, raw: &Spanned<raw::RawLoad>, config: &Config) -> Option<Load> {
        let l = raw.get_ref();
        let target = l.target.get_ref().clone();
        let known = target == "observer" && config.observer.is_some()
            || config.targets.iter().any(|t| t.name == target && matches!(t.protocol, Protocol::Http(_)))
            || target.starts_with("http://");
        if !known {
            self.problem(l.target.span().start, "load.target".into(), format!("names no HTTP listener: {target:?}"))
                .hint = Some("use \"observer\", an http target's name, or an http:// URL".into());
        }
        let rate = |v: &mut Self, s: &Spanned<String>, key: &str| match parse_request_rate(s.get_ref()) {
            Ok(r) => Some(r),
            Err(why) => {
                v.problem(
                    s.span().start,
                    key.into(),
                    format!("must be requests per time such as \"50/s\", got {:?} ({why})", s.get_ref()),
                );
                None
            }
        };
        let start_rate = rate(self, &l.rate, "load.rate")?;
        let ramp_to = match &l.ramp_to {
            Some(r) => Some(rate(self, r, "load.ramp_to")?),
            None => None,
        };
        let mut requests = Vec::new();
        for (i, r) in l.requests.iter().enumerate() {
            let key = format!("load.requests[{i}]");
            let req = r.get_ref();
            let method = req.method.as_deref().unwrap_or("GET");
            let Ok(method) = Method::from_bytes(method.to_ascii_uppercase().as_bytes()) else {
                self.problem(r.span().start, format!("{key}.method"), format!("is not an HTTP method: {method:?}"));
                continue;
            };
            if !req.path.get_ref().starts_with('/') {
                self.problem(
                    req.path.span().start,
                    format!("{key}.path"),
                    format!("must start with /, got {:?}", req.path.get_ref()),
                );
                continue;
            }
            let mut headers = Vec::new();
            for (k, v) in req.headers.iter().flatten() {
                match (HeaderName::from_bytes(k.as_bytes()), HeaderValue::from_str(v)) {
                    (Ok(k), Ok(v)) => headers.push((k, v)),
                    _ => {
                        self.problem(
                            r.span().start,
                            format!("{key}.headers.{k}"),
                            format!("is not a valid header: {k}: {v}"),
                        );
                    }
                }
            }
            requests.push(LoadRequest {
                method,
                path: req.path.get_ref().clone(),
                headers,
                body: Bytes::from(req.body.clone().unwrap_or_default()),
                weight: req.weight.unwrap_or(1).max(1),
            });
        }
        if l.requests.is_empty() {
            self.problem(raw.span().start, "load.requests".into(), "must list at least one request".into()).hint =
                Some("requests = [{ method = \"GET\", path = \"/\" }]".into());
        }
        let spikes =
            l.spikes.iter().map(|s| Spike { at: s.at.0, lasting: s.lasting.0, factor: s.factor.max(0.0) }).collect();
        Some(Load {
            target,
            rate: start_rate,
            ramp_to,
            spikes,
            concurrency: l.concurrency.unwrap_or(256).max(1),
            timeout: l.timeout.map_or(Duration::from_secs(10), |t| t.0),
            requests,
        })
    }

    fn schedule(&mut self, raw: &Spanned<raw::RawSchedule>) -> Option<Schedule> {
        let s = raw.get_ref();
        let cron = s.cron.get_ref().clone();
        if let Err(why) = schedule::Cron::parse(&cron) {
            self.problem(
                s.cron.span().start,
                "schedule.cron".into(),
                format!("must be a cron expression such as \"0 14 * * TUE\", got {cron:?}: {why}"),
            );
            return None;
        }
        let timezone = s.timezone.as_ref().map_or_else(|| "UTC".to_string(), |t| t.get_ref().clone());
        if let Err(why) = schedule::Zone::parse(&timezone) {
            let at = s.timezone.as_ref().map_or(s.cron.span().start, |t| t.span().start);
            self.problem(
                at,
                "schedule.timezone".into(),
                format!("must be UTC, a fixed offset such as \"+02:00\" or an IANA zone, got {timezone:?}: {why}"),
            );
            return None;
        }
        Some(Schedule { cron, timezone })
    }
}

/// The config part of an experiment file, read on its own.
#[derive(serde::Deserialize)]
struct InlineConfig {
    admin: Option<config::raw::RawAdmin>,
    observer: Option<config::raw::RawHttp>,
    #[serde(default)]
    target: Vec<config::raw::RawTarget>,
    shutdown_grace: Option<config::Dur>,
}

fn target_names(config: &Config) -> String {
    let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    if names.is_empty() {
        "none are declared".into()
    } else {
        names.join(", ")
    }
}
