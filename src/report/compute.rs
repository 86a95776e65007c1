//! Computing a [`Report`] from journal lines: pure, so `brownout report`
//! rebuilds the same report from the same journal at any time.

use std::collections::{BTreeMap, HashMap};
use std::io::BufRead;

use hdrhistogram::Histogram;

use super::model::{
    FaultStats, Impact, Origins, PhaseStats, Report, RouteStats, Sample, Stats, SteadyState, WindowStats, SCHEMA,
};
use super::verdict::{check_graceful, check_slo, AbortInfo, Status, Verdict};
use crate::record::journal::{Class, Line, Origin, Outcome};
use crate::record::live::histogram;
use crate::record::route;

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

/// Running counts and a latency histogram for one group of exchanges,
/// finished into [`Stats`].
#[derive(Clone)]
struct StatsBuilder {
    stats: Stats,
    latency: Histogram<u64>,
}

impl Default for StatsBuilder {
    fn default() -> Self {
        StatsBuilder { stats: Stats::default(), latency: histogram() }
    }
}

impl StatsBuilder {
    fn add(&mut self, o: &Exchange) {
        let s = &mut self.stats;
        s.requests += 1;
        match o.failed {
            None => s.succeeded += 1,
            Some(origin) => match origin {
                Origin::Injected => s.failed.injected += 1,
                Origin::Upstream => s.failed.upstream += 1,
                Origin::Proxy => s.failed.proxy += 1,
                Origin::Client => s.failed.client += 1,
            },
        }
        match o.class {
            Some(Class::Ok) => s.ok += 1,
            Some(Class::Graceful) => s.graceful += 1,
            Some(Class::Ungraceful) => s.ungraceful += 1,
            None => {}
        }
        let _ = self.latency.record(o.latency_us.max(1));
    }

    fn finish(mut self) -> Stats {
        let s = &mut self.stats;
        if s.requests > 0 {
            s.availability = Some(s.succeeded as f64 / s.requests as f64);
            s.error_rate = Some(1.0 - s.succeeded as f64 / s.requests as f64);
            let ms = |q: f64| self.latency.value_at_quantile(q) as f64 / 1000.0;
            s.p50_ms = Some(ms(0.50));
            s.p95_ms = Some(ms(0.95));
            s.p99_ms = Some(ms(0.99));
        }
        let failures = s.graceful + s.ungraceful;
        if failures > 0 {
            s.graceful_share = Some(s.graceful as f64 / failures as f64);
        }
        self.stats
    }
}

