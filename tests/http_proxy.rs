//! The HTTP listener over real sockets: byte-exact bodies, streaming, header
//! rewriting, upgrades, upstream failures and many concurrent clients.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

use crate::support::client::{body, get, read_body, send_http1, send_http2, Framing};
use crate::support::upstream::{self, full, Body};
use crate::support::{self, http_target, random_bytes, LIMIT};

const SIZES: [usize; 6] = [0, 1, 4097, 65_543, (1 << 20) + 3, 8 << 20];

async fn echo_through(proxy: std::net::SocketAddr, data: &[u8], framing: Framing, h2: bool) -> Vec<u8> {
    let req = Request::post(format!("http://{proxy}/echo")).body(body(data, framing)).expect("request");
    let resp = if h2 { send_http2(proxy, req).await } else { send_http1(proxy, req).await }.expect("response");
    assert_eq!(resp.status(), StatusCode::OK);
    read_body(resp).await
}

#[tokio::test]
async fn bodies_pass_through_byte_exact_over_http1_and_http2() {
    let up = upstream::echo().await;
    let proxy = support::start(&http_target("echo", up, "")).await;
    let addr = proxy.addr("echo");
    for (i, &size) in SIZES.iter().enumerate() {
        let data = random_bytes(i as u64, size);
        for (framing, h2) in [
            (Framing::ContentLength, false),
            (Framing::Chunked, false),
            (Framing::ContentLength, true),
            (Framing::Chunked, true),
        ] {
            let got = timeout(LIMIT, echo_through(addr, &data, framing, h2)).await.expect("in time");
            assert!(got == data, "{size} bytes, {framing:?}, h2={h2}: got {} bytes back, differing", got.len());
        }
    }
}

#[tokio::test]
async fn a_response_streams_before_the_upstream_has_sent_it_all() {
    let release: Arc<Mutex<Option<tokio::sync::oneshot::Receiver<()>>>> = Arc::new(Mutex::new(None));
    let (tx, rx) = tokio::sync::oneshot::channel();
    *release.lock().unwrap() = Some(rx);
    let up = upstream::http(move |_req: Request<Incoming>| {
        let release = release.clone();
        async move {
            let rx = release.lock().unwrap().take().expect("one streaming request");
            let (frames_tx, frames_rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, _>>(2);
            tokio::spawn(async move {
                let _ = frames_tx.send(Ok(Frame::data(Bytes::from_static(b"first")))).await;
                let _ = rx.await;
                let _ = frames_tx.send(Ok(Frame::data(Bytes::from_static(b"last")))).await;
            });
            let stream =
                futures_util::stream::unfold(frames_rx, |mut rx| async move { rx.recv().await.map(|f| (f, rx)) });
            Response::new(BodyExt::boxed(StreamBody::new(stream)))
        }
    })
    .await;
    let proxy = support::start(&http_target("stream", up, "")).await;
    let req = Request::get(format!("http://{}/", proxy.addr("stream"))).body(full("")).expect("request");
    let resp = timeout(LIMIT, send_http1(proxy.addr("stream"), req)).await.expect("head in time").expect("response");
    let mut body = resp.into_body();
    let first = timeout(Duration::from_secs(5), body.frame())
        .await
        .expect("the first chunk arrived while the upstream still held the last")
        .expect("a frame")
        .expect("ok");
    assert_eq!(first.into_data().expect("data"), "first");
    tx.send(()).expect("release the last chunk");
    let rest = timeout(LIMIT, body.collect()).await.expect("in time").expect("body").to_bytes();
    assert_eq!(rest, "last");
}

#[tokio::test]
async fn a_thousand_concurrent_clients_all_get_their_bytes_back() {
    let up = upstream::echo().await;
    let proxy = support::start(&http_target("echo", up, "")).await;
    let addr = proxy.addr("echo");
    let mut tasks = Vec::new();
    for i in 0..1000u64 {
        tasks.push(tokio::spawn(async move {
            let data = random_bytes(1000 + i, 4096 + (i as usize % 7) * 1000);
            let got = echo_through(addr, &data, Framing::ContentLength, false).await;
            got == data
        }));
    }
    let mut intact = 0;
    for t in tasks {
        if timeout(LIMIT, t).await.expect("in time").expect("task") {
            intact += 1;
        }
    }
    assert_eq!(intact, 1000);
}

fn header_of<'a>(mirror: &'a str, name: &str) -> Vec<&'a str> {
    mirror.lines().filter_map(|l| l.strip_prefix(&format!("{name}: "))).collect()
}

