//! Attribution by trace: each user request at the observer is linked to the
//! dependency calls of its W3C trace and the faults applied to them, so a
//! failure is blamed on the fault it met, not on every fault that was on
//! at the time. Where no user request's trace links to a fault's calls
//! (the application does not propagate trace context, or a TCP target), the
//! rows stay by time.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::faults::on_intervals;
use super::impact::{baselines, noise, rank, segments};
use super::model::{Attribution, FaultRef, FaultStats, Impact, Sample, TraceCall};
use super::stats::{Exchange, StatsBuilder};
use crate::record::journal::{Line, Request};
use crate::trace_context::parse_trace_hex;

/// The listener whose requests are the users'.
const OBSERVER: &str = "observer";

/// What the journal says of traces, gathered as its lines are read.
#[derive(Default)]
pub(super) struct Traces {
    /// The observer's requests with a trace: their index among the
    /// exchanges, and the trace.
    users: Vec<(usize, u128)>,
    /// The faults applied to dependency calls, by trace: indexes into `keys`.
    met: HashMap<u128, Vec<usize>>,
    /// Each fault met, by listener then name, as an index into `keys`.
    key_of: HashMap<String, HashMap<String, usize>>,
    keys: Vec<FaultRef>,
    /// The traces of the observer's samples, and every call seen in them.
    sampled: HashSet<u128>,
    calls: HashMap<u128, Vec<TraceCall>>,
}

impl Traces {
    /// Ready to read `lines`: the sampled traces are known first, so that
    /// only their calls are kept whole.
    pub fn new(lines: &[Line]) -> Self {
        let sampled = lines
            .iter()
            .filter_map(|l| match l {
                Line::Sample(s) if s.listener == OBSERVER => s.trace_id.as_deref().and_then(parse_trace_hex),
                _ => None,
            })
            .collect();
        Traces { sampled, ..Traces::default() }
    }

    /// Takes one request line, the exchange `index` it became.
    pub fn request(&mut self, r: &Request, index: usize) {
        let Some(trace) = r.trace_id.as_deref().and_then(parse_trace_hex) else { return };
        if r.listener == OBSERVER {
            self.users.push((index, trace));
            return;
        }
        if let Some(faults) = &r.fault {
            for name in faults.split(',').filter(|n| !n.is_empty()) {
                let key = self.key(&r.listener, name);
                self.met.entry(trace).or_default().push(key);
            }
        }
        if self.sampled.contains(&trace) {
            self.calls.entry(trace).or_default().push(TraceCall {
                t: r.t,
                listener: r.listener.clone(),
                route: r.route.clone(),
                status: r.status,
                grpc_status: r.grpc_status,
                error: r.error.clone(),
                latency_ms: r.latency_ms,
                origin: r.origin,
                fault: r.fault.clone(),
            });
        }
    }

    fn key(&mut self, listener: &str, fault: &str) -> usize {
        if let Some(&k) = self.key_of.get(listener).and_then(|m| m.get(fault)) {
            return k;
        }
        let k = self.keys.len();
        self.keys.push(FaultRef { target: listener.to_string(), fault: fault.to_string() });
        self.key_of.entry(listener.to_string()).or_default().insert(fault.to_string(), k);
        k
    }

    /// Gives each of the observer's samples the dependency calls of its trace.
    pub fn fill(&mut self, samples: &mut [Sample]) {
        for s in samples.iter_mut().filter(|s| s.listener == OBSERVER) {
            let Some(trace) = s.trace_id.as_deref().and_then(parse_trace_hex) else { continue };
            let mut calls = self.calls.get(&trace).cloned().unwrap_or_default();
            calls.sort_by(|a, b| a.t.total_cmp(&b.t));
            s.trace = calls;
        }
    }
}

/// The impact rows: by trace for every fault whose calls some user
/// request's trace met, each journey and fault a row of its own; by time
/// for the sets of faults on together that hold a fault no trace links
/// (`time` as `by_time` made them). Ranked.
pub(super) fn attribute(
    time: Vec<Impact>,
    obs: &[Exchange],
    traces: &Traces,
    faults: &[FaultStats],
    names: &[String],
    end: f64,
) -> Vec<Impact> {
    // Per fault met (a key) and user route: the requests that met it, and
    // how many of their calls it was applied to.
    let mut during: BTreeMap<(usize, usize), (StatsBuilder, u64)> = BTreeMap::new();
    for &(index, trace) in &traces.users {
        let Some(met) = traces.met.get(&trace) else { continue };
        let o = &obs[index];
        let mut seen: Vec<usize> = Vec::with_capacity(met.len());
        for &key in met {
            let (stats, calls) = during.entry((key, o.route)).or_default();
            *calls += 1;
            if !seen.contains(&key) {
                seen.push(key);
                stats.add(o);
            }
        }
    }
    if during.is_empty() {
        return time;
    }
    let is_user = |l: usize| names[l] == OBSERVER;
    let base = baselines(obs, &segments(faults, end), is_user);
    let traced: HashSet<&FaultRef> = during.keys().map(|(key, _)| &traces.keys[*key]).collect();
    let mut out: Vec<Impact> = time.into_iter().filter(|row| !row.faults.iter().all(|f| traced.contains(f))).collect();
    for ((key, route), (stats, calls)) in during {
        let fault = &traces.keys[key];
        let on_s = faults
            .iter()
            .find(|f| f.target == fault.target && f.name == fault.fault)
            .map_or(0.0, |f| on_intervals(f, end).map(|(on, off)| off - on).sum());
        let during = stats.finish();
        let baseline = base.get(&route).cloned().unwrap_or_default();
        out.push(Impact {
            target: fault.target.clone(),
            fault: fault.fault.clone(),
            faults: vec![fault.clone()],
            label: format!("{}/{}", fault.target, fault.fault),
            on_s,
            route: names[route].clone(),
            availability_delta: during.availability.zip(baseline.availability).map(|(d, b)| d - b),
            p99_delta_ms: during.p99_ms.zip(baseline.p99_ms).map(|(d, b)| d - b),
            noise: noise(&baseline, &during, Attribution::Trace),
            baseline,
            during,
            attribution: Attribution::Trace,
            calls: Some(calls),
        });
    }
    out.sort_by(rank);
    out
}

