//! Validation of a raw experiment into the model, collecting every problem
//! with its position, key path and expected form.
//!
//! This file checks the experiment's shape (its config, phases and their
//! faults, ramps, load and schedule); `hypothesis.rs` checks what the run is
//! judged by (the hypothesis and the guardrails), and `standards.rs` what it
//! inherits of the standards (refusing any rule looser than one).

mod hypothesis;
mod standards;

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, Method};
use toml::Spanned;

use super::raw;
use super::{Experiment, Load, LoadRequest, Phase, PhaseFault, Ramp, Schedule, Spike, DEFAULT_SEED};
use crate::config::fault::{parse_request_rate, validate as validate_fault, Number};
use crate::config::{self, Config, FileError, Locator, Problem, Protocol, RawConfig, MAX_DURATION};
use crate::fault::Fault;
use hypothesis::METHODS;

pub use hypothesis::parse_percent;

/// Extra time the run may take beyond its phases before it is stopped.
pub(crate) const SLACK: Duration = Duration::from_secs(60);
/// The most a spike may multiply the load's rate by.
const MAX_SPIKE: f64 = 1000.0;
/// The load driver's limits: requests a second, and requests in flight.
const MAX_LOAD_RATE: f64 = 100_000.0;
const MAX_LOAD_CONCURRENCY: usize = 100_000;

/// Collects every problem of a file instead of stopping at the first.
pub(super) struct Validator<'a> {
    loc: &'a Locator<'a>,
    base_dir: Option<&'a Path>,
    serving: Option<&'a Config>,
    lookup: crate::standards::Lookup,
    problems: Vec<Problem>,
}

impl<'a> Validator<'a> {
    /// `base_dir` anchors relative paths such as `config`; an experiment that
    /// names no config and declares no targets runs on `serving`, if given.
    pub(super) fn new(loc: &'a Locator<'a>, base_dir: Option<&'a Path>, serving: Option<&'a Config>) -> Self {
        Validator { loc, base_dir, serving, lookup: crate::standards::Lookup::Off, problems: Vec::new() }
    }

    /// Where the standards the experiment inherits come from (none by default).
    pub(super) fn with_standards(mut self, lookup: crate::standards::Lookup) -> Self {
        self.lookup = lookup;
        self
    }

    fn problem(&mut self, offset: usize, key: String, message: String) -> &mut Problem {
        self.problems.push(self.loc.problem(offset, key, message));
        self.problems.last_mut().expect("a problem was just pushed")
    }

