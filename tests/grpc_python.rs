//! gRPC through a target with `upstream_version = "http2"`, with Python's
//! grpcio on both sides: calls of every shape pass byte for byte, a
//! `grpc_error` fault reaches the client as its status and message, a delay
//! past the client's deadline ends as `DEADLINE_EXCEEDED`, and the journal
//! and the report carry the codes. Over TLS, the upstream is reached over
//! HTTP/2 by ALPN.

use std::path::PathBuf;

use brownout::record::journal::{Line, Origin};
use brownout::record::{Recorder, RunInfo};
use tracing_subscriber::layer::SubscriberExt;

use crate::support::grpc::{client, python, Server};
use crate::support::{self, faults};

fn echo_target(upstream: &str, extra: &str) -> String {
    format!(
        "seed = 7\n[admin]\nlisten = \"127.0.0.1:0\"\n\n[[target]]\nname = \"echo\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"{upstream}\"\n{extra}\n"
    )
}

#[tokio::test]
async fn grpc_calls_of_every_shape_pass_through_an_http2_target_byte_for_byte() {
    let Some(py) = python() else { return };
    let server = Server::start(&py, None);
    let proxy =
        support::start(&echo_target(&format!("http://127.0.0.1:{}", server.port), "upstream_version = \"http2\""))
            .await;
    let lines = client(&py, proxy.addr("echo").to_string(), "calls").await;
    let calls: Vec<&str> = lines.iter().map(|l| l["call"].as_str().unwrap_or("?")).collect();
    assert_eq!(calls, ["unary", "server_streaming", "client_streaming", "bidi_streaming"]);
    for l in &lines {
        assert_eq!(l["ok"], true, "{l}");
    }
}

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brownout-grpc-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[tokio::test]
async fn grpc_faults_reach_a_real_client_in_grpc_terms_and_the_journal_and_report_carry_the_codes() {
    let Some(py) = python() else { return };
    let dir = temp_dir("faults");
    let info = RunInfo { title: "grpc".into(), seed: Some(7), listeners: vec!["echo".into()], experiment: None };
    let recorder = Recorder::start(&dir, info).expect("recorder");
    support::quiet_global_subscriber();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.layer()));

    let server = Server::start(&py, None);
    let proxy =
        support::start(&echo_target(&format!("http://127.0.0.1:{}", server.port), "upstream_version = \"http2\""))
            .await;
    let addr = proxy.addr("echo").to_string();

    let ok = client(&py, addr.clone(), "status").await;
    assert_eq!(ok[0]["code"], "OK", "{ok:?}");

    proxy.switch("echo").set(faults(
        "http",
        "[[target.fault]]\nname = \"echo-down\"\nkind = \"grpc_error\"\ncode = \"UNAVAILABLE\"\nmessage = \"echo is down for maintenance, try again\"\nmatch = { path = \"/brownout.test.Echo/*\" }\n",
    ));
    let down = client(&py, addr.clone(), "status").await;
    assert_eq!(down[0]["code"], "UNAVAILABLE", "{down:?}");
    assert_eq!(down[0]["details"], "echo is down for maintenance, try again", "{down:?}");

    proxy
        .switch("echo")
        .set(faults("http", "[[target.fault]]\nname = \"echo-slow\"\nkind = \"latency\"\ndelay = \"5s\"\n"));
    let late = client(&py, addr.clone(), "deadline").await;
    assert_eq!(late[0]["code"], "DEADLINE_EXCEEDED", "{late:?}");
    let seconds = late[0]["seconds"].as_f64().expect("seconds");
    assert!(seconds < 2.0, "the call ended at its 300 ms deadline, not after the 5 s delay: {seconds} s");
    proxy.switch("echo").clear();
    drop(proxy);

    let journal = recorder.finish(brownout::record::journal::Outcome::Stopped).expect("journal");
    let requests: Vec<_> = std::fs::read_to_string(&journal)
        .expect("journal")
        .lines()
        .filter_map(|l| match serde_json::from_str::<Line>(l) {
            Ok(Line::Request(r)) => Some(r),
            _ => None,
        })
        .collect();
    let route = "POST /brownout.test.Echo/Unary";
    let codes: Vec<(Option<u16>, Option<Origin>, Option<&str>)> =
        requests.iter().map(|r| (r.grpc_status, r.origin, r.fault.as_deref())).collect();
    assert!(requests.iter().all(|r| r.route == route), "{requests:?}");
    assert_eq!(
        codes,
        [
            (Some(0), None, None),
            (Some(14), Some(Origin::Injected), Some("echo-down")),
            (Some(4), Some(Origin::Injected), Some("echo-slow")),
        ],
        "{requests:?}"
    );

    let (report, written) = brownout::report::rebuild(&journal, None).expect("report");
    let json = serde_json::to_string(&report).expect("json");
    let md = std::fs::read_to_string(&written.markdown).expect("report.md");
    let html = std::fs::read_to_string(&written.html).expect("report.html");
    for (name, text) in [("report.json", &json), ("report.md", &md), ("report.html", &html)] {
        for code in ["UNAVAILABLE", "DEADLINE_EXCEEDED"] {
            assert!(text.contains(code), "{name} does not show {code}");
        }
    }
}

#[tokio::test]
async fn an_https_grpc_upstream_is_reached_over_http2_by_alpn() {
    let Some(py) = python() else { return };
    let dir = temp_dir("tls");
    std::fs::create_dir_all(&dir).expect("dir");
    let (ca, cert, key) = crate::https_listener::issue_files(&dir, "localhost");
    // No upstream_version: `auto` takes HTTP/2 because the server chose h2 by ALPN.
    let server = Server::start(&py, Some((&cert, &key)));
    let extra = format!("ca_file = {:?}", ca.display().to_string());
    let proxy = support::start(&echo_target(&format!("https://localhost:{}", server.port), &extra)).await;
    let lines = client(&py, proxy.addr("echo").to_string(), "calls").await;
    assert_eq!(lines.len(), 4, "{lines:?}");
    for l in &lines {
        assert_eq!(l["ok"], true, "{l}");
    }
}
