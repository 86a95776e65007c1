//! A realistic synthetic [`Report`] for tests and for looking at the HTML page: a five-minute run of a shop whose
//! observer sees four routes while brownout slows inventory, takes payments down, resets recommendations and
//! makes payments flaky.
//!
//! The numbers come from a small deterministic simulation (a fixed-seed xorshift), so they are consistent with
//! each other: windows add up to routes, routes to the headline, and impacts are computed from the same windows.

use brownout::record::journal::{Class, Outcome};
use brownout::report::model::{
    FaultInterval, FaultRef, FaultStats, Impact, Origins, Report, RouteStats, Sample, Stats, WindowStats, SCHEMA,
};

const DURATION_S: f64 = 298.6;
const WINDOW_S: f64 = 10.0;

/// A deterministic xorshift64* generator: the sample must be identical on every run.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
    /// A factor around 1 within `± spread`.
    fn jitter(&mut self, spread: f64) -> f64 {
        1.0 + spread * (2.0 * self.unit() - 1.0)
    }
    /// `n * p` rounded randomly, so small rates still produce occasional counts.
    fn share(&mut self, n: u64, p: f64) -> u64 {
        ((n as f64 * p.clamp(0.0, 1.0)) + self.unit()).floor().min(n as f64) as u64
    }
}

struct FaultDef {
    target: &'static str,
    name: &'static str,
    kind: &'static str,
    configured: &'static str,
    on_s: f64,
    off_s: Option<f64>,
}

const FAULTS: [FaultDef; 4] = [
    FaultDef {
        target: "inventory",
        name: "slow-stock",
        kind: "latency",
        configured: "normal(400ms, 120ms) before response",
        on_s: 40.0,
        off_s: Some(130.0),
    },
    FaultDef {
        target: "payments",
        name: "outage",
        kind: "outage",
        configured: "refuse connections",
        on_s: 120.0,
        off_s: Some(180.0),
    },
    FaultDef {
        target: "recommendations",
        name: "reset-half",
        kind: "reset",
        configured: "reset after headers, p=0.5",
        on_s: 150.0,
        off_s: Some(165.0),
    },
    FaultDef {
        target: "payments",
        name: "flaky-503",
        kind: "error",
        configured: "status 503 with Retry-After: 2, p=0.15",
        on_s: 215.0,
        off_s: None,
    },
];

/// An observer route: its traffic, its latency when healthy, and the dependencies it calls.
struct RouteDef {
    route: &'static str,
    rps: f64,
    latency: [f64; 3],
    deps: &'static [&'static str],
}

const ROUTES: [RouteDef; 4] = [
    RouteDef {
        route: "GET /products",
        rps: 14.0,
        latency: [38.0, 95.0, 160.0],
        deps: &["inventory", "recommendations"],
    },
    RouteDef {
        route: "GET /products/{id}",
        rps: 9.0,
        latency: [24.0, 70.0, 130.0],
        deps: &["inventory", "recommendations"],
    },
    RouteDef { route: "GET /cart", rps: 4.0, latency: [18.0, 45.0, 90.0], deps: &["inventory"] },
    RouteDef { route: "POST /checkout", rps: 2.2, latency: [120.0, 260.0, 420.0], deps: &["payments", "inventory"] },
];

/// A dependency listener: one route, healthy latency, and which observer routes call it.
struct TargetDef {
    listener: &'static str,
    route: &'static str,
    latency: [f64; 3],
}

const TARGETS: [TargetDef; 4] = [
    TargetDef { listener: "inventory", route: "GET /stock/{sku}", latency: [8.0, 21.0, 37.0] },
    TargetDef { listener: "payments", route: "POST /v1/charges", latency: [92.0, 180.0, 290.0] },
    TargetDef { listener: "recommendations", route: "GET /recs/{user}", latency: [14.0, 33.0, 61.0] },
    TargetDef { listener: "postgres", route: "tcp", latency: [1.2, 3.4, 7.9] },
];

