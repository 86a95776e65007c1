//! Attribution by trace with a real instrumented application: a Python
//! shop whose tracing is entirely the OpenTelemetry SDK's (PyPI
//! `opentelemetry-instrumentation-wsgi` on the requests it serves,
//! `opentelemetry-instrumentation-requests` on the calls it makes;
//! `tests/otel/app.py`). Checkout calls payments and product pages call
//! inventory, both through brownout, while a fault is on at each of them at
//! once: the report blames each journey's failures on its own dependency's
//! fault only, by trace, where the rows by time it replaces blame both.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use brownout::record::journal::{Class, Line, Outcome};
use brownout::record::{Recorder, RunInfo};
use brownout::report::model::{Attribution, Report};
use http::Request;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::client::{read_body, send_http1};
use crate::support::otel::{python, Shop};
use crate::support::upstream::{self, full};
use crate::support::{self, LIMIT};

/// Where the shop reaches its dependencies: brownout's targets, on fixed
/// ports because the shop must know them before the proxy starts (and
/// the proxy the shop's before it can start the observer).
const PAYMENTS: &str = "127.0.0.1:23911";
const INVENTORY: &str = "127.0.0.1:23912";
/// User requests per journey before the faults, and while they are on.
const BASELINE: usize = 10;
const DURING: usize = 30;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brownout-attribution-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

async fn send(addr: SocketAddr, method: &str, path: &str) -> u16 {
    let req = Request::builder().method(method).uri(format!("http://{addr}{path}")).body(full("")).expect("request");
    let resp = tokio::time::timeout(LIMIT, send_http1(addr, req)).await.expect("answered in time").expect("a response");
    let status = resp.status().as_u16();
    let _ = read_body(resp).await;
    status
}

/// The report of `journal` as if no listener had read trace context: every
/// line's trace, span and parent ids removed.
fn without_traces(journal: &Path) -> Report {
    let text = std::fs::read_to_string(journal).expect("journal");
    let mut out = String::new();
    for line in text.lines() {
        let mut v: serde_json::Value = serde_json::from_str(line).expect("a json line");
        if let Some(o) = v.as_object_mut() {
            for key in ["trace_id", "span_id", "parent_span_id"] {
                o.remove(key);
            }
        }
        out.push_str(&v.to_string());
        out.push('\n');
    }
    let stripped = journal.with_file_name("journal-without-traces.jsonl");
    std::fs::write(&stripped, out).expect("write");
    brownout::report::from_file(&stripped).expect("report without traces")
}

