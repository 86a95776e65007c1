//! Verdicts that never mislead: what no rule covers is listed, a run that
//! proves nothing says so (exit 4), faults show every interval they were on
//! with their values, and faults on together share one impact row.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use brownout::record::journal::{FaultOff, FaultOn, Line, Outcome, Request, Start, Stop};
use brownout::record::{Recorder, RunInfo};
use brownout::report::verdict::Status;
use http::{Request as HttpRequest, Response};
use hyper::body::Incoming;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::client::{call, get, send_http1};
use crate::support::upstream::{self, full};
use crate::support::{self, LIMIT};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brownout-verdicts-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The demo's journal (written by `brownout demo --quick`): `GET
/// /products/{id}` leaked a traceback while inventory's pool was exhausted,
/// and no rule covers it. The verdict still holds (`unchecked = "warn"`),
/// but it lists the journey, with its phase, count and a sample.
#[test]
fn the_demo_verdict_lists_get_products_as_unchecked() {
    let journal = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal-v1/journal.jsonl");
    let report = brownout::report::from_file(&journal).expect("the demo journal loads");
    let verdict = report.verdict.as_ref().expect("a verdict");
    assert_eq!(verdict.status, Status::Held);
    let products = verdict
        .unchecked
        .iter()
        .find(|u| u.route == "GET /products/{id}")
        .unwrap_or_else(|| panic!("GET /products/{{id}} is not listed: {:#?}", verdict.unchecked));
    assert_eq!((products.phase.as_str(), products.ungraceful), ("inventory pool exhausted", 5));
    let sample = products.sample.as_ref().expect("a response users got");
    assert!(sample.body.contains("psycopg2.OperationalError"), "{sample:?}");
    // Checkout and login have graceful rules: their failures are covered.
    assert!(!verdict.unchecked.iter().any(|u| u.route == "POST /checkout" || u.route == "POST /login"));
    // The graceful checks of phases without failures are folded, not counted as measured.
    assert_eq!((verdict.measured().count(), verdict.vacuous().count()), (4, 14));
    // Every rendering says so.
    let json = serde_json::to_value(&report).expect("json");
    assert_eq!(json["verdict"]["unchecked"][0]["route"], "GET /products/{id}");
    assert_eq!(json["verdict"]["unchecked"][0]["ungraceful"], 5);
    let md = brownout::report::markdown::render(&report);
    assert!(md.contains("| GET /products/{id} | inventory pool exhausted | 5 ungraceful failures"), "{md}");
    assert!(md.contains("2 unchecked degradations (listed, not failed: unchecked = \"warn\")"), "{md}");
    let html = brownout::report::html::render(&report);
    assert!(html.contains("id=\"unchecked\"") && html.contains("GET /products/{id}"));
}

/// With `unchecked = "fail"` the same journal deviates.
#[test]
fn unchecked_fail_makes_the_same_run_deviate() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal-v1/journal.jsonl");
    let mut lines: Vec<Line> = std::fs::read_to_string(path)
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    let Line::Start(start) = &mut lines[0] else { panic!("a start line first") };
    start.experiment.as_mut().expect("an experiment").hypothesis.unchecked =
        brownout::record::journal::UncheckedPolicy::Fail;
    let report = brownout::report::compute(&lines);
    let verdict = report.verdict.expect("a verdict");
    assert_eq!((verdict.status, verdict.status.exit_code()), (Status::Deviated, 1));
}