/// How much of a window `[start, end)` a fault covered, 0 to 1.
fn overlap(f: &FaultDef, start: f64, end: f64) -> f64 {
    let off = f.off_s.unwrap_or(f64::INFINITY);
    ((end.min(off) - start.max(f.on_s)).max(0.0)) / (end - start)
}

/// Fills in the derived fields from the counts.
fn finish(mut s: Stats, observer: bool) -> Stats {
    let failed = s.failed.injected + s.failed.upstream + s.failed.proxy + s.failed.client;
    s.succeeded = s.requests - failed;
    if observer {
        s.ok = s.succeeded;
    }
    if s.requests > 0 {
        s.availability = Some(s.succeeded as f64 / s.requests as f64);
        s.error_rate = Some(failed as f64 / s.requests as f64);
    } else {
        (s.p50_ms, s.p95_ms, s.p99_ms) = (None, None, None);
    }
    let judged = s.graceful + s.ungraceful;
    s.graceful_share = if observer && judged > 0 { Some(s.graceful as f64 / judged as f64) } else { None };
    s
}

/// The `q` quantile of some values (nearest rank), or `None` without any.
fn quantile(mut values: Vec<f64>, q: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let rank = ((values.len() as f64 - 1.0) * q).round() as usize;
    values.get(rank).copied()
}

/// Adds up windows; the percentiles are approximated from the windows' own (the real report computes them from
/// every request, which a synthetic sample does not have).
fn aggregate(parts: &[&Stats], observer: bool) -> Stats {
    let mut s = Stats::default();
    for p in parts {
        s.requests += p.requests;
        s.failed.injected += p.failed.injected;
        s.failed.upstream += p.failed.upstream;
        s.failed.proxy += p.failed.proxy;
        s.failed.client += p.failed.client;
        s.graceful += p.graceful;
        s.ungraceful += p.ungraceful;
    }
    let live: Vec<&&Stats> = parts.iter().filter(|p| p.requests > 0).collect();
    s.p50_ms = quantile(live.iter().filter_map(|p| p.p50_ms).collect(), 0.5);
    s.p95_ms = quantile(live.iter().filter_map(|p| p.p95_ms).collect(), 0.9);
    s.p99_ms = quantile(live.iter().filter_map(|p| p.p99_ms).collect(), 0.95);
    finish(s, observer)
}

/// One observer route in one window, given how much of the window each fault covered.
fn observer_window(rng: &mut Rng, r: &RouteDef, len: f64, cover: &[f64; 4]) -> Stats {
    let n = (r.rps * len * rng.jitter(0.08)).round() as u64;
    let uses = |dep: &str| r.deps.contains(&dep);
    let checkout = r.route == "POST /checkout";
    let (mut graceful, mut ungraceful, mut extra) = (0.0005, 0.0015, [0.0; 3]);
    if uses("inventory") {
        // Slow stock lookups: the app's 1 s budget serves cached stock for some, and checkout occasionally fails.
        let c = cover[0];
        graceful += 0.05 * c;
        ungraceful += if checkout { 0.012 } else { 0.002 } * c;
        extra = [extra[0] + 390.0 * c, extra[1] + 560.0 * c, extra[2] + 880.0 * c];
    }
    if checkout {
        // Payments down: most users get the friendly "try again" page, some get a 500.
        graceful += 0.27 * cover[1] + 0.10 * cover[3];
        ungraceful += 0.11 * cover[1] + 0.025 * cover[3];
        extra =
            [extra[0] - 60.0 * cover[1], extra[1] + 300.0 * cover[1], extra[2] + 1650.0 * cover[1] + 180.0 * cover[3]];
    }
    if r.route == "GET /products/{id}" {
        // A bug: a reset from recommendations crashes the product page instead of hiding the widget.
        ungraceful += 0.22 * cover[2];
    }
    if uses("recommendations") {
        extra[2] += 40.0 * cover[2];
    }
    let graceful = rng.share(n, graceful);
    let ungraceful = rng.share(n - graceful, ungraceful);
    let client = rng.share(ungraceful, 0.15);
    let lat = |i: usize, rng: &mut Rng| ((r.latency[i] + extra[i]) * rng.jitter(0.07)).max(1.0);
    let (p50, p95, p99) = (lat(0, rng), lat(1, rng), lat(2, rng));
    let stats = Stats {
        requests: n,
        failed: Origins { injected: 0, upstream: graceful + ungraceful - client, proxy: 0, client },
        graceful,
        ungraceful,
        p50_ms: Some(p50),
        p95_ms: Some(p95.max(p50)),
        p99_ms: Some(p99.max(p95)),
        ..Stats::default()
    };
    finish(stats, true)
}

