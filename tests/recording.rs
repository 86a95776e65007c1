//! Recording and reports: a known mix through an observer and a faulted
//! target lands in the journal and the report with exactly its counts,
//! classes and origins; percentiles agree with the journal; a killed
//! process keeps what it flushed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use brownout::record::journal::{Class, Line, Origin, Outcome};
use brownout::record::{Recorder, RunInfo};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use tracing_subscriber::layer::SubscriberExt;

use crate::support::client::{read_body, send_http1};
use crate::support::upstream::{self, full};
use crate::support::{self, LIMIT};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("brownout-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn journal_lines(path: &std::path::Path) -> Vec<Line> {
    std::fs::read_to_string(path)
        .expect("journal")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l}: {e}")))
        .collect()
}

/// The application: `/checkout` calls payments through brownout and turns
/// its 503 into a friendly 503 with Retry-After; `/broken` is a plain 500
/// with a stack trace.
async fn shop(payments: SocketAddr) -> SocketAddr {
    upstream::http(move |req: Request<Incoming>| async move {
        if req.uri().path() == "/broken" {
            let mut r = Response::new(full("Traceback (most recent call last):\n  File \"shop.py\", line 3"));
            *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
            return r;
        }
        let call = Request::post(format!("http://{payments}/v1/charges")).body(full("")).expect("req");
        let status = send_http1(payments, call).await.map(|r| r.status()).unwrap_or(StatusCode::BAD_GATEWAY);
        if status == StatusCode::SERVICE_UNAVAILABLE {
            return Response::builder()
                .status(503)
                .header("retry-after", "5")
                .header("set-cookie", "session=secret")
                .body(full("Payments are busy right now, please try again in a minute."))
                .expect("503");
        }
        Response::new(full("order placed"))
    })
    .await
}