/// An app that never calls the dependency brownout breaks: the fault is
/// never applied, so the run proves nothing.
#[tokio::test]
async fn an_experiment_whose_faulted_dependency_is_never_called_ends_inconclusive_with_exit_4() {
    let app = upstream::http(|_req: HttpRequest<Incoming>| async { Response::new(full("served from memory")) }).await;
    let inventory_api = upstream::mirror().await;
    let text = format!(
        r#"
title = "inventory down, but nobody asks it"
seed = 3
[admin]
listen = "127.0.0.1:0"
[observer]
listen = "127.0.0.1:0"
upstream = "http://{app}"
[[target]]
name = "inventory"
protocol = "http"
listen = "127.0.0.1:0"
upstream = "http://{inventory_api}"
[hypothesis]
slo = [{{ route = "*", availability = "99%" }}]
[[phase]]
name = "baseline"
duration = "500ms"
[[phase]]
name = "inventory down"
duration = "1s"
faults = [{{ target = "inventory", kind = "error", status = 503 }}]
[load]
target = "observer"
rate = "50/s"
requests = [{{ method = "GET", path = "/products/1" }}]
"#
    );
    let (finished, _) = run(&text, "never-called").await;
    let verdict = finished.report.verdict.clone().expect("a verdict");
    assert_eq!(finished.outcome, Outcome::Completed);
    assert_eq!(verdict.status, Status::Inconclusive, "{verdict:#?}");
    assert_eq!(finished.exit_code(), 4);
    assert!(verdict.checks.iter().all(|c| c.passed), "the SLO held: only the proof is missing");
    let reason = &verdict.inconclusive[0].reason;
    assert!(
        reason.starts_with("fault inventory/error-1 (phase \"inventory down\") was never applied: inventory saw no requests while it was on"),
        "{reason}"
    );
    let fault = &finished.report.faults[0];
    assert_eq!((fault.eligible, fault.applied), (Some(0), 0));
    let md = std::fs::read_to_string(&finished.written.markdown).expect("md");
    assert!(md.contains("## Verdict: inconclusive") && md.contains("### Why this run proves nothing"), "{md}");
}

/// A latency ramped in three steps: three intervals back to back, each with
/// its value, inside the phase, and the requests each step delayed.
#[tokio::test]
async fn a_fault_ramped_in_three_steps_shows_each_step_with_its_value() {
    let auth_api = upstream::mirror().await;
    let auth_port = support::free_port();
    let auth: SocketAddr = format!("127.0.0.1:{auth_port}").parse().expect("addr");
    let app = upstream::http(move |_req: HttpRequest<Incoming>| async move {
        let req = HttpRequest::post(format!("http://{auth}/v1/token")).body(full("")).expect("req");
        match send_http1(auth, req).await {
            Ok(r) if r.status().is_success() => Response::new(full("welcome")),
            _ => Response::builder().status(503).body(full("try again")).expect("503"),
        }
    })
    .await;
    let text = format!(
        r#"
title = "auth slows in three steps"
[admin]
listen = "127.0.0.1:0"
[observer]
listen = "127.0.0.1:0"
upstream = "http://{app}"
[[target]]
name = "auth"
protocol = "http"
listen = "127.0.0.1:{auth_port}"
upstream = "http://{auth_api}"
[[phase]]
name = "baseline"
duration = "300ms"
[[phase]]
name = "auth slowing"
duration = "1500ms"
faults = [{{ target = "auth", kind = "latency", delay = "10ms", ramp = {{ delay = ["10ms", "50ms"], steps = 3 }} }}]
[[phase]]
name = "recovery"
duration = "300ms"
[load]
target = "observer"
rate = "40/s"
requests = [{{ method = "POST", path = "/login" }}]
"#
    );
    let (finished, _) = run(&text, "ramp").await;
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&finished.written.json).expect("report.json")).expect("json");
    let faults = json["faults"].as_array().expect("faults");
    assert_eq!(faults.len(), 1, "one row for the ramped fault: {faults:#?}");
    let steps = faults[0]["intervals"].as_array().expect("intervals");
    let values: Vec<&str> = steps.iter().map(|s| s["configured"].as_str().expect("value")).collect();
    assert_eq!(
        values,
        [
            "latency-1: latency 10ms before request, 100%",
            "latency-1: latency 30ms before request, 100%",
            "latency-1: latency 50ms before request, 100%"
        ]
    );
    let at = |v: &serde_json::Value| v.as_f64().expect("seconds");
    // Phases and steps run on the run's clock; a shared machine may add a few ms.
    let near = |got: f64, want: f64| (got - want).abs() < 0.05;
    for (step, (on, off)) in steps.iter().zip([(0.3, 0.8), (0.8, 1.3), (1.3, 1.8)]) {
        assert!(near(at(&step["on_s"]), on) && near(at(&step["off_s"]), off), "{steps:#?}");
        assert!(step["applied"].as_u64().is_some_and(|n| n > 0), "each step delayed requests: {steps:#?}");
        assert!(step["eligible"].as_u64() >= step["applied"].as_u64(), "{steps:#?}");
    }
    let applied: u64 = steps.iter().map(|s| s["applied"].as_u64().unwrap_or(0)).sum();
    assert_eq!(faults[0]["applied"].as_u64(), Some(applied));
}

