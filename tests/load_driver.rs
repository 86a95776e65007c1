//! The load driver holds its rate and measures latency from each request's
//! intended send time; runs stop cleanly on SIGINT and SIGTERM.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use brownout::record::journal::{Line, Outcome};
use brownout::record::Recorder;
use http::{Request, Response};
use hyper::body::Incoming;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::upstream::{self, full};

fn experiment(app: SocketAddr, rate: &str, seconds: u64, concurrency: usize) -> String {
    format!(
        r#"
title = "load"
[admin]
listen = "127.0.0.1:0"
[observer]
listen = "127.0.0.1:0"
upstream = "http://{app}"
[[phase]]
name = "steady"
duration = "{seconds}s"
[load]
target = "observer"
rate = "{rate}"
concurrency = {concurrency}
requests = [{{ method = "GET", path = "/a", weight = 3 }}, {{ method = "POST", path = "/b", body = "x" }}]
"#
    )
}

async fn run(tag: &str, text: &str) -> (brownout::run::Finished, Vec<brownout::record::journal::Request>) {
    let dir = std::env::temp_dir().join(format!("brownout-load-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let exp = brownout::experiment::parse("load.toml", text, None).unwrap_or_else(|e| panic!("{e}"));
    let recorder = Recorder::start(&dir, brownout::run::run_info(&exp)).expect("recorder");
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.layer()));
    let finished = tokio::time::timeout(
        Duration::from_secs(60),
        brownout::app::run_experiment(&exp, recorder, CancellationToken::new(), false),
    )
    .await
    .expect("in time")
    .expect("run");
    let requests = std::fs::read_to_string(&finished.journal)
        .expect("journal")
        .lines()
        .filter_map(|l| match serde_json::from_str::<Line>(l).expect("line") {
            Line::Request(r) if r.listener == "load" => Some(r),
            _ => None,
        })
        .collect();
    (finished, requests)
}

#[tokio::test]
async fn the_load_driver_holds_500_requests_a_second_within_5_percent() {
    let app = upstream::mirror().await;
    let (_, requests) = run("rate", &experiment(app, "500/s", 10, 256)).await;
    let in_window = requests.iter().filter(|r| r.t < 10.0).count() as f64;
    let rate = in_window / 10.0;
    assert!((rate - 500.0).abs() / 500.0 < 0.05, "{rate} req/s");
    let failed = requests.iter().filter(|r| r.status != Some(200)).count();
    assert_eq!(failed, 0, "every load request answered");
    // The weighted mix: about three GETs per POST.
    let gets = requests.iter().filter(|r| r.method == "GET").count() as f64;
    let share = gets / requests.len() as f64;
    assert!((0.70..0.80).contains(&share), "{share}");
}

#[tokio::test]
async fn a_stalled_application_shows_in_the_percentiles_without_coordinated_omission() {
    let started = Instant::now();
    let stalled = Arc::new(AtomicBool::new(false));
    let app = upstream::http(move |_req: Request<Incoming>| {
        let stalled = stalled.clone();
        async move {
            if started.elapsed() > Duration::from_secs(1) && !stalled.swap(true, Ordering::SeqCst) {
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Response::new(full("ok"))
        }
    })
    .await;
    // One request in flight at a time: a closed-loop client would send one
    // slow request and then fewer requests, hiding the stall.
    let (finished, requests) = run("omission", &experiment(app, "100/s", 4, 1)).await;
    let slow = requests.iter().filter(|r| r.latency_ms >= 500.0).count();
    assert!(slow >= 40, "only {slow} requests saw the 1 s stall");
    let p99 = finished
        .report
        .routes
        .iter()
        .find(|r| r.listener == "load" && r.route == "GET /a")
        .and_then(|r| r.stats.p99_ms)
        .expect("p99");
    assert!(p99 >= 800.0, "p99 {p99} ms hides the stall");
    assert!(requests.len() >= 380, "the load kept its schedule through the stall: {}", requests.len());
}

#[test]
fn sigint_and_sigterm_during_a_fault_phase_stop_cleanly_with_reports() {
    use std::process::{Command, Stdio};
    const BIN: &str = env!("CARGO_BIN_EXE_brownout");
    for signal in ["-INT", "-TERM"] {
        let dir = std::env::temp_dir().join(format!("brownout-signal{signal}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("dir");
        let file = dir.join("exp.toml");
        std::fs::write(
            &file,
            r#"
title = "interrupted"
[admin]
listen = "127.0.0.1:0"
[[target]]
name = "slow"
protocol = "http"
listen = "127.0.0.1:0"
upstream = "http://127.0.0.1:9"
[[phase]]
name = "baseline"
duration = "500ms"
[[phase]]
name = "long fault"
duration = "60s"
faults = [{ target = "slow", kind = "hang" }]
"#,
        )
        .expect("write");
        let run_dir = dir.join("run");
        let mut child = Command::new(BIN)
            .arg("run")
            .arg(&file)
            .arg("--run-dir")
            .arg(&run_dir)
            .arg("--quiet")
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn");
        std::thread::sleep(Duration::from_millis(1500));
        let sent = Command::new("kill").args([signal, &child.id().to_string()]).status().expect("kill");
        assert!(sent.success());
        let started = Instant::now();
        let status = loop {
            if let Some(s) = child.try_wait().expect("wait") {
                break s;
            }
            assert!(started.elapsed() < Duration::from_secs(20), "no exit after {signal}");
            std::thread::sleep(Duration::from_millis(20));
        };
        assert_eq!(status.code(), Some(3), "{signal}: interrupted runs exit 3");
        let journal = std::fs::read_to_string(run_dir.join("journal.jsonl")).expect("journal");
        let lines: Vec<Line> = journal.lines().map(|l| serde_json::from_str(l).expect("line")).collect();
        assert!(lines.iter().any(|l| matches!(l, Line::FaultOn(_))), "the fault phase had begun");
        assert!(lines.iter().any(|l| matches!(l, Line::FaultOff(_))), "{signal}: the fault was cleared");
        assert!(
            matches!(lines.last(), Some(Line::Stop(s)) if s.outcome == Outcome::Interrupted),
            "{signal}: the journal ends with the interruption"
        );
        for name in ["report.json", "report.md", "report.html"] {
            assert!(run_dir.join(name).is_file(), "{signal}: {name} missing");
        }
    }
}
