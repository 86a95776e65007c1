//! The cost of deciding which faults apply to a request, against 1, 10 and
//! 100 active faults. Run with `cargo bench --bench decide`.

use std::hint::black_box;
use std::time::Duration;

use brownout::fault::matcher::Glob;
use brownout::fault::{decide_http, Distribution, Fault, FaultSwitch, HttpKind, Kind, LatencyPoint, RequestFacts};
use criterion::{criterion_group, criterion_main, Criterion};
use http::{HeaderMap, HeaderValue, Method, StatusCode};

/// A realistic mix: most faults match a path the request does not take, a
/// few match it, with probabilities below one.
fn faults(n: usize) -> Vec<Fault> {
    (0..n)
        .map(|i| {
            let kind = if i % 2 == 0 {
                Kind::Http(HttpKind::Latency {
                    delay: Distribution::Normal { mean: Duration::from_millis(100), stddev: Duration::from_millis(20) },
                    at: LatencyPoint::Request,
                })
            } else {
                Kind::Http(HttpKind::Error {
                    status: StatusCode::SERVICE_UNAVAILABLE,
                    headers: vec![],
                    body: "x".into(),
                })
            };
            let mut f = Fault::new(i as u64 + 1, format!("f{i}"), kind);
            f.scope.probability = 0.5;
            f.scope.matcher.methods = vec![Method::POST];
            let path = if i % 5 == 0 { "/v1/charges*".to_string() } else { format!("/v1/other-{i}/*") };
            f.scope.matcher.path = Some(Glob(path));
            f
        })
        .collect()
}

fn bench(c: &mut Criterion) {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("application/json"));
    headers.insert("x-request-id", HeaderValue::from_static("abc-123"));
    let mut group = c.benchmark_group("decide_http");
    for n in [1usize, 10, 100] {
        let switch = FaultSwitch::new("payments", 7, faults(n));
        let plan = switch.load_full();
        let now = tokio::time::Instant::now();
        group.bench_function(format!("{n} faults"), |b| {
            b.iter(|| {
                let req = RequestFacts {
                    method: &Method::POST,
                    path: "/v1/charges/ch_123",
                    query: Some("expand=customer"),
                    headers: brownout::fault::Fields::Map(&headers),
                    client: "127.0.0.1".parse().expect("ip"),
                };
                black_box(decide_http(&req, &plan.faults, switch.next_request_seed(), || now))
            })
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
