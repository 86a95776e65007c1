//! The plain HTTP/1.1 pass-through, over raw sockets: what the client gets is
//! what the upstream sent, framing and all; a fault set while a connection
//! is open applies to its next request; a reused upstream connection that
//! was closed is retried.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::{self, faults, http_target, upstream, LIMIT};

/// The canned answer of the scripted upstream for a request head.
fn answer(head: &str) -> &'static str {
    let path = head.split(' ').nth(1).unwrap_or("");
    match path {
        "/len" => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Up: 1\r\n\r\nhello",
        "/chunked" => {
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX-Up: 2\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
        }
        "/head" => "HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\n",
        "/empty" => "HTTP/1.1 204 No Content\r\nX-Up: 3\r\n\r\n",
        "/early" => "HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
        "/hop" => "HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nX-Hop: 1\r\nContent-Length: 1\r\n\r\nh",
        "/cl-hop" => "HTTP/1.1 200 OK\r\nConnection: Content-Length\r\nContent-Length: 5\r\n\r\nhello",
        "/both" => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        // No body, so framing fields that could not frame one pass as they are.
        "/head-bad" => "HTTP/1.1 200 OK\r\nContent-Length: many\r\n\r\n",
        "/not-modified" => "HTTP/1.1 304 Not Modified\r\nContent-Length: 1, 2\r\n\r\n",
        "/close" => "HTTP/1.1 200 OK\r\nX-Up: 4\r\n\r\nuntil the close",
        // Chunked is not the last element: the body runs to the close.
        "/close-coded" => "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\n\r\n5\r\nhello\r\n0\r\n\r\nand more",
        _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
    }
}

/// An upstream that answers each request head with `answer`, closing after
/// `/close` and `/close-coded`; the heads it got are kept.
async fn scripted() -> (std::net::SocketAddr, Arc<Mutex<Vec<String>>>) {
    let heads: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = heads.clone();
    let addr = upstream::raw_http(move |head| {
        seen.lock().unwrap().push(head.clone());
        async move { (answer(&head).to_string(), head.contains(" /close")) }
    })
    .await;
    (addr, heads)
}

#[tokio::test]
async fn pipelined_requests_get_the_upstream_bytes_with_their_framing() {
    let (up, heads) = scripted().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let mut client = TcpStream::connect(proxy.addr("t")).await.unwrap();
    let paths = [
        "/len",
        "/chunked",
        "/head",
        "/empty",
        "/early",
        "/hop",
        "/cl-hop",
        "/both",
        "/head-bad",
        "/not-modified",
        "/close",
    ];
    let mut requests = String::new();
    for path in paths {
        let method = if path.starts_with("/head") { "HEAD" } else { "GET" };
        requests.push_str(&format!("{method} {path} HTTP/1.1\r\nHost: shop.example\r\n\r\n"));
    }
    // All in one write: the requests are pipelined; the proxy closes
    // after the close-delimited answer.
    let got = until_close(&mut client, requests.as_bytes()).await;

    // Header names keep their case: hyper would have written them lower-case.
    let expected = [
        answer("GET /len "),
        answer("GET /chunked "),
        answer("HEAD /head "),
        answer("GET /empty "),
        "HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\nok",
        "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nh",
        // `Connection` cannot take away the framing; with a chunked body,
        // a length is dropped (RFC 9112 6.3).
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello",
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        answer("HEAD /head-bad "),
        answer("GET /not-modified "),
        "HTTP/1.1 200 OK\r\nX-Up: 4\r\nconnection: close\r\n\r\nuntil the close",
    ]
    .concat();
    assert_eq!(got, expected);

    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), paths.len(), "{heads:#?}");
    let first = &heads[0];
    // The target's default `host = "upstream"`.
    assert!(first.starts_with(&format!("GET /len HTTP/1.1\r\nhost: {up}\r\n")), "{first}");
    assert!(first.contains("\r\nx-forwarded-for: 127.0.0.1\r\n"), "{first}");
    assert!(first.contains("\r\nx-forwarded-proto: http\r\n"), "{first}");
    assert!(first.contains("\r\nx-forwarded-host: shop.example\r\n"), "{first}");
}

