//! Guardrails over a true sliding window: a stall trips a latency guardrail
//! while it is happening, and `for` is measured to the millisecond, not in
//! whole seconds.

use std::path::PathBuf;
use std::time::Duration;

use brownout::record::journal::{Line, Outcome};
use brownout::record::Recorder;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::upstream;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brownout-guard-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// An experiment: the load driver sends to target `t` in front of a mirror,
/// a quiet second, then `fault` for `fault_for`.
fn experiment(up: std::net::SocketAddr, rate: u32, fault: &str, fault_for: &str, guardrail: &str) -> String {
    format!(
        r#"
title = "guardrails"
seed = 3
[admin]
listen = "127.0.0.1:0"
[[target]]
name = "t"
protocol = "http"
listen = "127.0.0.1:0"
upstream = "http://{up}"
request_timeout = "30s"
[guardrails]
abort_if = [{guardrail}]
[[phase]]
name = "quiet"
duration = "1s"
[[phase]]
name = "fault"
duration = "{fault_for}"
faults = [{{ target = "t", {fault} }}]
[load]
target = "t"
rate = "{rate}/s"
concurrency = 1000
timeout = "20s"
requests = [{{ method = "GET", path = "/x" }}]
"#
    )
}

/// Runs the experiment; returns how it ended and, in seconds after the
/// fault phase began, when it was aborted.
async fn run(tag: &str, text: &str) -> (Outcome, Option<f64>, u8) {
    let dir = temp_dir(tag);
    let exp = brownout::experiment::parse("guard.toml", text, None).unwrap_or_else(|e| panic!("{e}"));
    let recorder = Recorder::start(&dir, brownout::run::run_info(&exp)).expect("recorder");
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.layer()));
    let finished = tokio::time::timeout(
        Duration::from_secs(60),
        brownout::app::run_experiment(&exp, recorder, CancellationToken::new(), false),
    )
    .await
    .expect("the run ended in time")
    .expect("run");
    let lines: Vec<Line> = std::fs::read_to_string(&finished.journal)
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    let fault_began = lines
        .iter()
        .find_map(|l| match l {
            Line::Phase(p) if p.name == "fault" => Some(p.t),
            _ => None,
        })
        .expect("the fault phase began");
    let aborted = lines.iter().find_map(|l| match l {
        Line::Abort(a) => Some(a.t - fault_began),
        _ => None,
    });
    (finished.outcome, aborted, finished.exit_code())
}

#[tokio::test]
async fn a_stall_trips_a_latency_guardrail_while_it_is_happening() {
    let up = upstream::mirror().await;
    let text = experiment(
        up,
        20,
        r#"kind = "latency", delay = "4s""#,
        "8s",
        r#"{ metric = "p99", above = "1s", for = "2s", min_requests = 5 }"#,
    );
    let (outcome, aborted, code) = run("stall", &text).await;
    assert_eq!(outcome, Outcome::Aborted);
    assert_eq!(code, 3);
    let at = aborted.expect("an abort line");
    // Every request now takes 4 s: none has ended when the guardrail must
    // trip, so only the requests still in flight can show the stall.
    assert!(at < 3.5, "aborted {at:.2} s after the fault began; a stall must trip within 3.5 s");
    assert!(at > 0.95, "aborted {at:.3} s after the fault began, before any request could have waited 1 s");
}

#[tokio::test]
async fn for_is_a_sliding_window_not_the_current_second() {
    let up = upstream::mirror().await;
    let text = experiment(
        up,
        100,
        r#"kind = "error", status = 503"#,
        "3s",
        r#"{ metric = "error_rate", above = "50%", for = "1s", min_requests = 5 }"#,
    );
    let (outcome, aborted, _) = run("window", &text).await;
    assert_eq!(outcome, Outcome::Aborted);
    let at = aborted.expect("an abort line");
    // The last second holds a quiet part and a failing part: failures pass
    // half of it only once the fault has lasted about half a second.
    assert!(at >= 0.4, "aborted {at:.3} s after the fault began: the window was not a whole second");
    assert!(at < 1.5, "aborted {at:.3} s after the fault began");
}
