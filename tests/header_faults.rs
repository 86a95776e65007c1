//! Faults chosen per request by header: Envoy's `x-envoy-fault-*` headers
//! and `x-brownout-fault`, over HTTP/1.1 and h2c, against an upstream that
//! reports every header it got.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::client::{call, read_body};
use crate::support::upstream::{self, full, Body};
use crate::support::{self, LIMIT};
use brownout::record::journal::{Line, Origin};

const ENVOY: [&str; 8] = [
    "x-envoy-fault-abort-request",
    "x-envoy-fault-abort-request-percentage",
    "x-envoy-fault-abort-grpc-request",
    "x-envoy-fault-abort-grpc-request-percentage",
    "x-envoy-fault-delay-request",
    "x-envoy-fault-delay-request-percentage",
    "x-envoy-fault-throughput-response",
    "x-envoy-fault-throughput-response-percentage",
];

/// An upstream that answers with the headers it got, one per line, padded
/// with dots to `?pad=N` bytes; it counts the requests it saw.
async fn reporter() -> (SocketAddr, Arc<AtomicUsize>) {
    let seen = Arc::new(AtomicUsize::new(0));
    let count = seen.clone();
    let addr = upstream::http(move |req: Request<Incoming>| {
        count.fetch_add(1, Ordering::Relaxed);
        async move {
            let mut text = String::new();
            for (k, v) in req.headers() {
                text.push_str(&format!("{}: {}\n", k, v.to_str().unwrap_or("?")));
            }
            let pad = req.uri().query().and_then(|q| q.strip_prefix("pad=")).and_then(|n| n.parse::<usize>().ok());
            if let Some(pad) = pad {
                let missing = pad.saturating_sub(text.len());
                text.push_str(&".".repeat(missing));
            }
            Response::new(full(text))
        }
    })
    .await;
    (addr, seen)
}

/// One client connection, kept alive across requests: HTTP/1.1 or h2c.
enum Conn {
    H1(hyper::client::conn::http1::SendRequest<Body>),
    H2(hyper::client::conn::http2::SendRequest<Body>),
}

impl Conn {
    async fn open(addr: SocketAddr, h2: bool) -> Conn {
        let io = TokioIo::new(TcpStream::connect(addr).await.expect("connect"));
        if h2 {
            let (send, conn) = hyper::client::conn::http2::handshake(TokioExecutor::new(), io).await.expect("h2");
            tokio::spawn(conn);
            Conn::H2(send)
        } else {
            let (send, conn) = hyper::client::conn::http1::handshake(io).await.expect("h1");
            tokio::spawn(conn);
            Conn::H1(send)
        }
    }