#[tokio::test]
async fn a_known_mix_lands_in_the_journal_and_report_with_exact_counts_classes_and_origins() {
    let dir = temp_dir("mix");
    let recorder = Recorder::start(
        &dir,
        RunInfo {
            title: "mix".into(),
            seed: Some(7),
            listeners: vec!["observer".into(), "payments".into()],
            experiment: None,
        },
    )
    .expect("recorder");
    let subscriber = tracing_subscriber::registry().with(recorder.layer());
    let _guard = tracing::subscriber::set_default(subscriber);

    let payments_api = upstream::mirror().await;
    // The shop must know brownout's payments address before brownout starts,
    // so the target listens on a port picked here.
    let payments_port = crate::support::free_port();
    let app = shop(format!("127.0.0.1:{payments_port}").parse().expect("addr")).await;
    let config = format!(
        "seed = 7\n[admin]\nlisten = \"127.0.0.1:0\"\n\
         [graceful]\nstatus = [503]\nbody_contains = [\"try again\"]\nheaders = [\"retry-after\"]\nwithin = \"2s\"\n\
         [observer]\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{app}\"\n\
         [[target]]\nname = \"payments\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:{payments_port}\"\nupstream = \"http://{payments_api}\"\n\
         [[target.fault]]\nname = \"charges-503\"\nkind = \"error\"\nstatus = 503\nprobability = 0.2\n"
    );
    let proxy = support::start(&config).await;
    let observer = proxy.addr("observer");

    let mut statuses: BTreeMap<(String, u16), u64> = BTreeMap::new();
    for i in 0..1000 {
        let path = if i % 10 == 9 { "/broken" } else { "/checkout" };
        let method = if path == "/checkout" { "POST" } else { "GET" };
        let req =
            Request::builder().method(method).uri(format!("http://{observer}{path}")).body(full("")).expect("req");
        let resp = tokio::time::timeout(LIMIT, send_http1(observer, req)).await.expect("in time").expect("resp");
        let status = resp.status().as_u16();
        let _ = read_body(resp).await;
        *statuses.entry((path.to_string(), status)).or_default() += 1;
    }
    proxy.stop().await;
    drop(_guard);
    let journal = recorder.finish(Outcome::Stopped).expect("finish");

    let injected = statuses.get(&("/checkout".to_string(), 503)).copied().unwrap_or(0);
    assert_eq!(statuses.get(&("/broken".to_string(), 500)), Some(&100));
    assert_eq!(injected + statuses.get(&("/checkout".to_string(), 200)).copied().unwrap_or(0), 900);
    assert!((130..=230).contains(&injected), "about 20% of 900 injected, got {injected}");

    // The journal: one line per request at each listener, with its class and origin.
    let lines = journal_lines(&journal);
    let requests: Vec<_> = lines.iter().filter_map(|l| if let Line::Request(r) = l { Some(r) } else { None }).collect();
    let count =
        |f: &dyn Fn(&brownout::record::journal::Request) -> bool| requests.iter().filter(|r| f(r)).count() as u64;
    assert_eq!(count(&|r| r.listener == "observer"), 1000);
    assert_eq!(count(&|r| r.listener == "payments"), 900);
    assert_eq!(
        count(&|r| r.listener == "payments" && r.status == Some(503) && r.origin == Some(Origin::Injected)),
        injected
    );
    assert_eq!(count(&|r| r.listener == "payments" && r.fault.as_deref() == Some("charges-503")), injected);
    assert_eq!(count(&|r| r.route == "POST /checkout" && r.class == Some(Class::Graceful)), injected);
    assert_eq!(count(&|r| r.route == "POST /checkout" && r.class == Some(Class::Ok)), 900 - injected);
    assert_eq!(
        count(&|r| r.route == "GET /broken"
            && r.class == Some(Class::Ungraceful)
            && r.origin == Some(Origin::Upstream)),
        100
    );
    assert!(matches!(lines.first(), Some(Line::Start(_))) && matches!(lines.last(), Some(Line::Stop(_))));

    // The report, built from the journal alone, says the same.
    let report = brownout::report::from_file(&journal).expect("report");
    let written = brownout::report::write(&report, &dir).expect("write");
    let json: brownout::report::Report =
        serde_json::from_str(&std::fs::read_to_string(&written.json).expect("json")).expect("parse");
    assert_eq!(json, report);
    assert_eq!(json.schema, 1);
    assert_eq!(json.outcome, Outcome::Stopped);
    let route = |l: &str, r: &str| json.routes.iter().find(|x| x.listener == l && x.route == r).expect(r).stats.clone();
    let checkout = route("observer", "POST /checkout");
    assert_eq!(
        (checkout.requests, checkout.ok, checkout.graceful, checkout.ungraceful),
        (900, 900 - injected, injected, 0)
    );
    assert_eq!(checkout.failed.upstream, injected, "the app's 503s are failures of the application at the observer");
    let broken = route("observer", "GET /broken");
    assert_eq!((broken.requests, broken.ungraceful, broken.failed.upstream), (100, 100, 100));
    let charges = route("payments", "POST /v1/charges");
    assert_eq!((charges.requests, charges.failed.injected, charges.failed.upstream), (900, injected, 0));
    assert_eq!(json.headline.requests, 1000);
    assert_eq!(json.headline.graceful + json.headline.ungraceful, injected + 100);
    let fault = json.faults.iter().find(|f| f.name == "charges-503").expect("fault in report");
    assert_eq!(fault.applied, injected);
    let impact = json.impact.iter().find(|i| i.route == "POST /checkout").expect("impact of the fault");
    assert_eq!(impact.during.graceful, injected);
    // Evidence is kept, with secrets redacted.
    let sample = json.samples.iter().find(|s| s.class == Some(Class::Graceful)).expect("a graceful sample");
    assert!(sample.body.contains("please try again"));
    assert!(sample.headers.iter().any(|(k, v)| k == "set-cookie" && v == "[redacted]"), "{:?}", sample.headers);
    assert!(std::fs::read_to_string(&written.markdown).expect("md").contains("POST /checkout"));
    assert!(std::fs::read_to_string(&written.html).expect("html").contains("<svg"));
}

