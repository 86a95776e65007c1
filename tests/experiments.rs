//! Experiments end to end: an application calling a dependency through
//! brownout, phases with faults, load, a hypothesis, guardrails, and every
//! way a run can end.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use brownout::record::journal::{Line, Origin, Outcome};
use brownout::record::Recorder;
use brownout::report::verdict::Status;
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use tokio_util::sync::CancellationToken;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::client::send_http1;
use crate::support::upstream::{self, full};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brownout-exp-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The shop: `POST /checkout` calls payments through brownout; when payments
/// fails it answers gracefully (503, Retry-After, a sentence) or not (a 500
/// with a stack trace).
async fn shop(payments: SocketAddr, graceful: bool) -> SocketAddr {
    upstream::http(move |_req: Request<Incoming>| async move {
        let call = Request::post(format!("http://{payments}/v1/charges")).body(full("")).expect("req");
        let ok = matches!(send_http1(payments, call).await, Ok(r) if r.status().is_success());
        if ok {
            return Response::new(full("order placed"));
        }
        if graceful {
            Response::builder()
                .status(503)
                .header("retry-after", "30")
                .body(full("Payments are down for a moment, please try again."))
                .expect("503")
        } else {
            let mut r = Response::new(full("java.lang.IllegalStateException: charge failed\n\tat Shop.pay"));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            r
        }
    })
    .await
}

fn experiment_text(app: SocketAddr, payments_port: u16, payments_api: SocketAddr, extra: &str) -> String {
    format!(
        r#"
title = "Checkout survives a payments outage"
seed = 7

[admin]
listen = "127.0.0.1:0"

[observer]
listen = "127.0.0.1:0"
upstream = "http://{app}"

[[target]]
name = "payments"
protocol = "http"
listen = "127.0.0.1:{payments_port}"
upstream = "http://{payments_api}"

[hypothesis]
slo = [
  {{ route = "POST /checkout", phase = "baseline", availability = "99%" }},
  {{ route = "POST /checkout", phase = "recovery", availability = "99%", p99 = "500ms" }},
]
graceful = [{{ route = "POST /checkout", status = [503], body_contains = "try again", header = "retry-after", within = "1s" }}]

[[phase]]
name = "baseline"
duration = "1s"

[[phase]]
name = "payments down"
duration = "1500ms"
faults = [{{ target = "payments", kind = "error", status = 503 }}]

[[phase]]
name = "recovery"
duration = "1s"

[load]
target = "observer"
rate = "100/s"
requests = [{{ method = "POST", path = "/checkout", body = '{{"cart": 1}}' }}]
{extra}
"#
    )
}

async fn run_experiment(tag: &str, graceful: bool, extra: &str) -> (brownout::run::Finished, Vec<Line>) {
    let dir = temp_dir(tag);
    let payments_api = upstream::mirror().await;
    let payments_port = crate::support::free_port();
    let app = shop(format!("127.0.0.1:{payments_port}").parse().expect("addr"), graceful).await;
    let text = experiment_text(app, payments_port, payments_api, extra);
    let exp = brownout::experiment::parse("exp.toml", &text, None).unwrap_or_else(|e| panic!("{e}"));
    let recorder = Recorder::start(&dir, brownout::run::run_info(&exp)).expect("recorder");
    let subscriber = tracing_subscriber::registry().with(recorder.layer());
    let _guard = tracing::subscriber::set_default(subscriber);
    let finished = tokio::time::timeout(
        Duration::from_secs(60),
        brownout::app::run_experiment(&exp, recorder, CancellationToken::new(), false),
    )
    .await
    .expect("the run ended in time")
    .expect("run");
    let lines = std::fs::read_to_string(&finished.journal)
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    (finished, lines)
}

#[tokio::test]
async fn the_hypothesis_holds_when_the_app_degrades_gracefully() {
    let (finished, lines) = run_experiment("graceful", true, "").await;
    let verdict = finished.report.verdict.clone().expect("a verdict");
    assert_eq!(finished.outcome, Outcome::Completed);
    assert_eq!(verdict.status, Status::Held, "{:#?}", verdict.checks);
    assert_eq!(finished.exit_code(), 0);
    let phases: Vec<&str> = finished.report.phases.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(phases, ["baseline", "payments down", "recovery"]);
    let down = &finished.report.phases[1].stats;
    assert!(down.graceful > 50 && down.ungraceful == 0, "{down:?}");
    let steady = finished.report.steady_state.clone().expect("steady state before and after");
    assert_eq!((steady.before_phase.as_str(), steady.after_phase.as_str()), ("baseline", "recovery"));
    // Phases begin on schedule (real time, a tolerance for a shared machine).
    let starts: Vec<f64> = lines.iter().filter_map(|l| if let Line::Phase(p) = l { Some(p.t) } else { None }).collect();
    for (got, want) in starts.iter().zip([0.0, 1.0, 2.5]) {
        assert!((got - want).abs() < 0.05, "phase began at {got} s, scheduled {want} s");
    }
    assert!(finished.written.html.is_file() && finished.written.markdown.is_file());
}

