//! Live aggregates of what was recorded: counts by outcome and origin and
//! latency histograms per listener and route, and per listener by second
//! for the last minute; rendered as Prometheus text for `/metrics`.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use hdrhistogram::Histogram;

use super::journal::{Class, Origin};
use super::window::{Window, WindowFigures};

/// Latencies are kept in microseconds, 1 µs to 10 minutes, 3 significant digits.
pub fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("constant bounds are valid")
}

/// The same at 2 significant digits: a tenth of the memory, for the
/// per-second tallies behind progress and guardrails.
fn coarse_histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 120_000_000, 2).expect("constant bounds are valid")
}

/// Counts of one group of requests or connections.
#[derive(Debug, Clone)]
pub struct Tally {
    pub requests: u64,
    pub failed: u64,
    pub by_origin: BTreeMap<Origin, u64>,
    pub by_class: BTreeMap<Class, u64>,
    pub latency: Histogram<u64>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally { requests: 0, failed: 0, by_origin: BTreeMap::new(), by_class: BTreeMap::new(), latency: histogram() }
    }
}

impl Tally {
    pub fn add(&mut self, failed_origin: Option<Origin>, class: Option<Class>, latency_us: u64) {
        self.requests += 1;
        if let Some(origin) = failed_origin {
            self.failed += 1;
            *self.by_origin.entry(origin).or_default() += 1;
        }
        if let Some(class) = class {
            *self.by_class.entry(class).or_default() += 1;
        }
        let _ = self.latency.record(latency_us.max(1));
    }

    /// How many answers of `class` there were.
    pub fn classed(&self, class: Class) -> u64 {
        self.by_class.get(&class).copied().unwrap_or(0)
    }

    pub fn error_rate(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failed as f64 / self.requests as f64
        }
    }
}

/// One second of one listener (or route).
#[derive(Debug, Clone)]
pub struct Second {
    pub second: u64,
    pub tally: Tally,
}

impl Second {
    fn new(second: u64) -> Self {
        Second { second, tally: Tally { latency: coarse_histogram(), ..Tally::default() } }
    }
}

#[derive(Default)]
pub struct LiveState {
    /// By listener, then route.
    pub routes: BTreeMap<String, BTreeMap<String, Tally>>,
    /// By listener, then route (`*` for all of the listener's): the last
    /// [`RECENT_SECONDS`], oldest first.
    pub recent: BTreeMap<String, BTreeMap<String, VecDeque<Second>>>,
    /// Faults applied, by (target, fault).
    pub faults: BTreeMap<(String, String), u64>,
    /// Each fault's kind, by (target, fault), from its `fault_on` event.
    pub kinds: BTreeMap<(String, String), String>,
    /// The guardrails' sliding windows, by the id [`Live::watch`] gave; `None`
    /// once unwatched.
    pub windows: Vec<Option<Window>>,
}

/// Shared between the writer thread, which adds, and readers (`/metrics`,
/// progress, guardrails).
#[derive(Default)]
pub struct Live {
    pub state: Mutex<LiveState>,
    pub dropped: Arc<AtomicU64>,
    /// The last requests of each listener, for the control page.
    pub feed: super::feed::Feed,
}

/// Seconds kept per listener and route: the longest guardrail window.
pub const RECENT_SECONDS: u64 = 30;

/// One request or connection as the live aggregates take it.
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    pub listener: &'a str,
    pub route: &'a str,
    /// The run second it started in.
    pub second: u64,
    /// When it ended.
    pub ended: SystemTime,
    pub failed_origin: Option<Origin>,
    pub class: Option<Class>,
    pub latency_us: u64,
}

impl Live {
    /// Keeps a sliding window of `span` over the requests of `listener`
    /// whose route matches `pattern`, from now on; returns its id.
    pub fn watch(&self, listener: &str, pattern: &str, span: Duration) -> usize {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.windows.push(Some(Window::new(listener, pattern, span)));
        s.windows.len() - 1
    }

