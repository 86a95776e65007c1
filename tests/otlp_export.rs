//! Spans over OTLP/HTTP: a receiver in the test gets one span per request
//! and per TCP connection, decoded by the OpenTelemetry protobuf package
//! (PyPI `opentelemetry-proto`): the journal's trace and span ids, the HTTP
//! semantic conventions, brownout's attributes and an event at each
//! injection, under the configured service name and with the configured
//! headers. With the collector down, the data path answers as before and
//! every span is counted as dropped, in `/metrics` and the report; one
//! that comes back after refusing gets the spans that come after.

use std::collections::HashMap;
use std::path::PathBuf;

use brownout::record::journal::{Connection, Line, Outcome, Request as Record};
use brownout::record::{RecordLayer, Recorder, RunInfo};
use http::Request;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::support::client::{call, read_body, send_http1};
use crate::support::otel::{python, Receiver};
use crate::support::upstream::{self, full};
use crate::support::{self, LIMIT};

const SENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brownout-otlp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn config(endpoint: &str, app: std::net::SocketAddr, db: std::net::SocketAddr) -> String {
    format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n\
         [telemetry]\notlp_endpoint = \"{endpoint}\"\nservice_name = \"checkout-game-day\"\n\
         headers = {{ \"x-api-key\" = {{ env = \"BROWNOUT_TEST_OTLP_KEY\" }}, \"x-team\" = \"shop\" }}\n\
         [observer]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{app}\"\n\
         [[target]]\nname = \"payments\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{app}\"\n\
         [[target.fault]]\nname = \"charges-down\"\nkind = \"error\"\nstatus = 503\nmatch = {{ path = \"/v1/charges/fail*\" }}\n\
         [[target]]\nname = \"db\"\nprotocol = \"tcp\"\nlisten = \"127.0.0.1:0\"\nupstream = \"{db}\"\n\
         [[target.fault]]\nname = \"db-slow\"\nkind = \"latency\"\ndelay = \"1ms\"\n"
    )
}

/// Sends `path` to `addr`, with a `traceparent` when given; the status.
async fn send(addr: std::net::SocketAddr, method: &str, path: &str, traceparent: Option<&str>) -> u16 {
    let mut req = Request::builder().method(method).uri(format!("http://{addr}{path}"));
    if let Some(t) = traceparent {
        req = req.header("traceparent", t);
    }
    let resp = tokio::time::timeout(LIMIT, send_http1(addr, req.body(full("")).expect("req")))
        .await
        .expect("in time")
        .expect("response");
    let status = resp.status().as_u16();
    let _ = read_body(resp).await;
    status
}

async fn tcp_round_trip(addr: std::net::SocketAddr) {
    let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"ping").await.expect("write");
    let mut got = [0u8; 4];
    tokio::time::timeout(LIMIT, s.read_exact(&mut got)).await.expect("in time").expect("echo");
    assert_eq!(&got, b"ping");
}

fn lines(path: &std::path::Path) -> Vec<Line> {
    std::fs::read_to_string(path).expect("journal").lines().map(|l| serde_json::from_str(l).expect("line")).collect()
}