#[tokio::test]
async fn hop_by_hop_headers_are_removed_and_forwarding_headers_added() {
    let up = upstream::mirror().await;
    let proxy = support::start(&http_target("mirror", up, "")).await;
    let addr = proxy.addr("mirror");
    let req = Request::get(format!("http://{addr}/path?q=1"))
        .header("host", "shop.example")
        .header("connection", "keep-alive, x-hop")
        .header("x-hop", "secret")
        .header("keep-alive", "timeout=5")
        .header("proxy-connection", "keep-alive")
        .header("te", "trailers")
        .header("x-forwarded-for", "192.0.2.9")
        .header("x-end-to-end", "kept")
        .body(full(""))
        .expect("request");
    let resp = send_http1(addr, req).await.expect("response");
    let text = String::from_utf8(read_body(resp).await).expect("utf8");
    assert!(text.starts_with("GET /path?q=1 HTTP/1.1\n"), "{text}");
    for gone in ["x-hop", "keep-alive", "proxy-connection", "te"] {
        assert!(header_of(&text, gone).is_empty(), "{gone} was forwarded:\n{text}");
    }
    assert_eq!(header_of(&text, "x-end-to-end"), ["kept"]);
    assert_eq!(header_of(&text, "x-forwarded-for"), ["192.0.2.9, 127.0.0.1"]);
    assert_eq!(header_of(&text, "x-forwarded-proto"), ["http"]);
    assert_eq!(header_of(&text, "x-forwarded-host"), ["shop.example"]);
    assert_eq!(header_of(&text, "host"), [up.to_string().as_str()], "host is the upstream's by default");
}

#[tokio::test]
async fn the_host_header_is_kept_or_fixed_when_configured() {
    let up = upstream::mirror().await;
    for (setting, expected) in [("keep", "shop.example"), ("payments.internal", "payments.internal")] {
        let proxy = support::start(&http_target("mirror", up, &format!("host = \"{setting}\""))).await;
        let addr = proxy.addr("mirror");
        let req = Request::get(format!("http://{addr}/")).header("host", "shop.example").body(full("")).expect("req");
        let text = String::from_utf8(read_body(send_http1(addr, req).await.expect("resp")).await).expect("utf8");
        assert_eq!(header_of(&text, "host"), [expected], "host = {setting:?}\n{text}");
    }
}

#[tokio::test]
async fn an_http2_request_reaches_an_http1_upstream_with_a_host_header() {
    let up = upstream::mirror().await;
    let proxy = support::start(&http_target("mirror", up, "")).await;
    let addr = proxy.addr("mirror");
    let req = Request::get("http://shop.example:8080/h2?x=y").body(full("")).expect("req");
    let resp = send_http2(addr, req).await.expect("resp");
    assert_eq!(resp.version(), http::Version::HTTP_2);
    let text = String::from_utf8(read_body(resp).await).expect("utf8");
    assert!(text.starts_with("GET /h2?x=y HTTP/1.1\n"), "{text}");
    assert_eq!(header_of(&text, "host"), [up.to_string().as_str()]);
    assert_eq!(header_of(&text, "x-forwarded-host"), ["shop.example:8080"]);
}

/// The HTTP/2 preface in two pieces, then an empty SETTINGS frame: the
/// proxy must wait for the whole preface and answer as HTTP/2 (with its own
/// SETTINGS frame), while a request that starts like the preface and then
/// differs is HTTP/1.1.
#[tokio::test]
async fn a_preface_in_pieces_is_still_http2_and_a_near_miss_is_http1() {
    let up = upstream::mirror().await;
    let proxy = support::start(&http_target("mirror", up, "")).await;
    let addr = proxy.addr("mirror");

    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"PRI * HTTP/2.0\r\n").await.expect("first piece");
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(b"\r\nSM\r\n\r\n\0\0\0\x04\0\0\0\0\0").await.expect("rest and SETTINGS");
    let mut frame = [0u8; 9];
    timeout(LIMIT, s.read_exact(&mut frame)).await.expect("in time").expect("a frame");
    assert_eq!(frame[3], 0x04, "the first frame back is SETTINGS: {frame:?}");

    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(b"PRI").await.expect("first piece");
    tokio::time::sleep(Duration::from_millis(100)).await;
    s.write_all(b"NT / HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n").await.expect("rest");
    let mut answer = Vec::new();
    timeout(LIMIT, s.read_to_end(&mut answer)).await.expect("in time").expect("read");
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("PRINT / HTTP/1.1"), "the upstream saw the method: {answer}");
}

