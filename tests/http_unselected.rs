//! Faults cost only the requests they act on: while a target has faults, a
//! request none of them selects still passes as the upstream's exact bytes
//! (the plain pass-through), and so does one only latency selects, after
//! its delay; one another fault selects gets its fault through the
//! injector, and the connection goes on passing plain requests after it.
//! Rate limits and pools count the plain requests they let through.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Method, Request};
use http_body_util::BodyExt;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::upstream::{self, full};
use crate::support::{self, http_target, LIMIT};

/// The answer to `/` and `/slow/*`: a reason phrase and a field name case
/// of the upstream's own, which only a byte-exact relay keeps (hyper's
/// server writes `OK` and lower-case names).
const PLAIN: &str = "HTTP/1.1 200 Fine\r\nX-Case: Kept\r\nContent-Length: 2\r\n\r\nok";

/// An upstream answering each request head by its path: `/hold` after
/// 300 ms, `/chunked` in chunks with a trailer, `HEAD` without a body,
/// anything else with `PLAIN`. It counts the requests it got.
async fn scripted() -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let served = Arc::new(AtomicUsize::new(0));
    let counter = served.clone();
    let addr = upstream::raw_http(move |head| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            let answer = if head.starts_with("HEAD ") {
                "HTTP/1.1 200 Fine\r\nX-Case: Kept\r\nContent-Length: 2\r\n\r\n"
            } else if head.contains(" /chunked ") {
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-T: 1\r\n\r\n"
            } else {
                if head.contains(" /hold ") {
                    tokio::time::sleep(Duration::from_millis(300)).await;
                }
                PLAIN
            };
            (answer.to_string(), false)
        }
    })
    .await;
    (addr, served)
}

/// Sends `GET path` with `extra` fields on `client` and returns the whole
/// answer (which has a `Content-Length`), head and body, as text.
async fn get(client: &mut TcpStream, path: &str, extra: &str) -> String {
    let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n");
    client.write_all(request.as_bytes()).await.expect("write");
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let length: usize =
                head.lines().find_map(|l| l.strip_prefix("content-length: ")).map_or(0, |v| v.trim().parse().unwrap());
            if got.len() >= end + 4 + length {
                assert_eq!(got.len(), end + 4 + length, "more than one answer");
                return String::from_utf8(got).expect("text");
            }
        }
        let n = timeout(LIMIT, client.read(&mut chunk)).await.expect("an answer in time").expect("read");
        assert!(n > 0, "closed after {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn requests_no_fault_selects_pass_as_the_upstreams_bytes_before_and_after_one_that_a_fault_selects() {
    let (up, served) = scripted().await;
    let faults = r#"
[[target.fault]]
kind = "error"
status = 503
headers = { "retry-after" = "7" }
body = "down"
opt_in = "x-brownout: on"

[[target.fault]]
kind = "latency"
delay = "200ms"
at = "response"
match = { path = "/slow/*" }

[[target.fault]]
kind = "bandwidth"
rate = "100MB/s"
match = { path = "/wide/*" }

[[target.fault]]
kind = "error"
status = 500
probability = 0.0
"#;
    let proxy = support::start(&http_target("t", up, faults)).await;
    let mut client = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    assert_eq!(get(&mut client, "/", "").await, PLAIN, "an unselected request passes byte for byte");
    let marked = get(&mut client, "/", "x-brownout: on\r\n").await;
    assert!(marked.starts_with("HTTP/1.1 503 Service Unavailable\r\n") && marked.ends_with("\r\n\r\ndown"), "{marked}");
    assert!(marked.contains("\r\nretry-after: 7\r\ncontent-length: 4\r\n"), "{marked}");
    assert!(marked.contains("\r\ndate: ") && marked.contains(" GMT\r\n"), "dated as hyper's server dates: {marked}");
    assert_eq!(get(&mut client, "/", "x-brownout: off\r\n").await, PLAIN);
    let started = Instant::now();
    assert_eq!(get(&mut client, "/slow/a", "").await, PLAIN, "a delayed request passes byte for byte");
    assert!(started.elapsed() >= Duration::from_millis(200), "answered after {:?}", started.elapsed());
    // A throttled request goes through the injector: hyper's reading of the
    // upstream's answer, written back as HTTP/1.1.
    let wide = get(&mut client, "/wide/a", "").await;
    assert!(wide.starts_with("HTTP/1.1 200 Fine\r\n") && wide.contains("\r\nx-case: Kept\r\n"), "{wide}");
    assert!(wide.ends_with("\r\n\r\nok"), "{wide}");
    for _ in 0..3 {
        assert_eq!(get(&mut client, "/", "").await, PLAIN, "the connection went on passing plain requests");
    }
    assert_eq!(served.load(Ordering::SeqCst), 7, "the error fault never reached the upstream");
}

