//! In-process upstreams: an HTTP server with a handler of the test's choice,
//! and a TCP server.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use tokio::net::{TcpListener, TcpStream};

pub type Body = BoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

pub fn full(data: impl Into<Bytes>) -> Body {
    Full::new(data.into()).map_err(|never| match never {}).boxed()
}

/// Serves HTTP/1.1 with upgrades on a free port with `handler`; stops when
/// the test's runtime ends.
pub async fn http<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(Request<Incoming>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Response<Body>> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    let handler = Arc::new(handler);
    tokio::spawn(async move {
        let builder = auto::Builder::new(TokioExecutor::new());
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let handler = handler.clone();
            let svc = service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, Infallible>(handler(req).await) }
            });
            let conn = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc).into_owned();
            tokio::spawn(conn);
        }
    });
    addr
}

/// Echoes the request body back, streaming, with the request's content-length
/// (if any) so both framings are exercised.
pub async fn echo() -> SocketAddr {
    http(|req: Request<Incoming>| async move {
        let mut resp = Response::builder();
        if let Some(len) = req.headers().get(http::header::CONTENT_LENGTH) {
            resp = resp.header(http::header::CONTENT_LENGTH, len);
        }
        resp.body(req.into_body().map_err(Into::into).boxed()).expect("response")
    })
    .await
}

/// Answers with the request line and headers it received, one per line.
pub async fn mirror() -> SocketAddr {
    http(|req: Request<Incoming>| async move {
        let mut text = format!("{} {} {:?}\n", req.method(), req.uri(), req.version());
        for (k, v) in req.headers() {
            text.push_str(&format!("{}: {}\n", k, v.to_str().unwrap_or("?")));
        }
        Response::new(full(text))
    })
    .await
}

/// A TCP server that runs `handler` for each connection.
pub async fn tcp<F, Fut>(handler: F) -> SocketAddr
where
    F: Fn(TcpStream) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind upstream");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(handler(stream));
        }
    });
    addr
}

/// A raw HTTP/1.1 upstream that writes its own bytes: each request on a
/// connection (its head, then a body of its `Content-Length`) is answered
/// with what `answer(head)` gives, and the connection closes after it when
/// that also says so. Header names reach the client as written here.
pub async fn raw_http<F, Fut>(answer: F) -> SocketAddr
where
    F: Fn(String) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = (String, bool)> + Send + 'static,
{
    use tokio::io::AsyncWriteExt;
    let answer = Arc::new(answer);
    tcp(move |mut s: TcpStream| {
        let answer = answer.clone();
        async move {
            let mut buf = Vec::new();
            while let Some((head, _)) = next_request(&mut s, &mut buf).await {
                let (reply, close) = answer(head).await;
                if s.write_all(reply.as_bytes()).await.is_err() || close {
                    return;
                }
            }
        }
    })
    .await
}

/// The next request on an HTTP/1.1 connection: its head, and its body as
/// it came (`Content-Length` bytes, or a chunked body whole with its
/// framing). `buf` keeps what was read past it. `None` when the
/// connection ends first.
pub async fn next_request(s: &mut TcpStream, buf: &mut Vec<u8>) -> Option<(String, Vec<u8>)> {
    use tokio::io::AsyncReadExt;
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end + 4]).to_string();
            let lower = head.to_lowercase();
            let body_end = if lower.contains("transfer-encoding: chunked") {
                buf[end + 4..].windows(5).position(|w| w == b"0\r\n\r\n").map(|at| end + 4 + at + 5)
            } else {
                let length: usize = lower
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length: ").map(|v| v.trim().parse().unwrap()))
                    .unwrap_or(0);
                Some(end + 4 + length).filter(|&at| at <= buf.len())
            };
            if let Some(at) = body_end {
                let body = buf[end + 4..at].to_vec();
                buf.drain(..at);
                return Some((head, body));
            }
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A TCP echo server: what comes in goes back, and EOF is passed on.
pub async fn tcp_echo() -> SocketAddr {
    tcp(|mut s: TcpStream| async move {
        let (mut r, mut w) = s.split();
        let _ = tokio::io::copy(&mut r, &mut w).await;
        let _ = tokio::io::AsyncWriteExt::shutdown(&mut w).await;
    })
    .await
}

/// A listener whose accept queue is full: connection attempts to it hang
/// (their SYNs are dropped), as with a blackholed host.
pub async fn blackhole() -> (SocketAddr, Vec<TcpStream>) {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.bind("127.0.0.1:0".parse().expect("addr")).expect("bind");
    let listener = socket.listen(1).expect("listen");
    let addr = listener.local_addr().expect("addr");
    let mut held = Vec::new();
    // Fill the backlog: connections complete until the queue is full, after
    // which a connect stays pending.
    for _ in 0..8 {
        match tokio::time::timeout(std::time::Duration::from_millis(200), TcpStream::connect(addr)).await {
            Ok(Ok(s)) => held.push(s),
            _ => break,
        }
    }
    // The listener must stay open (but never accept) for SYNs to be dropped
    // rather than refused.
    std::mem::forget(listener);
    (addr, held)
}

/// Counts requests and the most that were in flight at once; each request
/// is held for `hold` before a small answer.
#[derive(Default)]
pub struct Counter {
    pub total: std::sync::atomic::AtomicUsize,
    pub in_flight: std::sync::atomic::AtomicUsize,
    pub peak: std::sync::atomic::AtomicUsize,
}

impl Counter {
    pub fn total(&self) -> usize {
        self.total.load(std::sync::atomic::Ordering::SeqCst)
    }
    pub fn peak(&self) -> usize {
        self.peak.load(std::sync::atomic::Ordering::SeqCst)
    }
    pub fn enter(&self) {
        use std::sync::atomic::Ordering::SeqCst;
        self.total.fetch_add(1, SeqCst);
        let now = self.in_flight.fetch_add(1, SeqCst) + 1;
        self.peak.fetch_max(now, SeqCst);
    }
    pub fn leave(&self) {
        self.in_flight.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

pub async fn counting(hold: std::time::Duration) -> (SocketAddr, Arc<Counter>) {
    let counter = Arc::new(Counter::default());
    let c = counter.clone();
    let addr = http(move |_req: Request<Incoming>| {
        let c = c.clone();
        async move {
            c.enter();
            tokio::time::sleep(hold).await;
            c.leave();
            Response::new(full("counted"))
        }
    })
    .await;
    (addr, counter)
}