/// One request or connection, reduced to what the report needs.
struct Exchange {
    t: f64,
    listener: usize,
    route: usize,
    failed: Option<Origin>,
    class: Option<Class>,
    latency_us: u64,
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
    let mut faults: Vec<FaultStats> = Vec::new();
    let mut applied_by_records: HashMap<(String, String), u64> = HashMap::new();
    let mut samples = Vec::new();
    let mut experiment = None;
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
                let class = r.class;
                let latency_us = (r.latency_ms * 1000.0).round() as u64;
                end_t = end_t.max(r.t + r.latency_ms / 1000.0);
                if let Some(f) = &r.fault {
                    for name in f.split(',') {
                        *applied_by_records.entry((r.listener.clone(), name.to_string())).or_default() += 1;
                    }
                }
                let listener = intern(&r.listener, &mut names);
                let route = intern(&r.route, &mut names);
                if let Some(code) = r.grpc_status {
                    *grpc_codes.entry((listener, route)).or_default().entry(code).or_default() += 1;
                }
                obs.push(Exchange { t: r.t, listener, route, failed, class, latency_us });
            }
            Line::Connection(c) => {
                let failed = c.error.is_some().then(|| c.origin.unwrap_or(Origin::Upstream));
                end_t = end_t.max(c.t + c.duration_ms / 1000.0);
                if let Some(f) = &c.fault {
                    for name in f.split(',') {
                        *applied_by_records.entry((c.listener.clone(), name.to_string())).or_default() += 1;
                    }
                }
                let listener = intern(&c.listener, &mut names);
                let route = intern("tcp", &mut names);
                let latency_us = (c.duration_ms * 1000.0).round() as u64;
                obs.push(Exchange { t: c.t, listener, route, failed, class: None, latency_us });
            }
            Line::FaultOn(f) => {
                end_t = end_t.max(f.t);
                faults.push(FaultStats {
                    target: f.target.clone(),
                    name: f.fault.clone(),
                    kind: f.kind.clone(),
                    configured: f.configured.clone(),
                    on_s: f.t,
                    off_s: None,
                    applied: 0,
                });
            }
            Line::FaultOff(f) => {
                end_t = end_t.max(f.t);
                if let Some(open) =
                    faults.iter_mut().rev().find(|o| o.target == f.target && o.name == f.fault && o.off_s.is_none())
                {
                    open.off_s = Some(f.t);
                    open.applied = f.applied;
                }
            }
            Line::Sample(s) => samples.push(Sample {
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
    for f in &mut faults {
        if f.off_s.is_none() || f.applied == 0 {
            let counted = applied_by_records.get(&(f.target.clone(), f.name.clone())).copied().unwrap_or(0);
            f.applied = f.applied.max(counted);
        }
    }

    let observer = name_ids.get("observer").copied();
    let window_s = window_size(end_t);
    let mut routes: BTreeMap<(usize, usize), StatsBuilder> = BTreeMap::new();
    let mut windows: BTreeMap<(usize, usize), StatsBuilder> = BTreeMap::new();
    let mut headline = StatsBuilder::default();
    for o in &obs {
        routes.entry((o.listener, o.route)).or_default().add(o);
        windows.entry((o.listener, (o.t / window_s) as usize)).or_default().add(o);
        if observer.is_none_or(|id| id == o.listener) {
            headline.add(o);
        }
    }
    let is_observer = |l: usize| Some(l) == observer;
    let mut route_stats: Vec<RouteStats> = routes
        .into_iter()
        .map(|((l, r), acc)| RouteStats {
            listener: names[l].clone(),
            route: names[r].clone(),
            stats: acc.finish(),
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
    let impact = impact(&obs, &faults, &names, end_t, |l| is_observer(l) || observer.is_none());
    // The user-facing listener: the observer, else the load driver, else all.
    let user = observer.or_else(|| name_ids.get("load").copied());
    let in_user = |o: &Exchange| user.is_none_or(|u| u == o.listener);
    let spans: Vec<(String, f64, f64, u64)> = phase_lines
        .iter()
        .enumerate()
        .map(|(i, (name, start, faults))| {
            let end = phase_lines.get(i + 1).map_or(end_t, |next| next.1);
            (name.clone(), *start, end, *faults)
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
        .map(|(name, start, end, faults)| PhaseStats {
            name: name.clone(),
            start_s: *start,
            end_s: *end,
            faults: *faults,
            stats: stats_where(*start, *end, "*"),
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
    let verdict = experiment.map(|exp| {
        let mut checks = Vec::new();
        for slo in &exp.hypothesis.slos {
            for (name, start, end, _) in spans.iter().filter(|s| slo.phase.as_ref().is_none_or(|p| *p == s.0)) {
                checks.extend(check_slo(slo, name, &stats_where(*start, *end, &slo.route)));
            }
        }
        for rule in &exp.hypothesis.graceful {
            for (name, start, end, _) in spans.iter().filter(|s| rule.phase.as_ref().is_none_or(|p| *p == s.0)) {
                checks.push(check_graceful(rule, name, &stats_where(*start, *end, &rule.route)));
            }
        }
        let status = Status::of(outcome, checks.iter().all(|c| c.passed));
        Verdict { status, checks, abort: abort.clone() }
    });
    Report {
        schema: SCHEMA,
        title,
        started_ms,
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

/// For each fault, each user-facing route while the fault was on, against
/// the same route while no fault was on.
fn impact(
    obs: &[Exchange],
    faults: &[FaultStats],
    names: &[String],
    end_t: f64,
    user_facing: impl Fn(usize) -> bool,
) -> Vec<Impact> {
    let on_intervals: Vec<(f64, f64)> = faults.iter().map(|f| (f.on_s, f.off_s.unwrap_or(end_t))).collect();
    let any_on = |t: f64| on_intervals.iter().any(|(a, b)| t >= *a && t < *b);
    let mut baseline: BTreeMap<usize, StatsBuilder> = BTreeMap::new();
    for o in obs.iter().filter(|o| user_facing(o.listener) && !any_on(o.t)) {
        baseline.entry(o.route).or_default().add(o);
    }
    let baseline: BTreeMap<usize, Stats> = baseline.into_iter().map(|(r, a)| (r, a.finish())).collect();
    let mut out = Vec::new();
    for (f, (on, off)) in faults.iter().zip(&on_intervals) {
        let mut during: BTreeMap<usize, StatsBuilder> = BTreeMap::new();
        for o in obs.iter().filter(|o| user_facing(o.listener) && o.t >= *on && o.t < *off) {
            during.entry(o.route).or_default().add(o);
        }
        for (route, acc) in during {
            let during = acc.finish();
            let base = baseline.get(&route).cloned().unwrap_or_default();
            let availability_delta = during.availability.zip(base.availability).map(|(d, b)| d - b);
            let p99_delta_ms = during.p99_ms.zip(base.p99_ms).map(|(d, b)| d - b);
            out.push(Impact {
                target: f.target.clone(),
                fault: f.name.clone(),
                route: names[route].clone(),
                baseline: base,
                during,
                availability_delta,
                p99_delta_ms,
            });
        }
    }
    out.sort_by(|a, b| a.availability_delta.unwrap_or(0.0).total_cmp(&b.availability_delta.unwrap_or(0.0)));
    out
}

/// Failures by origin, as a list for tables.
pub fn origins(o: &Origins) -> [(&'static str, u64); 4] {
    [("injected", o.injected), ("upstream", o.upstream), ("proxy", o.proxy), ("client", o.client)]
}