#[tokio::test]
async fn a_rate_limit_lets_plain_requests_through_until_its_burst_is_spent() {
    let (up, served) = scripted().await;
    let proxy =
        support::start(&http_target("t", up, "[[target.fault]]\nkind = \"rate_limit\"\nrate = \"1/m\"\nburst = 3\n"))
            .await;
    let mut client = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    for _ in 0..3 {
        assert_eq!(get(&mut client, "/", "").await, PLAIN);
    }
    for _ in 0..2 {
        let limited = get(&mut client, "/", "").await;
        assert!(limited.starts_with("HTTP/1.1 429 Too Many Requests\r\n"), "{limited}");
        assert!(limited.contains("\r\nretry-after: "), "{limited}");
    }
    assert_eq!(served.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn a_pool_counts_the_plain_requests_in_flight() {
    let (up, _) = scripted().await;
    let fault = "[[target.fault]]\nkind = \"pool_exhaustion\"\nlimit = 1\nwhen_full = \"fail\"\n";
    let proxy = support::start(&http_target("t", up, fault)).await;
    let addr = proxy.addr("t");
    let holding = tokio::spawn(async move {
        let mut client = TcpStream::connect(addr).await.expect("connect");
        get(&mut client, "/hold", "").await
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut other = TcpStream::connect(addr).await.expect("connect");
    let refused = get(&mut other, "/", "").await;
    assert!(refused.starts_with("HTTP/1.1 503 Service Unavailable\r\n"), "{refused}");
    assert_eq!(timeout(LIMIT, holding).await.expect("in time").expect("task"), PLAIN, "the held request passed plain");
    assert_eq!(get(&mut other, "/", "").await, PLAIN, "its slot came back when its exchange ended");
}

/// Requests selected by a bandwidth fault, over one kept connection read by
/// hyper's client (which refuses any framing error): a chunked answer, an
/// answer to `HEAD` and one with a length come back whole, one after the
/// other.
#[tokio::test]
async fn answers_to_selected_requests_are_framed_for_the_next_request_on_the_connection() {
    let (up, served) = scripted().await;
    let proxy =
        support::start(&http_target("t", up, "[[target.fault]]\nkind = \"bandwidth\"\nrate = \"100MB/s\"\n")).await;
    let stream = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    for (method, path, want) in [
        (Method::GET, "/chunked", "hello world"),
        (Method::HEAD, "/", ""),
        (Method::GET, "/", "ok"),
        (Method::GET, "/chunked", "hello world"),
    ] {
        let req = Request::builder().method(method.clone()).uri(path).header("host", "x").body(full("")).expect("req");
        let resp = timeout(LIMIT, sender.send_request(req)).await.expect("in time").expect("a response");
        assert_eq!(resp.status(), 200, "{method} {path}");
        if method == Method::HEAD {
            assert_eq!(resp.headers()["content-length"], "2", "HEAD keeps the length of what GET would get");
        }
        let body = timeout(LIMIT, resp.into_body().collect()).await.expect("in time").expect("a whole body");
        assert_eq!(body.to_bytes(), want.as_bytes(), "{method} {path}");
    }
    assert_eq!(served.load(Ordering::SeqCst), 4);
}

/// A goaway fault on a plain connection: the request it picks is answered
/// with `Connection: close` and the connection then ends, as hyper's path
/// drains an HTTP/1.1 connection; the next connection passes plain again.
#[tokio::test]
async fn a_goaway_fault_closes_a_plain_connection_after_answering_its_request() {
    let (up, served) = scripted().await;
    let proxy = support::start(&http_target("t", up, "[[target.fault]]\nkind = \"goaway\"\nfirst = 1\n")).await;
    let mut client = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    let answered = get(&mut client, "/", "").await;
    assert!(answered.starts_with("HTTP/1.1 200 Fine\r\n") && answered.ends_with("\r\n\r\nok"), "{answered}");
    assert!(answered.to_lowercase().contains("\r\nconnection: close\r\n"), "{answered}");
    let mut rest = [0u8; 64];
    let end = timeout(LIMIT, client.read(&mut rest)).await.expect("closed in time");
    assert!(matches!(end, Ok(0) | Err(_)), "the connection ended after its answer");
    let mut next = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    assert_eq!(get(&mut next, "/", "").await, PLAIN, "past its first, the fault picks nobody");
    assert_eq!(served.load(Ordering::SeqCst), 2);
}

/// On a target that takes header faults, a request choosing one gets it
/// (the upstream never called) on a connection that passed a plain request
/// first; the connection then stays with hyper, and requests without the
/// header still reach the upstream.
#[tokio::test]
async fn a_request_choosing_a_fault_by_header_gets_it_after_plain_requests() {
    let (up, served) = scripted().await;
    let proxy = support::start(&http_target("t", up, "header_faults = true")).await;
    let mut client = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    assert_eq!(get(&mut client, "/", "").await, PLAIN, "a request with no fault header passes plain");
    let chosen = get(&mut client, "/", "x-envoy-fault-abort-request: 503\r\n").await;
    assert!(chosen.starts_with("HTTP/1.1 503 "), "{chosen}");
    let after = get(&mut client, "/", "").await;
    assert!(after.starts_with("HTTP/1.1 200 ") && after.ends_with("\r\n\r\nok"), "{after}");
    assert_eq!(served.load(Ordering::SeqCst), 2, "the aborted request never reached the upstream");
}