/// One dependency listener in one window, fed by the observer routes that call it.
fn target_window(rng: &mut Rng, t: &TargetDef, calls: u64, len: f64, cover: &[f64; 4]) -> Stats {
    let mut failed = Origins::default();
    let mut extra = [0.0; 3];
    let mut n = calls;
    match t.listener {
        "inventory" => {
            extra = [400.0 * cover[0], 560.0 * cover[0], 700.0 * cover[0]];
            // The app's 1 s timeout gives up on the slowest lookups.
            failed.client = rng.share(n, 0.015 * cover[0]);
        }
        "payments" => {
            // The app retries once on a refused connection, so an outage doubles the calls.
            n += rng.share(n, cover[1]);
            failed.injected = rng.share(n, cover[1] + 0.15 * cover[3]);
            extra[2] += 120.0 * cover[3];
        }
        "recommendations" => failed.injected = rng.share(n, 0.5 * cover[2]),
        _ => n = (0.8 * len * rng.jitter(0.3)).round() as u64,
    }
    failed.upstream = rng.share(n - failed.injected - failed.client, 0.0008);
    // One proxy-side failure late in the run, so the column is not all zeros.
    if t.listener == "inventory" && rng.unit() < 0.06 {
        failed.proxy = 1;
    }
    let lat = |i: usize, rng: &mut Rng| ((t.latency[i] + extra[i]) * rng.jitter(0.08)).max(0.5);
    let (p50, p95, p99) = (lat(0, rng), lat(1, rng), lat(2, rng));
    let stats = Stats {
        requests: n,
        failed,
        p50_ms: Some(p50),
        p95_ms: Some(p95.max(p50)),
        p99_ms: Some(p99.max(p95)),
        ..Stats::default()
    };
    finish(stats, false)
}

fn header(name: &str, value: &str) -> (String, String) {
    (name.to_string(), value.to_string())
}

fn samples() -> Vec<Sample> {
    vec![
        Sample {
            t: 150.0,
            listener: "observer".into(),
            route: "POST /checkout".into(),
            class: Some(Class::Ungraceful),
            status: Some(500),
            error: None,
            latency_ms: 2143.0,
            headers: vec![
                header("content-type", "text/html; charset=utf-8"),
                header("x-request-id", "7f3c9a12-4b1e-4d8a-9c55-0e2f6b7a1d90"),
                header("set-cookie", "[redacted]"),
            ],
            body: "<!DOCTYPE html>\n<html><head><title>500 Internal Server Error</title></head>\n<body>\n\
                   <h1>Internal Server Error</h1>\n<pre>Traceback (most recent call last):\n  \
                   File \"shop/checkout.py\", line 88, in place_order\n    charge = payments.charge(cart.total, \
                   token=\"tok_…\")\nConnectionRefusedError: [Errno 111] Connection refused</pre>\n</body></html>\n\
                   …[truncated 1,412 bytes]"
                .into(),
        },
        Sample {
            t: 150.0,
            listener: "observer".into(),
            route: "POST /checkout".into(),
            class: Some(Class::Graceful),
            status: Some(503),
            error: None,
            latency_ms: 184.0,
            headers: vec![
                header("content-type", "application/json"),
                header("retry-after", "30"),
                header("x-request-id", "c0a80101-2b7f-4e61-a3c8-5d9e0f1b2c3d"),
            ],
            body: "{\"error\": \"payments_unavailable\", \"message\": \"We couldn't reach our payment provider. Your \
                   cart is saved \u{2014} please try again in a minute.\", \"retry_after_s\": 30}"
                .into(),
        },
        Sample {
            t: 150.0,
            listener: "observer".into(),
            route: "GET /products/{id}".into(),
            class: Some(Class::Ungraceful),
            status: None,
            error: Some("reset".into()),
            latency_ms: 61.4,
            headers: Vec::new(),
            body: String::new(),
        },
        Sample {
            t: 150.0,
            listener: "payments".into(),
            route: "POST /v1/charges".into(),
            class: None,
            status: Some(503),
            error: None,
            latency_ms: 0.8,
            headers: vec![
                header("retry-after", "2"),
                header("x-brownout-fault", "payments/flaky-503"),
                header("authorization", "[redacted]"),
            ],
            body: "service unavailable (injected by brownout)".into(),
        },
        Sample {
            t: 150.0,
            listener: "inventory".into(),
            route: "GET /stock/{sku}".into(),
            class: None,
            status: None,
            error: Some("client gave up after 1000 ms".into()),
            latency_ms: 1000.2,
            headers: Vec::new(),
            body: String::new(),
        },
    ]
}