#[tokio::test]
async fn a_websocket_upgrade_passes_through_both_ways() {
    let up = upstream::http(|mut req: Request<Incoming>| async move {
        let on_upgrade = hyper::upgrade::on(&mut req);
        tokio::spawn(async move {
            let Ok(upgraded) = on_upgrade.await else {
                return;
            };
            let mut io = hyper_util::rt::TokioIo::new(upgraded);
            let mut buf = [0u8; 64];
            while let Ok(n) = io.read(&mut buf).await {
                if n == 0 || io.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        });
        Response::builder()
            .status(StatusCode::SWITCHING_PROTOCOLS)
            .header("connection", "upgrade")
            .header("upgrade", "websocket")
            .body(full(""))
            .expect("101")
    })
    .await;
    let proxy = support::start(&http_target("ws", up, "")).await;
    let mut s = TcpStream::connect(proxy.addr("ws")).await.expect("connect");
    s.write_all(b"GET /chat HTTP/1.1\r\nhost: x\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n")
        .await
        .expect("write");
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        timeout(LIMIT, s.read_exact(&mut byte)).await.expect("in time").expect("read head");
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head).to_lowercase();
    assert!(head.starts_with("http/1.1 101"), "{head}");
    assert!(head.contains("upgrade: websocket"), "{head}");
    for msg in [&b"ping"[..], b"a longer frame of bytes"] {
        s.write_all(msg).await.expect("write");
        let mut back = vec![0u8; msg.len()];
        timeout(LIMIT, s.read_exact(&mut back)).await.expect("in time").expect("read");
        assert_eq!(back, msg);
    }
}

#[tokio::test]
async fn a_refusing_upstream_gives_a_502_that_names_it() {
    let down = support::closed_port();
    let proxy = support::start(&http_target("payments", down, "")).await;
    let (status, text) = timeout(LIMIT, get(proxy.addr("payments"), "/v1/charges")).await.expect("in time");
    assert_eq!(status, 502);
    assert!(text.starts_with(&format!("brownout could not reach upstream payments at http://{down}")), "{text}");
}

#[tokio::test]
async fn a_slow_upstream_gives_a_504_after_the_request_timeout() {
    let up = upstream::http(|_req: Request<Incoming>| async {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Response::new(full("late"))
    })
    .await;
    let proxy = support::start(&http_target("slow", up, "request_timeout = \"300ms\"")).await;
    let started = Instant::now();
    let (status, text) = timeout(LIMIT, get(proxy.addr("slow"), "/")).await.expect("in time");
    let waited = started.elapsed();
    assert_eq!(status, 504, "{text}");
    assert!(text.contains("no answer within 300ms"), "{text}");
    assert!(waited >= Duration::from_millis(300) && waited < Duration::from_secs(3), "{waited:?}");
}

