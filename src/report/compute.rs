//! Computing a [`Report`] from journal lines: pure, so `brownout report`
//! rebuilds the same report from the same journal at any time.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use super::coverage::{self, Seen, Span};
use super::faults::Timelines;
use super::model::{
    Origins, PhaseStats, Report, Reproduce, RouteStats, Sample, Stats, SteadyState, WindowStats, SCHEMA, TCP_ROUTE,
};
use super::stats::{Exchange, RouteExtras, StatsBuilder};
use super::verdict::{check_graceful, check_slo, AbortInfo, Status, Verdict};
use crate::record::journal::{Line, Origin, Outcome, UncheckedPolicy};
use crate::record::route;

/// Raw `METHOD /path`s kept per route, for rules written against a raw path.
const RAW_PATHS: usize = 16;

/// Why a journal could not be read.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("{file}: cannot read: {source}")]
    Read {
        file: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{file}:{line}: not a journal line: {message}")]
    Bad { file: String, line: usize, message: String },
    #[error("{file}: empty journal (no start line)")]
    Empty { file: String },
}

/// Reads a journal file and computes its report. A torn last line (the
/// process was killed mid-write) is ignored; any other bad line is an error.
pub fn from_file(path: &std::path::Path) -> Result<Report, JournalError> {
    let file_name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| JournalError::Read { file: file_name.clone(), source })?;
    let reader = std::io::BufReader::with_capacity(1 << 20, file);
    let mut lines = Vec::new();
    let mut pending_error: Option<JournalError> = None;
    for (i, line) in reader.lines().enumerate() {
        let line = line.map_err(|source| JournalError::Read { file: file_name.clone(), source })?;
        if line.trim().is_empty() {
            continue;
        }
        if let Some(e) = pending_error.take() {
            return Err(e);
        }
        match serde_json::from_str::<Line>(&line) {
            Ok(l) => lines.push(l),
            Err(e) => {
                pending_error = Some(JournalError::Bad { file: file_name.clone(), line: i + 1, message: e.to_string() })
            }
        }
    }
    if lines.is_empty() {
        return Err(JournalError::Empty { file: file_name });
    }
    Ok(compute(&lines))
}