#[tokio::test]
async fn a_request_body_and_the_clients_fields_reach_the_upstream_rewritten() {
    let (up, heads) = scripted().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let mut client = TcpStream::connect(proxy.addr("t")).await.unwrap();
    let request = "POST /len HTTP/1.1\r\nHost: a.example\r\nConnection: X-Secret, close\r\nX-Secret: s\r\n\
                   X-Forwarded-For: 192.0.2.1\r\nTE: trailers\r\nX-Kept: k\r\nContent-Length: 3\r\n\r\nabc";
    // Head and body in separate writes: the body is waited for.
    let (head, body) = request.split_at(request.len() - 3);
    client.write_all(head.as_bytes()).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        until_close(&mut client, body.as_bytes()).await,
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Up: 1\r\nconnection: close\r\n\r\nhello"
    );

    let heads = heads.lock().unwrap().clone();
    let head = &heads[0];
    assert!(head.starts_with(&format!("POST /len HTTP/1.1\r\nhost: {up}\r\n")), "{head}");
    assert!(head.contains("\r\nx-forwarded-host: a.example\r\n"), "{head}");
    for gone in ["Connection", "X-Secret", "TE:"] {
        assert!(!head.contains(gone), "{gone} passed on: {head}");
    }
    assert!(head.contains("\r\nX-Kept: k\r\n") && head.contains("\r\nContent-Length: 3\r\n"), "{head}");
    assert!(head.contains("\r\nx-forwarded-for: 192.0.2.1, 127.0.0.1\r\n"), "{head}");
}

/// Writes `request` on `client` and reads until the proxy closes the
/// connection.
async fn until_close(client: &mut TcpStream, request: &[u8]) -> String {
    client.write_all(request).await.unwrap();
    let mut got = Vec::new();
    timeout(LIMIT, client.read_to_end(&mut got)).await.expect("the proxy closes the connection").unwrap();
    String::from_utf8(got).unwrap()
}

/// Reads from `s` until `marker` has arrived; `None` if it closes first.
async fn read_until(s: &mut TcpStream, marker: &[u8]) -> Option<Vec<u8>> {
    let mut buf = [0u8; 4096];
    let mut got = Vec::new();
    while !got.windows(marker.len()).any(|w| w == marker) {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
        }
    }
    Some(got)
}

/// An upstream that answers one request per connection (read up to
/// `marker`) with "ok", then closes without saying so; it counts the
/// connections it accepted.
async fn one_answer_per_connection(marker: &'static [u8]) -> (std::net::SocketAddr, Arc<AtomicUsize>) {
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let up = upstream::tcp(move |mut s: TcpStream| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            if read_until(&mut s, marker).await.is_some() {
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok").await;
            }
        }
    })
    .await;
    (up, accepted)
}

/// Sends one GET on `client` and returns the status and body of the answer
/// (which must have a `Content-Length`).
async fn exchange(client: &mut TcpStream, path: &str) -> (u16, String) {
    send(client, &format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")).await
}

/// Sends `request` on `client` and returns the status and body of the
/// answer (which must have a `Content-Length`).
async fn send(client: &mut TcpStream, request: &str) -> (u16, String) {
    client.write_all(request.as_bytes()).await.unwrap();
    let mut got = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
            let length: usize =
                head.lines().find_map(|l| l.strip_prefix("content-length: ")).map_or(0, |v| v.trim().parse().unwrap());
            if got.len() >= end + 4 + length {
                let status = head[9..12].parse().unwrap();
                return (status, String::from_utf8_lossy(&got[end + 4..end + 4 + length]).to_string());
            }
        }
        let n = timeout(LIMIT, client.read(&mut chunk)).await.expect("an answer in time").unwrap();
        assert!(n > 0, "the proxy closed the connection; got {:?}", String::from_utf8_lossy(&got));
        got.extend_from_slice(&chunk[..n]);
    }
}

#[tokio::test]
async fn a_fault_set_while_a_connection_is_open_applies_to_its_next_request() {
    let (up, _) = scripted().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let mut client = TcpStream::connect(proxy.addr("t")).await.unwrap();
    assert_eq!(exchange(&mut client, "/len").await, (200, "hello".into()));
    proxy.switch("t").set(faults("http", "[[target.fault]]\nkind = \"error\"\nstatus = 503\n"));
    assert_eq!(exchange(&mut client, "/len").await.0, 503);
    proxy.switch("t").clear();
    assert_eq!(exchange(&mut client, "/len").await, (200, "hello".into()));
}