/// The smallest recorded value with at least `q` of all values at or below
/// it, as HdrHistogram defines its quantiles.
fn exact_quantile(sorted: &[f64], q: f64) -> f64 {
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

#[tokio::test]
async fn report_percentiles_agree_with_the_journal_within_histogram_precision() {
    let dir = temp_dir("percentiles");
    let recorder = Recorder::start(
        &dir,
        RunInfo { title: "p".into(), seed: Some(1), listeners: vec!["t".into()], experiment: None },
    )
    .expect("rec");
    let subscriber = tracing_subscriber::registry().with(recorder.layer());
    let _guard = tracing::subscriber::set_default(subscriber);
    let up = upstream::mirror().await;
    let fault = "[[target.fault]]\nkind = \"latency\"\ndistribution = \"uniform\"\nmin = \"1ms\"\nmax = \"40ms\"\n";
    let proxy = support::start(&support::http_target("t", up, fault)).await;
    let addr = proxy.addr("t");
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            tokio::spawn(async move {
                for _ in 0..40 {
                    // Origin-form, as most clients send it: the plain pass-through's.
                    let req = Request::get("/x").header("host", "t").body(full("")).expect("req");
                    let resp = send_http1(addr, req).await.expect("resp");
                    read_body(resp).await;
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.expect("task");
    }
    proxy.stop().await;
    drop(_guard);
    let journal = recorder.finish(Outcome::Stopped).expect("finish");
    let requests: Vec<_> = journal_lines(&journal)
        .into_iter()
        .filter_map(|l| if let Line::Request(r) = l { Some(r) } else { None })
        .collect();
    // Delayed on the plain pass-through, each still names its fault.
    assert!(requests.iter().all(|r| r.fault.as_deref() == Some("latency")), "{:?}", requests.first());
    let mut latencies: Vec<f64> = requests.iter().map(|r| r.latency_ms).collect();
    assert_eq!(latencies.len(), 320);
    latencies.sort_by(f64::total_cmp);
    let report = brownout::report::from_file(&journal).expect("report");
    let stats = &report.routes.iter().find(|r| r.route == "GET /x").expect("route").stats;
    for (q, got) in [(0.50, stats.p50_ms), (0.95, stats.p95_ms), (0.99, stats.p99_ms)] {
        let want = exact_quantile(&latencies, q);
        let got = got.expect("a percentile");
        // Three significant digits: within 0.1%, plus the journal's 1 µs rounding.
        assert!((got - want).abs() <= want * 0.001 + 0.001, "p{}: report {got} ms, journal {want} ms", q * 100.0);
    }
}

#[test]
fn a_killed_proxy_keeps_every_request_answered_a_second_before_and_reports_rebuild() {
    use std::process::{Command, Stdio};
    use std::time::Instant;
    const BIN: &str = env!("CARGO_BIN_EXE_brownout");
    let dir = temp_dir("sigkill");
    std::fs::create_dir_all(&dir).expect("dir");
    // An upstream on a thread of its own, answering every request.
    let upstream = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let upstream_addr = upstream.local_addr().expect("addr");
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        for stream in upstream.incoming() {
            let Ok(mut s) = stream else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n) = s.read(&mut buf) {
                    if n == 0 || s.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").is_err() {
                        break;
                    }
                }
            });
        }
    });
    let port = crate::support::free_port();
    let config = dir.join("config.toml");
    std::fs::write(
        &config,
        format!(
            "[admin]\nlisten = \"127.0.0.1:0\"\n[[target]]\nname = \"t\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:{port}\"\nupstream = \"http://{upstream_addr}\"\n"
        ),
    )
    .expect("config");
    let run_dir = dir.join("run");
    let mut child = Command::new(BIN)
        .args(["proxy", "--config"])
        .arg(&config)
        .arg("--run-dir")
        .arg(&run_dir)
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(started.elapsed() < Duration::from_secs(20), "brownout did not listen");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Requests with numbered paths for 2.5 s, each answer timed.
    let mut answered: Vec<(u32, Instant)> = Vec::new();
    let until = Instant::now() + Duration::from_millis(2500);
    let mut n = 0u32;
    while Instant::now() < until {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        s.write_all(format!("GET /req/{n} HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").as_bytes())
            .expect("write");
        let mut got = Vec::new();
        let _ = s.read_to_end(&mut got);
        if got.ends_with(b"ok") {
            answered.push((n, Instant::now()));
        }
        n += 1;
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("SIGKILL");
    let killed = Instant::now();
    let _ = child.wait();
    let journal = run_dir.join("journal.jsonl");
    let text = std::fs::read_to_string(&journal).expect("journal exists after the kill");
    let recorded: std::collections::HashSet<String> = text
        .lines()
        .filter_map(|l| serde_json::from_str::<Line>(l).ok())
        .filter_map(|l| if let Line::Request(r) = l { Some(r.path) } else { None })
        .collect();
    let old_enough: Vec<u32> = answered
        .iter()
        .filter(|(_, at)| killed.duration_since(*at) > Duration::from_secs(1))
        .map(|(n, _)| *n)
        .collect();
    assert!(old_enough.len() > 50, "only {} requests answered a second before the kill", old_enough.len());
    let missing: Vec<&u32> = old_enough.iter().filter(|n| !recorded.contains(&format!("/req/{n}"))).collect();
    assert!(missing.is_empty(), "answered over a second before the kill but not in the journal: {missing:?}");
    // The journal has no stop line; `brownout report` still builds all three reports.
    let out = Command::new(BIN).arg("report").arg(&journal).output().expect("report");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for name in ["report.json", "report.md", "report.html"] {
        assert!(run_dir.join(name).metadata().is_ok_and(|m| m.len() > 100), "{name} missing");
    }
    let report: brownout::report::Report =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("report.json")).expect("json")).expect("parse");
    assert_eq!(report.outcome, Outcome::Unfinished);
}