#[tokio::test]
async fn the_hypothesis_deviates_and_names_the_failed_check_when_the_app_does_not() {
    let (finished, _) = run_experiment("ungraceful", false, "").await;
    let verdict = finished.report.verdict.clone().expect("a verdict");
    assert_eq!(verdict.status, Status::Deviated);
    assert_eq!(finished.exit_code(), 1);
    let failed: Vec<String> =
        verdict.checks.iter().filter(|c| !c.passed).map(|c| format!("{} in {}", c.check, c.phase)).collect();
    assert_eq!(failed, ["POST /checkout degrades gracefully in payments down"], "{:#?}", verdict.checks);
    let md = std::fs::read_to_string(&finished.written.markdown).expect("md");
    assert!(md.contains("deviated") && md.contains("degrades gracefully"), "{md}");
}

#[tokio::test]
async fn a_tripped_guardrail_aborts_and_clears_every_fault_within_100ms() {
    let guard =
        "[guardrails]\nabort_if = [{ metric = \"error_rate\", above = \"50%\", for = \"1s\", min_requests = 10 }]\n";
    let (finished, lines) = run_experiment("guardrail", false, guard).await;
    assert_eq!(finished.outcome, Outcome::Aborted);
    assert_eq!(finished.exit_code(), 3);
    let verdict = finished.report.verdict.clone().expect("verdict");
    let abort = verdict.abort.expect("the abort is in the report");
    assert!(abort.guardrail.starts_with("error_rate at * above 50%"), "{abort:?}");
    // Requests reaching payments more than 100 ms after the abort met no fault.
    let late_injected = lines
        .iter()
        .filter_map(|l| if let Line::Request(r) = l { Some(r) } else { None })
        .filter(|r| r.listener == "payments" && r.t > abort.at_s + 0.1)
        .filter(|r| r.origin == Some(Origin::Injected))
        .count();
    assert_eq!(late_injected, 0, "faults were still applied 100 ms after the abort");
    let fault_off = lines.iter().filter_map(|l| if let Line::FaultOff(f) = l { Some(f.t) } else { None }).next();
    let off = fault_off.expect("the fault was turned off");
    assert!(off - abort.at_s < 0.1, "fault off {off} s, abort {} s", abort.at_s);
    assert!(abort.at_s < 2.5 + 1.5, "aborted during the fault phase, at {} s", abort.at_s);
    assert!(finished.written.html.is_file());
}

#[test]
fn a_panic_while_faults_are_on_leaves_no_fault_active() {
    let switch = std::sync::Arc::new(brownout::fault::FaultSwitch::new(
        "t",
        1,
        crate::support::faults("http", "[[target.fault]]\nkind = \"hang\"\n"),
    ));
    let held = switch.load_full().faults[0].clone();
    let for_thread = switch.clone();
    let result = std::thread::spawn(move || {
        let _fail_open = brownout::run::FailOpenGuard::new(vec![for_thread]);
        panic!("a fault task panics");
    })
    .join();
    assert!(result.is_err());
    assert!(switch.load().faults.is_empty(), "faults left active after a panic");
    assert!(held.ended.is_cancelled(), "what the fault held was released");
}

#[tokio::test]
async fn an_admin_stop_ends_the_run_as_interrupted_with_faults_cleared() {
    let admin_port = crate::support::free_port();
    let text = format!(
        r#"
title = "stopped from the admin API"
[admin]
listen = "127.0.0.1:{admin_port}"
[[target]]
name = "t"
protocol = "http"
listen = "127.0.0.1:0"
upstream = "http://127.0.0.1:9"
[[phase]]
name = "long fault"
duration = "60s"
faults = [{{ target = "t", kind = "hang" }}]
"#
    );
    let dir = temp_dir("admin-stop");
    let exp = brownout::experiment::parse("stop.toml", &text, None).expect("valid");
    let recorder = Recorder::start(&dir, brownout::run::run_info(&exp)).expect("recorder");
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.layer()));
    let admin: SocketAddr = format!("127.0.0.1:{admin_port}").parse().expect("addr");
    let stopper = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(800)).await;
        let req = Request::post(format!("http://{admin}/run/stop")).body(full("")).expect("req");
        send_http1(admin, req).await.expect("stop").status().as_u16()
    });
    let started = std::time::Instant::now();
    let finished = tokio::time::timeout(
        Duration::from_secs(30),
        brownout::app::run_experiment(&exp, recorder, CancellationToken::new(), false),
    )
    .await
    .expect("stopped in time")
    .expect("run");
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    assert_eq!(stopper.await.expect("stopper"), 202);
    assert_eq!(finished.outcome, Outcome::Interrupted);
    assert_eq!(finished.exit_code(), 3);
    let journal = std::fs::read_to_string(&finished.journal).expect("journal");
    assert!(journal.contains("\"type\":\"fault_off\""), "the fault was cleared");
    assert!(finished.written.html.is_file());
}