#[cfg(test)]
mod tests {
    use crate::record::journal::{Class, FaultOn, Line, Origin, Request, Start, Stop};
    use crate::report::model::{Attribution, Impact};

    fn request(t: f64, listener: &str, route: &str, status: u16, trace: Option<u128>, fault: Option<&str>) -> Line {
        let (method, path) = route.split_once(' ').expect("route");
        let failed = status >= 500;
        Line::Request(Request {
            t,
            listener: listener.into(),
            method: method.into(),
            path: path.into(),
            route: route.into(),
            status: Some(status),
            grpc_status: None,
            latency_ms: 2.0,
            ttfb_ms: None,
            bytes_in: 0,
            bytes_out: 10,
            origin: failed.then_some(if fault.is_some() { Origin::Injected } else { Origin::Upstream }),
            error: None,
            fault: fault.map(str::to_string),
            class: (listener == "observer").then_some(if failed { Class::Ungraceful } else { Class::Ok }),
            trace_id: trace.map(crate::trace_context::trace_hex),
            span_id: trace.map(|t| crate::trace_context::span_hex(t as u64 | 1)),
            parent_span_id: None,
        })
    }

    fn fault_on(t: f64, target: &str, fault: &str) -> Line {
        Line::FaultOn(FaultOn {
            t,
            target: target.into(),
            fault: fault.into(),
            kind: "error".into(),
            configured: String::new(),
            uncounted: false,
        })
    }

    /// A run of 20 s: from 10 s, payments fails every checkout's call and
    /// inventory fails every product page's call, both faults on together.
    /// With `traced`, each user request and the call it made share a trace.
    fn run(traced: bool) -> Vec<Impact> {
        let mut lines = vec![Line::Start(Start {
            ts: 0,
            schema: 1,
            title: "two faults".into(),
            seed: None,
            listeners: vec!["observer".into(), "payments".into(), "inventory".into()],
            experiment: None,
            version: None,
            command: None,
        })];
        lines.push(fault_on(10.0, "payments", "error-1"));
        lines.push(fault_on(10.0, "inventory", "error-2"));
        let mut trace = 0u128;
        for i in 0..200 {
            let t = f64::from(i) * 0.1;
            let on = t >= 10.0;
            for (journey, dep, call, fault) in [
                ("POST /checkout", "payments", "POST /v1/charges", "error-1"),
                ("GET /products/{id}", "inventory", "GET /stock/{id}", "error-2"),
            ] {
                trace += 1;
                let id = traced.then_some(trace);
                // Half of each journey's calls meet their fault; the user request fails with its call.
                let hit = on && i % 2 == 0;
                let status = if hit { 503 } else { 200 };
                lines.push(request(t, dep, call, status, id, hit.then_some(fault)));
                lines.push(request(t, "observer", journey, status, id, None));
            }
        }
        lines.push(Line::Stop(Stop {
            t: 20.0,
            outcome: crate::record::journal::Outcome::Stopped,
            dropped: 0,
            spans: None,
        }));
        crate::report::compute(&lines).impact
    }

    #[test]
    fn faults_on_together_are_told_apart_by_trace_where_time_blames_both() {
        let by_time = run(false);
        assert_eq!(by_time.len(), 2, "{by_time:#?}");
        for row in &by_time {
            assert_eq!(row.attribution, Attribution::Time);
            assert_eq!(row.label, "payments/error-1 + inventory/error-2", "time blames both faults for {}", row.route);
        }

        let by_trace = run(true);
        let rows: Vec<(&str, &str, Attribution, u64, u64, u64)> = by_trace
            .iter()
            .map(|r| {
                (r.label.as_str(), r.route.as_str(), r.attribution, r.during.requests, r.during.ok, r.during.ungraceful)
            })
            .collect();
        assert_eq!(
            rows,
            [
                ("inventory/error-2", "GET /products/{id}", Attribution::Trace, 50, 0, 50),
                ("payments/error-1", "POST /checkout", Attribution::Trace, 50, 0, 50),
            ],
            "each journey is blamed on its own dependency's fault only"
        );
        for row in &by_trace {
            assert_eq!(row.calls, Some(50));
            assert_eq!(row.baseline.availability, Some(1.0));
            assert_eq!(row.availability_delta, Some(-1.0));
            assert_eq!(row.noise, None);
            assert!((row.on_s - 10.0).abs() < 1e-9, "{}", row.on_s);
        }
    }
}