#[tokio::test]
async fn metrics_count_requests_faults_and_open_connections() {
    let dir = temp_dir("metrics");
    let recorder = Recorder::start(
        &dir,
        RunInfo { title: "m".into(), seed: Some(3), listeners: vec!["t".into()], experiment: None },
    )
    .expect("rec");
    let subscriber = tracing_subscriber::registry().with(recorder.layer());
    let _guard = tracing::subscriber::set_default(subscriber);
    let up = upstream::mirror().await;
    let fault = "[[target.fault]]\nname = \"teapot\"\nkind = \"error\"\nstatus = 503\nmatch = { path = \"/fail\" }\n";
    let config = brownout::config::parse("m.toml", &support::http_target("t", up, fault), None).expect("config");
    let app = brownout::app::App::bind(&config).expect("bind").with_live(recorder.live());
    let (admin, target) = (app.admin_addr().expect("admin"), app.proxy().target_addr("t").expect("t"));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(app.serve(async move {
        let _ = stopped.await;
    }));
    for _ in 0..7 {
        assert_eq!(crate::support::client::get(target, "/ok").await.0, 200);
    }
    for _ in 0..3 {
        assert_eq!(crate::support::client::get(target, "/fail").await.0, 503);
    }
    // One connection held open shows in the gauge.
    let held = tokio::net::TcpStream::connect(target).await.expect("connect");
    let want = [
        "brownout_requests_total{listener=\"t\",route=\"GET /ok\",result=\"succeeded\"} 7",
        "brownout_requests_total{listener=\"t\",route=\"GET /fail\",result=\"failed\",origin=\"injected\"} 3",
        "brownout_faults_applied_total{target=\"t\",fault=\"teapot\",kind=\"error\",origin=\"injected\"} 3",
        "brownout_active_connections{listener=\"t\"} 1",
        "brownout_request_duration_seconds_count{listener=\"t\"} 10",
        "brownout_journal_dropped_total 0",
    ];
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    let text = loop {
        let (status, text) = crate::support::client::get(admin, "/metrics").await;
        assert_eq!(status, 200);
        if want.iter().all(|w| text.contains(w)) || tokio::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    for w in want {
        assert!(text.contains(w), "missing {w} in:\n{text}");
    }
    assert!(text.contains("# TYPE brownout_request_duration_seconds histogram"));
    // Without a run, there is nothing for the admin API to stop.
    let stop_req = Request::post(format!("http://{admin}/run/stop")).body(full("")).expect("req");
    let resp = send_http1(admin, stop_req).await.expect("resp");
    assert_eq!(resp.status(), 409);
    assert_eq!(read_body(resp).await, br#"{"error":"no run in progress","status":409}"#);
    drop(held);
    let _ = stop.send(());
    running.await.expect("proxy");
    drop(_guard);
    recorder.finish(Outcome::Stopped).expect("finish");
}

#[tokio::test]
async fn a_tcp_connection_records_the_bytes_it_carried_each_way_with_and_without_faults() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let dir = temp_dir("tcp-bytes");
    let info = RunInfo { title: "tcp bytes".into(), seed: Some(1), listeners: vec!["t".into()], experiment: None };
    let recorder = Recorder::start(&dir, info).expect("recorder");
    let _guard = tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.layer()));
    let up = upstream::tcp_echo().await;
    let proxy = support::start(&support::tcp_target("t", up, "")).await;
    let data = support::random_bytes(3, 300_000);
    // Twice: untouched (bytes pass straight through), then through a 1 ms latency fault (bytes queued).
    for fault in ["", "[[target.fault]]\nkind = \"latency\"\ndelay = \"1ms\"\n"] {
        proxy.switch("t").set(if fault.is_empty() { Vec::new() } else { support::faults("tcp", fault) });
        let mut s = tokio::net::TcpStream::connect(proxy.addr("t")).await.expect("connect");
        let (mut r, mut w) = s.split();
        let send = async {
            w.write_all(&data).await.expect("write");
            w.shutdown().await.expect("half-close");
        };
        let mut back = Vec::new();
        let recv =
            async { tokio::time::timeout(LIMIT, r.read_to_end(&mut back)).await.expect("in time").expect("read") };
        tokio::join!(send, recv);
        assert!(back == data, "the echo came back whole");
    }
    drop(proxy);
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(_guard);
    let journal = recorder.finish(Outcome::Stopped).expect("finish");
    let carried: Vec<(u64, u64)> = journal_lines(&journal)
        .into_iter()
        .filter_map(|l| if let Line::Connection(c) = l { Some((c.bytes_in, c.bytes_out)) } else { None })
        .collect();
    assert_eq!(carried, [(300_000, 300_000), (300_000, 300_000)]);
}
