//! W3C trace context at the listeners: the observer continues a user's
//! trace or starts one and forwards it; targets read the application's
//! `traceparent` on the plain path and on hyper's; every request line of
//! the journal carries its trace, its span and the caller's span; a
//! `traceparent` brownout did not create reaches the upstream as it was
//! sent; `trace_context = false` turns all of it off.

use std::net::SocketAddr;
use std::path::PathBuf;

use brownout::record::journal::{Line, Outcome, Request as Record};
use brownout::record::{Recorder, RunInfo};
use brownout::trace_context;
use http::Request;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::client::{read_body, send_http1, send_http2};
use crate::support::upstream::{self, full};
use crate::support::{self, LIMIT};

const SENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brownout-trace-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn records(path: &std::path::Path) -> Vec<Record> {
    std::fs::read_to_string(path)
        .expect("journal")
        .lines()
        .filter_map(|l| match serde_json::from_str(l).expect("line") {
            Line::Request(r) => Some(r),
            _ => None,
        })
        .collect()
}

/// Sends GET `path` with `traceparent` values; returns the `traceparent`
/// lines the mirror upstream received.
async fn through(addr: SocketAddr, path: &str, traceparents: &[&str], h2: bool) -> Vec<String> {
    let mut req = Request::get(format!("http://{addr}{path}"));
    for v in traceparents {
        req = req.header("traceparent", *v);
    }
    let req = req.body(full("")).expect("request");
    let sent = if h2 { send_http2(addr, req).await } else { send_http1(addr, req).await };
    let resp = tokio::time::timeout(LIMIT, async { sent.expect("response") }).await.expect("in time");
    assert_eq!(resp.status(), 200);
    let text = String::from_utf8(read_body(resp).await).expect("text");
    text.lines().filter_map(|l| l.strip_prefix("traceparent: ")).map(str::to_string).collect()
}

fn recorder(tag: &str, listeners: &[&str]) -> (Recorder, PathBuf) {
    let dir = temp_dir(tag);
    let info = RunInfo {
        title: tag.into(),
        seed: Some(7),
        listeners: listeners.iter().map(|l| l.to_string()).collect(),
        experiment: None,
    };
    (Recorder::start(&dir, info).expect("recorder"), dir)
}