#[tokio::test]
async fn two_faults_on_together_are_each_blamed_on_their_own_journeys_failures_by_trace() {
    let Some(py) = python() else { return };
    let dir = temp_dir("two-faults");
    let info = RunInfo {
        title: "two faults".into(),
        seed: Some(7),
        listeners: vec!["observer".into(), "payments".into(), "inventory".into()],
        experiment: None,
    };
    let recorder = Recorder::start(&dir, info).expect("recorder");
    support::quiet_global_subscriber();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.layer()));

    let payments_api = upstream::mirror().await;
    let inventory_api = upstream::mirror().await;
    let shop = Shop::start(&py, PAYMENTS.parse().unwrap(), INVENTORY.parse().unwrap());
    let proxy = support::start(&format!(
        "seed = 7\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [observer]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{}\"\n\
         [[target]]\nname = \"payments\"\nprotocol = \"http\"\nlisten = \"{PAYMENTS}\"\nupstream = \"http://{payments_api}\"\n\
         [[target]]\nname = \"inventory\"\nprotocol = \"http\"\nlisten = \"{INVENTORY}\"\nupstream = \"http://{inventory_api}\"\n",
        shop.addr
    ))
    .await;
    let observer = proxy.addr("observer");

    for i in 0..BASELINE {
        assert_eq!(send(observer, "POST", "/checkout").await, 200, "checkout {i} before the faults");
        assert_eq!(send(observer, "GET", &format!("/products/{i}")).await, 200, "product {i} before the faults");
    }
    // Both faults at once, each failing half of its dependency's calls (seeded).
    proxy.switch("payments").set(support::faults(
        "http",
        "[[target.fault]]\nname = \"charges-down\"\nkind = \"error\"\nstatus = 503\nprobability = 0.5\n",
    ));
    proxy.switch("inventory").set(support::faults(
        "http",
        "[[target.fault]]\nname = \"stock-down\"\nkind = \"error\"\nstatus = 500\nprobability = 0.5\n",
    ));
    let (mut checkouts_failed, mut products_failed) = (0u64, 0u64);
    for i in 0..DURING {
        match send(observer, "POST", "/checkout").await {
            200 => {}
            503 => checkouts_failed += 1,
            other => panic!("checkout {i} answered {other}"),
        }
        match send(observer, "GET", &format!("/products/{i}")).await {
            200 => {}
            500 => products_failed += 1,
            other => panic!("product {i} answered {other}"),
        }
    }
    proxy.stop().await;
    drop(shop);
    let journal = recorder.finish(Outcome::Stopped).expect("journal");
    assert!(checkouts_failed > 0 && checkouts_failed < DURING as u64, "{checkouts_failed} checkouts failed");
    assert!(products_failed > 0 && products_failed < DURING as u64, "{products_failed} product pages failed");

    // The application continued brownout's traces: every dependency call
    // shares its trace with a user request at the observer.
    let lines: Vec<Line> = std::fs::read_to_string(&journal)
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("a line"))
        .collect();
    let requests: Vec<_> = lines.iter().filter_map(|l| if let Line::Request(r) = l { Some(r) } else { None }).collect();
    let users: std::collections::HashSet<&str> =
        requests.iter().filter(|r| r.listener == "observer").filter_map(|r| r.trace_id.as_deref()).collect();
    assert_eq!(users.len(), 2 * (BASELINE + DURING), "each user request in a trace of its own");
    for call in requests.iter().filter(|r| r.listener != "observer") {
        let trace = call.trace_id.as_deref().expect("the call carried the shop's traceparent");
        assert!(users.contains(trace), "call {call:?} is in no user request's trace");
        assert!(call.parent_span_id.is_some(), "the call's parent is the shop's client span");
    }

    // By trace: one row per journey, each blamed on its own dependency's fault only.
    let report = brownout::report::from_file(&journal).expect("report");
    // Both journeys lose all the requests that met a fault, so their rank
    // turns on p99, which the machine decides: the rows are compared sorted.
    let mut rows: Vec<_> = report
        .impact
        .iter()
        .map(|r| (r.label.as_str(), r.route.as_str(), r.attribution, r.during.requests, r.calls))
        .collect();
    rows.sort_by(|a, b| a.0.cmp(b.0));
    assert_eq!(
        rows,
        [
            ("inventory/stock-down", "GET /products/{id}", Attribution::Trace, products_failed, Some(products_failed)),
            ("payments/charges-down", "POST /checkout", Attribution::Trace, checkouts_failed, Some(checkouts_failed)),
        ],
        "{:#?}",
        report.impact
    );
    let checkout = report.impact.iter().find(|r| r.route == "POST /checkout").expect("row");
    // The shop answers a failed payment with a sentence and Retry-After: graceful.
    assert_eq!((checkout.during.ok, checkout.during.graceful, checkout.during.ungraceful), (0, checkouts_failed, 0));
    assert_eq!(checkout.baseline.requests, BASELINE as u64);
    let product = report.impact.iter().find(|r| r.route == "GET /products/{id}").expect("row");
    // ... and a failed stock lookup with a traceback: ungraceful.
    assert_eq!((product.during.ok, product.during.graceful, product.during.ungraceful), (0, 0, products_failed));

    // A failed checkout's sample shows its trace: the payments call, its status and the fault it met.
    let sample = report
        .samples
        .iter()
        .find(|s| s.listener == "observer" && s.route == "POST /checkout" && s.class == Some(Class::Graceful))
        .expect("a sampled failed checkout");
    assert_eq!(sample.trace.len(), 1, "{sample:#?}");
    assert_eq!(sample.trace[0].listener, "payments");
    assert_eq!(sample.trace[0].status, Some(503));
    assert_eq!(sample.trace[0].fault.as_deref(), Some("charges-down"));

    // By time, as without trace context: both journeys blamed on both faults.
    let by_time = without_traces(&journal);
    let rows: Vec<_> = by_time.impact.iter().map(|r| (r.label.as_str(), r.route.as_str(), r.attribution)).collect();
    let both = "payments/charges-down + inventory/stock-down";
    let mut routes: Vec<&str> = rows.iter().map(|(_, route, _)| *route).collect();
    routes.sort();
    assert_eq!(routes, ["GET /products/{id}", "POST /checkout"], "{rows:?}");
    for (label, route, attribution) in &rows {
        assert_eq!(*attribution, Attribution::Time);
        let mut names: Vec<&str> = label.split(" + ").collect();
        names.sort();
        assert_eq!(names, ["inventory/stock-down", "payments/charges-down"], "time blames both for {route} ({both})");
    }
}