#[tokio::test]
async fn a_blackholed_upstream_gives_a_502_within_the_connect_timeout_while_others_are_served() {
    let (hole, _held) = upstream::blackhole().await;
    let healthy = upstream::mirror().await;
    let config = format!(
        "[admin]\nlisten = \"127.0.0.1:0\"\n\
         [[target]]\nname = \"hole\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{hole}\"\nconnect_timeout = \"800ms\"\n\
         [[target]]\nname = \"healthy\"\nprotocol = \"http\"\nlisten = \"127.0.0.1:0\"\nupstream = \"http://{healthy}\"\n"
    );
    let proxy = support::start(&config).await;
    let (hole_addr, healthy_addr) = (proxy.addr("hole"), proxy.addr("healthy"));
    let started = Instant::now();
    let stuck: Vec<_> = (0..20).map(|_| tokio::spawn(get(hole_addr, "/"))).collect();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // While twenty dials hang, new clients of both listeners are accepted and served.
    let (status, _) =
        timeout(Duration::from_millis(500), get(healthy_addr, "/")).await.expect("healthy answered at once");
    assert_eq!(status, 200);
    let mut s =
        timeout(Duration::from_millis(200), TcpStream::connect(hole_addr)).await.expect("accepted").expect("connect");
    s.write_all(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n").await.expect("write");
    for t in stuck {
        let (status, text) = timeout(LIMIT, t).await.expect("in time").expect("task");
        assert_eq!(status, 502, "{text}");
        assert!(text.contains("brownout could not reach upstream hole"), "{text}");
    }
    let waited = started.elapsed();
    assert!(waited >= Duration::from_millis(800) && waited < Duration::from_secs(4), "{waited:?}");
}

#[tokio::test]
async fn keep_alive_connections_carry_many_requests() {
    let up = upstream::echo().await;
    let proxy = support::start(&http_target("echo", up, "")).await;
    let stream = TcpStream::connect(proxy.addr("echo")).await.expect("connect");
    let (mut sender, conn) = hyper::client::conn::http1::handshake::<_, Body>(hyper_util::rt::TokioIo::new(stream))
        .await
        .expect("handshake");
    tokio::spawn(conn);
    for i in 0..50u64 {
        let data = random_bytes(i, 1000 + i as usize);
        let req = Request::post("/echo").header("host", "x").body(body(&data, Framing::ContentLength)).expect("req");
        let resp = timeout(LIMIT, sender.send_request(req)).await.expect("in time").expect("response");
        assert_eq!(read_body(resp).await, data);
    }
}

/// An upstream that counts the connections it accepts: `/big` answers 1 MiB,
/// `/close` answers with `connection: close`, anything else `small`.
async fn accept_counting_upstream() -> (std::net::SocketAddr, Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            count.fetch_add(1, Ordering::SeqCst);
            let svc = hyper::service::service_fn(|req: Request<Incoming>| async move {
                let resp = match req.uri().path() {
                    "/big" => Response::new(full(vec![b'b'; 1 << 20])),
                    "/close" => Response::builder().header("connection", "close").body(full("closing")).expect("resp"),
                    _ => Response::new(full("small")),
                };
                Ok::<_, std::convert::Infallible>(resp)
            });
            tokio::spawn(
                hyper::server::conn::http1::Builder::new().serve_connection(hyper_util::rt::TokioIo::new(stream), svc),
            );
        }
    });
    (addr, accepted)
}

#[tokio::test]
async fn upstream_connections_are_reused_but_never_after_a_half_read_body_or_a_close() {
    use std::sync::atomic::Ordering;
    let (up, accepted) = accept_counting_upstream().await;
    let proxy = support::start(&http_target("t", up, "")).await;
    let addr = proxy.addr("t");
    for _ in 0..20 {
        assert_eq!(get(addr, "/").await, (200, "small".to_string()));
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 1, "twenty requests, one after another, share one connection");

    // A client that reads only the head of a large body and goes away: that
    // upstream connection is in the middle of a response and is not reused.
    let mut raw = TcpStream::connect(addr).await.expect("connect");
    raw.write_all(b"GET /big HTTP/1.1\r\nhost: t\r\n\r\n").await.expect("write");
    let mut head = [0u8; 64];
    let n = timeout(LIMIT, raw.read(&mut head)).await.expect("head in time").expect("read");
    assert!(head[..n].starts_with(b"HTTP/1.1 200"), "{:?}", String::from_utf8_lossy(&head[..n]));
    drop(raw);
    for _ in 0..5 {
        assert_eq!(
            get(addr, "/").await,
            (200, "small".to_string()),
            "no bytes of the cut body leak into later answers"
        );
    }
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "one new connection replaced the cut one, then was reused");

    // The upstream closes after answering: the next request gets a new connection.
    assert_eq!(get(addr, "/close").await, (200, "closing".to_string()));
    assert_eq!(get(addr, "/").await, (200, "small".to_string()));
    assert_eq!(accepted.load(Ordering::SeqCst), 3);
}