#[tokio::test]
async fn the_observer_starts_a_trace_or_continues_the_users_and_the_journal_carries_both_spans() {
    let (recorder, _dir) = recorder("observer", &["observer"]);
    support::quiet_global_subscriber();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.layer()));
    let app = upstream::mirror().await;
    let proxy = support::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n[observer]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{app}\"\n"
    ))
    .await;
    let observer = proxy.addr("observer");

    let started = through(observer, "/started", &[], false).await;
    let started_h2 = through(observer, "/started-h2", &[], true).await;
    let continued = through(observer, "/continued", &[SENT], false).await;
    let broken = through(observer, "/broken", &["00-not-a-trace"], false).await;
    let doubled = through(observer, "/doubled", &[SENT, SENT], true).await;
    proxy.stop().await;
    let journal = recorder.finish(Outcome::Stopped).expect("journal");

    // The application gets what brownout did not create exactly as sent.
    assert_eq!(continued, [SENT]);
    assert_eq!(broken, ["00-not-a-trace"]);
    assert_eq!(doubled, [SENT, SENT]);

    let lines = records(&journal);
    let line = |path: &str| lines.iter().find(|r| r.path == path).unwrap_or_else(|| panic!("a line for {path}"));
    for (path, forwarded) in [("/started", &started), ("/started-h2", &started_h2)] {
        assert_eq!(forwarded.len(), 1, "{path}: one traceparent started: {forwarded:?}");
        let p = trace_context::parse(forwarded[0].as_bytes()).expect("a valid traceparent");
        let r = line(path);
        assert!(p.sampled);
        assert_eq!(r.trace_id.as_deref(), Some(trace_context::trace_hex(p.trace_id).as_str()), "{path}");
        assert_eq!(
            r.span_id.as_deref(),
            Some(trace_context::span_hex(p.span_id).as_str()),
            "{path}: brownout's span is the app's parent"
        );
        assert_eq!(r.parent_span_id, None, "{path}");
    }
    assert_ne!(line("/started").trace_id, line("/started-h2").trace_id, "each request starts its own trace");

    let c = line("/continued");
    assert_eq!(c.trace_id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"));
    assert_eq!(c.parent_span_id.as_deref(), Some("00f067aa0ba902b7"));
    let own = c.span_id.as_deref().expect("a span of its own");
    assert_eq!(own.len(), 16);
    assert_ne!(own, "00f067aa0ba902b7");
    for path in ["/broken", "/doubled"] {
        let r = line(path);
        assert_eq!(r.parent_span_id, None, "{path}: no trace to join");
        assert_ne!(r.trace_id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"), "{path}");
        assert!(r.trace_id.as_ref().is_some_and(|t| t.len() == 32), "{path}: a trace of its own");
    }
}

#[tokio::test]
async fn a_target_reads_the_applications_traceparent_on_both_paths_and_never_adds_one() {
    let (recorder, _dir) = recorder("target", &["deps"]);
    support::quiet_global_subscriber();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.layer()));
    let dep = upstream::mirror().await;
    let proxy = support::start(&support::http_target("deps", dep, "")).await;
    let addr = proxy.addr("deps");

    // With no fault the plain pass-through serves HTTP/1.1; HTTP/2 goes through hyper.
    let plain = through(addr, "/plain", &[SENT], false).await;
    let hyper = through(addr, "/hyper", &[SENT], true).await;
    let bare = through(addr, "/bare", &[], false).await;
    let bare_h2 = through(addr, "/bare-h2", &[], true).await;
    proxy.stop().await;
    let journal = recorder.finish(Outcome::Stopped).expect("journal");

    assert_eq!((plain.as_slice(), hyper.as_slice()), (&[SENT.to_string()][..], &[SENT.to_string()][..]));
    assert!(bare.is_empty() && bare_h2.is_empty(), "a target adds no traceparent: {bare:?} {bare_h2:?}");
    let lines = records(&journal);
    for path in ["/plain", "/hyper"] {
        let r = lines.iter().find(|r| r.path == path).expect("line");
        assert_eq!(r.trace_id.as_deref(), Some("4bf92f3577b34da6a3ce929d0e0e4736"), "{path}");
        assert_eq!(r.parent_span_id.as_deref(), Some("00f067aa0ba902b7"), "{path}: the app's client span");
        assert!(r.span_id.as_ref().is_some_and(|s| s.len() == 16 && s != "00f067aa0ba902b7"), "{path}");
    }
    for path in ["/bare", "/bare-h2"] {
        let r = lines.iter().find(|r| r.path == path).expect("line");
        assert!(r.trace_id.is_some() && r.span_id.is_some() && r.parent_span_id.is_none(), "{path}: {r:?}");
    }
}

#[tokio::test]
async fn trace_context_false_reads_and_writes_nothing() {
    let (recorder, _dir) = recorder("off", &["observer", "deps"]);
    support::quiet_global_subscriber();
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.layer()));
    let app = upstream::mirror().await;
    let proxy = support::start(&format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n\
         [observer]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{app}\"\ntrace_context = false\n\
         [[target]]\nname = \"deps\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{app}\"\ntrace_context = false\n"
    ))
    .await;
    let started = through(proxy.addr("observer"), "/o", &[], false).await;
    let passed = through(proxy.addr("observer"), "/o-sent", &[SENT], false).await;
    let plain = through(proxy.addr("deps"), "/t", &[SENT], false).await;
    let hyper = through(proxy.addr("deps"), "/t-h2", &[SENT], true).await;
    proxy.stop().await;
    let journal = recorder.finish(Outcome::Stopped).expect("journal");

    assert!(started.is_empty(), "the observer starts no trace: {started:?}");
    assert_eq!((passed, plain, hyper), (vec![SENT.to_string()], vec![SENT.to_string()], vec![SENT.to_string()]));
    let lines = records(&journal);
    assert_eq!(lines.len(), 4);
    for r in &lines {
        assert!(r.trace_id.is_none() && r.span_id.is_none() && r.parent_span_id.is_none(), "{r:?}");
    }
}
