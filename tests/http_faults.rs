//! Every HTTP fault, asserted on the wire over real sockets.

use std::io::ErrorKind;
use std::time::{Duration, Instant};

use http::{Request, StatusCode};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::client::{get, get_origin_form, read_body, send_http1};
use crate::support::upstream::{self, full, Body};
use crate::support::{self, faults, http_target, random_bytes, read_until_end, LIMIT};

async fn raw_get(addr: std::net::SocketAddr, path: &str, wait: Duration) -> (Vec<u8>, Result<(), ErrorKind>) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(format!("GET {path} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes()).await.expect("write");
    read_until_end(&mut s, wait).await
}

#[tokio::test]
async fn an_error_fault_answers_itself_and_never_reaches_the_upstream() {
    let (up, counter) = upstream::counting(Duration::ZERO).await;
    let fault = r#"
[[target.fault]]
kind = "error"
status = 503
headers = { "retry-after" = "7", "x-why" = "payments down" }
body = "payments are down, try again"
"#;
    let proxy = support::start(&http_target("pay", up, fault)).await;
    for _ in 0..20 {
        let req = Request::post(format!("http://{}/v1/charges", proxy.addr("pay"))).body(full("card")).expect("req");
        let resp = send_http1(proxy.addr("pay"), req).await.expect("resp");
        assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(resp.headers()["retry-after"], "7");
        assert_eq!(resp.headers()["x-why"], "payments down");
        assert_eq!(read_body(resp).await, b"payments are down, try again");
    }
    assert_eq!(counter.total(), 0, "the upstream was called");
}

#[tokio::test]
async fn faults_touch_only_the_requests_they_match() {
    let (up, counter) = upstream::counting(Duration::ZERO).await;
    let fault = r#"
[[target.fault]]
kind = "error"
status = 500
match = { method = "POST", path = "/v1/charges*", headers = { "x-tenant" = "acme" } }
"#;
    let proxy = support::start(&http_target("pay", up, fault)).await;
    let addr = proxy.addr("pay");
    let send = |method: &'static str, path: &'static str, tenant: Option<&'static str>| async move {
        let mut req = Request::builder().method(method).uri(format!("http://{addr}{path}"));
        if let Some(t) = tenant {
            req = req.header("x-tenant", t);
        }
        send_http1(addr, req.body(full("")).expect("req")).await.expect("resp").status().as_u16()
    };
    assert_eq!(send("POST", "/v1/charges/ch_1", Some("acme")).await, 500);
    assert_eq!(send("GET", "/v1/charges/ch_1", Some("acme")).await, 200);
    assert_eq!(send("POST", "/v1/refunds", Some("acme")).await, 200);
    assert_eq!(send("POST", "/v1/charges", Some("other")).await, 200);
    assert_eq!(send("POST", "/v1/charges", None).await, 200);
    assert_eq!(counter.total(), 4);
}

#[tokio::test]
async fn an_opt_in_header_limits_a_fault_to_test_traffic() {
    let up = upstream::mirror().await;
    let fault = "[[target.fault]]\nkind = \"error\"\nstatus = 418\nopt_in = \"x-brownout: on\"\n";
    let proxy = support::start(&http_target("t", up, fault)).await;
    let addr = proxy.addr("t");
    let plain =
        send_http1(addr, Request::get(format!("http://{addr}/")).body(full("")).expect("req")).await.expect("r");
    assert_eq!(plain.status(), 200);
    let marked = Request::get(format!("http://{addr}/")).header("x-brownout", "on").body(full("")).expect("req");
    assert_eq!(send_http1(addr, marked).await.expect("r").status(), 418);
}

#[tokio::test]
async fn a_reset_fault_resets_the_client_connection() {
    let up = upstream::mirror().await;
    let proxy = support::start(&http_target("t", up, "[[target.fault]]\nkind = \"reset\"\n")).await;
    let (got, end) = raw_get(proxy.addr("t"), "/", LIMIT).await;
    assert!(got.is_empty(), "{}", String::from_utf8_lossy(&got));
    assert_eq!(end, Err(ErrorKind::ConnectionReset), "a reset, not a clean close");
}

#[tokio::test]
async fn a_hang_fault_holds_the_request_until_the_fault_is_removed() {
    let up = upstream::mirror().await;
    let proxy = support::start(&http_target("t", up, "[[target.fault]]\nkind = \"hang\"\n")).await;
    let mut s = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("write");
    let (got, end) = read_until_end(&mut s, Duration::from_millis(500)).await;
    assert_eq!((got.len(), end), (0, Err(ErrorKind::TimedOut)), "the client's read timed out");
    let removed = Instant::now();
    proxy.switch("t").clear();
    let (got, end) = read_until_end(&mut s, LIMIT).await;
    let released = removed.elapsed();
    assert!(got.is_empty() && end.is_ok(), "closed without an answer: {end:?}");
    assert!(released < Duration::from_millis(100), "released {released:?} after the fault was removed");
}