#[tokio::test]
async fn spans_reach_a_collector_with_the_journals_ids_the_http_conventions_and_their_injections() {
    let Some(py) = python() else { return };
    std::env::set_var("BROWNOUT_TEST_OTLP_KEY", "k-123");
    let (collector, receiver) = Receiver::start().await;
    let app = upstream::mirror().await;
    let db = upstream::tcp_echo().await;
    let text = config(&format!("http://{collector}"), app, db);
    let parsed = brownout::config::parse("otlp.toml", &text, None).expect("config");

    let dir = temp_dir("sent");
    let info = RunInfo {
        title: "otlp".into(),
        seed: Some(7),
        listeners: vec!["observer".into(), "payments".into(), "db".into()],
        experiment: None,
    };
    let recorder = Recorder::start(&dir, info).expect("recorder");
    let layer = RecordLayer::new();
    layer.attach(recorder.sink());
    let exporter = brownout::app::export_spans(&parsed, &layer).expect("exporter").expect("telemetry configured");
    support::quiet_global_subscriber();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        layer,
    ));

    let proxy = support::start_recorded(&text, recorder.live()).await;
    assert_eq!(send(proxy.addr("observer"), "GET", "/hello", None).await, 200);
    assert_eq!(send(proxy.addr("observer"), "GET", "/continued", Some(SENT)).await, 200);
    assert_eq!(send(proxy.addr("payments"), "POST", "/v1/charges/ok", Some(SENT)).await, 200);
    assert_eq!(send(proxy.addr("payments"), "POST", "/v1/charges/fail-1", Some(SENT)).await, 503);
    tcp_round_trip(proxy.addr("db")).await;
    let (status, metrics) = call(proxy.addr("admin"), "GET", "/metrics", "", &[]).await;
    assert_eq!(status, 200);
    proxy.stop().await;
    let journal = recorder.finish(Outcome::Stopped).expect("journal");
    exporter.finish(std::time::Duration::from_secs(5));

    // The collector was sent protobuf, with the configured headers.
    let exports = receiver.exports.lock().unwrap().clone();
    assert!(!exports.is_empty(), "nothing reached the collector");
    for (headers, _) in &exports {
        assert_eq!(headers["content-type"], "application/x-protobuf");
        assert_eq!(headers["x-api-key"], "k-123", "the key read from the environment");
        assert_eq!(headers["x-team"], "shop");
    }
    let spans = receiver.spans(&py);
    let by_id: HashMap<(String, String), &Value> = spans
        .iter()
        .map(|s| ((s["trace_id"].as_str().unwrap().to_string(), s["span_id"].as_str().unwrap().to_string()), s))
        .collect();
    let lines = lines(&journal);
    let records: Vec<&Record> =
        lines.iter().filter_map(|l| if let Line::Request(r) = l { Some(r) } else { None }).collect();
    let conns: Vec<&Connection> =
        lines.iter().filter_map(|l| if let Line::Connection(c) = l { Some(c) } else { None }).collect();
    assert_eq!((records.len(), conns.len()), (4, 1));
    assert_eq!(spans.len(), 5, "one span per request and per connection: {spans:#?}");

    // Every journal line's span arrived under its ids.
    let span_of = |trace: &Option<String>, span: &Option<String>| -> &Value {
        let key = (trace.clone().expect("a trace id"), span.clone().expect("a span id"));
        by_id.get(&key).copied().unwrap_or_else(|| panic!("no span {key:?} among {spans:#?}"))
    };
    for r in &records {
        let s = span_of(&r.trace_id, &r.span_id);
        assert_eq!(s["parent_span_id"].as_str().unwrap(), r.parent_span_id.clone().unwrap_or_default(), "{r:?}");
        assert_eq!(s["resource"]["service.name"], "checkout-game-day");
        assert_eq!(s["scope"], "brownout");
        assert_eq!(s["kind"], 2, "a server span");
        let a = &s["attributes"];
        assert_eq!(a["http.request.method"], r.method.as_str());
        assert_eq!(a["url.path"], r.path.as_str());
        assert_eq!(a["http.response.status_code"], i64::from(r.status.expect("status")));
        assert_eq!(a["brownout.listener"], r.listener.as_str());
        assert_eq!(a["server.address"], "127.0.0.1");
        assert_eq!(s["name"], r.route.as_str());
    }
    let continued = records.iter().find(|r| r.path == "/continued").expect("line");
    assert_eq!(continued.trace_id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    let hello = span_of(
        &records.iter().find(|r| r.path == "/hello").unwrap().trace_id,
        &records.iter().find(|r| r.path == "/hello").unwrap().span_id,
    );
    assert_eq!(hello["attributes"]["brownout.class"], "ok");
    assert!(hello["attributes"].get("error.type").is_none());

    // The injected failure: error.type, origin, the fault and its event.
    let failed = records.iter().find(|r| r.path == "/v1/charges/fail-1").expect("line");
    let s = span_of(&failed.trace_id, &failed.span_id);
    let a = &s["attributes"];
    assert_eq!(a["error.type"], "503");
    assert_eq!(a["brownout.origin"], "injected");
    assert_eq!(a["brownout.fault.name"], "charges-down");
    assert_eq!(a["brownout.fault.kind"], "error");
    assert_eq!(s["status"], 2, "an error span");
    let events = s["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["name"], "brownout.injection");
    assert_eq!(events[0]["attributes"]["brownout.fault.name"], "charges-down");
    assert_eq!(events[0]["attributes"]["brownout.fault.applied"], "status 503");
    let t = events[0]["time"].as_u64().unwrap();
    assert!(t >= s["start"].as_u64().unwrap() && t <= s["end"].as_u64().unwrap(), "the event falls within its span");

    // The TCP connection: a span of its own, with its fault.
    let c = span_of(&conns[0].trace_id, &conns[0].span_id);
    assert_eq!(c["name"], "TCP db");
    assert_eq!(c["attributes"]["network.transport"], "tcp");
    assert_eq!(c["attributes"]["brownout.fault.name"], "db-slow");
    assert_eq!(c["events"][0]["attributes"]["brownout.fault.kind"], "latency");

    // What was sent is counted: in /metrics while serving, and in the journal's stop line.
    assert!(metrics.contains("brownout_spans_exported_total"), "{metrics}");
    assert!(metrics.contains("brownout_spans_dropped_total 0"), "{metrics}");
    let stop = lines.iter().find_map(|l| if let Line::Stop(s) = l { Some(s) } else { None }).expect("stop line");
    assert_eq!(stop.spans.map(|s| (s.sent, s.dropped)), Some((5, 0)));
    let report = brownout::report::from_file(&journal).expect("report");
    assert_eq!(report.spans.map(|s| s.sent), Some(5));
}

#[tokio::test]
async fn with_the_collector_down_requests_pass_as_before_and_every_span_is_counted_dropped() {
    let down = support::closed_port();
    let app = upstream::mirror().await;
    let db = upstream::tcp_echo().await;
    std::env::set_var("BROWNOUT_TEST_OTLP_KEY", "k-123");
    let text = config(&format!("http://{down}"), app, db);
    let parsed = brownout::config::parse("otlp.toml", &text, None).expect("config");
    let dir = temp_dir("down");
    let info = RunInfo { title: "down".into(), seed: Some(7), listeners: vec!["observer".into()], experiment: None };
    let recorder = Recorder::start(&dir, info).expect("recorder");
    let layer = RecordLayer::new();
    layer.attach(recorder.sink());
    let exporter = brownout::app::export_spans(&parsed, &layer).expect("exporter").expect("telemetry configured");
    support::quiet_global_subscriber();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        layer,
    ));

    let proxy = support::start_recorded(&text, recorder.live()).await;
    for i in 0..200 {
        assert_eq!(send(proxy.addr("observer"), "GET", &format!("/p/{i}"), None).await, 200, "request {i}");
    }
    // Let the exporter fail a batch or more while serving.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let (_, metrics) = call(proxy.addr("admin"), "GET", "/metrics", "", &[]).await;
    proxy.stop().await;
    let journal = recorder.finish(Outcome::Stopped).expect("journal");
    exporter.finish(std::time::Duration::from_secs(2));

    let dropped: u64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("brownout_spans_dropped_total "))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no dropped count in {metrics}"));
    assert!(dropped > 0, "the failed batches count in /metrics: {metrics}");
    assert!(metrics.contains("brownout_spans_exported_total 0"), "{metrics}");
    let report = brownout::report::from_file(&journal).expect("report");
    assert_eq!(report.spans.map(|s| (s.sent, s.dropped)), Some((0, 200)), "every span counted, none sent");
    assert_eq!(report.headline.requests, 200);
    assert_eq!(report.headline.availability, Some(1.0));
    let md = brownout::report::markdown::render(&report);
    assert!(md.contains("**Spans:** 0 spans sent to the OpenTelemetry collector, 200 dropped"), "{md}");
}