    /// Stops keeping the window `id`.
    pub fn unwatch(&self, id: usize) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(w) = s.windows.get_mut(id) {
            *w = None;
        }
    }

    /// What the window `id` holds at `now`.
    pub fn window_at(&self, id: usize, now: SystemTime) -> WindowFigures {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        match s.windows.get_mut(id).and_then(Option::as_mut) {
            Some(w) => {
                w.expire(now);
                w.figures().clone()
            }
            None => WindowFigures::default(),
        }
    }

    pub fn add(&self, x: Exchange<'_>) {
        let Exchange { listener, route, second, ended, failed_origin, class, latency_us } = x;
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for w in s.windows.iter_mut().flatten().filter(|w| w.takes(listener, route)) {
            w.add(ended, latency_us, failed_origin.is_some(), class);
            w.expire(ended);
        }
        // Look up by reference first: keys are allocated once per route.
        if !s.routes.contains_key(listener) {
            s.routes.insert(listener.to_string(), BTreeMap::new());
        }
        let routes = s.routes.get_mut(listener).expect("inserted above");
        if !routes.contains_key(route) {
            routes.insert(route.to_string(), Tally::default());
        }
        routes.get_mut(route).expect("inserted above").add(failed_origin, class, latency_us);
        if !s.recent.contains_key(listener) {
            s.recent.insert(listener.to_string(), BTreeMap::new());
        }
        let by_route = s.recent.get_mut(listener).expect("inserted above");
        for key in ["*", route] {
            if !by_route.contains_key(key) {
                by_route.insert(key.to_string(), VecDeque::new());
            }
            let recent = by_route.get_mut(key).expect("inserted above");
            if recent.back().is_none_or(|b| b.second < second) {
                recent.push_back(Second::new(second));
            }
            if let Some(slot) = recent.iter_mut().rev().find(|b| b.second == second) {
                slot.tally.add(failed_origin, class, latency_us);
            }
            while recent.front().is_some_and(|f| f.second + RECENT_SECONDS <= second) {
                recent.pop_front();
            }
        }
    }

    pub fn fault_applied(&self, target: &str, faults: &str) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        for f in faults.split(',').filter(|f| !f.is_empty()) {
            *s.faults.entry((target.to_string(), f.to_string())).or_default() += 1;
        }
    }

    /// Remembers a fault's kind for the metrics' `kind` label.
    pub fn fault_on(&self, target: &str, fault: &str, kind: &str) {
        let mut s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        s.kinds.insert((target.to_string(), fault.to_string()), kind.to_string());
    }

    /// The tally of a listener's routes matching `route` (`*` for all) over
    /// the run seconds `from..=to`.
    pub fn window(&self, listener: &str, route: &str, from: u64, to: u64) -> Tally {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut total = Tally { latency: coarse_histogram(), ..Tally::default() };
        let Some(by_route) = s.recent.get(listener) else { return total };
        let seconds = by_route
            .iter()
            .filter(|(r, _)| if route == "*" { *r == "*" } else { *r != "*" && super::route::matches(route, r) })
            .flat_map(|(_, deque)| deque.iter())
            .filter(|b| b.second >= from && b.second <= to);
        for b in seconds {
            total.requests += b.tally.requests;
            total.failed += b.tally.failed;
            for (k, v) in &b.tally.by_origin {
                *total.by_origin.entry(*k).or_default() += v;
            }
            for (k, v) in &b.tally.by_class {
                *total.by_class.entry(*k).or_default() += v;
            }
            let _ = total.latency.add(&b.tally.latency);
        }
        total
    }

    /// Prometheus text exposition of everything recorded so far.
    /// `connections` gives the open connections per listener.
    pub fn prometheus(&self, connections: &[(String, i64)]) -> String {
        let s = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let mut out = String::new();
        out.push_str("# HELP brownout_requests_total Requests (TCP: connections) by listener, route and result; failures by origin.\n");
        out.push_str("# TYPE brownout_requests_total counter\n");
        for (listener, route, t) in s.routes.iter().flat_map(|(l, m)| m.iter().map(move |(r, t)| (l, r, t))) {
            let (l, r) = (escape(listener), escape(route));
            let _ = writeln!(
                out,
                "brownout_requests_total{{listener=\"{l}\",route=\"{r}\",result=\"succeeded\"}} {}",
                t.requests - t.failed
            );
            for (origin, n) in &t.by_origin {
                let _ = writeln!(
                    out,
                    "brownout_requests_total{{listener=\"{l}\",route=\"{r}\",result=\"failed\",origin=\"{}\"}} {n}",
                    origin.as_str()
                );
            }
        }
        out.push_str("# HELP brownout_graceful_total Observer responses by graceful class.\n");
        out.push_str("# TYPE brownout_graceful_total counter\n");
        for (listener, route, t) in s.routes.iter().flat_map(|(l, m)| m.iter().map(move |(r, t)| (l, r, t))) {
            for (class, n) in &t.by_class {
                let _ = writeln!(
                    out,
                    "brownout_graceful_total{{listener=\"{}\",route=\"{}\",class=\"{}\"}} {n}",
                    escape(listener),
                    escape(route),
                    class.as_str()
                );
            }
        }
        out.push_str("# HELP brownout_request_duration_seconds Request (TCP: connection) durations by listener.\n");
        out.push_str("# TYPE brownout_request_duration_seconds histogram\n");
        let mut by_listener: BTreeMap<&str, Histogram<u64>> = BTreeMap::new();
        for (listener, routes) in &s.routes {
            let h = by_listener.entry(listener.as_str()).or_insert_with(histogram);
            for t in routes.values() {
                let _ = h.add(&t.latency);
            }
        }
        const BUCKETS: [f64; 13] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
        for (listener, h) in &by_listener {
            let l = escape(listener);
            for le in BUCKETS {
                let below = h.count_between(0, (le * 1e6) as u64);
                let _ =
                    writeln!(out, "brownout_request_duration_seconds_bucket{{listener=\"{l}\",le=\"{le}\"}} {below}");
            }
            let _ =
                writeln!(out, "brownout_request_duration_seconds_bucket{{listener=\"{l}\",le=\"+Inf\"}} {}", h.len());
            let sum: f64 =
                h.iter_recorded().map(|v| v.value_iterated_to() as f64 * v.count_at_value() as f64).sum::<f64>() / 1e6;
            let _ = writeln!(out, "brownout_request_duration_seconds_sum{{listener=\"{l}\"}} {sum}");
            let _ = writeln!(out, "brownout_request_duration_seconds_count{{listener=\"{l}\"}} {}", h.len());
        }
        out.push_str(
            "# HELP brownout_faults_applied_total Requests or connections a fault was applied to (origin injected).\n",
        );
        out.push_str("# TYPE brownout_faults_applied_total counter\n");
        for ((target, fault), n) in &s.faults {
            let kind = s.kinds.get(&(target.clone(), fault.clone())).map_or("unknown", String::as_str);
            let _ = writeln!(
                out,
                "brownout_faults_applied_total{{target=\"{}\",fault=\"{}\",kind=\"{}\",origin=\"injected\"}} {n}",
                escape(target),
                escape(fault),
                escape(kind)
            );
        }
        out.push_str("# HELP brownout_active_connections Client connections open now.\n");
        out.push_str("# TYPE brownout_active_connections gauge\n");
        for (listener, n) in connections {
            let _ = writeln!(out, "brownout_active_connections{{listener=\"{}\"}} {n}", escape(listener));
        }
        out.push_str("# HELP brownout_journal_dropped_total Journal lines dropped because the recorder fell behind.\n");
        out.push_str("# TYPE brownout_journal_dropped_total counter\n");
        let _ = writeln!(out, "brownout_journal_dropped_total {}", self.dropped.load(Ordering::Relaxed));
        out
    }
}

/// Escapes a Prometheus label value.
fn escape(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