    pub(super) fn experiment(mut self, raw: raw::RawExperiment) -> Result<Experiment, FileError> {
        let config = self.config(&raw)?;
        let title = raw.title.get_ref().trim().to_string();
        if title.is_empty() {
            self.problem(raw.title.span().start, "title".into(), "must say what the experiment tests".into());
        }
        let phases = self.phases(&raw, &config);
        let total = phases.iter().try_fold(Duration::ZERO, |sum, p| sum.checked_add(p.duration));
        let total = match total.filter(|t| *t <= MAX_DURATION) {
            Some(total) => total,
            None => {
                let at = raw.phase.first().map_or(0, |p| p.duration.span().start);
                self.problem(at, "phase".into(), "last more than a year in all, the longest run brownout takes".into());
                MAX_DURATION
            }
        };
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
        let standards = self.find_standards(&raw)?;
        let service = self.service(&raw, standards.as_deref());
        let base = standards.as_ref().map_or_else(Default::default, |s| s.graceful_rules());
        let (mut hypothesis, graceful) = self.hypothesis(raw.hypothesis.as_ref(), &phase_names, load.as_ref(), &base);
        if let Some(st) = &standards {
            let of_service = service.as_deref().and_then(|name| st.service(name));
            self.inherit(raw.hypothesis.as_ref(), &mut hypothesis, st, of_service, &phases);
        }
        let guardrails = self.guardrails(raw.guardrails.as_ref(), load.as_ref());
        let schedule = raw.schedule.as_ref().and_then(|s| self.schedule(s));
        if !self.problems.is_empty() {
            self.problems.sort_by_key(|p| (p.line, p.column));
            return Err(FileError::Invalid(self.problems));
        }
        Ok(Experiment {
            file: self.loc.file.to_string(),
            sha256: crate::record::journal::sha256_hex(self.loc.text),
            title,
            description: raw.description,
            owner: raw.owner,
            tags: raw.tags.unwrap_or_default(),
            service,
            standards,
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
        let inline = raw.admin.is_some()
            || raw.observer.is_some()
            || !raw.target.is_empty()
            || raw.shutdown_grace.is_some()
            || raw.telemetry.is_some();
        match &raw.config {
            Some(path) => {
                if inline {
                    let p = self.problem(
                        path.span().start,
                        "config".into(),
                        "cannot be combined with inline [admin], [observer], [[target]] or [telemetry]".into(),
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
                    telemetry: inline_raw.telemetry,
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
                        if !duration.is_zero() && fault.scope.after >= duration {
                            let at = f.after.as_ref().map_or(f.kind.span().start, |a| a.span().start);
                            self.problem(
                                at,
                                format!("{fkey}.after"),
                                format!(
                                    "is {:?}, not shorter than its phase ({duration:?}): the fault would never start",
                                    fault.scope.after
                                ),
                            )
                            .hint = Some("shorten after, or lengthen the phase".into());
                            continue;
                        }
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
            Ok(r) if r > MAX_LOAD_RATE => {
                v.problem(
                    s.span().start,
                    key.into(),
                    format!("must be at most {MAX_LOAD_RATE}/s, got {:?}", s.get_ref()),
                )
                .hint = Some("one load driver sends at most 100000 requests a second".into());
                None
            }
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
            let upper = method.to_ascii_uppercase();
            let Some(method) =
                METHODS.contains(&upper.as_str()).then(|| Method::from_bytes(upper.as_bytes()).ok()).flatten()
            else {
                self.problem(r.span().start, format!("{key}.method"), format!("is not an HTTP method: {method:?}"))
                    .hint = Some(format!("methods: {}", METHODS.join(", ")));
                continue;
            };
            if req.weight == Some(0) {
                self.problem(r.span().start, format!("{key}.weight"), "must be at least 1, got 0".into()).hint =
                    Some("leave the request out to send none of it".into());
                continue;
            }
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
        let mut spikes = Vec::new();
        for (i, s) in l.spikes.iter().enumerate() {
            if !(s.factor > 0.0 && s.factor <= MAX_SPIKE) {
                self.problem(
                    raw.span().start,
                    format!("load.spikes[{i}].factor"),
                    format!("must be more than 0 and at most {MAX_SPIKE}, got {}", s.factor),
                )
                .hint = Some("a factor multiplies the rate: 3 is three times as many requests".into());
                continue;
            }
            spikes.push(Spike { at: s.at.0, lasting: s.lasting.0, factor: s.factor });
        }
        let concurrency = l.concurrency.unwrap_or(256);
        if concurrency == 0 || concurrency > MAX_LOAD_CONCURRENCY {
            self.problem(
                raw.span().start,
                "load.concurrency".into(),
                format!("must be from 1 to {MAX_LOAD_CONCURRENCY}, got {concurrency}"),
            );
        }
        Some(Load {
            target,
            rate: start_rate,
            ramp_to,
            spikes,
            concurrency: concurrency.clamp(1, MAX_LOAD_CONCURRENCY),
            timeout: l.timeout.map_or(Duration::from_secs(10), |t| t.0),
            requests,
        })
    }

    fn schedule(&mut self, raw: &Spanned<raw::RawSchedule>) -> Option<Schedule> {
        let s = raw.get_ref();
        let cron = s.cron.get_ref().clone();
        if let Err(why) = crate::experiment::schedule::Cron::parse(&cron) {
            self.problem(
                s.cron.span().start,
                "schedule.cron".into(),
                format!("must be a cron expression such as \"0 14 * * TUE\", got {cron:?}: {why}"),
            );
            return None;
        }
        let timezone = s.timezone.as_ref().map_or_else(|| "UTC".to_string(), |t| t.get_ref().clone());
        if let Err(why) = crate::experiment::schedule::Zone::parse(&timezone) {
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
    telemetry: Option<config::raw::RawTelemetry>,
}

fn target_names(config: &Config) -> String {
    let names: Vec<&str> = config.targets.iter().map(|t| t.name.as_str()).collect();
    if names.is_empty() {
        "none are declared".into()
    } else {
        names.join(", ")
    }
}