/// Computes the report of a whole journal.
pub fn compute(lines: &[Line]) -> Report {
    let mut title = "brownout proxy".to_string();
    let mut started_ms = 0;
    let mut seed = None;
    let mut outcome = Outcome::Unfinished;
    let mut dropped = 0;
    let mut end_t: f64 = 0.0;
    let mut names: Vec<String> = Vec::new();
    let mut name_ids: HashMap<String, usize> = HashMap::new();
    let mut intern = |s: &str, names: &mut Vec<String>| -> usize {
        if let Some(&i) = name_ids.get(s) {
            return i;
        }
        names.push(s.to_string());
        name_ids.insert(s.to_string(), names.len() - 1);
        names.len() - 1
    };
    let mut obs: Vec<Exchange> = Vec::new();
    let mut raw_paths: HashMap<usize, Vec<String>> = HashMap::new();
    let mut timelines = Timelines::default();
    let mut samples = Vec::new();
    let mut experiment = None;
    let mut listeners: Vec<String> = Vec::new();
    let mut reproduce = Reproduce::default();
    let mut phase_lines: Vec<(String, f64, u64)> = Vec::new();
    let mut abort: Option<AbortInfo> = None;
    let mut grpc_codes: HashMap<(usize, usize), BTreeMap<u16, u64>> = HashMap::new();
    for line in lines {
        match line {
            Line::Start(s) => {
                title = s.title.clone();
                started_ms = s.ts;
                seed = s.seed;
                experiment = s.experiment.clone();
                listeners = s.listeners.clone();
                reproduce = Reproduce {
                    version: s.version.clone(),
                    seed: s.seed,
                    experiment: s.experiment.as_ref().and_then(|e| e.file.clone()),
                    sha256: s.experiment.as_ref().and_then(|e| e.sha256.clone()),
                    command: s.command.clone(),
                };
            }
            Line::Phase(p) => {
                end_t = end_t.max(p.t);
                phase_lines.push((p.name.clone(), p.t, p.faults));
            }
            Line::Abort(a) => {
                end_t = end_t.max(a.t);
                abort = Some(AbortInfo { guardrail: a.guardrail.clone(), at_s: a.t, value: a.value.clone() });
            }
            Line::Request(r) => {
                let failed = r.failed().then(|| r.origin.unwrap_or(Origin::Upstream));
                end_t = end_t.max(r.t + r.latency_ms / 1000.0);
                if let Some(f) = &r.fault {
                    timelines.applied(&r.listener, f, r.t);
                }
                let listener = intern(&r.listener, &mut names);
                let route = intern(&r.route, &mut names);
                let error = r.error.as_deref().map(|e| intern(e, &mut names));
                let raw = raw_paths.entry(route).or_default();
                if raw.len() < RAW_PATHS {
                    let path = format!("{} {}", r.method, r.path.split('?').next().unwrap_or(&r.path));
                    if !raw.contains(&path) {
                        raw.push(path);
                    }
                }
                if let Some(code) = r.grpc_status {
                    *grpc_codes.entry((listener, route)).or_default().entry(code).or_default() += 1;
                }
                obs.push(Exchange {
                    t: r.t,
                    listener,
                    route,
                    failed,
                    class: r.class,
                    latency_us: (r.latency_ms * 1000.0).round() as u64,
                    status: r.status,
                    grpc: r.grpc_status,
                    error,
                    bytes_in: r.bytes_in,
                    bytes_out: r.bytes_out,
                });
            }
            Line::Connection(c) => {
                let failed = c.error.is_some().then(|| c.origin.unwrap_or(Origin::Upstream));
                end_t = end_t.max(c.t + c.duration_ms / 1000.0);
                if let Some(f) = &c.fault {
                    timelines.applied(&c.listener, f, c.t);
                }
                let listener = intern(&c.listener, &mut names);
                let route = intern(TCP_ROUTE, &mut names);
                let error = c.error.as_deref().map(|e| intern(e, &mut names));
                obs.push(Exchange {
                    t: c.t,
                    listener,
                    route,
                    failed,
                    class: None,
                    latency_us: (c.duration_ms * 1000.0).round() as u64,
                    status: None,
                    grpc: None,
                    error,
                    bytes_in: c.bytes_in,
                    bytes_out: c.bytes_out,
                });
            }
            Line::FaultOn(f) => {
                end_t = end_t.max(f.t);
                timelines.on(f);
            }
            Line::FaultOff(f) => {
                end_t = end_t.max(f.t);
                timelines.off(f);
            }
            Line::Sample(s) => samples.push(Sample {
                t: s.t,
                listener: s.listener.clone(),
                route: s.route.clone(),
                class: s.class,
                status: s.status,
                error: s.error.clone(),
                latency_ms: s.latency_ms,
                headers: s.headers.clone(),
                body: s.body.clone(),
            }),
            Line::Stop(s) => {
                outcome = s.outcome;
                dropped = s.dropped;
                end_t = end_t.max(s.t);
            }
        }
    }
    let faults = timelines.finish();

    let observer = name_ids.get("observer").copied();
    let window_s = window_size(end_t);
    let mut routes: BTreeMap<(usize, usize), (StatsBuilder, RouteExtras)> = BTreeMap::new();
    let mut windows: BTreeMap<(usize, usize), StatsBuilder> = BTreeMap::new();
    let mut headline = StatsBuilder::default();
    for o in &obs {
        let (stats, extras) = routes.entry((o.listener, o.route)).or_default();
        stats.add(o);
        extras.add(o, &names);
        windows.entry((o.listener, (o.t / window_s) as usize)).or_default().add(o);
        if observer.is_none_or(|id| id == o.listener) {
            headline.add(o);
        }
    }
    let is_observer = |l: usize| Some(l) == observer;
    let mut route_stats: Vec<RouteStats> = routes
        .into_iter()
        .map(|((l, r), (acc, extras))| RouteStats {
            listener: names[l].clone(),
            route: names[r].clone(),
            stats: acc.finish(),
            bytes_in: extras.bytes_in,
            bytes_out: extras.bytes_out,
            statuses: extras.statuses(),
            grpc_status: grpc_codes
                .get(&(l, r))
                .map(|codes| codes.iter().map(|(c, n)| (crate::grpc::code_name(*c), *n)).collect())
                .unwrap_or_default(),
        })
        .collect();
    route_stats.sort_by(|a, b| {
        (b.listener == "observer", &a.listener, &a.route).cmp(&(a.listener == "observer", &b.listener, &b.route))
    });
    let window_stats = windows
        .into_iter()
        .map(|((l, w), acc)| WindowStats {
            listener: names[l].clone(),
            start_s: w as f64 * window_s,
            end_s: (w + 1) as f64 * window_s,
            stats: acc.finish(),
        })
        .collect();
    let impact = super::impact::by_time(&obs, &faults, &names, end_t, |l| is_observer(l) || observer.is_none());
    // The user-facing listener: the observer, else the load driver, else all.
    let user = observer.or_else(|| name_ids.get("load").copied());
    let in_user = |o: &Exchange| user.is_none_or(|u| u == o.listener);
    let spans: Vec<Span> = phase_lines
        .iter()
        .enumerate()
        .map(|(i, (name, start, faults))| Span {
            name: name.clone(),
            start: *start,
            end: phase_lines.get(i + 1).map_or(end_t, |next| next.1),
            faults: *faults,
        })
        .collect();
    let stats_where = |from: f64, to: f64, pattern: &str| -> Stats {
        let mut acc = StatsBuilder::default();
        for o in
            obs.iter().filter(|o| in_user(o) && o.t >= from && o.t < to && route::matches(pattern, &names[o.route]))
        {
            acc.add(o);
        }
        acc.finish()
    };
    let phases: Vec<PhaseStats> = spans
        .iter()
        .map(|s| PhaseStats {
            name: s.name.clone(),
            start_s: s.start,
            end_s: s.end,
            faults: s.faults,
            stats: stats_where(s.start, s.end, "*"),
        })
        .collect();
    let quiet: Vec<&PhaseStats> = phases.iter().filter(|p| p.faults == 0).collect();
    let steady_state = match (quiet.first(), quiet.last()) {
        (Some(a), Some(b)) if a.name != b.name => Some(SteadyState {
            before_phase: a.name.clone(),
            after_phase: b.name.clone(),
            before: a.stats.clone(),
            after: b.stats.clone(),
        }),
        _ => None,
    };
    let mut standards = None;
    let schedule = experiment.as_ref().and_then(|e| e.schedule.clone());
    let verdict = experiment.map(|exp| {
        let mut checks = Vec::new();
        // The experiment's own rules; the standards' are judged per route below.
        for slo in exp.hypothesis.slos.iter().filter(|s| s.standard.is_none()) {
            for s in spans.iter().filter(|s| slo.phase.as_ref().is_none_or(|p| *p == s.name)) {
                checks.extend(check_slo(slo, &s.name, &stats_where(s.start, s.end, &slo.route)));
            }
        }
        for rule in exp.hypothesis.graceful.iter().filter(|g| g.standard.is_none()) {
            for s in spans.iter().filter(|s| rule.phase.as_ref().is_none_or(|p| *p == s.name)) {
                checks.push(check_graceful(rule, &s.name, &stats_where(s.start, s.end, &rule.route)));
            }
        }
        // Who stands for the users, as the journal declared the listeners:
        // an observer that saw nothing is still the observer.
        let user_name = ["observer", "load"].into_iter().find(|n| listeners.iter().any(|l| l == n));
        let no_classes = HashMap::new();
        let mut seen = Seen {
            obs: &obs,
            names: &names,
            raw_paths: &raw_paths,
            spans: &spans,
            user: user_name,
            classes: &no_classes,
        };
        let classes = super::standards::classes(&seen, exp.standards.as_ref().map_or(&[][..], |s| &s.routes[..]));
        seen.classes = &classes;
        checks.extend(super::standards::checks(&seen, &exp.hypothesis, &classes));
        standards = Some(super::standards::report(&seen, &exp, &classes));
        let unchecked = coverage::unchecked(&seen, &exp.hypothesis, &samples);
        let inconclusive = match outcome {
            Outcome::Completed | Outcome::Stopped => coverage::inconclusive(&seen, &faults, end_t),
            _ => Vec::new(),
        };
        let found_wrong = checks.iter().any(|c| !c.passed)
            || (exp.hypothesis.unchecked == UncheckedPolicy::Fail && !unchecked.is_empty());
        let status = Status::of(outcome, found_wrong, !inconclusive.is_empty());
        Verdict {
            status,
            checks,
            abort: abort.clone(),
            unchecked,
            unchecked_policy: exp.hypothesis.unchecked,
            inconclusive,
        }
    });
    Report {
        schema: SCHEMA,
        title,
        started_ms,
        started: super::words::iso_utc(started_ms),
        duration_s: end_t,
        seed,
        outcome,
        headline: headline.finish(),
        routes: route_stats,
        windows: window_stats,
        window_s,
        faults,
        impact,
        samples,
        dropped,
        phases,
        verdict,
        steady_state,
        reproduce,
        standards,
        schedule,
    }
}

/// A window size that gives at most about 120 windows: 1, 2, 5, 10, 15,
/// 30 or 60 seconds, then whole minutes.
fn window_size(duration: f64) -> f64 {
    let raw = (duration / 120.0).max(1.0);
    for nice in [1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0] {
        if raw <= nice {
            return nice;
        }
    }
    (raw / 60.0).ceil() * 60.0
}

/// Failures by origin, as a list for tables.
pub fn origins(o: &Origins) -> [(&'static str, u64); 4] {
    [("injected", o.injected), ("upstream", o.upstream), ("proxy", o.proxy), ("client", o.client)]
}
