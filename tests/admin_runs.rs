//! Runs through the admin API: started from TOML or a file on the server,
//! followed live, stopped, refused while another is in progress, and
//! reported, on a proxy that keeps serving before, during and after.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use brownout::record::RecordLayer;
use serde_json::Value;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::client::{call, get};
use crate::support::{upstream, LIMIT};

const NONE: &[(&str, &str)] = &[];

struct Served {
    admin: SocketAddr,
    target: SocketAddr,
    dir: PathBuf,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<usize>,
}

/// A proxy serving one HTTP target `t` with a launcher, as `brownout proxy` has.
async fn serve(tag: &str, layer: &RecordLayer) -> Served {
    let up = upstream::mirror().await;
    let dir = std::env::temp_dir().join(format!("brownout-runs-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    // Runs may be started from files in the run directory.
    let text = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\nexperiments_dir = {:?}\n[[target]]\nname = \"t\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{up}\"\n",
        dir.display().to_string()
    );
    let config = brownout::config::parse("serving.toml", &text, None).expect("valid");
    let app = brownout::app::App::bind(&config).expect("bind").with_launcher(layer.clone(), dir.clone(), config);
    let (admin, target) = (app.admin_addr().expect("admin"), app.proxy().target_addr("t").expect("t"));
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(app.serve(async move {
        let _ = rx.await;
    }));
    Served { admin, target, dir, stop, task }
}

fn json(body: &str) -> Value {
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))
}