#[tokio::test]
async fn a_fixed_latency_delays_each_request_by_about_its_value() {
    let up = upstream::mirror().await;
    let proxy =
        support::start(&http_target("t", up, "[[target.fault]]\nkind = \"latency\"\ndelay = \"200ms\"\n")).await;
    for _ in 0..3 {
        let started = Instant::now();
        let (status, _) = get(proxy.addr("t"), "/").await;
        let took = started.elapsed();
        assert_eq!(status, 200);
        assert!(took >= Duration::from_millis(200) && took < Duration::from_millis(600), "{took:?}");
    }
}

#[tokio::test]
async fn a_response_latency_waits_after_the_upstream_answered() {
    let (up, counter) = upstream::counting(Duration::ZERO).await;
    let fault = "[[target.fault]]\nkind = \"latency\"\ndelay = \"400ms\"\nat = \"response\"\n";
    let proxy = support::start(&http_target("t", up, fault)).await;
    let addr = proxy.addr("t");
    let pending = tokio::spawn(get(addr, "/"));
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(counter.total(), 1, "the upstream was called before the delay");
    assert!(!pending.is_finished());
    let (status, _) = timeout(LIMIT, pending).await.expect("in time").expect("task");
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_bandwidth_fault_holds_throughput_within_ten_percent() {
    let body = random_bytes(3, 2 << 20);
    let served = body.clone();
    let up = upstream::http(move |_req: Request<hyper::body::Incoming>| {
        let served = served.clone();
        async move { http::Response::new(full(served)) }
    })
    .await;
    let rate = 1 << 20; // 1 MiB/s
    let proxy =
        support::start(&http_target("t", up, "[[target.fault]]\nkind = \"bandwidth\"\nrate = \"1MiB/s\"\n")).await;
    let started = Instant::now();
    let resp = send_http1(proxy.addr("t"), Request::get("/").header("host", "x").body(full("")).expect("req"))
        .await
        .expect("resp");
    let got = timeout(LIMIT, read_body(resp)).await.expect("in time");
    let took = started.elapsed().as_secs_f64();
    assert!(got == body, "the throttled body differs");
    let achieved = got.len() as f64 / took;
    assert!((achieved - rate as f64).abs() / (rate as f64) < 0.10, "achieved {achieved:.0} B/s for {rate} B/s");
}

#[tokio::test]
async fn a_truncate_fault_cuts_the_body_and_closes_the_connection() {
    let up =
        upstream::http(|_req: Request<hyper::body::Incoming>| async { http::Response::new(full(vec![b'x'; 10_000])) })
            .await;
    let proxy = support::start(&http_target("t", up, "[[target.fault]]\nkind = \"truncate\"\nbytes = 1000\n")).await;
    let (got, end) = raw_get(proxy.addr("t"), "/", LIMIT).await;
    let text = String::from_utf8_lossy(&got);
    let (head, body) = text.split_once("\r\n\r\n").expect("a response head");
    assert!(head.contains("content-length: 10000"), "{head}");
    assert_eq!(body.len(), 1000, "body cut after 1000 bytes");
    assert!(end.is_ok() || end == Err(ErrorKind::ConnectionReset), "closed: {end:?}");
}

#[tokio::test]
async fn a_rate_limit_answers_429_with_retry_after_once_the_burst_is_spent() {
    let up = upstream::mirror().await;
    let fault = "[[target.fault]]\nkind = \"rate_limit\"\nrate = \"1/s\"\nburst = 3\n";
    let proxy = support::start(&http_target("t", up, fault)).await;
    let mut statuses = Vec::new();
    let mut retry_after = None;
    for _ in 0..5 {
        let resp = send_http1(proxy.addr("t"), Request::get("/").header("host", "x").body(full("")).expect("req"))
            .await
            .expect("resp");
        statuses.push(resp.status().as_u16());
        if resp.status() == 429 {
            retry_after = resp.headers().get("retry-after").map(|v| v.to_str().unwrap_or("").to_string());
        }
    }
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    assert_eq!(retry_after.as_deref(), Some("1"));
}

async fn pool_run(when_full: &str, n: usize) -> (Vec<u16>, usize, usize) {
    let (up, counter) = upstream::counting(Duration::from_millis(400)).await;
    let fault = format!("[[target.fault]]\nkind = \"pool_exhaustion\"\nlimit = 3\n{when_full}\n");
    let proxy = support::start(&http_target("db", up, &fault)).await;
    let addr = proxy.addr("db");
    // Half the requests in origin form (the plain path, which holds its slot
    // for the exchange), half in absolute form (hyper's): one pool counts both.
    let tasks: Vec<_> = (0..n)
        .map(|i| {
            tokio::spawn(async move {
                if i % 2 == 0 {
                    get_origin_form(addr, "/").await
                } else {
                    get(addr, "/").await
                }
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for t in tasks {
        statuses.push(timeout(LIMIT, t).await.expect("in time").expect("task").0);
    }
    statuses.sort_unstable();
    (statuses, counter.peak(), counter.total())
}

#[tokio::test]
async fn a_pool_lets_exactly_its_limit_through_and_queues_the_rest() {
    let (statuses, peak, total) = pool_run("when_full = \"queue\"\nqueue_timeout = \"10s\"", 10).await;
    assert_eq!(statuses, [200; 10]);
    assert_eq!((peak, total), (3, 10), "at most 3 in flight upstream");
}

#[tokio::test]
async fn a_full_pool_fails_fast_with_503_when_so_configured() {
    let (statuses, peak, total) = pool_run("when_full = \"fail\"", 10).await;
    assert_eq!(statuses, [200, 200, 200, 503, 503, 503, 503, 503, 503, 503]);
    assert_eq!((peak, total), (3, 3));
}

#[tokio::test]
async fn a_queued_request_gets_the_configured_status_when_its_wait_runs_out() {
    let (statuses, peak, _) = pool_run("queue_timeout = \"100ms\"\ntimeout_status = 504", 5).await;
    assert_eq!(statuses, [200, 200, 200, 504, 504]);
    assert_eq!(peak, 3);
}

#[tokio::test]
async fn an_outage_refuses_connections_and_accepts_them_again_when_it_ends() {
    let up = upstream::mirror().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let addr = proxy.addr("t");
    assert_eq!(get(addr, "/").await.0, 200);
    proxy.switch("t").set(faults("http", "[[target.fault]]\nkind = \"outage\"\nmode = \"refuse\"\n"));
    let refused = async {
        loop {
            match TcpStream::connect(addr).await {
                Err(e) if e.kind() == ErrorKind::ConnectionRefused => break,
                _ => tokio::time::sleep(Duration::from_millis(5)).await,
            }
        }
    };
    timeout(Duration::from_secs(2), refused).await.expect("connections refused during the outage");
    proxy.switch("t").clear();
    let accepted = async {
        loop {
            if TcpStream::connect(addr).await.is_ok() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    timeout(Duration::from_secs(2), accepted).await.expect("accepted again after the outage");
    assert_eq!(get(addr, "/").await.0, 200);
}

#[tokio::test]
async fn an_outage_can_answer_503_or_reset() {
    let up = upstream::mirror().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let addr = proxy.addr("t");
    proxy.switch("t").set(faults("http", "[[target.fault]]\nkind = \"outage\"\nmode = \"status\"\n"));
    assert_eq!(get(addr, "/").await.0, 503);
    proxy.switch("t").set(faults("http", "[[target.fault]]\nkind = \"outage\"\nmode = \"reset\"\n"));
    assert_eq!(raw_get(addr, "/", LIMIT).await.1, Err(ErrorKind::ConnectionReset));
}

#[tokio::test]
async fn a_first_n_fault_stops_after_n_requests() {
    let up = upstream::mirror().await;
    let proxy =
        support::start(&http_target("t", up, "[[target.fault]]\nkind = \"error\"\nstatus = 500\nfirst = 2\n")).await;
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(get(proxy.addr("t"), "/").await.0);
    }
    assert_eq!(statuses, [500, 500, 200, 200]);
}

#[tokio::test]
async fn a_keep_alive_connection_sees_a_new_fault_on_its_next_request_and_survives_its_removal() {
    let up = upstream::mirror().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let stream = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Body>(hyper_util::rt::TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    let mut send = async || {
        let req = Request::get("/").header("host", "x").body(full("")).expect("req");
        timeout(LIMIT, sender.send_request(req)).await.expect("in time").expect("same connection").status().as_u16()
    };
    assert_eq!(send().await, 200);
    proxy.switch("t").set(faults("http", "[[target.fault]]\nkind = \"error\"\nstatus = 503\n"));
    assert_eq!(send().await, 503);
    proxy.switch("t").clear();
    assert_eq!(send().await, 200);
}

#[tokio::test]
async fn seeded_probabilities_give_the_same_outcomes_in_two_runs() {
    let up = upstream::mirror().await;
    let fault = "[[target.fault]]\nkind = \"error\"\nstatus = 500\nprobability = 0.5\n";
    let mut runs = Vec::new();
    for _ in 0..2 {
        let proxy = support::start(&http_target("t", up, fault)).await;
        let mut outcomes = Vec::new();
        for _ in 0..40 {
            outcomes.push(get(proxy.addr("t"), "/").await.0);
        }
        runs.push(outcomes);
    }
    assert_eq!(runs[0], runs[1]);
    let errors = runs[0].iter().filter(|s| **s == 500).count();
    assert!((8..=32).contains(&errors), "{errors} of 40");
}
