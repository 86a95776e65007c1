//! HTTP/2 streams (and requests hyper serves) to an HTTP/1.1 upstream over
//! the plain path's connections: the request head written as bytes (cookies
//! joined, forwarding fields in), the answer given back with its framing
//! taken off (length, chunked with trailers, up to the close), upstream
//! connections reused, and a body the upstream breaks off never ending
//! cleanly. A request with a streamed body still goes through hyper's
//! client.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use http::{HeaderMap, Request};
use http_body_util::BodyExt;
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::upstream::{self, full, Body};
use crate::support::{self, http_target, LIMIT};

/// What the scripted upstream saw: connections accepted, request heads.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    heads: Mutex<Vec<String>>,
}

/// An HTTP/1.1 upstream answering by path, byte for byte: `/chunked` in
/// chunks with a trailer, `/close` framed by its close, `/broken` cut off
/// after 3 of its 10 bytes, `/reason` with a reason of its own, a `POST`
/// with the length of the body it got, anything else with `hello` and a
/// field of its own beside hop-by-hop ones.
async fn scripted() -> (std::net::SocketAddr, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let counter = seen.clone();
    let addr = upstream::tcp(move |mut s: TcpStream| {
        let seen = counter.clone();
        seen.connections.fetch_add(1, Ordering::SeqCst);
        async move {
            let mut buf = Vec::new();
            while let Some((head, body)) = upstream::next_request(&mut s, &mut buf).await {
                let reply = if head.to_lowercase().contains("transfer-encoding: chunked") {
                    // A streamed body: answered with the length it had, framing and all.
                    let got = body.len().to_string();
                    (format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{got}", got.len()), false)
                } else {
                    seen.heads.lock().unwrap().push(head.clone());
                    answer(&head)
                };
                if s.write_all(reply.0.as_bytes()).await.is_err() || reply.1 {
                    return;
                }
            }
        }
    })
    .await;
    (addr, seen)
}

fn answer(head: &str) -> (String, bool) {
    let path = head.split(' ').nth(1).unwrap_or("/");
    let reply = match path {
        "/chunked" => {
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\nX-Checksum: abc\r\n\r\n"
        }
        "/close" => return ("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nto the end".into(), true),
        "/broken" => return ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc".into(), true),
        "/reason" => "HTTP/1.1 200 Fine Thanks\r\nContent-Length: 2\r\n\r\nok",
        _ if head.starts_with("HEAD ") => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Own: kept\r\n\r\n",
        _ => "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: keep-alive, x-hop\r\nKeep-Alive: timeout=5\r\nX-Hop: no\r\nX-Own: kept\r\n\r\nhello",
    };
    (reply.into(), false)
}

async fn h2(addr: std::net::SocketAddr) -> SendRequest<Body> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    sender
}

/// Sends `req`; the status, head, body and trailers, or the error that
/// ended the stream.
async fn send(
    sender: &mut SendRequest<Body>,
    req: Request<Body>,
) -> Result<(u16, HeaderMap, String, Option<HeaderMap>), String> {
    let resp = timeout(LIMIT, sender.send_request(req)).await.expect("in time").map_err(|e| e.to_string())?;
    let (parts, body) = resp.into_parts();
    let collected = timeout(LIMIT, body.collect()).await.expect("in time").map_err(|e| e.to_string())?;
    let trailers = collected.trailers().cloned();
    let text = String::from_utf8_lossy(&collected.to_bytes()).into_owned();
    Ok((parts.status.as_u16(), parts.headers, text, trailers))
}

fn get(path: &str) -> http::request::Builder {
    Request::get(format!("http://shop.test{path}"))
}

#[tokio::test]
async fn an_h2c_get_reaches_the_upstream_as_one_http1_head_and_its_answer_comes_back_without_hop_fields() {
    let (up, seen) = scripted().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let mut sender = h2(proxy.addr("t")).await;
    // HTTP/2 clients send each cookie in a field of its own.
    let req = get("/plain?q=1").header("cookie", "a=1").header("cookie", "b=2").header("x-mine", "yes");
    let (status, head, body, trailers) = send(&mut sender, req.body(full("")).unwrap()).await.expect("answered");
    assert_eq!((status, body.as_str(), trailers), (200, "hello", None));
    assert_eq!(head["x-own"], "kept");
    assert_eq!(head["content-length"], "5");
    for hop in ["connection", "keep-alive", "x-hop"] {
        assert!(!head.contains_key(hop), "{hop} reached the client: {head:?}");
    }
    let heads = seen.heads.lock().unwrap().clone();
    assert_eq!(heads.len(), 1);
    let lines: Vec<&str> = heads[0].lines().collect();
    assert_eq!(lines[0], "GET /plain?q=1 HTTP/1.1");
    let host = format!("host: {up}");
    for line in [&host, "cookie: a=1; b=2", "x-mine: yes", "x-forwarded-for: 127.0.0.1"] {
        assert_eq!(lines.iter().filter(|l| **l == line).count(), 1, "{line:?} once in {heads:?}");
    }
    assert!(lines.contains(&"x-forwarded-proto: http") && lines.contains(&"x-forwarded-host: shop.test"), "{heads:?}");
    assert_eq!(lines.iter().filter(|l| l.starts_with("cookie")).count(), 1, "{heads:?}");
}