/// Sends `request` `times` times on one client connection to an upstream
/// that closes each connection after one answer (read up to `marker`):
/// every request is answered, each on a new upstream connection.
async fn answered_after_each_upstream_close(marker: &'static [u8], request: &str, times: usize) {
    let (up, accepted) = one_answer_per_connection(marker).await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let mut client = TcpStream::connect(proxy.addr("t")).await.unwrap();
    for i in 0..times {
        assert_eq!(send(&mut client, request).await, (200, "ok".into()), "request {i}");
        // Let the upstream's close arrive before the connection is reused.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(accepted.load(Ordering::SeqCst), times);
}

#[tokio::test]
async fn a_reused_upstream_connection_the_upstream_closed_is_retried_on_a_new_one() {
    answered_after_each_upstream_close(b"\r\n\r\n", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 5).await;
}

#[tokio::test]
async fn a_content_length_named_by_connection_still_frames_the_body() {
    let (up, heads) = scripted().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let mut client = TcpStream::connect(proxy.addr("t")).await.unwrap();
    let inner = "GET /admin HTTP/1.1\r\nHost: x\r\n\r\n";
    let request = format!(
        "POST /len HTTP/1.1\r\nHost: x\r\nConnection: content-length, close\r\nContent-Length: {}\r\n\r\n{inner}",
        inner.len()
    );
    assert!(until_close(&mut client, request.as_bytes()).await.ends_with("\r\n\r\nhello"));
    let heads = heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1, "the body was read as a request: {heads:#?}");
    assert!(heads[0].contains(&format!("\r\nContent-Length: {}\r\n", inner.len())), "{}", heads[0]);
}

#[tokio::test]
async fn broken_bodies_reach_the_client_as_a_reset_not_a_clean_end() {
    let up = upstream::tcp(|mut s: TcpStream| async move {
        let Some(head) = read_until(&mut s, b"\r\n\r\n").await else { return };
        if head.starts_with(b"GET /chunk") {
            // A bare LF in a chunk extension: hyper rejects it too.
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x\nhello\r\n0\r\n\r\n").await;
            tokio::time::sleep(Duration::from_secs(30)).await;
        } else {
            // Framed by the close, then cut off with a reset.
            let _ = s.write_all(b"HTTP/1.1 200 OK\r\n\r\npartial").await;
            tokio::time::sleep(Duration::from_millis(50)).await;
            let _ = s.set_zero_linger();
        }
    })
    .await;
    let proxy = support::start(&http_target("t", up, "")).await;
    for path in ["/cut", "/chunk"] {
        let mut client = TcpStream::connect(proxy.addr("t")).await.unwrap();
        client.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").as_bytes()).await.unwrap();
        let mut got = Vec::new();
        let read = timeout(Duration::from_secs(10), client.read_to_end(&mut got)).await.expect("no hang");
        assert!(read.is_err(), "{path}: a clean end after {:?}", String::from_utf8_lossy(&got));
    }
}

#[tokio::test]
async fn a_post_on_an_upstream_connection_closed_while_idle_goes_on_a_new_one() {
    // Head and the one-byte body.
    let post = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n\r\nx";
    answered_after_each_upstream_close(b"\r\n\r\nx", post, 3).await;
}

#[tokio::test]
async fn a_body_whose_last_coding_is_not_chunked_runs_to_the_close() {
    let (up, _) = scripted().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let mut client = TcpStream::connect(proxy.addr("t")).await.unwrap();
    let got = until_close(&mut client, b"GET /close-coded HTTP/1.1\r\nHost: x\r\n\r\n").await;
    let expected =
        "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked,\r\nconnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\nand more";
    assert_eq!(got, expected);
}

#[tokio::test]
async fn a_request_half_sent_when_shutdown_comes_does_not_hold_up_the_drain() {
    let (up, heads) = scripted().await;
    let proxy =
        support::start(&http_target("t", up, "").replace("seed = 7\n", "seed = 7\nshutdown_grace = \"20s\"\n")).await;
    let mut client = TcpStream::connect(proxy.addr("t")).await.unwrap();
    // A whole request first, so the connection is on the plain path.
    assert_eq!(exchange(&mut client, "/len").await, (200, "hello".into()));
    client.write_all(b"GET /len HTTP/1.1\r\nHo").await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let started = std::time::Instant::now();
    let cut = proxy.stop().await;
    assert_eq!(cut, 0, "the half-sent request's connection was cut at the end of the grace period");
    assert!(started.elapsed() < Duration::from_secs(10), "the drain took {:?}", started.elapsed());
    let mut rest = Vec::new();
    let end = timeout(LIMIT, client.read_to_end(&mut rest)).await.expect("the connection ends");
    assert!(end.is_err() || rest.is_empty() || rest.starts_with(b"HTTP/1.1 "), "{:?}", String::from_utf8_lossy(&rest));
    assert_eq!(heads.lock().unwrap().len(), 1, "only the whole request reached the upstream");
}