/// Polls `path` until `done` holds for its JSON, within the test limit.
async fn wait_for(admin: SocketAddr, path: &str, done: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let (status, body) = call(admin, "GET", path, "", NONE).await;
        assert_eq!(status, 200, "{body}");
        let v = json(&body);
        if done(&v) {
            return v;
        }
        assert!(start.elapsed() < LIMIT, "{path} never got there: {v}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

const FAULTY: &str = r#"
title = "errors from the API"
seed = 42
[guardrails]
abort_if = [{ metric = "error_rate", route = "*", above = "99%", for = "5s", min_requests = 1000 }]
[[phase]]
name = "baseline"
duration = "200ms"
[[phase]]
name = "errors"
duration = "60s"
faults = [{ target = "t", kind = "error", status = 503, probability = 0.5 }]
"#;

#[tokio::test]
async fn a_run_is_started_followed_stopped_and_reported() {
    let layer = RecordLayer::new();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer.clone()));
    let s = serve("follow", &layer).await;
    let admin = s.admin;

    // Nothing yet.
    assert_eq!(
        call(admin, "GET", "/run", "", NONE).await,
        (404, r#"{"error":"no run in progress","status":404}"#.into())
    );
    assert_eq!(call(admin, "GET", "/runs", "", NONE).await, (200, r#"{"runs":[]}"#.into()));
    let (status, body) = call(admin, "GET", "/runs/1", "", NONE).await;
    assert_eq!((status, body.as_str()), (404, r#"{"error":"no run 1; there has been no run yet","status":404}"#));
    let (status, body) = call(admin, "POST", "/run/stop", "", NONE).await;
    assert_eq!((status, body.as_str()), (409, r#"{"error":"no run in progress","status":409}"#));

    // Bad starts name what was wrong.
    let (status, body) = call(admin, "POST", "/runs", "", NONE).await;
    assert_eq!(status, 400);
    assert!(body.contains("the body is empty"), "{body}");
    let typo = FAULTY.replace("target = \"t\"", "target = \"tt\"");
    let (status, body) = call(admin, "POST", "/runs", &typo, NONE).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        r#"{"error":"request body:12:22: phase[1].faults[0].target names no target: \"tt\"\n  hint: did you mean `t`?","status":400}"#
    );
    let (status, body) = call(admin, "POST", "/runs", r#"{"path": "x.toml"}"#, NONE).await;
    assert_eq!(status, 400);
    assert!(body.contains(r#"a JSON body must be {\"file\": \"<experiment path on the server>\"}"#), "{body}");
    let (status, body) = call(admin, "POST", "/runs", r#"{"file": "/nowhere/x.toml"}"#, NONE).await;
    assert_eq!(status, 403);
    assert!(body.contains(r#"\"/nowhere/x.toml\" is not an experiment file in "#), "{body}");
    let elsewhere = "title = \"x\"\n[[target]]\nname = \"db\"\nprotocol = \"tcp\"\nlisten = \"127.0.0.1:0\"\nupstream = \"127.0.0.1:9\"\n[[phase]]\nname = \"p\"\nduration = \"1s\"\n";
    let (status, body) = call(admin, "POST", "/runs", elsewhere, NONE).await;
    assert_eq!(status, 400);
    assert!(
        body.contains(r#"the experiment's target \"db\" is not served by this proxy; it serves t (http)"#),
        "{body}"
    );
    assert_eq!(call(admin, "GET", "/runs", "", NONE).await.1, r#"{"runs":[]}"#, "refused starts leave no run");

    // A good start: 201, where to follow it, and it is the run in progress.
    let (status, body) = call(admin, "POST", "/runs", FAULTY, NONE).await;
    assert_eq!(status, 201, "{body}");
    let started = json(&body);
    assert_eq!((started["id"].as_u64(), started["status"].as_str()), (Some(1), Some("running")), "{started}");
    let (status, body) = call(admin, "POST", "/runs", FAULTY, NONE).await;
    assert_eq!(status, 409, "a second run while one is in progress: {body}");
    assert!(body.contains(r#"run 1 (\"errors from the API\") is already in progress"#), "{body}");
    let (status, body) = call(admin, "POST", "/targets/t/faults", r#"{"kind": "reset"}"#, NONE).await;
    assert_eq!(status, 409, "ad-hoc faults wait for the run: {body}");

    // Live status: the phase, the time left, the figures, the guardrails.
    let during = wait_for(admin, "/run", |v| v["phase"]["name"] == "errors").await;
    assert_eq!(during["phase"]["index"], 2);
    assert_eq!(during["phase"]["of"], 2);
    assert_eq!(during["total_s"].as_f64(), Some(60.2));
    assert!(during["left_s"].as_f64().is_some_and(|l| l > 50.0 && l < 60.2), "{during}");
    assert_eq!(during["guardrails"][0]["guardrail"].as_str().map(|g| g.contains("error_rate")), Some(true), "{during}");
    assert_eq!(during["guardrails"][0]["tripped"], false);
    // The figures are the phase's own: none until its first whole second
    // (it began at 0.2 s, so second 1) has ended, none of the baseline's.
    if during["elapsed_s"].as_f64().is_some_and(|e| e < 1.9) {
        assert!(during["figures"].is_null(), "{during}");
    }
    // Requests in the phase's first whole second, which its figures count.
    wait_for(admin, "/run", |v| v["elapsed_s"].as_f64().is_some_and(|e| e >= 1.1)).await;
    let mut statuses = Vec::new();
    for _ in 0..40 {
        statuses.push(get(s.target, "/").await.0);
    }
    let failed = statuses.iter().filter(|s| **s == 503).count();
    assert!((8..=32).contains(&failed), "about half fail: {statuses:?}");
    let live = wait_for(admin, "/run", |v| v["figures"]["requests_per_s"].as_f64().is_some_and(|r| r > 0.0)).await;
    assert_eq!(live["figures"]["listener"], "t");
    assert!(live["figures"]["error_rate"].as_f64().is_some_and(|e| e > 0.1 && e < 0.9), "{live}");

    // The report of the run so far.
    let (status, md) = call(admin, "GET", "/runs/1/report.md", "", NONE).await;
    assert_eq!(status, 200);
    assert!(md.contains("errors from the API"), "{md}");

    // Stop it: faults cleared, reports written, the verdict shown.
    let (status, body) = call(admin, "POST", "/run/stop", "", NONE).await;
    assert_eq!((status, body.as_str()), (202, r#"{"id":1,"stopping":true}"#));
    let over = wait_for(admin, "/runs/1", |v| v["status"] == "interrupted").await;
    assert_eq!(over["verdict"], "interrupted", "{over}");
    assert_eq!(get(s.target, "/").await.0, 200, "the faults are cleared");
    let (status, body) = call(admin, "POST", "/runs/1/stop", "", NONE).await;
    assert_eq!((status, body.as_str()), (409, r#"{"error":"run 1 is already over","status":409}"#));
    assert_eq!(call(admin, "GET", "/run", "", NONE).await.0, 404);
    let (status, report) = call(admin, "GET", "/runs/1/report", "", NONE).await;
    assert_eq!(status, 200);
    let report = json(&report);
    assert_eq!(report["title"], "errors from the API");
    assert!(report.to_string().contains("503"), "the injected errors are in the report");
    let (status, html) = call(admin, "GET", "/runs/1/report.html", "", NONE).await;
    assert!(status == 200 && html.starts_with("<!DOCTYPE html>"), "{status} {}", &html[..html.len().min(80)]);
    assert_eq!(call(admin, "GET", "/runs/1/journal.jsonl", "", NONE).await.0, 404);
    assert_eq!(call(admin, "GET", "/runs/x", "", NONE).await.0, 404);
    let journal = std::fs::read_to_string(s.dir.join("run-1").join("journal.jsonl")).expect("journal");
    for line in [r#""type":"phase""#, r#""type":"fault_on""#, r#""type":"fault_off""#, r#""outcome":"interrupted""#] {
        assert!(journal.contains(line), "{line} missing from the run's journal");
    }
    assert!(s.dir.join("run-1").join("report.html").is_file());

    // The same experiment again: its seed repeats the same decisions.
    let (status, body) = call(admin, "POST", "/runs", FAULTY, NONE).await;
    assert_eq!(status, 201, "{body}");
    wait_for(admin, "/run", |v| v["phase"]["name"] == "errors").await;
    let mut again = Vec::new();
    for _ in 0..40 {
        again.push(get(s.target, "/").await.0);
    }
    assert_eq!(again, statuses, "the same seed gives the same decisions");
    assert_eq!(call(admin, "POST", "/runs/2/stop", "", NONE).await.0, 202);
    wait_for(admin, "/runs/2", |v| v["status"] == "interrupted").await;
    let list = json(&call(admin, "GET", "/runs", "", NONE).await.1);
    assert_eq!(list["runs"].as_array().map(Vec::len), Some(2));

    let _ = s.stop.send(());
    tokio::time::timeout(LIMIT, s.task).await.expect("drained").expect("proxy");
}

#[tokio::test]
async fn a_run_from_a_file_completes_on_its_own_and_standing_faults_come_back() {
    let layer = RecordLayer::new();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(layer.clone()));
    let s = serve("file", &layer).await;
    let admin = s.admin;
    // A standing ad-hoc fault, replaced by the run's phases and restored after.
    let (status, body) =
        call(admin, "POST", "/targets/t/faults", r#"{"kind": "latency", "delay": "1ms", "name": "standing"}"#, NONE)
            .await;
    assert_eq!(status, 201, "{body}");
    std::fs::create_dir_all(&s.dir).expect("dir");
    let file = s.dir.join("short.toml");
    std::fs::write(
        &file,
        "title = \"short\"\n[[phase]]\nname = \"one\"\nduration = \"300ms\"\nfaults = [{ target = \"t\", kind = \"error\", status = 500 }]\n[[phase]]\nname = \"two\"\nduration = \"300ms\"\n",
    )
    .expect("write");
    let body = serde_json::json!({"file": file.display().to_string()}).to_string();
    let (status, body) = call(admin, "POST", "/runs", &body, NONE).await;
    assert_eq!(status, 201, "{body}");
    let over = wait_for(admin, "/runs/1", |v| v["status"] == "completed").await;
    // Nothing used the target while its fault was on: the run proves nothing.
    assert_eq!(over["verdict"], "inconclusive", "{over}");
    assert_eq!(over["file"], file.display().to_string());
    let (status, faults) = call(admin, "GET", "/targets/t/faults", "", NONE).await;
    assert_eq!(status, 200);
    assert!(faults.contains(r#""name":"standing""#), "the standing fault is back: {faults}");
    assert_eq!(call(admin, "GET", "/runs/1/report.md", "", NONE).await.0, 200);
    let _ = s.stop.send(());
    tokio::time::timeout(LIMIT, s.task).await.expect("drained").expect("proxy");
}