/// Builds the sample report: deterministic, so tests can rely on its numbers' shape.
pub fn sample_report() -> Report {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut windows = Vec::new();
    // Per observer route, per window: kept to compute route totals and impacts.
    let mut by_route: Vec<Vec<(Stats, [f64; 4])>> = ROUTES.iter().map(|_| Vec::new()).collect();
    let mut by_target: Vec<Vec<Stats>> = TARGETS.iter().map(|_| Vec::new()).collect();
    let mut applied = [0u64; 4];

    let mut start = 0.0;
    while start < DURATION_S {
        let end = (start + WINDOW_S).min(DURATION_S);
        let len = end - start;
        let cover = [0, 1, 2, 3].map(|i| overlap(&FAULTS[i], start, end));

        let routes: Vec<Stats> = ROUTES.iter().map(|r| observer_window(&mut rng, r, len, &cover)).collect();
        let parts: Vec<&Stats> = routes.iter().collect();
        let mut observer = aggregate(&parts, true);
        // A window's percentiles weigh the busy routes, not the median of four.
        let total = observer.requests.max(1) as f64;
        let weighted = |pick: fn(&Stats) -> Option<f64>| {
            routes.iter().map(|s| pick(s).unwrap_or(0.0) * s.requests as f64).sum::<f64>() / total
        };
        observer.p50_ms = Some(weighted(|s| s.p50_ms));
        observer.p95_ms = Some(weighted(|s| s.p95_ms) * 1.15);
        observer.p99_ms = routes.iter().filter_map(|s| s.p99_ms).reduce(f64::max).map(|m| m * 0.9);
        windows.push(WindowStats { listener: "observer".into(), start_s: start, end_s: end, stats: observer });

        for (t, target) in TARGETS.iter().enumerate() {
            let calls: u64 = ROUTES
                .iter()
                .zip(&routes)
                .filter(|(r, _)| r.deps.contains(&target.listener))
                .map(|(_, s)| s.requests)
                .sum();
            let stats = target_window(&mut rng, target, calls, len, &cover);
            for (i, f) in FAULTS.iter().enumerate() {
                if f.target == target.listener && cover[i] > 0.0 {
                    applied[i] += match f.kind {
                        "latency" => (stats.requests as f64 * cover[i]).round() as u64,
                        // No two failure faults of one target overlap here, so its injected failures are its own.
                        _ => stats.failed.injected,
                    };
                }
            }
            windows.push(WindowStats {
                listener: target.listener.into(),
                start_s: start,
                end_s: end,
                stats: stats.clone(),
            });
            by_target[t].push(stats);
        }
        for (i, s) in routes.into_iter().enumerate() {
            by_route[i].push((s, cover));
        }
        start = end;
    }

    let mut routes = Vec::new();
    for (def, ws) in ROUTES.iter().zip(&by_route) {
        let parts: Vec<&Stats> = ws.iter().map(|(s, _)| s).collect();
        routes.push(RouteStats {
            listener: "observer".into(),
            route: def.route.into(),
            stats: aggregate(&parts, true),
            ..RouteStats::default()
        });
    }
    for (def, ws) in TARGETS.iter().zip(&by_target) {
        let parts: Vec<&Stats> = ws.iter().collect();
        routes.push(RouteStats {
            listener: def.listener.into(),
            route: def.route.into(),
            stats: aggregate(&parts, false),
            ..RouteStats::default()
        });
    }

    let observer_windows: Vec<&Stats> = windows.iter().filter(|w| w.listener == "observer").map(|w| &w.stats).collect();
    let mut headline = aggregate(&observer_windows, true);
    let rs: Vec<&Stats> = routes.iter().filter(|r| r.listener == "observer").map(|r| &r.stats).collect();
    headline.p99_ms = rs.iter().filter_map(|s| s.p99_ms).reduce(f64::max).map(|m| m * 0.8);

    let mut impact = Vec::new();
    for (i, f) in FAULTS.iter().enumerate() {
        for (def, ws) in ROUTES.iter().zip(&by_route) {
            let baseline: Vec<&Stats> =
                ws.iter().filter(|(_, c)| c.iter().all(|&x| x == 0.0)).map(|(s, _)| s).collect();
            let during: Vec<&Stats> = ws.iter().filter(|(_, c)| c[i] >= 0.5).map(|(s, _)| s).collect();
            let (baseline, during) = (aggregate(&baseline, true), aggregate(&during, true));
            let delta = |a: Option<f64>, b: Option<f64>| Some(b? - a?);
            impact.push(Impact {
                target: f.target.into(),
                fault: f.name.into(),
                faults: vec![FaultRef { target: f.target.into(), fault: f.name.into() }],
                label: format!("{}/{}", f.target, f.name),
                on_s: f.off_s.unwrap_or(DURATION_S) - f.on_s,
                route: def.route.into(),
                noise: brownout::report::impact::noise(&baseline, &during),
                availability_delta: delta(baseline.availability, during.availability),
                p99_delta_ms: delta(baseline.p99_ms, during.p99_ms),
                baseline,
                during,
            });
        }
    }

    let faults = FAULTS
        .iter()
        .zip(applied)
        .map(|(f, applied)| FaultStats {
            target: f.target.into(),
            name: f.name.into(),
            kind: f.kind.into(),
            configured: f.configured.into(),
            on_s: f.on_s,
            off_s: f.off_s,
            applied,
            eligible: Some(applied * 2),
            uncounted: false,
            intervals: vec![FaultInterval {
                on_s: f.on_s,
                off_s: f.off_s,
                configured: f.configured.into(),
                applied,
                eligible: Some(applied * 2),
            }],
        })
        .collect();

    Report {
        schema: SCHEMA,
        title: "Checkout under dependency faults: payments & inventory".into(),
        started_ms: 1_763_861_820_000,
        started: brownout::report::words::iso_utc(1_763_861_820_000),
        duration_s: DURATION_S,
        seed: Some(20_251_123),
        outcome: Outcome::Completed,
        headline,
        routes,
        windows,
        window_s: WINDOW_S,
        faults,
        impact,
        samples: samples(),
        dropped: 12,
        phases: Vec::new(),
        verdict: None,
        steady_state: None,
        reproduce: Default::default(),
        standards: None,
        schedule: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_is_deterministic_and_consistent() {
        let (a, b) = (sample_report(), sample_report());
        assert!(a == b, "two builds differ");
        let observer_route_requests: u64 =
            a.routes.iter().filter(|r| r.listener == "observer").map(|r| r.stats.requests).sum();
        assert_eq!(a.headline.requests, observer_route_requests);
        assert_eq!(a.headline.ok + a.headline.graceful + a.headline.ungraceful, a.headline.requests);
        assert_eq!(a.windows.len(), 30 * 5);
        assert_eq!(a.impact.len(), 16);
        // It reads back as report.json (floats may move by an ulp through text, so counts are compared).
        let json = serde_json::to_string(&a).expect("serializes");
        let back: Report = serde_json::from_str(&json).expect("deserializes");
        assert_eq!((back.windows.len(), back.headline.requests), (a.windows.len(), a.headline.requests));
    }
}