    async fn send(
        &mut self,
        addr: SocketAddr,
        path: &str,
        headers: &[(&str, &str)],
    ) -> hyper::Result<Response<Incoming>> {
        let mut req = Request::get(format!("http://{addr}{path}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = req.body(full("")).expect("request");
        let sent = match self {
            Conn::H1(s) => timeout(LIMIT, s.send_request(req)).await,
            Conn::H2(s) => timeout(LIMIT, s.send_request(req)).await,
        };
        sent.expect("answered in time")
    }
}

/// Status and body of one request on a new connection.
async fn ask(addr: SocketAddr, h2: bool, path: &str, headers: &[(&str, &str)]) -> hyper::Result<(u16, String)> {
    let resp = Conn::open(addr, h2).await.send(addr, path, headers).await?;
    let status = resp.status().as_u16();
    let body = timeout(LIMIT, resp.into_body().collect()).await.expect("body in time")?.to_bytes();
    Ok((status, String::from_utf8_lossy(&body).into_owned()))
}

fn version(h2: bool) -> &'static str {
    if h2 {
        "h2c"
    } else {
        "HTTP/1.1"
    }
}

#[tokio::test]
async fn each_envoy_header_and_brownouts_own_act_on_http1_and_h2c() {
    let (up, seen) = reporter().await;
    let proxy = support::start(&support::http_target("pay", up, "header_faults = true")).await;
    let addr = proxy.addr("pay");
    for h2 in [false, true] {
        let v = version(h2);
        let before = seen.load(Ordering::Relaxed);
        let abort = ask(addr, h2, "/", &[("x-envoy-fault-abort-request", "503")]).await.expect("answered");
        assert_eq!(abort, (503, "fault filter abort".to_string()), "{v}");
        let teapot = [("x-brownout-fault", r#"kind = "error", status = 418, body = "short and stout""#)];
        assert_eq!(ask(addr, h2, "/", &teapot).await.expect("answered"), (418, "short and stout".into()), "{v}");
        assert_eq!(seen.load(Ordering::Relaxed), before, "{v}: an abort reached the upstream");

        let started = Instant::now();
        let (status, body) = ask(addr, h2, "/", &[("x-envoy-fault-delay-request", "300")]).await.expect("answered");
        assert_eq!(status, 200, "{v}");
        assert!(started.elapsed() >= Duration::from_millis(300), "{v}: answered after {:?}", started.elapsed());
        assert!(!body.contains("x-envoy-fault"), "{v}: the upstream saw {body}");

        let slow = [("x-brownout-fault", r#"kind = "latency", delay = "250ms", at = "response""#)];
        let started = Instant::now();
        assert_eq!(ask(addr, h2, "/", &slow).await.expect("answered").0, 200, "{v}");
        assert!(started.elapsed() >= Duration::from_millis(250), "{v}: answered after {:?}", started.elapsed());

        // 24 KiB at 16 KiB/s: a second at least after the first burst.
        let started = Instant::now();
        let (status, body) =
            ask(addr, h2, "/?pad=24576", &[("x-envoy-fault-throughput-response", "16")]).await.expect("answered");
        assert_eq!((status, body.len()), (200, 24576), "{v}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_millis(400) && took < Duration::from_secs(5),
            "{v}: 24 KiB at 16 KiB/s took {took:?}"
        );

        // A gRPC call aborted with a gRPC status: trailers-only, the status in the head.
        let grpc = [("content-type", "application/grpc"), ("x-envoy-fault-abort-grpc-request", "14")];
        let resp = Conn::open(addr, h2).await.send(addr, "/pricing.Prices/Quote", &grpc).await.expect("answered");
        assert_eq!(resp.status(), 200, "{v}");
        assert_eq!(
            resp.headers().get("grpc-status").map(|s| s.as_bytes()),
            Some(&b"14"[..]),
            "{v}: {:?}",
            resp.headers()
        );
        assert_eq!(seen.load(Ordering::Relaxed), before + 3, "{v}: a gRPC abort reached the upstream");

        let reset = ask(addr, h2, "/", &[("x-brownout-fault", r#"kind = "reset""#)]).await;
        assert!(reset.is_err(), "{v}: a reset fault answered {reset:?}");
        let cut = ask(addr, h2, "/?pad=10000", &[("x-brownout-fault", r#"kind = "truncate", bytes = 100"#)]).await;
        assert!(cut.is_err(), "{v}: a truncated body ended cleanly: {cut:?}");
    }
}

#[tokio::test]
async fn percentages_hold_over_ten_thousand_seeded_requests() {
    let (up, _) = reporter().await;
    let config = support::http_target("pay", up, "header_faults = true");
    let hits = |proxy: support::Running,
                header: (&'static str, &'static str),
                pick: (&'static str, &'static str),
                n: usize| async move {
        let addr = proxy.addr("pay");
        let mut conn = Conn::open(addr, false).await;
        let mut outcomes = Vec::with_capacity(n);
        for _ in 0..n {
            let resp = conn.send(addr, "/", &[header, pick]).await.expect("answered");
            outcomes.push(resp.status().as_u16() != 200);
            let _ = read_body(resp).await;
        }
        outcomes
    };
    let envoy = ("x-envoy-fault-abort-request", "503");
    let share = ("x-envoy-fault-abort-request-percentage", "30");
    let first = hits(support::start(&config).await, envoy, share, 10_000).await;
    let aborted = first.iter().filter(|a| **a).count();
    // 30% of 10,000: 3,000 with a standard deviation of 46; 4.3 of them either way.
    assert!((2800..=3200).contains(&aborted), "{aborted} of 10,000 aborted at 30%");
    // The same seed and traffic decide the same way (the first 2,000 suffice to show it).
    let again = hits(support::start(&config).await, envoy, share, 2_000).await;
    assert_eq!(first[..2_000], again[..], "the same seed and traffic decided differently");

    let own = ("x-brownout-fault", r#"kind = "error", status = 502, probability = 0.75"#);
    let erred = hits(support::start(&config).await, own, ("x-other", "1"), 10_000).await.iter().filter(|a| **a).count();
    assert!((7300..=7700).contains(&erred), "{erred} of 10,000 failed at 0.75");
}

#[tokio::test]
async fn caps_bound_delays_kinds_and_requests_in_progress() {
    let (up, _) = reporter().await;
    let caps = "header_faults = { max_delay = \"1500ms\", max_active = 2, kinds = [\"latency\", \"error\", \"hang\"] }";
    let proxy = support::start(&support::http_target("pay", up, caps)).await;
    let (addr, admin) = (proxy.addr("pay"), proxy.addr("admin"));
    for h2 in [false, true] {
        let v = version(h2);
        let (status, body) = ask(addr, h2, "/", &[("x-envoy-fault-delay-request", "1501")]).await.expect("answered");
        assert_eq!(status, 400, "{v}");
        assert_eq!(
            body,
            "x-envoy-fault-delay-request: a delay of 1.501s is longer than this target's header_faults.max_delay of 1.5s\n"
        );
        let (status, body) = ask(addr, h2, "/", &[("x-brownout-fault", r#"kind = "reset""#)]).await.expect("answered");
        assert_eq!(status, 400, "{v}");
        assert!(body.contains("does not allow reset faults; it allows: latency, error, hang"), "{v}: {body}");
        let (status, body) = ask(addr, h2, "/", &[("x-envoy-fault-throughput-response", "8")]).await.expect("answered");
        assert_eq!(status, 400, "{v}");
        assert!(body.contains("does not allow bandwidth faults"), "{v}: {body}");
        // A hang is let go at max_delay: the connection closes, answered by nothing.
        let started = Instant::now();
        let hung = ask(addr, h2, "/", &[("x-brownout-fault", r#"kind = "hang""#)]).await;
        let took = started.elapsed();
        assert!(hung.is_err(), "{v}: a hang answered {hung:?}");
        assert!(took >= Duration::from_millis(1500) && took < Duration::from_secs(5), "{v}: held {took:?}");
    }
    // Two requests in progress with header faults fill max_active: a third
    // passes untouched, and /metrics counts it.
    let held: Vec<_> =
        (0..2).map(|_| tokio::spawn(ask(addr, false, "/", &[("x-envoy-fault-delay-request", "1200")]))).collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, body) = ask(addr, false, "/", &[("x-envoy-fault-abort-request", "503")]).await.expect("answered");
    assert_eq!(status, 200, "the third request was not let through: {body}");
    assert!(!body.contains("x-envoy-fault"), "an overflowing request's headers reached the upstream: {body}");
    for h in held {
        assert_eq!(h.await.expect("task").expect("answered").0, 200);
    }
    assert_eq!(ask(addr, false, "/", &[("x-envoy-fault-abort-request", "503")]).await.expect("answered").0, 503);
    let (_, metrics) = call(admin, "GET", "/metrics", "", &[]).await;
    assert!(metrics.contains("brownout_header_faults_overflow_total{target=\"pay\"} 1\n"), "{metrics}");
}

#[tokio::test]
async fn fault_headers_never_reach_the_upstream() {
    let (up, _) = reporter().await;
    let proxy = support::start(&support::http_target("pay", up, "header_faults = true")).await;
    let addr = proxy.addr("pay");
    // Every header at 0%: nothing acts, and none of them goes upstream.
    let mut headers: Vec<(&str, &str)> =
        ENVOY.iter().map(|h| (*h, if h.ends_with("percentage") { "0" } else { "503" })).collect();
    headers.retain(|(h, _)| !h.starts_with("x-envoy-fault-abort-grpc"));
    headers.push(("x-brownout-fault", r#"kind = "error", status = 500, probability = 0"#));
    headers.push(("x-kept", "yes"));
    for h2 in [false, true] {
        let mut conn = Conn::open(addr, h2).await;
        // The first request of a plain HTTP/1.1 connection takes the plain
        // pass-through; the second carries the fault headers.
        for with in [false, true] {
            let sent: &[(&str, &str)] = if with { &headers } else { &[("x-kept", "yes")] };
            let resp = conn.send(addr, "/", sent).await.expect("answered");
            assert_eq!(resp.status(), 200);
            let body = String::from_utf8_lossy(&read_body(resp).await).into_owned();
            assert!(body.contains("x-kept: yes"), "{body}");
            assert!(!body.contains("x-envoy-fault") && !body.contains("x-brownout"), "{}: {body}", version(h2));
        }
    }
}

#[tokio::test]
async fn a_target_without_header_faults_passes_them_on_untouched() {
    let (up, seen) = reporter().await;
    let proxy = support::start(&support::http_target("pay", up, "")).await;
    let addr = proxy.addr("pay");
    let own = r#"kind = "error", status = 503"#;
    for h2 in [false, true] {
        let before = seen.load(Ordering::Relaxed);
        let headers = [
            ("x-envoy-fault-abort-request", "503"),
            ("x-envoy-fault-delay-request", "5000"),
            ("x-brownout-fault", own),
        ];
        let started = Instant::now();
        let (status, body) = ask(addr, h2, "/", &headers).await.expect("answered");
        assert_eq!(status, 200, "{}", version(h2));
        assert!(started.elapsed() < Duration::from_secs(4), "a delay header acted");
        for (k, v) in headers {
            assert!(
                body.contains(&format!("{k}: {v}\n")),
                "{}: {k} did not reach the upstream as sent: {body}",
                version(h2)
            );
        }
        assert_eq!(seen.load(Ordering::Relaxed), before + 1);
    }
}

/// Through the `brownout proxy` process, whose journal is what a user reads.
#[tokio::test]
async fn header_faults_are_recorded_as_injected_under_the_name_of_their_header() {
    const BIN: &str = env!("CARGO_BIN_EXE_brownout");
    let dir = std::env::temp_dir().join(format!("brownout-header-faults-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (up, _) = reporter().await;
    let port = support::free_port();
    let config = dir.join("config.toml");
    let text = support::http_target("pay", up, "header_faults = true")
        .replace("127.0.0.1:0\"\nupstream", &format!("127.0.0.1:{port}\"\nupstream"));
    std::fs::write(&config, text).expect("config");
    let mut child = std::process::Command::new(BIN)
        .args(["proxy", "--config"])
        .arg(&config)
        .arg("--run-dir")
        .arg(dir.join("run"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let addr: SocketAddr = ([127, 0, 0, 1], port).into();
    let started = Instant::now();
    while TcpStream::connect(addr).await.is_err() {
        assert!(started.elapsed() < LIMIT, "brownout did not listen");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(ask(addr, false, "/a", &[("x-envoy-fault-abort-request", "503")]).await.expect("answered").0, 503);
    let named = [("x-brownout-fault", r#"kind = "error", status = 502, name = "teapot""#)];
    assert_eq!(ask(addr, true, "/b", &named).await.expect("answered").0, 502);
    assert_eq!(ask(addr, false, "/c", &[("x-envoy-fault-abort-request", "900")]).await.expect("answered").0, 400);
    let _ = std::process::Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let _ = child.wait();
    let text = std::fs::read_to_string(dir.join("run/journal.jsonl")).expect("journal");
    let requests: Vec<_> = text
        .lines()
        .filter_map(|l| match serde_json::from_str::<Line>(l).expect("a journal line") {
            Line::Request(r) => Some((r.path, r.status, r.origin, r.fault)),
            _ => None,
        })
        .collect();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(
        requests,
        [
            (
                "/a".to_string(),
                Some(503),
                Some(Origin::Injected),
                Some("header:x-envoy-fault-abort-request".to_string())
            ),
            ("/b".to_string(), Some(502), Some(Origin::Injected), Some("header:teapot".to_string())),
            ("/c".to_string(), Some(400), None, None),
        ]
    );
}