/// `/metrics`' count of `name`.
fn metric(metrics: &str, name: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in {metrics}"))
}

#[tokio::test]
async fn a_collector_that_refused_a_batch_gets_the_spans_that_come_after_it() {
    let (collector, receiver) = Receiver::start_refusing(1).await;
    let app = upstream::mirror().await;
    let db = upstream::tcp_echo().await;
    std::env::set_var("BROWNOUT_TEST_OTLP_KEY", "k-123");
    let text = config(&format!("http://{collector}"), app, db);
    let parsed = brownout::config::parse("otlp.toml", &text, None).expect("config");
    let dir = temp_dir("back");
    let info = RunInfo { title: "back".into(), seed: Some(7), listeners: vec!["observer".into()], experiment: None };
    let recorder = Recorder::start(&dir, info).expect("recorder");
    let layer = RecordLayer::new();
    layer.attach(recorder.sink());
    let exporter = brownout::app::export_spans(&parsed, &layer).expect("exporter").expect("telemetry configured");
    support::quiet_global_subscriber();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        layer,
    ));
    let proxy = support::start_recorded(&text, recorder.live()).await;

    // Requests go on until the first batch has been refused and a later one
    // taken (each batch waits a second; the exporter backs off a second
    // after a refusal), within a bounded number of rounds.
    let mut sent = 0;
    for round in 0..40 {
        for i in 0..5 {
            assert_eq!(send(proxy.addr("observer"), "GET", &format!("/r/{round}/{i}"), None).await, 200);
        }
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
        let (_, metrics) = call(proxy.addr("admin"), "GET", "/metrics", "", &[]).await;
        sent = metric(&metrics, "brownout_spans_exported_total");
        if sent > 0 {
            assert!(metric(&metrics, "brownout_spans_dropped_total") > 0, "the refused batch is counted: {metrics}");
            break;
        }
    }
    assert!(sent > 0, "no span reached the collector after it refused one batch");
    proxy.stop().await;
    let journal = recorder.finish(Outcome::Stopped).expect("journal");
    exporter.finish(std::time::Duration::from_secs(5));
    let report = brownout::report::from_file(&journal).expect("report");
    let spans = report.spans.expect("spans counted");
    assert_eq!(spans.sent + spans.dropped, report.headline.requests, "every span sent or counted dropped");
    assert!(spans.dropped > 0 && spans.sent > 0, "{spans:?}");
    assert!(!receiver.exports.lock().unwrap().is_empty(), "the collector kept what it took");
}