#[tokio::test]
async fn a_chunked_answer_reaches_an_h2c_client_as_its_content_and_trailers() {
    let (up, _) = scripted().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let mut sender = h2(proxy.addr("t")).await;
    let (status, head, body, trailers) =
        send(&mut sender, get("/chunked").body(full("")).unwrap()).await.expect("answered");
    assert_eq!((status, body.as_str()), (200, "hello world"));
    assert!(!head.contains_key("transfer-encoding"), "{head:?}");
    assert_eq!(trailers.expect("trailers")["x-checksum"], "abc");
}

#[tokio::test]
async fn upstream_connections_are_reused_across_streams_and_not_after_a_close() {
    let (up, seen) = scripted().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let mut sender = h2(proxy.addr("t")).await;
    for i in 0..20 {
        let answer = send(&mut sender, get(&format!("/n/{i}")).body(full("")).unwrap()).await.expect("answered");
        assert_eq!((answer.0, answer.2.as_str()), (200, "hello"));
    }
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1, "twenty requests in turn took one connection");
    let (status, _, body, _) = send(&mut sender, get("/close").body(full("")).unwrap()).await.expect("answered");
    assert_eq!((status, body.as_str()), (200, "to the end"));
    let (status, _, body, _) = send(&mut sender, get("/after").body(full("")).unwrap()).await.expect("answered");
    assert_eq!((status, body.as_str()), (200, "hello"));
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2, "the closed connection was not reused");
    let head = send(&mut sender, Request::head("http://shop.test/h").body(full("")).unwrap()).await.expect("HEAD");
    assert_eq!((head.0, head.1["content-length"].to_str().unwrap(), head.2.as_str()), (200, "5", ""));
    let (status, _, body, _) = send(&mut sender, get("/after-head").body(full("")).unwrap()).await.expect("answered");
    assert_eq!((status, body.as_str()), (200, "hello"), "the connection is in step after a HEAD");
    assert_eq!(seen.connections.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_body_the_upstream_breaks_off_never_ends_cleanly() {
    let (up, _) = scripted().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let mut sender = h2(proxy.addr("t")).await;
    let broken = send(&mut sender, get("/broken").body(full("")).unwrap()).await;
    assert!(broken.is_err(), "a body cut at 3 of 10 bytes ended cleanly: {broken:?}");
    // The stream was reset, not the connection.
    let (status, _, body, _) = send(&mut sender, get("/next").body(full("")).unwrap()).await.expect("answered");
    assert_eq!((status, body.as_str()), (200, "hello"));

    // An HTTP/1.0 client (served by hyper) sees its connection reset.
    let mut client = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    client.write_all(b"GET /broken HTTP/1.0\r\nHost: shop.test\r\n\r\n").await.expect("write");
    let mut got = Vec::new();
    let read = timeout(LIMIT, client.read_to_end(&mut got)).await.expect("in time");
    assert!(read.is_err(), "the cut body ended with a clean close: {:?}", String::from_utf8_lossy(&got));
}

#[tokio::test]
async fn an_http10_client_served_by_hyper_gets_the_upstreams_own_reason() {
    let (up, _) = scripted().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let mut client = TcpStream::connect(proxy.addr("t")).await.expect("connect");
    client.write_all(b"GET /reason HTTP/1.0\r\nHost: shop.test\r\n\r\n").await.expect("write");
    let mut got = Vec::new();
    timeout(LIMIT, client.read_to_end(&mut got)).await.expect("in time").expect("read");
    let text = String::from_utf8_lossy(&got);
    assert!(text.starts_with("HTTP/1.0 200 Fine Thanks\r\n"), "{text}");
    assert!(text.ends_with("\r\n\r\nok"), "{text}");
}

#[tokio::test]
async fn a_streamed_request_body_still_reaches_the_upstream_whole() {
    let (up, seen) = scripted().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let mut sender = h2(proxy.addr("t")).await;
    // Not ended with its head: the stream's body comes in frames of its own.
    let frames: Vec<Result<http_body::Frame<bytes::Bytes>, Box<dyn std::error::Error + Send + Sync>>> =
        vec![Ok(http_body::Frame::data("abc".into())), Ok(http_body::Frame::data("defg".into()))];
    let body = http_body_util::StreamBody::new(futures_util::stream::iter(frames));
    let req = Request::post("http://shop.test/upload").body(BodyExt::boxed(body)).unwrap();
    let (status, _, body, _) = send(&mut sender, req).await.expect("answered");
    assert_eq!(status, 200);
    // The upstream got it chunked: `3\r\nabc\r\n`, `4\r\ndefg\r\n`, `0\r\n\r\n`.
    assert_eq!(body, "22", "{:?}", seen.heads.lock().unwrap());
}
