//! Faults in gRPC terms, seen by hyper's HTTP/2 client: a `grpc_error` is a
//! trailers-only answer and never reaches the upstream; a rate limit is
//! `RESOURCE_EXHAUSTED` with a retry pushback; an outage is `UNAVAILABLE`;
//! a delay or a hang past the call's `grpc-timeout` ends as
//! `DEADLINE_EXCEEDED` at the deadline; a reset is RST_STREAM with the
//! chosen code; `goaway` drains the client's connection; requests that are
//! not gRPC keep their HTTP answers.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use http::{Request, Response};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpStream;

use crate::support::client::send_http2;
use crate::support::upstream::{self, full};
use crate::support::{self, faults, LIMIT};

/// An upstream that counts the calls reaching it.
async fn counting() -> (SocketAddr, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = calls.clone();
    let addr = upstream::http(move |_req: Request<Incoming>| {
        seen.fetch_add(1, Ordering::Relaxed);
        async move {
            Response::builder()
                .header("content-type", "application/grpc")
                .header("grpc-status", "0")
                .body(full(""))
                .expect("resp")
        }
    })
    .await;
    (addr, calls)
}

fn call(timeout: Option<&str>) -> Request<crate::support::upstream::Body> {
    let mut req = Request::post("http://svc/shop.Payments/Charge")
        .header("content-type", "application/grpc")
        .header("te", "trailers");
    if let Some(t) = timeout {
        req = req.header("grpc-timeout", t);
    }
    req.body(full(vec![0u8, 0, 0, 0, 0])).expect("req")
}

/// The status, grpc-status, grpc-message and headers of an answer.
async fn ask(addr: SocketAddr, req: Request<crate::support::upstream::Body>) -> Response<Incoming> {
    tokio::time::timeout(LIMIT, send_http2(addr, req)).await.expect("in time").expect("response")
}

fn header<'a>(resp: &'a Response<Incoming>, name: &str) -> &'a str {
    resp.headers().get(name).map_or("", |v| v.to_str().unwrap_or(""))
}

async fn proxy_with(fault: &str) -> (support::Running, Arc<AtomicUsize>) {
    let (up, calls) = counting().await;
    let proxy = support::start(&support::http_target("svc", up, "")).await;
    proxy.switch("svc").set(faults("http", fault));
    (proxy, calls)
}

#[tokio::test]
async fn a_grpc_error_is_a_trailers_only_answer_and_never_reaches_the_upstream() {
    let (proxy, calls) = proxy_with(
        "[[target.fault]]\nkind = \"grpc_error\"\ncode = \"UNAVAILABLE\"\nmessage = \"payments: 100% down\"\nheaders = { \"grpc-status-details-bin\" = \"CAgSBGRvd24\" }\n",
    )
    .await;
    let resp = ask(proxy.addr("svc"), call(None)).await;
    assert_eq!(resp.status(), 200);
    assert_eq!(header(&resp, "content-type"), "application/grpc");
    assert_eq!(header(&resp, "grpc-status"), "14");
    assert_eq!(header(&resp, "grpc-message"), "payments: 100%25 down");
    assert_eq!(header(&resp, "grpc-status-details-bin"), "CAgSBGRvd24");
    use http_body::Body as _;
    assert!(resp.body().is_end_stream(), "a trailers-only answer ends with its headers");
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_rate_limited_grpc_call_is_resource_exhausted_with_a_retry_pushback_and_http_gets_429() {
    let (proxy, _) = proxy_with("[[target.fault]]\nkind = \"rate_limit\"\nrate = \"1/m\"\nburst = 1\n").await;
    let addr = proxy.addr("svc");
    assert_eq!(header(&ask(addr, call(None)).await, "grpc-status"), "0", "the first call takes the token");
    let limited = ask(addr, call(None)).await;
    assert_eq!((limited.status().as_u16(), header(&limited, "grpc-status")), (200, "8"));
    let pushback: u64 = header(&limited, "grpc-retry-pushback-ms").parse().expect("pushback ms");
    assert!((50_000..=60_000).contains(&pushback), "{pushback}");
    let (status, _) = crate::support::client::get(addr, "/plain").await;
    assert_eq!(status, 429, "a request that is not gRPC keeps its HTTP answer");
}

#[tokio::test]
async fn an_outage_answering_503_is_unavailable_for_grpc_calls() {
    let (proxy, calls) = proxy_with("[[target.fault]]\nkind = \"outage\"\nmode = \"status\"\n").await;
    let resp = ask(proxy.addr("svc"), call(None)).await;
    assert_eq!((resp.status().as_u16(), header(&resp, "grpc-status")), (200, "14"));
    assert_eq!(header(&resp, "grpc-message"), "upstream svc is unavailable");
    assert_eq!(calls.load(Ordering::Relaxed), 0);
}

#[tokio::test]
async fn a_full_pool_is_unavailable_for_grpc_calls_and_503_for_http() {
    for fault in [
        "[[target.fault]]\nkind = \"pool_exhaustion\"\nlimit = 0\nwhen_full = \"fail\"\n",
        "[[target.fault]]\nkind = \"pool_exhaustion\"\nlimit = 0\nqueue_timeout = \"100ms\"\n",
    ] {
        let (proxy, calls) = proxy_with(fault).await;
        let resp = ask(proxy.addr("svc"), call(Some("5S"))).await;
        assert_eq!((resp.status().as_u16(), header(&resp, "grpc-status")), (200, "14"), "{fault}");
        assert_eq!(calls.load(Ordering::Relaxed), 0, "{fault}");
        let (status, _) = crate::support::client::get(proxy.addr("svc"), "/plain").await;
        assert_eq!(status, 503, "{fault}: a request that is not gRPC keeps its HTTP answer");
    }
}

#[tokio::test]
async fn a_delay_or_a_hang_past_the_calls_deadline_ends_as_deadline_exceeded_at_the_deadline() {
    for fault in [
        "[[target.fault]]\nkind = \"latency\"\ndelay = \"10s\"\n",
        "[[target.fault]]\nkind = \"latency\"\ndelay = \"10s\"\nat = \"response\"\n",
        "[[target.fault]]\nkind = \"hang\"\n",
        "[[target.fault]]\nkind = \"pool_exhaustion\"\nlimit = 0\nqueue_timeout = \"10s\"\n",
    ] {
        let (proxy, _) = proxy_with(fault).await;
        let started = Instant::now();
        let resp = ask(proxy.addr("svc"), call(Some("300m"))).await;
        let took = started.elapsed();
        assert_eq!(header(&resp, "grpc-status"), "4", "{fault}");
        assert_eq!(header(&resp, "grpc-message"), "Deadline Exceeded", "{fault}");
        assert!(took >= Duration::from_millis(290) && took < Duration::from_secs(3), "{fault}: {took:?}");
    }
    // A delay within the deadline is only a delay.
    let (proxy, calls) = proxy_with("[[target.fault]]\nkind = \"latency\"\ndelay = \"100ms\"\n").await;
    let resp = ask(proxy.addr("svc"), call(Some("5S"))).await;
    assert_eq!(header(&resp, "grpc-status"), "0");
    assert_eq!(calls.load(Ordering::Relaxed), 1);
}

/// The reason an HTTP/2 stream was reset with, found among the causes.
fn reset_reason(e: &hyper::Error) -> Option<h2::Reason> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(h2) = s.downcast_ref::<h2::Error>() {
            return h2.reason();
        }
        source = s.source();
    }
    None
}

