//! What the end-to-end benchmarks share: in-process upstreams and an
//! open-loop HTTP client.

use std::convert::Infallible;
use std::net::SocketAddr;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Empty, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

/// An HTTP upstream on a free loopback port that answers every request
/// with `body`, with `TCP_NODELAY` set.
pub async fn upstream(body: &'static [u8]) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { continue };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let svc = service_fn(move |_req: Request<Incoming>| async move {
                    Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(body))))
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// An HTTP upstream on a free loopback port whose answer to each request is
/// `answer(path)`: whatever it resolves to is the body (200, with a
/// `Content-Length`), so it may wait first. `TCP_NODELAY` is set.
#[allow(dead_code)] // not every bench uses every helper
pub async fn upstream_fn<F, Fut>(answer: F) -> SocketAddr
where
    F: Fn(String) -> Fut + Clone + Send + Sync + 'static,
    Fut: std::future::Future<Output = Bytes> + Send + 'static,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors, most often: wait instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            let answer = answer.clone();
            tokio::spawn(async move {
                let svc = service_fn(move |req: Request<Incoming>| {
                    let body = answer(req.uri().path().to_string());
                    async move { Ok::<_, Infallible>(Response::new(Full::new(body.await))) }
                });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), svc)
                    .await;
            });
        }
    });
    addr
}

/// A TCP echo server on a free loopback port: every byte read is written
/// back, and the end of the client's stream is passed back as the end of
/// the server's.
#[allow(dead_code)] // not every bench uses every helper
pub async fn echo() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                // Out of file descriptors, most often: wait instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let (mut r, mut w) = stream.split();
                let _ = tokio::io::copy(&mut r, &mut w).await;
                let _ = tokio::io::AsyncWriteExt::shutdown(&mut w).await;
            });
        }
    });
    addr
}

/// A keep-alive HTTP/1.1 connection to `addr`, with `TCP_NODELAY` set.
#[allow(dead_code)] // not every bench uses every helper
pub async fn http1(addr: SocketAddr) -> hyper::client::conn::http1::SendRequest<Empty<Bytes>> {
    let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let _ = stream.set_nodelay(true);
    let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.expect("handshake");
    tokio::spawn(conn);
    sender
}

/// A GET of `path` with an empty body.
#[allow(dead_code)] // not every bench uses every helper
pub fn get(path: &str) -> Request<Empty<Bytes>> {
    Request::get(path).header("host", "bench").body(Empty::<Bytes>::new()).expect("request")
}

/// Drives `rate` requests a second in total over `connections` keep-alive
/// connections for `secs`, open loop, and returns every latency in
/// microseconds.
#[allow(dead_code)] // not every bench uses every helper
pub async fn drive(addr: SocketAddr, connections: usize, rate: f64, secs: f64) -> Vec<u64> {
    use std::time::{Duration, Instant};
    let per_conn = Duration::from_secs_f64(connections as f64 / rate);
    let end = Instant::now() + Duration::from_secs_f64(secs);
    let tasks: Vec<_> = (0..connections)
        .map(|i| {
            tokio::spawn(async move {
                let mut sender = http1(addr).await;
                // Spread the connections' start over one interval.
                tokio::time::sleep(per_conn.mul_f64(i as f64 / connections as f64)).await;
                let mut next = tokio::time::Instant::now();
                let mut samples = Vec::new();
                while Instant::now() < end {
                    tokio::time::sleep_until(next).await;
                    next += per_conn;
                    let started = Instant::now();
                    let Ok(resp) = sender.send_request(get("/")).await else { break };
                    let _ = resp.into_body().collect().await;
                    samples.push(started.elapsed().as_micros() as u64);
                }
                samples
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("client task"));
    }
    all
}

/// Starts a proxy for `config` in this process; returns the address of its
/// target `t` and what stops it when sent to (or dropped).
#[allow(dead_code)] // not every bench uses every helper
pub async fn proxy(config: &brownout::config::Config) -> (SocketAddr, tokio::sync::oneshot::Sender<()>) {
    let app = brownout::app::App::bind(config).expect("bind");
    let addr = app.proxy().target_addr("t").expect("a target named t");
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(app.serve(async move {
        let _ = rx.await;
    }));
    (addr, tx)
}
