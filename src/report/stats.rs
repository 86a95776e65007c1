//! The exchanges a report counts, reduced to what it needs, and the running
//! counts that finish into [`Stats`].

use std::collections::BTreeMap;

use hdrhistogram::Histogram;

use super::model::{Stats, StatusCount, StatusKind};
use crate::record::journal::{Class, Origin};
use crate::record::live::histogram;

/// One request or connection, reduced to what the report needs; names
/// (listeners, routes, errors) are indexes into the report's name table.
pub(super) struct Exchange {
    /// Seconds since the start, when it arrived.
    pub t: f64,
    pub listener: usize,
    pub route: usize,
    pub failed: Option<Origin>,
    pub class: Option<Class>,
    pub latency_us: u64,
    pub status: Option<u16>,
    /// A gRPC call's `grpc-status` code, which says more than its HTTP 200.
    pub grpc: Option<u16>,
    /// What went wrong without a status (`reset`), as a name index.
    pub error: Option<usize>,
    pub bytes_in: u64,
    pub bytes_out: u64,
}

/// Running counts and a latency histogram for one group of exchanges,
/// finished into [`Stats`].
#[derive(Clone)]
pub(super) struct StatsBuilder {
    stats: Stats,
    latency: Histogram<u64>,
}

impl Default for StatsBuilder {
    fn default() -> Self {
        StatsBuilder { stats: Stats::default(), latency: histogram() }
    }
}

impl StatsBuilder {
    pub fn add(&mut self, o: &Exchange) {
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

    pub fn finish(mut self) -> Stats {
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

/// A route's bytes and statuses, beside its [`StatsBuilder`].
#[derive(Default)]
pub(super) struct RouteExtras {
    pub bytes_in: u64,
    pub bytes_out: u64,
    statuses: BTreeMap<(StatusKind, String, Option<Origin>), u64>,
}

impl RouteExtras {
    pub fn add(&mut self, o: &Exchange, names: &[String]) {
        self.bytes_in += o.bytes_in;
        self.bytes_out += o.bytes_out;
        let key = match (o.grpc, o.status, o.error) {
            (Some(code), _, _) => (StatusKind::Grpc, crate::grpc::code_name(code), o.failed),
            (None, Some(code), _) => (StatusKind::Http, code.to_string(), o.failed),
            (None, None, Some(e)) => (StatusKind::Error, names[e].clone(), o.failed),
            // A TCP connection that ended cleanly has no status to show.
            (None, None, None) if o.failed.is_none() => return,
            (None, None, None) => (StatusKind::Error, "no response".into(), o.failed),
        };
        *self.statuses.entry(key).or_default() += 1;
    }

    /// The statuses, most frequent first within each origin (successes first).
    pub fn statuses(&self) -> Vec<StatusCount> {
        let mut out: Vec<StatusCount> = self
            .statuses
            .iter()
            .map(|((kind, status, origin), count)| StatusCount {
                kind: *kind,
                status: status.clone(),
                origin: *origin,
                count: *count,
            })
            .collect();
        out.sort_by(|a, b| a.origin.cmp(&b.origin).then(b.count.cmp(&a.count)).then(a.status.cmp(&b.status)));
        out
    }
}