/// A fault edited through the admin API while a recorded proxy serves:
/// two intervals, the old value until the PATCH and the new one until the
/// DELETE.
#[tokio::test]
async fn a_fault_patched_mid_run_shows_its_true_intervals_and_values() {
    let dir = temp_dir("patch");
    let info = RunInfo { title: "patch".into(), seed: Some(1), listeners: vec!["api".into()], experiment: None };
    let recorder = Recorder::start(&dir, info).expect("recorder");
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.layer()));
    let up = upstream::mirror().await;
    let proxy = support::start(&support::http_target("api", up, "")).await;
    let (admin, api) = (proxy.addr("admin"), proxy.addr("api"));
    let (status, body) =
        call(admin, "POST", "/targets/api/faults", r#"{"name": "slow", "kind": "latency", "delay": "5ms"}"#, &[]).await;
    assert_eq!(status, 201, "{body}");
    for _ in 0..5 {
        assert_eq!(get(api, "/a").await.0, 200);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    let (status, body) =
        call(admin, "PATCH", "/targets/api/faults/slow", r#"{"kind": "latency", "delay": "20ms"}"#, &[]).await;
    assert_eq!(status, 200, "{body}");
    for _ in 0..3 {
        assert_eq!(get(api, "/b").await.0, 200);
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(call(admin, "DELETE", "/targets/api/faults/slow", "", &[]).await.0, 204);
    assert_eq!(get(api, "/c").await.0, 200);
    tokio::time::timeout(LIMIT, proxy.stop()).await.expect("stopped in time");
    let journal = recorder.finish(Outcome::Stopped).expect("journal");
    let report = brownout::report::from_file(&journal).expect("report");
    let slow = report.faults.iter().find(|f| f.name == "slow").expect("the fault's row");
    let got: Vec<(&str, u64, bool)> =
        slow.intervals.iter().map(|v| (v.configured.as_str(), v.applied, v.off_s.is_some())).collect();
    assert_eq!(
        got,
        [("slow: latency 5ms before request, 100%", 5, true), ("slow: latency 20ms before request, 100%", 3, true)],
        "{slow:#?}"
    );
    let (first, second) = (&slow.intervals[0], &slow.intervals[1]);
    let first_off = first.off_s.expect("went off");
    assert!((second.on_s - first_off).abs() < 0.01, "the new value begins where the old ended: {slow:#?}");
    assert!(first_off - first.on_s >= 0.1 && second.off_s.expect("off") - second.on_s >= 0.1, "{slow:#?}");
    assert_eq!((slow.applied, slow.eligible), (8, Some(8)));
}

fn request(t: f64, route: &str, status: u16) -> Line {
    let (method, path) = route.split_once(' ').expect("route");
    Line::Request(Request {
        t,
        listener: "observer".into(),
        method: method.into(),
        path: path.into(),
        route: route.into(),
        status: Some(status),
        latency_ms: 1.0,
        ttfb_ms: None,
        bytes_in: 0,
        bytes_out: 10,
        origin: (status >= 500).then_some(brownout::record::journal::Origin::Upstream),
        error: None,
        fault: None,
        class: None,
        grpc_status: None,
    })
}

fn fault_on(t: f64, target: &str, fault: &str) -> Line {
    Line::FaultOn(FaultOn {
        t,
        target: target.into(),
        fault: fault.into(),
        kind: "latency".into(),
        configured: format!("{fault}: latency 1s"),
        uncounted: false,
    })
}

fn fault_off(t: f64, target: &str, fault: &str) -> Line {
    Line::FaultOff(FaultOff { t, target: target.into(), fault: fault.into(), applied: 1, eligible: Some(1) })
}

/// Two faults on at the same time get one joint row, not two identical
/// ones; the time only one was on gives that fault its own row.
#[test]
fn two_overlapping_faults_produce_one_joint_impact_row() {
    let mut lines = vec![Line::Start(Start {
        ts: 1_800_000_000_000,
        schema: 1,
        title: "overlap".into(),
        seed: None,
        listeners: vec!["observer".into()],
        experiment: None,
        version: None,
        command: None,
    })];
    // 0-10 s no fault; 10-20 s payments alone; 20-30 s payments and inventory together.
    lines.push(fault_on(10.0, "payments", "error-1"));
    lines.push(fault_on(20.0, "inventory", "latency-2"));
    for i in 0..300 {
        let t = f64::from(i) / 10.0;
        let failed = (t >= 10.0 && i % 4 == 0) || (t >= 20.0 && i % 2 == 0);
        lines.push(request(t, "POST /checkout", if failed { 503 } else { 200 }));
    }
    lines.push(fault_off(30.0, "payments", "error-1"));
    lines.push(fault_off(30.0, "inventory", "latency-2"));
    lines.push(Line::Stop(Stop { t: 30.0, outcome: Outcome::Stopped, dropped: 0 }));
    let report = brownout::report::compute(&lines);
    let rows: Vec<(&str, usize, u64)> =
        report.impact.iter().map(|i| (i.label.as_str(), i.faults.len(), i.during.requests)).collect();
    assert_eq!(rows, [("payments/error-1 + inventory/latency-2", 2, 100), ("payments/error-1", 1, 100)], "{rows:?}");
    let joint = &report.impact[0];
    assert!((joint.on_s - 10.0).abs() < 1e-9);
    assert_eq!(joint.during.availability, Some(0.5));
    let md = brownout::report::markdown::render(&report);
    assert!(
        md.contains("When **payments/error-1 + inventory/latency-2** were on together, `POST /checkout` fell from 100% to 50% available."),
        "{md}"
    );
}

/// Runs an experiment text in this process with its own recorder.
async fn run(text: &str, tag: &str) -> (brownout::run::Finished, PathBuf) {
    let dir = temp_dir(tag);
    let exp = brownout::experiment::parse("exp.toml", text, None).unwrap_or_else(|e| panic!("{e}"));
    let recorder = Recorder::start(&dir, brownout::run::run_info(&exp)).expect("recorder");
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.layer()));
    let finished = tokio::time::timeout(
        Duration::from_secs(60),
        brownout::app::run_experiment(&exp, recorder, CancellationToken::new(), false),
    )
    .await
    .expect("the run ended in time")
    .expect("run");
    (finished, dir)
}

/// A TCP run like the redis game day: no observer, a phase whose only
/// fault refuses connections. Nobody reaching brownout then is the fault's
/// very effect, and refusals cannot be counted: the run still holds. The
/// same phase with a fault that could have been counted proves nothing.
#[test]
fn a_refusing_outage_seen_by_nobody_is_no_reason_for_inconclusive() {
    let journal = |uncounted: bool| {
        let mut lines = vec![
            Line::Start(Start {
                ts: 1_800_000_000_000,
                schema: 1,
                title: "cache".into(),
                seed: Some(1),
                listeners: vec!["redis".into()],
                experiment: Some(brownout::record::journal::ExperimentInfo::default()),
                version: None,
                command: None,
            }),
            Line::Phase(brownout::record::journal::PhaseLine { t: 0.0, name: "baseline".into(), faults: 0 }),
        ];
        for i in 0..10 {
            lines.push(Line::Connection(brownout::record::journal::Connection {
                t: f64::from(i) * 0.1,
                listener: "redis".into(),
                duration_ms: 5.0,
                bytes_in: 14,
                bytes_out: 7,
                origin: None,
                error: None,
                fault: None,
            }));
        }
        lines.push(Line::FaultOn(FaultOn {
            t: 1.0,
            target: "redis".into(),
            fault: "outage-1".into(),
            kind: "outage".into(),
            configured: "outage-1: outage refuse, 100%".into(),
            uncounted,
        }));
        lines.push(Line::Phase(brownout::record::journal::PhaseLine { t: 1.0, name: "cache down".into(), faults: 1 }));
        lines.push(Line::FaultOff(FaultOff {
            t: 2.0,
            target: "redis".into(),
            fault: "outage-1".into(),
            applied: 0,
            eligible: Some(0),
        }));
        lines.push(Line::Stop(Stop { t: 2.0, outcome: Outcome::Completed, dropped: 0 }));
        brownout::report::compute(&lines).verdict.expect("a verdict")
    };
    let refused = journal(true);
    assert_eq!(refused.status, Status::Held, "{refused:#?}");
    let unseen = journal(false);
    assert_eq!(unseen.status, Status::Inconclusive);
    let reasons: Vec<&str> = unseen.inconclusive.iter().map(|i| i.reason.as_str()).collect();
    assert_eq!(
        reasons,
        [
            "phase \"cache down\": no listener saw a request or a connection while its faults were on",
            "fault redis/outage-1 (phase \"cache down\") was never applied: redis saw no connections while it was on (the application never called it, or called it another way)"
        ]
    );
}