#[tokio::test]
async fn a_reset_on_http2_resets_the_stream_with_the_chosen_code_and_the_connection_lives_on() {
    let (proxy, _) =
        proxy_with("[[target.fault]]\nkind = \"reset\"\nerror_code = \"REFUSED_STREAM\"\nfirst = 1\n").await;
    let tcp = TcpStream::connect(proxy.addr("svc")).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)).await.expect("h2");
    tokio::spawn(conn);
    let err = tokio::time::timeout(LIMIT, sender.send_request(call(None))).await.expect("in time").expect_err("reset");
    assert_eq!(reset_reason(&err), Some(h2::Reason::REFUSED_STREAM), "{err:?}");
    let resp = tokio::time::timeout(LIMIT, sender.send_request(call(None))).await.expect("in time").expect("resp");
    assert_eq!(header(&resp, "grpc-status"), "0", "the next stream on the same connection is answered");
}

#[tokio::test]
async fn goaway_drains_the_client_connection_after_answering_the_request() {
    let (proxy, calls) = proxy_with("[[target.fault]]\nkind = \"goaway\"\nfirst = 1\n").await;
    let tcp = TcpStream::connect(proxy.addr("svc")).await.expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(tcp)).await.expect("h2");
    let conn = tokio::spawn(conn);
    let resp = tokio::time::timeout(LIMIT, sender.send_request(call(None))).await.expect("in time").expect("resp");
    assert_eq!(header(&resp, "grpc-status"), "0", "the request that met goaway is answered");
    // The server sent GOAWAY and closes: the client's connection ends cleanly.
    let ended = tokio::time::timeout(LIMIT, conn).await.expect("the connection ended").expect("join");
    assert!(ended.is_ok(), "{ended:?}");
    assert!(sender.send_request(call(None)).await.is_err(), "no new stream on a drained connection");
    // A new connection is served as usual.
    let resp = ask(proxy.addr("svc"), call(None)).await;
    assert_eq!(header(&resp, "grpc-status"), "0");
    assert_eq!(calls.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn an_unreachable_upstream_is_unavailable_for_grpc_calls() {
    let proxy = support::start(&support::http_target("svc", support::closed_port(), "")).await;
    let resp = ask(proxy.addr("svc"), call(None)).await;
    assert_eq!((resp.status().as_u16(), header(&resp, "grpc-status")), (200, "14"));
    assert!(header(&resp, "grpc-message").starts_with("brownout could not reach upstream svc"), "{resp:?}");
}
